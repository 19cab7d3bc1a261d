"""Writing analysis results: CSV, NPZ and PNG, atomically (temporary file in the same folder, then rename).

File names follow upstream PESTO: ``<stem>.f0.<ext>``, or ``<stem>.semitones.<ext>`` when pitch is kept in
semitones. The same functions serve the command line and the app's export, so both write identical files.

* CSV: header ``time,frequency,confidence``; time in seconds; frequency in Hz (or semitones with
  ``convert_to_freq=False``, the header keeping upstream's column name).
* NPZ: ``timesteps`` (s), ``pitch`` (Hz or semitones), ``confidence``, ``volume``, ``activations``, and metadata:
  ``pitch_unit``, ``sr``, ``hop_length``, ``step_ms``, ``model``, ``reduction``, ``decoding``.
* PNG: the activation map weighted by confidence with a note-labelled pitch axis. The engine has no drawing code
  (it never imports a GUI toolkit): the renderer is a plug-in that the app registers under the entry-point group
  ``pesto_tracker.renderers`` (name ``png``, see ``pyproject.toml``), or that a program registers with
  :func:`register_renderer`. The command line and the File tab's export therefore draw the same picture.
* Notes (``notes``, ``mid``): the track's notes (:func:`pesto_core.notes.segment_notes`), named without the
  ``.f0`` / ``.semitones`` part since they hold no frame-wise pitch: ``<name>.notes.csv`` (columns in
  :mod:`pesto_core.notes.table`) and ``<name>.mid`` (a standard MIDI file, :mod:`pesto_core.notes.midi`; with
  ``midi_bends`` the notes follow the pitch curve through pitch bends). Both come from one segmentation.
"""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Union

import numpy as np

from .errors import OutputError, ParameterError
from .track import PitchTrack

FORMATS = ("csv", "npz", "png", "notes", "mid")
NOTE_SUFFIXES = {"notes": ".notes.csv", "mid": ".mid"}
_UMASK = os.umask(0o022)  # read once at import (os.umask is process-wide, not thread-safe)
os.umask(_UMASK)


def check_formats(formats: Union[str, Sequence[str]]) -> tuple:
    if isinstance(formats, str):
        formats = [formats]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ParameterError(f"invalid export format(s) {bad or formats}: choose from {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(formats))


def output_stem(audio_path: Union[str, Path], output_dir: Optional[Union[str, Path]] = None,
                semitones: bool = False) -> Path:
    """``<dir>/<name without extension>.f0`` (or ``.semitones``); ``dir`` defaults to the audio file's folder."""
    audio_path = Path(audio_path)
    folder = Path(output_dir) if output_dir is not None else audio_path.parent
    return folder / f"{audio_path.stem}.{'semitones' if semitones else 'f0'}"


def atomic_write(path: Union[str, Path], write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then rename it over ``path``.

    A failure leaves no partial file and raises :class:`OutputError` naming the path.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as e:
        raise OutputError(f"{path}: cannot write here ({e.strerror or e})") from None
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are ordinary files
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise OutputError(f"{path}: write failed ({e.strerror or e})") from None
        raise
    return path


def pitch_values(track: PitchTrack, convert_to_freq: bool = True) -> np.ndarray:
    return track.f0_hz if convert_to_freq else track.pitch_semitones


def csv_bytes(track: PitchTrack, convert_to_freq: bool = True) -> bytes:
    lines = ["time,frequency,confidence"]
    pitch = pitch_values(track, convert_to_freq)
    lines += [f"{t:.6f},{p:.4f},{c:.4f}" for t, p, c in zip(track.time_s, pitch, track.confidence)]
    return ("\n".join(lines) + "\n").encode()


def write_csv(path, track: PitchTrack, convert_to_freq: bool = True) -> Path:
    data = csv_bytes(track, convert_to_freq)
    return atomic_write(path, lambda f: f.write(data))


def write_npz(path, track: PitchTrack, convert_to_freq: bool = True) -> Path:
    arrays = dict(
        timesteps=track.time_s, pitch=pitch_values(track, convert_to_freq), confidence=track.confidence,
        volume=track.volume,
        activations=track.activations if track.activations is not None else np.zeros((len(track), 0), np.float32),
        pitch_unit=np.array("Hz" if convert_to_freq else "semitones"), time_unit=np.array("s"),
        sr=np.array(track.sr), hop_length=np.array(track.hop_length), step_ms=np.array(track.step_ms),
        model=np.array(track.model_name), reduction=np.array(track.reduction), decoding=np.array(track.decoding),
    )
    return atomic_write(path, lambda f: np.savez(f, **arrays))


RENDERER_GROUP = "pesto_tracker.renderers"
_renderers: Dict[str, Callable[..., bytes]] = {}


def register_renderer(fmt: str, render: Callable[..., bytes]) -> None:
    """Make ``render(track, title=...) -> bytes`` the renderer of image format ``fmt`` (e.g. ``"png"``)."""
    _renderers[fmt] = render


def renderer(fmt: str, path: Union[str, Path] = "") -> Callable[..., bytes]:
    """The registered renderer of ``fmt``: one registered in this process, else the installed entry point.

    Raises :class:`OutputError` naming ``path`` when none is installed or it cannot be loaded (e.g. the app's
    extra, which provides the PNG renderer, is not installed).
    """
    if fmt in _renderers:
        return _renderers[fmt]
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=RENDERER_GROUP) if ep.name == fmt]
    if not found:
        raise OutputError(f"{path}: no {fmt.upper()} renderer is installed (install the app's extra: "
                          f"pip install 'pesto-tracker[app]')")
    try:
        render = found[0].load()
    except ImportError as e:
        raise OutputError(f"{path}: {fmt.upper()} export needs the app's dependencies (PySide6, pyqtgraph): "
                          f"{e}") from None
    _renderers[fmt] = render
    return render


def write_png(path, track: PitchTrack, title: Optional[str] = None) -> Path:
    png = renderer("png", path)(track, title=title or Path(path).name)
    return atomic_write(path, lambda f: f.write(png))


def notes_path(stem: Union[str, Path], fmt: str) -> Path:
    """``<dir>/<name>.notes.csv`` or ``<dir>/<name>.mid`` for the stem ``<dir>/<name>.f0`` (or ``.semitones``)."""
    stem = Path(stem)
    name = stem.name
    for suffix in (".f0", ".semitones"):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    return stem.with_name(name + NOTE_SUFFIXES[fmt])


def result_path(stem: Union[str, Path], fmt: str) -> str:
    """The file that format ``fmt`` writes for ``stem``: ``<stem>.<fmt>``, or :func:`notes_path` for notes."""
    return str(notes_path(stem, fmt)) if fmt in NOTE_SUFFIXES else f"{stem}.{fmt}"


def write_notes(path, notes) -> Path:
    """``<name>.notes.csv`` of a list of :class:`pesto_core.notes.Note`."""
    from .notes import notes_csv_bytes

    data = notes_csv_bytes(notes)
    return atomic_write(path, lambda f: f.write(data))


def write_midi(path, notes, track: Optional[PitchTrack] = None, bends: bool = False) -> Path:
    """``<name>.mid`` of a list of notes (pitch bends from ``track`` with ``bends``)."""
    from .notes import midi_bytes

    data = midi_bytes(notes, track=track, bends=bends, name=Path(path).stem)
    return atomic_write(path, lambda f: f.write(data))


def write_track(track: PitchTrack, stem: Union[str, Path], formats: Sequence[str] = ("csv",),
                convert_to_freq: bool = True, a4_hz: float = 440.0, midi_bends: bool = False) -> list:
    """Write ``<stem>.<fmt>`` for each format (notes formats: :func:`notes_path`); returns the paths written.

    ``a4_hz``: the reference of the notes' names and deviations; ``midi_bends``: pitch bends in the MIDI file.
    """
    written = []
    notes = None
    for fmt in check_formats(formats):
        path = Path(f"{stem}.{fmt}")
        if fmt in NOTE_SUFFIXES:
            if notes is None:
                from .notes import segment_notes

                notes = segment_notes(track, a4_hz=a4_hz)
            path = notes_path(stem, fmt)
            written.append(write_notes(path, notes) if fmt == "notes" else
                           write_midi(path, notes, track, bends=midi_bends))
        elif fmt == "csv":
            written.append(write_csv(path, track, convert_to_freq))
        elif fmt == "npz":
            written.append(write_npz(path, track, convert_to_freq))
        else:
            written.append(write_png(path, track, title=Path(stem).name))
    return written
