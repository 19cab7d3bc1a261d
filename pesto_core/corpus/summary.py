"""The run summary: one CSV row per input, so that a failed file of a 10,000-file run can be found and redone.

Columns (:data:`COLUMNS`): ``path`` (as found), ``status`` (``ok``, ``failed`` or ``skipped``), ``reason`` (why it
failed or was skipped; empty when ok), ``output`` (the result's path without the format extension, e.g.
``OUT/a/take.f0``), ``duration_s``, ``sr`` (Hz), ``frames``, ``voiced_share`` (share of frames with confidence
>= 0.5), ``median_f0_hz`` (median over those frames), ``compute_s`` (seconds the worker spent on the file, reading
and writing included), ``worker`` (host:pid). Unknown values are empty. Rows are in input order.

Where (:func:`summary_path`): ``--summary FILE`` if given (replaced atomically); else ``pesto-run-<UTC time>.csv``
in the ``-o`` folder, or, without ``-o``, in the common folder of the folders and globs given. A run of plain files
without ``-o`` writes none (as before corpus runs existed). A timestamped summary never replaces another file: if
the name is taken (two runs in one second), ``-2``, ``-3``... is appended.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from pathlib import Path
from typing import List, Optional, Sequence

from ..errors import OutputError
from .inputs import Plan
from .worker import Result

COLUMNS = (
    "path",
    "status",
    "reason",
    "output",
    "duration_s",
    "sr",
    "frames",
    "voiced_share",
    "median_f0_hz",
    "compute_s",
    "worker",
)


def summary_path(plan: Plan, output_dir: Optional[str], explicit: Optional[str]) -> Optional[Path]:
    """Where this run's summary goes, or None for a run of plain files without ``-o`` (see the module docstring).
    A timestamped path is a base name: :func:`write_summary` adds a suffix if it is taken."""
    if explicit:
        return Path(explicit)
    if output_dir is not None:
        folder = Path(output_dir)
    elif plan.folders:
        folder = Path(os.path.commonpath([os.path.abspath(f) for f in plan.folders]))
    else:
        return None
    return folder / time.strftime("pesto-run-%Y%m%d-%H%M%S.csv", time.gmtime())


def _number(value: float, digits: int) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def rows(plan: Plan, results: Sequence[Result], interrupted: Sequence[int] = ()) -> List[List[str]]:
    """Summary rows in input order: results, skipped inputs, and tasks not done (``interrupted``). Paths are the
    plan's (as the inputs were given), whatever form a worker on another node was handed."""
    by_index = {r.index: r for r in results}
    interrupted = set(interrupted)
    blank = [""] * (len(COLUMNS) - 4)
    out = {s.index: [s.path, "skipped", s.reason, s.stem] + blank for s in plan.skipped}
    for t in plan.tasks:
        r = by_index.get(t.index)
        if r is None:
            why = "not done: the run was interrupted" if t.index in interrupted else "not done"
            out[t.index] = [t.path, "skipped", why, t.stem] + blank
            continue
        out[t.index] = [t.path, r.status, r.reason, t.stem, _number(r.duration_s, 6), str(r.sr or ""),
                        str(r.frames) if r.status == "ok" else "", _number(r.voiced_share, 4),
                        _number(r.median_f0_hz, 2), _number(r.compute_s, 3), r.worker]  # fmt: skip
    return [out[i] for i in sorted(out)]


def summary_bytes(table: List[List[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(table)
    return buffer.getvalue().encode()


def write_summary(path: Path, table: List[List[str]], replace: bool = False) -> Path:
    """Write the summary atomically; unless ``replace``, never over an existing file (a suffix is added).

    Returns the path written. Raises :class:`OutputError` naming the path if it cannot be written.
    """
    from ..writers import atomic_write

    data = summary_bytes(table)
    if replace:
        return atomic_write(path, lambda f: f.write(data))
    tmp = atomic_write(path.with_name(f".{path.name}.new"), lambda f: f.write(data))
    try:
        for k in range(1, 1000):
            target = path if k == 1 else path.with_name(f"{path.stem}-{k}{path.suffix}")
            try:
                os.link(tmp, target)  # fails if the name is taken: no summary is ever replaced
                return target
            except FileExistsError:
                continue
            except OSError as e:  # a file system without hard links: an exclusive create instead
                try:
                    with open(target, "xb") as f:
                        f.write(data)
                    return target
                except FileExistsError:
                    continue
                except OSError:
                    raise OutputError(f"{target}: cannot write the run summary ({e.strerror or e})") from None
        raise OutputError(f"{path}: cannot find a free name for the run summary")
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
