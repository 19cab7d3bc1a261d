"""Pitch-axis ticks with note names (pure Python; shared by the plots and the PNG export).

Note names themselves come from :mod:`pesto_core.units`, the one definition of pitch units.
"""
from __future__ import annotations

import math
from typing import List, Tuple

from pesto_core.units import NOTE_NAMES, note_name


def note_ticks(lo: float, hi: float) -> List[List[Tuple[float, str]]]:
    """Ticks for a pitch axis in MIDI semitones, as pyqtgraph's ``AxisItem.setTicks`` wants them.

    Major ticks on every C (labelled), minor ticks on the other natural notes (labelled when the span is small
    enough to read them); the semitone grid itself is drawn by the plots.
    """
    first, last = math.ceil(lo), math.floor(hi)
    span = hi - lo
    major = [(m, note_name(m)) for m in range(first, last + 1) if m % 12 == 0]
    naturals = [m for m in range(first, last + 1) if NOTE_NAMES[m % 12] in "DEFGAB" and len(NOTE_NAMES[m % 12]) == 1]
    minor = [(m, note_name(m) if span <= 30 else "") for m in naturals]
    if span <= 6:  # a few semitones: name every one
        minor = [(m, note_name(m)) for m in range(first, last + 1) if m % 12]
    return [major, minor]
