"""Files dropped on the File tab or anywhere on the main window: which paths they are, and the audio files of a
dropped folder. GUI thread only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, List, Sequence

from PySide6 import QtCore

AUDIO_EXTENSIONS = frozenset("wav flac ogg oga opus mp3 aif aiff aifc au snd caf w64 rf64 wv voc".split())


def dropped_paths(mime: QtCore.QMimeData) -> List[str]:
    """The local files and folders a drag carries (empty for anything else)."""
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


def audio_files(paths: Sequence[str]) -> List[str]:
    """``paths`` with every folder replaced by the audio files in it (by extension, sorted)."""
    files = [p for p in paths if not os.path.isdir(p)]
    for folder in (p for p in paths if os.path.isdir(p)):
        files += sorted(
            str(p) for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower().lstrip(".") in AUDIO_EXTENSIONS
        )
    return files


class DropOpener(QtCore.QObject):
    """Accepts drags of local files on the widgets it watches (:meth:`watch`); a drop calls ``open_paths(paths)``
    once the drop event is over."""

    def __init__(self, open_paths: Callable[[List[str]], None], parent=None):
        super().__init__(parent)
        self.open_paths = open_paths

    def watch(self, widget) -> None:
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 (Qt naming)
        kind = event.type()
        if kind in (QtCore.QEvent.DragEnter, QtCore.QEvent.DragMove, QtCore.QEvent.Drop):
            paths = dropped_paths(event.mimeData())
            if paths:
                event.acceptProposedAction()
                if kind == QtCore.QEvent.Drop:
                    QtCore.QTimer.singleShot(0, lambda: self.open_paths(paths))
                return True
        return super().eventFilter(obj, event)
