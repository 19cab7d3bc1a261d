"""The notes CSV (``<stem>.notes.csv``): writing and reading back (standard library + numpy).

Header and columns (one row per note, in time order; empty field = not applicable)::

    onset,offset,frequency,note,midi,deviation_cents,spread_cents,vibrato_rate_hz,vibrato_extent_cents,
    drift_cents,in_tune_share,confidence,a4

onset, offset: s; frequency: the note's pitch (median of its frames) in Hz; note: its name (e.g. ``C#4``) and
midi: its MIDI number, both the nearest equal-tempered note for A4 = ``a4`` Hz; deviation_cents: the pitch minus
that note (cents, [-50, 50)); spread_cents: RMS distance of the frames from the pitch; vibrato_rate_hz,
vibrato_extent_cents: rate and extent (half peak-to-peak) of the vibrato, empty when there is none; drift_cents:
change of the pitch's trend from start to end; in_tune_share: share of frames within ±10 cents of the pitch
(0..1); confidence: mean voicing confidence (empty when unknown); a4: the reference in Hz.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import List, Sequence, Union

from ..units import A4_HZ, hz_to_semitones
from .intonation import Note, grid

COLUMNS = ("onset", "offset", "frequency", "note", "midi", "deviation_cents", "spread_cents", "vibrato_rate_hz",
           "vibrato_extent_cents", "drift_cents", "in_tune_share", "confidence", "a4")


def _num(x: float, fmt: str) -> str:
    return "" if x is None or not math.isfinite(x) else format(x, fmt)


def notes_csv_bytes(notes: Sequence[Note]) -> bytes:
    """The notes CSV of ``notes`` (header only when there are none)."""
    lines = [",".join(COLUMNS)]
    for n in notes:
        lines.append(",".join([
            f"{n.onset_s:.6f}", f"{n.offset_s:.6f}", f"{n.frequency_hz:.4f}", n.name, str(n.midi_note),
            f"{n.deviation_cents:.2f}", f"{n.spread_cents:.2f}", _num(n.vibrato_rate_hz, ".3f"),
            _num(n.vibrato_extent_cents, ".2f"), f"{n.drift_cents:.2f}", f"{n.in_tune_share:.4f}",
            _num(n.confidence, ".4f"), _num(n.a4_hz, "g")]))
    return ("\n".join(lines) + "\n").encode()


def _float(row: dict, key: str, default: float = math.nan) -> float:
    value = (row.get(key) or "").strip()
    return float(value) if value else default


def notes_from_csv(source: Union[str, Path, bytes]) -> List[Note]:
    """Notes read back from a notes CSV: a path, or the file's bytes.

    Only ``onset``, ``offset`` and ``frequency`` are required (a file edited elsewhere may drop the other
    columns); the note name, MIDI number and deviation are recomputed from the frequency and ``a4`` (440 Hz when
    absent), so a corrected file stays consistent. Raises ValueError naming the line on a malformed row.
    """
    text = source.decode() if isinstance(source, bytes) else Path(source).read_text()
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"onset", "offset", "frequency"} <= set(reader.fieldnames):
        raise ValueError("not a notes CSV: the header must have onset, offset and frequency")
    notes = []
    for line, row in enumerate(reader, start=2):
        try:
            a4 = _float(row, "a4", A4_HZ)
            freq = _float(row, "frequency")
            if not freq > 0:
                raise ValueError(f"frequency {row.get('frequency')!r}")
            notes.append(Note(
                onset_s=_float(row, "onset"), offset_s=_float(row, "offset"),
                spread_cents=_float(row, "spread_cents", 0.0), vibrato_rate_hz=_float(row, "vibrato_rate_hz"),
                vibrato_extent_cents=_float(row, "vibrato_extent_cents"), drift_cents=_float(row, "drift_cents", 0.0),
                in_tune_share=_float(row, "in_tune_share", math.nan), confidence=_float(row, "confidence"),
                a4_hz=a4, **grid(float(hz_to_semitones(freq)), a4)))
        except (TypeError, ValueError) as e:
            raise ValueError(f"line {line}: {e}") from None
    return sorted(notes, key=lambda n: n.onset_s)
