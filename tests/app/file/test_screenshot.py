"""A screenshot of the File tab in the real main window (both tabs, menus, status bar), after opening and analysing a
golden recording: saved to ``test-artifacts/file_view.png``, and to ``docs/file.png`` (the README's picture) when
``UPDATE_DOCS=1``. Also checks the main window's hooks: ``MainWindow(files)`` opens them in the File tab."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from app.file import document as fd
from tests.app.file_helpers import ARTIFACTS, DATA, wait_idle

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_screenshot_of_the_file_view(qtbot, tmp_path):
    for fmt in (QtCore.QSettings.IniFormat, QtCore.QSettings.NativeFormat):  # keep the user's settings untouched
        QtCore.QSettings.setPath(fmt, QtCore.QSettings.UserScope, str(tmp_path / "settings"))
    from app.main_window import MainWindow

    audio = tmp_path / "speech_22k.wav"
    shutil.copyfile(DATA / "speech_22k.wav", audio)
    window = MainWindow([str(audio)])
    qtbot.addWidget(window)
    window.resize(1280, 780)
    window.show()
    qtbot.waitExposed(window)
    panel = window.panel("FilePanel")
    assert panel is not None and window.tabs.currentWidget() is panel
    qtbot.waitUntil(lambda: len(panel.docs) == 1, timeout=5000)
    wait_idle(qtbot, panel)
    doc = panel.docs[0]
    assert doc.state == fd.DONE
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert "File" in menus
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "File")
    texts = [a.text().replace("&", "") for a in file_menu.actions()]
    for wanted in ("Open...", "Open Recent", "Export CSV/NPZ/PNG/notes/MIDI...", "Export all open files...", "Quit"):
        assert wanted in texts
    # a realistic moment: playhead at 2.4 s, the pointer on a confident frame (crosshair + readout)
    panel.seek(2.4)
    view = panel.view
    i = int(np.argmax(doc.confidence[300:])) + 300
    vb = view.pitch.getPlotItem().vb
    (_, _), (y0, y1) = vb.viewRange()
    y = float(doc.display_pitch()[i])
    scene = vb.mapViewToScene(QtCore.QPointF(float(doc.time_s[i]), y if y0 < y < y1 else (y0 + y1) / 2))
    qtbot.mouseMove(view.pitch.viewport(), view.pitch.mapFromScene(scene))
    qtbot.waitUntil(lambda: "Hz" in view.readout.text(), timeout=3000)
    qtbot.wait(200)
    image = window.grab()
    ARTIFACTS.mkdir(exist_ok=True)
    assert image.save(str(ARTIFACTS / "file_view.png"))
    if os.environ.get("UPDATE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        assert image.save(str(DOCS / "file.png"))
    assert image.width() >= 1200 and image.height() >= 700
    window.close()  # shutdown() of the panels
    QtWidgets.QApplication.processEvents()
