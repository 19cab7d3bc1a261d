"""Notes from a pitch curve: segmentation, intonation measures, MIDI and CSV files, corrections (numpy only).

``import pesto_core.notes`` needs neither torch nor a GUI. Main entry points:

* :func:`segment_notes` (``PitchTrack`` -> list of :class:`Note`) and :class:`NoteTracker` (the same, frame by
  frame, live);
* :func:`notes_csv_bytes` / :func:`notes_from_csv` (the ``<stem>.notes.csv`` file) and :func:`midi_bytes` (the
  ``<stem>.mid`` file);
* corrections: :func:`shift_octave`, :func:`delete_notes`, :func:`delete_note`, :func:`split_note`,
  :func:`merge_notes`, :func:`set_reference`.
"""
from .edit import delete_note, delete_notes, merge_notes, set_reference, shift_octave, split_note
from .intonation import Note, measure_note, measure_span
from .midi import midi_bytes, read_midi_notes
from .segment import CurrentNote, NoteTracker, NoteUpdate, SegmentParams, segment_arrays, segment_notes
from .table import COLUMNS, notes_csv_bytes, notes_from_csv

__all__ = ["Note", "SegmentParams", "segment_notes", "segment_arrays", "NoteTracker", "NoteUpdate", "CurrentNote",
           "measure_note", "measure_span", "notes_csv_bytes", "notes_from_csv", "COLUMNS", "midi_bytes",
           "read_midi_notes", "shift_octave", "delete_notes", "delete_note", "split_note", "merge_notes",
           "set_reference"]
