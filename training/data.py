"""Shards of training frames, generated from seeds and cached on disk.

A shard is ``clips`` clips, each drawn from the configured mix of generators and sample rates, analysed in each
configured feature mode (:mod:`training.features`); it holds the VQT in dB (frames, n_bins) float32, the frame labels
(f0 Hz / 0 / -1) and the mode of each frame. Shard ``i`` of a run is a pure function of ``(seed, i)`` and the data
configuration, so a resumed run regenerates (or reloads) exactly the same frames.

Seed spaces (documented in training/README.md): training shards use ``SeedSequence([TRAIN_TAG, seed, i])``, the
in-training validation ``[VAL_TAG, seed, i]``, and the held-out benchmark (benchmarks/model_accuracy.py) its own
tag ``EVAL_TAG``: distinct entropy, hence independent streams.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from . import features, synth

TRAIN_TAG, VAL_TAG, EVAL_TAG = 0x7121, 0x7A11, 0xE7A1
MODES = {"offline": 0, "stream": 1}


# weighted variants of the tone generator for the conditions a model is weakest at (a configuration's ``mix`` may
# name them): noise at 0-10 dB SNR on every clip; the top of the register (600-2000 Hz)
TONE_VARIANTS = {
    "tones_noisy": dict(noise_p=1.0, snr_range=(0.0, 10.0)),
    "tones_high": dict(f0_range=(600.0, synth.F0_MAX)),
}


def generators() -> dict:
    """Clip generators available on this machine: name -> fn(rng, sr) -> (audio, f0)."""
    gens = {"tones": synth.tone_clip, "unvoiced": synth.unvoiced_clip}
    for name, kw in TONE_VARIANTS.items():
        gens[name] = functools.partial(synth.tone_clip, **kw)
    try:
        from . import instruments

        if instruments.available():
            gens["instruments"] = instruments.instrument_clip
    except ImportError:
        pass
    try:
        from . import voice

        if voice.available():
            gens["voice"] = voice.voice_clip
    except ImportError:
        pass
    return gens


def make_clip(rng: np.random.Generator, data_cfg: dict, gens: dict) -> tuple:
    mix = {k: float(v) for k, v in data_cfg["mix"].items() if k in gens and float(v) > 0}
    names = sorted(mix)
    p = np.array([mix[k] for k in names])
    kind = names[int(rng.choice(len(names), p=p / p.sum()))]
    rates = data_cfg["sample_rates"]
    sr = int(rng.choice([int(r) for r in rates], p=np.array(list(rates.values()), float) / sum(rates.values())))
    audio, f0 = gens[kind](rng, sr)
    return kind, sr, audio, f0


def make_shard(tag: int, seed: int, index: int, data_cfg: dict, gens: dict | None = None) -> dict:
    gens = gens or generators()
    rng = np.random.default_rng(np.random.SeedSequence([tag, seed, index]))
    dbs, labels, modes, kinds = [], [], [], []
    for _ in range(int(data_cfg["clips_per_shard"])):
        kind, sr, audio, f0 = make_clip(rng, data_cfg, gens)
        for mode in data_cfg["modes"]:
            db, centres = features.vqt_db(audio, sr, mode, mirror=float(data_cfg.get("mirror", 1.0)))
            lab = features.frame_labels(f0, centres)
            keep = np.arange(len(lab)) % int(data_cfg.get("frame_stride", 1)) == rng.integers(
                int(data_cfg.get("frame_stride", 1))
            )
            dbs.append(db[keep])
            labels.append(lab[keep])
            modes.append(np.full(int(keep.sum()), MODES[mode], np.int8))
            kinds.append(np.full(int(keep.sum()), sorted(gens).index(kind), np.int8))
    return {
        "db": np.concatenate(dbs),
        "f0": np.concatenate(labels),
        "mode": np.concatenate(modes),
        "kind": np.concatenate(kinds),
    }


def data_key(data_cfg: dict, gens: dict) -> str:
    blob = json.dumps({"cfg": data_cfg, "gens": sorted(gens)}, sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


def load_or_make(cache_dir: Path, tag: int, seed: int, index: int, data_cfg: dict, gens: dict) -> dict:
    path = cache_dir / f"{tag:x}-{seed}-{index:06d}.npz"
    if path.is_file():
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except Exception:  # a truncated file from an interrupted run: make it again
            pass
    shard = make_shard(tag, seed, index, data_cfg, gens)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **shard)
    tmp.replace(path)
    return shard
