"""Corrections are never lost without a question (pytest-qt, the real message box answered by a timer): closing
the main window, closing a file or analysing it again with unsaved corrections asks "Save corrections to
<stem>.notes.json?"; Cancel keeps everything as it was, Save writes the sidecar (and the corrections come back with
the file), Discard writes nothing; no question when nothing changed or after a save."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from app.file import document as fd
from app.file.notes_model import NotesModel, sidecar_path
from tests.app.file_helpers import (  # noqa: F401 (fixtures)
    answer_boxes,
    file_panel,
    main_window_with,
    open_analysed,
    wait_idle,
)

QUESTION = "Save corrections to take.notes.json?"
Box = QtWidgets.QMessageBox


def main_window(qtbot, take):
    return main_window_with(qtbot, take)


def octave_up_first_note(panel, doc):
    panel.notes.select(0)
    assert panel.notes.shift(1)
    return doc.notes.notes


def test_closing_the_window_asks_before_losing_corrections(qtbot, tmp_path, take):
    for fmt in (QtCore.QSettings.IniFormat, QtCore.QSettings.NativeFormat):  # keep the user's settings untouched
        QtCore.QSettings.setPath(fmt, QtCore.QSettings.UserScope, str(tmp_path / "settings"))
    window, panel, doc = main_window(qtbot, take)
    corrected = octave_up_first_note(panel, doc)
    assert doc.notes.unsaved

    # Cancel: the window stays open, the corrections as they were, nothing written, the tab still working
    with answer_boxes(Box.Cancel) as answered:
        assert not window.close()
    assert answered.texts == [QUESTION]
    assert window.isVisible() and doc.notes.notes == corrected and doc.notes.unsaved
    assert panel.docs == [doc] and doc.store is not None and not sidecar_path(take).exists()
    assert panel.notes.undo() and panel.notes.redo()  # not shut down
    # Save: the sidecar is written, then the window closes
    with answer_boxes(Box.Save) as answered:
        assert window.close()
    assert answered.texts == [QUESTION] and not window.isVisible()
    state, _ = NotesModel.read_sidecar(sidecar_path(take), doc.duration_s)
    assert list(state.notes) == corrected
    QtWidgets.QApplication.processEvents()

    # reopened: the corrections are back; nothing changed since, so closing asks nothing
    window, panel, doc = main_window(qtbot, take)
    assert doc.notes.notes == corrected and not doc.notes.unsaved
    with answer_boxes(Box.Cancel) as answered:
        assert window.close()
    assert answered.texts == [] and not window.isVisible()
    QtWidgets.QApplication.processEvents()

    # Discard: nothing written (the sidecar keeps the saved corrections), the window closes
    window, panel, doc = main_window(qtbot, take)
    saved = sidecar_path(take).read_bytes()
    doc.notes.delete(0.0, 10.0)  # (the model itself: no redraw needed to be lost)
    assert doc.notes.unsaved and doc.notes.notes == []
    with answer_boxes(Box.Discard) as answered:
        assert window.close()
    assert answered.texts == [QUESTION] and not window.isVisible()
    assert sidecar_path(take).read_bytes() == saved
    QtWidgets.QApplication.processEvents()


def test_closing_or_reanalysing_a_file_asks_before_losing_corrections(qtbot, file_panel, take):  # noqa: F811
    _, panel = file_panel
    doc = open_analysed(qtbot, panel, take)
    # nothing changed: closing and analysing again ask nothing
    with answer_boxes(Box.Cancel) as answered:
        assert panel.analyse([doc], force=True)
        wait_idle(qtbot, panel)
        qtbot.waitUntil(lambda: doc.notes is not None, timeout=30000)
    assert answered.texts == []
    corrected = octave_up_first_note(panel, doc)
    model = doc.notes

    # Cancel: not analysed again (nothing queued), not closed; the corrections stay
    with answer_boxes(Box.Cancel) as answered:
        assert not panel.analyse([doc], force=True)
        assert not panel.close_document(doc)
        panel.act_analyse.trigger()  # Ctrl+R, as the user does it
    assert answered.texts == [QUESTION] * 3
    assert not panel.queue and not panel.busy and doc.state == fd.DONE
    assert doc.notes is model and model.notes == corrected and model.unsaved and panel.docs == [doc]

    # Save, then analyse again: written first; the new analysis's notes get the corrections back
    with answer_boxes(Box.Save) as answered:
        assert panel.analyse([doc], force=True)
    assert answered.texts == [QUESTION] and sidecar_path(take).exists()
    wait_idle(qtbot, panel)
    qtbot.waitUntil(lambda: doc.notes is not None and doc.notes is not model, timeout=30000)
    assert doc.notes.notes == corrected and not doc.notes.unsaved
    # saved and not changed since: closing asks nothing (undoing is a change: then it asks)
    saved = sidecar_path(take).read_bytes()
    assert panel.notes.undo() and doc.notes.unsaved
    with answer_boxes(Box.Discard) as answered:
        assert panel.close_document(doc)
    assert answered.texts == [QUESTION] and panel.docs == []
    assert sidecar_path(take).read_bytes() == saved  # Discard wrote nothing
    doc = open_analysed(qtbot, panel, take)
    assert doc.notes.notes == corrected
    with answer_boxes(Box.Cancel) as answered:
        assert panel.close_document(doc)
    assert answered.texts == [] and panel.docs == []


def test_a_save_that_fails_keeps_the_corrections(qtbot, file_panel, take):  # noqa: F811
    """Save was asked for but the sidecar cannot be written (a file of that name that is not one): an error, and
    the file stays open with its corrections (the user decides again)."""
    _, panel = file_panel
    doc = open_analysed(qtbot, panel, take)
    corrected = octave_up_first_note(panel, doc)
    sidecar_path(take).write_text("my own notes\n")
    asked = []
    panel.notes.ask_save = lambda d: asked.append(d) or "save"  # the question, answered without a box
    assert not panel.close_document(doc)
    assert asked == [doc] and panel.docs == [doc] and doc.notes.notes == corrected and doc.notes.unsaved
    assert panel.messages[-1][0] == "error" and "not overwritten" in panel.messages[-1][1]
    assert sidecar_path(take).read_text() == "my own notes\n"
    panel.notes.ask_save = lambda d: "discard"
    assert panel.close_document(doc) and panel.docs == []
