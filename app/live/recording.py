"""Recording a live session: the audio as a WAV file plus the same CSV/NPZ files the command line writes.

While recording, the worker thread appends the audio it analyses to a temporary WAV (float32 samples, exactly what
the engine saw) and the frames' arrays to temporary files, so memory stays flat however long the session is. On
save, everything is written next to the chosen name atomically (temporary file in the destination folder, then
rename): ``<stem>.wav``, ``<stem>.f0.csv``, ``<stem>.f0.npz`` (see :func:`pesto_core.writers.write_track`).

Frame times in the CSV/NPZ are seconds from the first recorded sample, exactly the frames' centres: with the
lowest-latency setting (mirror 1) the live frames sit half a hop after the offline grid ``i * hop / sr``, and their
values are the live engine's (the newest part of each window replaced by zeros), not the offline analysis of the
WAV; run ``pesto`` on the WAV for that.

Threads: ``add_audio``, ``add_gap``, ``add_frames`` and ``progress`` are called from the worker thread;
``request_stop``, ``finished``, ``save`` and ``discard`` from the GUI thread. One lock guards the hand-over.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import soundfile as sf

from pesto_core.errors import OutputError
from pesto_core.track import PitchTrack
from pesto_core.writers import atomic_write, write_track


class SessionRecorder:
    """Accumulates a live session from absolute sample ``start_cursor`` on.

    Parameters
    ----------
    sr, hop_length : int
        Of the live engine.
    step_ms : float
    model_name, reduction, decoding : str
        Metadata written into the NPZ as the CLI does.
    start_cursor : int
        Absolute ring cursor of the first sample to record (a hop boundary of the worker).
    tmp_dir : str, optional
        Where the temporary files go (default: the system's temporary folder).
    """

    def __init__(
        self,
        sr: int,
        hop_length: int,
        step_ms: float,
        model_name: str,
        reduction: str,
        start_cursor: int,
        *,
        decoding: str = "",
        tmp_dir: Optional[str] = None,
    ):
        self.sr, self.hop_length, self.step_ms = int(sr), int(hop_length), float(step_ms)
        self.model_name, self.reduction, self.decoding = model_name, reduction, decoding
        self.start = int(start_cursor)
        self._lock = threading.Lock()
        self._dir = tempfile.mkdtemp(prefix="pesto-live-rec-", dir=tmp_dir)
        self._wav_path = os.path.join(self._dir, "audio.wav")
        self._wav = sf.SoundFile(self._wav_path, "w", samplerate=self.sr, channels=1, format="WAV", subtype="FLOAT")
        self._acts_path = os.path.join(self._dir, "activations.f32")
        self._acts = open(self._acts_path, "wb")  # noqa: SIM115 (closed in _close_files)
        self._n_bins = 0
        self._time: List[np.ndarray] = []
        self._pitch: List[np.ndarray] = []
        self._conf: List[np.ndarray] = []
        self._vol: List[np.ndarray] = []
        self.samples = 0  # audio samples recorded
        self.frames = 0
        self._end: Optional[int] = None  # absolute cursor where audio recording stopped
        self._done = threading.Event()
        self.error: Optional[str] = None

    # --------------------------------------------------------------------------------------------- worker thread
    def add_audio(self, block: np.ndarray, start_cursor: int) -> None:
        """Append the part of ``block`` (float32 (n,), first sample at ``start_cursor``) inside the recording."""
        with self._lock:
            if self._wav is None:
                return
            lo = max(self.start, start_cursor)
            hi = start_cursor + len(block) if self._end is None else min(self._end, start_cursor + len(block))
            if hi <= lo:
                return
            try:
                self._wav.write(block[lo - start_cursor : hi - start_cursor])
                self.samples += hi - lo
            except Exception as e:  # noqa: BLE001 (disk full...: reported on save, capture goes on)
                self.error = f"recording failed: {e}"

    def add_gap(self, n_samples: int) -> None:
        """Audio the worker had to skip: recorded as silence so the WAV keeps the session's timing."""
        if self._end is None and n_samples > 0:
            self.add_audio(np.zeros(n_samples, np.float32), self.start + self.samples)

    def add_frames(self, frames) -> None:
        """Keep the frames centred inside the recorded audio (``frames`` is an :class:`app.live.worker.LiveFrames`)."""
        with self._lock:
            if self._acts is None:
                return
            keep = frames.centre >= self.start
            if self._end is not None:
                keep &= frames.centre < self._end
            if not keep.any():
                return
            acts = np.ascontiguousarray(frames.activations[keep], dtype=np.float32)
            self._n_bins = acts.shape[1]
            try:
                self._acts.write(acts.tobytes())
            except Exception as e:  # noqa: BLE001
                self.error = f"recording failed: {e}"
            self._time.append((frames.centre[keep] - self.start) / float(self.sr))
            self._pitch.append(frames.pitch_semitones[keep].copy())
            self._conf.append(frames.confidence[keep].copy())
            self._vol.append(frames.volume[keep].copy())
            self.frames += int(keep.sum())

    def progress(self, complete_cursor: int) -> None:
        """Every frame centred before ``complete_cursor`` has been added: once that passes the end, we are done."""
        if self._end is not None and complete_cursor >= self._end:
            self._done.set()

    # ------------------------------------------------------------------------------------------------ GUI thread
    def request_stop(self, end_cursor: Optional[int] = None) -> None:
        """Stop recording audio at ``end_cursor`` (default: what was recorded so far); frames centred before it
        still arrive for a moment (the engine's latency): wait for :meth:`wait_finished` before saving."""
        with self._lock:
            if self._end is None:
                self._end = self.start + self.samples if end_cursor is None else max(self.start, int(end_cursor))

    def wait_finished(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    @property
    def duration_s(self) -> float:
        return self.samples / self.sr

    def track(self) -> PitchTrack:
        """The recorded frames as a :class:`PitchTrack` (activations memory-mapped from the temporary file)."""
        with self._lock:
            self._flush()
            n = self.frames
            acts = (
                np.zeros((0, self._n_bins or 384), np.float32)
                if n == 0
                else np.memmap(self._acts_path, dtype=np.float32, mode="r", shape=(n, self._n_bins))
            )

            def cat(parts, dtype):
                return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

            return PitchTrack(
                time_s=cat(self._time, np.float64),
                pitch_semitones=cat(self._pitch, np.float32),
                confidence=cat(self._conf, np.float32),
                volume=cat(self._vol, np.float32),
                activations=acts,
                sr=self.sr,
                hop_length=self.hop_length,
                step_ms=self.step_ms,
                model_name=self.model_name,
                reduction=self.reduction,
                decoding=self.decoding,
            )

    def _flush(self) -> None:
        if self._wav is not None:
            self._wav.flush()
        if self._acts is not None:
            self._acts.flush()

    def save(self, stem: Union[str, Path], formats: Sequence[str] = ("csv", "npz")) -> List[Path]:
        """Write ``<stem>.wav`` and ``<stem>.f0.<fmt>`` for each format, atomically. Stops the recording first.

        Parameters
        ----------
        stem : path without extension, e.g. ``~/takes/scale`` -> ``scale.wav``, ``scale.f0.csv``, ``scale.f0.npz``.

        Raises
        ------
        OutputError
            A file could not be written (the message names it); files already written stay, nothing is partial.
        """
        self.request_stop()
        if self.error:
            raise OutputError(f"{stem}: {self.error}")
        stem = Path(stem)
        if stem.suffix.lower() == ".wav":
            stem = stem.with_suffix("")
        track = self.track()
        with self._lock:
            if self._wav is not None:  # (a first save that failed already closed it)
                self._wav.close()
                self._wav = None
            wav_tmp = self._wav_path
        written = [atomic_write(stem.with_name(stem.name + ".wav"), lambda f: _copy_file(wav_tmp, f))]
        written += write_track(track, stem.with_name(stem.name + ".f0"), formats, convert_to_freq=True)
        return written

    def discard(self) -> None:
        """Close and delete the temporary files (idempotent)."""
        with self._lock:
            for f in (self._wav, self._acts):
                try:
                    if f is not None:
                        f.close()
                except Exception:  # noqa: BLE001
                    pass
            self._wav = self._acts = None
            self._end = self._end if self._end is not None else self.start + self.samples
        shutil.rmtree(self._dir, ignore_errors=True)


def _copy_file(src: str, dst) -> None:
    with open(src, "rb") as f:
        shutil.copyfileobj(f, dst, 1 << 20)
