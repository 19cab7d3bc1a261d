"""Pitch units, one definition for the engine, the command line and the app (pure Python + numpy, no torch).

Pitch in this project is in MIDI semitones (69 = A4 = 440 Hz unless another reference is given); frequencies are in
Hz; deviations in cents (1/100 semitone). The functions accept Python floats and numpy arrays; the two plain
conversions also accept torch tensors (they only use arithmetic), so the engine can call them on its outputs.
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np

A4_MIDI = 69.0
A4_HZ = 440.0
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def semitones_to_hz(semitones, a4_hz: float = A4_HZ):
    """MIDI semitones (69 = A4 = ``a4_hz``) -> Hz. Floats, numpy arrays (dtype kept) and tensors."""
    return a4_hz * 2 ** ((semitones - A4_MIDI) / 12)


def hz_to_semitones(f0_hz, a4_hz: float = A4_HZ) -> np.ndarray:
    """Hz -> MIDI semitones (69 = A4 = ``a4_hz``), float64. Non-positive or NaN frequencies give NaN."""
    f0_hz = np.asarray(f0_hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f0_hz > 0, A4_MIDI + 12.0 * np.log2(f0_hz / a4_hz), np.nan)


def reference_shift(a4_hz: float) -> float:
    """Semitones to add to a pitch measured against A4 = 440 Hz to measure it against A4 = ``a4_hz``."""
    return -12.0 * math.log2(a4_hz / A4_HZ)


def nearest_note(pitch_semitones: float) -> Tuple[int, float]:
    """(nearest integer MIDI note, deviation from it in cents, in [-50, 50)) of a pitch in semitones."""
    note = math.floor(pitch_semitones + 0.5)
    return note, 100.0 * (pitch_semitones - note)


def note_name(midi: int, unicode_accidentals: bool = False) -> str:
    """Name with octave of an integer MIDI note, scientific pitch notation: 69 -> 'A4', 61 -> 'C#4' (or 'C♯4')."""
    midi = int(midi)
    name = NOTE_NAMES[midi % 12]
    if unicode_accidentals:
        name = name.replace("#", "\u266f")
    return f"{name}{midi // 12 - 1}"


def describe_pitch(pitch_semitones: float) -> str:
    """``'A3 +12 ¢'``: the nearest note of a pitch in semitones and its deviation in whole cents."""
    note, cents = nearest_note(pitch_semitones)
    return f"{note_name(note)} {int(round(cents)):+d} \u00a2"
