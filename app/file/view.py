"""The view of one analysed file: waveform overview, pitch curve on a note axis (gated by confidence, optional
activation heatmap behind it), confidence lane, playhead, crosshair readout; zoom and pan with mouse and keys.

Composes the plots shared with the Live tab (:mod:`app.common.plots`) without changing them.

Long files: the curve handed to the plot is the visible time range plus a margin (re-sliced when the view moves),
drawn with pyqtgraph's clip-to-view and subsampling, so a redraw costs the same for a minute or an hour; the
heatmap is the store's fixed-size overview, replaced by a detailed image of the visible range computed on a
thread pool when zoomed in.

Threading: GUI thread, except :class:`_DetailJob.run` (thread pool; reads the activation file).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import numpy.ma  # noqa: F401 (np.percentile imports it on first use: 90 ms on the GUI thread mid-analysis)
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from pesto_core.units import describe_pitch, semitones_to_hz

from ..common.heatmap import heat_level, max_pool
from ..common.plots import ConfidenceLane, PitchPlot
from ..common.render import pitch_range
from ..common.threads import lower_thread_priority
from .document import FileDocument
from .waveform import WaveformOverview

READOUT_HINT = (
    "Point: time, pitch, confidence \u00b7 click: playhead \u00b7 wheel / drag: zoom / pan \u00b7 "
    "Space play \u00b7 \u2190 \u2192 + - Home F"
)
MAX_JUMP_SEMITONES = 2.0  # the curve is broken where the pitch jumps further between neighbouring frames
LEFT_AXIS_PX = 52
RANGE_SETTLE_MS = 60  # the curve and heatmap follow the view once it has been still this long
POINTS_PER_PIXEL = 2  # curve points handed to the plot per pixel of its width (more cannot be seen)
DETAIL_COLUMNS = 1600  # columns of a zoomed-in heatmap


def break_jumps(time_s: np.ndarray, pitch: np.ndarray, confidence: np.ndarray, max_jump: float = MAX_JUMP_SEMITONES):
    """Insert a gap (a NaN point half-way) wherever the pitch jumps by more than ``max_jump`` semitones from one
    frame to the next (an octave error, a new note after silence), so that no vertical line joins them.

    Returns new arrays ``(time_s, pitch, confidence)`` (copies; the inputs are not modified)."""
    pitch = np.asarray(pitch, dtype=np.float32)
    jumps = np.flatnonzero(np.abs(np.diff(pitch)) > max_jump) + 1
    if not len(jumps):
        return time_s.copy(), pitch.copy(), confidence.copy()
    mid_t = (time_s[jumps - 1] + time_s[jumps]) / 2
    return (np.insert(time_s, jumps, mid_t), np.insert(pitch, jumps, np.nan), np.insert(confidence, jumps, 1.0))


class _DetailSignals(QtCore.QObject):
    # request id, image (cols, bins), centre time of column 0 (s), seconds per column, first bin
    ready = QtCore.Signal(int, object, float, float, int)


class _DetailJob(QtCore.QRunnable):
    """Pools the visible range of the activation file (thread pool)."""

    def __init__(
        self,
        request: int,
        store,
        f0: int,
        f1: int,
        confidence: np.ndarray,
        frame_s: float,
        signals: _DetailSignals,
        bins,
    ):
        super().__init__()
        self.request, self.store, self.f0, self.f1 = request, store, f0, f1
        self.confidence, self.frame_s, self.signals, self.bins = confidence, frame_s, signals, bins

    def run(self) -> None:  # thread pool
        lower_thread_priority()
        try:
            img, factor = self.store.detail(self.f0, self.f1, self.confidence, DETAIL_COLUMNS)
        except Exception:  # the file was closed meanwhile: nothing to draw
            return
        b0, b1 = self.bins
        img = np.ascontiguousarray(img[:, b0:b1])
        t0 = (self.f0 + (factor - 1) / 2) * self.frame_s
        self.signals.ready.emit(self.request, img, t0, factor * self.frame_s, b0)


class FileView(QtWidgets.QWidget):
    """Waveform overview + pitch plot + confidence lane + readout for one :class:`FileDocument`.

    Signals: ``seek_requested(t_s)`` (a click on the waveform or the pitch plot); ``detail_ready(image)`` when a
    zoomed-in heatmap (float32 (columns, bins), see :meth:`ActivationStore.detail`) arrives and is drawn.
    """

    seek_requested = QtCore.Signal(float)
    detail_ready = QtCore.Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.doc: Optional[FileDocument] = None
        self.gate = 0.5
        self.show_heatmap = True
        self.follow = True
        self.refined = True  # draw the cent-precise pitch when the analysis computed it
        self._curve_span = (0, 0, 1)  # frames handed to the plot: start, stop, stride
        self._detail_request = 0
        self._detail_shown = False
        self._user_zoomed_y = False
        self.heatmap_info = None

        self.waveform = WaveformOverview()
        self.pitch = PitchPlot()
        self.lane = ConfidenceLane()
        self.lane.setXLink(self.pitch)
        # one time axis, under the lane (an axis is regenerated on every zoom: one fewer to draw), and left axes of
        # one width so that the three plots share their x positions
        self.pitch.getPlotItem().hideAxis("bottom")
        self.lane.getPlotItem().setLabel("bottom", "Time", units="s")
        self.waveform.getPlotItem().showAxis("left")
        self.waveform.getPlotItem().getAxis("left").setStyle(showValues=False)
        self.waveform.getPlotItem().getAxis("left").setPen(pg.mkPen(None))
        for plot in (self.pitch, self.lane, self.waveform):
            plot.getPlotItem().getAxis("left").setWidth(LEFT_AXIS_PX)
        self.pitch.setFocusPolicy(QtCore.Qt.StrongFocus)
        vb = self.pitch.getPlotItem().vb
        vb.setLimits(yMin=0, yMax=128, minXRange=0.05, minYRange=2)
        self.pitch.curve.setClipToView(True)
        # subsampling keeps real points (peak mode would turn a bin holding one unvoiced frame into a gap)
        self.pitch.curve.setDownsampling(auto=True, method="subsample")
        self.lane.confidence.setClipToView(True)
        self.lane.confidence.setDownsampling(auto=True, method="peak")
        self.lane.volume.setClipToView(True)
        self.lane.volume.setDownsampling(auto=True, method="peak")

        pen = pg.mkPen((255, 60, 60), width=2)
        self.playhead = pg.InfiniteLine(0, angle=90, pen=pen)
        self.playhead.setZValue(20)
        self.pitch.addItem(self.playhead, ignoreBounds=True)
        self.lane_playhead = pg.InfiniteLine(0, angle=90, pen=pen)
        self.lane.addItem(self.lane_playhead, ignoreBounds=True)
        cross_pen = pg.mkPen((200, 200, 200, 140), width=1, style=QtCore.Qt.DashLine)
        self.cross_v = pg.InfiniteLine(angle=90, pen=cross_pen, movable=False)
        self.cross_h = pg.InfiniteLine(angle=0, pen=cross_pen, movable=False)
        for line in (self.cross_v, self.cross_h):
            line.setZValue(15)
            line.setVisible(False)
            self.pitch.addItem(line, ignoreBounds=True)

        self.readout = QtWidgets.QLabel(READOUT_HINT)
        self.readout.setObjectName("fileReadout")
        self.readout.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont)
        self.readout.setFont(font)
        # a long line must not widen the window: it is cut at the plot's width instead
        self.readout.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        self.placeholder = QtWidgets.QLabel("Open an audio file (File > Open..., Ctrl+O, or drop files here)")
        self.placeholder.setAlignment(QtCore.Qt.AlignCenter)
        self.placeholder.setStyleSheet("color: gray; font-size: 15px;")

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.waveform)
        layout.addWidget(self.pitch, 1)
        layout.addWidget(self.lane)
        layout.addWidget(self.readout)

        self._detail_signals = _DetailSignals()
        self._detail_signals.ready.connect(self._on_detail)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._range_timer = QtCore.QTimer(self, singleShot=True, interval=RANGE_SETTLE_MS)
        self._range_timer.timeout.connect(self._on_range_settled)
        vb.sigXRangeChanged.connect(self._on_x_range)
        vb.sigYRangeChanged.connect(self._on_y_range)
        self.waveform.region_changed.connect(self._on_region_dragged)
        self.waveform.seek_requested.connect(self.seek_requested)
        self._mouse_proxy = pg.SignalProxy(self.pitch.scene().sigMouseMoved, rateLimit=60, slot=self._on_mouse)
        self.pitch.scene().sigMouseClicked.connect(self._on_click)
        self.set_document(None)

    # ------------------------------------------------------------------------------------------------ document
    def set_document(self, doc: Optional[FileDocument]) -> None:
        """Show ``doc`` (None: the empty placeholder)."""
        if self.doc is not None:
            self.doc.view_range = self.visible_range()
        self.doc = doc
        self._curve_span = (0, 0, 1)
        self._detail_request += 1
        self._detail_shown = False
        has = doc is not None
        # the plots stay visible (empty) without a file: showing them later would lay out and paint three
        # plot widgets at once, a stall of 100-200 ms just as an analysis starts
        self.placeholder.setVisible(not has)
        self.pitch.set_curve(np.zeros(0), np.zeros(0), np.zeros(0), self.gate)
        self.pitch.set_heatmap(None)
        self.lane.set_data(np.zeros(0), np.zeros(0), np.zeros(0), self.gate)
        if not has:
            self.pitch.getPlotItem().setTitle("")
            self.waveform.set_envelope(None, None, 1.0)
            return
        self.pitch.getPlotItem().setTitle(doc.name)
        dur = doc.duration_s
        self.waveform.set_duration(dur)
        self.waveform.set_envelope(*(doc.envelope or (None, None, 1.0)))
        self.pitch.getPlotItem().vb.setLimits(xMin=-0.05 * dur, xMax=1.05 * dur)
        t0, t1 = doc.view_range or (0.0, dur)
        self.pitch.setXRange(t0, t1, padding=0)
        self._user_zoomed_y = False
        self.set_playhead(doc.playhead_s)
        self.refresh(fit_pitch=True)

    def set_envelope(self, doc: FileDocument) -> None:
        if doc is self.doc and doc.envelope is not None:
            self.waveform.set_envelope(*doc.envelope)

    def refresh(self, fit_pitch: bool = False) -> None:
        """Redraw the results of the current document (called a few times a second during an analysis)."""
        doc = self.doc
        if doc is None:
            return
        if doc.frames_done == 0:
            self.pitch.set_curve(np.zeros(0), np.zeros(0), np.zeros(0), self.gate)
            self.lane.set_data(np.zeros(0), np.zeros(0), np.zeros(0), self.gate)
            self.pitch.set_heatmap(None)
            return
        self._update_curve(force=True)
        self._render_heatmap()
        if fit_pitch or not self._user_zoomed_y:
            self.fit_pitch(only_if_changed=not fit_pitch)

    def set_gate(self, gate: float) -> None:
        self.gate = float(gate)
        self.refresh()

    def set_refined(self, refined: bool) -> None:
        self.refined = bool(refined)
        self.refresh()

    def set_heatmap_visible(self, visible: bool) -> None:
        self.show_heatmap = bool(visible)
        if not visible:
            self.pitch.set_heatmap(None)
        else:
            self._render_heatmap()

    def wait_for_jobs(self, timeout_ms: int = 5000) -> None:
        """Wait for the zoomed-in heatmap being computed (before its activation file is closed)."""
        self._pool.waitForDone(timeout_ms)

    # ------------------------------------------------------------------------------------------------ view
    def visible_range(self):
        (t0, t1), _ = self.pitch.getPlotItem().vb.viewRange()
        return float(t0), float(t1)

    def show_all(self) -> None:
        """Whole file in time, pitch fitted (Home)."""
        if self.doc is not None:
            self.pitch.setXRange(0, self.doc.duration_s, padding=0)
            self.fit_pitch()

    def fit_pitch(self, only_if_changed: bool = False) -> None:
        """Pitch axis fitted to the confident frames (F). ``only_if_changed``: leave it unless the fit moved by more
        than a semitone (a redraw of the axes is not free while an analysis runs)."""
        doc = self.doc
        if doc is None:
            return
        n = doc.frames_done
        step = max(1, n // 50000)  # percentiles of a subsample: the same axis, a bounded cost for long files
        lo, hi = (
            pitch_range(doc.display_pitch(self.refined)[:n:step], doc.confidence[:n:step], self.gate)
            if n
            else (45.0, 81.0)
        )
        if only_if_changed:
            (_, _), (y0, y1) = self.pitch.getPlotItem().vb.viewRange()
            if abs(y0 - lo) < 1.0 and abs(y1 - hi) < 1.0:
                return
        self._setting_y = True
        self.pitch.setYRange(lo, hi, padding=0)
        self._user_zoomed_y = False

    def zoom_time(self, factor: float, center: Optional[float] = None) -> None:
        """Zoom the time axis by ``factor`` (< 1 zooms in) around ``center`` (default: the middle)."""
        t0, t1 = self.visible_range()
        c = (t0 + t1) / 2 if center is None else center
        self.pitch.setXRange(c - (c - t0) * factor, c + (t1 - c) * factor, padding=0)

    def pan_time(self, fraction: float) -> None:
        """Move the view by ``fraction`` of its width (negative: towards the start)."""
        t0, t1 = self.visible_range()
        d = (t1 - t0) * fraction
        self.pitch.setXRange(t0 + d, t1 + d, padding=0)

    def pan_pitch(self, semitones: float) -> None:
        (_, _), (y0, y1) = self.pitch.getPlotItem().vb.viewRange()
        self.pitch.setYRange(y0 + semitones, y1 + semitones, padding=0)
        self._user_zoomed_y = True

    def zoom_pitch(self, factor: float) -> None:
        (_, _), (y0, y1) = self.pitch.getPlotItem().vb.viewRange()
        c = (y0 + y1) / 2
        self.pitch.setYRange(c - (c - y0) * factor, c + (y1 - c) * factor, padding=0)
        self._user_zoomed_y = True

    def set_playhead(self, t_s: float, follow: bool = False) -> None:
        """Move the playhead; with ``follow``, page the view so that it stays visible."""
        self.playhead.setValue(t_s)
        self.lane_playhead.setValue(t_s)
        self.waveform.set_playhead(t_s)
        if self.doc is not None:
            self.doc.playhead_s = t_s
        if follow and self.follow:
            t0, t1 = self.visible_range()
            width = t1 - t0
            if t_s > t1 - 0.02 * width or t_s < t0:
                start = max(0.0, t_s - 0.1 * width)
                self.pitch.setXRange(start, start + width, padding=0)

    # ------------------------------------------------------------------------------------------------ internals
    def _on_x_range(self, *_):
        t0, t1 = self.visible_range()
        self.waveform.set_region(max(0.0, t0), t1)
        self._range_timer.start()

    def _on_y_range(self, *_):
        if getattr(self, "_setting_y", False):
            self._setting_y = False
            return
        self._user_zoomed_y = True

    def _on_region_dragged(self, t0: float, t1: float) -> None:
        if t1 > t0:
            self.pitch.setXRange(t0, t1, padding=0)

    def _on_range_settled(self) -> None:
        self._update_curve()
        self._render_heatmap()

    def _visible_frames(self):
        doc = self.doc
        t0, t1 = self.visible_range()
        frame_s = doc.hop_length / doc.info.sr
        f0 = max(0, int(math.floor(t0 / frame_s)) - 1)
        f1 = min(doc.frames_done, int(math.ceil(t1 / frame_s)) + 2)
        return f0, f1, frame_s

    def _update_curve(self, force: bool = False) -> None:
        """Hand the plots the curve around the view: at most :data:`POINTS_PER_PIXEL` points per pixel over the
        visible range and one view width on each side (frames are subsampled when zoomed far out), so that the cost
        of a redraw does not grow with the file."""
        doc = self.doc
        if doc is None or not doc.frames_done or not doc.hop_length:
            return
        n = doc.frames_done
        budget = 3 * POINTS_PER_PIXEL * max(200, self.pitch.width())
        if n <= budget:
            a, b, stride = 0, n, 1  # everything: panning needs no new data
        else:
            f0, f1, _ = self._visible_frames()
            width = max(f1 - f0, 1)
            a, b = max(0, f0 - width), min(n, f1 + width)
            stride = max(1, -(-(b - a) // budget))
            old_a, old_b, old_stride = self._curve_span
            if not force and old_a <= f0 and f1 <= old_b and old_stride == stride:
                return
        self._curve_span = (a, b, stride)
        # copies: pyqtgraph keeps references, and these arrays are still being filled
        t, conf = doc.time_s[a:b:stride].copy(), doc.confidence[a:b:stride].copy()
        self.lane.set_data(t, conf, doc.volume[a:b:stride].copy(), self.gate)
        pitch = doc.display_pitch(self.refined)[a:b:stride]
        self.pitch.set_curve(*break_jumps(t, pitch, conf, MAX_JUMP_SEMITONES * stride), self.gate)

    def _heatmap_window(self):
        """Frames and pitch bins to draw: the view plus a margin (so that small pans need no new image)."""
        doc = self.doc
        f0, f1, frame_s = self._visible_frames()
        margin = (f1 - f0) // 4
        f0, f1 = max(0, f0 - margin), min(doc.frames_done, f1 + margin)
        bps = max(1, doc.store.n_bins // 128)
        (_, _), (y0, y1) = self.pitch.getPlotItem().vb.viewRange()
        pad = (y1 - y0) / 4
        b0 = int(np.clip(np.floor((y0 - pad) * bps), 0, doc.store.n_bins))
        b1 = int(np.clip(np.ceil((y1 + pad) * bps) + 1, b0, doc.store.n_bins))
        return f0, f1, b0, b1, frame_s, bps

    def _render_heatmap(self) -> None:
        """Draw the heatmap of the visible part: from the in-memory overview when it is fine enough there (GUI
        thread, a few ms), else from the activation file on the thread pool."""
        doc = self.doc
        self._detail_request += 1
        if doc is None or not self.show_heatmap or doc.store is None or doc.store.full is None or not doc.frames_done:
            self.pitch.set_heatmap(None)
            return
        f0, f1, b0, b1, frame_s, bps = self._heatmap_window()
        if f1 <= f0 or b1 <= b0:
            self.pitch.set_heatmap(None)
            return
        store = doc.store
        level = heat_level(store.overview_max)
        if store.factor > 1 and (f1 - f0) / store.factor < DETAIL_COLUMNS / 2:  # overview too coarse here
            conf = doc.confidence[f0:f1].copy()  # a snapshot: the job runs on another thread
            self._pool.start(
                _DetailJob(self._detail_request, store, f0, f1, conf, frame_s, self._detail_signals, (b0, b1))
            )
            return
        self._detail_shown = False
        overview, factor = store.overview_image()
        if not len(overview):
            return
        r0, r1 = f0 // factor, min(len(overview), -(-f1 // factor))
        img, extra = max_pool(np.asarray(overview[r0:r1, b0:b1], dtype=np.float32), DETAIL_COLUMNS)
        step = factor * extra  # frames per column
        self._set_heatmap(img, (r0 * factor + (step - 1) / 2) * frame_s, step * frame_s, bps, level, b0)

    def _set_heatmap(self, img, t0_s, dt_s, bps, level, first_bin) -> None:
        # what is drawn, for tests and the status: image shape (columns, bins), time of column 0, seconds per column
        self.heatmap_info = dict(
            source="detail" if self._detail_shown else "overview",
            shape=img.shape,
            t0_s=t0_s,
            dt_s=dt_s,
            first_bin=first_bin,
        )
        self.pitch.set_heatmap(img, t0_s=t0_s, dt_s=dt_s, bins_per_semitone=bps, level=level, first_bin=first_bin)

    def _on_detail(self, request: int, img, t0: float, dt: float, first_bin: int) -> None:
        if request != self._detail_request or self.doc is None or not self.show_heatmap or not len(img):
            return
        store = self.doc.store
        bps = max(1, store.n_bins // 128) if store is not None else 3
        self._detail_shown = True
        self._set_heatmap(img, t0, dt, bps, heat_level(store.overview_max if store else 0.0), first_bin)
        self.detail_ready.emit(img)

    def _on_mouse(self, args) -> None:
        pos = args[0]
        doc = self.doc
        vb = self.pitch.getPlotItem().vb
        if doc is None or not self.pitch.sceneBoundingRect().contains(pos) or not vb.sceneBoundingRect().contains(pos):
            for line in (self.cross_v, self.cross_h):
                line.setVisible(False)
            self.readout.setText(READOUT_HINT)
            return
        p = vb.mapSceneToView(pos)
        t, y = float(p.x()), float(p.y())
        self.cross_v.setPos(t)
        self.cross_h.setPos(y)
        self.cross_v.setVisible(True)
        self.cross_h.setVisible(True)
        self.readout.setText(self.readout_text(t, y))

    def readout_text(self, t_s: float, pointer_midi: Optional[float] = None) -> str:
        """The readout line for time ``t_s`` (the nearest analysed frame) and the pointer's pitch."""
        doc = self.doc
        parts = [f"t {t_s:9.3f} s"]
        i = doc.frame_at(t_s) if doc is not None else None
        if i is None:
            parts.append("not analysed here")
        else:
            midi = float(doc.display_pitch(self.refined)[i])
            conf = float(doc.confidence[i])
            voiced = conf >= self.gate
            parts.append(
                f"{semitones_to_hz(midi):8.2f} Hz  {describe_pitch(midi):>10}  conf {conf:4.2f}"
                + ("" if voiced else "  (below gate)")
            )
        if pointer_midi is not None and 0 <= pointer_midi <= 127:
            parts.append(f"pointer {describe_pitch(pointer_midi)} ({semitones_to_hz(pointer_midi):.1f} Hz)")
        return "   |   ".join(parts)

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.LeftButton or event.double() or self.doc is None:
            return
        vb = self.pitch.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        t = float(vb.mapSceneToView(event.scenePos()).x())
        self.seek_requested.emit(float(np.clip(t, 0.0, self.doc.duration_s)))
