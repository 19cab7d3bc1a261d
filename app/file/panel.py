"""The File tab: open recordings, analyse them on a worker thread, inspect the pitch curve, play them back with a
cursor, export what ``pesto`` would write.

Data path: file -> :class:`~app.file.analysis.AnalysisWorker` (engine, worker thread) -> pieces of numpy arrays
-> :class:`~app.file.document.FileDocument` (GUI thread) -> :class:`~app.file.view.FileView` (redrawn by a timer);
:class:`~app.file.export_controller.ExportController` writes the exports; :class:`~app.file.playback.
PlaybackController` plays the file; :class:`~app.file.waveform.EnvelopeJobs` reads the waveform overviews.

Work is queued (:class:`~app.file.jobs.JobQueue`): one analysis (or export) runs at a time, so "analyse and export
all" is a queue of jobs that the Cancel button empties. Messages for the user (a file that cannot be read,
an export location that cannot be written...) go through :meth:`FilePanel.report`, which records them in
:attr:`FilePanel.messages` and shows a non-modal message box (tests read the record and never block on a dialog).

Notes corrected and not saved are never lost without a question (Save / Discard / Cancel, :meth:`~app.file.
notes_controller.NotesController.confirm_discard`): before a file is closed or analysed again, and before the
window closes (:meth:`FilePanel.confirm_close`, which the main window asks).

Threading: every method here runs on the GUI thread.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import List, Optional, Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from pesto_core.errors import PestoError

from ..common.settings import Settings
from . import document as fd
from .analysis import AnalysisSettings, AnalysisWorker
from .drops import DropOpener, audio_files
from .export import ExportOptions
from .notes_controller import NotesController
from .panel_layout import build_shortcuts, build_ui
from .playback import PlaybackController
from .recent import RecentFiles
from .runner import JobRunner
from .view import FileView
from .waveform import EnvelopeJobs

AUDIO_FILTER = "Audio files (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.aif *.aiff *.au *.caf *.w64 *.rf64);;All files (*)"


class FilePanel(QtWidgets.QWidget):
    """The "File" tab. ``FilePanel(main_window)``; see the module doc.

    Signals: ``message(level, text)`` each time :meth:`report` is called; ``job_finished(doc, status)`` after each
    analysis (status ``done`` / ``cancelled`` / ``failed``); ``export_finished(paths, error)``; ``idle()`` when the
    queue is empty again.
    """

    message = QtCore.Signal(str, str)
    job_finished = QtCore.Signal(object, str)
    export_finished = QtCore.Signal(object, str)
    idle = QtCore.Signal()

    def __init__(
        self,
        main_window: Optional[QtWidgets.QWidget] = None,
        *,
        settings: Optional[Settings] = None,
        show_dialogs: bool = True,
    ):
        super().__init__(main_window)
        self.main_window = main_window
        self.settings = settings if settings is not None else Settings("file")  # keys "file/..."; tests pass their own
        self.show_dialogs = show_dialogs
        self.messages: List[tuple] = []
        self.docs: List[fd.FileDocument] = []
        self.recent = RecentFiles(self.settings, self.open_files)
        self._dirty = False
        self._dialogs = []

        self.view = FileView()
        self.notes = NotesController(self.view, self.report, self)  # notes, summary, corrections (Notes menu)
        self.playback = PlaybackController(self.view, self.report, self)
        self.runner = JobRunner(self.settings, self.current_settings, lambda doc: doc in self.docs, self.report, self)
        self.runner.analysis_starting.connect(self._on_analysis_starting)
        self.runner.job_started.connect(self._on_job_started)
        self.runner.piece.connect(self._on_piece)
        self.runner.progress.connect(lambda done, total: self.progress.setValue(int(1000 * done / max(total, 1))))
        self.runner.doc_changed.connect(self._update_item)
        self.runner.status.connect(lambda text: self.status_label.setText(text))
        self.runner.job_finished.connect(self._on_job_finished)
        self.runner.export_finished.connect(self._on_export_finished)
        self.runner.idle.connect(self._on_idle)
        self.envelopes = EnvelopeJobs(self)
        self.envelopes.done.connect(self._on_envelope)
        self.envelopes.failed.connect(self._on_envelope_failed)
        build_ui(self)  # widgets and keys: app/file/panel_layout.py
        build_shortcuts(self)
        self.drops = DropOpener(self.open_dropped, self)
        self.drops.watch(self)
        if isinstance(main_window, QtWidgets.QMainWindow):  # drops anywhere on the window open files
            self.drops.watch(main_window)

        # runs only while there is something to follow (as the playhead's timer): an idle tab costs no CPU
        self._refresh_timer = QtCore.QTimer(self, interval=200)  # progressive curve: 5 redraws a second
        self._refresh_timer.timeout.connect(self._refresh_if_dirty)
        self._update_actions()

    # ================================================================================================== UI
    # -------------------------------------------------------------------------------------- main-window hooks
    def install_menus(self, menubar: QtWidgets.QMenuBar) -> None:
        """Add the File menu (or extend one that exists)."""
        menu = next(
            (a.menu() for a in menubar.actions() if a.menu() is not None and a.text().replace("&", "") == "File"), None
        )
        if menu is None:
            menu = QtWidgets.QMenu("&File", menubar)
            first = menubar.actions()[0] if menubar.actions() else None
            menubar.insertMenu(first, menu) if first else menubar.addMenu(menu)
        menu.addAction(self.act_open)
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(lambda: self.recent.fill(self.recent_menu))
        self.recent.fill(self.recent_menu)
        menu.addAction(self.act_close)
        menu.addSeparator()
        menu.addAction(self.act_analyse)
        menu.addAction(self.act_analyse_all)
        menu.addAction(self.act_cancel)
        menu.addSeparator()
        menu.addAction(self.act_export)
        menu.addAction(self.act_export_all)
        menu.addSeparator()
        menu.addAction(self.act_quit)
        self.file_menu = menu
        self.notes_menu = self.notes.install_menu(menubar, self)

    def status_widgets(self) -> list:
        return [self.status_label, self.progress, self.cancel_button]

    def confirm_close(self) -> bool:
        """The window is about to close: True when it may (each file's unsaved corrections saved or discarded, as the
        user answers); False when the user cancels, and then nothing has changed."""
        return self.notes.confirm_discard(list(self.docs))

    def shutdown(self) -> None:
        """The window closes: stop playback and threads, delete the temporary activation files."""
        self._refresh_timer.stop()
        self.playback.close()
        self.runner.shutdown()
        self.envelopes.cancel_all()
        self.view.wait_for_jobs(5000)
        self.notes.shutdown(5000)
        for doc in self.docs:
            doc.release()
        shutil.rmtree(self.runner.temp_dir, ignore_errors=True)
        self.settings.sync()

    def showEvent(self, event):  # noqa: N802 (Qt naming)
        super().showEvent(event)
        focus = QtWidgets.QApplication.focusWidget()
        if focus is None or not self.isAncestorOf(focus):
            self.view.pitch.setFocus(QtCore.Qt.OtherFocusReason)  # the tab's keys (Space...) work at once

    def _quit(self) -> None:
        win = self.window()
        win.close()
        QtWidgets.QApplication.instance().quit() if win is self else None

    # ================================================================================================== messages
    def report(self, level: str, text: str, title: Optional[str] = None) -> None:
        """Tell the user: recorded in :attr:`messages`, emitted, shown in a non-modal message box.

        ``level``: ``info``, ``warning`` or ``error``."""
        self.messages.append((level, text))
        self.message.emit(level, text)
        self.status_label.setText(text.splitlines()[0][:160])
        if not self.show_dialogs or level == "info":
            return
        icon = QtWidgets.QMessageBox.Critical if level == "error" else QtWidgets.QMessageBox.Warning
        box = QtWidgets.QMessageBox(icon, title or "PESTO Tracker", text, QtWidgets.QMessageBox.Ok, self)
        box.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        box.setWindowModality(QtCore.Qt.NonModal)
        self._dialogs = [d for d in self._dialogs if _alive(d)] + [box]
        box.show()  # not open()/exec(): the window stays usable and nothing waits on the box

    def open_dialogs(self) -> list:
        """Message boxes still open (tests close them)."""
        self._dialogs = [d for d in self._dialogs if _alive(d) and d.isVisible()]
        return list(self._dialogs)

    # ================================================================================================== files
    def open_dialog(self) -> None:
        start = self.settings.get("last_dir", "") or str(Path.home())
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Open audio files", str(start), AUDIO_FILTER)
        if paths:
            self.open_files(paths)

    def open_files(self, paths: Sequence[str]) -> List[fd.FileDocument]:
        """Open files (already open ones are selected again); unreadable ones get one message listing them.

        Returns the documents opened or selected."""
        opened, errors = [], []
        for path in paths:
            path = str(path)
            existing = self._find(path)
            if existing is not None:
                opened.append(existing)
                continue
            try:
                doc = fd.FileDocument(path)
            except PestoError as e:
                errors.append(str(e))
                continue
            except Exception as e:  # whatever a strange file does, the app stays usable
                errors.append(f"{path}: cannot open ({type(e).__name__}: {e})")
                continue
            self.docs.append(doc)
            item = QtWidgets.QListWidgetItem(doc.summary())
            item.setToolTip(str(doc.path))
            self.file_list.addItem(item)
            self.recent.add(str(doc.path))
            self.envelopes.start(doc)
            opened.append(doc)
            if self.settings_box.analyse_on_open.isChecked():
                self.runner.enqueue(doc, None)
        if opened:
            self.settings.set("last_dir", str(opened[-1].path.parent))
            self.file_list.setCurrentRow(self.docs.index(opened[-1]))
        if errors:
            n = len(errors)
            self.report(
                "error",
                ("This file cannot be opened:\n\n" if n == 1 else f"{n} files cannot be opened:\n\n")
                + "\n".join(errors),
                "Cannot open",
            )
        self._update_actions()
        self.runner.start_next()
        return opened

    def _list_menu(self, pos: QtCore.QPoint) -> None:
        item = self.file_list.itemAt(pos)
        if item is None:
            return
        self.file_list.setCurrentItem(item)
        menu = QtWidgets.QMenu(self)
        menu.addAction(self.act_analyse)
        menu.addAction(self.act_export)
        menu.addSeparator()
        menu.addAction(self.act_close)
        menu.popup(self.file_list.viewport().mapToGlobal(pos))

    def _find(self, path: str) -> Optional[fd.FileDocument]:
        p = Path(path).expanduser().absolute()
        return next((d for d in self.docs if d.path == p), None)

    def current_doc(self) -> Optional[fd.FileDocument]:
        row = self.file_list.currentRow()
        return self.docs[row] if 0 <= row < len(self.docs) else None

    def close_current(self) -> None:
        doc = self.current_doc()
        if doc is not None:
            self.close_document(doc)

    def close_document(self, doc: fd.FileDocument) -> bool:
        """Close a file: its queued jobs go, a running analysis of it is cancelled, its temporary data deleted.

        Unsaved corrections of its notes are saved or discarded first, as the user answers; False (the file stays
        open, untouched) when the user cancels."""
        if not self.notes.confirm_discard([doc]):
            return False
        self.runner.forget(doc)
        self.envelopes.cancel(doc)
        if self.view.doc is doc:
            self.playback.player.stop()
        self.notes.forget(doc)
        row = self.docs.index(doc)
        self.docs.pop(row)
        self.file_list.takeItem(row)
        self.view.wait_for_jobs(5000)
        doc.release()
        if not self.docs:
            self._show(None)
        self._update_actions()
        return True

    def _on_envelope(self, doc, mins, maxs, bucket_s) -> None:
        doc.envelope = (mins, maxs, bucket_s)
        self.view.set_envelope(doc)

    def _on_envelope_failed(self, doc, message: str) -> None:
        # the same defect stops the analysis, which reports it; report here only if no analysis will
        if doc in self.docs and doc.state not in (fd.ANALYSING, fd.QUEUED) and not self.queue.has(doc):
            self.report("error", f"This file cannot be read:\n\n{message}", "Cannot read")

    # -------------------------------------------------------------------------------------------- recent / drops
    def recent_files(self) -> List[str]:
        return self.recent.paths()

    def open_dropped(self, paths: List[str]) -> None:
        """Open what was dropped (files, and the audio files of dropped folders) and show this tab."""
        tabs = self.parent()
        while tabs is not None and not isinstance(tabs, QtWidgets.QTabWidget):
            tabs = tabs.parent()
        if tabs is not None:
            tabs.setCurrentWidget(self)
        self.open_files(audio_files(paths))

    # ================================================================================================== analysis
    def current_settings(self) -> AnalysisSettings:
        return self.settings_box.analysis_settings()

    def analyse_current(self) -> None:
        doc = self.current_doc()
        if doc is not None:
            self.analyse([doc], force=True)

    def analyse_all(self) -> None:
        self.analyse(list(self.docs))

    def analyse(self, docs: Sequence[fd.FileDocument], force: bool = False) -> bool:
        """Queue analyses with the current settings (skipping documents already analysed with them unless
        ``force``).

        A new analysis replaces a document's notes: unsaved corrections are saved or discarded first, as the user
        answers (saved ones are applied to the new analysis); False (nothing queued) when the user cancels."""
        todo = [doc for doc in docs if force or not self._up_to_date(doc)]
        if not self.notes.confirm_discard(todo):
            return False
        for doc in todo:
            self.runner.enqueue(doc, None)
        self.runner.start_next()
        return True

    def _up_to_date(self, doc: fd.FileDocument) -> bool:
        return (
            doc.complete
            and doc.settings == self.current_settings()
            and getattr(doc, "analysed_channel", None) == doc.channel
        )

    def cancel(self) -> None:
        """Cancel the running analysis and everything queued (an export being written finishes: it is atomic)."""
        self.runner.cancel()
        self._update_actions()

    @property
    def busy(self) -> bool:
        """A job (analysis or export) is running."""
        return self.runner.busy

    @property
    def queue(self):
        """The :class:`~app.file.jobs.JobQueue` of analyses and exports."""
        return self.runner.queue

    @property
    def worker(self) -> Optional[AnalysisWorker]:
        """The analysis running now, or None."""
        return self.runner.worker

    # signals of the runner, shown here
    def _on_analysis_starting(self, doc: fd.FileDocument) -> None:
        self.notes.forget(doc)
        if self.view.doc is doc:
            self.view.set_document(None)  # its arrays and activation file are about to be replaced
            self.notes.show(None)  # and its notes

    def _on_job_started(self, doc: fd.FileDocument, text: str) -> None:
        analysing = self.runner.worker is not None
        if analysing and self.current_doc() is doc:
            self.view.set_document(doc)
            self.notes.show(doc)
        self._set_busy_ui(True, text)
        if analysing:
            self._refresh_timer.start()
        else:
            self.progress.setRange(0, 0)  # busy indicator: writing has no useful progress

    def _on_piece(self, doc: fd.FileDocument) -> None:
        if self.view.doc is doc:
            self._dirty = True

    def _on_job_finished(self, doc: fd.FileDocument, status: str) -> None:
        if self.view.doc is doc:
            self.view.refresh()
        if status == "done":
            self.notes.analysis_done(doc)
        self._update_actions()
        self.job_finished.emit(doc, status)

    def _on_export_finished(self, paths, error: str) -> None:
        self.progress.setRange(0, 1000)
        self.export_finished.emit(paths, error)

    def _on_idle(self) -> None:
        self._set_busy_ui(False)
        self._refresh_timer.stop()
        self._refresh_if_dirty()
        self.idle.emit()

    def _refresh_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.view.refresh()

    def _on_settings_changed(self) -> None:
        for doc in self.docs:
            self._update_item(doc)
        self._update_actions()

    def _on_channel_changed(self, channel: int) -> None:
        doc = self.current_doc()
        if doc is None:
            return
        doc.channel = None if channel is None or channel < 0 else int(channel)
        if self.view.doc is doc:
            self.playback.player.stop()
            self.playback.load(doc)
        self.envelopes.start(doc)
        self._update_item(doc)
        self._update_actions()

    # ================================================================================================== export
    def export_dialog(self) -> None:
        doc = self.current_doc()
        if doc is None:
            self.report("warning", "Open and analyse a file first.")
            return
        dialog = self._export_dialog(f"Export {doc.name}", allow_view=True)
        dialog.set_view_range(*self.view.visible_range())
        dialog.accepted.connect(lambda: self.export([doc], self.runner.exports.remember(dialog.options())))
        dialog.open()

    def export_all_dialog(self) -> None:
        if not self.docs:
            self.report("warning", "No open files to export.")
            return
        dialog = self._export_dialog(f"Export {len(self.docs)} open file(s)", allow_view=False)
        dialog.accepted.connect(lambda: self.export(list(self.docs), self.runner.exports.remember(dialog.options())))
        dialog.open()

    def _export_dialog(self, title: str, allow_view: bool):
        dialog = self.runner.exports.dialog(self, title, allow_view)
        self._dialogs.append(dialog)
        return dialog

    def export(self, docs: Sequence[fd.FileDocument], options: ExportOptions) -> None:
        """Export each document; those without a finished analysis are analysed first (current settings).

        The outcome comes as ``export_finished(paths, error)`` per file and one summary message at the end. Notes
        segmented for the export are named against the tab's reference A4 (notes already known keep theirs)."""
        self.runner.export(docs, replace(options, a4_hz=self.notes.default_a4_hz))

    # ================================================================================================== playback
    @property
    def player(self):
        """The :class:`~app.file.player.Player` of the document shown."""
        return self.playback.player

    def toggle_play(self) -> None:
        self.playback.toggle()

    def play(self, start_s: Optional[float] = None) -> bool:
        return self.playback.play(start_s)

    def stop_playback(self) -> None:
        self.playback.stop()

    def seek(self, t_s: float) -> None:
        """Move the playhead to ``t_s`` (a click); playback goes on from there if it was playing."""
        self.playback.seek(t_s)

    # ================================================================================================== UI state
    def _on_current_changed(self, row: int) -> None:
        doc = self.docs[row] if 0 <= row < len(self.docs) else None
        self._show(doc)

    def _show(self, doc: Optional[fd.FileDocument]) -> None:
        self.view.set_document(doc)
        self.notes.show(doc)
        self.settings_box.set_channels(doc.info.channels if doc else 0, doc.channel if doc else None)
        self.playback.show(doc)
        self._update_actions()

    def _update_item(self, doc: fd.FileDocument) -> None:
        if doc not in self.docs:
            return
        item = self.file_list.item(self.docs.index(doc))
        text = doc.summary()
        if doc.complete and not self._up_to_date(doc):
            text = text.replace(f"· {fd.DONE}", f"· {fd.DONE} (other settings)")
        if doc.notes is not None and doc.notes.unsaved:
            text += " · notes corrected, not saved"
        item.setText(text)
        color = {fd.FAILED: QtGui.QColor(200, 40, 40), fd.CANCELLED: QtGui.QColor(170, 110, 0)}.get(doc.state)
        item.setForeground(color if color is not None else self.file_list.palette().text().color())
        item.setToolTip(f"{doc.path}\n{doc.message}" if doc.message else str(doc.path))

    def _set_busy_ui(self, busy: bool, text: str = "") -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 1000)
            self.progress.setValue(0)
            self.status_label.setText(text)
        self._update_actions()

    def _update_actions(self) -> None:
        doc = self.current_doc()
        has = doc is not None
        self.act_analyse.setEnabled(has)
        self.act_analyse.setText("Re-analyse" if has and doc.complete else "Analyse")
        self.act_analyse_all.setEnabled(bool(self.docs))
        self.act_cancel.setEnabled(self.queue.busy or bool(self.queue))
        self.act_export.setEnabled(has)
        self.act_export_all.setEnabled(bool(self.docs))
        self.act_close.setEnabled(has)
        self.act_play.setEnabled(has and self.playback.available)
        self.act_stop.setEnabled(has and self.playback.available)
        if not self.playback.available:
            self.act_play.setToolTip(f"Playback unavailable: {self.player.reason}")


def _alive(widget) -> bool:
    try:
        widget.objectName()
        return True
    except RuntimeError:  # the C++ object was deleted (closed with WA_DeleteOnClose)
        return False
