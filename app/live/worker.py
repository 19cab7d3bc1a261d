"""The live worker thread: ring buffer -> streaming engine -> numpy results for the GUI.

It waits for the capture callback's wake-up, reads whole hops from the ring by absolute sample cursor, pushes them
through :class:`pesto_core.stream.PitchStream` (all pending hops in one call when it is behind, up to a bound), and
publishes each batch of frames as a :class:`LiveFrames` of numpy arrays in a bounded deque that the GUI thread
drains. If it falls more than the ring's length behind (a very slow engine, the machine suspended), it jumps to the
newest audio, restarts the stream there and counts the skipped hops as dropped frames: latency and memory stay
bounded whatever happens. An exception never kills the thread silently: it is published as a notice.

Times: frame centres are given in *session* seconds, ``(absolute centre sample - session start) / sr``, so frames
stay on one time axis across skips. ``arrival_s`` is the ``time.monotonic()`` at which the newest sample a frame
needs arrived in the audio callback: the start of the arrival-to-screen latency the GUI measures.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import numpy as np

from pesto_core.presets import LIVE_DEFAULTS

from .ringbuffer import RingBuffer

logger = logging.getLogger(__name__)

#: results kept for the GUI if it stops draining (about 40 s of 10 ms frames in batches of one)
MAX_PENDING = 4096


@dataclass(frozen=True)
class LiveFrames:
    """One batch of frames (usually one per hop), handed from the worker to the GUI thread.

    Attributes
    ----------
    time_s : float64 (n,)
        Frame centres in session seconds.
    centre : int64 (n,)
        Absolute sample index of each frame's centre (ring cursor).
    pitch_semitones, confidence, volume : float32 (n,)
        Engine outputs (MIDI semitones, 69 = A4 = 440 Hz; confidence in [0, 1]; linear VQT power).
    activations : float32 (n, 128 * bins_per_semitone)
        PESTO's pitch distribution per frame.
    voiced : bool (n,)
        The engine's voicing decision (``StreamFrames.voiced``: its confidence gate, see :attr:`LiveWorker.gate`, and
        the preset's peak-mass gate); the curve's gaps, the tuner and the live notes use it.
        (Left out, it is ``confidence >= `` the live preset's gate.)
    arrival_s : float64 (n,)
        ``time.monotonic()`` when the newest sample each frame waited for arrived in the audio callback (the glitch
        filter's look-ahead included; NaN if unknown).
    published_s : float
        ``time.monotonic()`` when the worker published the batch.
    compute_s : float
        Engine time for the batch (seconds).
    hops : int
        Hops (frames) computed in that time.
    """

    time_s: np.ndarray
    centre: np.ndarray
    pitch_semitones: np.ndarray
    confidence: np.ndarray
    volume: np.ndarray
    activations: np.ndarray
    arrival_s: np.ndarray
    published_s: float
    compute_s: float
    hops: int
    voiced: Optional[np.ndarray] = None

    def __post_init__(self):
        if self.voiced is None:  # an engine without a voicing decision of its own: the preset's gate
            object.__setattr__(self, "voiced", self.confidence >= LIVE_DEFAULTS["gate"])

    def __len__(self) -> int:
        return len(self.time_s)


@dataclass(frozen=True)
class WorkerNotice:
    """Something the user should know. ``kind``: "ready", "warning" (e.g. slower than real time), "error" (the
    worker stopped), "recovered" (a warning condition ended)."""

    kind: str
    message: str


class LiveWorker:
    """Runs the engine on a ring buffer's audio in a thread of its own.

    Parameters
    ----------
    ring : RingBuffer
        Filled by the capture callback.
    wakeup : threading.Event
        Set by the capture callback after each block.
    make_stream : callable () -> PitchStream-like
        Builds the engine; called in the worker thread (loading the model must not block the GUI). The object
        needs ``sr``, ``hop_length``, ``geometry.lag`` (or ``latency_samples``), ``push(block)`` and ``reset()``.
    make_fallback : callable () -> PitchStream-like, optional
        If the engine raises while running, it is replaced once by this one (e.g. the same engine without an
        optional stage), with a warning, instead of stopping the analysis.
    start_cursor : int, optional
        Absolute sample where the session starts (default: the ring's write cursor when the thread starts).
    max_hops_per_push : int
        Most hops pushed in one call when behind: bounds one call's duration (and the GUI's wait for it).
    min_hops_per_push : int
        Hops gathered before calling the engine, for engines whose cost per call is mostly fixed (the torch engine:
        small tensor operations), where two hops per call cost little more than one: with a 10 ms hop and a screen
        redrawn every 40 ms, waiting for a second hop saves about 40% of the engine's CPU time for at most one hop
        of extra latency. Ignored (every hop is pushed at once) when the stream says ``native`` is True: the native
        frame engine's cost is per frame, so gathering would only add latency. Each frame keeps its exact time.
    torch_threads : int or None
        Intra-op threads for torch in this thread. 1 by default: a frame is a small amount of work, and more
        threads only spin and fight over the cores (measured 25x slower with 2 threads on a busy 2-core machine).
    """

    def __init__(
        self,
        ring: RingBuffer,
        wakeup: threading.Event,
        make_stream: Callable[[], object],
        *,
        start_cursor: Optional[int] = None,
        max_hops_per_push: int = 16,
        min_hops_per_push: int = 1,
        torch_threads: Optional[int] = 1,
        make_fallback: Optional[Callable[[], object]] = None,
        fallback_note: str = "",
    ):
        self.ring = ring
        self.wakeup = wakeup
        self.make_stream = make_stream
        self.make_fallback = make_fallback  # a safer engine to switch to if the first one raises (once)
        self.fallback_note = fallback_note
        self.max_hops_per_push = int(max_hops_per_push)
        self.min_hops_per_push = max(1, min(int(min_hops_per_push), self.max_hops_per_push))
        self.torch_threads = torch_threads
        self._start_cursor = start_cursor
        self._out: collections.deque = collections.deque(maxlen=MAX_PENDING)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.recorder = None  # set by the GUI thread; read here once per push
        self.gate: Optional[float] = None  # voicing gate set by the GUI thread; applied to the engine before a push
        # statistics, written by the worker, read by the GUI (plain numbers: atomic under the GIL)
        self.sr = 0
        self.hop_length = 0
        self.latency_samples = 0
        self.session_start = 0
        self.cursor = 0  # next sample to push (absolute)
        self.frames_done = 0
        self.dropped_frames = 0
        self.skips = 0
        self.compute_s_per_hop = 0.0  # smoothed engine time per hop
        self.load = 0.0  # smoothed engine time / audio time (> 1: slower than real time)
        self.ready = False
        self.failed = False
        # what the running engine does (set when it starts and when the fallback replaces it; read by the GUI)
        self.reduction = ""
        self.refine = False

    # ------------------------------------------------------------------------------------------------ GUI thread
    def start(self) -> None:
        """Start the thread. GUI thread."""
        self._thread = threading.Thread(target=self._run, name="pesto-live-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> bool:
        """Ask the thread to end and wait for it (at most ``timeout`` s). GUI thread. True if it ended."""
        self._stop.set()
        self.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def drain(self) -> Tuple[List[LiveFrames], List[WorkerNotice]]:
        """Everything published since the last call, oldest first. GUI thread."""
        frames, notices = [], []
        while True:
            try:
                item = self._out.popleft()
            except IndexError:
                break
            (frames if isinstance(item, LiveFrames) else notices).append(item)
        return frames, notices

    @property
    def backlog_s(self) -> float:
        """Audio received but not analysed yet, in seconds. Any thread."""
        return 0.0 if not self.sr else max(0, self.ring.write_cursor - self.cursor) / self.sr

    # --------------------------------------------------------------------------------------------- worker thread
    def _run(self) -> None:
        try:
            if self.torch_threads:
                from pesto_core.device import set_threads  # imports torch: on this thread, never the GUI's

                set_threads(self.torch_threads)
            stream = self.make_stream()
            self.sr = int(stream.sr)
            self.hop_length = hop = int(stream.hop_length)
            self.latency_samples = int(getattr(stream, "latency_samples", 0) or stream.geometry.lag)
            # a frame's centre is the VQT's lag before the end of its hop; latency_samples may add look-ahead
            geometry = getattr(stream, "geometry", None)
            self.centre_lag = int(geometry.lag) if geometry is not None else self.latency_samples
            self._describe(stream)
            if getattr(stream, "native", False):
                self.min_hops_per_push = 1  # cost per frame, not per call: no reason to wait for a second hop
        except Exception as e:  # reported to the user, who can change the settings
            self.failed = True
            logger.exception("the live engine could not start")
            self._publish(WorkerNotice("error", f"The pitch engine could not start: {type(e).__name__}: {e}"))
            return
        self.session_start = self.cursor = (
            self.ring.write_cursor if self._start_cursor is None else int(self._start_cursor)
        )
        origin = self.cursor  # absolute sample where the current stream started (moves on a skip)
        self.ready = True
        self._publish(WorkerNotice("ready", ""))
        slow_warned = False
        last_warning = -1e9
        window_audio = window_compute = 0.0
        try:
            while not self._stop.is_set():
                self.wakeup.clear()  # before looking: a block arriving from now on wakes us again
                available = self.ring.write_cursor - self.cursor
                if available < self.min_hops_per_push * hop:
                    self.wakeup.wait(0.1)
                    continue
                # Too far behind to catch up inside the ring: jump to the newest audio (bounded latency).
                if available > self.ring.capacity - self.max_hops_per_push * hop:
                    origin = self._skip(stream, available)
                    continue
                n_hops = min(available // hop, self.max_hops_per_push)
                block = self.ring.read(self.cursor, n_hops * hop)
                if block is None:  # overwritten while we read it
                    origin = self._skip(stream, self.ring.write_cursor - self.cursor)
                    continue
                gate = self.gate
                if gate is not None and getattr(stream, "gate", gate) != gate:
                    stream.gate = gate  # the GUI changed the voicing gate: frames from now on use it
                t0 = time.perf_counter()
                try:
                    fr = stream.push(block)
                except Exception as e:
                    if self.make_fallback is None:
                        raise
                    stream, origin = self._fall_back(e, n_hops)
                    continue
                compute = time.perf_counter() - t0
                recorder = self.recorder
                if recorder is not None:
                    recorder.add_audio(block, self.cursor)
                self.cursor += n_hops * hop
                if len(fr):
                    out = self._frames(fr, origin, compute, n_hops)
                    self._publish(out)
                    if recorder is not None:
                        recorder.add_frames(out)
                if recorder is not None:
                    recorder.progress(self.cursor - self.latency_samples)
                self.frames_done += n_hops
                # smoothed cost (time constant ~1 s of audio)
                a = min(1.0, n_hops * hop / self.sr)
                self.compute_s_per_hop += a * (compute / n_hops - self.compute_s_per_hop)
                window_audio += n_hops * hop / self.sr
                window_compute += compute
                if window_audio >= 2.0:
                    self.load = window_compute / window_audio
                    # Warn once when the engine takes longer than the audio it analyses, again only after it
                    # recovered for a while (no flood of messages when the load hovers around the limit).
                    now = time.monotonic()
                    if self.load >= 1.0 and not slow_warned and now - last_warning > 30.0:
                        slow_warned = True
                        last_warning = now
                        self._publish(WorkerNotice("warning", self._slow_message()))
                    elif self.load < 0.8 and slow_warned:
                        slow_warned = False
                        self._publish(WorkerNotice("recovered", ""))
                    window_audio = window_compute = 0.0
        except Exception as e:  # never die silently
            self.failed = True
            logger.exception("live analysis stopped")
            detail = traceback.format_exception_only(type(e), e)[-1].strip()
            self._publish(WorkerNotice("error", f"Live analysis stopped after an error: {detail}"))

    def _fall_back(self, error: Exception, n_hops: int):
        """Replace a failing engine by the fallback one, skipping the block it failed on. Worker thread."""
        make, self.make_fallback = self.make_fallback, None
        logger.warning("the live engine failed; switching to the fallback", exc_info=error)
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        stream = make()
        self._describe(stream)
        self.cursor += n_hops * self.hop_length
        self.dropped_frames += n_hops
        note = self.fallback_note or "continuing with a simpler engine"
        self._publish(WorkerNotice("warning", f"The pitch engine failed ({detail}); {note}."))
        return stream, self.cursor

    def _describe(self, stream) -> None:
        """Publish the engine's decoding: its reduction and whether it refines the pitch. Worker thread."""
        self.reduction = str(getattr(stream, "reduction", "alwa"))
        self.refine = bool(getattr(stream, "refine", False))

    @property
    def decoding(self) -> str:
        """The engine's decoding as the CLI writes it into an NPZ: ``"alwa"``, ``"alwa+refine"``. Any thread."""
        return self.reduction + ("+refine" if self.refine else "")

    def _skip(self, stream, available: int) -> int:
        """Jump to the newest whole hop, restart the stream there, count the skipped hops. Worker thread."""
        hop = self.hop_length
        skipped = (available // hop) * hop - hop  # keep one hop to start from at once
        skipped = max(hop, skipped)
        self.cursor += skipped
        self.dropped_frames += skipped // hop
        self.skips += 1
        stream.reset()
        recorder = self.recorder
        if recorder is not None:
            recorder.add_gap(skipped)
        self._publish(
            WorkerNotice(
                "warning",
                f"Analysis fell {available / self.sr:.1f} s behind the audio: skipped {skipped // hop} "
                f"frames ({skipped / self.sr:.2f} s). " + self._slow_message(),
            )
        )
        return self.cursor

    def _slow_message(self) -> str:
        step_ms = 1000.0 * self.hop_length / self.sr
        return (
            f"The pitch engine is slower than real time on this computer ({1000 * self.compute_s_per_hop:.1f} ms "
            f"per {step_ms:.0f} ms hop). Try a longer step (20 ms), a lower sample rate or "
            "closing other programs."
        )

    def _frames(self, fr, origin: int, compute: float, n_hops: int) -> LiveFrames:
        """Session-time numpy copy of the engine's frames. Worker thread."""
        k = np.asarray(fr.frame_index, dtype=np.int64)
        hop = self.hop_length
        centre = origin + (k + 1) * hop - self.centre_lag
        needed = centre + self.latency_samples - 1  # newest sample frame k waited for (see pesto_core.stream)
        confidence = np.asarray(fr.confidence, dtype=np.float32)
        voiced = getattr(fr, "voiced", None)
        voiced = np.asarray(voiced, bool) if voiced is not None else None
        return LiveFrames(
            time_s=(centre - self.session_start) / float(self.sr),
            centre=centre,
            pitch_semitones=np.asarray(fr.pitch_semitones, dtype=np.float32),
            confidence=confidence,
            volume=np.asarray(fr.volume, dtype=np.float32),
            activations=np.asarray(fr.activations, dtype=np.float32),
            voiced=voiced,
            arrival_s=self.ring.arrival_time(needed),
            published_s=time.monotonic(),
            compute_s=compute,
            hops=n_hops,
        )

    def _publish(self, item) -> None:
        self._out.append(item)
