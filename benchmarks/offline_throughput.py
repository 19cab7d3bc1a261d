"""Offline throughput, ours vs upstream PESTO, side by side in one run.

Run:  python3 benchmarks/offline_throughput.py [--seconds 60] [--rates 16000 44100 48000] [--reps 5]
                                                [--threads N] [--no-upstream] [--markdown]

For each sample rate, the same synthetic signal (``side_by_side.test_signal``, already in memory: reading is done)
goes through the whole pipeline of each engine, with the upstream-style API: ``pesto_core.predict(x, sr,
step_size=10.)`` (ours) and ``pesto.predict(x, sr, step_size=10.)`` (upstream, in its own process, driven by
``upstream_worker.py``); both load the model inside the call. Repetitions alternate the two engines (the machine may
be shared: interleaving spreads the noise over both); the figures are medians over the repetitions, of the
wall-clock time and of the process CPU time (all threads; on a busy machine the wall-clock time also counts the time
the process waits for a CPU). Each engine gets
one untimed warm-up call per sample rate. The activations of both are compared once (max absolute difference).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from side_by_side import add_common_args, median, print_table, start_run, test_signal  # noqa: E402

from pesto_core import predict  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rates", type=int, nargs="+", default=[16000, 44100, 48000])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--step-ms", type=float, default=10.0)
    add_common_args(parser)
    args = parser.parse_args()
    up = start_run(args)
    print(f"# {args.seconds:g} s of audio per call, step {args.step_ms:g} ms, {args.reps} interleaved repetitions, "
          f"medians", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for sr in args.rates:
            x = test_signal(sr, args.seconds)
            npy, warm_npy, acts_npy = (str(Path(tmp) / f"{n}.npy") for n in ("x", "warm", "acts"))
            np.save(npy, x)
            np.save(warm_npy, x[: 2 * sr])
            xt = torch.from_numpy(x)
            # warm-up (one-time costs: FFT plans, allocator), and the accuracy cross-check
            predict(xt[: 2 * sr], sr, step_size=args.step_ms)
            ours_s, up_s, ours_cpu, up_cpu = [], [], [], []
            if up is not None:
                up.call("offline", npy=warm_npy, sr=sr, step_ms=args.step_ms, save=None)
            for rep in range(args.reps):
                order = ("ours", "up") if rep % 2 == 0 else ("up", "ours")
                for who in order:
                    if who == "ours":
                        t, c = time.perf_counter(), time.process_time()
                        _, _, _, acts = predict(xt, sr, step_size=args.step_ms)
                        ours_s.append(time.perf_counter() - t)
                        ours_cpu.append(time.process_time() - c)
                    elif up is not None:
                        reply = up.call("offline", npy=npy, sr=sr, step_ms=args.step_ms,
                                        save=acts_npy if rep == 0 else None)
                        up_s.append(reply["seconds"])
                        up_cpu.append(reply["cpu_seconds"])
                print(f"#   {sr} Hz rep {rep + 1}: ours {ours_s[-1]:.2f} s (CPU {ours_cpu[-1]:.2f} s)"
                      + (f", upstream {up_s[-1]:.2f} s (CPU {up_cpu[-1]:.2f} s)" if up_s else ""), flush=True)
            o, oc = median(ours_s), median(ours_cpu)
            row = [str(sr), f"{o:.2f}", f"{args.seconds / o:.1f}x", f"{oc:.2f}"]
            if up_s:
                u, uc = median(up_s), median(up_cpu)
                diff = float(np.abs(np.load(acts_npy) - acts.numpy()).max())
                row += [f"{u:.2f}", f"{args.seconds / u:.1f}x", f"{uc:.2f}", f"{u / o:.2f}x",
                        f"{median(np.array(up_s) / np.array(ours_s)):.2f}x", f"{uc / oc:.2f}x", f"{diff:.1e}"]
            rows.append(row)
    header = ["sr (Hz)", "ours (s)", "ours realtime", "ours CPU (s)"]
    if up is not None:
        header += ["upstream (s)", "upstream realtime", "upstream CPU (s)", "speed-up (wall medians)",
                   "speed-up (median of pairs)", "speed-up (CPU medians)", "max |d act|"]
        up.close()
    print_table(header, rows, args.markdown)


if __name__ == "__main__":
    main()
