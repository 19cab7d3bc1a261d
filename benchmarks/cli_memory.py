"""Peak memory of the ``pesto`` command line on a 1-hour 48 kHz file, and chunking invariance of its CSV.

Run:  python3 benchmarks/cli_memory.py [--wav /tmp/pesto_bench_1h_48k.wav] [--hours 1] [--npz]
                                       [--upstream-minutes 5] [--threads N] [--no-upstream] [--markdown]

1. Writes the test file once (16-bit PCM WAV, 48 kHz mono, the benchmark signal in 60 s pieces) unless it exists.
2. Runs ``python -m pesto_core FILE -o DIR -q`` (CSV) in a child process and reads the child's peak resident set
   size from ``wait4`` (``ru_maxrss``); the same with ``-c 10`` (10x more chunks) and ``-c 997`` (chunks of a size
   unrelated to the engine's internal tiles; ``--chunks`` sets the list), comparing the CSVs byte for byte; with
   ``--npz`` also the CSV + NPZ
   export (activations kept in memory: 360001 x 384 float32 = 553 MB for one hour, by design of the format).
3. Side by side: upstream PESTO's own CLI cannot read files in the reference environment (its torchaudio is
   stubbed), so upstream is measured with ``pesto.predict`` on the file's first ``--upstream-minutes`` minutes read
   with soundfile (``num_chunks`` = one per 10 s), and our CLI on the same excerpt, each in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from side_by_side import ROOT, add_common_args, machine_lines, print_table, start_upstream, test_signal  # noqa: E402


def write_test_file(path: Path, sr: int, seconds: float) -> None:
    tmp = path.with_name(path.name + ".part")
    with sf.SoundFile(str(tmp), "w", samplerate=sr, channels=1, subtype="PCM_16", format="WAV") as f:
        done, piece = 0, 0
        while done < seconds:
            n = min(60.0, seconds - done)
            f.write(test_signal(sr, n, seed=piece))
            done += n
            piece += 1
    os.replace(tmp, path)


def duration(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


def run_cli(args, env) -> tuple:
    """Run our CLI in a child process; return (wall seconds, peak RSS in MB)."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pesto_core", *args], cwd=str(ROOT), env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"pesto {' '.join(args)} failed with status {proc.returncode}")
    return time.perf_counter() - t, usage.ru_maxrss / 1024  # Linux: kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wav", type=Path, default=Path(tempfile.gettempdir()) / "pesto_bench_1h_48k.wav")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--sr", type=int, default=48000)
    parser.add_argument("--npz", action="store_true", help="also measure the CSV + NPZ export")
    parser.add_argument(
        "--chunks",
        type=int,
        nargs="*",
        default=[10, 997],
        help="-c values whose CSV must equal the default run's (default: 10 997)",
    )
    parser.add_argument("--upstream-minutes", type=float, default=5.0)
    add_common_args(parser, "OMP_NUM_THREADS for the child processes (default: torch's default)")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    up = start_upstream(not args.no_upstream, args.threads)
    print("\n".join("# " + line for line in machine_lines(args.threads or torch.get_num_threads(), up)))
    seconds = args.hours * 3600
    if not args.wav.exists() or sf.info(str(args.wav)).frames != int(round(seconds * args.sr)):
        print(f"# writing {args.wav} ({seconds:g} s, {args.sr} Hz, 16-bit)", flush=True)
        write_test_file(args.wav, args.sr, seconds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        outs = {}
        runs = [("csv", [])] + [(f"csv -c {c}", ["-c", str(c)]) for c in args.chunks]
        for label, extra in runs + ([("csv+npz", ["-e", "csv", "npz"])] if args.npz else []):
            out = Path(tmp) / label.replace(" ", "_").replace("+", "_")
            wall, rss = run_cli([str(args.wav), "-o", str(out), "-q", *extra], env)
            csv = out / (args.wav.stem + ".f0.csv")
            outs[label] = csv.read_bytes()
            same = "reference" if label == "csv" else ("identical" if outs[label] == outs["csv"] else "DIFFERENT")
            rows.append(
                [f"ours, CLI, {duration(seconds)}", label, f"{wall:.0f}", f"{seconds / wall:.1f}x", f"{rss:.0f}", same]
            )
            print(f"#   {label}: {wall:.0f} s, peak RSS {rss:.0f} MB, CSV {same}", flush=True)
        if up is not None:
            minutes = args.upstream_minutes
            excerpt = Path(tmp) / "excerpt.wav"
            x, sr = sf.read(str(args.wav), frames=int(minutes * 60 * args.sr), dtype="int16")
            sf.write(str(excerpt), x, sr, subtype="PCM_16")
            wall, rss = run_cli([str(excerpt), "-o", str(Path(tmp) / "excerpt"), "-q"], env)
            rows.append(
                [
                    f"ours, CLI, {duration(minutes * 60)}",
                    "csv",
                    f"{wall:.0f}",
                    f"{minutes * 60 / wall:.1f}x",
                    f"{rss:.0f}",
                    "",
                ]
            )
            reply = up.call("memory", wav=str(excerpt), seconds=minutes * 60, chunks=max(1, int(minutes * 6)))
            rows.append(
                [
                    f"upstream, predict, {duration(minutes * 60)}",
                    f"num_chunks={max(1, int(minutes * 6))}",
                    f"{reply['seconds']:.0f}",
                    f"{minutes * 60 / reply['seconds']:.1f}x",
                    f"{reply['peak_rss_mb']:.0f}",
                    "",
                ]
            )
            up.close()
    print_table(["run", "outputs", "wall (s)", "realtime", "peak RSS (MB)", "CSV vs default"], rows, args.markdown)


if __name__ == "__main__":
    main()
