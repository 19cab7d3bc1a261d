"""The notes of one analysed file and their corrections (no widgets): the note list, an undo/redo history of
immutable states, the octave-corrected pitch curve, the session summary and the sidecar file.

A state (:class:`NotesState`) is the list of notes (:class:`pesto_core.notes.Note`, frozen), the octave shifts
applied to the pitch curve (``(start_s, end_s, octaves)``, in the order applied) and the reference A4 (Hz) the notes
are named and measured against. A correction builds a new state
with the engine's pure functions (:mod:`pesto_core.notes.edit`) and pushes it; undo and redo move along the
stack. An octave shift moves both the notes whose centre lies in the range and the curve's frames in the range
(their pitch ±12 semitones), so that the CSV/NPZ exports carry the correction too
(:meth:`~app.file.document.FileDocument.track` applies :meth:`NotesModel.octave_offsets`). A change of reference
(:meth:`NotesModel.set_reference`) is a state too: the same pitches named and measured against another A4
(:func:`pesto_core.notes.set_reference`), undone like a correction.

Sidecar (``<audio stem>.notes.json`` next to the audio file, written atomically with
:func:`pesto_core.writers.atomic_write`)::

    {"format": "pesto-tracker-notes", "version": 1,
     "audio": "take.wav", "duration_s": 6.0, "a4_hz": 440.0,
     "shifts": [[start_s, end_s, octaves], ...],
     "notes": [{"onset_s": ..., "offset_s": ..., "pitch_semitones": ..., "midi_note": ..., "deviation_cents": ...,
                "spread_cents": ..., "vibrato_rate_hz": null, ...}, ...]}

(every field of :class:`~pesto_core.notes.Note`; NaN is written as null). A file of that name that is not such a
sidecar is never overwritten (:class:`SidecarError`). On reading, each note's name, MIDI number and deviation are
taken again from its pitch and ``a4_hz`` (a hand-edited file stays consistent); an ``a4_hz`` that is not a number
in :data:`A4_RANGE_HZ` is replaced by the tab's reference, with a warning (:meth:`NotesModel.read_sidecar`).

Threading: GUI thread (an export thread only reads :attr:`NotesModel.state`, an immutable snapshot).
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from pesto_core.notes import Note, delete_notes, merge_notes, set_reference, shift_octave, split_note
from pesto_core.notes.intonation import grid
from pesto_core.units import A4_HZ
from pesto_core.writers import atomic_write

SIDECAR_FORMAT = "pesto-tracker-notes"
SIDECAR_VERSION = 1
SIDECAR_SUFFIX = ".notes.json"
HISTORY_LIMIT = 200  # states kept for undo
IN_TUNE_CENTS = (10.0, 25.0)  # the summary's "within" shares
HIST_EDGES_CENTS = np.arange(-50.0, 50.1, 5.0)  # histogram bins of the deviations (cents)
A4_RANGE_HZ = (400.0, 480.0)  # the references the File tab offers (Hz); a sidecar's must lie here too
REFERENCE_ACTION = "Reference"  # the history entries of a change of A4 ("Reference A4 = 415 Hz")


class SidecarError(Exception):
    """The sidecar cannot be read or written (the message names the path and says why)."""


def check_a4_hz(a4_hz) -> float:
    """``a4_hz`` as a float in :data:`A4_RANGE_HZ` (Hz); ValueError with a message a user can act on otherwise."""
    lo, hi = A4_RANGE_HZ
    if not isinstance(a4_hz, bool):  # (a bool is an int: True would be A4 = 1 Hz)
        try:
            value = float(a4_hz)
        except (TypeError, ValueError):
            value = math.nan
        if lo <= value <= hi:  # (False for NaN)
            return value
    raise ValueError(f"A4 must be a number of Hz from {lo:g} to {hi:g}, got {a4_hz!r}")


@dataclass(frozen=True)
class NotesState:
    """One state of the history: the notes (time order), the octave shifts of the curve and the reference (Hz) the
    notes are named against (every note's ``a4_hz`` is this one)."""

    notes: Tuple[Note, ...] = ()
    shifts: Tuple[Tuple[float, float, int], ...] = ()
    action: str = ""  # what made it ("Octave up", ...), for the undo/redo menu entries
    a4_hz: float = A4_HZ


@dataclass(frozen=True)
class NotesSummary:
    """The session summary: number of notes, median absolute deviation (cents), share of notes within ±10 and ±25
    cents, and the histogram of deviations (``counts`` per bin of ``edges_cents``)."""

    count: int
    median_abs_cents: float
    within_10: float
    within_25: float
    counts: np.ndarray
    edges_cents: np.ndarray


def summarise(notes: Sequence[Note]) -> NotesSummary:
    """The summary of ``notes`` (NaN measures when there are none)."""
    dev = np.array([n.deviation_cents for n in notes], np.float64)
    counts, _ = np.histogram(np.clip(dev, -50.0, 49.999), HIST_EDGES_CENTS)
    if not len(dev):
        return NotesSummary(0, math.nan, math.nan, math.nan, counts, HIST_EDGES_CENTS)
    a = np.abs(dev)
    return NotesSummary(
        len(dev),
        float(np.median(a)),
        float(np.mean(a <= IN_TUNE_CENTS[0])),
        float(np.mean(a <= IN_TUNE_CENTS[1])),
        counts,
        HIST_EDGES_CENTS,
    )


def offsets_of(time_s: np.ndarray, shifts) -> Optional[np.ndarray]:
    """Octaves added to each frame (int8 (frames,)) by ``shifts`` (``(start_s, end_s, octaves)``: frames with
    ``start_s <= time < end_s``), or None without shifts."""
    if not shifts:
        return None
    time_s = np.asarray(time_s, np.float64)
    out = np.zeros(len(time_s), np.int8)
    for a, b, k in shifts:
        out[(time_s >= a) & (time_s < b)] += int(k)
    return out


def shifted_track(track, shifts):
    """``track`` with the octave ``shifts`` applied to its pitch (the track itself without shifts)."""
    offsets = offsets_of(track.time_s, shifts)
    if offsets is None:
        return track
    from dataclasses import replace

    pitch = np.asarray(track.pitch_semitones)
    return replace(track, pitch_semitones=(pitch + 12 * offsets.astype(pitch.dtype)).astype(pitch.dtype))


def saved_state(audio_path, duration_s: Optional[float] = None, a4_hz: float = A4_HZ) -> Optional[NotesState]:
    """The corrections saved next to ``audio_path``, or None when there are none (or they cannot be used).

    ``a4_hz``: the reference used when the sidecar's own is not usable (see :meth:`NotesModel.read_sidecar`)."""
    path = sidecar_path(audio_path)
    if not path.exists():
        return None
    try:
        return NotesModel.read_sidecar(path, duration_s, a4_hz=a4_hz)[0]
    except SidecarError:
        return None


def sidecar_path(audio_path) -> Path:
    """``<folder>/<audio stem>.notes.json``."""
    p = Path(audio_path)
    return p.with_name(p.stem + SIDECAR_SUFFIX)


def _clean(x):
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _note_dict(n: Note) -> dict:
    return {k: _clean(v) for k, v in asdict(n).items()}


_GRID_FIELDS = ("pitch_semitones", "midi_note", "deviation_cents", "a4_hz")  # taken from the pitch and the reference


def _note_from(d: dict, a4_hz: float) -> Note:
    """The note of a sidecar entry, named and measured against ``a4_hz`` (KeyError/TypeError/ValueError when an
    entry is unusable: no pitch, a pitch that is not a finite number...)."""
    kw = {}
    for f in fields(Note):
        if f.name in _GRID_FIELDS or f.name not in d:
            continue
        v = d[f.name]
        kw[f.name] = math.nan if v is None else float(v)
    pitch = float(d["pitch_semitones"])
    if not math.isfinite(pitch):
        raise ValueError(f"pitch_semitones {d['pitch_semitones']!r}")
    onset, offset = kw.get("onset_s", math.nan), kw.get("offset_s", math.nan)
    if not (math.isfinite(onset) and math.isfinite(offset) and offset >= onset):
        raise ValueError(f"a note from {d.get('onset_s')!r} to {d.get('offset_s')!r} s")
    return Note(**kw, a4_hz=a4_hz, **grid(pitch, a4_hz))


def _shift_from(x) -> Tuple[float, float, int]:
    """A sidecar's octave shift ``[start_s, end_s, octaves]`` (ValueError unless finite times and a few octaves)."""
    a, b, k = x
    a, b = float(a), float(b)
    if not (math.isfinite(a) and math.isfinite(b) and float(k) == int(k) and abs(int(k)) <= 10):
        raise ValueError(f"octave shift {x!r}")
    return a, b, int(k)


class NotesModel:
    """The notes of a document and their correction history.

    Parameters
    ----------
    notes : sequence of Note
        The segmented notes (the state undo comes back to); named again against ``a4_hz`` where theirs differs.
    track : PitchTrack, optional
        The track the notes came from (split and merge measure the new notes on its frames).
    time_s : float64 (frames,)
        Frame times of the document (for the octave offsets of the curve).
    a4_hz : float
        The reference (Hz, in :data:`A4_RANGE_HZ`) of the notes' names and deviations; ValueError outside it.
    gate : float
        Confidence gate of the frames a split or merge measures, in [0, 1].
    """

    def __init__(
        self,
        notes: Sequence[Note],
        *,
        track=None,
        time_s: Optional[np.ndarray] = None,
        a4_hz: float = A4_HZ,
        gate: float = 0.5,
    ):
        self.track = track
        self.time_s = np.zeros(0) if time_s is None else np.asarray(time_s, np.float64)
        a4_hz = check_a4_hz(a4_hz)
        self.gate = float(gate)
        if any(n.a4_hz != a4_hz for n in notes):
            notes = set_reference(notes, a4_hz)
        self._states: List[NotesState] = [NotesState(tuple(notes), a4_hz=a4_hz)]
        self._index = 0
        self._saved_index: Optional[int] = None  # the state the sidecar holds (None: not saved)
        self._offsets_cache: Tuple[int, Optional[np.ndarray]] = (-1, None)
        self._onsets: tuple = (None, [])
        self._regridded: tuple = (None, ())  # (A4, the segmentation's notes named against it)

    # ------------------------------------------------------------------------------------------------ state
    @property
    def state(self) -> NotesState:
        return self._states[self._index]

    @property
    def notes(self) -> List[Note]:
        return list(self.state.notes)

    @property
    def a4_hz(self) -> float:
        """The reference (Hz) the current notes are named and measured against."""
        return self.state.a4_hz

    @property
    def edited(self) -> bool:
        """The notes, the curve or the reference differ from the segmentation's (some correction is in effect)."""
        first, now = self._states[0], self.state
        return now.notes != first.notes or now.shifts != first.shifts or now.a4_hz != first.a4_hz

    def corrected(self, state: Optional[NotesState] = None) -> bool:
        """``state`` (default: the current one) differs from the segmentation by more than its reference: notes
        moved, deleted, split or merged, or the curve shifted. Only renamed against another A4, its notes are the
        segmentation's, which an export makes again from the track it writes, as ``pesto --a4`` does."""
        s, first = (self.state if state is None else state), self._states[0]
        if s.shifts != first.shifts:
            return True
        if s.a4_hz == first.a4_hz:
            return s.notes != first.notes
        if self._regridded[0] != s.a4_hz:  # (cached: an export asks once per state)
            self._regridded = (s.a4_hz, tuple(set_reference(first.notes, s.a4_hz)))
        return s.notes != self._regridded[1]

    @property
    def unsaved(self) -> bool:
        """Corrections that the sidecar does not hold."""
        return self._index != self._saved_index and (self.edited or self._saved_index is not None)

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._states) - 1

    def undo_text(self) -> str:
        return self.state.action if self.can_undo() else ""

    def redo_text(self) -> str:
        return self._states[self._index + 1].action if self.can_redo() else ""

    def undo(self) -> bool:
        if not self.can_undo():
            return False
        self._index -= 1
        return True

    def redo(self) -> bool:
        if not self.can_redo():
            return False
        self._index += 1
        return True

    def _push(self, notes: Sequence[Note], action: str, shifts=None, a4_hz: Optional[float] = None) -> bool:
        old = self.state
        new = NotesState(
            tuple(notes),
            old.shifts if shifts is None else tuple(shifts),
            action,
            old.a4_hz if a4_hz is None else float(a4_hz),
        )
        if new.notes == old.notes and new.shifts == old.shifts and new.a4_hz == old.a4_hz:
            return False  # nothing changed: no history entry
        del self._states[self._index + 1 :]
        self._states.append(new)
        if len(self._states) > HISTORY_LIMIT:
            drop = len(self._states) - HISTORY_LIMIT
            del self._states[1 : 1 + drop]  # the first state (the segmentation) stays
            if self._saved_index is not None:
                self._saved_index = self._saved_index - drop if self._saved_index > drop else None
        self._index = len(self._states) - 1
        return True

    # ------------------------------------------------------------------------------------------------ queries
    def indices_in(self, start_s: float, end_s: float) -> List[int]:
        """Indices of the notes whose centre lies in [start_s, end_s) (what a correction of the range touches)."""
        return [i for i, n in enumerate(self.state.notes) if start_s <= 0.5 * (n.onset_s + n.offset_s) < end_s]

    def index_at(self, t_s: float, pitch: Optional[float] = None) -> Optional[int]:
        """The note sounding at ``t_s`` (and, if ``pitch`` is given, within ±0.5 semitone of it), or None."""
        notes = self.state.notes
        if self._onsets[0] is not notes:  # onsets of this state, for a bisection (the pointer asks 60 times a second)
            self._onsets = (notes, [n.onset_s for n in notes])
        k = bisect.bisect_right(self._onsets[1], t_s)
        for i in range(k - 1, max(-1, k - 9), -1):  # notes do not overlap, but a corrected list might a little
            n = notes[i]
            if n.onset_s <= t_s < n.offset_s and (pitch is None or abs(pitch - n.pitch_semitones) <= 0.5):
                return i
        return None

    def summary(self) -> NotesSummary:
        return summarise(self.state.notes)

    def octave_offsets(self) -> Optional[np.ndarray]:
        """Octaves added to each frame of the curve (int8 (frames,)), or None when no shift is in effect."""
        shifts = self.state.shifts
        if not shifts:
            return None
        key = hash(shifts)
        if self._offsets_cache[0] == key:
            return self._offsets_cache[1]
        out = offsets_of(self.time_s, shifts)
        self._offsets_cache = (key, out)
        return out

    # ------------------------------------------------------------------------------------------------ corrections
    def shift(self, start_s: float, end_s: float, octaves: int) -> bool:
        """Move the notes centred in [start_s, end_s) and the curve's frames there by ``octaves``."""
        if end_s <= start_s or not octaves:
            return False
        notes = shift_octave(self.state.notes, start_s, end_s, octaves)
        name = "Octave up" if octaves > 0 else "Octave down"
        return self._push(notes, name, self.state.shifts + ((float(start_s), float(end_s), int(octaves)),))

    def delete(self, start_s: float, end_s: float) -> bool:
        """Delete the notes centred in [start_s, end_s)."""
        return self._push(delete_notes(self.state.notes, start_s, end_s), "Delete notes")

    def split(self, at_s: float) -> bool:
        """Cut the note sounding at ``at_s`` in two there (False when no note is cut)."""
        i = self.index_at(at_s)
        if i is None:
            return False
        n = self.state.notes[i]
        if not n.onset_s < at_s < n.offset_s:
            return False
        return self._push(split_note(self.state.notes, i, at_s, track=self._track(), gate=self.gate), "Split note")

    def merge(self, start_s: float, end_s: float) -> bool:
        """Merge the notes centred in [start_s, end_s) into one (False when fewer than two)."""
        idx = self.indices_in(start_s, end_s)
        if len(idx) < 2:
            return False
        return self._push(
            merge_notes(self.state.notes, idx[0], idx[-1], track=self._track(), gate=self.gate), "Merge notes"
        )

    def set_reference(self, a4_hz: float, *, merge: bool = False) -> bool:
        """Name and measure the notes against A4 = ``a4_hz`` Hz (their pitches and the curve unchanged).

        ``merge``: the change continues the one just made (e.g. the arrows of a spin box held down), so one undo
        takes back the whole series: it replaces the history's last entry when that is a change of reference not
        yet saved and nothing can be redone (and removes it when the series comes back where it started).
        Raises ValueError for a reference outside :data:`A4_RANGE_HZ`; False when nothing changes."""
        a4 = check_a4_hz(a4_hz)
        old = self.state
        if a4 == old.a4_hz:
            return False
        notes = tuple(set_reference(old.notes, a4))
        action = f"{REFERENCE_ACTION} A4 = {a4:g} Hz"
        top = self._index == len(self._states) - 1 and self._index > 0 and self._index != self._saved_index
        if not (merge and top and old.action.startswith(REFERENCE_ACTION)):
            return self._push(notes, action, a4_hz=a4)
        below = self._states[self._index - 1]
        if below.a4_hz == a4 and below.notes == notes and below.shifts == old.shifts:  # back where the series began
            del self._states[self._index :]
            self._index -= 1
        else:
            self._states[self._index] = NotesState(notes, old.shifts, action, a4)
        return True

    def _track(self):
        """The track with the octave corrections, so that re-measured notes keep their octave."""
        return None if self.track is None else shifted_track(self.track, self.state.shifts)

    # ------------------------------------------------------------------------------------------------ sidecar
    def sidecar_dict(self, audio_name: str, duration_s: float) -> dict:
        s = self.state
        return dict(
            format=SIDECAR_FORMAT,
            version=SIDECAR_VERSION,
            audio=audio_name,
            duration_s=float(duration_s),
            a4_hz=s.a4_hz,
            shifts=[list(x) for x in s.shifts],
            notes=[_note_dict(n) for n in s.notes],
        )

    def save(self, path, audio_name: str, duration_s: float) -> Path:
        """Write the current state to the sidecar ``path`` (atomically). Raises :class:`SidecarError` when a file
        there is not a sidecar (it is left alone) or it cannot be written."""
        path = Path(path)
        if path.exists():
            try:
                old = json.loads(path.read_text())
                ours = isinstance(old, dict) and old.get("format") == SIDECAR_FORMAT
            except (OSError, ValueError, UnicodeDecodeError):
                ours = False
            if not ours:
                raise SidecarError(f"{path}: exists and is not a PESTO Tracker notes file; not overwritten")
        data = (json.dumps(self.sidecar_dict(audio_name, duration_s), indent=1, allow_nan=False) + "\n").encode()
        try:
            atomic_write(path, lambda f: f.write(data))
        except Exception as e:  # OutputError names the path
            raise SidecarError(str(e)) from None
        self._saved_index = self._index
        return path

    @staticmethod
    def read_sidecar(path, duration_s: Optional[float] = None, *, a4_hz: float = A4_HZ) -> Tuple[NotesState, str]:
        """The state a sidecar holds, and a warning ('' when none).

        Raises :class:`SidecarError` when it is not one, is damaged, or was written for audio of another duration
        (more than 50 ms apart). A reference that is not usable (not a number of Hz in :data:`A4_RANGE_HZ`) is not
        fatal: the notes are named against ``a4_hz`` instead and the warning says so (no ``a4_hz`` at all is the
        format's default, 440 Hz)."""
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise SidecarError(f"{path}: cannot read ({e})") from None
        if not isinstance(d, dict) or d.get("format") != SIDECAR_FORMAT:
            raise SidecarError(f"{path}: not a PESTO Tracker notes file")
        try:
            version = int(d.get("version", 0))
            saved_s = None if d.get("duration_s") is None else float(d["duration_s"])
        except (TypeError, ValueError) as e:
            raise SidecarError(f"{path}: damaged ({e})") from None
        if version > SIDECAR_VERSION:
            raise SidecarError(f"{path}: written by a newer version (format {d.get('version')})")
        if duration_s is not None and saved_s is not None and not abs(saved_s - float(duration_s)) <= 0.05:
            raise SidecarError(
                f"{path}: made for audio of {saved_s:.2f} s, this file lasts {float(duration_s):.2f} s; ignored"
            )
        warning = ""
        try:
            a4 = check_a4_hz(d.get("a4_hz", A4_HZ))
        except ValueError as e:
            a4 = check_a4_hz(a4_hz)
            warning = f"{path}: the reference is not usable ({e}); the notes are named against A4 = {a4:g} Hz"
        try:
            notes = tuple(sorted((_note_from(n, a4) for n in d.get("notes", [])), key=lambda n: n.onset_s))
            shifts = tuple(_shift_from(x) for x in d.get("shifts", []))
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
            raise SidecarError(f"{path}: damaged ({type(e).__name__}: {e})") from None
        return NotesState(notes, shifts, "Load corrections", a4), warning

    def load_state(self, state: NotesState) -> None:
        """Make ``state`` (from a sidecar) current and saved; the segmentation stays the state undo returns to."""
        self._push(state.notes, state.action or "Load corrections", state.shifts, state.a4_hz)
        self._saved_index = self._index
