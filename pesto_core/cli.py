"""The ``pesto`` command line (also ``python -m pesto_core``), with upstream PESTO's options.

Exit status: 0 when every file was analysed and written, 1 when at least one file failed (the others are still
processed; each failure is one line on stderr naming the file and the reason), 2 for bad options or model, or
results that would collide, 130 when interrupted. The run itself (folders, workers, Ray, summary) is
:mod:`pesto_core.corpus`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .bundled import DEFAULT_MODEL
from .validation import REDUCTIONS
from .writers import FORMATS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pesto",
        description="Pitch estimation with PESTO (exact published model). Writes <name>.f0.csv "
        "(time in s, frequency in Hz, confidence) and optionally .npz / .png.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "audio_files",
        nargs="+",
        metavar="FILES",
        help="audio files (WAV, FLAC, OGG, MP3...), folders (walked recursively for audio files) and "
        "globs ('corpus/**/*.wav', quoted: expanded here)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write results here instead of next to each input, mirroring each input's path below the "
        "folder it was found in",
    )
    p.add_argument(
        "-e",
        "--export_format",
        nargs="+",
        default=["csv"],
        choices=FORMATS,
        metavar="FMT",
        help="one or more of csv npz png notes mid (default: csv); notes: <name>.notes.csv, the "
        "segmented notes; mid: <name>.mid, a MIDI file of them",
    )
    p.add_argument(
        "-r",
        "--reduction",
        default="alwa",
        choices=REDUCTIONS,
        help="how the pitch distribution is reduced to a pitch (default: alwa)",
    )
    p.add_argument(
        "-s", "--step_size", type=float, default=10.0, metavar="MS", help="milliseconds between frames (default: 10)"
    )
    p.add_argument(
        "-F",
        "--no_convert_to_freq",
        action="store_true",
        help="write pitch in MIDI semitones instead of Hz (files named <name>.semitones.*)",
    )
    p.add_argument(
        "-c",
        "--num_chunks",
        type=int,
        default=1,
        metavar="N",
        help="split each file into at least N chunks (memory is bounded automatically anyway)",
    )
    p.add_argument(
        "--gpu",
        type=int,
        nargs="?",
        const=0,
        default=-1,
        metavar="N",
        help="CUDA device index (--gpu alone: 0); -1 = CPU (default). With --ray: one worker per GPU of the cluster",
    )
    p.add_argument(
        "-m",
        "--model_name",
        default=DEFAULT_MODEL,
        metavar="NAME_OR_PATH",
        help=f"bundled model name or checkpoint file (default: {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--refine",
        action="store_true",
        help="cent-precise pitch: refine the decoded pitch from the audio around it (at most 1/4 "
        "semitone away; default off, which gives upstream PESTO's exact numbers)",
    )
    p.add_argument(
        "--smooth",
        action="store_true",
        help="remove isolated pitch jumps (octave errors of 1-2 frames) with the live mode's glitch "
        "filter; real note changes are kept (default off: upstream's exact numbers)",
    )
    p.add_argument(
        "--viterbi",
        action="store_true",
        help="decode the pitch as the most likely path through the whole recording (Viterbi) instead of "
        "frame by frame: a frame whose own peak disagrees with its neighbours follows them when its "
        "distribution also sees their pitch; with -r alwa only (default off: upstream's exact numbers)",
    )
    p.add_argument(
        "--a4",
        type=float,
        default=440.0,
        metavar="HZ",
        help="reference of the notes' names and deviations in -e notes / mid (default: 440)",
    )
    p.add_argument(
        "--midi-bends",
        action="store_true",
        help="-e mid: pitch bends (range +-2 semitones) that follow the pitch curve within each note",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    corpus = p.add_argument_group("corpus runs (see README, 'Corpus runs')")
    corpus.add_argument(
        "-j",
        "--jobs",
        type=int,
        metavar="N",
        help="N worker processes on this machine, the model loaded once in each (default: one per "
        "core divided by --threads; 1 runs in this process); with --ray: N actors",
    )
    corpus.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="T",
        help="torch threads per worker (default 1). The same T gives the same bytes with any -j "
        "and with --ray; another T can change the last digit of a few values",
    )
    corpus.add_argument(
        "--skip-existing",
        action="store_true",
        help="keep inputs whose results all exist (resumes an interrupted run; results are "
        "written atomically, so an existing one is complete)",
    )
    corpus.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run on a Ray cluster: ADDRESS (or RAY_ADDRESS) joins it ('auto', 'host:6379'); "
        "without, a local Ray instance is started and stopped. Inputs and -o must be on a "
        "folder every node sees. Needs: pip install 'pesto-tracker[cluster]'",
    )
    corpus.add_argument(
        "--summary",
        metavar="FILE",
        help="write the run summary (one row per input) here; default: "
        "pesto-run-<UTC time>.csv in the -o folder, or in the folder given (none for plain "
        "files without -o)",
    )
    return p


EPILOG = """\
results: <name>.f0.csv (or .semitones.csv with -F) next to each input, or below -o DIR mirroring the input's path
  below the folder it was found in (corpus/a/take.wav -> DIR/a/take.f0.csv). Inputs whose results would coincide
  (take.wav and take.flac in one folder) keep their extension: take.wav.f0.csv, take.flac.f0.csv; if results would
  still coincide (two take.wav from different folders into one -o folder), the run is refused before any work.
  The same file given twice is analysed once. A run never overwrites a result it wrote itself; results of an
  earlier run are replaced as upstream pesto does, with a warning naming them (--skip-existing keeps them).
exit status: 0 all done, 1 some file failed (each named on stderr, the others done), 2 bad options or model,
  130 interrupted."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from .corpus.command import run  # plans, runs and summarises; torch is imported by the workers only

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
