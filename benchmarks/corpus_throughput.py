"""Corpus throughput: audio hours analysed per hour of wall time, for the batch loop and the corpus runner's modes.

Run:  nice python3 benchmarks/corpus_throughput.py [--short 80] [--short-s 3] [--long 3] [--long-s 60] [--reps 3]
                                                   [--no-ray] [--markdown]

A seeded corpus (``--short`` files of ``--short-s`` seconds and ``--long`` files of ``--long-s`` seconds, 16 kHz
mono WAV, a tone with vibrato and noise, in a few sub-folders) is generated in a temporary folder, then analysed to
CSV by each mode, each a fresh process timed from start to exit (what a user waits for: interpreter, torch and
model start-up included, and Ray's start and stop for ``--ray``):

* ``predict_from_files``: the Python API's batch loop (one process, one file after another, torch's default thread
  count: every core);
* ``pesto -j 1``: the corpus runner in the command's own process, one torch thread (the default ``--threads 1``);
* ``pesto -j 1 --threads 2``: the same with two threads (results may differ in the last digit: see README);
* ``pesto -j 2``: two worker processes, one thread each;
* ``pesto --ray -j 2``: a local Ray instance with 2 CPUs and two actors, started and stopped by the command.

Repetitions go round the modes in turn (a shared machine's noise is spread over all) and the table gives medians.
The CSVs of the ``--threads 1`` modes are checked to be byte-identical.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent


def make_corpus(folder: Path, n_short: int, short_s: float, n_long: int, long_s: float, seed: int = 0) -> float:
    """Write the corpus; returns its total duration in seconds."""
    rng = np.random.default_rng(seed)
    sr, total = 16000, 0.0
    specs = [(f"short/s{i % 4}/take{i:04d}.wav", short_s) for i in range(n_short)]
    specs += [(f"long/session{i:02d}.wav", long_s) for i in range(n_long)]
    for rel, seconds in specs:
        t = np.arange(int(seconds * sr)) / sr
        f0 = rng.uniform(100, 500) * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t))
        x = 0.3 * np.sin(2 * np.pi * np.cumsum(f0) / sr) + 0.01 * rng.standard_normal(t.size)
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, x.astype(np.float32), sr, subtype="PCM_16")
        total += seconds
    return total


BATCH_LOOP = """
import sys
from pathlib import Path
from pesto_core import predict_from_files
files = sorted(str(p) for p in Path(sys.argv[1]).rglob('*.wav'))
sys.exit(1 if predict_from_files(files, output=sys.argv[2]) else 0)
"""


def modes(with_ray: bool):
    pesto = [sys.executable, "-m", "pesto_core"]
    out = [
        ("predict_from_files (API loop, all-core threads)", lambda c, o: [sys.executable, "-c", BATCH_LOOP, c, o]),
        ("pesto -j 1", lambda c, o: pesto + [c, "-o", o, "-q", "-j", "1"]),
        ("pesto -j 1 --threads 2", lambda c, o: pesto + [c, "-o", o, "-q", "-j", "1", "--threads", "2"]),
        ("pesto -j 2", lambda c, o: pesto + [c, "-o", o, "-q", "-j", "2"]),
    ]
    if with_ray:
        out.append(("pesto --ray -j 2 (local Ray)", lambda c, o: pesto + [c, "-o", o, "-q", "--ray", "-j", "2"]))
    return out


def csvs(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.f0.csv")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", type=int, default=80)
    parser.add_argument("--short-s", type=float, default=3.0)
    parser.add_argument("--long", type=int, default=3)
    parser.add_argument("--long-s", type=float, default=60.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown (default too)")
    args = parser.parse_args()

    env = dict(
        os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), RAY_USAGE_STATS_ENABLED="0"
    )
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        audio_s = make_corpus(corpus, args.short, args.short_s, args.long, args.long_s)
        n_files = args.short + args.long
        print(
            f"corpus: {n_files} files ({args.short} x {args.short_s:g} s, {args.long} x {args.long_s:g} s), "
            f"{audio_s / 3600:.3f} h of audio; {os.cpu_count()} CPU(s); {args.reps} repetitions",
            file=sys.stderr,
        )
        times = {name: [] for name, _ in modes(not args.no_ray)}
        load_start = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        reference = None
        for rep in range(args.reps):
            for name, command in modes(not args.no_ray):
                out = Path(tmp) / "out"
                shutil.rmtree(out, ignore_errors=True)
                start = time.perf_counter()
                proc = subprocess.run(command(str(corpus), str(out)), env=env, capture_output=True, text=True)
                wall = time.perf_counter() - start
                if proc.returncode != 0:
                    sys.exit(f"{name} failed ({proc.returncode}):\n{proc.stderr}")
                got = csvs(out)
                if len(got) != n_files:
                    sys.exit(f"{name}: {len(got)} CSVs for {n_files} files")
                if "threads 2" not in name and "predict_from_files" not in name:
                    reference = reference or got
                    if got != reference:
                        sys.exit(f"{name}: CSVs differ from pesto -j 1's")
                times[name].append(wall)
                print(f"  rep {rep + 1}: {name}: {wall:.1f} s", file=sys.stderr)

    load_end = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    base = statistics.median(times["pesto -j 1"])
    print(
        f"\n{n_files} files, {audio_s / 3600:.3f} h of audio (16 kHz), median of {args.reps} runs; wall time "
        f"from process start to exit; load average (1, 5, 15 min) at the start {load_start}, at the end {load_end}\n"
    )
    print("| mode | wall s (median) | runs | audio h per wall h | vs `pesto -j 1` |")
    print("|---|---:|---|---:|---:|")
    for name, values in times.items():
        med = statistics.median(values)
        runs = ", ".join(f"{v:.1f}" for v in values)
        print(f"| {name} | {med:.1f} | {runs} | {audio_s / med:.0f} | {base / med:.2f}x |")
    print("\nCSV bytes identical across pesto -j 1, -j 2" + (" and --ray" if not args.no_ray else "") + ": yes")


if __name__ == "__main__":
    main()
