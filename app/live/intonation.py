"""The notes of a live session (no widgets): each frame the session ingests goes through a
:class:`pesto_core.notes.NoteTracker` (the offline segmentation, frame by frame), which gives the current note's
running measures (time held, mean deviation, steadiness) and the finished notes with their measures (about 0.12 s
after a note followed by a rest or dip ends; a note followed legato by another about 1.1-1.3 s after it ends, once
the next note holds a steady pitch, see :mod:`pesto_core.notes.segment`); the last notes are kept for the view's strip.

Cost: one ``NoteTracker.add`` per frame and one current-note measure per block (a few numpy calls on at most
``measure_s`` of frames), bounded work per frame whatever the length of the session.

Threading: GUI thread (called from :meth:`app.live.session.LiveSession.ingest`).
"""

from __future__ import annotations

import collections
import math
from typing import List, Optional

import numpy as np

from pesto_core.notes import CurrentNote, Note, NoteTracker
from pesto_core.units import A4_HZ

KEEP_NOTES = 1000  # finished notes kept (the strip shows the last few)


class LiveNotes:
    """Notes of the frames fed so far.

    Attributes
    ----------
    current : CurrentNote or None
        The note being held now (None in a silence).
    notes : deque of Note
        Finished notes, oldest first (at most :data:`KEEP_NOTES`).
    changes : int
        Incremented whenever ``current`` or ``notes`` changes in a way the view shows (it redraws only then).
    """

    def __init__(self, step_s: float = 0.01, a4_hz: float = A4_HZ):
        self.notes: collections.deque = collections.deque(maxlen=KEEP_NOTES)
        self.reset(step_s, a4_hz)

    def reset(self, step_s: Optional[float] = None, a4_hz: Optional[float] = None, keep_notes: bool = False) -> None:
        """Start again (a new session, another step or A4); ``keep_notes`` keeps the finished notes."""
        self.step_s = float(step_s) if step_s else getattr(self, "step_s", 0.01)
        self.a4_hz = float(a4_hz) if a4_hz else getattr(self, "a4_hz", A4_HZ)
        self.tracker = NoteTracker(self.step_s, a4_hz=self.a4_hz)
        self.current: Optional[CurrentNote] = None
        if not keep_notes:
            self.notes.clear()
        self.changes = getattr(self, "changes", 0) + 1
        self._shown_key = None

    def feed(
        self,
        time_s: np.ndarray,
        pitch_semitones: np.ndarray,
        voiced: np.ndarray,
        volume: np.ndarray,
        confidence: np.ndarray,
    ) -> List[Note]:
        """Frames in time order (arrays (n,)); returns the notes finished meanwhile."""
        add = self.tracker.add
        finished: List[Note] = []
        for t, p, v, vol, c in zip(
            time_s.tolist(), pitch_semitones.tolist(), voiced.tolist(), volume.tolist(), confidence.tolist()
        ):
            finished += add(t, p, bool(v), vol, c)
        if len(time_s):
            self.current = self.tracker.current_note()  # only the newest frame's is shown
        self._note_changes(finished)
        return finished

    def finish(self) -> List[Note]:
        """The input ended (the session stops): the last notes."""
        finished = self.tracker.finish()
        self.current = None
        self._note_changes(finished)
        return finished

    def _note_changes(self, finished: List[Note]) -> None:
        self.notes.extend(finished)
        c = self.current
        # what the view shows of the current note: name, whole cents, tenths of a second held, steadiness bucket
        key = (
            None
            if c is None
            else (c.name, round(c.deviation_cents), int(c.held_s * 10), round(c.steadiness_cents / 2)),
            len(self.notes),
            self.notes[-1] if self.notes else None,
        )
        if key != self._shown_key:
            self._shown_key = key
            self.changes += 1

    def recent(self, n: int = 12) -> List[Note]:
        """The last ``n`` finished notes, oldest first."""
        k = len(self.notes)
        return [self.notes[i] for i in range(max(0, k - n), k)]


def steadiness_word(cents: float) -> str:
    """How steady a note is held, from the standard deviation of its last half second (cents)."""
    if not math.isfinite(cents):
        return ""
    return "steady" if cents < 5 else "wavering" if cents < 15 else "unsteady"
