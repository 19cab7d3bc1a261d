"""The live preset (pesto_core.stream.live_stream) and PitchStream's voicing decision and glitch filter."""

import numpy as np
import pytest

from pesto_core.errors import ParameterError
from pesto_core.stream import LIVE_DEFAULTS, PitchStream, live_model_name, live_stream

from .golden import audio


def feed(stream, x, block):
    parts = [stream.push(x[i : i + block]) for i in range(0, len(x), block)] + [stream.flush()]
    return {
        k: np.concatenate([getattr(p, k) for p in parts])
        for k in ("frame_index", "time_s", "pitch_semitones", "confidence", "voiced", "input_finite")
    }


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
def test_live_stream_is_the_documented_preset(sr):
    s = live_stream(sr)
    assert s.mirror == LIVE_DEFAULTS["mirror"] and s.refine and s.gate == LIVE_DEFAULTS["gate"]
    assert s.model.checkpoint_name == live_model_name()
    # latency: the VQT's lag plus the glitch filter's 2 hops
    assert s.latency_samples == s.geometry.lag + 2 * s.hop_length
    assert s.latency_s == pytest.approx(s.latency_samples / sr)
    if sr == 48000:
        assert s.latency_s <= 0.030
    plain = live_stream(sr, mirror=0.5, smooth=False)  # overrides apply
    assert plain.mirror == 0.5 and plain.latency_samples == plain.geometry.lag  # no look-ahead without the filter


def test_smoothed_stream_returns_every_frame_once_in_order_delayed_by_the_lag():
    x, sr = audio("synth_48k")
    plain = feed(PitchStream(sr, refine=True), x, 480)
    for block in (480, 1000, 7):
        smooth = feed(PitchStream(sr, refine=True, smooth=True), x, block)
        np.testing.assert_array_equal(smooth["frame_index"], plain["frame_index"])
        np.testing.assert_array_equal(smooth["time_s"], plain["time_s"])
        np.testing.assert_allclose(smooth["confidence"], plain["confidence"], atol=1e-6)
        # only isolated jumps change; on this recording a handful of frames at most
        changed = np.abs(smooth["pitch_semitones"] - plain["pitch_semitones"]) > 1e-3
        assert changed.mean() < 0.02


def test_frames_come_lag_hops_late():
    sr = 16000
    s = PitchStream(sr, smooth=True, smooth_lag=2)
    x = (0.3 * np.sin(2 * np.pi * 330 * np.arange(sr) / sr)).astype(np.float32)
    got = [len(s.push(x[i : i + s.hop_length])) for i in range(0, 20 * s.hop_length, s.hop_length)]
    plain = PitchStream(sr)
    ref = [len(plain.push(x[i : i + s.hop_length])) for i in range(0, 20 * s.hop_length, s.hop_length)]
    assert sum(ref) - sum(got) == 2 and got[:3] == [0, 0, 1] and ref[:1] == [1]
    assert s.frames_emitted == sum(got)


def test_voiced_is_the_gate_on_finite_input():
    x, sr = audio("speech_22k")
    x = x.copy()
    x[5000:5100] = np.nan
    for gate in (0.3, 0.5, 0.8):
        f = feed(PitchStream(sr, gate=gate), x, 512)
        np.testing.assert_array_equal(f["voiced"], (f["confidence"] >= gate) & f["input_finite"])
    assert not f["voiced"][~f["input_finite"]].any()


@pytest.mark.parametrize("kwargs", [dict(gate=1.5), dict(smooth=True, smooth_lag=3), dict(smooth=True, smooth_lag=0)])
def test_bad_preset_values_are_clear_errors(kwargs):
    with pytest.raises(ParameterError):
        PitchStream(16000, **kwargs)


def test_offline_smoothing_is_the_same_filter_and_ignores_the_chunking(tmp_path):
    import soundfile as sf

    from pesto_core import analyse_file, load_model
    from pesto_core.glitch import remove_glitches

    x, sr = audio("speech_22k")
    path = tmp_path / "speech.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    model = load_model("mir-1k_g7")
    plain = analyse_file(path, model)
    whole = analyse_file(path, model, smooth=True)
    chunked = analyse_file(path, model, smooth=True, num_chunks=7, keep_activations=False)
    assert whole.decoding == "alwa+smooth" and len(whole) == len(plain) and chunked.activations is None
    assert np.any(np.abs(whole.pitch_semitones - plain.pitch_semitones) > 0.5)  # this take has a glitch
    np.testing.assert_array_equal(whole.pitch_semitones, chunked.pitch_semitones)
    np.testing.assert_array_equal(
        whole.pitch_semitones, remove_glitches(plain.pitch_semitones, plain.confidence, plain.activations)
    )
