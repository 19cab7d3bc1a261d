"""Fit a model's learned voicing output: a logistic unit on three per-frame measurements, written into the checkpoint.

    python3 -m training.voicing --model resources/tracker-1.pt --out runs/voicing/tracker-1.pt \
        [--clips 480] [--seed 1] [--mirror 0.95] [--config training/configs/tracker-1.json]

What it fits (the engine side is :mod:`pesto_core.voicing_head`): the engine's confidence becomes
``sigmoid(w . [logit(c), logit(m), H] + b)`` with ``c`` the published confidence head's output, ``m`` the peak mass
of the pitch distribution and ``H`` its entropy (:func:`pesto_core.voicing.voicing_features`). The encoder and the
head are not touched; the fit takes the model's own outputs on new training clips, so it must be run again after any
change of the weights (training/model.py drops a stale calibration when it saves).

Data: ``--clips`` clips of the training mix of ``--config`` (tones, instruments, voice, unvoiced; noise, reverb,
level changes; 8-48 kHz), drawn with ``SeedSequence([VOICING_TAG, seed, i])`` (a tag of its own: no training shard,
no validation shard and no held-out clip shares it), each analysed twice by the engine: offline (``PestoModel``)
and live (``PitchStream`` at ``--mirror``, the live preset's latency mode), so that one calibration serves both.
Labels: the f0 at each frame's centre (voiced / unvoiced; frames marked ambiguous take no part). The last fifth of
the clips is kept for validation: frame accuracy of ``confidence >= 0.5`` before (the head alone) and after.

Objective: binary cross-entropy (maximum likelihood), so the output is a calibrated probability and 0.5 the natural
gate; inputs standardised, L-BFGS, a small L2 term. A 3-16-1 network on the same inputs was no better (training/
README.md), so the unit stays linear: a few operations per frame.

Prints one JSON line (and appends it to ``--log`` when given): weights, validation accuracies, frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pesto_core.checkpoint import load_checkpoint, save_plain
from pesto_core.model import PestoModel
from pesto_core.stream import PitchStream
from pesto_core.voicing import VOICING_KEYS, voicing_features

from . import data

VOICING_TAG = 0x7015
ROOT = Path(__file__).resolve().parent.parent


def clip_frames(model: PestoModel, audio: np.ndarray, sr: int, f0: np.ndarray, mirror: float) -> dict:
    """Features (frames, 3) float64 and labels (frames,) bool of one clip, offline and live (ambiguous frames
    dropped): ``{"offline": (X, y), "live": (X, y)}``. ``model.voicing`` must be None (the head's raw output)."""
    x = np.asarray(audio, np.float32)
    out = {}
    with torch.inference_mode():
        _pitch, conf, _vol, act = model(torch.from_numpy(x), sr=sr, return_activations=True)
    centres = np.arange(len(conf)) * model.hop_length
    out["offline"] = (voicing_features(conf.numpy(), act.numpy()), centres)
    st = PitchStream(sr, model=model, mirror=mirror, refine=False)
    parts = [st.push(x), st.flush()]
    conf = np.concatenate([p.confidence for p in parts])
    act = np.concatenate([p.activations for p in parts])
    centres = np.round(np.concatenate([p.time_s for p in parts]) * sr).astype(np.int64)
    out["live"] = (voicing_features(conf, act), centres)
    res = {}
    for mode, (feats, c) in out.items():
        lab = f0[np.clip(c, 0, len(f0) - 1)]
        keep = (lab >= 0) & (c >= 0) & (c < len(f0))
        res[mode] = (feats[keep], lab[keep] > 0)
    return res


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-4) -> tuple:
    """Maximum-likelihood logistic regression: (weight (k,), bias) on the raw inputs (standardised inside)."""
    Xt = torch.from_numpy(X).double()
    yt = torch.from_numpy(y.astype(np.float64))
    mu, sd = Xt.mean(0), Xt.std(0).clamp(min=1e-6)
    Z = (Xt - mu) / sd
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(Z @ w + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        weight = w / sd
        bias = b - (w * mu / sd).sum()
    return weight.numpy(), float(bias)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="checkpoint name or path (its own calibration, if any, is ignored)")
    ap.add_argument("--out", required=True, help="where to write the checkpoint with the fitted voicing output")
    ap.add_argument("--name", help="model name inside the written checkpoint (default: the input's)")
    ap.add_argument("--config", default=str(ROOT / "training" / "configs" / "tracker-1.json"))
    ap.add_argument("--clips", type=int, default=480)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mirror", type=float, default=0.95, help="the live frames' latency mode (the live preset's)")
    ap.add_argument("--log", help="append the result line to this file")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.clips < 5:
        raise SystemExit("--clips: at least 5 (a fifth is kept for validation)")
    out_path = Path(args.out)
    ckpt = load_checkpoint(args.model)
    model = PestoModel(ckpt)
    model.voicing = None  # the head's own output: the calibration's input
    data_cfg = json.loads(Path(args.config).read_text())["data"]
    gens = data.generators()
    t0 = time.time()
    frames = {"offline": [], "live": []}
    n_val = max(1, args.clips // 5)
    for i in range(args.clips):
        rng = np.random.default_rng(np.random.SeedSequence([VOICING_TAG, args.seed, i]))
        _kind, sr, audio, f0 = data.make_clip(rng, data_cfg, gens)
        for mode, (X, y) in clip_frames(model, audio, sr, np.asarray(f0, np.float32), args.mirror).items():
            frames[mode].append((i >= args.clips - n_val, X, y))

    def stack(val: bool, modes=("offline", "live")):
        parts = [(X, y) for m in modes for v, X, y in frames[m] if v == val]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    X, y = stack(False)
    weight, bias = fit_logistic(X, y)
    line = {
        "stage": "voicing",
        "model": str(args.model),
        "clips": args.clips,
        "seed": args.seed,
        "mirror": args.mirror,
        "generators": sorted(gens),
        "fit_frames": int(len(y)),
        "voiced_share": round(float(y.mean()), 4),
        "weight": [round(float(v), 6) for v in weight],
        "bias": round(bias, 6),
    }
    for mode in ("offline", "live"):
        Xv, yv = stack(True, (mode,))
        before = float(((Xv[:, 0] >= 0) == yv).mean())  # logit(c) >= 0 <=> c >= 0.5
        after = float(((Xv @ weight + bias >= 0) == yv).mean())
        line[f"val_{mode}_acc_head"] = round(before, 4)
        line[f"val_{mode}_acc_voicing"] = round(after, 4)
    line["seconds"] = round(time.time() - t0, 1)
    sd = dict(ckpt.state_dict)
    sd[VOICING_KEYS[0]] = torch.tensor(weight, dtype=torch.float32)
    sd[VOICING_KEYS[1]] = torch.tensor([bias], dtype=torch.float32)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save_plain(dataclasses.replace(ckpt, name=args.name or ckpt.name, state_dict=sd), out_path)
    print(json.dumps(line), flush=True)
    if args.log:
        with open(args.log, "a") as f:
            f.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
