"""Our bundled models load by name everywhere a model name is accepted; mir-1k_g7 stays the default."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from pesto_core import predict
from pesto_core.bundled import DEFAULT_MODEL, bundled_models
from pesto_core.checkpoint import RESOURCES_DIR, load_checkpoint
from pesto_core.stream import PitchStream

OURS = ("tracker-1", "tracker-1-live")


def _tone(sr, hz=220.0, seconds=1.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * sum(np.sin(2 * np.pi * h * hz * t) / h for h in range(1, 6))).astype(np.float32)


def test_default_is_still_mir_1k_g7():
    assert DEFAULT_MODEL == "mir-1k_g7"
    assert set(OURS) <= set(bundled_models())


@pytest.mark.parametrize("name", OURS)
def test_checkpoint_is_plain_and_documented(name):
    raw = torch.load(RESOURCES_DIR / f"{name}.pt", weights_only=True)
    assert raw["format"] == "pesto-tracker-checkpoint/1"
    ckpt = load_checkpoint(name)
    base = load_checkpoint("mir-1k_g7")
    assert ckpt.encoder == base.encoder and ckpt.hcqt_params == base.hcqt_params  # same architecture and cost
    assert (RESOURCES_DIR / "tracker-1.md").is_file()


def test_predict_and_stream_by_name():
    x = _tone(16000)
    _, f0, conf, _ = predict(x, 16000, model_name="tracker-1", refine=True)
    mid = f0[20:-20].numpy()
    assert np.all(np.abs(1200 * np.log2(mid / 220.0)) < 50)
    st = PitchStream(48000, model_name="tracker-1-live", refine=True)
    frames = st.push(_tone(48000))
    assert len(frames) > 50
    assert np.abs(1200 * np.log2(frames.f0_hz[30:] / 220.0)).max() < 50


def test_cli_runs_ours(tmp_path):
    wav = RESOURCES_DIR / "example_melody.wav"
    out = subprocess.run(
        [sys.executable, "-m", "pesto_core", str(wav), "-m", "tracker-1", "-q", "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
