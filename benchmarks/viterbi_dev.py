"""How the offline Viterbi decoding's settings were chosen (pesto_core.viterbi), on a development set, never the
held-out one: RPA, RCA, within-10-cents and OA of ``tracker-1`` offline with refinement, frame by frame (alwa) and
with the Viterbi decoding at each setting (jump / max_jump / floor / support, pesto_core.viterbi), per subset and f0
band; and the decoding's cost per frame. The support's other side, notes in noisy rests, is measured by
``benchmarks/notes_eval.py --viterbi`` on its tuning seeds.

Run:  python3 benchmarks/viterbi_dev.py [--model tracker-1] [--scale 0.5] [--grid '[[0.5, 10, 0.1], ...]']

Development set: benchmarks/model_accuracy.py's generators with set version ``DEV_VERSION`` (99) instead of the
held-out set's 1, i.e. other seeds ``SeedSequence([EVAL_TAG, 99, subset, i])``, cached in ``.cache/heldout/dev99``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks import model_accuracy as ma  # noqa: E402
from pesto_core.checkpoint import load_checkpoint  # noqa: E402
from pesto_core.core import predict  # noqa: E402
from pesto_core.model import PestoModel  # noqa: E402
from pesto_core.refine import refine_signal  # noqa: E402
from pesto_core.viterbi import pitch_on_path, viterbi_path  # noqa: E402

GRID = [  # (jump nats/semitone, max_jump nats, floor, support)
    (1.0, 6.0, 1e-3, 0.0),
    (1.0, 6.0, 1e-5, 0.0),
    (1.0, 6.0, 1e-2, 0.0),
    (1.0, 6.0, 0.03, 0.0),
    (1.0, 6.0, 0.1, 0.0),
    (0.5, 3.0, 1e-3, 0.0),
    (0.5, 6.0, 1e-3, 0.0),
    (0.5, 10.0, 1e-3, 0.0),
    (0.5, 15.0, 1e-3, 0.0),
    (1.0, 10.0, 0.03, 0.0),
    (1.0, 10.0, 0.1, 0.0),
    (0.25, 6.0, 0.1, 0.0),
    (0.25, 10.0, 0.1, 0.0),
    (0.5, 6.0, 0.1, 0.0),
    (0.5, 8.0, 0.1, 0.0),
    (0.5, 10.0, 0.05, 0.0),
    (0.5, 10.0, 0.1, 0.0),
    (2.0, 15.0, 0.1, 0.0),
    (1.0, 15.0, 0.3, 0.0),
    (1.0, 20.0, 0.3, 0.0),
    (0.5, 10.0, 0.1, 0.1),
    (0.5, 10.0, 0.1, 0.2),
    (0.5, 10.0, 0.1, 0.3),
    (0.5, 10.0, 0.1, 0.5),
    (1.0, 6.0, 1e-3, 0.3),
]


def line(label: str, res: dict) -> str:
    a = res["all"]
    subsets = " ".join(f"{n} {res['subsets'][n]['RPA']:.1f}" for n in res["subsets"] if n != "unvoiced")
    bands = " ".join(f"{n} {res['bands'][n]['RPA']:.1f}" for n in res["bands"])
    return (
        f"{label:<28} RPA {a['RPA']:.1f} RCA {a['RCA']:.1f} c10 {a['c10']:.1f} OA {a['OA']:.1f} | {subsets} | {bands}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tracker-1")
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--grid", help="JSON list of [jump, max_jump, floor, support] (default: the grid searched)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    grid = [tuple(g) for g in json.loads(args.grid)] if args.grid else GRID
    model = PestoModel(load_checkpoint(args.model))
    cache = ROOT / ".cache" / "heldout" / f"dev{ma.DEV_VERSION}"
    clips, engine_s = [], 0.0
    for subset, i, sr, x, f0 in ma.held_out(args.scale, cache, version=ma.DEV_VERSION):
        t0 = time.perf_counter()
        t, pitch, conf, act = predict(x, sr, model=model, refine=True, convert_to_freq=False)
        engine_s += time.perf_counter() - t0
        clips.append(
            (subset, sr, x, f0, t.numpy() / 1000.0, pitch.numpy(), conf.numpy(), act.numpy(), model.hop_length)
        )
    kw = model.vqt.kernel_width
    print(
        f"# viterbi_dev: {args.model}, {len(clips)} development clips "
        f"(set version {ma.DEV_VERSION}, scale {args.scale})"
    )
    n_frames = sum(len(c[7]) for c in clips)
    print(
        f"# the engine itself (predict, refine=True, {args.threads} threads): {engine_s / n_frames * 1e6:.0f} us/frame"
    )
    print("# subsets' RPA in order: " + ", ".join(dict.fromkeys(c[0] for c in clips if c[0] != "unvoiced")))

    def score(pitch_of) -> dict:
        return ma.summarise_semitones((c[0], c[1], c[3], c[4], p, c[6] >= 0.5) for c, p in zip(clips, pitch_of))

    print(line("frame by frame (alwa)", score([c[5] for c in clips])))
    for jump, max_jump, floor, support in grid:
        pitches, spent, frames = [], 0.0, 0
        for subset, sr, x, f0, t, _p, conf, act, hop in clips:
            t0 = time.perf_counter()
            path = viterbi_path(act, jump=jump, max_jump=max_jump, floor=floor)
            p = pitch_on_path(act, path, support)
            spent += time.perf_counter() - t0
            frames += len(act)
            pitches.append(refine_signal(x, p, sr=sr, hop_length=hop, kernel_width=kw))
        label = f"viterbi {jump:g} / {max_jump:g} / {floor:g} / {support:g}"
        print(line(label, score(pitches)) + f" | {spent / frames * 1e6:.0f} us/frame", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
