"""Exports of the File tab as the user asks for them: the export dialog (its choices remembered), one document's
export at a time (CSV/NPZ on a thread, the PNG drawn on the GUI thread), and one summary message per batch.

The panel's job queue decides when each export runs (after its analysis); this controller writes it.

GUI thread only (except :class:`~app.file.export.ExportThread`'s own thread).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional

from PySide6 import QtCore, QtWidgets

from pesto_core.errors import PestoError

from ..common.settings import Settings
from .document import FileDocument
from .export import ExportDialog, ExportOptions, ExportThread, describe_written, write_png_file


class ExportController(QtCore.QObject):
    """Writes exports and reports them.

    Parameters
    ----------
    settings : Settings
        Where the dialog's choices persist (``export_*`` keys of the File tab).
    report : callable(level, text, title=None)
        Tells the user (the batch's summary).

    Signals: ``finished(paths, error)`` after each document's export (``error`` '' on success).
    """

    finished = QtCore.Signal(object, str)

    def __init__(self, settings: Settings, report: Callable[..., None], parent=None):
        super().__init__(parent)
        self.settings = settings
        self.report = report
        self._thread: Optional[ExportThread] = None
        self._written: List[Path] = []
        self._errors: List[str] = []

    # ------------------------------------------------------------------------------------------------ dialog
    def dialog(self, parent: QtWidgets.QWidget, title: str, allow_view: bool) -> ExportDialog:
        """An export dialog showing the last choices (not opened yet); :meth:`remember` its options on accept."""
        q = self.settings
        dialog = ExportDialog(
            parent,
            title=title,
            formats=tuple(q.get("export_formats", ["csv", "npz"])),
            output_dir=q.get("export_dir", ""),
            convert_to_freq=q.get("export_hz", True),
            allow_view=allow_view,
            refined=q.get("export_refined", False),
            midi_bends=q.get("export_midi_bends", False),
        )
        dialog.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        return dialog

    def remember(self, options: ExportOptions) -> ExportOptions:
        """Keep ``options`` as the dialog's next defaults; returns them."""
        q = self.settings
        q.set("export_formats", list(options.formats))
        q.set("export_dir", options.output_dir or "")
        q.set("export_hz", options.convert_to_freq)
        q.set("export_refined", options.refined)
        q.set("export_midi_bends", options.midi_bends)
        return options

    # ------------------------------------------------------------------------------------------------ writing
    @property
    def running(self) -> bool:
        return self._thread is not None

    def begin_batch(self) -> None:
        """A new batch of exports starts: its summary will list only what it writes."""
        self._written, self._errors = [], []

    def add_error(self, message: str) -> None:
        """A document of the batch could not be exported (e.g. its analysis failed): reported in the summary."""
        self._errors.append(message)

    def start(self, doc: FileDocument, options: ExportOptions) -> None:
        """Write ``doc``'s export (its analysis is finished); ``finished`` follows."""
        thread = ExportThread(doc, options, self)
        thread.outcome.connect(lambda paths, error, d=doc, o=options: self._on_data_written(d, o, paths, error))
        self._thread = thread
        thread.start()

    def wait(self, ms: int = 60000) -> None:
        """Wait for the CSV/NPZ writer (an export being written finishes: it is atomic)."""
        if self._thread is not None:
            self._thread.wait(ms)

    def _on_data_written(self, doc: FileDocument, options: ExportOptions, paths, error: str) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        paths = list(paths)
        if not error and "png" in options.formats:
            # Qt draws the picture, on this thread: seconds for an hour-long file (the renderer pools it all here)
            QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.WaitCursor)
            try:
                paths += write_png_file(doc, options)
            except PestoError as e:
                error = str(e)
            except Exception as e:
                error = f"{doc.path}: PNG export failed ({type(e).__name__}: {e})"
            finally:
                QtWidgets.QApplication.restoreOverrideCursor()
        self._written += paths
        if error:
            self._errors.append(error)
        self.finished.emit(paths, error)

    def finish_batch(self) -> None:
        """The queue is empty: one message for what the batch wrote, or why it could not."""
        written, errors = self._written, self._errors
        if not written and not errors:
            return
        self._written, self._errors = [], []
        if errors:
            self.report(
                "error",
                "Export failed:\n\n"
                + "\n".join(errors)
                + (f"\n\nWritten: {describe_written(written)}" if written else ""),
                "Export failed",
            )
        else:
            folder = Path(written[0]).parent
            self.report("info", f"Exported {len(written)} file(s) to {folder}: {describe_written(written)}")
