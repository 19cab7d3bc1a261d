"""Train a PESTO-architecture model: one command, resumable, logged, seeded.

    nice -n 19 python3 -m training.train --config training/configs/tracker-1.json --run runs/tracker-1

The run directory holds ``config.json`` (the configuration used), ``state.pt`` (model + optimiser + step, written
atomically every ``checkpoint_every_s`` seconds, on SIGTERM/SIGINT and at the end), ``model.pt`` (the current
weights as a plain bundled-format checkpoint, loadable by ``pesto -m runs/tracker-1/model.pt``) and
``metrics.jsonl`` (one line per ``log_every`` steps, plus validation lines). Running the same command again resumes
from ``state.pt``. Data shards are cached under ``--cache`` (default ``.cache/training``).

Options override the configuration for smoke runs: ``--steps``, ``--batch``, ``--clips-per-shard``, ``--pool``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pesto_core.checkpoint import load_checkpoint, save_plain
from pesto_core.decode import reduce_activations
from pesto_core.units import hz_to_semitones

from . import data
from .losses import losses, lr_factor
from .model import TrainableNet

LN10_OVER_10 = float(np.log(10) / 10)


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


class Pool:
    """The last ``size`` shards of the run's shard sequence; shard ``i`` enters at step ``(i - size + 1) * every``."""

    def __init__(self, cfg: dict, cache: Path, gens: dict):
        self.cfg, self.cache, self.gens = cfg, cache, gens
        self.size, self.every = int(cfg["data"]["pool_shards"]), int(cfg["data"]["refresh_every"])
        self.shards: dict = {}

    def indices(self, step: int) -> range:
        first = step // self.every
        return range(first, first + self.size)

    def at(self, step: int) -> dict:
        want = self.indices(step)
        for i in list(self.shards):
            if i not in want:
                del self.shards[i]
        for i in want:
            if i not in self.shards:
                self.shards[i] = data.load_or_make(
                    self.cache, data.TRAIN_TAG, int(self.cfg["seed"]), i, self.cfg["data"], self.gens
                )
        parts = [self.shards[i] for i in want]
        return {k: np.concatenate([p[k] for p in parts]) for k in ("db", "f0", "mode")}


def batch_at(pool_data: dict, step: int, seed: int, size: int) -> tuple:
    labelled = np.flatnonzero(pool_data["f0"] >= 0)
    rng = np.random.default_rng(np.random.SeedSequence([seed, step, 0xBA7C]))
    idx = labelled[rng.integers(0, len(labelled), size)]
    db = torch.from_numpy(pool_data["db"][idx])
    return db * LN10_OVER_10, torch.from_numpy(pool_data["f0"][idx])


@torch.no_grad()
def validate(net: TrainableNet, val: dict) -> dict:
    net.eval()
    log_power = torch.from_numpy(val["db"]) * LN10_OVER_10
    logits, conf = net(log_power)
    from .losses import peak_voicing_logit

    pz = peak_voicing_logit(logits, net.peak_calibration).numpy()
    probs = torch.softmax(logits, -1).roll(-net.shift_bins, -1)
    pitch = reduce_activations(probs, "alwa").numpy()
    f0 = val["f0"]
    out = {}
    for name, m in (("offline", 0), ("stream", 1)):
        sel = val["mode"] == m
        v = sel & (f0 > 0)
        if v.any():
            cents = 100 * np.abs(pitch[v] - hz_to_semitones(f0[v]))
            out[f"val_rpa_{name}"] = float((cents <= 50).mean())
            out[f"val_c10_{name}"] = float((cents <= 10).mean())
        lab = sel & (f0 >= 0)
        if lab.any():
            out[f"val_vacc_{name}"] = float(((conf.numpy()[lab] > 0) == (f0[lab] > 0)).mean())
            out[f"val_pvacc_{name}"] = float(((pz[lab] > 0) == (f0[lab] > 0)).mean())
    net.train()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--run", required=True, help="run directory (created; resumed if it holds state.pt)")
    ap.add_argument("--cache", default=".cache/training")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--clips-per-shard", type=int)
    ap.add_argument("--pool", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init-state", help="start from another run's state.pt (weights only) instead of the base model")
    args = ap.parse_args(argv)

    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    cfg = json.loads(Path(args.config).read_text())
    for key, value in (("steps", args.steps), ("batch", args.batch)):
        if value is not None:
            cfg[key] = value
    if args.clips_per_shard is not None:
        cfg["data"]["clips_per_shard"] = args.clips_per_shard
    if args.pool is not None:
        cfg["data"]["pool_shards"] = args.pool
    torch.set_num_threads(args.threads)
    torch.manual_seed(int(cfg["seed"]))
    gens = data.generators()
    missing = [k for k, v in cfg["data"]["mix"].items() if float(v) > 0 and k not in gens]
    cache = Path(args.cache) / data.data_key(cfg["data"], gens)
    (run / "config.json").write_text(json.dumps({**cfg, "generators": sorted(gens), "missing": missing}, indent=2))

    base = load_checkpoint(cfg["init"])
    net = TrainableNet(base)
    conf_params = list(net.confidence.parameters())
    enc_params = [p for p in net.encoder.parameters() if p.requires_grad]
    opt = torch.optim.Adam(
        [
            {"params": enc_params, "lr": float(cfg["lr"])},
            {"params": conf_params + [net.peak_calibration], "lr": float(cfg["lr_confidence"])},
        ]
    )
    step = 0
    state_path = run / "state.pt"
    if state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        net.load_state_dict(state["net"], strict=False)
        try:
            opt.load_state_dict(state["opt"])
        except (ValueError, KeyError) as e:  # the parameter set changed between versions: fresh Adam moments
            print(f"optimiser state not restored ({e}); continuing with fresh moments", flush=True)
        step = int(state["step"])
        print(f"resumed {state_path} at step {step}", flush=True)
    elif args.init_state:
        state = torch.load(args.init_state, map_location="cpu", weights_only=True)
        net.load_state_dict(state["net"], strict=False)
        print(f"initialised from {args.init_state} (step {state['step']})", flush=True)

    def save(final=False):
        _atomic_save({"net": net.state_dict(), "opt": opt.state_dict(), "step": step}, state_path)
        save_plain(net.to_checkpoint(cfg.get("name", run.name)), run / "model.pt")
        print(f"checkpoint at step {step}{' (final)' if final else ''}", flush=True)

    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    val_cfg = dict(cfg["data"], clips_per_shard=int(cfg.get("val_clips", 16)))
    val = None
    if int(cfg.get("val_every", 0)) > 0:
        val = data.load_or_make(cache, data.VAL_TAG, int(cfg["seed"]), 0, val_cfg, gens)

    pool = Pool(cfg, cache, gens)
    log = open(run / "metrics.jsonl", "a")
    total, warmup = int(cfg["steps"]), int(cfg.get("warmup", 100))
    last_save, t_start, acc = time.time(), time.time(), {}
    net.train()
    while step < total and not stop["flag"]:
        pool_data = pool.at(step)
        log_power, f0 = batch_at(pool_data, step, int(cfg["seed"]), int(cfg["batch"]))
        f = lr_factor(step, total, warmup, float(cfg.get("decay_from", 0.75)))
        opt.param_groups[0]["lr"] = float(cfg["lr"]) * f
        opt.param_groups[1]["lr"] = float(cfg["lr_confidence"]) * f
        logits, conf = net(log_power)
        parts = losses(
            logits,
            conf,
            f0,
            bins_per_semitone=net.bins_per_semitone,
            shift_bins=net.shift_bins,
            sigma=float(cfg.get("sigma_bins", 1.0)),
            calib=net.peak_calibration,
        )
        loss = (
            parts["pitch"]
            + float(cfg.get("voicing_weight", 1.0)) * parts["voicing"]
            + float(cfg.get("peak_voicing_weight", 0.5)) * parts["peak_voicing"]
        )
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(enc_params, float(cfg.get("clip_grad", 5.0)))
        opt.step()
        step += 1
        for k, v in parts.items():
            acc.setdefault(k, []).append(float(v.detach()))
        if step % int(cfg.get("log_every", 10)) == 0 or step == total:
            line = {
                "step": step,
                "lr": opt.param_groups[0]["lr"],
                "wall_s": round(time.time() - t_start, 1),
                **{k: round(float(np.mean(v)), 5) for k, v in acc.items()},
            }
            acc = {}
            if val is not None and (step % int(cfg["val_every"]) == 0 or step == total):
                line.update({k: round(v, 4) for k, v in validate(net, val).items()})
            log.write(json.dumps(line) + "\n")
            log.flush()
            print(json.dumps(line), flush=True)
        if time.time() - last_save > float(cfg.get("checkpoint_every_s", 180)):
            save()
            last_save = time.time()
    save(final=True)
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
