"""Pitch-axis ticks with note names (pure Python; shared by the plots and the PNG export).

Also the colours and labels of intonation (cents off a note), shared by the File tab's notes and the Live tab's
strip. Note names themselves come from :mod:`pesto_core.units`, the one definition of pitch units.
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


# Intonation colours, shared by the File tab's note boxes and the Live tab's strip of notes: in tune (within
# IN_TUNE_CENTS), a little off (within NEAR_CENTS), flat or sharp beyond.
IN_TUNE_CENTS = 10.0
NEAR_CENTS = 25.0
IN_TUNE_RGB = (70, 200, 110)
NEAR_RGB = (230, 190, 60)
FLAT_RGB = (90, 150, 255)
SHARP_RGB = (255, 90, 70)


def deviation_rgb(cents: float) -> Tuple[int, int, int]:
    """Colour of a note ``cents`` off its nearest note: green in tune, amber a little off, blue flat, red sharp."""
    if not math.isfinite(cents):
        return (150, 150, 150)
    a = abs(cents)
    if a <= IN_TUNE_CENTS:
        return IN_TUNE_RGB
    if a <= NEAR_CENTS:
        return NEAR_RGB
    return FLAT_RGB if cents < 0 else SHARP_RGB


def intonation_word(cents: float) -> str:
    """``in tune`` / ``flat`` / ``sharp`` (flat or sharp beyond :data:`IN_TUNE_CENTS`)."""
    if not math.isfinite(cents) or abs(cents) <= IN_TUNE_CENTS:
        return "in tune"
    return "flat" if cents < 0 else "sharp"


def cents_text(cents: float) -> str:
    """``'−12¢'`` / ``'+3¢'`` / ``'0¢'`` (whole cents, a real minus sign)."""
    if not math.isfinite(cents):
        return "?¢"
    c = int(round(cents))
    return ("\u2212" if c < 0 else "+" if c > 0 else "") + f"{abs(c)}\u00a2"


def note_label(name: str, cents: float) -> str:
    """``'A4 −12¢'`` (``#`` written ♯)."""
    return f"{name.replace('#', chr(0x266F))} {cents_text(cents)}"
