"""Shared parts of the benchmarks: the upstream worker process, machine description, statistics, test signals."""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "upstream_worker.py"


def upstream_python() -> Optional[Path]:
    """The upstream reference interpreter: $PESTO_UPSTREAM_PYTHON, else ../shared/reference/upstream-python."""
    env = os.environ.get("PESTO_UPSTREAM_PYTHON")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "reference" / "upstream-python")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


class Upstream:
    """A persistent upstream PESTO process (see upstream_worker.py), driven by JSON lines."""

    def __init__(self, python: Path, threads: Optional[int] = None):
        self.proc = subprocess.Popen([str(python), str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        if threads is not None:
            self.call("threads", n=threads)
        self.info = self.call("info")

    def call(self, cmd: str, **kw) -> dict:
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"upstream worker died during '{cmd}' (exit status {self.proc.poll()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def close(self) -> None:
        try:
            self.call("quit")
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        self.proc.wait(timeout=30)


def start_upstream(enabled: bool, threads: Optional[int]) -> Optional[Upstream]:
    if not enabled:
        return None
    python = upstream_python()
    if python is None:
        print("# upstream reference interpreter not found: our figures only", flush=True)
        return None
    return Upstream(python, threads)


def start_run(args) -> Optional[Upstream]:
    """Common start of a side-by-side benchmark: torch's thread count from ``--threads``, the upstream process
    (unless ``--no-upstream``), and the machine description printed as comment lines."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    up = start_upstream(not args.no_upstream, args.threads)
    print("\n".join("# " + line for line in machine_lines(torch.get_num_threads(), up)))
    return up


def machine_lines(threads: int, upstream: Optional[Upstream]) -> list:
    import torch

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    lines = [f"date (UTC): {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
             f"machine: {platform.machine()} {cpu}, {os.cpu_count()} logical CPUs; {platform.system()} "
             f"{platform.release()}; Python {platform.python_version()}",
             f"torch (ours): {torch.__version__}, intra-op threads: {threads}",
             f"load average at start (1/5/15 min): {' '.join(f'{v:.2f}' for v in load)}"]
    if upstream is not None:
        lines.append(f"upstream: pesto-pitch {upstream.info['pesto']}, torch {upstream.info['torch']}, "
                     f"intra-op threads: {upstream.info['threads']}")
    else:
        lines.append("upstream: not measured")
    return lines


def test_signal(sr: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A voice-like test signal: a harmonic tone gliding over two octaves with vibrato, note changes and noise."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    # a new note every 0.5 s (random walk in semitones within MIDI 45..81), 5.5 Hz vibrato of +-30 cents
    notes = np.clip(63 + np.cumsum(rng.integers(-4, 5, size=int(seconds * 2) + 1)), 45, 81)
    midi = notes[(t * 2).astype(int)] + 0.3 * np.sin(2 * np.pi * 5.5 * t)
    phase = 2 * np.pi * np.cumsum(440.0 * 2 ** ((midi - 69) / 12)) / sr
    x = sum(0.5 / k * np.sin(k * phase) for k in range(1, 9))
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t) ** 2) + 0.01 * rng.standard_normal(n)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def median(values) -> float:
    return float(np.median(np.asarray(values, dtype=np.float64)))


def add_common_args(parser, threads_help: str = "intra-op threads for both engines (default: torch's default)"):
    parser.add_argument("--threads", type=int, default=None, help=threads_help)
    parser.add_argument("--no-upstream", action="store_true", help="measure our engine only")
    parser.add_argument("--markdown", action="store_true", help="print the result table as Markdown")


def print_table(header, rows, markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    sys.stdout.flush()
