"""The notes of the File tab: segmentation after each finished analysis (a thread-pool job), the boxes on the pitch
plot and the summary, pointing at / clicking on notes, the corrections with undo/redo (the Notes menu), and the
sidecar file that keeps the corrections of a take (:mod:`app.file.notes_model`), the reference A4 the notes are
named against, and the question asked before unsaved corrections would be lost (:meth:`NotesController.
confirm_discard`).

Data path: finished analysis -> :func:`pesto_core.notes.segment_notes` (thread pool) -> :class:`~app.file.
notes_model.NotesModel` in the document -> :class:`~app.file.notes_view.NotesOverlay` (plot) +
:class:`~app.file.notes_summary.NotesSummaryWidget`. A sidecar next to the audio (``<stem>.notes.json``) is read
when the analysis finishes: its corrections (and its A4) are applied to the new analysis.

Reference: each document's notes have their own A4 (:attr:`NotesModel.a4_hz`, saved in the sidecar); a change of
it (:meth:`NotesController.set_reference`, the File tab's "A4" box) renames the current document's notes, undoably,
and becomes the reference of the notes segmented from then on (:attr:`NotesController.default_a4_hz`).

Threading: GUI thread, except :meth:`_SegmentJob.run` (thread pool; reads the finished document's arrays).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ..common.threads import lower_thread_priority
from . import document as fd
from .notes_model import NotesModel, SidecarError, check_a4_hz, sidecar_path
from .notes_summary import NotesSummaryWidget
from .notes_view import NotesOverlay, note_details
from .view import FileView

REFERENCE_MERGE_MS = 1500  # changes of A4 this close together make one undo entry (ms)


def ask_save_corrections(parent: Optional[QtWidgets.QWidget], doc: fd.FileDocument) -> str:
    """Ask whether to save ``doc``'s corrections before they are lost: ``"save"``, ``"discard"`` or ``"cancel"``
    (the window's close button and Escape are Cancel). A modal message box (GUI thread)."""
    name = sidecar_path(doc.path).name
    box = QtWidgets.QMessageBox(
        QtWidgets.QMessageBox.Question,
        "Unsaved corrections",
        f"Save corrections to {name}?",
        QtWidgets.QMessageBox.Save | QtWidgets.QMessageBox.Discard | QtWidgets.QMessageBox.Cancel,
        parent,
    )
    box.setObjectName("saveCorrectionsBox")
    box.setInformativeText(
        f"The notes of {doc.name} were corrected and the corrections are not saved. Saved, they come back when "
        "the file is opened again; discarded, they are lost."
    )
    box.setDefaultButton(QtWidgets.QMessageBox.Save)
    box.setEscapeButton(QtWidgets.QMessageBox.Cancel)
    box.exec()
    clicked = box.standardButton(box.clickedButton()) if box.clickedButton() is not None else None
    box.deleteLater()
    return {QtWidgets.QMessageBox.Save: "save", QtWidgets.QMessageBox.Discard: "discard"}.get(clicked, "cancel")


class _SegmentSignals(QtCore.QObject):
    done = QtCore.Signal(object, int, object, str)  # document, request, notes (list) or None, error


class _SegmentJob(QtCore.QRunnable):
    """Segments a finished document's track (thread pool)."""

    def __init__(self, doc: fd.FileDocument, request: int, refined: bool, a4_hz: float, signals: _SegmentSignals):
        super().__init__()
        self.doc, self.request, self.refined, self.a4_hz, self.signals = doc, request, refined, a4_hz, signals

    def run(self) -> None:  # thread pool
        lower_thread_priority()
        try:
            from pesto_core.notes import segment_notes

            track = self.doc.track(self.refined)
            notes = segment_notes(track, a4_hz=self.a4_hz)
        except Exception as e:  # reported, never silent
            self.signals.done.emit(self.doc, self.request, None, f"{type(e).__name__}: {e}")
            return
        self.signals.done.emit(self.doc, self.request, notes, "")


class NotesController(QtCore.QObject):
    """Notes of the documents of a :class:`~app.file.view.FileView`.

    Parameters
    ----------
    view : FileView
        Where the notes are drawn (its pitch plot) and whose document is current.
    report : callable(level, text, title=None)
        Tells the user.
    a4_hz : float
        The reference (Hz) of the notes segmented from now on (:attr:`default_a4_hz`).

    Signals: ``notes_ready(doc)`` when a document's notes are known (segmented, sidecar applied);
    ``changed(doc)`` after each correction, undo or redo; ``reference_shown(a4_hz)`` when the reference of the
    notes drawn changes (another document, an undo...), for the A4 box to show it.

    :attr:`ask_save` is the question asked before unsaved corrections would be lost: a callable ``(doc) -> "save" |
    "discard" | "cancel"``, by default a message box (:func:`ask_save_corrections`); tests may replace it.
    """

    notes_ready = QtCore.Signal(object)
    changed = QtCore.Signal(object)
    reference_shown = QtCore.Signal(float)

    def __init__(self, view: FileView, report: Callable[..., None], parent=None, *, a4_hz: float = 440.0):
        super().__init__(parent)
        self.view = view
        self.report = report
        self.default_a4_hz = check_a4_hz(a4_hz)
        self.ask_save: Callable[[fd.FileDocument], str] = lambda doc: ask_save_corrections(self.view.window(), doc)
        self._reference_clock = QtCore.QElapsedTimer()  # since the last change of A4 (a series merges in one undo)
        self.overlay = NotesOverlay(view.pitch, self)
        self.summary = NotesSummaryWidget()
        self.summary.setMinimumWidth(240)
        self._request = 0
        self._pending = {}  # document -> (request, A4 in Hz or None: the default when the notes arrive)
        self._signals = _SegmentSignals()
        self._signals.done.connect(self._on_segmented)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._build_actions()
        view.pitch.scene().sigMouseClicked.connect(self._on_click)
        self._mouse_proxy = pg.SignalProxy(
            view.pitch.scene().sigMouseMoved, rateLimit=60, slot=lambda args: self._on_mouse(args[0])
        )
        vb = view.pitch.getPlotItem().vb
        vb.sigXRangeChanged.connect(lambda *_: self._labels_timer.start())
        vb.sigYRangeChanged.connect(lambda *_: self._labels_timer.start())
        vb.sigResized.connect(lambda *_: self._labels_timer.start())  # labels are placed in pixels
        self._labels_timer = QtCore.QTimer(self, singleShot=True, interval=60)
        self._labels_timer.timeout.connect(self.overlay.update_labels)
        self.overlay.selection_changed.connect(lambda *_: self._update_actions())
        self.show(None)

    # ------------------------------------------------------------------------------------------------ actions
    def _build_actions(self) -> None:
        def action(text, shortcut, slot, tip=""):
            a = QtGui.QAction(text, self)
            if shortcut:
                a.setShortcut(QtGui.QKeySequence(shortcut))
                a.setShortcutContext(QtCore.Qt.WidgetWithChildrenShortcut)  # the File tab only
            if tip:
                a.setToolTip(tip)
                a.setStatusTip(tip)
            a.triggered.connect(lambda *_: slot())  # (not the "checked" argument)
            return a

        self.act_show = action("Show &notes", "N", lambda: self.set_visible(self.act_show.isChecked()))
        self.act_show.setCheckable(True)
        self.act_show.setChecked(True)
        self.act_octave_up = action(
            "Octave &up",
            "Ctrl+Up",
            lambda: self.shift(1),
            "Move the notes and the pitch curve of the selection an octave up",
        )
        self.act_octave_down = action(
            "Octave &down",
            "Ctrl+Down",
            lambda: self.shift(-1),
            "Move the notes and the pitch curve of the selection an octave down",
        )
        self.act_delete = action("De&lete notes", "Delete", self.delete, "Delete the notes of the selection")
        self.act_split = action(
            "&Split note at playhead", "Ctrl+B", self.split, "Cut the note under the playhead in two there"
        )
        self.act_merge = action(
            "&Merge selected notes", "Ctrl+M", self.merge, "Make the notes of the selection one note"
        )
        self.act_undo = action("&Undo", QtGui.QKeySequence.Undo, self.undo)
        self.act_redo = action("&Redo", "Ctrl+Shift+Z", self.redo)
        self.act_save = action(
            "Sa&ve corrections",
            QtGui.QKeySequence.Save,
            self.save,
            "Keep the corrected notes next to the audio (<name>.notes.json), reopened with it",
        )
        self.act_clear_sel = action("Clear selection", "", lambda: self.overlay.set_selection(None))
        self.actions = [
            self.act_show,
            self.act_octave_up,
            self.act_octave_down,
            self.act_delete,
            self.act_split,
            self.act_merge,
            self.act_undo,
            self.act_redo,
            self.act_save,
            self.act_clear_sel,
        ]

    def install_menu(self, menubar: QtWidgets.QMenuBar, shortcut_widget: QtWidgets.QWidget) -> QtWidgets.QMenu:
        """The Notes menu; the actions' keys work while the focus is in ``shortcut_widget`` (the File tab)."""
        menu = QtWidgets.QMenu("&Notes", menubar)
        for a in (
            self.act_undo,
            self.act_redo,
            None,
            self.act_octave_up,
            self.act_octave_down,
            self.act_delete,
            self.act_split,
            self.act_merge,
            self.act_clear_sel,
            None,
            self.act_save,
            None,
            self.act_show,
        ):
            menu.addSeparator() if a is None else menu.addAction(a)
        menubar.addMenu(menu)
        self.add_shortcuts(shortcut_widget)
        self.menu = menu
        return menu

    def add_shortcuts(self, widget: QtWidgets.QWidget) -> None:
        for a in self.actions:
            if a not in widget.actions():
                widget.addAction(a)

    # ------------------------------------------------------------------------------------------------ documents
    @property
    def doc(self) -> Optional[fd.FileDocument]:
        return self.view.doc

    @property
    def model(self) -> Optional[NotesModel]:
        doc = self.view.doc
        return doc.notes if doc is not None else None

    def analysis_done(self, doc: fd.FileDocument, a4_hz: Optional[float] = None) -> None:
        """A finished analysis: segment its notes (the sidecar's corrections applied when it has one), named against
        ``a4_hz`` (Hz; None: :attr:`default_a4_hz`)."""
        doc.notes = None
        self._request += 1
        self._pending[doc] = (self._request, a4_hz)
        refined = self.view.refined and doc.pitch_refined is not None
        a4 = self.default_a4_hz if a4_hz is None else float(a4_hz)
        self._pool.start(_SegmentJob(doc, self._request, refined, a4, self._signals))
        if doc is self.view.doc:
            self.show(doc)

    def resegment(self, docs) -> None:
        """The pitch drawn changed (refined or not): segment again the documents whose notes are uncorrected (the
        notes follow the curve drawn; corrected ones are kept as they are), against the same A4."""
        for doc in docs:
            if doc.complete and doc.notes is not None and not doc.notes.edited:
                self.analysis_done(doc, doc.notes.a4_hz)

    def forget(self, doc: fd.FileDocument) -> None:
        """``doc`` is closed or re-analysed: its pending segmentation is dropped."""
        self._pending.pop(doc, None)

    def wait(self, timeout_ms: int = 30000) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """The window closes: wait for a segmentation, let go of the plot (no reference cycles left behind)."""
        self._pending.clear()
        self._labels_timer.stop()
        self._pool.waitForDone(timeout_ms)
        if self._mouse_proxy is not None:
            self._mouse_proxy.disconnect()
            self._mouse_proxy = None
        self.overlay.detach()

    def _on_segmented(self, doc, request: int, notes, error: str) -> None:
        pending = self._pending.get(doc)
        if pending is None or pending[0] != request:
            return  # closed or re-analysed meanwhile
        del self._pending[doc]
        if not doc.complete:
            return
        if notes is None:
            self.report("error", f"{doc.path}: the notes could not be segmented ({error})")
            return
        refined = self.view.refined and doc.pitch_refined is not None
        # the default A4 as it is now: the user may have changed it while the job ran (the notes are renamed then)
        a4 = self.default_a4_hz if pending[1] is None else pending[1]
        model = NotesModel(notes, track=doc.track(refined), time_s=doc.time_s, a4_hz=a4)
        path = sidecar_path(doc.path)
        if path.exists():
            try:
                state, warning = NotesModel.read_sidecar(path, doc.duration_s, a4_hz=model.a4_hz)
                model.load_state(state)
                if warning:
                    self.report("warning", f"The saved corrections were applied, but:\n\n{warning}", "Corrections")
            except SidecarError as e:
                self.report("warning", f"The saved corrections were not applied:\n\n{e}", "Corrections")
        doc.notes = model
        if doc is self.view.doc:
            self.show(doc)
            if model.state.shifts:
                self.view.refresh()
        self.notes_ready.emit(doc)

    def show(self, doc: Optional[fd.FileDocument]) -> None:
        """Draw ``doc``'s notes (or nothing)."""
        model = doc.notes if doc is not None else None
        self.overlay.set_selection(None)
        self.overlay.set_notes(model.notes if model is not None else [])
        self._show_summary()
        self.summary.set_note(None)
        self._update_actions()
        self.reference_shown.emit(model.a4_hz if model is not None else self.default_a4_hz)

    def _show_summary(self) -> None:
        doc, model = self.view.doc, self.model
        if model is None:
            pending = doc is not None and doc in self._pending
            self.summary.set_summary(None, "Finding the notes..." if pending else "")
            return
        status = ""
        if model.unsaved:
            status = "corrected, not saved (Notes \u2192 Save corrections)"
        elif model.edited:
            status = f"corrections saved in {sidecar_path(doc.path).name}"
        self.summary.set_summary(model.summary(), status, model.a4_hz)

    def _update_actions(self) -> None:
        model = self.model
        has = model is not None
        sel = self.overlay.selection is not None
        for a in (self.act_octave_up, self.act_octave_down, self.act_delete, self.act_merge):
            a.setEnabled(has and sel)
        self.act_clear_sel.setEnabled(sel)
        self.act_split.setEnabled(has)
        self.act_undo.setEnabled(has and model.can_undo())
        self.act_redo.setEnabled(has and model.can_redo())
        self.act_undo.setText(f"&Undo {model.undo_text()}" if has and model.can_undo() else "&Undo")
        self.act_redo.setText(f"&Redo {model.redo_text()}" if has and model.can_redo() else "&Redo")
        self.act_save.setEnabled(has and (model.edited or model.unsaved))

    # ------------------------------------------------------------------------------------------------ corrections
    def _range(self):
        return self.overlay.selection

    def _apply(self, ok: bool, keep_selection: bool = True) -> bool:
        if ok:
            self._after_change(keep_selection)
        return ok

    def _after_change(self, keep_selection: bool = True) -> None:
        doc, model = self.view.doc, self.model
        self._reference_clock.invalidate()  # anything else done (an undo...) ends a series of changes of A4
        sel = self.overlay.selection if keep_selection else None
        self.overlay.set_notes(model.notes)
        if sel:
            self.overlay.set_selection(*sel)
        self.view.refresh()  # the curve with the octave corrections
        self._show_summary()
        self.summary.set_note(None)
        self._update_actions()
        self.reference_shown.emit(model.a4_hz)
        self.changed.emit(doc)

    def shift(self, octaves: int) -> bool:
        """Move the selection (notes and curve) by ``octaves``."""
        model, sel = self.model, self._range()
        return model is not None and sel is not None and self._apply(model.shift(sel[0], sel[1], octaves))

    def delete(self) -> bool:
        model, sel = self.model, self._range()
        return model is not None and sel is not None and self._apply(model.delete(*sel))

    def split(self, at_s: Optional[float] = None) -> bool:
        """Cut the note under the playhead (or ``at_s``) in two."""
        model = self.model
        if model is None:
            return False
        t = float(self.view.playhead.value()) if at_s is None else float(at_s)
        ok = model.split(t)
        if not ok:
            self.report("info", "Split: put the playhead inside a note (click there) first.")
        return self._apply(ok)

    def merge(self) -> bool:
        model, sel = self.model, self._range()
        if model is None or sel is None:
            return False
        ok = model.merge(*sel)
        if not ok:
            self.report("info", "Merge: select a time range over two notes or more (Shift+drag) first.")
        return self._apply(ok)

    def undo(self) -> bool:
        model = self.model
        return model is not None and self._apply(model.undo())

    def redo(self) -> bool:
        model = self.model
        return model is not None and self._apply(model.redo())

    def set_reference(self, a4_hz: float) -> bool:
        """A4 = ``a4_hz`` Hz from now on: the current document's notes are named and measured against it (one undo
        entry for a quick series of changes, e.g. the A4 box's arrows held down) and the notes segmented later
        are too. True when the current notes changed; ValueError outside :data:`~app.file.notes_model.
        A4_RANGE_HZ`."""
        self.default_a4_hz = check_a4_hz(a4_hz)
        model = self.model
        if model is None:
            return False
        merge = self._reference_clock.isValid() and self._reference_clock.elapsed() < REFERENCE_MERGE_MS
        ok = self._apply(model.set_reference(self.default_a4_hz, merge=merge))
        if ok:
            self._reference_clock.start()
        return ok

    def save(self, doc: Optional[fd.FileDocument] = None) -> Optional[str]:
        """Write the sidecar of ``doc`` (default: the current document); its path, or None (with a message) when it
        cannot."""
        doc = self.view.doc if doc is None else doc
        model = doc.notes if doc is not None else None
        if model is None:
            return None
        try:
            path = model.save(sidecar_path(doc.path), doc.name, doc.duration_s)
        except SidecarError as e:
            self.report("error", f"The corrections could not be saved:\n\n{e}", "Save corrections")
            return None
        self.report("info", f"Corrections saved in {path.name}")
        self._reference_clock.invalidate()
        if doc is self.view.doc:
            self._show_summary()
            self._update_actions()
        self.changed.emit(doc)
        return str(path)

    def confirm_discard(self, docs: Sequence[fd.FileDocument]) -> bool:
        """Before ``docs`` lose their notes (closed, re-analysed, the window closing): for each one with unsaved
        corrections, ask (:attr:`ask_save`) whether to save them. True to go on (saved or discarded); False when
        the user cancels or a save fails (then nothing has been lost: the caller must not go on)."""
        for doc in docs:
            if doc.notes is None or not doc.notes.unsaved:
                continue
            answer = self.ask_save(doc)
            if answer == "save":
                if self.save(doc) is None:
                    return False  # the error is reported; the corrections stay for the user to decide again
            elif answer != "discard":
                return False
        return True

    def set_visible(self, visible: bool) -> None:
        self.overlay.set_visible(visible)

    # ------------------------------------------------------------------------------------------------ pointer
    def _note_at_scene(self, pos):
        model = self.model
        vb = self.view.pitch.getPlotItem().vb
        if model is None or not self.overlay.visible or not vb.sceneBoundingRect().contains(pos):
            return None
        p = vb.mapSceneToView(pos)
        return model.index_at(float(p.x()), float(p.y()))

    def _on_mouse(self, pos) -> None:
        i = self._note_at_scene(pos)
        model = self.model
        if i is None:
            sel = self.overlay.boxes.selected
            self.summary.set_note(
                model.notes[sel] if model is not None and sel is not None and sel < len(model.notes) else None
            )
            self.view.pitch.setToolTip("")
            return
        note = model.notes[i]
        self.summary.set_note(note)
        self.view.pitch.setToolTip(note_details(note))

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.LeftButton or event.double():
            return
        i = self._note_at_scene(event.scenePos())
        self.select(i)

    def select(self, index: Optional[int]) -> None:
        """Select note ``index`` (its time span becomes the selection) or nothing."""
        model = self.model
        if model is None or index is None or not 0 <= index < len(model.notes):
            self.overlay.select_note(None)
            if self.overlay.selection is not None:
                self.overlay.set_selection(None)
            self.summary.set_note(None)
            return
        n = model.notes[index]
        self.overlay.select_note(index)
        self.overlay.set_selection(n.onset_s, n.offset_s)
        self.summary.set_note(n)
