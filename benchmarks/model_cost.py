"""Per-frame cost of each bundled model, side by side in one run: the offline engine and the streaming engine.

Run:  python3 benchmarks/model_cost.py [--models mir-1k_g7 tracker-1 ...] [--reps 7] [--threads 1]

Offline: ``predict(x, sr)`` on 20 s of a test signal at 48 kHz (milliseconds per second of audio). Streaming:
``PitchStream(48000, mirror=1, refine=True)`` fed hop-sized blocks back to back (median milliseconds per hop over
1000 hops). Models are interleaved in every repetition (machines are shared and noisy), medians of the repetitions;
the ratio to the first model is printed, so a model of the same architecture should read 1.00 within noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from side_by_side import test_signal  # noqa: E402

from pesto_core.bundled import bundled_models  # noqa: E402
from pesto_core.core import predict  # noqa: E402
from pesto_core.native import native_status  # noqa: E402
from pesto_core.stream import PitchStream  # noqa: E402

SR = 48000


def offline_ms_per_s(name: str, x: np.ndarray) -> float:
    t = time.perf_counter()
    predict(torch.from_numpy(x), SR, model_name=name)
    return (time.perf_counter() - t) * 1000 / (len(x) / SR)


def stream_ms_per_hop(name: str, x: np.ndarray, hops: int) -> float:
    s = PitchStream(SR, model_name=name, mirror=1.0, refine=True)
    hop = s.hop_length
    for i in range(100):  # warm-up
        s.push(x[i * hop : (i + 1) * hop])
    times = []
    for i in range(100, 100 + hops):
        t = time.perf_counter()
        s.push(x[i * hop : (i + 1) * hop])
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=None, help="default: every bundled model")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    models = args.models or bundled_models()
    x = test_signal(SR, 20.0)
    print(
        f"# model_cost: 48 kHz, 10 ms step, {args.reps} interleaved repetitions, medians; torch threads "
        f"{args.threads}; streaming engine: {native_status()}"
    )
    offline = {m: [] for m in models}
    stream = {m: [] for m in models}
    for rep in range(args.reps):
        order = models if rep % 2 == 0 else models[::-1]
        for m in order:
            offline[m].append(offline_ms_per_s(m, x))
            stream[m].append(stream_ms_per_hop(m, x, 1000))
    base = models[0]
    print("| model | offline (ms per s of audio) | ratio | streaming (ms per hop) | ratio |")
    print("|---|---|---|---|---|")
    for m in models:
        o, s = np.median(offline[m]), np.median(stream[m])
        print(f"| {m} | {o:.1f} | {o / np.median(offline[base]):.2f} | {s:.3f} | {s / np.median(stream[base]):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
