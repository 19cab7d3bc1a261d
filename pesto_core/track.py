"""The result of an analysis as plain numpy arrays: what crosses from the engine to the CLI writers and the GUI."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

import numpy as np

from .units import semitones_to_hz


@dataclass(frozen=True)
class PitchTrack:
    """Frame-wise pitch estimates of one signal.

    Attributes
    ----------
    time_s : ndarray float64 (frames,)
        Frame centre times in seconds: ``frame_index * hop_length / sr`` (exact, no drift).
    pitch_semitones : ndarray float32 (frames,)
        Decoded pitch in MIDI semitones (69 = A4 = 440 Hz).
    confidence : ndarray float32 (frames,)
        Voicing confidence in [0, 1].
    volume : ndarray float32 (frames,)
        Total VQT power of the frame (linear; ``10 * log10`` gives dB).
    activations : ndarray float32 (frames, 128 * bps), or None
        PESTO's pitch distribution per frame; bin ``i`` is MIDI pitch ``i / bps``.
    sr, hop_length, step_ms, model_name, reduction :
        How it was computed.
    """

    time_s: np.ndarray
    pitch_semitones: np.ndarray
    confidence: np.ndarray
    volume: np.ndarray
    activations: Optional[np.ndarray]
    sr: int
    hop_length: int
    step_ms: float
    model_name: str
    reduction: str
    decoding: str = field(default="")

    def __post_init__(self):
        if not self.decoding:
            object.__setattr__(self, "decoding", self.reduction)

    def __len__(self) -> int:
        return len(self.time_s)

    @property
    def f0_hz(self) -> np.ndarray:
        """Pitch in Hz, float32 (frames,)."""
        return semitones_to_hz(self.pitch_semitones.astype(np.float32))

    @property
    def bins_per_semitone(self) -> int:
        return 3 if self.activations is None else self.activations.shape[1] // 128

    @staticmethod
    def concatenate(parts: Sequence["PitchTrack"]) -> "PitchTrack":
        """Join consecutive pieces of one analysis (as yielded chunk by chunk)."""
        first = parts[0]
        acts = None if first.activations is None else np.concatenate([p.activations for p in parts])
        return replace(
            first,
            time_s=np.concatenate([p.time_s for p in parts]),
            pitch_semitones=np.concatenate([p.pitch_semitones for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            volume=np.concatenate([p.volume for p in parts]),
            activations=acts,
        )
