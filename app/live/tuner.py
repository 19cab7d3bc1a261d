"""The tuner: nearest note, cents and frequency of the live pitch, held steady against jitter (no Qt; the widget
that draws it is :mod:`app.live.tuner_widget`).

Maths (pure Python/numpy; units from :mod:`pesto_core.units`): pitch arrives from the engine in MIDI semitones
relative to A4 = 440 Hz. The tuner re-references it to the chosen A4 (415-466 Hz), then transposes it for the
instrument (a B-flat clarinet's written C sounds B-flat: written = concert + 2 semitones). The note shown is the
nearest one in that frame, the cents are the distance to it; the frequency shown is always the real (concert) one
in Hz.

Threading: the GUI thread (the live session feeds the filter from its timer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from pesto_core.units import NOTE_NAMES, nearest_note, note_name, reference_shift, semitones_to_hz

A4_MIN_HZ, A4_MAX_HZ = 415.0, 466.0

# Written pitch = concert pitch + offset (semitones). Name -> offset, in menu order.
TRANSPOSITIONS = {
    "Concert (C)": 0,
    "B\u266d instrument": 2,  # clarinet, trumpet, soprano sax: written a major second above concert
    "E\u266d instrument": 9,  # alto sax, E-flat clarinet (alto sax: a major sixth above)
    "F instrument": 7,  # horn, English horn: a perfect fifth above
}


def note_label(midi: int, unicode_accidentals: bool = True):
    """('C\u266f', 4) for MIDI 61: the note's letter with its accidental, and its octave (scientific notation)."""
    name = NOTE_NAMES[midi % 12]
    if unicode_accidentals:
        name = name.replace("#", "\u266f")
    return name, midi // 12 - 1


@dataclass(frozen=True)
class TunerReading:
    """What the tuner shows.

    Attributes
    ----------
    note : int
        Written MIDI note (after A4 reference and transposition).
    cents : float
        Deviation from ``note`` in cents (smoothed), always within +-50.
    f0_hz : float
        Concert frequency in Hz (smoothed).
    time_s : float
        Time of the frame it was last updated from (s, session time).
    """

    note: int
    cents: float
    f0_hz: float
    time_s: float

    @property
    def name(self) -> str:
        """'C\u266f4': the note with its accidental and octave."""
        return note_name(self.note, unicode_accidentals=True)


class TunerFilter:
    """Turns frame-by-frame pitch into a steady reading.

    * While the pitch stays within 50 + ``margin_cents`` cents of the held note, that note stays (no flicker on a
      note sung between two semitones or with a wide vibrato). Once the pitch has been farther than that from it for
      ``hold_s`` seconds in a row, however many notes it passed on the way (a glide, a fast run, an octave jump),
      the nearest note replaces it. While the pitch is away but the hold time has not passed, the readout is blank:
      the old note no longer describes the pitch and the new one is not settled yet.
    * The readout never names a note with a deviation beyond +-50 cents: in the hysteresis margin (50 to
      50 + ``margin_cents`` cents from the held note) the cents are shown as +-50 (the meter's end).
    * Cents and frequency are smoothed with a first-order filter of time constant ``smooth_s`` (reset on a note change).
    * After ``release_s`` without a voiced frame the reading goes blank (``None``); shorter gaps keep the last reading.

    * :meth:`feed` takes the engine's pitch (MIDI semitones, A4 = 440 Hz) and applies the reference A4 and the
      transposition set with :meth:`set_reference`; :meth:`update` takes one frame's written pitch directly.

    Parameters
    ----------
    hold_s, smooth_s, release_s : float
        Seconds.
    margin_cents : float
        While the pitch stays within 50 + ``margin_cents`` of the held note, no other note becomes a candidate.
    """

    def __init__(
        self, hold_s: float = 0.06, smooth_s: float = 0.05, release_s: float = 0.15, margin_cents: float = 8.0
    ):
        self.hold_s = hold_s
        self.smooth_s = smooth_s
        self.release_s = release_s
        self.margin = margin_cents / 100.0
        self.a4_hz = 440.0
        self.transposition = 0
        self.reset()

    def set_reference(self, a4_hz: float = 440.0, transposition: int = 0) -> None:
        """Reference pitch of A4 (Hz) and transposition (semitones from concert to written pitch, see
        :data:`TRANSPOSITIONS`) used by :meth:`feed`. Resets the reading."""
        self.a4_hz = float(a4_hz)
        self.transposition = int(transposition)
        self.reset()

    @property
    def shift(self) -> float:
        """Semitones added to the engine's pitch (A4 = 440 Hz) to get the written pitch."""
        return reference_shift(self.a4_hz) + self.transposition

    def feed(
        self, time_s: np.ndarray, pitch_semitones: np.ndarray, voiced: np.ndarray
    ) -> List[Tuple[float, Optional[str]]]:
        """Feed frames of the engine (in time order).

        Parameters
        ----------
        time_s : float64 (n,), session seconds
        pitch_semitones : float32 (n,), MIDI semitones against A4 = 440 Hz (the engine's unit)
        voiced : bool (n,), confidence at or above the gate

        Returns
        -------
        The changes of the note shown: ``(time_s, name)`` each time it changes, name None when it goes blank.
        """
        pitch = np.asarray(pitch_semitones, dtype=np.float64)
        written = pitch + self.shift
        f0 = semitones_to_hz(pitch)  # the real (concert) frequency, whatever the reference and transposition
        changes = []
        for i in range(len(pitch)):
            before = self.reading
            reading = self.update(float(time_s[i]), float(written[i]), float(f0[i]), bool(voiced[i]))
            if (reading is None) != (before is None) or (reading is not None and reading.note != before.note):
                changes.append((float(time_s[i]), None if reading is None else reading.name))
        return changes

    def reset(self) -> None:
        self._held: Optional[int] = None
        self._pitch = math.nan  # smoothed written pitch (semitones)
        self._f0 = math.nan
        self._last_voiced_s = -math.inf
        self._last_t = -math.inf
        self._away_since: Optional[float] = None  # since when the pitch has been out of the held note's range
        self.reading: Optional[TunerReading] = None

    def update(self, time_s: float, written_semitones: float, f0_hz: float, voiced: bool) -> Optional[TunerReading]:
        """Feed one frame (in time order); returns the reading to show (None = blank)."""
        if not voiced or not math.isfinite(written_semitones):
            if time_s - self._last_voiced_s > self.release_s:
                self._held = None
                self._away_since = None
                self.reading = None
            return self.reading
        dt = max(0.0, time_s - self._last_t) if math.isfinite(self._last_t) else 0.0
        self._last_t = time_s
        gap = time_s - self._last_voiced_s
        self._last_voiced_s = time_s
        nearest, _ = nearest_note(written_semitones)
        if self._held is None or gap > self.release_s:
            self._switch(nearest, written_semitones, f0_hz)
        elif abs(written_semitones - self._held) <= 0.5 + self.margin:
            self._away_since = None
        else:
            if self._away_since is None:
                self._away_since = time_s
            if time_s - self._away_since >= self.hold_s - 1e-9:
                self._switch(nearest, written_semitones, f0_hz)
            else:
                self.reading = None  # moving: blank rather than a note the pitch has left
                return None
        a = 1.0 if self.smooth_s <= 0 else 1.0 - math.exp(-dt / self.smooth_s)
        self._pitch += a * (written_semitones - self._pitch)
        self._f0 += a * (f0_hz - self._f0)
        cents = min(50.0, max(-50.0, 100.0 * (self._pitch - self._held)))
        self.reading = TunerReading(self._held, cents, self._f0, time_s)
        return self.reading

    def _switch(self, note: int, pitch: float, f0_hz: float) -> None:
        self._held = note
        self._away_since = None
        self._pitch = pitch
        self._f0 = f0_hz
