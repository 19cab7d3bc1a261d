"""Smoke run of the training command: a few steps, a loadable checkpoint, and an exact resume."""

import json

import numpy as np
import torch

from pesto_core.checkpoint import load_checkpoint
from pesto_core.model import PestoModel
from training import train
from training.model import TrainableNet

CONFIG = "training/configs/smoke.json"


def _run(run_dir, cache, steps):
    assert (
        train.main(
            ["--config", CONFIG, "--run", str(run_dir), "--cache", str(cache), "--steps", str(steps), "--threads", "1"]
        )
        == 0
    )


def test_smoke_run_resume_and_checkpoint(tmp_path):
    cache = tmp_path / "cache"
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _run(straight, cache, 4)
    _run(resumed, cache, 2)
    _run(resumed, cache, 4)  # resumes from state.pt at step 2
    lines = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4]
    assert all(np.isfinite(line["pitch"]) and np.isfinite(line["voicing"]) for line in lines)
    assert "val_rpa_offline" in lines[1]
    a = torch.load(straight / "state.pt", weights_only=True)
    b = torch.load(resumed / "state.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for k in a["net"]:
        torch.testing.assert_close(a["net"][k], b["net"][k], rtol=0, atol=1e-6)
    # the exported weights run in the engine unchanged (offline engine)
    model = PestoModel(load_checkpoint(straight / "model.pt"), sampling_rate=16000)
    pitch, conf, vol, act = model(torch.randn(8000) * 0.1)
    assert torch.isfinite(pitch).all() and act.shape[-1] == 384


def test_trainable_net_matches_engine():
    ckpt = load_checkpoint("mir-1k_g7")
    net, engine = TrainableNet(ckpt), PestoModel(ckpt)
    x = torch.randn(40, 251) * 2 - 5
    logits, conf = net(x)
    ref = engine.encoder(x[:, engine.crop[0] : engine.crop[1]])
    torch.testing.assert_close(torch.softmax(logits, -1).detach(), ref, atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.sigmoid(conf).detach(), engine.confidence(x.exp(), x), atol=1e-5, rtol=0)
    # a round trip through the checkpoint format gives the same engine
    again = PestoModel(net.to_checkpoint("copy"))
    torch.testing.assert_close(again.encoder(x[:, 16:235]), ref, atol=0, rtol=0)
