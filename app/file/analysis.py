"""File analysis off the GUI thread: a ``QThread`` that runs :func:`pesto_core.core.iter_file_track` chunk by chunk,
publishing each piece as numpy arrays, with progress and cancellation.

Data path: audio file -> ``iter_file_track`` (engine) -> activations into an :class:`~app.file.activations.
ActivationStore` (written here, on the worker thread) + a small dict of numpy arrays per piece (pitch, confidence,
volume, times) sent to the GUI thread through a queued signal. The GUI never sees a torch tensor.

Cancellation is checked between chunks (a chunk is at most 512 frames, 5 s of audio at a 10 ms step), and a
cancelled analysis writes no file at all: exports only ever come from a finished analysis.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np
from PySide6 import QtCore

from pesto_core import bundled
from pesto_core.bundled import DEFAULT_MODEL
from pesto_core.errors import ParameterError, PestoError
from pesto_core.presets import FILE_VITERBI, file_model_name
from pesto_core.validation import check_reduction, check_step_ms

from ..common import heap
from ..common.threads import lower_thread_priority
from .activations import ActivationStore

logger = logging.getLogger(__name__)

REFINE_BATCH = 32  # frames refined between two chances for the GUI thread to take the GIL


@dataclass(frozen=True)
class AnalysisSettings:
    """What an analysis depends on (the CLI's options): the same settings give the same numbers as ``pesto``.

    Attributes
    ----------
    model : str
        Bundled model name or checkpoint path (``-m``).
    step_ms : float
        Milliseconds between frames (``-s``).
    reduction : str
        ``alwa``, ``argmax`` or ``mean`` (``-r``).
    device : str
        ``cpu`` or ``cuda:N`` (``--gpu N``).
    viterbi : bool
        Decode with the offline Viterbi tracker (``--viterbi``; with the ``alwa`` reduction only: see
        :attr:`tracks`).
    """

    model: str = field(default_factory=file_model_name)  # the File tab's default (pesto_core.presets)
    step_ms: float = 10.0
    reduction: str = "alwa"
    device: str = "cpu"
    viterbi: bool = FILE_VITERBI

    @property
    def tracks(self) -> bool:
        """Whether the analysis uses the Viterbi tracker: asked for, and the reduction is ``alwa`` (the tracker
        takes the alwa window around its path; the other reductions decode frame by frame)."""
        return bool(self.viterbi) and self.reduction == "alwa"

    def cli_options(self) -> list:
        """The ``pesto`` options that give the same numbers (the device apart: ``--gpu`` changes no number)."""
        return ["-m", self.model, "-s", f"{self.step_ms:g}", "-r", self.reduction] + (
            ["--viterbi"] if self.tracks else []
        )

    def describe(self) -> str:
        model = os.path.basename(self.model) if os.sep in self.model else self.model
        decoding = self.reduction + (" + viterbi" if self.tracks else "")
        return f"{model}, step {self.step_ms:g} ms, {decoding}, {self.device}"


def bundled_models() -> list:
    """Names of the models shipped with the package (never empty: the default model's name at least)."""
    return bundled.bundled_models() or [DEFAULT_MODEL]


class DeviceProbe(QtCore.QObject):
    """Finds where the analysis can run (``["cpu", "cuda:0", ...]``) on a thread of its own: asking means importing
    torch, which must not happen on the GUI thread. ``found(list)`` arrives on the GUI thread (queued signal).

    :meth:`start` is called from the GUI thread; the probe runs on a daemon thread, so that a window closed while it
    runs does not wait for it.
    """

    found = QtCore.Signal(object)

    def start(self) -> None:
        """Start probing. GUI thread."""
        threading.Thread(target=self._run, name="pesto-device-probe", daemon=True).start()

    def _run(self) -> None:  # probe thread
        lower_thread_priority()
        try:
            from pesto_core.device import available_devices

            devices = available_devices()
            heap.settle()  # torch was imported just now (startup): freeze it, see app.common.heap
        except Exception:  # a broken CUDA set-up must not keep the app from analysing on the CPU
            logger.exception("cannot list the engine's devices; offering the CPU only")
            devices = ["cpu"]
        try:
            self.found.emit(devices)
        except RuntimeError:  # the settings box was deleted meanwhile: nobody to tell
            pass


class ModelCache:
    """Loaded models by settings, so that re-analysing or analysing several files does not reload the weights.

    Used from worker threads, one analysis at a time (the panel runs them sequentially); the lock only protects the
    dictionary.
    """

    def __init__(self):
        self._models: Dict[Tuple, object] = {}
        self._lock = threading.Lock()

    def get(self, settings: AnalysisSettings):
        """The model for ``settings``, loaded on first use (worker thread; raises PestoError)."""
        from pesto_core.core import load_model  # torch is imported here, on the worker thread

        key = (settings.model, settings.step_ms, settings.reduction, settings.device)
        with self._lock:
            model = self._models.get(key)
        if model is None:
            model = load_model(settings.model, settings.step_ms, reduction=settings.reduction, device=settings.device)
            with self._lock:
                self._models[key] = model
            heap.settle()  # torch and the weights are loaded for good: no full collection walks them again
        return model


_threads_limited = False


def _leave_a_core_for_the_gui() -> None:
    """Torch's intra-op pool takes every core by default; on a small machine the GUI thread then waits for a core
    and the event loop stalls. Keep one core free (process-wide setting, made once)."""
    global _threads_limited
    if _threads_limited:
        return
    _threads_limited = True
    from pesto_core.device import get_threads, set_threads

    cores = os.cpu_count() or 1
    set_threads(max(1, min(get_threads(), cores - 1)))


class AnalysisWorker(QtCore.QThread):
    """Analyse one file on this thread.

    Signals (all delivered to the GUI thread through queued connections):

    * ``piece_ready(dict)``: the next consecutive frames: ``start`` (first frame index), ``time_s`` float64 (n,),
      ``pitch_semitones``, ``confidence``, ``volume`` float32 (n,), ``pitch_refined`` float32 (n,) or None (the
      cent-precise pitch of :mod:`pesto_core.refine`, computed from the same decoded pitch as ``pesto --refine``),
      ``meta`` (the piece's PitchTrack without arrays, for the metadata), ``total`` (frames of the whole file);
    * ``progress(done, total)``: frames done;
    * ``outcome(status, message)``: at the end, status ``"done"``, ``"cancelled"`` or ``"failed"`` (message: the
      reason, naming the file).

    Parameters
    ----------
    path : str
    settings : AnalysisSettings
    channel : int or None
        Channel to analyse (0-based); None mixes all channels to mono as the CLI does.
    store : ActivationStore
        Receives the activations (written from this thread).
    models : ModelCache
    refine : bool
        Also compute the cent-precise pitch (for the view; the exports keep the CLI's numbers unless asked).
    """

    piece_ready = QtCore.Signal(object)
    progress = QtCore.Signal(int, int)
    outcome = QtCore.Signal(str, str)

    def __init__(
        self,
        path: str,
        settings: AnalysisSettings,
        channel: Optional[int],
        store: ActivationStore,
        models: ModelCache,
        parent=None,
        refine: bool = True,
    ):
        super().__init__(parent)
        self.path, self.settings, self.channel = str(path), settings, channel
        self.refine = refine
        self.store, self.models = store, models
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the analysis to stop after the current chunk (GUI thread)."""
        self._cancel.set()

    def run(self) -> None:  # worker thread
        from dataclasses import replace

        from pesto_core.audio import AudioReader
        from pesto_core.core import iter_file_track
        from pesto_core.refine import refine_frames

        status, message = "done", ""
        try:
            lower_thread_priority()
            _leave_a_core_for_the_gui()
            model = self.models.get(self.settings)
            if self._cancel.is_set():
                raise _Cancelled
            pieces = iter_file_track(
                self.path,
                model,
                num_chunks=1,
                keep_activations=True,
                channel=self.channel,
                viterbi=self.settings.tracks,
            )
            # the refinement reads the audio around each frame: its own reader, so that the engine's stays sequential
            refine_reader = AudioReader(self.path, self.channel) if self.refine else None
            try:
                start = 0
                for piece, total in pieces:
                    if total != self.store.total_frames:
                        raise PestoError(
                            f"{self.path}: the file changed while being analysed "
                            f"({total} frames, {self.store.total_frames} expected)"
                        )
                    self.store.append(piece.activations, piece.confidence)
                    n = len(piece)
                    refined = None
                    if refine_reader is not None:
                        refined = self._refine(refine_reader, start, piece, model, refine_frames)
                    self.piece_ready.emit(
                        dict(
                            start=start,
                            total=total,
                            time_s=piece.time_s,
                            pitch_semitones=piece.pitch_semitones,
                            pitch_refined=refined,
                            confidence=piece.confidence,
                            volume=piece.volume,
                            meta=replace(piece, activations=None),
                        )
                    )
                    start += n
                    self.progress.emit(start, total)
                    if self._cancel.is_set():
                        raise _Cancelled
            finally:
                pieces.close()  # closes the audio file at once, also on cancel
                if refine_reader is not None:
                    refine_reader.close()
        except _Cancelled:
            status = "cancelled"
        except PestoError as e:
            status, message = "failed", str(e)
        except MemoryError:
            status, message = "failed", f"{self.path}: out of memory during the analysis"
        except Exception as e:  # report, never die silently
            logger.exception("analysis of %s failed", self.path)
            status, message = "failed", f"{self.path}: unexpected error during the analysis ({type(e).__name__}: {e})"
        self.outcome.emit(status, message)

    @staticmethod
    def _refine(reader, start: int, piece, model, refine_frames) -> np.ndarray:
        """The cent-precise pitch of a piece: what ``iter_file_track(refine=True)`` computes from the same decoded
        pitch, in batches of :data:`REFINE_BATCH` frames (each frame's refinement depends on its own window only,
        so the numbers are the same; the tests compare them with ``pesto --refine``). Between batches the worker
        lets the GUI thread run: the refinement is numpy indexing that holds the GIL for tens of ms per piece."""
        parts = []
        for a in range(0, len(piece), REFINE_BATCH):
            parts.append(
                refine_frames(
                    reader,
                    reader.n_samples,
                    start + a,
                    piece.pitch_semitones[a : a + REFINE_BATCH],
                    sr=piece.sr,
                    hop_length=piece.hop_length,
                    kernel_width=model.vqt.kernel_width,
                    bins_per_semitone=model.bins_per_semitone,
                )
            )
            time.sleep(0.0005)  # hand the GIL over
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


class _Cancelled(Exception):
    pass


def check_settings(settings: AnalysisSettings) -> Optional[str]:
    """A message when the settings cannot work (checked on the GUI thread before queueing), else None: the engine's
    own checks (:mod:`pesto_core.validation`), so the message is the one ``pesto`` gives."""
    try:
        check_reduction(settings.reduction)
        check_step_ms(settings.step_ms)
    except ParameterError as e:
        return str(e)
    return None
