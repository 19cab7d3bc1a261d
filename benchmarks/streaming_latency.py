"""Streaming compute time per hop, ours (PitchStream) vs upstream PESTO's streaming module, side by side in one run.

Run:  python3 benchmarks/streaming_latency.py [--configs 48000:480 48000:128] [--hops 2000] [--warmup 200]
                                               [--segments 10] [--threads N] [--no-upstream] [--markdown]
                                               [--refine] [--torch-engine] [--realtime]

Batch 1, one hop per call, mirror = 1 (lowest latency) on both sides:

* ours: ``PitchStream(sr, hop_length=hop, mirror=1.0).push(block)`` with ``block`` a float32 numpy array of ``hop``
  samples; the time is the whole call (VQT, network, decoding, numpy results). With ``--refine`` a second stream
  with ``refine=True`` (cent-precise pitch, issue 5) is timed in the same alternation ("ours+refine" rows). The
  header says whether the native frame engine (pesto_core/native.py) or the torch engine ran; ``--torch-engine``
  forces the latter (``native=False``). With ``--realtime`` every engine is called once per hop duration (sleeping
  in between, as when audio arrives live) instead of back to back: the caches then go cold between calls, as in an
  application;
* upstream: ``pesto.load_model("mir-1k_g7", hop_ms, sampling_rate=sr, streaming=True, mirror=1.0)`` called with
  ``(1, hop)`` tensors under ``torch.inference_mode`` (in its own process, ``upstream_worker.py``).

Both stream the same synthetic signal. After ``--warmup`` untimed hops each, the ``--hops`` timed hops are split into
``--segments`` segments that alternate between the engines (each keeps its own stream state), so that the noise of a
shared machine falls on both. Reported for the wall-clock time of each call and for the CPU time the process spent in
it (all threads; a busy machine makes the wall-clock time also count waits for a CPU): median, 99th percentile and
maximum over the hops, and the ratio of the medians.
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


from side_by_side import add_common_args, print_table, start_run, test_signal  # noqa: E402

from pesto_core.native import native_status  # noqa: E402
from pesto_core.stream import PitchStream  # noqa: E402


def stats_ms(ns) -> tuple:
    a = np.asarray(ns, dtype=np.float64) / 1e6
    return float(np.median(a)), float(np.percentile(a, 99)), float(a.max()), float(a.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["48000:480", "48000:128"], help="SR:HOP pairs")
    parser.add_argument("--hops", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument("--refine", action="store_true", help="also time PitchStream(refine=True)")
    parser.add_argument("--torch-engine", action="store_true", help="PitchStream(native=False)")
    parser.add_argument("--realtime", action="store_true", help="one call per hop duration instead of back to back")
    add_common_args(parser)
    args = parser.parse_args()
    up = start_run(args)
    print(f"# ours: {'torch engine (native=False)' if args.torch_engine else native_status()}")
    print(f"# batch 1, mirror 1, {args.warmup} warm-up hops then {args.hops} timed hops in {args.segments} "
          f"alternating segments" + (", paced in real time (one call per hop duration)" if args.realtime else
                                     ", back to back"), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cfg in args.configs:
            sr, hop = (int(v) for v in cfg.split(":"))
            n_hops = args.warmup + args.hops
            x = test_signal(sr, (n_hops + 1) * hop / sr + 0.01)
            npy = str(Path(tmp) / "x.npy")
            np.save(npy, x)
            variants = [("ours", False)] + ([("ours+refine", True)] if args.refine else [])
            streams = {name: PitchStream(sr, hop_length=hop, mirror=1.0, refine=refine, native=not args.torch_engine)
                       for name, refine in variants}
            pos = {name: 0 for name, _ in variants}

            pace = hop / sr if args.realtime else 0.0

            def run_ours(name, n):
                ns, cpu_ns = [], []
                stream = streams[name]
                due = time.perf_counter()
                for _ in range(n):
                    if pace:
                        due += pace
                        time.sleep(max(0.0, due - time.perf_counter()))
                    block = x[pos[name]:pos[name] + hop]
                    t, c = time.perf_counter_ns(), time.process_time_ns()
                    frames = stream.push(block)
                    ns.append(time.perf_counter_ns() - t)
                    cpu_ns.append(time.process_time_ns() - c)
                    assert len(frames) == 1
                    pos[name] += hop
                return ns, cpu_ns

            ours = {name: ([], []) for name, _ in variants}
            theirs, theirs_cpu = [], []
            for name, _ in variants:
                run_ours(name, args.warmup)
            if up is not None:
                up.call("stream_open", sr=sr, hop=hop, npy=npy)
                up.call("stream_run", hops=args.warmup)
            per_seg = -(-args.hops // args.segments)
            done = 0
            while done < args.hops:
                n = min(per_seg, args.hops - done)
                for name, _ in variants:
                    o_ns, o_cpu = run_ours(name, n)
                    ours[name][0].extend(o_ns)
                    ours[name][1].extend(o_cpu)
                if up is not None:
                    reply = up.call("stream_run", hops=n, pace_s=pace)
                    theirs += reply["ns"]
                    theirs_cpu += reply["cpu_ns"]
                done += n
            hop_ms = hop * 1000 / sr
            for name, _ in variants:
                for kind, a, b in (("wall", ours[name][0], theirs), ("CPU", ours[name][1], theirs_cpu)):
                    o = stats_ms(a)
                    row = [f"{sr}/{hop}", name, kind, f"{hop_ms:.2f}", f"{o[0]:.3f}", f"{o[1]:.3f}", f"{o[2]:.2f}"]
                    if b:
                        u = stats_ms(b)
                        row += [f"{u[0]:.2f}", f"{u[1]:.2f}", f"{u[2]:.1f}", f"{u[0] / o[0]:.1f}x"]
                    rows.append(row)
                    print(f"#   {cfg} {name} {kind}: median {o[0]:.3f} ms p99 {o[1]:.3f} ms"
                          + (f"; upstream median {u[0]:.2f} ms p99 {u[1]:.2f} ms" if b else ""), flush=True)
    header = ["sr/hop", "engine", "time", "hop (ms)", "median (ms)", "p99 (ms)", "max (ms)"]
    if up is not None:
        header += ["upstream median (ms)", "upstream p99 (ms)", "upstream max (ms)", "speed-up (medians)"]
        up.close()
    print_table(header, rows, args.markdown)


if __name__ == "__main__":
    main()
