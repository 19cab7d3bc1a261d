"""Playback of the File tab: the :class:`~app.file.player.Player` of the document shown, and the playhead that follows
it in the view (polled at 30 Hz while playing; an idle tab costs no CPU).

GUI thread only (the player's audio runs on PortAudio's thread, see :mod:`app.file.player`).
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6 import QtCore

from .document import FileDocument
from .player import Player
from .view import FileView


def clock_text(t_s: float) -> str:
    """``m:ss.mmm`` of a time in seconds (the playhead's label)."""
    m, s = divmod(max(t_s, 0.0), 60)
    return f"{int(m)}:{s:06.3f}"


class PlaybackController(QtCore.QObject):
    """Plays the view's document and moves its playhead.

    Parameters
    ----------
    view : FileView
        Shows the playhead; its document is the one played.
    report : callable(level, text, title=None)
        Tells the user (a file that cannot be played, an output device that fails).

    Signals: ``time_changed(t_s, duration_s)`` (the playhead moved), ``playing_changed(bool)``.
    """

    time_changed = QtCore.Signal(float, float)
    playing_changed = QtCore.Signal(bool)

    def __init__(self, view: FileView, report: Callable[..., None], parent=None):
        super().__init__(parent)
        self.view = view
        self.report = report
        self.player = Player()
        self._was_playing = False
        self._timer = QtCore.QTimer(self, interval=33)  # playhead at 30 Hz
        self._timer.timeout.connect(self._poll)

    @property
    def available(self) -> bool:
        return self.player.available

    @property
    def playing(self) -> bool:
        return self.player.playing

    def load(self, doc: Optional[FileDocument]) -> None:
        """Prepare ``doc`` for playback from its playhead (nothing without an output device)."""
        if not self.player.available or doc is None:
            return
        try:
            self.player.load(doc.path, doc.channel)
            self.player.seek(doc.playhead_s)
        except Exception as e:
            self.report("warning", f"{doc.path}: cannot be played ({e})")

    def show(self, doc: Optional[FileDocument]) -> None:
        """The view now shows ``doc``: pause what played, load ``doc``."""
        if self.player.playing:
            self.player.pause()
        if doc is not None:
            self.load(doc)
            self.time_changed.emit(doc.playhead_s, doc.duration_s)
        self._update()

    def toggle(self) -> None:
        """Play or pause the view's document."""
        if not self.player.available:
            self.report("warning", f"Playback is unavailable: {self.player.reason}")
            return
        if self.view.doc is None:
            return
        if not self.player.loaded:
            self.load(self.view.doc)
        if self.player.playing:
            self.player.pause()
        elif not self.player.play():
            self.report("error", self.player.error, "Playback")
        self._update()

    def play(self, start_s: Optional[float] = None) -> bool:
        """Play from ``start_s`` (default: the playhead). False (with a message) if it cannot."""
        if not self.player.available or self.view.doc is None:
            return False
        ok = self.player.play(start_s)
        if not ok:
            self.report("error", self.player.error, "Playback")
        self._update()
        return ok

    def stop(self) -> None:
        """Stop and rewind."""
        self.player.stop()
        self.view.set_playhead(0.0)
        self._update()

    def seek(self, t_s: float) -> None:
        """Move the playhead to ``t_s`` (a click); playback goes on from there if it was playing."""
        if self.player.available and self.player.loaded:
            self.player.seek(t_s)
        self.view.set_playhead(t_s)
        self._emit_time(t_s)

    def close(self) -> None:
        self._timer.stop()
        self.player.close()

    def _poll(self) -> None:
        doc = self.view.doc
        if doc is None or not self.player.loaded:
            self._timer.stop()
            return
        playing = self.player.playing
        if playing or self._was_playing:
            t = self.player.position_s()
            self.view.set_playhead(t, follow=True)
            self._emit_time(t)
            if self.player.playing != self._was_playing or not self.player.playing:
                self._update()
        if not playing and not self._was_playing:
            self._timer.stop()  # stopped (end of file, or paused): nothing to follow
        self._was_playing = self.player.playing

    def _emit_time(self, t: float) -> None:
        self.time_changed.emit(t, self.view.doc.duration_s if self.view.doc else 0.0)

    def _update(self) -> None:
        playing = self.player.playing
        self.playing_changed.emit(playing)
        if playing and not self._timer.isActive():
            self._was_playing = False
            self._timer.start()
