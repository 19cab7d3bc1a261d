"""What a run analyses and where each result goes: files, globs and folders -> a plan, checked before any work.

Rules (also in ``pesto -h`` and README, "Corpus runs"):

* A **file** named on the command line is analysed whatever its extension (a bad one fails with its reason).
* A **folder** is walked recursively; files whose extension is an audio format libsndfile reads
  (:data:`AUDIO_EXTENSIONS`) are analysed, other files are skipped and listed in the run summary. Hidden files and
  folders (name starting with ``.``), pesto's own results (``*.f0.csv``, ``*.semitones.npz``...) and the output
  folder itself are not walked.
* A **glob** the shell left alone (quoted: ``'corpus/**/*.wav'``) is expanded here; its matches are taken as if
  found in a folder walk of the glob's fixed leading folder (``corpus``). A glob that matches nothing is kept as a
  file name, which then fails with "no such file".
* With ``-o OUT``, each result mirrors its input's path relative to the folder it was found in (the folder given,
  the glob's leading folder, or a file's own folder): ``corpus/a/take.wav`` -> ``OUT/a/take.f0.csv``. Without
  ``-o``, results go next to each input.
* The same audio file reached twice (named twice, or named and found in a folder) is analysed once, at its first
  mention; later mentions are listed as skipped.
* **Collision rule**: inputs whose planned results would coincide (``take.wav`` and ``take.flac`` in one folder)
  keep their extension in the result name: ``take.wav.f0.csv``, ``take.flac.f0.csv``. Names are compared without
  regard to case, so the rule is the same on case-insensitive file systems. If results would still coincide (two
  ``take.wav`` from different folders named as files into one ``-o`` folder) the run is refused before any work,
  with a message naming them: give their common folder (mirrored) instead.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import ParameterError
from ..writers import result_path

#: Extensions (lower case, without the dot) of the formats libsndfile reads: what a folder walk analyses.
AUDIO_EXTENSIONS = frozenset(
    {
        "wav",
        "wave",
        "bwf",
        "rf64",
        "w64",
        "flac",
        "ogg",
        "oga",
        "opus",
        "mp3",
        "aif",
        "aiff",
        "aifc",
        "au",
        "snd",
        "caf",
        "sd2",
        "voc",
        "htk",
        "sph",
        "nist",
        "paf",
        "fap",
        "iff",
        "svx",
        "8svx",
        "mat",
        "mat4",
        "mat5",
        "pvf",
        "xi",
        "wve",
        "avr",
        "mpc2k",
        "sds",
        "ircam",
        "sf",
    }
)

# names pesto writes (results, run summaries, temporary files): never inputs, not listed when a walk meets them
_OWN_OUTPUT = re.compile(r".*\.(f0|semitones)\.(csv|npz|png)$|^pesto-run(-.*)?\.csv$", re.IGNORECASE)


class CollisionError(ParameterError):
    """Two inputs would write the same result file, and the collision rule cannot separate them."""


@dataclass(frozen=True)
class Task:
    """One audio file to analyse: ``index`` is its row in the run summary, ``stem`` its result path without the
    format extension (``OUT/a/take.f0``), ``size`` its size in bytes (-1 if unknown; for scheduling and the ETA)."""

    index: int
    path: str
    stem: str
    size: int = -1


@dataclass
class Skipped:
    """An input that is not analysed, with the reason (it is still a row of the run summary)."""

    index: int
    path: str
    reason: str
    stem: str = ""


@dataclass
class Plan:
    """The work of a run: ``tasks`` to analyse and ``skipped`` inputs, both numbered in input order (``index``)."""

    tasks: List[Task] = field(default_factory=list)
    skipped: List[Skipped] = field(default_factory=list)
    n_inputs: int = 0
    folders: List[str] = field(default_factory=list)  # folders and glob roots given: where a summary can go
    renamed: int = 0  # inputs that got their extension in the result name (collision rule)
    stale_removed: int = 0  # temporary files of a killed run removed before this one
    replaced: List[str] = field(default_factory=list)  # results of an earlier run that this run's tasks replace

    @property
    def n_not_audio(self) -> int:
        return sum(s.reason.startswith("not an audio file") for s in self.skipped)


@dataclass
class _Found:
    path: str
    root: str  # the folder it was found in (a file's own folder when named on the command line)
    named: bool  # named on the command line (analysed whatever its extension)
    reason: str = ""  # non-empty: skipped with this reason


def _is_audio_name(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in AUDIO_EXTENSIONS if "." in name else False


def _glob_root(pattern: str) -> str:
    """The fixed leading folder of a glob: ``corpus/**/*.wav`` -> ``corpus``; ``*.wav`` -> ``.``."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."


def _walk(folder: str, root: str, exclude: Optional[str]) -> Iterable[_Found]:
    """Files under ``folder`` in a stable order (sorted names, depth first)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and not (exclude and os.path.realpath(os.path.join(dirpath, d)) == exclude)
        )
        for name in sorted(filenames):
            if name.startswith(".") or _OWN_OUTPUT.match(name):
                continue
            path = os.path.join(dirpath, name)
            if _is_audio_name(name):
                yield _Found(path, root, named=False)
            else:
                ext = name.rsplit(".", 1)[-1] if "." in name else ""
                yield _Found(
                    path, root, named=False, reason=f"not an audio file (extension {'.' + ext if ext else 'none'})"
                )


def find_inputs(arguments: Sequence[str], output_dir: Optional[str]) -> Tuple[List[_Found], List[str]]:
    """Files, globs and folders -> every input found, in order; and the folders/glob roots that were given."""
    exclude = os.path.realpath(output_dir) if output_dir else None
    found: List[_Found] = []
    folders: List[str] = []
    for arg in arguments:
        if os.path.isdir(arg):
            folders.append(arg)
            n_before = len(found)
            found.extend(_walk(arg, arg, exclude))
            if not any(not f.reason for f in found[n_before:]):
                found.append(_Found(arg, arg, named=True, reason="folder holds no audio file"))
        elif glob.has_magic(arg) and not os.path.exists(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                found.append(_Found(arg, os.path.dirname(arg) or ".", named=True))  # fails: no such file
                continue
            root = _glob_root(arg)
            folders.append(root)
            for match in matches:
                name = os.path.basename(match)
                if os.path.isdir(match):
                    found.extend(_walk(match, root, exclude))
                elif not name.startswith(".") and not _OWN_OUTPUT.match(name):
                    found.append(
                        _Found(
                            match,
                            root,
                            named=False,
                            reason=""
                            if _is_audio_name(name)
                            else "not an audio file (matched by the glob, extension not audio)",
                        )
                    )
        else:
            found.append(_Found(arg, os.path.dirname(arg) or ".", named=True))
    return found, folders


def plan_outputs(
    arguments: Sequence[str],
    output_dir: Optional[str] = None,
    semitones: bool = False,
    formats: Sequence[str] = ("csv",),
    skip_existing: bool = False,
) -> Plan:
    """The plan of a run: every input numbered, each audio file with a result stem no other input shares.

    Raises
    ------
    CollisionError
        Results of different inputs would coincide even after the collision rule (see the module docstring).
    """
    found, folders = find_inputs(arguments, output_dir)
    plan = Plan(n_inputs=len(found), folders=folders)
    suffix = "semitones" if semitones else "f0"
    seen: Dict[str, int] = {}
    candidates: List[Tuple[int, _Found, Path]] = []  # (index, input, relative path of its result's folder/name)
    for index, f in enumerate(found):
        if f.reason:
            plan.skipped.append(Skipped(index, f.path, f.reason))
            continue
        key = os.path.realpath(f.path)
        if key in seen:
            plan.skipped.append(
                Skipped(index, f.path, f"same file as input {seen[key] + 1} ({found[seen[key]].path}): analysed once")
            )
            continue
        seen[key] = index
        rel = Path(os.path.relpath(f.path, f.root)) if output_dir is not None else Path(f.path)
        candidates.append((index, f, rel))

    def stem_of(rel: Path, keep_extension: bool) -> str:
        name = rel.name if keep_extension else rel.stem
        folder = (Path(output_dir) / rel.parent) if output_dir is not None else rel.parent
        return str(folder / f"{name}.{suffix}")

    def key_of(stem: str) -> str:
        return os.path.normcase(os.path.abspath(stem)).casefold()

    stems = {index: stem_of(rel, False) for index, _f, rel in candidates}
    groups: Dict[str, List[int]] = {}
    for index, stem in stems.items():
        groups.setdefault(key_of(stem), []).append(index)
    rels = {index: rel for index, _f, rel in candidates}
    for members in groups.values():
        if len(members) > 1:
            for index in members:
                stems[index] = stem_of(rels[index], True)
                plan.renamed += 1
    final: Dict[str, List[int]] = {}
    for index, stem in stems.items():
        final.setdefault(key_of(stem), []).append(index)
    clashes = [members for members in final.values() if len(members) > 1]
    if clashes:
        lines = [f"  {stems[m[0]]}.{formats[0]}: " + ", ".join(found[i].path for i in m) for m in clashes[:10]]
        more = f"\n  ... and {len(clashes) - 10} more" if len(clashes) > 10 else ""
        raise CollisionError(
            f"{len(clashes)} result file(s) would be written by several inputs (nothing was analysed):\n"
            + "\n".join(lines)
            + more
            + "\n  Give their common folder instead of the files (with -o the tree below "
            "it is mirrored), quote the glob so that pesto expands it ('corpus/*/take.wav'), or run them "
            "separately."
        )
    for index, f, _rel in candidates:
        stem = stems[index]
        existing = [p for p in (result_path(stem, fmt) for fmt in formats) if os.path.exists(p)]
        if skip_existing and len(existing) == len(formats):
            plan.skipped.append(Skipped(index, f.path, "results already exist (--skip-existing)", stem))
            continue
        try:
            size = os.stat(f.path).st_size
        except OSError:
            size = -1
        plan.tasks.append(Task(index, f.path, stem, size))
        plan.replaced += existing
    plan.skipped.sort(key=lambda s: s.index)
    plan.stale_removed = remove_stale_parts(plan.tasks, formats)
    return plan


def remove_stale_parts(tasks: Sequence[Task], formats: Sequence[str]) -> int:
    """Delete the temporary files (``.<name>.<fmt>.<random>.part``) that a killed run left for results this run
    is about to write; one listing per output folder. Returns how many were removed."""
    by_folder: Dict[str, set] = {}
    for task in tasks:
        folder, name = os.path.split(task.stem)
        by_folder.setdefault(folder or ".", set()).update(f".{result_path(name, fmt)}." for fmt in formats)
    removed = 0
    for folder, prefixes in by_folder.items():
        try:
            entries = [e.name for e in os.scandir(folder) if e.name.startswith(".") and e.name.endswith(".part")]
        except OSError:
            continue
        for entry in entries:
            if any(entry.startswith(p) for p in prefixes):
                try:
                    os.unlink(os.path.join(folder, entry))
                    removed += 1
                except OSError:
                    pass
    return removed
