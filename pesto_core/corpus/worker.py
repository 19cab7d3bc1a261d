"""One worker: the model loaded once, then one audio file after another analysed and written (atomically).

The same :class:`Worker` runs in this process (``-j 1``), in each process of the local pool (``-j N``) and in each
Ray actor (``--ray``), so the three modes compute and write the same bytes. torch's float32 results depend, in the
last bits of a few frames, on the number of intra-op threads (oneDNN splits some reductions by thread), so every
worker of every mode sets the same count, ``Job.threads`` (``--threads``, default 1), before loading the model.

The engine (torch) is imported when a worker starts, never when this module is imported.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

from ..errors import PestoError
from .inputs import Task

#: Confidence at or above which a frame counts as voiced in the run summary (the app's default gate).
VOICED_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Job:
    """The options of a run, the same for every worker (picklable: it travels to worker processes and actors)."""

    model_name: str
    step_size: float = 10.0
    reduction: str = "alwa"
    formats: Sequence[str] = ("csv",)
    no_convert_to_freq: bool = False
    num_chunks: int = 1
    refine: bool = False
    smooth: bool = False
    viterbi: bool = False
    a4_hz: float = 440.0  # notes formats: reference of the notes' names and deviations
    midi_bends: bool = False  # mid: pitch bends that follow the curve
    device: str = "cpu"  # "cpu" or "cuda:N"
    threads: int = 1  # torch intra-op threads per worker, identical in every mode (see the module docstring)


@dataclass
class Result:
    """What a worker reports for one task (one row of the run summary). ``error`` is the message for stderr (it
    names the file), ``fatal`` a problem of the whole run (bad model or option: the run stops, exit status 2)."""

    index: int
    path: str
    status: str  # "ok" or "failed"
    reason: str = ""
    duration_s: float = math.nan
    sr: int = 0
    frames: int = 0
    voiced_share: float = math.nan
    median_f0_hz: float = math.nan
    compute_s: float = 0.0
    stem: str = ""
    error: str = ""
    fatal: str = ""
    warnings: List[str] = field(default_factory=list)
    worker: str = ""


class Worker:
    """Holds one loaded model; :meth:`process` analyses a task and writes its results.

    Construction never raises: a model that cannot be loaded is kept as ``fatal`` and reported by every
    :meth:`process` call, so that a pool or an actor can say why instead of dying.
    """

    def __init__(self, job: Job):
        self.job = job
        self.fatal = ""
        self.model = None
        self.name = f"{os.uname().nodename if hasattr(os, 'uname') else 'host'}:{os.getpid()}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                from ..core import load_model  # workers only: this imports torch
                from ..device import select_device, set_threads

                set_threads(job.threads)
                self.model = load_model(
                    job.model_name, job.step_size, reduction=job.reduction, device=select_device(job.device)
                )
            except PestoError as e:
                self.fatal = str(e)
        self.init_warnings = [str(w.message) for w in caught]

    def process(self, task: Task, progress: Optional[Callable[[int, int], None]] = None) -> Result:
        """Analyse ``task.path``, write ``task.stem`` + ``.csv`` / ``.npz`` / ``.png``; never raises for a bad file."""
        result = Result(task.index, task.path, "failed", stem=task.stem, worker=self.name)
        if self.fatal:
            result.fatal = result.reason = self.fatal
            return result
        from ..audio import audio_info
        from ..core import analyse_file
        from ..writers import write_track

        job, start = self.job, time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                info = audio_info(task.path)
                result.duration_s, result.sr = info.duration_s, info.sr
                track = analyse_file(
                    task.path,
                    self.model,
                    num_chunks=job.num_chunks,
                    refine=job.refine,
                    smooth=job.smooth,
                    viterbi=job.viterbi,
                    keep_activations=bool({"npz", "png"} & set(job.formats)),
                    progress=progress,
                )
                write_track(
                    track,
                    task.stem,
                    job.formats,
                    convert_to_freq=not job.no_convert_to_freq,
                    a4_hz=job.a4_hz,
                    midi_bends=job.midi_bends,
                )
                result.status = "ok"
                result.frames = len(track)
                _add_statistics(result, track)
            except PestoError as e:
                result.error = str(e)
            except OSError as e:  # anything the readers/writers did not already word for the user
                result.error = f"{task.path}: {e.strerror or e}"
            except Exception as e:  # a bug must not end a 10,000-file run: name the file and go on
                result.error = f"{task.path}: unexpected error ({type(e).__name__}: {e})"
        result.compute_s = time.perf_counter() - start
        result.warnings = [str(w.message) for w in caught]
        if result.error:
            prefix = f"{task.path}: "
            result.reason = result.error[len(prefix) :] if result.error.startswith(prefix) else result.error
        return result


def _add_statistics(result: Result, track) -> None:
    import numpy as np

    voiced = track.confidence >= VOICED_CONFIDENCE
    result.voiced_share = float(voiced.mean()) if len(track) else math.nan
    f0 = track.f0_hz[voiced]
    f0 = f0[np.isfinite(f0)]
    result.median_f0_hz = float(np.median(f0)) if f0.size else math.nan


# ----------------------------------------------------------------------------------- process-pool entry points
_worker: Optional[Worker] = None


def init_process(job: Job) -> None:
    """Pool initializer: this worker process's model, loaded once."""
    global _worker
    _worker = Worker(job)


def process_in_pool(task: Task) -> Result:
    """Pool task: analyse one file with this process's worker."""
    result = _worker.process(task)
    if _worker.init_warnings:  # said once per process, with its first result
        result.warnings = _worker.init_warnings + result.warnings
        _worker.init_warnings = []
    return result
