"""The live preset's false spikes, one by one, on development seeds of benchmarks/live_accuracy.py's set: how the
kinds of spike in BENCHMARKS.md ("Live mode", "What the spikes are") were found. Never on the reported seed 8000.

Run:  python3 benchmarks/live_spikes.py --seeds 7000 9100 9200 9300 [--model tracker-1-live] [--quiet]

The preset's frames (``live_stream``'s engine at its mirror, glitch filter and voicing decision, i.e. what
live_accuracy.py's ``--variants`` scores with the defaults) for each phrase; a spike is a run of 1-3 voiced frames
more than a semitone off the reference with correct frames on both sides (live_accuracy.py's definition). For each
spike: the frames from 4 before to 4 after (reference, the network's raw pitch, the filter's output, confidence,
the voicing decision, whether the frame is scored, and the share of the frame's peak that its distribution keeps
within a semitone of the reference: ``sup``). Then per seed: spikes per voiced minute over the set and per sample
rate, RPA, and the late frames per note change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import live_accuracy as la  # noqa: E402
import torch  # noqa: E402

from pesto_core.glitch import remove_glitches  # noqa: E402
from pesto_core.presets import live_model_name  # noqa: E402
from pesto_core.stream import LIVE_DEFAULTS  # noqa: E402
from pesto_core.units import hz_to_semitones  # noqa: E402
from pesto_core.voicing import voiced_track  # noqa: E402

REPORTED_SEED = 8000


def preset_rows(model: str, seed: int, phrases: int):
    """[(condition, sr, ref_hz, raw pitch, filtered pitch, confidence, activations, voiced, keep)] of the preset."""
    lag, gate, peak_gate = LIVE_DEFAULTS["smooth_lag"], LIVE_DEFAULTS["gate"], LIVE_DEFAULTS["peak_gate"]
    out = []
    for cond, sr, x, f0 in la.make_set(phrases, seed):
        centres, raw, _, _, conf, act = la.streaming(model, x, sr, LIVE_DEFAULTS["mirror"], False, acts=True)
        ref, keep = la.reference(f0, centres, sr)
        pitch = remove_glitches(raw, conf, act, gate=gate, peak_gate=peak_gate, lag=lag)
        voiced = voiced_track(conf, act, gate=gate, peak_gate=peak_gate, lag=lag)
        out.append((cond, sr, ref, raw, pitch, conf, act, voiced, keep))
    return out


def support(activations: np.ndarray, semitones: float) -> float:
    """Share of the frame's peak that its distribution keeps within a semitone of ``semitones``."""
    bps = activations.shape[-1] // 128
    c = int(round(semitones * bps))
    lo, hi = max(0, c - bps), min(len(activations), c + bps + 1)
    return float(activations[lo:hi].max() / max(float(activations.max()), 1e-12)) if hi > lo else 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--phrases", type=int, default=4, help="phrases per condition and sample rate")
    ap.add_argument("--model", default=live_model_name())
    ap.add_argument("--quiet", action="store_true", help="the summary only, not each spike's frames")
    args = ap.parse_args(argv)
    if REPORTED_SEED in args.seeds:
        ap.error(f"seed {REPORTED_SEED} is the reported set: look at spikes on development seeds")
    torch.set_num_threads(1)
    summary = []
    for seed in args.seeds:
        rows = preset_rows(args.model, seed, args.phrases)
        print(f"# live_spikes: seed {seed}, {len(rows)} phrases, {args.model}, mirror {LIVE_DEFAULTS['mirror']:g}")
        for i, (cond, sr, ref, raw, pitch, conf, act, voiced, keep) in enumerate(rows):
            runs = la.row_spikes(ref, pitch, voiced, keep)
            if args.quiet:
                continue
            rs = np.where(ref > 0, hz_to_semitones(np.where(ref > 0, ref, 1.0)), np.nan)
            for a, b in runs:
                print(f"phrase {i} ({cond}, {sr} Hz): frames {a}-{b}")
                for k in range(max(0, a - 4), min(len(pitch), b + 5)):
                    sup = f"  sup {support(act[k], rs[k]):.2f}" if np.isfinite(rs[k]) else ""
                    print(
                        f"  {k:5d} ref {rs[k]:6.2f}  raw {raw[k]:6.2f}  out {pitch[k]:6.2f}  conf {conf[k]:.2f}  "
                        f"voiced {int(voiced[k])}  scored {int(keep[k])}{sup}"
                    )
        scored = [(ref, pitch, voiced, keep) for _, _, ref, _, pitch, _, _, voiced, keep in rows]
        s = la.score(scored)
        n = sum(len(la.row_spikes(*r)) for r in scored)
        per_sr = {sr: la.score([r for r, row in zip(scored, rows) if row[1] == sr])["spikes"] for sr in la.SAMPLE_RATES}
        summary.append((seed, n, s, per_sr, la.late_frames(scored)))
    rates = " | ".join(f"{sr / 1000:g} kHz" for sr in la.SAMPLE_RATES)
    print(f"\n| seed | spikes | per voiced minute | {rates} | RPA | late |")
    print("|---|---|---|" + "---|" * len(la.SAMPLE_RATES) + "---|---|")
    for seed, n, s, per_sr, late in summary:
        cells = " | ".join(f"{per_sr[sr]:.2f}" for sr in la.SAMPLE_RATES)
        print(f"| {seed} | {n} | {s['spikes']:.2f} | {cells} | {s['rpa']:.2f} | {late:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
