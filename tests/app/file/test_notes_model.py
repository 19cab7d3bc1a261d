"""The notes model without widgets: the correction history (undo/redo, a new correction drops the redo states,
no entry for a correction that changes nothing, a bounded stack), edited/unsaved flags, the octave offsets of the
curve, the summary's numbers."""

import math

import numpy as np
import pytest

from app.file import notes_model
from app.file.notes_model import NotesModel, shifted_track, summarise
from pesto_core.notes import Note
from pesto_core.notes.intonation import grid


def note(onset, offset, pitch):
    return Note(onset_s=onset, offset_s=offset, **grid(pitch))


NOTES = [note(0.0, 0.5, 57.0), note(0.6, 1.0, 60.3), note(1.1, 1.6, 64.0), note(1.7, 2.0, 63.8)]


def model():
    return NotesModel(NOTES, time_s=np.arange(200) * 0.01)


def test_history_undo_redo_and_flags():
    m = model()
    assert not m.edited and not m.unsaved and not m.can_undo() and not m.can_redo()
    assert m.shift(0.5, 1.05, 1)
    assert m.notes[1].name == "C5" and m.notes[0] == NOTES[0] and m.edited and m.unsaved
    assert m.undo_text() == "Octave up"
    offsets = m.octave_offsets()
    assert offsets[50:105].tolist() == [1] * 55 and not offsets[:50].any() and not offsets[105:].any()
    assert m.delete(1.0, 2.0)
    assert len(m.notes) == 2
    assert m.undo() and len(m.notes) == 4 and m.can_redo() and m.redo_text() == "Delete notes"
    assert m.merge(1.0, 2.0)  # a new correction: the redo state is gone
    assert not m.can_redo() and len(m.notes) == 3 and m.notes[2].onset_s == 1.1 and m.notes[2].offset_s == 2.0
    assert not m.delete(5.0, 6.0)  # nothing there: no history entry
    assert not m.merge(0.0, 0.4)  # one note only
    assert not m.split(0.55)  # between notes
    assert m.split(0.25) and [n.offset_s for n in m.notes[:2]] == [0.25, 0.5]
    while m.undo():
        pass
    assert m.notes == NOTES and not m.edited and m.octave_offsets() is None


def test_history_is_bounded(monkeypatch):
    monkeypatch.setattr(notes_model, "HISTORY_LIMIT", 5)
    m = model()
    for k in range(10):
        m.shift(0.0, 2.0, 1 if k % 2 == 0 else -1)
    steps = 0
    while m.undo():
        steps += 1
    assert steps == 4 and m.notes == NOTES  # the first state (the segmentation) always stays


def test_summary_numbers():
    s = summarise(NOTES)
    dev = [n.deviation_cents for n in NOTES]  # 0, +30, 0, -20
    assert s.count == 4 and s.median_abs_cents == pytest.approx(np.median(np.abs(dev)))
    assert s.within_10 == 0.5 and s.within_25 == 0.75
    assert s.counts.sum() == 4 and len(s.counts) == len(s.edges_cents) - 1 == 20
    empty = summarise([])
    assert empty.count == 0 and math.isnan(empty.median_abs_cents) and empty.counts.sum() == 0


def test_shifted_track_moves_only_the_range():
    from pesto_core.track import PitchTrack

    t = np.arange(100) * 0.01
    track = PitchTrack(
        time_s=t,
        pitch_semitones=np.full(100, 60.0, np.float32),
        confidence=np.ones(100, np.float32),
        volume=np.ones(100, np.float32),
        activations=None,
        sr=16000,
        hop_length=160,
        step_ms=10.0,
        model_name="m",
        reduction="alwa",
    )
    out = shifted_track(track, ((0.2, 0.5, -1), (0.4, 0.6, 2)))
    assert out.pitch_semitones.dtype == np.float32
    assert out.pitch_semitones[:20].tolist() == [60.0] * 20 and out.pitch_semitones[20:40].tolist() == [48.0] * 20
    assert out.pitch_semitones[40:50].tolist() == [72.0] * 10 and out.pitch_semitones[50:60].tolist() == [84.0] * 10
    assert shifted_track(track, ()) is track
