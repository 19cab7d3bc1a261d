"""Runs the File tab's job queue, one job at a time: an analysis on an
:class:`~app.file.analysis.AnalysisWorker` thread (its pieces copied into the document as they arrive), then the
export that was asked for, through the :class:`~app.file.export_controller.ExportController`.

No widgets: the panel shows what the signals say (progress, the document's state, messages).

GUI thread only (the workers' results arrive through queued signals).
"""

from __future__ import annotations

import tempfile
from typing import Callable, Optional, Sequence

from PySide6 import QtCore

from pesto_core.errors import PestoError

from ..common.settings import Settings
from . import document as fd
from .analysis import AnalysisSettings, AnalysisWorker, ModelCache, check_settings
from .export import ExportOptions
from .export_controller import ExportController
from .jobs import JobQueue


class JobRunner(QtCore.QObject):
    """The queue and the thread working on its current job.

    Parameters
    ----------
    settings : Settings
        The File tab's settings (the export dialog's choices).
    analysis_settings : callable () -> AnalysisSettings
        The settings the next analysis uses (read when it starts).
    is_open : callable (doc) -> bool
        Whether a document is still open (a closed one's jobs are skipped).
    report : callable(level, text, title=None)
        Tells the user.

    Signals:

    * ``analysis_starting(doc)``: the document's previous result is about to be dropped (stop drawing it);
    * ``job_started(doc, text)``: an analysis or export started (``text``: "Analysing x.wav");
    * ``piece(doc)``: new frames of the document being analysed;
    * ``progress(done, total)``: frames analysed;
    * ``doc_changed(doc)``: its state changed (queued, analysing, done...);
    * ``status(text)``: a line for the status bar;
    * ``job_finished(doc, status)``: an analysis ended (``done``, ``cancelled``, ``failed``);
    * ``export_finished(paths, error)``: after each document's export;
    * ``idle()``: the queue is empty again.
    """

    analysis_starting = QtCore.Signal(object)
    job_started = QtCore.Signal(object, str)
    piece = QtCore.Signal(object)
    progress = QtCore.Signal(int, int)
    doc_changed = QtCore.Signal(object)
    status = QtCore.Signal(str)
    job_finished = QtCore.Signal(object, str)
    export_finished = QtCore.Signal(object, str)
    idle = QtCore.Signal()

    def __init__(
        self,
        settings: Settings,
        analysis_settings: Callable[[], AnalysisSettings],
        is_open: Callable[[fd.FileDocument], bool],
        report: Callable[..., None],
        parent=None,
    ):
        super().__init__(parent)
        self.analysis_settings = analysis_settings
        self.is_open = is_open
        self.report = report
        self.queue = JobQueue()
        self.models = ModelCache()
        self.temp_dir = tempfile.mkdtemp(prefix="pesto-tracker-")  # the activation files of the analyses
        self.worker: Optional[AnalysisWorker] = None  # the analysis running now
        self.exports = ExportController(settings, report, self)
        self.exports.finished.connect(self._on_export_finished)

    @property
    def busy(self) -> bool:
        return self.queue.busy

    # ------------------------------------------------------------------------------------------------ queueing
    def enqueue(self, doc: fd.FileDocument, export: Optional[ExportOptions] = None) -> None:
        """Queue an analysis of ``doc`` (then its export, if given); :meth:`start_next` runs it when its turn comes."""
        if self.queue.add(doc, export, analysing=self.worker is not None):
            self.doc_changed.emit(doc)

    def export(self, docs: Sequence[fd.FileDocument], options: ExportOptions) -> None:
        """Export each document (analysed first if it has no finished analysis); one summary at the end."""
        self.exports.begin_batch()
        for doc in docs:
            self.enqueue(doc, options)
        self.start_next()

    def cancel(self) -> None:
        """Cancel the running analysis and everything queued (an export being written finishes: it is atomic)."""
        for job in self.queue.clear():
            self.doc_changed.emit(job.doc)
        if self.worker is not None:
            self.worker.cancel()
            self.status.emit("Cancelling...")

    def forget(self, doc: fd.FileDocument) -> None:
        """``doc`` is being closed: drop its jobs, and wait for a running one to stop."""
        self.queue.drop(doc)
        if self.queue.is_running(doc):
            if self.worker is not None:
                self.worker.cancel()
                self.worker.wait()
            self.exports.wait()

    def shutdown(self) -> None:
        """Stop everything (the window closes)."""
        self.queue.clear()
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(10000)
        self.exports.wait(60000)

    # ------------------------------------------------------------------------------------------------ running
    def start_next(self) -> None:
        """Start the next job unless one is running; ``idle`` when there is none left."""
        if self.queue.busy:
            return
        while self.queue:
            job = self.queue.take()
            if not self.is_open(job.doc):
                continue
            if job.export is not None and job.doc.complete:  # exported as analysed (its settings are in the files)
                self.queue.current = job
                self._start_export(job.doc, job.export)
                return
            problem = check_settings(self.analysis_settings())
            if problem:
                self.report("error", f"Cannot analyse: {problem}")
                continue
            self.queue.current = job
            self._start_analysis(job.doc)
            return
        self.exports.finish_batch()
        self.idle.emit()

    def _start_analysis(self, doc: fd.FileDocument) -> None:
        settings = self.analysis_settings()
        self.analysis_starting.emit(doc)
        try:
            store = doc.begin(settings, self.temp_dir)
        except (OSError, PestoError) as e:
            doc.finish("failed", f"{doc.path}: cannot start the analysis ({e})")
            self.queue.current = None
            self.report("error", doc.message)
            self.start_next()
            return
        doc.analysed_channel = doc.channel
        worker = AnalysisWorker(str(doc.path), settings, doc.channel, store, self.models, self)
        worker.piece_ready.connect(lambda piece, d=doc: self._on_piece(d, piece))
        worker.progress.connect(self._on_progress)
        worker.outcome.connect(lambda status, msg, d=doc: self._on_outcome(d, status, msg))
        self.worker = worker
        self.job_started.emit(doc, f"Analysing {doc.name}")
        self.doc_changed.emit(doc)
        worker.start()

    def _on_piece(self, doc: fd.FileDocument, piece: dict) -> None:
        if doc.store is None or doc.state != fd.ANALYSING:
            return
        doc.receive(piece)
        self.piece.emit(doc)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)
        if self.queue.current is not None:
            self.doc_changed.emit(self.queue.current.doc)

    def _on_outcome(self, doc: fd.FileDocument, status: str, message: str) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        job, self.queue.current = self.queue.current, None
        if not self.is_open(doc):  # closed meanwhile
            self.start_next()
            return
        doc.finish(status, message)
        self.doc_changed.emit(doc)
        export = job.export if job is not None else None
        if status == "done":
            self.status.emit(f"Analysed {doc.name} ({doc.settings.describe()})")
        elif status == "cancelled":
            self.status.emit(f"Analysis of {doc.name} cancelled: partial result shown, nothing written")
        elif export is None:
            self.report("error", f"The analysis failed:\n\n{doc.message}", "Analysis failed")
        else:  # part of an export batch: reported once in its summary
            self.exports.add_error(doc.message)
        self.job_finished.emit(doc, status)
        if status == "done" and export is not None:
            self.queue.current = job
            self._start_export(doc, export)
            return
        self.start_next()

    def _start_export(self, doc: fd.FileDocument, options: ExportOptions) -> None:
        self.job_started.emit(doc, f"Exporting {doc.name}")
        self.exports.start(doc, options)

    def _on_export_finished(self, paths, error: str) -> None:
        self.export_finished.emit(paths, error)
        self.queue.current = None
        self.start_next()
