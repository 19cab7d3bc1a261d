"""Shared pieces of the File tab tests: a panel in a real main window with settings in a temporary INI file, and
helpers to wait for the panel's work queue."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).resolve().parents[1] / "data"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def file_panel(qtbot, tmp_path):
    """``(window, panel)``: a FilePanel in a QMainWindow with its menus and status widgets, shown."""
    from PySide6 import QtWidgets

    from app.common.settings import Settings
    from app.file.panel import FilePanel

    settings = Settings("file", path=tmp_path / "settings.ini")
    window = QtWidgets.QMainWindow()
    panel = FilePanel(window, settings=settings)
    window.setCentralWidget(panel)
    panel.install_menus(window.menuBar())
    for widget in panel.status_widgets():
        window.statusBar().addPermanentWidget(widget)
    window.resize(1200, 760)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()  # Xvfb has no window manager: ask for the focus, keys go to the focused window
    window.raise_()
    try:
        qtbot.waitActive(window, timeout=3000)
    except Exception:  # some platforms (offscreen) never report it; the key tests check the focus themselves
        pass
    yield window, panel
    for dialog in panel.open_dialogs():
        dialog.close()
    panel.shutdown()


def wait_idle(qtbot, panel, timeout_ms: int = 60000) -> None:
    """Wait until the panel's queue (analyses, exports) is empty."""
    if panel.busy or panel.queue:
        with qtbot.waitSignal(panel.idle, timeout=timeout_ms):
            pass
    assert not panel.busy


def copy_data(name: str, folder: Path) -> Path:
    """A golden WAV copied into ``folder`` (exports next to the audio land in tmp, never in tests/data)."""
    dst = folder / name
    shutil.copyfile(DATA / name, dst)
    os.chmod(dst, 0o644)
    return dst


def write_tone(path: Path, seconds: float, sr: int = 16000, freq: float = 220.0, channels: int = 1) -> Path:
    """A sine with a slow vibrato (so that the curve is not flat), PCM16."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    phase = 2 * np.pi * (freq * t + 3.0 * np.sin(2 * np.pi * 0.5 * t))
    x = 0.3 * np.sin(phase).astype(np.float32)
    if channels > 1:
        x = np.stack([x * (c + 1) / channels for c in range(channels)], axis=1)
    sf.write(str(path), x, sr, subtype="PCM_16")
    return path


class answer_boxes:  # noqa: N801 (used as a context manager, like a function)
    """Answer the modal message boxes named ``name`` that show while the ``with`` block runs: each one's button
    ``button`` (a ``QMessageBox.StandardButton``) is clicked as soon as it is visible, and its text recorded in
    :attr:`texts`. The real box runs its own event loop (``exec()``); a timer polls for it from inside that loop.

    A block that expects no box uses it as a guard: a box that shows is answered (it cannot block the test) and
    recorded (the test's assertion on :attr:`texts` fails)."""

    def __init__(self, button, name: str = "saveCorrectionsBox"):
        self.button, self.name, self.texts = button, name, []

    def __enter__(self):
        from PySide6 import QtCore

        self.timer = QtCore.QTimer(interval=20)
        self.timer.timeout.connect(self._poll)
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.stop()
        return False

    def _poll(self) -> None:
        from PySide6 import QtWidgets

        for w in QtWidgets.QApplication.topLevelWidgets():
            if isinstance(w, QtWidgets.QMessageBox) and w.objectName() == self.name and w.isVisible():
                self.texts.append(w.text())
                w.button(self.button).click()


# ------------------------------------------------------------------------------------------------ notes tests
MELODY_WAV = Path(__file__).resolve().parents[2] / "resources" / "example_melody.wav"
# resources/example_melody.wav is tests/app/live_audio.MELODY: A3, E4, (a glide), A4, F#4


def copy_melody(folder: Path) -> Path:
    """A copy of the example melody as ``take.wav`` in ``folder`` (the ``take`` fixture of tests/app/file)."""
    dst = folder / "take.wav"
    shutil.copyfile(MELODY_WAV, dst)
    return dst


def open_analysed(qtbot, panel, path):
    """Open ``path`` in the File panel and wait until its analysis and notes are there; returns the document."""
    doc = panel.open_files([str(path)])[0]
    wait_idle(qtbot, panel)
    qtbot.waitUntil(lambda: doc.notes is not None, timeout=30000)
    return doc


def main_window_with(qtbot, path, size=None):
    """The real main window opened on ``path``, shown, analysed, with notes: (window, file panel, document)."""
    from app.main_window import MainWindow

    window = MainWindow([str(path)])
    qtbot.addWidget(window)
    if size is not None:
        window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    panel = window.panel("FilePanel")
    qtbot.waitUntil(lambda: len(panel.docs) == 1, timeout=5000)
    wait_idle(qtbot, panel)
    doc = panel.docs[0]
    qtbot.waitUntil(lambda: doc.notes is not None, timeout=30000)
    return window, panel, doc
