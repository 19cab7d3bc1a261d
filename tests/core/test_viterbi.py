"""The offline Viterbi decoding (pesto_core.viterbi): the exact optimum of its objective, what it corrects and what
it keeps (note changes, vibrato), block decoding independent of how frames arrive, and the API / CLI options."""

import numpy as np
import pytest
import soundfile as sf

from pesto_core import ParameterError, analyse_file, load_model, predict
from pesto_core.cli import main
from pesto_core.viterbi import (
    DEFAULT_FLOOR,
    DEFAULT_JUMP,
    DEFAULT_MAX_JUMP,
    PathTracker,
    pitch_on_path,
    track_pitch,
    viterbi_path,
)

from .golden import audio

BPS, N = 3, 384


def frames(pitches, width=0.6, rng=None, noise=0.0):
    """Activations (len(pitches), 384): a Gaussian of ``width`` bins at each pitch (semitones), plus optional noise."""
    bins = np.arange(N)[None, :]
    a = np.exp(-0.5 * ((bins - np.asarray(pitches)[:, None] * BPS) / width) ** 2)
    if noise:
        a = a + noise * rng.random(a.shape)
    return (a / a.sum(1, keepdims=True)).astype(np.float32)


def brute_force(act, jump, max_jump, floor):
    """The same objective by exhaustive dynamic programming over all bin pairs (T * N^2)."""
    T, n = act.shape
    emit = np.log(act.astype(np.float64) + floor)
    d = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    trans = -np.minimum(jump * d / BPS, max_jump)  # [to, from]
    score, back = emit[0], []
    for t in range(1, T):
        cand = score[None, :] + trans
        back.append(cand.argmax(1))
        score = cand.max(1) + emit[t]
    path = [int(score.argmax())]
    for b in reversed(back):
        path.append(int(b[path[-1]]))
    return np.array(path[::-1]), float(score.max())


def objective(act, path, jump, max_jump, floor):
    emit = np.log(act.astype(np.float64) + floor)[np.arange(len(path)), path]
    moves = np.minimum(jump * np.abs(np.diff(path)) / BPS, max_jump)
    return float(emit.sum() - moves.sum())


@pytest.mark.parametrize("seed", range(4))
def test_path_is_the_exact_optimum(seed):
    rng = np.random.default_rng(seed)
    act = rng.dirichlet(np.full(N, 0.05), size=40).astype(np.float32)  # peaky random distributions
    for jump, max_jump, floor in ((DEFAULT_JUMP, DEFAULT_MAX_JUMP, DEFAULT_FLOOR), (2.0, 4.0, 1e-3)):
        path = viterbi_path(act, jump=jump, max_jump=max_jump, floor=floor)
        _, best = brute_force(act, jump, max_jump, floor)
        assert objective(act, path, jump, max_jump, floor) == pytest.approx(best, abs=1e-9)


def test_an_octave_error_among_clear_frames_is_corrected_and_a_note_change_kept():
    pitch = np.array([60.0] * 30 + [67.0] * 30)
    act = frames(pitch)
    # frame 10: the peak an octave up, the true pitch still seen at a third of it (what a network's miss looks like)
    act[10] = 0.75 * frames([72.0])[0] + 0.25 * frames([60.0])[0]
    plain = pitch_on_path(act, act.argmax(1))
    tracked = track_pitch(act)
    assert plain[10] == pytest.approx(72.0, abs=0.05)
    assert tracked[10] == pytest.approx(60.0, abs=0.05)
    np.testing.assert_allclose(np.delete(tracked, 10), np.delete(pitch, 10), atol=0.05)  # the change at frame 30


def test_a_frame_that_does_not_see_the_track_keeps_its_own_peak_if_long_enough():
    # a real note of 8 frames between clear frames is a note, not an error: it stays
    pitch = np.array([60.0] * 20 + [72.0] * 8 + [60.0] * 20)
    np.testing.assert_allclose(track_pitch(frames(pitch)), pitch, atol=0.05)


@pytest.mark.parametrize("interval,shortest", [(1, 1), (7, 5), (12, 8)])
def test_the_shortest_excursion_the_path_keeps(interval, shortest):
    # the path alone (support 0), as the docstring states it (distributions with a peak bin of 0.4); with the
    # default support, frames that do not see the path's pitch keep their own: every excursion is kept
    def kept(k, **kw):
        pitch = np.array([60.0] * 20 + [60.0 + interval] * k + [60.0] * 20)
        return np.abs(track_pitch(frames(pitch, width=1.0), **kw) - pitch).max() < 0.1

    assert kept(shortest, support=0.0) and (shortest == 1 or not kept(shortest - 1, support=0.0))
    assert all(kept(k) for k in range(1, shortest + 1))


def test_a_noise_frame_in_a_rest_keeps_its_own_pitch():
    # a frame the confidence calls voiced in a noisy rest: a broad bump far from the note; the path crosses it at the
    # note's pitch (staying costs nothing), the support rule gives it back its own
    pitch = np.array([60.0] * 20 + [30.0] * 6 + [60.0] * 20)
    act = frames(pitch, width=6.0)
    act[:20], act[26:] = frames(pitch[:20]), frames(pitch[26:])
    np.testing.assert_allclose(track_pitch(act)[20:26], 30.0, atol=0.1)
    assert np.all(np.abs(track_pitch(act, support=0.0)[20:26] - 60.0) < 0.5)


def test_vibrato_and_a_fast_glide_are_followed():
    t = np.arange(300) * 0.01
    vib = 64 + 1.0 * np.sin(2 * np.pi * 6 * t)  # +-100 cents at 6 Hz
    glide = np.concatenate([np.full(50, 55.0), np.linspace(55, 67, 10), np.full(50, 67.0)])  # 12 st in 100 ms
    for contour in (vib, glide):
        act = frames(contour)
        np.testing.assert_allclose(track_pitch(act), pitch_on_path(act, act.argmax(1)), atol=1e-6)


@pytest.mark.parametrize("sizes", [[1] * 7 + [500], [37] * 30, [1000, 1, 109]])
def test_blocks_do_not_depend_on_how_frames_arrive(sizes):
    rng = np.random.default_rng(3)
    pitch = 50 + np.cumsum(rng.normal(0, 0.3, sum(sizes)))
    act = frames(np.clip(pitch, 20, 110), rng=rng, noise=0.02)
    whole = track_pitch(act, block=150, margin=40)
    tracker, parts, at = PathTracker(block=150, margin=40), [], 0
    for n in sizes:
        parts.append(tracker.push(act[at : at + n]))
        at += n
    parts.append(tracker.flush())
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    # a block's margins decide its path: the same as one decoding of everything on this track
    np.testing.assert_allclose(whole, pitch_on_path(act, viterbi_path(act)), atol=1e-6)


def test_bad_parameters():
    act = frames([60.0] * 3)
    for kw in (dict(jump=0), dict(max_jump=-1), dict(floor=0), dict(jump=float("nan"))):
        with pytest.raises(ParameterError):
            viterbi_path(act, **kw)
    with pytest.raises(ParameterError):
        viterbi_path(act[0])
    for kw in (dict(block=0), dict(support=1.5), dict(support=-0.1)):
        with pytest.raises(ParameterError):
            PathTracker(**kw)
    assert len(track_pitch(np.zeros((0, N), np.float32))) == 0


@pytest.fixture(scope="module")
def tracker_1():
    return load_model("tracker-1", 10.0)


def test_api_file_and_chunks_agree(tmp_path, tracker_1):
    x, sr = audio("speech_22k")
    path = tmp_path / "speech.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    whole = analyse_file(path, tracker_1, viterbi=True, refine=True)
    chunked = analyse_file(path, tracker_1, viterbi=True, refine=True, num_chunks=5, keep_activations=False)
    assert whole.decoding == "alwa+viterbi+refine" and chunked.activations is None
    np.testing.assert_array_equal(whole.pitch_semitones, chunked.pitch_semitones)
    np.testing.assert_array_equal(whole.confidence, chunked.confidence)
    _t, pitch, conf, act = predict(x, sr, model=tracker_1, viterbi=True, convert_to_freq=False)
    np.testing.assert_allclose(pitch.numpy(), track_pitch(act.numpy()), atol=1e-5)
    plain = analyse_file(path, tracker_1, viterbi=True)
    np.testing.assert_allclose(plain.pitch_semitones, pitch.numpy(), atol=1e-3)  # the API's tolerance for files
    with pytest.raises(ParameterError, match="alwa"):
        predict(x, sr, model_name="tracker-1", reduction="argmax", viterbi=True)


def test_cli_option(tmp_path, capsys):
    wav = tmp_path / "s.wav"
    x, sr = audio("speech_22k")
    sf.write(wav, x, sr, subtype="FLOAT")
    assert main([str(wav), "-m", "tracker-1", "--viterbi", "-e", "npz", "-o", str(tmp_path / "out"), "-q"]) == 0
    with np.load(tmp_path / "out" / "s.f0.npz") as z:
        assert str(z["decoding"]) == "alwa+viterbi"
    assert main([str(wav), "--viterbi", "-r", "argmax", "-q"]) == 2
    assert "--viterbi" in capsys.readouterr().err
