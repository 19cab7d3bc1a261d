"""Where a streaming hop's time goes: CPU time of each stage of ``PitchStream.push`` for one hop, hot.

Run:  python3 benchmarks/stream_breakdown.py [--sr 48000] [--hop 480] [--reps 300] [--threads 1]

Each stage is called ``--reps`` times in a row on the same input (so its weights are in cache: a lower bound of its
cost inside a real hop) and the median thread CPU time (``time.thread_time_ns``) is printed, in microseconds.
Stages of the torch engine (the fallback where no C compiler is available, and the GPU path): the streaming VQT
(``stream.py``), dB conversion, confidence head, encoder, the whole ``frames_from_vqt``, decoding, the engine's forward
(VQT + network). Then the native frame engine (``pesto_core/native.py``, the default on the CPU): one whole frame
(VQT to decoded pitch) and the refinement of one frame. Last, whole ``push`` calls (fresh audio each call) of the
default stream, of one with ``refine=True`` and of one forced onto the torch engine.
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

from pesto_core.decode import reduce_activations  # noqa: E402
from pesto_core.model import LN10_OVER_10  # noqa: E402
from pesto_core.native import native_status  # noqa: E402
from pesto_core.stream import PitchStream  # noqa: E402
from pesto_core.vqt import VQT  # noqa: E402


def cpu_us(fn, reps: int) -> float:
    ts = []
    for _ in range(reps):
        t = time.thread_time_ns()
        fn()
        ts.append(time.thread_time_ns() - t)
    return float(np.median(ts)) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sr", type=int, default=48000)
    parser.add_argument("--hop", type=int, default=480)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stream = PitchStream(args.sr, hop_length=args.hop, mirror=1.0)
    engine, model = stream.engine, stream.model
    x = test_signal(args.sr, (args.reps + 200) * args.hop / args.sr + 0.1)
    for i in range(100):
        stream.push(x[i * args.hop : (i + 1) * args.hop])
    seg = torch.from_numpy(stream._buf[:, : stream.geometry.cache + args.hop].copy())
    rows = []
    with torch.inference_mode():
        vqt = engine.vqt(seg).reshape(1, -1)
        log_power = VQT.to_db(vqt) * LN10_OVER_10
        power = log_power.exp()
        crop = log_power[:, model.crop[0] : model.crop[1]]
        acts = model.encoder(crop)
        rows += [
            ("streaming VQT (stream.py)", cpu_us(lambda: engine.vqt(seg), args.reps)),
            ("dB", cpu_us(lambda: VQT.to_db(vqt), args.reps)),
            ("confidence head", cpu_us(lambda: model.confidence(power, log_power), args.reps)),
            ("encoder", cpu_us(lambda: model.encoder(crop), args.reps)),
            ("frames_from_vqt (all of the network)", cpu_us(lambda: model.frames_from_vqt(vqt), args.reps)),
            ("decoding (alwa)", cpu_us(lambda: reduce_activations(acts, "alwa"), args.reps)),
            ("engine forward (VQT + network)", cpu_us(lambda: engine(seg), args.reps)),
        ]
    pos = [100]

    def push():
        i = pos[0]
        stream.push(x[i * args.hop : (i + 1) * args.hop])
        pos[0] += 1

    plan = PitchStream(args.sr, hop_length=args.hop, mirror=1.0, refine=True).engine.native
    if plan is not None:
        window = stream._buf[0, : stream.geometry.taps].copy()
        rows.append(("native: one frame (VQT .. pitch)", cpu_us(lambda: plan.frames(window, args.hop, 1), args.reps)))
        centre, end = np.array([stream.geometry.kernel_width // 2]), np.array([stream.geometry.taps])
        pitch = np.array([57.0], np.float32)  # A3, 220 Hz
        rows.append(
            ("native: refine one frame (A3)", cpu_us(lambda: plan.refine(window, centre, end, pitch), args.reps))
        )
    else:
        rows.append((f"native engine unavailable: {native_status()}", float("nan")))
    for name, kw in (
        ("PitchStream.push (whole hop)", {}),
        ("PitchStream.push, refine=True", {"refine": True}),
        ("PitchStream.push, torch engine", {"native": False}),
    ):
        stream = PitchStream(args.sr, hop_length=args.hop, mirror=1.0, **kw)
        for i in range(100):
            stream.push(x[i * args.hop : (i + 1) * args.hop])
        pos = [100]
        rows.append((name, cpu_us(push, args.reps)))
    print(f"# {args.sr} Hz, hop {args.hop}, {torch.get_num_threads()} thread(s), median CPU time of {args.reps} calls")
    for name, us in rows:
        print(f"{name:40s} {us:8.1f} us")


if __name__ == "__main__":
    main()
