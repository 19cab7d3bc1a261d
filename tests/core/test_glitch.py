"""The glitch filter (pesto_core.glitch): isolated jumps go, real note changes, glides and vibrato stay exactly."""

import numpy as np
import pytest

from pesto_core.errors import ParameterError
from pesto_core.glitch import GlitchFilter, remove_glitches
from pesto_core.voicing import voiced_track

BPS = 3


def distributions(true_semitones, shown_semitones=None, second=0.3):
    """Activations (frames, 384): a peak at each frame's shown pitch and, where it differs, a weaker one (``second``)
    at the true pitch, as the network gives for an octave error."""
    true_semitones = np.asarray(true_semitones, dtype=np.float64)
    shown = true_semitones if shown_semitones is None else np.asarray(shown_semitones, dtype=np.float64)
    bins = np.arange(128 * BPS) / BPS
    acts = np.exp(-0.5 * ((bins[None] - shown[:, None]) * BPS) ** 2)
    wrong = np.abs(shown - true_semitones) > 0.5
    acts[wrong] += second * np.exp(-0.5 * ((bins[None] - true_semitones[wrong, None]) * BPS) ** 2)
    return (acts / acts.sum(axis=1, keepdims=True)).astype(np.float32)


def run(pitch, confidence=None, acts=None, **kw):
    pitch = np.asarray(pitch, dtype=np.float32)
    confidence = np.ones_like(pitch) if confidence is None else np.asarray(confidence, dtype=np.float32)
    return remove_glitches(pitch, confidence, acts, **kw)


@pytest.mark.parametrize("length", [1, 2])
def test_isolated_octave_spikes_are_decoded_again_near_the_track(length):
    true = np.full(40, 57.0) + 0.02 * np.sin(np.arange(40))  # A3 with a little movement
    shown = true.copy()
    shown[20 : 20 + length] += 12.0  # octave error
    out = run(shown, acts=distributions(true, shown))
    np.testing.assert_allclose(out[20 : 20 + length], true[20 : 20 + length], atol=0.05)  # semitones
    untouched = np.r_[0:20, 20 + length : 40]
    np.testing.assert_array_equal(out[untouched], shown[untouched].astype(np.float32))


def test_alternating_octave_errors_do_not_outvote_the_track():
    # as the network gives under noise: octave errors two frames out of three around a held C#4 (61.7 semitones);
    # judged against the raw frames, the errors hold the majority of some windows and would even pull a correct
    # frame (index 4) up an octave; judged against the corrected past (a recursive filter) the track holds
    true = np.full(12, 61.7)
    shown = true.copy()
    shown[[2, 3, 5]] += 12.0
    out = run(shown, acts=distributions(true, shown))
    np.testing.assert_allclose(out, true, atol=0.05)  # semitones


def test_a_weak_frame_that_the_decision_keeps_voiced_is_judged_too():
    # confidence 0.3 in a confident note: the window's median keeps it voiced, so its octave error is corrected
    true = np.full(30, 60.0)
    shown = true.copy()
    shown[15] += 12.0
    conf = np.ones(30)
    conf[15] = 0.3
    acts = distributions(true, shown)
    out = run(shown, conf, acts)
    assert out[15] == pytest.approx(60.0, abs=0.05)
    filt = GlitchFilter(1, lag=2)
    k = np.arange(30)
    a = filt.push(
        dict(
            time_s=k * 0.01,
            frame_index=k,
            pitch_semitones=shown[None].astype(np.float32),
            confidence=conf[None].astype(np.float32),
            activations=acts[None],
        )
    )
    b = filt.flush()
    assert bool(np.concatenate([a["voiced"], b["voiced"]], axis=1)[0, 15])  # shown as voiced, and corrected:
    assert np.concatenate([a["pitch_semitones"], b["pitch_semitones"]], axis=1)[0, 15] == pytest.approx(60.0, abs=0.05)
    with pytest.raises(ParameterError, match="activations"):
        remove_glitches(shown, conf, None, peak_gate=0.5)


def test_an_octave_error_over_the_first_frames_of_a_glide_is_held_on_the_glide():
    # a fast glide (0.27 semitones a frame) with a 2- or 3-frame octave error: the window's median of a moving pitch
    # agrees with too few frames to be a majority, so the median rule alone leaves the error (as measured on the live
    # set); the continuity rule holds each wrong frame at the previous pitch, where its distribution still sees it
    true = 60.0 + 0.27 * np.arange(40)
    for length in (2, 3):
        shown = true.copy()
        shown[20 : 20 + length] += 12.0
        acts = distributions(true, shown, second=0.6)
        out = run(shown, acts=acts)
        np.testing.assert_allclose(out, true, atol=0.05)  # semitones
        assert np.abs(run(shown, acts=acts, continuity=0.0)[20] - true[20]) > 11  # the rule off: the error stays


def test_the_bridge_rule_ends_an_excursion_the_look_ahead_sees_come_back():
    # a 3-frame octave error in noise: the first frame's distribution still holds the track (the continuity rule
    # holds it), the next two do not; the median of the second frame's window (60 72 72 60 with the held frame left
    # out) has no majority, so only the look-ahead's return to the track shows that it is a glitch
    true = np.full(40, 60.0)
    shown = true.copy()
    shown[20:23] += 12.0
    acts = distributions(true, shown, second=0.0)
    acts[20] = distributions(true[20:21], shown[20:21], second=0.6)[0]
    np.testing.assert_allclose(run(shown, acts=acts), true, atol=0.05)  # semitones
    off = run(shown, acts=acts, bridge=0)
    np.testing.assert_allclose(off[21:23], 72.0, atol=0.05)  # without it: a 2-frame spike stays
    # the excursion is bounded (held frames included): one of 4 frames is not bridged where the median cannot see it
    shown4 = true.copy()
    shown4[20:24] += 12.0
    acts4 = distributions(true, shown4, second=0.0)
    acts4[20:22] = distributions(true[20:22], shown4[20:22], second=0.6)
    out4 = run(shown4, acts=acts4)
    np.testing.assert_allclose(out4[20:22], 60.0, atol=0.05)
    assert abs(out4[22] - 72.0) < 0.05
    np.testing.assert_allclose(run(shown4, acts=acts4, bridge=4), true, atol=0.05)


def test_a_fast_glide_is_followed_not_held_at_the_previous_pitch():
    # a voice's fast scoop up a major third, 0.4 to 1.8 semitones a hop, as the live model gives it: each frame's
    # distribution keeps a third of its peak at the previous frame's pitch (its window is mostly past)
    steps = [0.4, 0.9, 1.6, 1.8, 0.3]
    pitch = np.r_[np.full(20, 60.0), 60.0 + np.cumsum(steps), np.full(20, 60.0 + sum(steps))]
    acts = distributions(pitch)
    acts[1:] += 0.3 * distributions(pitch[:-1])
    np.testing.assert_array_equal(run(pitch, acts=acts), pitch.astype(np.float32))
    held = run(pitch, acts=acts, glide_step=0.0)  # every jump may be held: the glide lags by a semitone
    assert np.max(np.abs(held - pitch)) > 0.9


def test_the_continuity_rule_needs_the_old_pitch_in_the_distribution_and_holds_at_most_lag_frames():
    # a real change whose new note has no mass at the old pitch is not held at all
    pitch = np.r_[np.full(25, 60.0), np.full(25, 67.0)]
    np.testing.assert_array_equal(run(pitch, acts=distributions(pitch)), pitch.astype(np.float32))
    # a fall of an octave whose distribution keeps the old note (its second harmonic): held 2 frames, then the change
    old, new = np.full(25, 72.0), np.full(25, 60.0)
    pitch = np.r_[old, new]
    acts = distributions(pitch)
    acts[25:] += 0.5 * distributions(np.full(25, 72.0))
    out = run(pitch, acts=acts, lag=2)
    np.testing.assert_allclose(out[25:27], 72.0, atol=0.05)
    np.testing.assert_array_equal(out[27:], pitch[27:].astype(np.float32))
    out1 = run(pitch, acts=acts, lag=1)  # at most `lag` frames, whatever the lag
    np.testing.assert_allclose(out1[25], 72.0, atol=0.05)
    np.testing.assert_array_equal(out1[26:], pitch[26:].astype(np.float32))
    # a flicker back to the old note every few frames (octave ambiguity) does not renew the hold: the new note is
    # shown from its third frame on, bar the flicker frames themselves
    for lag in (1, 2):
        shown = pitch.copy()
        shown[[29, 33, 38, 42]] = 72.0
        acts_f = distributions(shown)
        acts_f[25:] += 0.5 * distributions(np.full(25, 72.0))
        out = run(shown, acts=acts_f, lag=lag)
        new = np.setdiff1d(np.arange(25 + lag, 50), [29, 33, 38, 42])
        assert np.all(np.abs(out[new] - 60.0) < 0.05), (lag, out)
        # (the flickers are isolated jumps of their own, which the median rule corrects onto the new note)
        np.testing.assert_allclose(out[[29, 33, 38, 42]], 60.0, atol=0.05)


def test_a_glitch_whose_distribution_barely_sees_the_track_takes_the_track_median():
    # an octave error whose true pitch is a weak bump (0.1 of the peak, under the support 0.2) half a semitone
    # off: decoding it again there would put the frame at the bump's edge; the track's median is nearer
    true = np.full(30, 45.0)
    shown = true.copy()
    shown[15] = 33.0
    acts = distributions(true, shown, second=0.0)
    bump = distributions(np.full(30, 45.6))[15]
    acts[15] += 0.1 * bump * acts[15].max() / bump.max()
    assert run(shown, acts=acts)[15] == pytest.approx(45.0, abs=1e-4)
    assert run(shown, acts=acts, support=0.0)[15] == pytest.approx(45.6, abs=0.1)  # without: the bump


def test_a_spike_without_activations_takes_the_track_median():
    pitch = np.full(20, 60.0)
    pitch[10] = 72.0
    assert run(pitch)[10] == pytest.approx(60.0)


def test_three_frame_excursions_are_not_glitches_for_a_two_frame_lag():
    pitch = np.full(30, 60.0)
    pitch[10:13] = 67.0
    np.testing.assert_array_equal(run(pitch), pitch.astype(np.float32))


@pytest.mark.parametrize("interval", [1.5, 5.0, 12.0, -19.0])
def test_note_changes_are_kept_exactly_and_not_delayed(interval):
    pitch = np.r_[np.full(25, 60.0), np.full(25, 60.0 + interval), np.full(3, 60.0), np.full(25, 62.0)]
    np.testing.assert_array_equal(run(pitch), pitch.astype(np.float32))


def test_glides_and_vibrato_are_kept_exactly():
    t = np.arange(200) * 0.01
    glide = 55.0 + 24.0 * t / 2.0  # two octaves in 2 s (12 semitones per second)
    fast_glide = 60.0 + np.minimum(np.arange(60), 30) * 0.4  # 12 semitones in 0.3 s
    vibrato = 64.0 + 1.0 * np.sin(2 * np.pi * 6.0 * t)  # +-100 cents at 6 Hz
    for pitch in (glide, fast_glide, vibrato):
        np.testing.assert_array_equal(run(pitch), pitch.astype(np.float32))


def test_unvoiced_frames_are_neither_judged_nor_used():
    pitch = np.full(30, 60.0)
    pitch[[5, 6, 7, 8]] = [72, 40, 90, 30]  # noise in an unvoiced stretch
    conf = np.ones(30)
    conf[5:9] = 0.1
    np.testing.assert_array_equal(run(pitch, conf), pitch.astype(np.float32))
    # a voiced spike surrounded by unvoiced frames has no track to return to: kept
    pitch2 = np.full(9, 60.0)
    pitch2[4] = 72.0
    conf2 = np.array([1, 0, 0, 0, 1, 0, 0, 0, 1], float)
    np.testing.assert_array_equal(run(pitch2, conf2), pitch2.astype(np.float32))


def stream_in_blocks(filt, shown, conf, acts, rng):
    """Feed two identical streams to ``filt`` in blocks of 0-6 frames; (pitch (2, n), frame_index (n,), voiced)."""
    n = len(shown)
    got, idx, voiced = [], [], []
    start = 0
    while start < n:
        stop = min(n, start + int(rng.integers(0, 7)))
        k = np.arange(start, stop)
        both = lambda a: np.stack([a[k], a[k]])  # noqa: E731 (two identical streams)
        out = filt.push(
            dict(
                time_s=k * 0.01,
                frame_index=k,
                pitch_semitones=both(shown.astype(np.float32)),
                confidence=both(conf),
                activations=np.stack([acts[k], acts[k]]),
            )
        )
        if out and len(out["frame_index"]):
            got.append(out["pitch_semitones"])
            idx.append(out["frame_index"])
            voiced.append(out["voiced"])
        start = stop
    rest = filt.flush()
    got.append(rest["pitch_semitones"])
    idx.append(rest["frame_index"])
    voiced.append(rest["voiced"])
    return np.concatenate(got, axis=1), np.concatenate(idx), np.concatenate(voiced, axis=1)


@pytest.mark.parametrize("bridge", [3, 6])
@pytest.mark.parametrize("lag", [1, 2])
@pytest.mark.parametrize("seed", [3, 4])
def test_streaming_continuity_rule_equals_the_offline_one(seed, lag, bridge):
    # runs of 1-4 wrong frames on a glide, the old pitch kept in their distributions: the continuity and bridge rules
    # act (their counts of frames held in a row carry across pushes, a bridge longer than the window's past
    # included), and the stream gives the offline filter's numbers
    rng = np.random.default_rng(seed)
    n = 240
    true = 50.0 + np.cumsum(rng.uniform(0.0, 0.3, n))
    shown = true.copy()
    for start in range(10, n - 10, 23):
        shown[start : start + int(rng.integers(1, 5))] += rng.choice([-12.0, 12.0, 7.0])
    conf = np.where(rng.random(n) < 0.1, 0.2, 0.9).astype(np.float32)
    acts = distributions(true, shown, second=0.5)
    offline = run(shown, conf, acts, lag=lag, bridge=bridge)
    assert np.mean(np.abs(offline - true) < 0.5) > np.mean(
        np.abs(run(shown, conf, acts, lag=lag, bridge=bridge, continuity=0) - true) < 0.5
    )
    got, idx, _ = stream_in_blocks(GlitchFilter(2, lag=lag, bridge=bridge), shown, conf, acts, rng)
    np.testing.assert_array_equal(idx, np.arange(n))
    np.testing.assert_array_equal(got[0], offline)
    np.testing.assert_array_equal(got[1], offline)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_filter_equals_the_offline_filter_for_any_block_split(seed):
    rng = np.random.default_rng(seed)
    n = 300
    true = 57.0 + np.cumsum(rng.normal(0, 0.05, n))
    shown = true.copy()
    spikes = rng.choice(np.arange(1, n // 6 - 1), 12, replace=False) * 6  # isolated: at least 6 frames apart
    shown[spikes] += rng.choice([-12.0, 12.0, 7.0, 19.0], 12)
    conf = np.where(rng.random(n) < 0.1, 0.2, 0.9).astype(np.float32)
    conf[100:110] = 0.1  # a rest
    acts = distributions(true, shown)
    acts[200:215] = 1.0 / acts.shape[1]  # noise: a flat distribution (peak mass 7/384) with a confident head
    offline = run(shown, conf, acts, peak_gate=0.5)
    got, idx, voiced = stream_in_blocks(GlitchFilter(2, lag=2, peak_gate=0.5), shown, conf, acts, rng)
    np.testing.assert_array_equal(idx, np.arange(n))
    np.testing.assert_array_equal(got[0], offline)
    np.testing.assert_array_equal(got[1], offline)
    # the voicing decision over the same windows is the offline one (voicing.voiced_track)
    expected = voiced_track(conf, acts, gate=0.5, peak_gate=0.5, lag=2)
    np.testing.assert_array_equal(voiced[0], expected)
    np.testing.assert_array_equal(voiced[1], expected)
    assert not expected[102:108].any() and not expected[202:213].any()  # the rest and the noise
    # isolated weak frames (confidence 0.2, one in ten) do not open gaps in a note as the per-frame gate would
    assert expected[:95].mean() > (conf[:95] >= 0.5).mean()
    judged = spikes[conf[spikes] >= 0.5]  # unvoiced frames are never judged
    assert np.mean(np.abs(offline[judged] - true[judged]) < 0.5) >= 0.9  # (nearly) all voiced spikes corrected


def test_bad_settings_are_clear_errors():
    with pytest.raises(ParameterError, match="lag"):
        GlitchFilter(1, lag=0)
    with pytest.raises(ParameterError, match="tolerance"):
        GlitchFilter(1, tolerance=0.0)
    with pytest.raises(ParameterError, match="gate"):
        GlitchFilter(1, gate=1.5)
    for kw in (dict(continuity=-0.1), dict(support=1.5), dict(continuity=True), dict(support="0.2")):
        with pytest.raises(ParameterError, match="share of the peak"):
            GlitchFilter(1, **kw)
        with pytest.raises(ParameterError, match="share of the peak"):
            remove_glitches(np.full(5, 60.0), np.ones(5), None, **kw)
    f = GlitchFilter(1, gate=0.4, peak_gate=0.5)
    for attr, bad in (("gate", -0.1), ("gate", float("nan")), ("peak_gate", 2.0), ("peak_gate", "0.5")):
        with pytest.raises(ParameterError, match="gate"):
            setattr(f, attr, bad)
    assert (f.gate, f.peak_gate) == (0.4, 0.5)  # a refused value leaves the filter as it was
