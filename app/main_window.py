"""The main window: a "Live" tab (microphone tracking) and a "File" tab (analysis of recordings).

Each tab is a panel widget that owns its own controls; a panel may offer ``install_menus(menubar)`` to add its
menus, ``status_widgets()`` for the status bar, ``confirm_close()`` asked before the window closes (False keeps it
open: e.g. the user cancels saving the File tab's corrections) and ``shutdown()`` called when it closes. A panel
that cannot be created (a missing library, no audio device) is replaced by a message, so the other one keeps working.
"""

from __future__ import annotations

import logging
from typing import Sequence

from PySide6 import QtCore, QtWidgets

logger = logging.getLogger(__name__)


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, files: Sequence[str] = ()):
        super().__init__()
        self.setWindowTitle("PESTO Tracker")
        self.resize(1200, 760)
        self.tabs = QtWidgets.QTabWidget()
        self.setCentralWidget(self.tabs)
        self.panels = []
        self._shut_down = False
        # imported here, not at the top: a tab whose libraries are missing must not keep the window from opening
        self._add_panel("Live", "app.live.panel", "LivePanel")
        self._add_panel("File", "app.file.panel", "FilePanel")
        for panel in self.panels:
            if hasattr(panel, "install_menus"):
                panel.install_menus(self.menuBar())
            for widget in getattr(panel, "status_widgets", lambda: [])():
                self.statusBar().addPermanentWidget(widget)
        if files:
            file_panel = self.panel("FilePanel")
            if file_panel is not None:
                self.tabs.setCurrentWidget(file_panel)
                QtCore.QTimer.singleShot(0, lambda: file_panel.open_files(list(files)))

    def _add_panel(self, title: str, module: str, cls: str) -> None:
        try:
            mod = __import__(module, fromlist=[cls])
            panel = getattr(mod, cls)(self)
            self.panels.append(panel)
        except Exception as e:  # the other tab must keep working whatever happens here
            panel = QtWidgets.QLabel(f"{title} mode is unavailable:\n{type(e).__name__}: {e}")
            panel.setAlignment(QtCore.Qt.AlignCenter)
            panel.setWordWrap(True)
            logger.exception("the %s tab cannot be created", title)
        self.tabs.addTab(panel, title)

    def panel(self, cls_name: str):
        return next((p for p in self.panels if type(p).__name__ == cls_name), None)

    def closeEvent(self, event):  # noqa: N802
        if not self._shut_down:
            for panel in self.panels:
                confirm = getattr(panel, "confirm_close", None)
                if confirm is not None and not confirm():
                    event.ignore()  # the user cancelled: the window and everything in it stay as they were
                    return
            self._shut_down = True  # (a second close, e.g. a test's teardown, asks and stops nothing again)
            for panel in self.panels:
                if hasattr(panel, "shutdown"):
                    panel.shutdown()
        super().closeEvent(event)
