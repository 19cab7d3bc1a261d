"""Corrections of a note list: pure functions that return a new list (the input is never changed).

Where a ``track`` (the :class:`~pesto_core.track.PitchTrack` the notes came from) is given, a note whose bounds
change is measured again from the track's frames (:func:`~.intonation.measure_span`); without one, its measures
are carried over (split) or combined duration-weighted (merge). Octave shifts keep the measures (they are
relative to the note's own pitch).
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import List, Optional, Sequence

from .intonation import Note, grid, measure_span


def _overlaps(n: Note, start_s: float, end_s: float) -> bool:
    """The note's centre lies in [start_s, end_s)."""
    return start_s <= 0.5 * (n.onset_s + n.offset_s) < end_s


def shift_octave(notes: Sequence[Note], start_s: float, end_s: float, octaves: int = 1) -> List[Note]:
    """Notes whose centre time lies in [start_s, end_s) moved by ``octaves`` (negative: down)."""
    return [n.shifted(12.0 * octaves) if _overlaps(n, start_s, end_s) else n for n in notes]


def delete_notes(notes: Sequence[Note], start_s: float, end_s: float) -> List[Note]:
    """Notes without those whose centre time lies in [start_s, end_s)."""
    return [n for n in notes if not _overlaps(n, start_s, end_s)]


def delete_note(notes: Sequence[Note], index: int) -> List[Note]:
    """Notes without ``notes[index]``."""
    return [n for i, n in enumerate(notes) if i != index]


def _measured(track, onset_s, offset_s, like: Note, gate: float) -> Note:
    note = measure_span(track, onset_s, offset_s, a4_hz=like.a4_hz, gate=gate) if track is not None else None
    return note if note is not None else replace(like, onset_s=onset_s, offset_s=offset_s)


def split_note(notes: Sequence[Note], index: int, at_s: float, *, track=None, gate: float = 0.5) -> List[Note]:
    """``notes[index]`` cut in two at ``at_s`` (which must lie strictly inside it)."""
    n = notes[index]
    if not n.onset_s < at_s < n.offset_s:
        raise ValueError(f"{at_s} s is not inside the note ({n.onset_s} .. {n.offset_s} s)")
    parts = [_measured(track, n.onset_s, at_s, n, gate), _measured(track, at_s, n.offset_s, n, gate)]
    return list(notes[:index]) + parts + list(notes[index + 1:])


def merge_notes(notes: Sequence[Note], first: int, last: int, *, track=None, gate: float = 0.5) -> List[Note]:
    """``notes[first..last]`` (inclusive) made one note from the first's onset to the last's offset."""
    if not 0 <= first < last < len(notes):
        raise ValueError(f"cannot merge notes {first}..{last} of {len(notes)}")
    group = notes[first:last + 1]
    onset, offset = group[0].onset_s, group[-1].offset_s
    merged: Optional[Note] = None
    if track is not None:
        merged = measure_span(track, onset, offset, a4_hz=group[0].a4_hz, gate=gate)
    if merged is None:
        w = [max(g.duration_s, 1e-9) for g in group]
        mean = lambda attr: sum(wi * getattr(g, attr) for wi, g in zip(w, group)) / sum(w)  # noqa: E731
        merged = replace(group[0], onset_s=onset, offset_s=offset, spread_cents=mean("spread_cents"),
                         drift_cents=mean("drift_cents"), in_tune_share=mean("in_tune_share"),
                         confidence=mean("confidence"), vibrato_rate_hz=math.nan, vibrato_extent_cents=math.nan,
                         **grid(mean("pitch_semitones"), group[0].a4_hz))
    return list(notes[:first]) + [merged] + list(notes[last + 1:])


def set_reference(notes: Sequence[Note], a4_hz: float) -> List[Note]:
    """The notes named and measured against another A4 (pitches unchanged)."""
    return [replace(n, a4_hz=float(a4_hz), **grid(n.pitch_semitones, a4_hz)) for n in notes]
