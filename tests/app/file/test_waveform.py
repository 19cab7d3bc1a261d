"""Waveform overview: the min/max envelope read block by block."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app.file.waveform import compute_envelope
from pesto_core.errors import AudioError
from tests.app.file_helpers import DATA


def test_envelope_matches_numpy(monkeypatch):
    import app.file.waveform

    monkeypatch.setattr(app.file.waveform, "BLOCK_SAMPLES", 5000)  # several blocks on a short file
    x, sr = sf.read(str(DATA / "speech_22k.wav"), dtype="float32")
    mins, maxs, bucket_s = compute_envelope(DATA / "speech_22k.wav", buckets=100)
    per = -(-len(x) // 100)
    assert bucket_s == pytest.approx(per / sr) and len(mins) == -(-len(x) // per)
    for b in (0, 17, len(mins) - 1):
        seg = x[b * per : (b + 1) * per]
        assert mins[b] == seg.min() and maxs[b] == seg.max()


def test_envelope_of_a_chosen_channel(tmp_path):
    sr = 8000
    left = np.linspace(-0.5, 0.5, sr, dtype=np.float32)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    sf.write(str(tmp_path / "st.wav"), stereo, sr, subtype="FLOAT")
    mins, maxs, _ = compute_envelope(tmp_path / "st.wav", channel=1, buckets=10)
    assert np.all(mins == 0) and np.all(maxs == 0)
    mins, maxs, _ = compute_envelope(tmp_path / "st.wav", channel=None, buckets=10)  # mixed: half the left
    assert maxs.max() == pytest.approx(0.25, abs=1e-6)


def test_envelope_of_a_bad_file_raises_with_the_name(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEfmt garbage")
    with pytest.raises(AudioError, match="bad.wav"):
        compute_envelope(bad)
