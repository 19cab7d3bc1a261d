"""A segmented note and its intonation measures (numpy only).

Pitch is in MIDI semitones against A4 = 440 Hz (as in :class:`~pesto_core.track.PitchTrack`); the note's name, MIDI
number and deviation are taken against the chosen reference ``a4_hz``. Deviations are in cents.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ..units import A4_HZ, nearest_note, note_name, reference_shift, semitones_to_hz

#: Vibrato is looked for between these rates (Hz).
VIBRATO_RATES_HZ = (3.0, 10.0)
#: A note has vibrato when the fitted sinusoid reaches this extent (cents, half peak-to-peak) ...
VIBRATO_MIN_EXTENT_CENTS = 15.0
#: ... explains at least this share of the detrended pitch variance ...
VIBRATO_MIN_SHARE = 0.5
#: ... and the note's core holds at least this many cycles of it.
VIBRATO_MIN_CYCLES = 1.5
#: A frame is "in tune" when within this many cents of the note's centre.
IN_TUNE_CENTS = 10.0
#: Share of the note left out at each end (at least one frame) for the intonation measures (attack/release).
EDGE_SHARE = 0.1


@dataclass(frozen=True)
class Note:
    """One note of a monophonic melody.

    Attributes
    ----------
    onset_s, offset_s : float
        Start and end in seconds.
    pitch_semitones : float
        The note's pitch: median of its frames' pitch, MIDI semitones against A4 = 440 Hz.
    midi_note : int
        Nearest equal-tempered note for the reference ``a4_hz`` (so that ``note_name(midi_note)`` names it).
    deviation_cents : float
        ``pitch`` minus that note, in cents against ``a4_hz``, in [-50, 50).
    spread_cents : float
        Root-mean-square distance of the frames from the centre (cents), vibrato included.
    vibrato_rate_hz, vibrato_extent_cents : float
        Rate and extent (half peak-to-peak, cents) of a sinusoidal vibrato; NaN when the note has none.
    drift_cents : float
        Change of the pitch's linear trend from the start to the end of the note's core (cents; vibrato removed).
    in_tune_share : float
        Share of the core's frames within ±10 cents of the centre, in [0, 1].
    confidence : float
        Mean voicing confidence of the note's frames (NaN when unknown).
    a4_hz : float
        The reference the MIDI number and deviation are taken against.

    The "core" is the note without ``EDGE_SHARE`` of its frames at each end (attack and release).
    """

    onset_s: float
    offset_s: float
    pitch_semitones: float
    midi_note: int
    deviation_cents: float
    spread_cents: float = 0.0
    vibrato_rate_hz: float = math.nan
    vibrato_extent_cents: float = math.nan
    drift_cents: float = 0.0
    in_tune_share: float = 1.0
    confidence: float = math.nan
    a4_hz: float = A4_HZ

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s

    @property
    def frequency_hz(self) -> float:
        return float(semitones_to_hz(self.pitch_semitones))

    @property
    def name(self) -> str:
        """Scientific pitch name for ``a4_hz``, e.g. ``'A4'``."""
        return note_name(self.midi_note)

    @property
    def has_vibrato(self) -> bool:
        return not math.isnan(self.vibrato_rate_hz)

    def shifted(self, semitones: float) -> "Note":
        """The same note transposed (intonation measures unchanged)."""
        return replace(self, **grid(self.pitch_semitones + semitones, self.a4_hz))


def grid(pitch_semitones: float, a4_hz: float = A4_HZ) -> dict:
    """``pitch_semitones``, ``midi_note`` and ``deviation_cents`` of a centre (semitones vs 440) for ``a4_hz``."""
    midi, cents = nearest_note(float(pitch_semitones) + reference_shift(a4_hz))
    return dict(pitch_semitones=float(pitch_semitones), midi_note=int(midi), deviation_cents=float(cents))


def _core(n: int) -> slice:
    edge = max(1, int(round(EDGE_SHARE * n))) if n >= 5 else 0
    return slice(edge, n - edge)


def vibrato_fit(time_s: np.ndarray, cents: np.ndarray):
    """Fit ``c0 + c1 t + A cos(2 pi f t + phi)`` to a pitch curve.

    time_s, cents : (n,) frame times (s) and pitch (cents, any origin).
    Returns ``(rate_hz, extent_cents, slope_cents_per_s, share)``: rate and extent NaN when no vibrato is found
    (see the ``VIBRATO_*`` constants); ``share`` is the part of the detrended variance the sinusoid explains.
    """
    t = time_s - time_s.mean()
    span = float(time_s[-1] - time_s[0]) if len(time_s) > 1 else 0.0
    ones = np.ones_like(t)
    trend = np.linalg.lstsq(np.stack([ones, t], 1), cents, rcond=None)[0]
    resid = cents - (trend[0] + trend[1] * t)
    var = float(np.mean(resid ** 2))
    lo, hi = VIBRATO_RATES_HZ
    lo = max(lo, VIBRATO_MIN_CYCLES / span) if span > 0 else hi
    if len(t) < 8 or lo >= hi or var <= 0:
        return math.nan, math.nan, float(trend[1]), 0.0
    freqs = np.arange(lo, hi + 1e-9, 0.05)
    arg = 2 * np.pi * freqs[:, None] * t[None, :]
    c, s = np.cos(arg), np.sin(arg)
    # least squares of resid on (cos, sin) for every frequency at once (2x2 normal equations)
    cc, ss, cs = (c * c).sum(1), (s * s).sum(1), (c * s).sum(1)
    rc, rs = c @ resid, s @ resid
    det = np.maximum(cc * ss - cs * cs, 1e-12)
    a, b = (ss * rc - cs * rs) / det, (cc * rs - cs * rc) / det
    explained = a * rc + b * rs
    k = int(np.argmax(explained))
    if 0 < k < len(freqs) - 1:  # parabolic refinement of the peak
        y0, y1, y2 = explained[k - 1:k + 2]
        den = y0 - 2 * y1 + y2
        f = freqs[k] + (0.5 * (y0 - y2) / den * 0.05 if den < 0 else 0.0)
    else:
        f = freqs[k]
    w = 2 * np.pi * f * t
    design = np.stack([ones, t, np.cos(w), np.sin(w)], 1)
    coef = np.linalg.lstsq(design, cents, rcond=None)[0]
    extent = float(math.hypot(coef[2], coef[3]))
    fitted = design[:, 2:] @ coef[2:]
    share = float(1.0 - np.mean((resid - fitted) ** 2) / var)
    if extent < VIBRATO_MIN_EXTENT_CENTS or share < VIBRATO_MIN_SHARE:
        return math.nan, math.nan, float(trend[1]), share
    return float(f), extent, float(coef[1]), share


def measure_note(onset_s: float, offset_s: float, time_s: np.ndarray, pitch_semitones: np.ndarray,
                 confidence: Optional[np.ndarray] = None, a4_hz: float = A4_HZ) -> Optional[Note]:
    """The :class:`Note` from ``onset_s`` to ``offset_s`` whose voiced frames are given.

    time_s, pitch_semitones, confidence : (n,) the note's voiced frames (s, semitones vs 440, [0, 1]); NaN pitches
    are ignored. Returns None when no frame has a pitch.
    """
    time_s = np.asarray(time_s, np.float64)
    pitch = np.asarray(pitch_semitones, np.float64)
    keep = np.isfinite(pitch)
    time_s, pitch = time_s[keep], pitch[keep]
    if len(pitch) == 0:
        return None
    conf = math.nan
    if confidence is not None and len(confidence):
        conf = float(np.mean(np.asarray(confidence, np.float64)[keep]))
    centre = float(np.median(pitch))
    core = _core(len(pitch))
    tc, cents = time_s[core], 100.0 * (pitch[core] - centre)
    spread = float(np.sqrt(np.mean(cents ** 2)))
    in_tune = float(np.mean(np.abs(cents) <= IN_TUNE_CENTS))
    rate, extent, slope = math.nan, math.nan, 0.0
    if len(tc) >= 3:
        rate, extent, slope, _ = vibrato_fit(tc, cents)
    drift = slope * float(tc[-1] - tc[0]) if len(tc) >= 2 else 0.0
    return Note(onset_s=float(onset_s), offset_s=float(offset_s), spread_cents=spread, vibrato_rate_hz=rate,
                vibrato_extent_cents=extent, drift_cents=float(drift), in_tune_share=in_tune, confidence=conf,
                a4_hz=float(a4_hz), **grid(centre, a4_hz))


def measure_span(track, onset_s: float, offset_s: float, *, a4_hz: float = A4_HZ, gate: float = 0.5
                 ) -> Optional[Note]:
    """:func:`measure_note` over the frames of a ``PitchTrack`` whose centre lies in [onset_s, offset_s) and whose
    confidence is at least ``gate``. None when there is none."""
    t = np.asarray(track.time_s, np.float64)
    sel = (t >= onset_s) & (t < offset_s) & (np.asarray(track.confidence) >= gate)
    return measure_note(onset_s, offset_s, t[sel], np.asarray(track.pitch_semitones)[sel],
                        np.asarray(track.confidence)[sel], a4_hz)
