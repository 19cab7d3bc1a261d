"""The notes model without widgets: the correction history (undo/redo, a new correction drops the redo states,
no entry for a correction that changes nothing, a bounded stack), edited/unsaved flags, the octave offsets of the
curve, the summary's numbers; the reference A4 (renaming, undo, a series of changes as one undo, bad values) and the
sidecar (the reference kept; an unusable one falls back with a warning; damaged files refused with a message)."""

import json
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


# ---------------------------------------------------------------------------------------------------- reference A4
def test_reference_renames_the_notes_undoably():
    m = model()
    assert m.a4_hz == 440.0 and not m.set_reference(440.0)  # the same reference: no history entry
    assert m.set_reference(415.0)
    shift = -12 * math.log2(415.0 / 440.0)  # +1.01 semitones: A3 (220 Hz) is A#3 +1 cent against A4 = 415 Hz
    assert [n.pitch_semitones for n in m.notes] == [n.pitch_semitones for n in NOTES]  # pitches unchanged
    assert m.notes[0].name == "A#3" and m.notes[0].deviation_cents == pytest.approx(100 * (57 + shift - 58))
    assert all(n.a4_hz == 415.0 for n in m.notes) and m.a4_hz == 415.0
    assert m.edited and m.unsaved and not m.corrected()  # renamed only: the segmentation's notes
    assert m.undo_text() == "Reference A4 = 415 Hz"
    assert m.summary().counts.tolist() != summarise(NOTES).counts.tolist()  # the histogram follows
    assert m.undo() and m.notes == NOTES and m.a4_hz == 440.0 and not m.edited
    assert m.redo() and m.a4_hz == 415.0
    # a correction after it keeps the reference (the split halves are named against 415 Hz too)
    assert m.split(0.25) and m.corrected() and {n.a4_hz for n in m.notes} == {415.0}
    assert m.merge(0.0, 0.5) and m.notes[0].a4_hz == 415.0


def test_a_series_of_reference_changes_is_one_undo():
    m = model()
    assert m.set_reference(441.0)
    assert m.set_reference(442.0, merge=True) and m.set_reference(443.0, merge=True)
    assert m.a4_hz == 443.0 and m.undo_text() == "Reference A4 = 443 Hz"
    assert m.undo() and m.a4_hz == 440.0 and not m.can_undo()  # the whole series at once
    assert m.redo() and m.a4_hz == 443.0
    assert m.set_reference(440.0, merge=True)  # back where it began: the entry goes
    assert not m.can_undo() and not m.can_redo() and not m.edited and m.notes == NOTES
    # no merging into another correction, nor into the state the sidecar holds
    m.shift(0.0, 0.5, 1)
    assert m.set_reference(450.0, merge=True) and m.undo() and m.a4_hz == 440.0 and m.notes[0].name == "A4"


def test_reference_not_merged_into_a_saved_state(tmp_path):
    m = model()
    m.set_reference(430.0)
    m.save(tmp_path / "t.notes.json", "t.wav", 2.0)
    assert m.set_reference(431.0, merge=True) and m.unsaved
    assert m.undo() and m.a4_hz == 430.0 and not m.unsaved  # the saved state is still there


@pytest.mark.parametrize("bad", [399.9, 480.1, math.nan, math.inf, -440.0, "abc", None, True, [440.0]])
def test_bad_references_are_refused(bad):
    m = model()
    with pytest.raises(ValueError, match="A4 must be a number of Hz from 400 to 480"):
        m.set_reference(bad)
    assert m.a4_hz == 440.0 and not m.can_undo()
    with pytest.raises(ValueError):
        NotesModel(NOTES, a4_hz=bad)


def test_model_names_its_notes_against_its_reference():
    m = NotesModel(NOTES, a4_hz=415.0)  # notes measured against 440 Hz are renamed
    assert m.a4_hz == 415.0 and m.notes[0].name == "A#3" and not m.edited and not m.corrected()


# ---------------------------------------------------------------------------------------------------- sidecar
def write_sidecar(path, **changes):
    m = model()
    m.save(path, "t.wav", 2.0)
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))
    return path


def test_sidecar_keeps_the_reference(tmp_path):
    path = tmp_path / "t.notes.json"
    m = model()
    m.set_reference(415.0)
    m.save(path, "t.wav", 2.0)
    assert json.loads(path.read_text())["a4_hz"] == 415.0
    state, warning = NotesModel.read_sidecar(path, 2.0, a4_hz=432.0)
    assert warning == "" and state.a4_hz == 415.0 and state.notes == tuple(m.notes)
    again = model()
    again.load_state(state)
    assert again.a4_hz == 415.0 and again.notes == m.notes and not again.unsaved and again.can_undo()
    # no "a4_hz" at all: the format's default, 440 Hz, silently
    data = json.loads(path.read_text())
    del data["a4_hz"]
    path.write_text(json.dumps(data))
    state, warning = NotesModel.read_sidecar(path, 2.0, a4_hz=432.0)
    assert warning == "" and state.a4_hz == 440.0 and state.notes[0].name == "A3"


@pytest.mark.parametrize("bad", ["abc", None, 1000.0, 0, -440, True, [440], {"hz": 440}, "NaN"])
def test_sidecar_with_an_unusable_reference_falls_back_with_a_warning(tmp_path, bad):
    path = write_sidecar(tmp_path / "t.notes.json", a4_hz=bad)
    if bad == "NaN":  # a NaN literal, which Python's json reads
        path.write_text(path.read_text().replace('"NaN"', "NaN"))
    state, warning = NotesModel.read_sidecar(path, 2.0, a4_hz=432.0)
    assert str(path) in warning and "reference is not usable" in warning and "A4 = 432 Hz" in warning
    assert state.a4_hz == 432.0 and all(n.a4_hz == 432.0 for n in state.notes)
    assert [n.pitch_semitones for n in state.notes] == [n.pitch_semitones for n in NOTES]
    assert state.notes[0].midi_note == grid(57.0, 432.0)["midi_note"]


def test_sidecar_names_are_taken_again_from_the_pitch(tmp_path):
    """A hand-edited sidecar whose names disagree with its pitches and reference is made consistent."""
    path = write_sidecar(tmp_path / "t.notes.json")
    data = json.loads(path.read_text())
    data["notes"][0].update(midi_note=12, deviation_cents=33.0, a4_hz=400.0)
    del data["notes"][1]["midi_note"]
    path.write_text(json.dumps(data))
    state, _ = NotesModel.read_sidecar(path, 2.0)
    assert state.notes[0] == NOTES[0] and state.notes[1] == NOTES[1]


@pytest.mark.parametrize(
    "changes",
    [
        {"version": "two"},
        {"duration_s": "long"},
        {"notes": 5},
        {"notes": ["x"]},
        {"notes": [{"onset_s": 0.0, "offset_s": 1.0}]},  # no pitch
        {"notes": [{"onset_s": 0.0, "offset_s": 1.0, "pitch_semitones": None}]},
        {"notes": [{"onset_s": None, "offset_s": 1.0, "pitch_semitones": 60.0}]},
        {"notes": [{"onset_s": 1.0, "offset_s": 0.5, "pitch_semitones": 60.0}]},
        {"shifts": [[0.0, 1.0, "up"]]},
        {"shifts": [[0.0, 1.0, 1e9]]},
        {"shifts": [[0.0, 1.0]]},
    ],
)
def test_damaged_sidecars_are_refused_with_a_message(tmp_path, changes):
    path = write_sidecar(tmp_path / "t.notes.json", **changes)
    with pytest.raises(notes_model.SidecarError, match="damaged") as e:
        NotesModel.read_sidecar(path, 2.0)
    assert str(path) in str(e.value)
