"""Training data generators: labels, ranges, determinism; the instrument and voice ones where their tools exist."""

import numpy as np
import pytest

from training import data, features, instruments, synth, voice


def _check(x, f0, sr, lo=25.0, hi=2100.0):
    assert x.shape == f0.shape and np.isfinite(x).all()
    assert np.max(np.abs(x)) <= 1.0
    v = f0 > 0
    assert set(np.unique(np.sign(f0))) <= {-1.0, 0.0, 1.0}
    if v.any():
        assert lo <= f0[v].min() and f0[v].max() <= min(hi, sr / 2)


@pytest.mark.parametrize("sr", [8000, 16000, 48000])
def test_tone_and_unvoiced_clips(sr):
    rng = np.random.default_rng(0)
    x, f0 = synth.tone_clip(rng, sr)
    _check(x, f0, sr)
    assert (f0 > 0).mean() > 0.2
    x, f0 = synth.unvoiced_clip(rng, sr)
    _check(x, f0, sr)
    assert (f0 == 0).all()


@pytest.mark.parametrize("sr", [16000, 48000])
def test_weighted_tone_variants(sr):
    gens = data.generators()
    x, f0 = gens["tones_high"](np.random.default_rng(1), sr)
    _check(x, f0, sr, lo=600.0)
    # the noisy variant always has background noise at 0-10 dB SNR: no rest is ever quiet (the default leaves 40% of
    # clips without noise, whose rests can be digital silence). Ratio voiced / rest RMS: under 30 dB on every clip
    # (slow level changes of up to +-12 dB and the unvoiced events in the rests move it from the SNR itself)
    for seed in range(8):
        x, f0 = gens["tones_noisy"](np.random.default_rng(seed), sr)
        _check(x, f0, sr)
        voiced, rest = f0 > 0, f0 == 0
        if voiced.any() and rest.sum() > 0.05 * sr:
            ratio_db = 20 * np.log10(np.sqrt(np.mean(x[voiced] ** 2)) / np.sqrt(np.mean(x[rest] ** 2)))
            assert ratio_db < 30.0, seed


def test_shards_are_deterministic():
    cfg = {
        "clips_per_shard": 1,
        "modes": ["offline", "stream"],
        "mix": {"tones": 1.0},
        "sample_rates": {"16000": 1.0},
        "frame_stride": 1,
    }
    gens = {"tones": synth.tone_clip}
    a = data.make_shard(data.TRAIN_TAG, 5, 3, cfg, gens)
    b = data.make_shard(data.TRAIN_TAG, 5, 3, cfg, gens)
    c = data.make_shard(data.EVAL_TAG, 5, 3, cfg, gens)
    np.testing.assert_array_equal(a["db"], b["db"])
    assert a["db"].shape != c["db"].shape or not np.array_equal(a["db"], c["db"])
    assert set(np.unique(a["mode"])) == {0, 1}


def test_stream_features_match_pitchstream():
    """The live features are PitchStream's own: same confidence at mirror=1 from the same audio."""
    import torch

    from pesto_core.checkpoint import load_checkpoint
    from pesto_core.model import PestoModel
    from pesto_core.stream import PitchStream

    rng = np.random.default_rng(1)
    x, _ = synth.tone_clip(rng, 16000)
    x = x.astype(np.float32)
    db, centres = features.vqt_db(x, 16000, "stream")
    model = PestoModel(load_checkpoint("mir-1k_g7"))
    out = model.frames_from_vqt(torch.polar(torch.from_numpy(10 ** (db / 20)), torch.zeros(1)))
    st = PitchStream(16000, mirror=1.0, native=False)
    frames = st.push(x)
    n = len(frames)
    assert np.allclose(frames.time_s, centres[:n] / 16000)
    np.testing.assert_allclose(frames.confidence, out["confidence"][:n].numpy(), atol=1e-4)


@pytest.mark.skipif(not instruments.available(), reason="fluidsynth or a General MIDI SoundFont missing")
def test_instrument_clip():
    x, f0 = instruments.instrument_clip(np.random.default_rng(2), 16000)
    _check(x, f0, 16000)
    assert (f0 > 0).mean() > 0.1


@pytest.mark.skipif(not voice.available(), reason="espeak-ng or pyworld missing")
def test_voice_clip():
    x, f0 = voice.voice_clip(np.random.default_rng(3), 16000)
    _check(x, f0, 16000)
    assert (f0 > 0).mean() > 0.1
