"""Second stage: fit the confidence head alone, with level augmentation and digital silence.

The published confidence head is a linear unit on ``relu(conv(power))`` (linear VQT power, a strided 39-tap
convolution) and the spectral flatness. Its input is not level-invariant (a gain scales the convolution features),
so it can only learn voicing for the levels it is shown, and digital silence (every VQT bin at the float32 floor)
looks "tonal" to the flatness term. This stage trains only the head's 74 numbers on the run's cached frames with a
random gain per frame (a constant added to the dB VQT, clipped at the engine's floor; the encoder does not need it:
its layer norm removes a gain) and with digital-silence frames labelled unvoiced; voiced frames too quiet for it to
see (mean power below ``--min-voiced-db``) take no loss, so it learns a level gate instead of calling silence
voiced. The convolution is trained with a learned common scale ``exp(k)`` so that the level at which the head
starts to see a signal can move freely.

    python3 -m training.confidence --run runs/tracker-1 [--steps 3000] [--out runs/tracker-1/model.pt]

Reads ``<run>/model.pt`` and the cached shards of ``<run>/config.json``; writes the checkpoint with the new head
(default: in place, atomically) and appends its metrics to ``<run>/metrics.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pesto_core.checkpoint import load_checkpoint, save_plain

from . import data

FLOOR_DB = float(20 * np.log10(np.finfo(np.float32).eps))
LN10_OVER_10 = float(np.log(10) / 10)


def head_logit(db: torch.Tensor, u, cb, k, lw, lb, stride: int = 3) -> torch.Tensor:
    log_power = db * LN10_OVER_10
    power = log_power.exp()
    flatness = log_power.mean(-1, keepdim=True).exp() / power.mean(-1, keepdim=True).clamp(min=1e-8)
    feats = F.relu(F.conv1d(power.unsqueeze(1), u * k.exp(), cb * k.exp(), stride=stride).squeeze(1))
    return F.linear(torch.cat((feats, flatness), -1), lw, lb).squeeze(-1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--cache", default=".cache/training")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--gain-db", type=float, nargs=2, default=(-50.0, 6.0))
    ap.add_argument("--silence", type=float, default=0.1, help="share of digital-silence frames per batch")
    ap.add_argument(
        "--min-voiced-db",
        type=float,
        default=-50.0,
        help="voiced frames whose mean VQT power is below this (dB; a sine at -50 dBFS is about -49) "
        "take no loss: the head cannot see them, and asking would teach it that silence is voiced",
    )
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    run = Path(args.run)
    cfg = json.loads((run / "config.json").read_text())
    seed = int(cfg["seed"])
    gens = {name: None for name in cfg["generators"]}
    cache = Path(args.cache) / data.data_key({k: v for k, v in cfg["data"].items()}, gens)
    shards = sorted(cache.glob(f"{data.TRAIN_TAG:x}-{seed}-*.npz"))
    val_path = next(cache.glob(f"{data.VAL_TAG:x}-{seed}-*.npz"))
    if not shards:
        raise SystemExit(f"no cached shards in {cache}")
    dbs, labels = [], []
    for p in shards:
        with np.load(p) as z:
            keep = z["f0"] >= 0
            dbs.append(z["db"][keep])
            labels.append(z["f0"][keep] > 0)
    db_all = torch.from_numpy(np.concatenate(dbs))
    y_all = torch.from_numpy(np.concatenate(labels)).float()
    with np.load(val_path) as z:
        keep = z["f0"] >= 0
        val_db, val_y = torch.from_numpy(z["db"][keep]), torch.from_numpy(z["f0"][keep] > 0)

    src = run / "model.pt"
    ckpt = load_checkpoint(src)
    sd = ckpt.state_dict
    u = sd["confidence.conv.weight"].clone().requires_grad_(True)
    cb = sd["confidence.conv.bias"].clone().requires_grad_(True)
    k = torch.zeros((), requires_grad=True)
    lw = sd["confidence.linear.weight"].clone().requires_grad_(True)
    lb = sd["confidence.linear.bias"].clone().requires_grad_(True)
    opt = torch.optim.Adam([u, cb, k, lw, lb], lr=args.lr)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC0F]))
    n_bins = db_all.shape[1]

    def accuracy(db, y):
        with torch.no_grad():
            return float(((head_logit(db, u, cb, k, lw, lb) > 0) == y).float().mean())

    before = accuracy(val_db, val_y)
    log = open(run / "metrics.jsonl", "a")
    for step in range(args.steps):
        idx = torch.from_numpy(rng.integers(0, len(y_all), args.batch))
        gain = torch.from_numpy(rng.uniform(*args.gain_db, (args.batch, 1)).astype(np.float32))
        db = torch.clamp(db_all[idx] + gain, min=FLOOR_DB)
        y = y_all[idx].clone()
        n_sil = int(args.silence * args.batch)
        db[:n_sil] = FLOOR_DB
        y[:n_sil] = 0.0
        lr = args.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * step / args.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        level = 10 * torch.log10((db * LN10_OVER_10).exp().mean(-1))
        weight = ((y == 0) | (level >= args.min_voiced_db)).float()
        loss = F.binary_cross_entropy_with_logits(head_logit(db, u, cb, k, lw, lb), y, weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 500 == 0:
            line = {
                "stage": "confidence",
                "step": step + 1,
                "loss": round(float(loss.detach()), 5),
                "val_vacc": round(accuracy(val_db, val_y), 4),
                "k": round(float(k), 3),
            }
            print(json.dumps(line), flush=True)
            log.write(json.dumps(line) + "\n")
    silence = torch.full((1, n_bins), FLOOR_DB)
    with torch.no_grad():
        p_sil = float(torch.sigmoid(head_logit(silence, u, cb, k, lw, lb)))
    line = {
        "stage": "confidence",
        "done": args.steps,
        "val_vacc_before": round(before, 4),
        "val_vacc_after": round(accuracy(val_db, val_y), 4),
        "confidence_of_silence": round(p_sil, 5),
    }
    print(json.dumps(line), flush=True)
    log.write(json.dumps(line) + "\n")
    log.close()
    new = dict(sd)
    with torch.no_grad():
        new["confidence.conv.weight"] = (u * k.exp()).detach().clone()
        new["confidence.conv.bias"] = (cb * k.exp()).detach().clone()
        new["confidence.linear.weight"] = lw.detach().clone()
        new["confidence.linear.bias"] = lb.detach().clone()
    import dataclasses

    save_plain(dataclasses.replace(ckpt, state_dict=new), Path(args.out) if args.out else src)
    return 0


if __name__ == "__main__":
    sys.exit(main())
