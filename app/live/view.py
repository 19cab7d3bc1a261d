"""What the Live tab draws: the scrolling pitch plot (with the heatmap behind it), the confidence lane, the scroll
bar through the session, the note strip (current note, last notes) and the tuner. It only reads a
:class:`~app.live.session.LiveSession` (history, gate, tuner reading, live notes) and draws it; follow / pause /
scroll-back are view state kept here.

x is time relative to a reference (seconds ago): while following, the reference is the newest frame and the axis
stays still (-history .. 0) instead of being regenerated on every redraw, which is the most expensive part of a
pyqtgraph repaint; scrolled back, the reference stays where the live view was left.

GUI thread only.
"""

from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np
from PySide6 import QtCore, QtWidgets

from ..common.heatmap import heat_level
from ..common.plots import ConfidenceLane, PitchPlot
from ..common.qt_compat import protect_none_refcount
from .note_strip import STRIP_NOTES, NoteStrip
from .session import LiveSession
from .tuner_widget import TunerWidget

protect_none_refcount()  # (also done by app.common.plots; explicit here because the Live tab is what would crash)

BINS_PER_SEMITONE = 3


class LiveView(QtWidgets.QWidget):
    """Plots, scroll bar and tuner of a live session.

    Signals: ``live_available(bool)``: whether "back to live" would change anything (scrolled back or paused).
    """

    live_available = QtCore.Signal(bool)

    def __init__(self, session: LiveSession, parent=None):
        super().__init__(parent)
        self.session = session
        self.paused = False
        self.follow = True  # the view follows the newest audio
        self.auto_y = True  # the pitch axis follows the singer's range
        self.history_s = 10.0  # seconds shown
        self.show_heatmap = True
        self.last_redraw = 0.0
        self._drawn_total = -1  # history.total at the last redraw (nothing new: nothing to draw)
        self._t_ref = 0.0  # session time at x = 0 of the plots
        self._x_range = None  # x range last set while following
        self._last_y_update = 0.0
        self._scroll_guard = False
        self._live_available = None

        self.plot = PitchPlot(fast=True)
        self.plot.disableAutoRange()
        self.plot.on_paint = session.frames_shown
        self.plot.setMinimumHeight(220)
        self.plot.getPlotItem().hideAxis("bottom")  # the lane below carries the time axis
        self.lane = ConfidenceLane(fast=True)
        self.lane.disableAutoRange()
        self.lane.setXLink(self.plot)
        self.lane.getPlotItem().showGrid(x=False, y=False)  # grid lines in a scrolling axis cost ~3 ms a repaint
        self.lane.getPlotItem().setMouseEnabled(x=True, y=False)
        for axis in (self.plot.getPlotItem().getAxis("left"), self.lane.getPlotItem().getAxis("left")):
            axis.setWidth(48)
            # Replaying an axis' text costs ~1 ms per repaint; the left axes change only when the pitch range does,
            # so let Qt keep them as pixmaps (the scrolling time axis is redrawn, it changes every frame anyway).
            axis.setCacheMode(QtWidgets.QGraphicsItem.DeviceCoordinateCache)
        vb = self.plot.getPlotItem().vb
        vb.setLimits(yMin=0, yMax=128, minYRange=3, maxYRange=128, minXRange=0.5)
        vb.sigRangeChangedManually.connect(self._on_manual_range)
        self.lane.getPlotItem().vb.sigRangeChangedManually.connect(self._on_manual_range)
        self.scrollbar = QtWidgets.QScrollBar(QtCore.Qt.Horizontal)
        self.scrollbar.setToolTip("Scroll back through the session")
        self.scrollbar.setRange(0, 0)
        self.scrollbar.valueChanged.connect(self._on_scroll)
        self.tuner = TunerWidget()
        self.note_strip = NoteStrip()
        self._notes_drawn = None  # (LiveNotes.changes, transposition) at the last strip update
        self.tuner.setMinimumWidth(280)

        left = QtWidgets.QWidget()
        lv = QtWidgets.QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.setSpacing(2)
        lv.addWidget(self.plot, 1)
        lv.addWidget(self.lane)
        lv.addWidget(self.scrollbar)
        lv.addWidget(self.note_strip)
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tuner)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([860, 320])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    # ============================================================================================== view state
    @property
    def following(self) -> bool:
        """New frames are drawn as they come (not paused, not scrolled back)."""
        return self.follow and not self.paused

    @property
    def time_ref(self) -> float:
        """Session time (s) at x = 0 of the plots."""
        return self._t_ref

    def reset(self) -> None:
        """A new session starts: follow it from its first frame, empty plots."""
        self.follow = True
        self.auto_y = True
        self._x_range = None
        self._t_ref = 0.0
        self._drawn_total = -1
        self.tuner.set_reading(None)
        self._notes_drawn = None
        self.note_strip.set_notes(None, [])
        self.plot.set_curve(np.zeros(0), np.zeros(0), np.zeros(0), self.session.gate)
        self.plot.set_heatmap(None)

    def set_paused(self, paused: bool) -> None:
        """Freeze (or unfreeze, back to live) the view; the session keeps growing meanwhile."""
        self.paused = bool(paused)
        if not self.paused:
            self.go_live()

    def go_live(self) -> None:
        """Back to the newest audio (and out of pause)."""
        self.follow = True
        self.auto_y = True
        if self.paused:
            self.set_paused(False)
            return
        self.redraw(force=True)

    def set_gate_line(self, gate: float) -> None:
        self.lane.gate_line.setValue(gate)

    def set_heatmap_visible(self, visible: bool) -> None:
        self.show_heatmap = bool(visible)
        if not visible:
            self.plot.set_heatmap(None)

    def _on_manual_range(self, mask=None) -> None:
        """The user dragged or zoomed the plot: stop following (x) / auto-ranging (y)."""
        if mask is None or (isinstance(mask, (list, tuple)) and len(mask) > 0 and mask[0]):
            self.follow = False
            self._x_range = None
            self._set_time_label()
        if mask is None or (isinstance(mask, (list, tuple)) and len(mask) > 1 and mask[1]):
            self.auto_y = False
        self._drawn_total = -1

    def _on_scroll(self, value: int) -> None:
        if self._scroll_guard:
            return
        self.follow = value >= self.scrollbar.maximum() and not self.paused
        if not self.follow:
            t0 = self.session.history.start_s + value / 10.0 - self._t_ref
            self._x_range = None
            self._set_time_label()
            self.plot.setXRange(t0, t0 + self.history_s, padding=0)
        self.redraw(force=True)

    # ============================================================================================== drawing
    def redraw(self, force: bool = False) -> None:
        """Draw the session's frames in the time range shown (only when something changed, unless ``force``)."""
        h = self.session.history
        if h.total == self._drawn_total and not force:
            return
        self._drawn_total = h.total
        self.last_redraw = time.monotonic()
        gate = self.session.gate
        self.tuner.set_reading(self.session.tuner_filter.reading)  # repainted with the plots, if what it shows changed
        self.update_notes()
        width = self.history_s
        vb = self.plot.getPlotItem().vb
        if self.follow:
            self._t_ref = h.end_s if len(h) else 0.0
            if self._x_range != (-width, 0.0):
                self._x_range = (-width, 0.0)
                self.plot.setXRange(-width, 0.0, padding=0)
                self._set_time_label()
            x0, x1 = -width, 0.0
        else:
            (x0, x1), _ = vb.viewRange()
        ref = self._t_ref
        t0, t1 = x0 + ref, x1 + ref
        margin = 0.02 * (t1 - t0)
        t, p, c, v, voiced = h.window(t0 - margin, t1 + margin)
        x = t - ref
        shown = np.where(voiced, p, np.nan)  # gaps where the engine's voicing decision says unvoiced
        self.plot.set_curve(x, shown, c, gate)
        self.lane.set_data(x, c, v, gate)
        if self.auto_y:
            self._follow_pitch_range(shown)
        if self.show_heatmap:
            (_, _), (y0, y1) = vb.viewRange()
            b0 = max(0, int(math.floor(y0 * BINS_PER_SEMITONE)) - 2)
            b1 = min(h.n_bins, int(math.ceil(y1 * BINS_PER_SEMITONE)) + 3)
            cols = max(200, int(self.plot.width()))
            img, tc, dt = h.heat_window(t0 - margin, t1 + margin, b0, b1, max_columns=cols)
            # the File tab's colour scale: the brightest value so far, with headroom (app.common.heatmap)
            self.plot.set_heatmap(
                img,
                t0_s=tc - ref,
                dt_s=dt,
                bins_per_semitone=BINS_PER_SEMITONE,
                level=heat_level(h.heat_max),
                first_bin=b0,
            )
        self.update_scrollbar(t0)

    def update_notes(self) -> None:
        """The note strip: the current note and the last notes (repainted only when they changed)."""
        notes = self.session.live_notes
        trans = self.session.tuner_filter.transposition
        if (notes.changes, trans) != self._notes_drawn:
            self._notes_drawn = (notes.changes, trans)
            self.note_strip.set_notes(notes.current, notes.recent(STRIP_NOTES), trans)

    def _follow_pitch_range(self, shown: np.ndarray) -> None:
        """Keep the singer's recent range in view, moving the axis only when the curve nears an edge. ``shown``:
        the curve's pitch (NaN in its gaps)."""
        now = time.monotonic()
        if now - self._last_y_update < 0.2:
            return
        self._last_y_update = now
        voiced = shown[np.isfinite(shown)]
        if voiced.size < 5:
            return
        lo, hi = np.percentile(voiced, [2, 98])
        (_, _), (y0, y1) = self.plot.getPlotItem().vb.viewRange()
        min_span = 14.0
        if lo - 1.5 >= y0 and hi + 1.5 <= y1 and (y1 - y0) <= max(min_span, (hi - lo) + 12.0) + 1:
            return  # comfortably inside and not too zoomed out: keep the axis still
        mid = (lo + hi) / 2
        span = max(min_span, (hi - lo) + 8.0)
        new0 = max(0.0, min(128.0 - span, mid - span / 2))
        self.plot.setYRange(new0, new0 + span, padding=0)

    def _set_time_label(self) -> None:
        text = "seconds ago" if self.follow else "seconds before the point where the live view was left"
        self.lane.getPlotItem().setLabel("bottom", text)

    def update_scrollbar(self, t0: Optional[float] = None) -> None:
        """Scroll bar range = the session kept, in tenths of a second; its value = the view's start ``t0``
        (session seconds; None keeps the current value, e.g. while paused)."""
        h = self.session.history
        total = max(0.0, h.end_s - h.start_s - self.history_s)
        self._scroll_guard = True
        value = self.scrollbar.value()
        self.scrollbar.setRange(0, int(total * 10))
        self.scrollbar.setPageStep(int(self.history_s * 10))
        if self.following:
            self.scrollbar.setValue(self.scrollbar.maximum())
        elif t0 is not None:
            self.scrollbar.setValue(int((t0 - h.start_s) * 10))
        else:
            self.scrollbar.setValue(value)
        self._scroll_guard = False
        available = not self.following
        if available != self._live_available:
            self._live_available = available
            self.live_available.emit(available)
