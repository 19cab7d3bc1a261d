"""A live tracking session without widgets: capture, engine worker, history, tuner filter and recorder.

Data path: PortAudio's callback copies each block into the ring (:mod:`app.live.capture`) and wakes the worker
(:mod:`app.live.worker`), which runs :class:`pesto_core.stream.PitchStream` and publishes numpy frames;
:meth:`LiveSession.poll`, called by the panel's timer, drains them into the history (:mod:`app.live.history`), feeds
the tuner filter, the live notes (:mod:`app.live.intonation`) and the recorder's bookkeeping, and turns the
worker's notices and the device's faults into messages. The panel's view only draws what the session holds.

Latency probe: every frame carries the ``time.monotonic()`` at which its newest sample arrived in the callback; when
the view next finishes painting it calls :meth:`LiveSession.frames_shown`, and ``paint time - arrival`` is each
frame's arrival-to-screen latency (:attr:`LiveSession.latencies_s`).

Threading: every method here is called from the GUI thread; the worker and PortAudio's thread only touch the
capture's ring, the worker's queue and the recorder's worker-side methods.
"""

from __future__ import annotations

import collections
import datetime
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from pesto_core.presets import LIVE_DEFAULTS, live_model_name

from ..common import heap
from .capture import AudioCapture, CaptureError, CaptureInfo, InputDevice, list_input_devices
from .history import SessionHistory
from .intonation import LiveNotes
from .recording import SessionRecorder
from .tuner import TunerFilter
from .worker import LiveFrames, LiveWorker, WorkerNotice

logger = logging.getLogger(__name__)

MODEL_NAME = live_model_name()  # the live preset's model (pesto_core.presets)


@dataclass(frozen=True)
class LiveConfig:
    """What a session runs with.

    Attributes
    ----------
    device : str or None
        Input device name (None: the system's default input).
    sr : int or None
        Sample rate asked of the device in Hz (None: its default; a refused rate falls back to it).
    step_ms : float
        Milliseconds between frames.
    mirror : float in [0, 1]
        1: lowest latency (the newest part of each window approximated); 0: the offline engine's frames; the
        default is the live preset's (:data:`pesto_core.presets.LIVE_DEFAULTS`).
    refine : bool
        Cent-precise pitch (:mod:`pesto_core.refine`).
    """

    device: Optional[str] = None
    sr: Optional[int] = None
    step_ms: float = 10.0
    mirror: float = LIVE_DEFAULTS["mirror"]
    refine: bool = True


def default_stream_factory(sr: int, step_ms: float, mirror: float, refine: bool, cache: Dict[str, object]):
    """A callable that builds the live engine; the worker calls it on its own thread, so that loading torch and the
    model never blocks the window. ``cache`` keeps the loaded network between starts (the GUI never touches it)."""

    def make():
        # the Live tab's engine is the live preset (pesto_core.stream.live_stream: live model, refinement, glitch
        # filter, voicing gate), with the latency mode and step chosen here; torch is imported on the worker thread
        from pesto_core.stream import live_stream

        stream = live_stream(sr, step_ms=step_ms, mirror=mirror, refine=bool(refine), model=cache.get(MODEL_NAME))
        cache[MODEL_NAME] = stream.model
        heap.settle()  # torch and the network are loaded for good: no full collection pauses the callback for them
        return stream

    return make


class LiveSession:
    """Capture + engine + what the GUI keeps of a live session.

    Parameters
    ----------
    stream_factory : callable(sr, step_ms, mirror, refine, cache) -> (callable () -> PitchStream), optional
        Builds the engine (tests pass a slow one to check the slower-than-real-time warning).

    Callbacks (attributes, called on the GUI thread; each may be None):

    * ``on_message(level, text)``: a message for the user (``info``, ``warning``, ``error``), also kept in
      :attr:`messages`;
    * ``on_warning_over()``: the engine is fast enough again (a slow-engine warning shown can go);
    * ``on_ready(info)``: the engine has started (a :class:`~app.live.capture.CaptureInfo`);
    * ``on_stopped()``: the session stopped (asked for, or after a fault);
    * ``on_recording_finished(recorder, ask_save)``: a recording has all its frames and can be saved.
    """

    def __init__(self, stream_factory: Optional[Callable] = None):
        self.stream_factory = stream_factory or default_stream_factory
        self._model_cache: Dict[str, object] = {}
        self.capture = AudioCapture()
        self.worker: Optional[LiveWorker] = None
        self.info: Optional[CaptureInfo] = None
        self.config = LiveConfig()
        self.history = SessionHistory(100.0)
        self.tuner_filter = TunerFilter()
        self.live_notes = LiveNotes()  # the current note's measures and the last notes (app.live.intonation)
        self._gate = LIVE_DEFAULTS["gate"]  # confidence at or above which a frame is voiced
        self.readout_log: collections.deque = collections.deque(maxlen=10000)  # (session time, note name or None)
        self.latencies_s: collections.deque = collections.deque(maxlen=200000)  # arrival-to-screen, per frame
        self.messages: List[tuple] = []  # every (level, text) reported, for the record (and the tests)
        self.devices: List[InputDevice] = []
        self.portaudio_error: Optional[str] = None
        self.slow_warning = False  # a slower-than-real-time warning is current
        self.recorder: Optional[SessionRecorder] = None
        self.unsaved_recorder: Optional[SessionRecorder] = None
        self._finishing: Optional[tuple] = None  # (recorder, ask_save, since): waiting for its last frames
        self._pending_arrivals: List[np.ndarray] = []
        self.on_message: Optional[Callable[[str, str], None]] = None
        self.on_warning_over: Optional[Callable[[], None]] = None
        self.on_ready: Optional[Callable[[CaptureInfo], None]] = None
        self.on_stopped: Optional[Callable[[], None]] = None
        self.on_recording_finished: Optional[Callable[[SessionRecorder, bool], None]] = None

    @property
    def gate(self) -> float:
        """The voicing gate (confidence); setting it applies to the running engine's next frames. GUI thread."""
        return self._gate

    @gate.setter
    def gate(self, value: float) -> None:
        self._gate = float(value)
        if self.worker is not None:
            self.worker.gate = self._gate

    # ================================================================================================ messages
    def report(self, level: str, text: str) -> None:
        """Tell the user (recorded in :attr:`messages`, handed to ``on_message``)."""
        self.messages.append((level, text))
        if self.on_message is not None:
            self.on_message(level, text)

    # ================================================================================================ devices
    def refresh_devices(self, initial: bool = False) -> bool:
        """(Re)list the input devices into :attr:`devices`. False (with a message) when PortAudio is missing or
        broken: capture is then impossible (:attr:`portaudio_error` says why)."""
        try:
            self.devices = list_input_devices(refresh=not initial)
            self.portaudio_error = None
        except CaptureError as e:
            self.devices, self.portaudio_error = [], str(e)
        except Exception as e:  # a broken audio system must not stop the app
            logger.exception("cannot list the audio devices")
            self.devices, self.portaudio_error = [], f"Cannot list audio devices: {e}"
        if self.portaudio_error:
            self.report("error", self.portaudio_error)
            return False
        if not self.devices:
            self.report(
                "warning",
                "No audio input device found. Connect a microphone, then re-scan (Live \u2192 Re-scan audio devices).",
            )
        return True

    # ================================================================================================ start / stop
    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self, config: LiveConfig) -> bool:
        """Open the input and start the worker (restarting if running). False (with a message) on failure."""
        if self.portaudio_error:
            self.report("error", self.portaudio_error)
            return False
        self.stop()
        step_ms = float(config.step_ms)
        try:
            info = self.capture.open(
                config.device or None, config.sr or None, blocksize=lambda sr: max(1, int(round(step_ms * sr / 1000)))
            )
        except CaptureError as e:
            self.report("error", str(e))
            return False
        self.config, self.info = config, info
        if info.notice:
            self.report("warning", info.notice)
        make = self.stream_factory(info.sr, step_ms, config.mirror, config.refine, self._model_cache)
        fallback = (
            self.stream_factory(info.sr, step_ms, config.mirror, False, self._model_cache) if config.refine else None
        )
        # torch engine: calls at most every ~20 ms (2 hops at 10 ms, 4 at 5 ms): the screen is redrawn every 40 ms
        # anyway, and two hops per call cost ~40% less CPU than two calls; the native engine (the default on the CPU)
        # is called every hop (see LiveWorker's min_hops_per_push)
        min_hops = max(1, round(0.02 / (step_ms / 1000.0)))
        self.worker = LiveWorker(
            self.capture.ring,
            self.capture.wakeup,
            make,
            make_fallback=fallback,
            fallback_note="continuing without the cent-precise refinement",
            min_hops_per_push=min_hops,
        )
        self.worker.gate = self._gate
        self.history = SessionHistory(1000.0 / step_ms)
        self.tuner_filter.reset()
        self.live_notes.reset(step_ms / 1000.0, self.tuner_filter.a4_hz)
        self.readout_log.clear()
        self.latencies_s.clear()
        self._pending_arrivals = []
        self.slow_warning = False
        self.worker.start()
        return True

    def stop(self, ask_save: bool = True) -> None:
        """Stop capture and the worker (idempotent); a recording in progress is finished (``ask_save``: offered for
        saving through ``on_recording_finished``)."""
        rec = self.recorder
        self.capture.close()
        worker, self.worker = self.worker, None
        if worker is not None:
            if not worker.stop(timeout=3.0):
                self.report(
                    "warning", "The pitch engine did not stop within 3 s; it was left to finish in the background."
                )
            frames, _ = worker.drain()
            self.ingest(frames)
            self.live_notes.finish()  # the last note ends with the session
            worker.recorder = None
        if rec is not None:
            self.recorder = None
            rec.request_stop()
            self._recording_done(rec, ask_save)
        self._pending_arrivals = []
        if worker is not None and self.on_stopped is not None:
            self.on_stopped()

    def _fail(self, message: str) -> None:
        """A fault while running: stop everything, say why; :meth:`start` works again afterwards."""
        self.stop()
        self.report("error", message)

    # ================================================================================================ the frames
    def poll(self, now: Optional[float] = None) -> int:
        """Drain the worker: frames into the history and the tuner, notices into messages; a device fault or a dead
        worker stops the session. Called by the panel's timer. Returns the number of new frames."""
        now = time.monotonic() if now is None else now
        worker = self.worker
        n = 0
        if worker is not None:
            frames, notices = worker.drain()
            for notice in notices:
                self._on_notice(notice)
            if self.worker is not None:
                n = self.ingest(frames)
                fault = self.capture.fault(now)
                if fault:
                    self._fail(fault)
                elif not worker.alive and not worker.failed:
                    self._fail("The live analysis thread ended unexpectedly.")
        if self._finishing is not None:
            rec, ask_save, since = self._finishing
            if rec.wait_finished(0) or now - since > 1.0 or self.worker is None:
                self._finishing = None
                self._recording_done(rec, ask_save)
        return n

    def _on_notice(self, notice: WorkerNotice) -> None:
        if notice.kind == "error":
            self._fail(notice.message)
        elif notice.kind == "warning":
            self.slow_warning = True
            self.report("warning", notice.message)
        elif notice.kind == "recovered":
            if self.slow_warning and self.on_warning_over is not None:
                self.on_warning_over()
            self.slow_warning = False
        elif notice.kind == "ready" and self.info is not None and self.on_ready is not None:
            self.on_ready(self.info)

    def ingest(self, batches: Sequence[LiveFrames]) -> int:
        """New frames (in time order): into the history and through the tuner filter; their arrival times wait for
        the next paint (:meth:`frames_shown`). Returns the number of frames."""
        n = 0
        for fr in batches:
            self.history.append(fr.time_s, fr.pitch_semitones, fr.confidence, fr.volume, fr.activations, fr.voiced)
            self.readout_log.extend(self.tuner_filter.feed(fr.time_s, fr.pitch_semitones, fr.voiced))
            self.live_notes.feed(fr.time_s, fr.pitch_semitones, fr.voiced, fr.volume, fr.confidence)
            self._pending_arrivals.append(fr.arrival_s)
            n += len(fr)
        return n

    def set_tuning(self, a4_hz: float, transposition: int) -> None:
        """Reference A4 (Hz) and transposition (semitones, concert to written) of the tuner; resets its reading."""
        self.tuner_filter.set_reference(a4_hz, transposition)
        if float(a4_hz) != self.live_notes.a4_hz:
            self.live_notes.reset(a4_hz=a4_hz, keep_notes=True)  # the notes from now on, named for the new A4

    def frames_shown(self, t: float) -> None:
        """The view finished painting at monotonic time ``t``: every frame ingested before is on screen."""
        if self._pending_arrivals:
            arr = np.concatenate(self._pending_arrivals)
            self._pending_arrivals = []
            self.latencies_s.extend((t - arr[np.isfinite(arr)]).tolist())

    def drop_latency_probes(self) -> None:
        """Frames ingested so far will not be drawn now (paused, or scrolled back): do not time them."""
        self._pending_arrivals = []

    def latency_summary(self, seconds: float = 3.0):
        """(median, 99th percentile) arrival-to-screen latency in seconds over about the last ``seconds``."""
        if not self.latencies_s:
            return None
        n = int(seconds * self.history.frame_rate)
        recent = np.fromiter(list(self.latencies_s)[-n:], dtype=np.float64)
        return float(np.median(recent)), float(np.percentile(recent, 99))

    def clear_history(self) -> None:
        self.history.clear()

    # ================================================================================================ recording
    def start_recording(self) -> bool:
        """Record from the worker's next hop on. False (with a message) when not running or impossible."""
        worker = self.worker
        if worker is None or not worker.ready:
            self.report("info", "Start live tracking first, then record.")
            return False
        if self.recorder is not None:
            return True
        try:
            # the decoding the engine really runs (reduction, "+refine" unless refinement is off or fell back)
            rec = SessionRecorder(
                worker.sr,
                worker.hop_length,
                1000.0 * worker.hop_length / worker.sr,
                MODEL_NAME,
                worker.reduction,
                worker.cursor,
                decoding=f"{worker.decoding}, live (mirror={self.config.mirror:g})",
            )
        except Exception as e:  # no temporary space...
            self.report("error", f"Cannot start recording: {e}")
            return False
        self.recorder = rec
        worker.recorder = rec
        return True

    def stop_recording(self, ask_save: bool = True) -> None:
        """Stop recording; the worker adds the last frames (the engine's latency), then :meth:`poll` hands the
        recorder to ``on_recording_finished``."""
        rec, self.recorder = self.recorder, None
        if rec is None:
            return
        rec.request_stop(self.worker.cursor if self.worker is not None else None)
        self._finishing = (rec, ask_save, time.monotonic())

    @property
    def recording_finishing(self) -> bool:
        return self._finishing is not None

    def _recording_done(self, rec: SessionRecorder, ask_save: bool) -> None:
        if self.worker is not None and self.worker.recorder is rec:
            self.worker.recorder = None
        if self.unsaved_recorder is not None and self.unsaved_recorder is not rec:
            self.unsaved_recorder.discard()
        self.unsaved_recorder = rec
        if self.on_recording_finished is not None:
            self.on_recording_finished(rec, ask_save)

    def save_recording(self, path: str) -> List[Path]:
        """Write the last recording as ``<path>.wav`` + CSV/NPZ and forget it. Raises what the recorder raises
        (:class:`pesto_core.errors.OutputError`...): the recording then stays for another try."""
        rec = self.unsaved_recorder
        if rec is None:
            raise RuntimeError("no recording to save")
        written = rec.save(path)
        rec.discard()
        self.unsaved_recorder = None
        return written

    @staticmethod
    def default_record_stem(folder: str = "") -> str:
        """``<folder>/live-YYYYmmdd-HHMMSS`` (folder: the user's home when empty)."""
        return os.path.join(folder or str(Path.home()), datetime.datetime.now().strftime("live-%Y%m%d-%H%M%S"))

    def shutdown(self, record_folder: str = "") -> None:
        """Stop everything; a recording nobody saved is saved in ``record_folder`` (never lost)."""
        self.stop(ask_save=False)
        rec, self.unsaved_recorder = self.unsaved_recorder, None
        if rec is not None:
            stem = self.default_record_stem(record_folder)
            try:
                rec.save(stem)
                logger.warning("unsaved live recording saved as %s.wav", stem)
            except Exception:
                logger.exception("could not save the live recording")
            rec.discard()
