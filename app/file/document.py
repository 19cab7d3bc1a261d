"""One open audio file in the File tab: its header, the analysis result as it arrives, and its state.

The result arrays are preallocated for the whole file when an analysis starts and filled piece by piece on the GUI
thread (:meth:`FileDocument.receive`); the activations go to an :class:`~app.file.activations.ActivationStore`
(disk + small overview). :meth:`FileDocument.track` gives back a :class:`pesto_core.track.PitchTrack` equal to
the one the ``pesto`` command line computes for the same file and settings, which the exports write with the
engine's own writers.

Threading: GUI thread only (the worker writes only into the store).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Optional

import numpy as np

from pesto_core.audio import AudioInfo, audio_info
from pesto_core.geometry import hop_length_for
from pesto_core.track import PitchTrack

from .activations import ActivationStore
from .analysis import AnalysisSettings

# states of a document
NEW, QUEUED, ANALYSING, DONE, CANCELLED, FAILED = (
    "not analysed",
    "queued",
    "analysing",
    "analysed",
    "cancelled",
    "failed",
)


class FileDocument:
    """An open file.

    Parameters
    ----------
    path : str or Path
        Audio file; its header is read at once (raises :class:`pesto_core.errors.AudioError` with the reason).
    """

    def __init__(self, path):
        self.path = Path(path).expanduser().absolute()
        self.info: AudioInfo = audio_info(self.path)
        self.channel: Optional[int] = None  # None: mixed to mono, as the CLI
        self.state = NEW
        self.message = ""  # why it failed
        self.settings: Optional[AnalysisSettings] = None  # the settings of the result held
        self.store: Optional[ActivationStore] = None
        self.frames_done = 0
        self.total_frames = 0
        self.hop_length = 0
        self.time_s = self.pitch_semitones = self.confidence = self.volume = np.zeros(0)
        self.pitch_refined: Optional[np.ndarray] = None  # cent-precise pitch (pesto --refine), when computed
        self._meta: Optional[PitchTrack] = None
        self.envelope = None  # (min, max, seconds per bucket) of the waveform overview, set by the panel
        self.view_range = None  # (t0, t1) last shown, restored when switching back to this file
        self.playhead_s = 0.0
        self.notes = None  # a NotesModel (app.file.notes_model) once the notes of a finished analysis are known
        self._corrected = (None, None, None)  # (offsets, pitch, refined) with the octave corrections applied

    # --------------------------------------------------------------------------------------------------- header
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def duration_s(self) -> float:
        return self.info.duration_s

    def summary(self) -> str:
        """Two lines for the file list: the name; duration, sample rate, channels and state."""
        mins, secs = divmod(self.duration_s, 60)
        channels = {1: "mono", 2: "stereo"}.get(self.info.channels, f"{self.info.channels} ch")
        state = self.state
        if state == ANALYSING and self.total_frames:
            state = f"analysing {100 * self.frames_done // self.total_frames}%"
        return f"{self.name}\n{int(mins)}:{secs:04.1f} · {self.info.sr / 1000:g} kHz · {channels} · {state}"

    # --------------------------------------------------------------------------------------------------- analysis
    def begin(self, settings: AnalysisSettings, temp_dir: Optional[str] = None) -> ActivationStore:
        """Drop any previous result and prepare arrays for a new analysis with ``settings``."""
        self.release()
        hop = hop_length_for(settings.step_ms, self.info.sr)
        total = self.info.n_samples // hop + 1
        self.settings, self.hop_length, self.total_frames, self.frames_done = settings, hop, total, 0
        self.time_s = np.arange(total, dtype=np.float64) * hop / self.info.sr
        self.pitch_semitones = np.full(total, np.nan, np.float32)
        self.confidence = np.zeros(total, np.float32)
        self.volume = np.zeros(total, np.float32)
        self.pitch_refined = None
        self._meta = None
        self.notes = None
        self._corrected = (None, None, None)
        self.store = ActivationStore(total, temp_dir)
        self.state, self.message = ANALYSING, ""
        return self.store

    def receive(self, piece: dict) -> None:
        """Copy a piece published by the worker into the result arrays (GUI thread)."""
        a, n = piece["start"], len(piece["time_s"])
        self.time_s[a : a + n] = piece["time_s"]
        self.pitch_semitones[a : a + n] = piece["pitch_semitones"]
        self.confidence[a : a + n] = piece["confidence"]
        self.volume[a : a + n] = piece["volume"]
        if piece.get("pitch_refined") is not None:
            if self.pitch_refined is None:
                self.pitch_refined = np.full(self.total_frames, np.nan, np.float32)
            self.pitch_refined[a : a + n] = piece["pitch_refined"]
        if self._meta is None:
            self._meta = piece["meta"]
        self.frames_done = a + n

    def finish(self, status: str, message: str = "") -> None:
        """Record how the analysis ended: ``done``, ``cancelled`` or ``failed``."""
        if status == "done" and self.frames_done != self.total_frames:
            status, message = (
                "failed",
                f"{self.path}: the analysis stopped after {self.frames_done} of {self.total_frames} frames",
            )
        self.state = {"done": DONE, "cancelled": CANCELLED}.get(status, FAILED)
        self.message = message

    @property
    def complete(self) -> bool:
        return self.state == DONE

    def track(self, refined: bool = False) -> PitchTrack:
        """The whole result as a PitchTrack (activations: a view of the file on disk). Only for a finished analysis.

        ``refined``: with the cent-precise pitch, as ``pesto --refine`` writes it (decoding ``<reduction>+refine``).
        """
        if not self.complete or self._meta is None:
            raise RuntimeError(f"{self.name}: no finished analysis")
        pitch, pitch_refined = self.corrected_pitch()
        track = replace(
            self._meta,
            time_s=self.time_s,
            pitch_semitones=pitch,
            confidence=self.confidence,
            volume=self.volume,
            activations=self.store.activations(),
        )
        if refined:
            if pitch_refined is None:
                raise RuntimeError(f"{self.name}: the analysis computed no refined pitch")
            track = replace(track, pitch_semitones=pitch_refined, decoding=f"{track.decoding}+refine")
        return track

    def corrected_pitch(self):
        """``(pitch_semitones, pitch_refined)`` with the notes' octave corrections applied (the arrays themselves
        when there are none; ``pitch_refined`` None when not computed). float32 (total_frames,), semitones."""
        offsets = self.notes.octave_offsets() if self.notes is not None and self.complete else None
        if offsets is None or len(offsets) != len(self.pitch_semitones):
            return self.pitch_semitones, self.pitch_refined
        if self._corrected[0] is not offsets:
            shift = 12 * offsets.astype(np.float32)
            refined = None if self.pitch_refined is None else self.pitch_refined + shift
            self._corrected = (offsets, self.pitch_semitones + shift, refined)
        return self._corrected[1], self._corrected[2]

    def display_pitch(self, refined: bool = True) -> np.ndarray:
        """The pitch to draw (float32 (total_frames,), semitones): refined when available and asked for, with the
        octave corrections of the notes."""
        pitch, pitch_refined = self.corrected_pitch()
        return pitch_refined if (refined and pitch_refined is not None) else pitch

    def frame_at(self, t_s: float) -> Optional[int]:
        """Index of the analysed frame nearest to ``t_s`` seconds, or None outside the analysed part."""
        if not self.frames_done or not self.hop_length:
            return None
        i = int(math.floor(t_s * self.info.sr / self.hop_length + 0.5))
        return i if 0 <= i < self.frames_done else None

    def release(self) -> None:
        """Free the activation file (the document is closed or re-analysed)."""
        if self.store is not None:
            self.store.close()
            self.store = None
        self.state = NEW if self.state != FAILED else self.state
