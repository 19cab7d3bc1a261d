"""Would a voicing decision over time lift OA offline? Measured on the development set, not built.

Run:  python3 benchmarks/voicing_time_dev.py [--model tracker-1] [--scale 0.5]

``tracker-1`` offline with refinement and the Viterbi decoding (``predict(..., viterbi=True)``), voiced where

* ``frame``: its own confidence >= 0.5 (what the engine does: the issue's OA@0.5);
* ``median K``: the median confidence over frames t-K .. t+K >= 0.5 (pesto_core.voicing.window_median);
* ``median K + peak G``: and the median peak mass over the same frames >= G (the live preset's rule, offline);
* ``hmm S``: the posterior of a two-state (voiced / unvoiced) hidden Markov model >= 0.5, staying in its state with
  probability S per frame, each frame's confidence read as the posterior of a frame alone under an even prior
  (forward-backward, exact).

Scores: OA, voicing recall (VR), false alarm (VFA) and RPA over all clips (benchmarks/model_accuracy.py's frame
selection and metrics), VFA on the all-unvoiced clips, OA per subset. Development set: model_accuracy's generators,
set version ``DEV_VERSION`` (99), never the held-out one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks import model_accuracy as ma  # noqa: E402
from pesto_core.checkpoint import load_checkpoint  # noqa: E402
from pesto_core.core import predict  # noqa: E402
from pesto_core.model import PestoModel  # noqa: E402
from pesto_core.voicing import peak_mass, window_median  # noqa: E402


def hmm_posterior(conf: np.ndarray, stay: float, eps: float = 1e-4) -> np.ndarray:
    """P(voiced | all frames) for each frame; conf: float (frames,) in [0, 1], read as P(voiced | frame) under an
    even prior; stay: probability of keeping the state from one frame to the next. Returns float64 (frames,)."""
    p = np.clip(np.asarray(conf, np.float64), eps, 1.0 - eps)
    n, sw = len(p), 1.0 - stay
    fwd = np.empty(n)
    a_v, a_u = 0.5, 0.5
    for t in range(n):
        if t:
            a_v, a_u = a_v * stay + a_u * sw, a_u * stay + a_v * sw
        a_v, a_u = a_v * p[t], a_u * (1.0 - p[t])
        s = a_v + a_u
        a_v, a_u = a_v / s, a_u / s
        fwd[t] = a_v
    post = np.empty(n)
    b_v = b_u = 1.0
    for t in range(n - 1, -1, -1):
        post[t] = fwd[t] * b_v / (fwd[t] * b_v + (1.0 - fwd[t]) * b_u)
        e_v, e_u = b_v * p[t], b_u * (1.0 - p[t])
        b_v, b_u = stay * e_v + sw * e_u, sw * e_v + stay * e_u
        s = b_v + b_u
        b_v, b_u = b_v / s, b_u / s
    return post


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tracker-1")
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = PestoModel(load_checkpoint(args.model))
    cache = ROOT / ".cache" / "heldout" / f"dev{ma.DEV_VERSION}"
    clips = []
    for subset, _i, sr, x, f0 in ma.held_out(args.scale, cache, version=ma.DEV_VERSION):
        t, pitch, conf, act = predict(x, sr, model=model, refine=True, convert_to_freq=False, viterbi=True)
        clips.append((subset, sr, f0, t.numpy() / 1000.0, pitch.numpy(), conf.numpy(), peak_mass(act.numpy())))
    print(
        f"# voicing_time_dev: {args.model} + refine + viterbi, {len(clips)} development clips "
        f"(set version {ma.DEV_VERSION}, scale {args.scale})"
    )

    def line(label, voiced_of) -> str:
        r = ma.summarise_semitones((c[0], c[1], c[2], c[3], c[4], voiced_of(c[5], c[6])) for c in clips)
        a = r["all"]
        subsets = " ".join(f"{n} {r['subsets'][n]['OA']:.1f}" for n in r["subsets"] if n != "unvoiced")
        return (
            f"{label:<20} OA {a['OA']:.1f} VR {a['VR']:.1f} VFA {a['VFA']:.1f} RPA {a['RPA']:.1f} | "
            f"unvoiced clips VFA {r['subsets']['unvoiced']['VFA']:.1f} | OA {subsets}"
        )

    print(line("frame", lambda c, pm: c >= 0.5), flush=True)
    for k in (1, 2, 3, 5, 8):
        print(line(f"median {k}", lambda c, pm, k=k: window_median(c, k) >= 0.5), flush=True)
    for k in (2, 5):
        for g in (0.3, 0.5):
            rule = lambda c, pm, k=k, g=g: (window_median(c, k) >= 0.5) & (window_median(pm, k) >= g)  # noqa: E731
            print(line(f"median {k} + peak {g:g}", rule), flush=True)
    for stay in (0.9, 0.97, 0.99, 0.995, 0.999):
        print(line(f"hmm {stay:g}", lambda c, pm, s=stay: hmm_posterior(c, s) >= 0.5), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
