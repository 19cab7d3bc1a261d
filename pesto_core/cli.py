"""The ``pesto`` command line (also ``python -m pesto_core``), with upstream PESTO's options.

Exit status: 0 when every file was analysed and written, 1 when at least one file failed (the others are still
processed; each failure is one line on stderr naming the file and the reason), 2 for bad options or model.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time
import warnings
from typing import List, Optional, Sequence

from .bundled import DEFAULT_MODEL
from .errors import PestoError
from .validation import REDUCTIONS
from .writers import FORMATS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pesto", description="Pitch estimation with PESTO (exact published model). Writes <name>.f0.csv "
                                  "(time in s, frequency in Hz, confidence) and optionally .npz / .png.")
    p.add_argument("audio_files", nargs="+", metavar="FILES",
                   help="audio files (WAV, FLAC, OGG, MP3...); shell globs such as 'takes/*.wav' are expanded")
    p.add_argument("-o", "--output", metavar="DIR", help="write results here instead of next to each input")
    p.add_argument("-e", "--export_format", nargs="+", default=["csv"], choices=FORMATS, metavar="FMT",
                   help="one or more of csv npz png (default: csv)")
    p.add_argument("-r", "--reduction", default="alwa", choices=REDUCTIONS,
                   help="how the pitch distribution is reduced to a pitch (default: alwa)")
    p.add_argument("-s", "--step_size", type=float, default=10., metavar="MS",
                   help="milliseconds between frames (default: 10)")
    p.add_argument("-F", "--no_convert_to_freq", action="store_true",
                   help="write pitch in MIDI semitones instead of Hz (files named <name>.semitones.*)")
    p.add_argument("-c", "--num_chunks", type=int, default=1, metavar="N",
                   help="split each file into at least N chunks (memory is bounded automatically anyway)")
    p.add_argument("--gpu", type=int, default=-1, metavar="N", help="CUDA device index; -1 = CPU (default)")
    p.add_argument("-m", "--model_name", default=DEFAULT_MODEL, metavar="NAME_OR_PATH",
                   help=f"bundled model name or checkpoint file (default: {DEFAULT_MODEL})")
    p.add_argument("--refine", action="store_true",
                   help="cent-precise pitch: refine the decoded pitch from the audio around it (at most 1/4 "
                        "semitone away; default off, which gives upstream PESTO's exact numbers)")
    p.add_argument("--smooth", action="store_true",
                   help="remove isolated pitch jumps (octave errors of 1-2 frames) with the live mode's glitch "
                        "filter; real note changes are kept (default off: upstream's exact numbers)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def expand_globs(patterns: Sequence[str]) -> List[str]:
    """Expand glob patterns the shell left alone (quoted, or on Windows); other names pass through unchanged."""
    files = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) and not os.path.exists(pattern) else []
        files.extend(matches or [pattern])
    return files


class Progress:
    """One status line on stderr per file: file k/n, the share of its frames done, its name."""

    def __init__(self, n_files: int, enabled: bool = True, stream=sys.stderr):
        self.n_files, self.enabled, self.stream = n_files, enabled, stream
        self.tty = enabled and stream.isatty()
        self.index, self.name, self.last = 0, None, 0.0

    def __call__(self, name: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if name != self.name:
            self.index, self.name = self.index + 1, name
        elif done < total and now - self.last < (0.1 if self.tty else 5.0):
            return
        self.last = now
        share = done / total if total else 1.0
        line = f"[{self.index}/{self.n_files}] [{'#' * int(share * 20):<20}] {share:4.0%} {name}"
        if self.tty:
            self.stream.write("\r" + line[:120].ljust(120) + ("\n" if done >= total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def interrupt(self) -> None:
        """Called before an error line, so that it does not land in the middle of the bar."""
        if self.tty:
            self.stream.write("\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    files = expand_globs(args.audio_files)
    progress = Progress(len(files), enabled=not args.quiet)

    def report(message: str) -> None:
        progress.interrupt()
        print(f"pesto: error: {message}", file=sys.stderr)

    from .core import predict_from_files  # torch is imported here, after the options are parsed

    if args.num_chunks < 1:
        print(f"pesto: error: --num_chunks must be at least 1, got {args.num_chunks}", file=sys.stderr)
        return 2
    def show_warning(message, category, filename, lineno, file=None, line=None):
        progress.interrupt()
        print(f"pesto: warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show_warning  # restored by catch_warnings
            failures = predict_from_files(
                files, model_name=args.model_name, output=args.output, step_size=args.step_size,
                reduction=args.reduction, export_format=args.export_format,
                no_convert_to_freq=args.no_convert_to_freq, num_chunks=args.num_chunks, gpu=args.gpu,
                report=report, progress=progress, refine=args.refine, smooth=args.smooth)
    except PestoError as e:
        print(f"pesto: error: {e}", file=sys.stderr)
        return 2
    if failures:
        print(f"pesto: {failures} of {len(files)} file(s) failed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
