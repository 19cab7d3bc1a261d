"""The File tab: open recordings, analyse them on a worker thread, inspect the pitch curve, play them back with a
cursor, export what ``pesto`` would write.

Data path: file -> :class:`~app.file.analysis.AnalysisWorker` (engine, worker thread) -> pieces of numpy arrays
-> :class:`~app.file.document.FileDocument` (GUI thread) -> :class:`~app.file.view.FileView` (redrawn by a timer);
:mod:`app.file.export` writes the exports; :class:`~app.file.player.Player` plays the file.

Work is queued: one analysis (or export) runs at a time, so "analyse and export all" is a queue of
(document, export options) jobs that the Cancel button empties. Messages for the user (a file that cannot be read,
an export location that cannot be written...) go through :meth:`FilePanel.report`, which records them in
:attr:`FilePanel.messages` and shows a non-modal message box (tests read the record and never block on a dialog).

Threading: every method here runs on the GUI thread.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from pesto_core.errors import PestoError

from ..common.settings import Settings
from . import document as fd
from .analysis import AnalysisSettings, AnalysisWorker, ModelCache, check_settings
from .export import ExportDialog, ExportOptions, ExportThread, describe_written, write_png_file
from .player import Player
from .settings_box import SettingsBox
from .view import FileView
from .waveform import EnvelopeWorker

RECENT_MAX = 10
AUDIO_EXTENSIONS = frozenset("wav flac ogg oga opus mp3 aif aiff aifc au snd caf w64 rf64 wv voc".split())
AUDIO_FILTER = ("Audio files (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.aif *.aiff *.au *.caf *.w64 *.rf64);;"
                "All files (*)")


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

    def __init__(self, main_window: Optional[QtWidgets.QWidget] = None, *, settings: Optional[Settings] = None,
                 show_dialogs: bool = True):
        super().__init__(main_window)
        self.main_window = main_window
        self.settings = settings if settings is not None else Settings("file")  # keys "file/..."; tests pass their own
        self.show_dialogs = show_dialogs
        self.messages: List[tuple] = []
        self.docs: List[fd.FileDocument] = []
        self.models = ModelCache()
        self.temp_dir = tempfile.mkdtemp(prefix="pesto-tracker-")
        self._queue: List[tuple] = []  # (doc, ExportOptions or None)
        self._job: Optional[tuple] = None
        self._worker: Optional[AnalysisWorker] = None
        self._export_thread: Optional[ExportThread] = None
        self._envelope_workers = {}
        self._dirty = False
        self._dialogs = []
        self._batch_written: List[Path] = []
        self._batch_errors: List[str] = []
        self._was_playing = False

        self.player = Player()
        self._build_ui()
        self._build_shortcuts()
        self.setAcceptDrops(True)
        if isinstance(main_window, QtWidgets.QMainWindow):  # drops anywhere on the window open files
            main_window.setAcceptDrops(True)
            main_window.installEventFilter(self)

        # both timers run only while there is something to follow: an idle tab costs no CPU
        self._refresh_timer = QtCore.QTimer(self, interval=200)  # progressive curve: 5 redraws a second
        self._refresh_timer.timeout.connect(self._refresh_if_dirty)
        self._play_timer = QtCore.QTimer(self, interval=33)  # playhead at 30 Hz
        self._play_timer.timeout.connect(self._poll_player)
        self._update_actions()

    # ================================================================================================== UI
    def _build_ui(self) -> None:
        self.settings_box = SettingsBox(self.settings)
        self.file_list = QtWidgets.QListWidget()
        self.file_list.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.file_list.currentRowChanged.connect(self._on_current_changed)
        self.file_list.setContextMenuPolicy(QtCore.Qt.CustomContextMenu)
        self.file_list.customContextMenuRequested.connect(self._list_menu)
        self.file_list.setToolTip("Open files (drop audio files here)")
        self.file_list.setWordWrap(True)
        self.file_list.setTextElideMode(QtCore.Qt.ElideMiddle)
        self.file_list.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.file_list.setSpacing(2)
        self.view = FileView()
        self.view.gate = self.settings_box.gate_value
        self.view.show_heatmap = self.settings_box.heatmap.isChecked()
        self.view.follow = self.settings_box.follow.isChecked()
        self.view.refined = self.settings_box.refined.isChecked()
        self.view.seek_requested.connect(self.seek)

        # actions (also in the File menu)
        self.act_open = QtGui.QAction("&Open...", self, shortcut=QtGui.QKeySequence.Open, triggered=self.open_dialog)
        self.act_analyse = QtGui.QAction("&Analyse", self, shortcut="Ctrl+R", triggered=self.analyse_current)
        self.act_analyse_all = QtGui.QAction("Analyse a&ll", self, triggered=self.analyse_all)
        self.act_cancel = QtGui.QAction("&Cancel analysis", self, triggered=self.cancel)
        self.act_export = QtGui.QAction("&Export CSV/NPZ/PNG...", self, shortcut="Ctrl+E",
                                        triggered=self.export_dialog)
        self.act_export_all = QtGui.QAction("Export all open files...", self, shortcut="Ctrl+Shift+E",
                                            triggered=self.export_all_dialog)
        self.act_close = QtGui.QAction("Close file", self, shortcut=QtGui.QKeySequence.Close,
                                       triggered=self.close_current)
        self.act_quit = QtGui.QAction("&Quit", self, shortcut=QtGui.QKeySequence.Quit, triggered=self._quit)
        self.act_play = QtGui.QAction("Play", self, triggered=self.toggle_play)
        self.act_play.setToolTip("Play / pause (Space)")

        bar = QtWidgets.QToolBar()
        bar.setToolButtonStyle(QtCore.Qt.ToolButtonTextOnly)
        for act in (self.act_open, self.act_analyse, self.act_analyse_all, self.act_cancel):
            bar.addAction(act)
        bar.addSeparator()
        bar.addAction(self.act_play)
        self.act_stop = bar.addAction("Stop", self.stop_playback)
        self.time_label = QtWidgets.QLabel("0:00.000 / 0:00.000")
        self.time_label.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont))
        self.time_label.setContentsMargins(8, 0, 8, 0)
        bar.addWidget(self.time_label)
        bar.addSeparator()
        bar.addAction(self.act_export)
        for widget in bar.findChildren(QtWidgets.QToolButton):  # Space must reach the play shortcut
            widget.setFocusPolicy(QtCore.Qt.NoFocus)
        self.playback_note = QtWidgets.QLabel()
        self.playback_note.setStyleSheet("color: #b36b00;")
        if not self.player.available:
            self.playback_note.setText(f"Playback unavailable: {self.player.reason}")
            self.playback_note.setToolTip(self.player.reason)
            self.playback_note.setWordWrap(True)

        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QtWidgets.QLabel("Open files"))
        left_layout.addWidget(self.file_list, 1)
        left_layout.addWidget(self.settings_box)
        left.setMinimumWidth(250)

        split = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(self.view)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([290, 900])

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(bar)
        layout.addWidget(self.playback_note)
        self.playback_note.setVisible(not self.player.available)
        layout.addWidget(split, 1)

        # status bar widgets (the main window places them)
        self.status_label = QtWidgets.QLabel("")
        self.status_label.setMaximumWidth(520)  # a long message must not widen the window
        self.progress = QtWidgets.QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)

        sb = self.settings_box
        sb.analysis_changed.connect(self._on_settings_changed)
        sb.channel_changed.connect(self._on_channel_changed)
        sb.gate_changed.connect(self.view.set_gate)
        sb.heatmap_toggled.connect(self.view.set_heatmap_visible)
        sb.follow_toggled.connect(lambda on: setattr(self.view, "follow", on))
        sb.refined_toggled.connect(self.view.set_refined)

    def _build_shortcuts(self) -> None:
        """Keys of the File tab only (the Live tab has its own): WidgetWithChildrenShortcut."""
        ctx = QtCore.Qt.WidgetWithChildrenShortcut
        keys = [
            ("Space", self.toggle_play),
            ("Left", lambda: self.view.pan_time(-0.2)), ("Right", lambda: self.view.pan_time(0.2)),
            ("Shift+Left", lambda: self.view.pan_time(-0.9)), ("Shift+Right", lambda: self.view.pan_time(0.9)),
            ("Up", lambda: self.view.pan_pitch(2)), ("Down", lambda: self.view.pan_pitch(-2)),
            ("+", lambda: self.view.zoom_time(0.5)), ("=", lambda: self.view.zoom_time(0.5)),
            ("-", lambda: self.view.zoom_time(2.0)),
            ("Shift+Up", lambda: self.view.zoom_pitch(0.7)), ("Shift+Down", lambda: self.view.zoom_pitch(1.4)),
            ("Home", self.view.show_all), ("F", self.view.fit_pitch),
            ("Escape", self.cancel),
        ]
        self.shortcuts = {}
        for key, slot in keys:
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), self, context=ctx)
            sc.activated.connect(slot)
            self.shortcuts[key] = sc

    # -------------------------------------------------------------------------------------- main-window hooks
    def install_menus(self, menubar: QtWidgets.QMenuBar) -> None:
        """Add the File menu (or extend one that exists)."""
        menu = next((a.menu() for a in menubar.actions() if a.menu() is not None
                     and a.text().replace("&", "") == "File"), None)
        if menu is None:
            menu = QtWidgets.QMenu("&File", menubar)
            first = menubar.actions()[0] if menubar.actions() else None
            menubar.insertMenu(first, menu) if first else menubar.addMenu(menu)
        menu.addAction(self.act_open)
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
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

    def status_widgets(self) -> list:
        return [self.status_label, self.progress, self.cancel_button]

    def shutdown(self) -> None:
        """The window closes: stop playback and threads, delete the temporary activation files."""
        self._refresh_timer.stop()
        self._play_timer.stop()
        self.player.close()
        self._queue.clear()
        if self._worker is not None:
            self._worker.cancel()
            self._worker.wait(10000)
        if self._export_thread is not None:
            self._export_thread.wait(60000)
        for worker in list(self._envelope_workers.values()):
            worker.cancel()
            worker.wait(5000)
        self.view._pool.waitForDone(5000)
        for doc in self.docs:
            doc.release()
        shutil.rmtree(self.temp_dir, ignore_errors=True)
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
            self._add_recent(str(doc.path))
            self._start_envelope(doc)
            opened.append(doc)
            if self.settings_box.analyse_on_open.isChecked():
                self._enqueue(doc, None)
        if opened:
            self.settings.set("last_dir", str(opened[-1].path.parent))
            self.file_list.setCurrentRow(self.docs.index(opened[-1]))
        if errors:
            n = len(errors)
            self.report("error", ("This file cannot be opened:\n\n" if n == 1 else
                                  f"{n} files cannot be opened:\n\n") + "\n".join(errors), "Cannot open")
        self._update_actions()
        self._start_next()
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

    def close_document(self, doc: fd.FileDocument) -> None:
        """Close a file: its queued jobs go, a running analysis of it is cancelled, its temporary data deleted."""
        self._queue = [j for j in self._queue if j[0] is not doc]
        if self._job is not None and self._job[0] is doc:
            if self._worker is not None:
                self._worker.cancel()
                self._worker.wait()
            if self._export_thread is not None:
                self._export_thread.wait()
        env = self._envelope_workers.pop(id(doc), None)
        if env is not None:
            env.cancel()
            env.wait()
        if self.view.doc is doc:
            self.player.stop()
        row = self.docs.index(doc)
        self.docs.pop(row)
        self.file_list.takeItem(row)
        self.view._pool.waitForDone(5000)
        doc.release()
        if not self.docs:
            self._show(None)
        self._update_actions()

    def _start_envelope(self, doc: fd.FileDocument) -> None:
        worker = EnvelopeWorker(doc.path, doc.channel, self)
        worker.done.connect(lambda mins, maxs, bucket_s, d=doc: self._on_envelope(d, mins, maxs, bucket_s))
        worker.failed.connect(lambda msg, d=doc: self._on_envelope_failed(d, msg))
        worker.finished.connect(lambda d=doc, w=worker: self._envelope_done(d, w))
        self._envelope_workers[id(doc)] = worker
        worker.start(QtCore.QThread.LowPriority)

    def _envelope_done(self, doc, worker) -> None:
        if self._envelope_workers.get(id(doc)) is worker:
            del self._envelope_workers[id(doc)]
        worker.deleteLater()

    def _on_envelope(self, doc, mins, maxs, bucket_s) -> None:
        doc.envelope = (mins, maxs, bucket_s)
        self.view.set_envelope(doc)

    def _on_envelope_failed(self, doc, message: str) -> None:
        # the same defect stops the analysis, which reports it; report here only if no analysis will
        if doc in self.docs and doc.state not in (fd.ANALYSING, fd.QUEUED) and \
                not any(j[0] is doc for j in self._queue):
            self.report("error", f"This file cannot be read:\n\n{message}", "Cannot read")

    # -------------------------------------------------------------------------------------------- recent files
    def recent_files(self) -> List[str]:
        return [p for p in self.settings.get("recent", []) if p]

    def _add_recent(self, path: str) -> None:
        recent = [path] + [p for p in self.recent_files() if p != path]
        self.settings.set("recent", recent[:RECENT_MAX])

    def _fill_recent_menu(self) -> None:
        menu = getattr(self, "recent_menu", None)
        if menu is None:
            return
        menu.clear()
        recent = self.recent_files()
        for path in recent:
            act = menu.addAction(path, lambda p=path: self.open_files([p]))
            act.setEnabled(os.path.exists(path))
        if recent:
            menu.addSeparator()
            menu.addAction("Clear list", lambda: self.settings.set("recent", []))
        else:
            menu.addAction("(none)").setEnabled(False)

    # ================================================================================================== drops
    def _drop_paths(self, mime: QtCore.QMimeData) -> List[str]:
        if mime is None or not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]

    def dragEnterEvent(self, event):  # noqa: N802
        if self._drop_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event):  # noqa: N802
        self.dragEnterEvent(event)

    def dropEvent(self, event):  # noqa: N802
        paths = self._drop_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            QtCore.QTimer.singleShot(0, lambda: self._open_dropped(paths))

    def _open_dropped(self, paths: List[str]) -> None:
        tabs = self.parent()
        while tabs is not None and not isinstance(tabs, QtWidgets.QTabWidget):
            tabs = tabs.parent()
        if tabs is not None:
            tabs.setCurrentWidget(self)
        folders = [p for p in paths if os.path.isdir(p)]
        files = [p for p in paths if not os.path.isdir(p)]
        for folder in folders:  # a dropped folder opens the audio files in it
            files += sorted(str(p) for p in Path(folder).iterdir()
                            if p.is_file() and p.suffix.lower().lstrip(".") in AUDIO_EXTENSIONS)
        self.open_files(files)

    def eventFilter(self, obj, event):  # noqa: N802  (drops on the main window, outside this tab)
        if obj is self.main_window and event.type() in (QtCore.QEvent.DragEnter, QtCore.QEvent.DragMove):
            if self._drop_paths(event.mimeData()):
                event.acceptProposedAction()
                return True
        if obj is self.main_window and event.type() == QtCore.QEvent.Drop:
            paths = self._drop_paths(event.mimeData())
            if paths:
                event.acceptProposedAction()
                QtCore.QTimer.singleShot(0, lambda: self._open_dropped(paths))
                return True
        return super().eventFilter(obj, event)

    # ================================================================================================== analysis
    def current_settings(self) -> AnalysisSettings:
        return self.settings_box.analysis_settings()

    def analyse_current(self) -> None:
        doc = self.current_doc()
        if doc is not None:
            self.analyse([doc], force=True)

    def analyse_all(self) -> None:
        self.analyse(list(self.docs))

    def analyse(self, docs: Sequence[fd.FileDocument], force: bool = False) -> None:
        """Queue analyses with the current settings (skipping documents already analysed with them unless
        ``force``)."""
        for doc in docs:
            if force or not self._up_to_date(doc):
                self._enqueue(doc, None)
        self._start_next()

    def _up_to_date(self, doc: fd.FileDocument) -> bool:
        return doc.complete and doc.settings == self.current_settings() and \
            getattr(doc, "analysed_channel", None) == doc.channel

    def _enqueue(self, doc, export: Optional[ExportOptions]) -> None:
        if self._job is not None and self._job[0] is doc and export is None and self._worker is not None:
            return  # it is being analysed
        if any(j[0] is doc and j[1] is None for j in self._queue) and export is None:
            return
        self._queue.append((doc, export))
        if doc.state not in (fd.ANALYSING,) and not doc.complete:
            doc.state = fd.QUEUED
        self._update_item(doc)

    def cancel(self) -> None:
        """Cancel the running analysis and everything queued (an export being written finishes: it is atomic)."""
        dropped = self._queue
        self._queue = []
        for doc, _ in dropped:
            if doc.state == fd.QUEUED:
                doc.state = fd.NEW
            self._update_item(doc)
        if self._worker is not None:
            self._worker.cancel()
            self.status_label.setText("Cancelling...")
        self._update_actions()

    @property
    def busy(self) -> bool:
        return self._job is not None

    def _start_next(self) -> None:
        if self._job is not None:
            return
        while self._queue:
            doc, export = self._queue.pop(0)
            if doc not in self.docs:
                continue
            if export is not None and doc.complete:  # exported as analysed (its settings are in the files)
                self._job = (doc, export)
                self._start_export(doc, export)
                return
            problem = check_settings(self.current_settings())
            if problem:
                self.report("error", f"Cannot analyse: {problem}")
                continue
            self._job = (doc, export)
            self._start_analysis(doc)
            return
        self._set_busy_ui(False)
        self._refresh_timer.stop()
        self._refresh_if_dirty()
        self._finish_batch()
        self.idle.emit()

    def _start_analysis(self, doc: fd.FileDocument) -> None:
        settings = self.current_settings()
        if self.view.doc is doc:
            self.view.set_document(None)
        try:
            store = doc.begin(settings, self.temp_dir)
        except (OSError, PestoError) as e:
            doc.finish("failed", f"{doc.path}: cannot start the analysis ({e})")
            self._job = None
            self.report("error", doc.message)
            self._start_next()
            return
        doc.analysed_channel = doc.channel
        worker = AnalysisWorker(str(doc.path), settings, doc.channel, store, self.models, self)
        worker.piece_ready.connect(lambda piece, d=doc: self._on_piece(d, piece))
        worker.progress.connect(self._on_progress)
        worker.outcome.connect(lambda status, msg, d=doc: self._on_outcome(d, status, msg))
        self._worker = worker
        if self.current_doc() is doc:
            self.view.set_document(doc)
        self._set_busy_ui(True, f"Analysing {doc.name}")
        self._update_item(doc)
        self._refresh_timer.start()
        worker.start()

    def _on_piece(self, doc: fd.FileDocument, piece: dict) -> None:
        if doc.store is None or doc.state != fd.ANALYSING:
            return
        doc.receive(piece)
        if self.view.doc is doc:
            self._dirty = True

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setValue(int(1000 * done / max(total, 1)))
        if self._job is not None:
            self._update_item(self._job[0])

    def _on_outcome(self, doc: fd.FileDocument, status: str, message: str) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        if doc not in self.docs:  # closed meanwhile
            self._job = None
            self._start_next()
            return
        doc.finish(status, message)
        self._update_item(doc)
        if self.view.doc is doc:
            self.view.refresh()
        export = self._job[1] if self._job else None
        self._job = None
        if status == "done":
            self.status_label.setText(f"Analysed {doc.name} ({doc.settings.describe()})")
        elif status == "cancelled":
            self.status_label.setText(f"Analysis of {doc.name} cancelled: partial result shown, nothing written")
        elif export is None:
            self.report("error", f"The analysis failed:\n\n{doc.message}", "Analysis failed")
        else:  # part of an export batch: reported once in its summary
            self._batch_errors.append(doc.message)
        self.job_finished.emit(doc, status)
        if status == "done" and export is not None:
            self._job = (doc, export)
            self._start_export(doc, export)
            return
        self._update_actions()
        self._start_next()

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
            self.player.stop()
            self._load_player(doc)
        self._start_envelope(doc)
        self._update_item(doc)
        self._update_actions()

    # ================================================================================================== export
    def export_dialog(self) -> None:
        doc = self.current_doc()
        if doc is None:
            self.report("warning", "Open and analyse a file first.")
            return
        dialog = self._make_export_dialog(f"Export {doc.name}", allow_view=True)
        dialog.set_view_range(*self.view.visible_range())
        dialog.accepted.connect(lambda: self.export([doc], self._remember_export(dialog.options())))
        dialog.open()

    def export_all_dialog(self) -> None:
        if not self.docs:
            self.report("warning", "No open files to export.")
            return
        dialog = self._make_export_dialog(f"Export {len(self.docs)} open file(s)", allow_view=False)
        dialog.accepted.connect(lambda: self.export(list(self.docs), self._remember_export(dialog.options())))
        dialog.open()

    def _make_export_dialog(self, title: str, allow_view: bool) -> ExportDialog:
        q = self.settings
        dialog = ExportDialog(self, title=title, formats=tuple(q.get("export_formats", ["csv", "npz"])),
                              output_dir=q.get("export_dir", ""), convert_to_freq=q.get("export_hz", True),
                              allow_view=allow_view, refined=q.get("export_refined", False))
        dialog.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        self._dialogs.append(dialog)
        return dialog

    def _remember_export(self, options: ExportOptions) -> ExportOptions:
        q = self.settings
        q.set("export_formats", list(options.formats))
        q.set("export_dir", options.output_dir or "")
        q.set("export_hz", options.convert_to_freq)
        q.set("export_refined", options.refined)
        return options

    def export(self, docs: Sequence[fd.FileDocument], options: ExportOptions) -> None:
        """Export each document; those without a finished analysis are analysed first (current settings).

        The outcome comes as ``export_finished(paths, error)`` per file and one summary message at the end."""
        self._batch_written, self._batch_errors = [], []
        self._batch_total = len(docs)
        for doc in docs:
            self._enqueue(doc, options)
        self._start_next()

    def _start_export(self, doc: fd.FileDocument, options: ExportOptions) -> None:
        self._set_busy_ui(True, f"Exporting {doc.name}")
        self.progress.setRange(0, 0)  # busy indicator: writing has no useful progress
        thread = ExportThread(doc, options, self)
        thread.outcome.connect(lambda paths, error, d=doc, o=options: self._on_export_data(d, o, paths, error))
        self._export_thread = thread
        thread.start()

    def _on_export_data(self, doc, options: ExportOptions, paths, error: str) -> None:
        thread, self._export_thread = self._export_thread, None
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        paths = list(paths)
        if not error and "png" in options.formats:
            # Qt draws the picture, on this thread: seconds for an hour-long file (render.py pools it all here)
            QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.WaitCursor)
            try:
                paths += write_png_file(doc, options)
            except PestoError as e:
                error = str(e)
            except Exception as e:
                error = f"{doc.path}: PNG export failed ({type(e).__name__}: {e})"
            finally:
                QtWidgets.QApplication.restoreOverrideCursor()
        self.progress.setRange(0, 1000)
        self._batch_written += paths
        if error:
            self._batch_errors.append(error)
        self.export_finished.emit(paths, error)
        self._job = None
        self._start_next()

    def _finish_batch(self) -> None:
        written, errors = self._batch_written, self._batch_errors
        if not written and not errors:
            return
        self._batch_written, self._batch_errors = [], []
        if errors:
            self.report("error", "Export failed:\n\n" + "\n".join(errors) +
                        (f"\n\nWritten: {describe_written(written)}" if written else ""), "Export failed")
        else:
            folder = Path(written[0]).parent
            self.report("info", f"Exported {len(written)} file(s) to {folder}: {describe_written(written)}")

    # ================================================================================================== playback
    def _load_player(self, doc: Optional[fd.FileDocument]) -> None:
        if not self.player.available or doc is None:
            return
        try:
            self.player.load(doc.path, doc.channel)
            self.player.seek(doc.playhead_s)
        except Exception as e:
            self.report("warning", f"{doc.path}: cannot be played ({e})")

    def toggle_play(self) -> None:
        if not self.player.available:
            self.report("warning", f"Playback is unavailable: {self.player.reason}")
            return
        if self.current_doc() is None:
            return
        if not self.player.loaded:
            self._load_player(self.current_doc())
        if self.player.playing:
            self.player.pause()
        elif not self.player.play():
            self.report("error", self.player.error, "Playback")
        self._update_play_ui()

    def play(self, start_s: Optional[float] = None) -> bool:
        if not self.player.available or self.current_doc() is None:
            return False
        ok = self.player.play(start_s)
        if not ok:
            self.report("error", self.player.error, "Playback")
        self._update_play_ui()
        return ok

    def stop_playback(self) -> None:
        self.player.stop()
        self.view.set_playhead(0.0)
        self._update_play_ui()

    def seek(self, t_s: float) -> None:
        """Move the playhead to ``t_s`` (a click); playback goes on from there if it was playing."""
        if self.player.available and self.player.loaded:
            self.player.seek(t_s)
        self.view.set_playhead(t_s)
        self._show_time(t_s)

    def _poll_player(self) -> None:
        doc = self.view.doc
        if doc is None or not self.player.loaded:
            self._play_timer.stop()
            return
        playing = self.player.playing
        if playing or self._was_playing:
            t = self.player.position_s()
            self.view.set_playhead(t, follow=True)
            self._show_time(t)
            if self.player.playing != self._was_playing or not self.player.playing:
                self._update_play_ui()
        if not playing and not self._was_playing:
            self._play_timer.stop()  # stopped (end of file, or paused): nothing to follow
        self._was_playing = self.player.playing

    def _show_time(self, t: float) -> None:
        dur = self.view.doc.duration_s if self.view.doc else 0.0
        self.time_label.setText(f"{_clock(t)} / {_clock(dur)}")

    def _update_play_ui(self) -> None:
        playing = self.player.playing
        self.act_play.setText("Pause" if playing else "Play")
        if playing and not self._play_timer.isActive():
            self._was_playing = False
            self._play_timer.start()

    # ================================================================================================== UI state
    def _on_current_changed(self, row: int) -> None:
        doc = self.docs[row] if 0 <= row < len(self.docs) else None
        self._show(doc)

    def _show(self, doc: Optional[fd.FileDocument]) -> None:
        if self.player.playing:
            self.player.pause()
        self.view.set_document(doc)
        self.settings_box.set_channels(doc.info.channels if doc else 0, doc.channel if doc else None)
        if doc is not None:
            self._load_player(doc)
            self._show_time(doc.playhead_s)
        self._update_play_ui()
        self._update_actions()

    def _update_item(self, doc: fd.FileDocument) -> None:
        if doc not in self.docs:
            return
        item = self.file_list.item(self.docs.index(doc))
        text = doc.summary()
        if doc.complete and not self._up_to_date(doc):
            text = text.replace(f"· {fd.DONE}", f"· {fd.DONE} (other settings)")
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
        self.act_cancel.setEnabled(self._job is not None or bool(self._queue))
        self.act_export.setEnabled(has)
        self.act_export_all.setEnabled(bool(self.docs))
        self.act_close.setEnabled(has)
        self.act_play.setEnabled(has and self.player.available)
        self.act_stop.setEnabled(has and self.player.available)
        if not self.player.available:
            self.act_play.setToolTip(f"Playback unavailable: {self.player.reason}")


def _clock(t: float) -> str:
    m, s = divmod(max(t, 0.0), 60)
    return f"{int(m)}:{s:06.3f}"


def _alive(widget) -> bool:
    try:
        widget.objectName()
        return True
    except RuntimeError:  # the C++ object was deleted (closed with WA_DeleteOnClose)
        return False
