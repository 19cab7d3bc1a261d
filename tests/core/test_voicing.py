"""The voicing decision (pesto_core.voicing) and the live stream's use of it."""

import numpy as np
import pytest

from pesto_core.errors import ParameterError
from pesto_core.stream import LIVE_DEFAULTS, PitchStream, live_stream
from pesto_core.voicing import peak_mass, voiced_track, window_median

from .golden import audio

N_OUT = 384  # 128 semitones, 3 bins each


def test_peak_mass_of_one_peak_a_flat_distribution_and_silence():
    acts = np.zeros((4, N_OUT), np.float32)
    acts[0, 200] = 1.0  # one bin
    acts[1, 197:204] = [1, 2, 3, 4, 3, 2, 1]  # all within +-1 semitone of the arg-max
    acts[2] = 1.0  # flat: 7 bins of 384 around the (nudged) arg-max
    acts[2, 200] = 1.0 + 1e-3
    acts[3, 100], acts[3, 300] = 0.5, 0.5  # two peaks far apart (an octave or more)
    got = peak_mass(acts)
    np.testing.assert_allclose(got, [1.0, 1.0, 7 / N_OUT, 0.5], atol=1e-5)
    edges = np.zeros((2, N_OUT), np.float32)
    edges[0, 0], edges[1, -1] = 1.0, 1.0  # a peak in the first or last bin: each bin counted once
    np.testing.assert_allclose(peak_mass(edges), [1.0, 1.0], atol=1e-6)
    flat = np.ones((1, N_OUT), np.float32)  # arg-max in bin 0: only the 4 bins that exist near it
    np.testing.assert_allclose(peak_mass(flat), [4 / N_OUT], atol=1e-6)
    assert peak_mass(np.zeros((2, N_OUT)))[0] == 0.0  # an all-zero frame is not pitched
    assert peak_mass(np.ones((2, 3, N_OUT))).shape == (2, 3)  # (streams, frames)


def test_window_median_is_centred_and_one_sided_at_the_ends():
    x = np.array([0, 0, 9, 0, 0, 5, 5, 5, 0, 5], np.float32)
    np.testing.assert_array_equal(window_median(x, 0), x)
    np.testing.assert_array_equal(window_median(x, 1), [0, 0, 0, 0, 0, 5, 5, 5, 5, 2.5])


@pytest.mark.parametrize("lag", [1, 2, 3])
def test_window_median_equals_its_definition_for_any_length(lag):
    rng = np.random.default_rng(lag)
    for n in (0, 1, 2, lag, 2 * lag, 2 * lag + 1, 2 * lag + 2, 50):
        x = rng.random((2, n)).astype(np.float32)
        expected = np.empty_like(x)
        for t in range(n):
            expected[:, t] = np.median(x[:, max(0, t - lag) : t + lag + 1], axis=-1)
        np.testing.assert_array_equal(window_median(x, lag), expected)


def test_voiced_track_needs_both_measurements():
    acts = np.zeros((6, N_OUT), np.float32)
    acts[:, 180] = 1.0
    acts[4:] = 1.0  # last two frames: flat (noise)
    conf = np.array([0.9, 0.2, 0.9, 0.9, 0.9, 0.9])
    np.testing.assert_array_equal(voiced_track(conf, acts, gate=0.5), conf >= 0.5)  # peak gate 0: confidence alone
    np.testing.assert_array_equal(
        voiced_track(conf, acts, gate=0.5, peak_gate=0.5), [True, False, True, True, False, False]
    )
    with pytest.raises(ParameterError, match="peak gate"):
        voiced_track(conf, acts, peak_gate=1.5)


def test_the_live_preset_decides_voicing_by_confidence_and_peak_over_the_filter_window():
    assert LIVE_DEFAULTS["peak_gate"] == 0.5 and LIVE_DEFAULTS["smooth"]
    speech, sr = audio("speech_22k")
    noise = 0.05 * np.random.default_rng(0).standard_normal(sr).astype(np.float32)  # 1 s of white noise
    x = np.concatenate([speech, noise, speech])
    s = live_stream(sr)  # the preset's own model: its confidence head calls much of the noise voiced
    parts = [s.push(x[i : i + 333]) for i in range(0, len(x), 333)] + [s.flush()]
    voiced = np.concatenate([p.voiced for p in parts])
    conf = np.concatenate([p.confidence for p in parts])
    acts = np.concatenate([p.activations for p in parts])
    expected = voiced_track(conf, acts, gate=0.5, peak_gate=0.5, lag=LIVE_DEFAULTS["smooth_lag"])
    np.testing.assert_array_equal(voiced, expected)
    assert 0.2 < voiced.mean() < 0.9  # speech with pauses: neither all voiced nor all silent
    # the peak gate decides frames here (the test fails if the stream used the confidence alone)
    confidence_alone = voiced_track(conf, acts, gate=0.5, peak_gate=0.0, lag=LIVE_DEFAULTS["smooth_lag"])
    assert np.count_nonzero(confidence_alone & ~voiced) >= 20


def test_a_plain_stream_decides_per_frame_and_the_gate_reaches_the_filter():
    x, sr = audio("speech_22k")
    plain = PitchStream(sr, peak_gate=0.5)
    f = [plain.push(x[i : i + 512]) for i in range(0, len(x), 512)] + [plain.flush()]
    voiced = np.concatenate([p.voiced for p in f])
    expected = (np.concatenate([p.confidence for p in f]) >= 0.5) & (
        peak_mass(np.concatenate([p.activations for p in f])) >= 0.5
    )
    np.testing.assert_array_equal(voiced, expected)
    s = PitchStream(sr, smooth=True)
    s.gate = 0.8  # as the Live tab does while running
    assert s.gate == 0.8 and s._glitch.gate == 0.8
    s.peak_gate = 0.4
    assert s.peak_gate == 0.4 and s._glitch.peak_gate == 0.4
    with pytest.raises(ParameterError, match="gate"):
        s.gate = 2.0
