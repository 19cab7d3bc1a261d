"""Smoke run of the voicing stage (training/voicing.py): a fitted calibration in the written checkpoint, which the
engine then uses, and a calibration dropped when the weights are trained further."""

import json

import numpy as np
import torch

from pesto_core.checkpoint import load_checkpoint
from pesto_core.model import PestoModel
from pesto_core.voicing import VOICING_KEYS
from training import voicing
from training.model import TrainableNet


def test_voicing_stage_writes_a_calibration_the_engine_uses(tmp_path, capsys):
    out = tmp_path / "calibrated.pt"
    log = tmp_path / "fit.jsonl"
    args = ["--model", "mir-1k_g7", "--out", str(out), "--name", "smoke-voicing", "--clips", "5", "--threads", "1"]
    assert voicing.main(args + ["--config", "training/configs/smoke.json", "--log", str(log)]) == 0
    line = json.loads(log.read_text().splitlines()[-1])
    assert line["fit_frames"] > 100 and 0 < line["voiced_share"] < 1
    assert all(np.isfinite(line["weight"])) and np.isfinite(line["bias"])
    for mode in ("offline", "live"):
        assert 0 <= line[f"val_{mode}_acc_head"] <= 1 and 0 <= line[f"val_{mode}_acc_voicing"] <= 1
    ckpt = load_checkpoint(out)
    assert ckpt.name == "smoke-voicing"
    np.testing.assert_allclose(ckpt.state_dict[VOICING_KEYS[0]].numpy(), line["weight"], rtol=0, atol=1e-5)
    model = PestoModel(ckpt)
    assert model.voicing is not None
    base = load_checkpoint("mir-1k_g7")
    for k, v in base.state_dict.items():  # the network itself is untouched
        torch.testing.assert_close(ckpt.state_dict[k], v, rtol=0, atol=0)
    # training further drops the calibration (it was fitted to the old weights)
    again = TrainableNet(ckpt).to_checkpoint("further")
    assert not any(k in again.state_dict for k in VOICING_KEYS)
