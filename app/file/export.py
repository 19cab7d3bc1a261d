"""Exports of a file analysis: CSV, NPZ, PNG, notes CSV and MIDI written by the engine's own writers, so that they
are the files the ``pesto`` command line writes for the same file and settings (PNG of the current view: same
picture, cropped).

Notes (``notes``: ``<name>.notes.csv``, ``mid``: ``<name>.mid``): while the notes are uncorrected they are segmented
from the exported track, exactly as ``pesto -e notes mid --a4 X`` does (the same function, X the document's
reference A4, also after a change of it); once corrected (:mod:`app.file.notes_model`), the corrected notes are
written, and the CSV/NPZ carry the octave corrections of the curve (:meth:`~app.file.document.FileDocument.track`).

CSV and NPZ are written on a worker thread (an hour-long NPZ holds 550 MB of activations, read back from the
activation file); the PNG is drawn by Qt widgets, which live on the GUI thread. Every file is written atomically
(temporary file, then rename): an interrupted or failed export leaves no partial file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from PySide6 import QtCore, QtWidgets

from pesto_core.errors import OutputError, PestoError
from pesto_core.units import A4_HZ
from pesto_core.writers import (
    atomic_write,
    notes_path,
    output_stem,
    register_renderer,
    write_midi,
    write_notes,
    write_track,
)

from ..common.render import render_activation_png
from .document import FileDocument
from .notes_model import saved_state, shifted_track

# The app draws its PNGs with its own renderer (the one `pesto -e png` finds through the package's entry point):
# registered here, so that an export works from a source checkout whatever package metadata is installed.
register_renderer("png", render_activation_png)


@dataclass(frozen=True)
class ExportOptions:
    """What to write and where.

    Attributes
    ----------
    formats : tuple of {"csv", "npz", "png", "notes", "mid"}
    output_dir : str or None
        Folder for the files; None writes next to each audio file (as ``pesto`` without ``-o``).
    convert_to_freq : bool
        Pitch in Hz (``<name>.f0.*``); False: MIDI semitones (``<name>.semitones.*``, as ``pesto -F``).
    png_range : (t0_s, t1_s) or None
        PNG of this time range (the current view) instead of the whole file.
    refined : bool
        Write the cent-precise pitch (as ``pesto --refine``) instead of PESTO's own (as ``pesto``).
    midi_bends : bool
        Pitch bends in the MIDI file that follow the curve within each note (as ``pesto --midi-bends``).
    a4_hz : float
        Reference (Hz, as ``pesto --a4``) of notes segmented for the export: a document whose notes are not known
        yet and that has no saved corrections. Notes the tab holds (and saved ones) keep their own reference.
    """

    formats: Tuple[str, ...] = ("csv",)
    output_dir: Optional[str] = None
    convert_to_freq: bool = True
    png_range: Optional[Tuple[float, float]] = field(default=None)
    refined: bool = False
    midi_bends: bool = False
    a4_hz: float = A4_HZ

    def stem(self, doc: FileDocument) -> Path:
        return output_stem(doc.path, self.output_dir, not self.convert_to_freq)


def write_data_files(doc: FileDocument, options: ExportOptions) -> List[Path]:
    """Write the CSV/NPZ/notes/MIDI files asked for (any thread; the document must not change meanwhile).

    Raises :class:`pesto_core.errors.OutputError` naming the path when it cannot be written."""
    model = doc.notes
    snapshot = model.state if model is not None else None  # one snapshot (the GUI may edit on)
    state = snapshot if model is not None and model.corrected(snapshot) else None
    formats = [f for f in options.formats if f in ("csv", "npz", "notes", "mid")]
    if not formats:
        return []
    track, stem = doc.track(options.refined), options.stem(doc)
    a4_hz = snapshot.a4_hz if snapshot is not None else options.a4_hz
    if model is None:  # notes not known yet (e.g. an export right after the analysis): the saved corrections
        state = saved_state(doc.path, doc.duration_s, a4_hz)
        if state is not None:
            track = shifted_track(track, state.shifts)
    if state is None:  # uncorrected: segmented here as pesto does it
        return write_track(
            track,
            stem,
            formats,
            convert_to_freq=options.convert_to_freq,
            a4_hz=a4_hz,
            midi_bends=options.midi_bends,
        )
    data = [f for f in formats if f in ("csv", "npz")]
    written = write_track(track, stem, data, convert_to_freq=options.convert_to_freq) if data else []
    for fmt in formats:
        if fmt == "notes":
            written.append(write_notes(notes_path(stem, fmt), list(state.notes)))
        elif fmt == "mid":
            written.append(write_midi(notes_path(stem, fmt), list(state.notes), track, bends=options.midi_bends))
    return written


def write_png_file(doc: FileDocument, options: ExportOptions) -> List[Path]:
    """Write the PNG (GUI thread: Qt draws it). The whole file: exactly ``pesto -e png``'s picture."""
    if "png" not in options.formats:
        return []
    stem = options.stem(doc)
    track = doc.track(options.refined)
    if options.png_range is None:
        return write_track(track, stem, ["png"], convert_to_freq=options.convert_to_freq)
    t0, t1 = options.png_range
    t0, t1 = max(0.0, t0), min(doc.duration_s, t1)
    png = render_activation_png(track, title=f"{stem.name}  {t0:.2f}-{t1:.2f} s", time_range=(t0, t1))
    return [atomic_write(Path(f"{stem}.png"), lambda f: f.write(png))]


class ExportThread(QtCore.QThread):
    """Writes a document's CSV/NPZ/notes/MIDI files on its own thread; ``outcome(paths, error)`` on the GUI thread
    (``error`` is '' on success)."""

    outcome = QtCore.Signal(object, str)

    def __init__(self, doc: FileDocument, options: ExportOptions, parent=None):
        super().__init__(parent)
        self.doc, self.options = doc, options

    def run(self) -> None:  # worker thread
        try:
            paths = write_data_files(self.doc, self.options)
        except PestoError as e:
            self.outcome.emit([], str(e))
            return
        except Exception as e:  # reported, never silent
            self.outcome.emit([], f"{self.doc.path}: export failed ({type(e).__name__}: {e})")
            return
        self.outcome.emit(paths, "")


class ExportDialog(QtWidgets.QDialog):
    """Choose formats, folder, pitch unit and PNG range. Open it with ``open()`` (not modal-blocking) and read
    :meth:`options` when ``accepted`` fires."""

    def __init__(
        self,
        parent=None,
        *,
        title: str = "Export",
        formats=("csv", "npz"),
        output_dir: str = "",
        convert_to_freq: bool = True,
        png_view: bool = False,
        allow_view: bool = True,
        refined: bool = False,
        midi_bends: bool = False,
    ):
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QtWidgets.QVBoxLayout(self)
        box = QtWidgets.QGroupBox("Formats")
        row = QtWidgets.QHBoxLayout(box)
        self.checks = {}
        for fmt, label in (
            ("csv", "CSV (time, Hz, confidence)"),
            ("npz", "NPZ (all arrays)"),
            ("png", "PNG (activation map)"),
            ("notes", "Notes CSV"),
            ("mid", "MIDI"),
        ):
            check = QtWidgets.QCheckBox(label)
            check.setChecked(fmt in formats)
            row.addWidget(check)
            self.checks[fmt] = check
        layout.addWidget(box)
        form = QtWidgets.QFormLayout()
        self.png_whole = QtWidgets.QRadioButton("whole file")
        self.png_view = QtWidgets.QRadioButton("current view")
        self.png_view.setEnabled(allow_view)
        (self.png_view if (png_view and allow_view) else self.png_whole).setChecked(True)
        png_row = QtWidgets.QHBoxLayout()
        png_row.addWidget(self.png_whole)
        png_row.addWidget(self.png_view)
        png_row.addStretch(1)
        form.addRow("PNG shows:", png_row)
        self.unit = QtWidgets.QComboBox()
        self.unit.addItems(["Hz (<name>.f0.*)", "MIDI semitones (<name>.semitones.*, like pesto -F)"])
        self.unit.setCurrentIndex(0 if convert_to_freq else 1)
        form.addRow("Pitch unit:", self.unit)
        self.refined = QtWidgets.QComboBox()
        self.refined.addItems(["PESTO's pitch (as pesto)", "cent-precise refined pitch (as pesto --refine)"])
        self.refined.setCurrentIndex(1 if refined else 0)
        form.addRow("Pitch:", self.refined)
        self.midi_bends = QtWidgets.QCheckBox("pitch bends that follow the curve (as pesto --midi-bends)")
        self.midi_bends.setChecked(midi_bends)
        form.addRow("MIDI:", self.midi_bends)
        self.next_to_audio = QtWidgets.QCheckBox("next to each audio file")
        self.folder = QtWidgets.QLineEdit(output_dir)
        self.folder.setPlaceholderText("folder for the exported files")
        browse = QtWidgets.QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        folder_row = QtWidgets.QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.next_to_audio.toggled.connect(lambda on: (self.folder.setEnabled(not on), browse.setEnabled(not on)))
        self.next_to_audio.setChecked(not output_dir)
        form.addRow("Write:", self.next_to_audio)
        form.addRow("Folder:", folder_row)
        layout.addLayout(form)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Ok | QtWidgets.QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._view_range = None

    def set_view_range(self, t0: float, t1: float) -> None:
        self._view_range = (t0, t1)

    def _browse(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Export folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _accept(self) -> None:
        if not any(c.isChecked() for c in self.checks.values()):
            QtWidgets.QToolTip.showText(self.mapToGlobal(QtCore.QPoint(20, 20)), "Choose at least one format")
            return
        if not self.next_to_audio.isChecked() and not self.folder.text().strip():
            QtWidgets.QToolTip.showText(self.mapToGlobal(QtCore.QPoint(20, 20)), "Choose a folder")
            return
        self.accept()

    def options(self) -> ExportOptions:
        formats = tuple(f for f, c in self.checks.items() if c.isChecked())
        folder = None if self.next_to_audio.isChecked() else self.folder.text().strip()
        png_range = self._view_range if (self.png_view.isChecked() and self.png_view.isEnabled()) else None
        return ExportOptions(
            formats,
            folder,
            self.unit.currentIndex() == 0,
            png_range,
            refined=self.refined.currentIndex() == 1,
            midi_bends=self.midi_bends.isChecked(),
        )


def describe_written(paths) -> str:
    return ", ".join(Path(p).name for p in paths)


__all__ = ["ExportOptions", "ExportThread", "ExportDialog", "write_data_files", "write_png_file", "OutputError"]
