"""Waveform overview of a whole file: a min/max envelope computed block by block off the GUI thread, and the strip
that draws it with the part shown in the pitch plot (a draggable region) and the playhead.

An hour of 48 kHz audio is 173 M samples; the envelope keeps :data:`ENVELOPE_BUCKETS` (min, max) pairs, so memory
does not grow with the file and drawing stays cheap.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from pesto_core.audio import AudioReader
from pesto_core.errors import PestoError

from ..common.threads import lower_thread_priority

ENVELOPE_BUCKETS = 4096
BLOCK_SAMPLES = 1 << 20


def compute_envelope(
    path, channel: Optional[int] = None, buckets: int = ENVELOPE_BUCKETS, cancelled: Callable[[], bool] = lambda: False
) -> Tuple[np.ndarray, np.ndarray, float]:
    """Min and max of the (mono) signal in ``buckets`` equal stretches of time.

    Reads the file in blocks of about a million samples (bounded memory). Raises
    :class:`pesto_core.errors.AudioError` for unreadable, truncated or NaN-holding files.

    Returns
    -------
    mins, maxs : ndarray float32 (n,), n <= buckets
    bucket_s : float
        Seconds per bucket.
    """
    with AudioReader(path, channel) as reader:
        n, sr = reader.n_samples, reader.sr
        per = max(1, -(-n // buckets))
        count = -(-n // per)
        mins = np.zeros(count, np.float32)
        maxs = np.zeros(count, np.float32)
        block = max(per, (BLOCK_SAMPLES // per) * per)  # whole buckets per read
        for start in range(0, n, block):
            if cancelled():
                break
            x = reader(start, min(n, start + block))
            pad = (-len(x)) % per
            if pad:  # the last bucket is shorter: repeat its last sample
                x = np.concatenate([x, np.full(pad, x[-1], x.dtype)])
            x = x.reshape(-1, per)
            b = start // per
            mins[b : b + len(x)] = x.min(axis=1)
            maxs[b : b + len(x)] = x.max(axis=1)
    return mins, maxs, per / sr


class EnvelopeWorker(QtCore.QThread):
    """Computes a file's envelope on its own thread; ``done(mins, maxs, bucket_s)`` or ``failed(message)``
    (delivered to the GUI thread)."""

    done = QtCore.Signal(object, object, float)
    failed = QtCore.Signal(str)

    def __init__(self, path, channel: Optional[int] = None, parent=None):
        super().__init__(parent)
        self.path, self.channel = str(path), channel
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """GUI thread: stop at the next block."""
        self._cancel.set()

    def run(self) -> None:  # worker thread
        lower_thread_priority()
        try:
            mins, maxs, bucket_s = compute_envelope(self.path, self.channel, cancelled=self._cancel.is_set)
        except PestoError as e:
            self.failed.emit(str(e))
            return
        except Exception as e:  # reported, never silent
            self.failed.emit(f"{self.path}: cannot read the waveform ({type(e).__name__}: {e})")
            return
        if not self._cancel.is_set():
            self.done.emit(mins, maxs, bucket_s)


class EnvelopeJobs(QtCore.QObject):
    """One :class:`EnvelopeWorker` per open document (a newer request for a document replaces the older one).

    Signals (GUI thread): ``done(doc, mins, maxs, bucket_s)``, ``failed(doc, message)``. GUI thread only.
    """

    done = QtCore.Signal(object, object, object, float)
    failed = QtCore.Signal(object, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._workers = {}  # id(doc) -> EnvelopeWorker

    def start(self, doc) -> None:
        """Read ``doc``'s envelope (its current channel choice) on a low-priority thread."""
        worker = EnvelopeWorker(doc.path, doc.channel, self)
        worker.done.connect(lambda mins, maxs, bucket_s, d=doc: self.done.emit(d, mins, maxs, bucket_s))
        worker.failed.connect(lambda msg, d=doc: self.failed.emit(d, msg))
        worker.finished.connect(lambda d=doc, w=worker: self._finished(d, w))
        self._workers[id(doc)] = worker
        worker.start(QtCore.QThread.LowPriority)

    def _finished(self, doc, worker) -> None:
        if self._workers.get(id(doc)) is worker:
            del self._workers[id(doc)]
        worker.deleteLater()

    def cancel(self, doc, timeout_ms: int = 60000) -> None:
        """Stop reading ``doc``'s envelope (it is being closed) and wait for the thread."""
        worker = self._workers.pop(id(doc), None)
        if worker is not None:
            worker.cancel()
            worker.wait(timeout_ms)

    def cancel_all(self, timeout_ms: int = 5000) -> None:
        for worker in list(self._workers.values()):
            worker.cancel()
            worker.wait(timeout_ms)


class WaveformOverview(pg.PlotWidget):
    """The whole file's waveform, the region shown in the pitch plot, and the playhead.

    Signals: ``seek_requested(t_s)`` on a click; ``region_changed(t0_s, t1_s)`` when the user drags the region.
    GUI thread only.
    """

    seek_requested = QtCore.Signal(float)
    region_changed = QtCore.Signal(float, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.hideAxis("left")
        item.setLabel("bottom", "")
        item.getAxis("bottom").setStyle(tickTextOffset=2)
        self.setMinimumHeight(70)
        self.setMaximumHeight(100)
        self.wave = pg.PlotDataItem(pen=pg.mkPen((110, 170, 110), width=1), connect="pairs")
        item.addItem(self.wave)
        self.region = pg.LinearRegionItem(
            values=(0, 1), brush=pg.mkBrush(80, 140, 255, 50), pen=pg.mkPen((80, 140, 255), width=1)
        )
        self.region.setZValue(5)
        item.addItem(self.region)
        self.playhead = pg.InfiniteLine(0, angle=90, pen=pg.mkPen((255, 60, 60), width=2))
        self.playhead.setZValue(10)
        item.addItem(self.playhead)
        self.duration_s = 1.0
        self._setting_region = False
        self.region.sigRegionChanged.connect(self._on_region)
        self.scene().sigMouseClicked.connect(self._on_click)
        item.setYRange(-1, 1, padding=0.05)
        item.setXRange(0, 1, padding=0)

    def set_duration(self, duration_s: float) -> None:
        self.duration_s = max(float(duration_s), 1e-3)
        self.getPlotItem().setXRange(0, self.duration_s, padding=0)
        self.getPlotItem().setLimits(xMin=0, xMax=self.duration_s)
        self.region.setBounds((0, self.duration_s))

    def set_envelope(self, mins: Optional[np.ndarray], maxs: Optional[np.ndarray], bucket_s: float) -> None:
        """Draw the envelope (None clears it); one vertical segment per bucket."""
        if mins is None or len(mins) == 0:
            self.wave.setData([], [])
            return
        t = (np.arange(len(mins)) + 0.5) * bucket_s
        x = np.repeat(t, 2)
        y = np.empty(2 * len(mins), np.float32)
        y[0::2], y[1::2] = mins, maxs
        peak = float(max(np.abs(mins).max(), np.abs(maxs).max(), 1e-4))
        self.wave.setData(x, y / peak)  # normalised: quiet recordings stay visible

    def set_region(self, t0: float, t1: float) -> None:
        """Show the part of the file visible in the pitch plot (no ``region_changed`` echo)."""
        self._setting_region = True
        try:
            self.region.setRegion((t0, t1))
        finally:
            self._setting_region = False

    def set_playhead(self, t_s: float) -> None:
        self.playhead.setValue(t_s)

    def _on_region(self) -> None:
        if not self._setting_region:
            t0, t1 = self.region.getRegion()
            self.region_changed.emit(float(t0), float(t1))

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.LeftButton or event.isAccepted():
            return
        pos = self.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.seek_requested.emit(float(np.clip(pos.x(), 0, self.duration_s)))
