"""Golden reference outputs of upstream PESTO (pesto-pitch 2.0.1, mir-1k_g7), copied from shared/reference/golden."""

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

DATA = Path(__file__).resolve().parent.parent / "data"
MANIFEST = json.loads((DATA / "manifest.json").read_text())
CASES = sorted(MANIFEST["cases"])

# Tolerances of the engine issue
VQT_DB_ATOL, VQT_FLOOR_DB = 0.01, -100.0
ACT_ATOL = CONF_ATOL = 1e-3
VOL_RTOL = 1e-3
PITCH_ATOL, PITCH_SHARE = 1e-3, 0.995
PITCH_CONFIDENT_ATOL, CONFIDENT = 0.01, 0.5


@lru_cache(maxsize=None)
def golden(case):
    return dict(np.load(DATA / f"{case}.npz"))


@lru_cache(maxsize=None)
def audio(case):
    x, sr = sf.read(DATA / f"{case}.wav", dtype="float32")
    return x, sr


def offline_steps(case):
    return sorted(
        int(k[4:].split("_")[0])
        for k in MANIFEST["cases"][case]["keys"]
        if k.startswith("step") and k.endswith("_vqt_db")
    )


def assert_pitch_close(pitch, ref, confidence):
    """Pitch (semitones) within PITCH_ATOL on >= 99.5% of frames and within 0.01 on confident frames."""
    diff = np.abs(np.asarray(pitch, np.float64) - ref)
    share = float((diff <= PITCH_ATOL).mean())
    assert share >= PITCH_SHARE, f"only {share:.2%} of frames within {PITCH_ATOL} semitones (max {diff.max():.4f})"
    confident = np.asarray(confidence) >= CONFIDENT
    if confident.any():
        worst = diff[confident].max()
        assert worst <= PITCH_CONFIDENT_ATOL, f"confident frame off by {worst:.4f} semitones"
