"""The File tab's recently opened files, kept in its settings (key ``recent``), and the menu that lists them.

GUI thread only.
"""

from __future__ import annotations

import os
from typing import Callable, List, Sequence

from PySide6 import QtWidgets

from ..common.settings import Settings

RECENT_MAX = 10


class RecentFiles:
    """Most recent first, at most :data:`RECENT_MAX`; ``open_paths(paths)`` reopens one from the menu."""

    def __init__(self, settings: Settings, open_paths: Callable[[Sequence[str]], object]):
        self.settings = settings
        self.open_paths = open_paths

    def paths(self) -> List[str]:
        return [p for p in self.settings.get("recent", []) if p]

    def add(self, path: str) -> None:
        recent = [path] + [p for p in self.paths() if p != path]
        self.settings.set("recent", recent[:RECENT_MAX])

    def fill(self, menu: QtWidgets.QMenu) -> None:
        """List them in ``menu`` (a file that has gone is shown disabled)."""
        menu.clear()
        recent = self.paths()
        for path in recent:
            act = menu.addAction(path, lambda p=path: self.open_paths([p]))
            act.setEnabled(os.path.exists(path))
        if recent:
            menu.addSeparator()
            menu.addAction("Clear list", lambda: self.settings.set("recent", []))
        else:
            menu.addAction("(none)").setEnabled(False)
