"""Plots shared by the live and file modes (pyqtgraph): a pitch plot on a note axis, with confidence gating and an
optional activation heatmap behind the curve, and a confidence/volume lane.

Threading: every method here is called from the GUI thread only. Arrays passed in are copied or owned by the
caller from then on (pyqtgraph keeps references: never pass a view another thread mutates).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from .notes import note_name, note_ticks


class NoteAxis(pg.AxisItem):
    """Vertical axis in MIDI semitones labelled with note names (C on every octave, naturals when zoomed in)."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (Qt naming)
        major, minor = note_ticks(minVal, maxVal)
        return [(12.0, [m for m, _ in major]), (1.0, [m for m, _ in minor])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        return [note_name(round(v)) for v in values]


def gated_curve(pitch_semitones: np.ndarray, confidence: np.ndarray, gate: float) -> np.ndarray:
    """Pitch with frames below the confidence gate set to NaN (drawn as gaps with ``connect='finite'``)."""
    out = np.array(pitch_semitones, dtype=np.float64, copy=True)
    out[~(np.asarray(confidence) >= gate)] = np.nan
    return out


class PitchPlot(pg.PlotWidget):
    """Pitch over time on a note axis.

    * ``set_curve(time_s, pitch_semitones, confidence, gate)``: the gated curve; each point's opacity follows its
      confidence, frames under the gate are gaps.
    * ``set_heatmap(image, t0_s, dt_s, bins_per_semitone)``: PESTO's distribution (frames, 128 * bps) behind it.
    """

    def __init__(self, parent=None):
        super().__init__(parent, axisItems={"left": NoteAxis(orientation="left")})
        self.plot_item = self.getPlotItem()
        self.plot_item.showGrid(x=True, y=True, alpha=0.2)
        self.plot_item.setLabel("bottom", "Time", units="s")
        self.plot_item.setLabel("left", "Pitch")
        self.plot_item.setMenuEnabled(False)
        self.heatmap = pg.ImageItem(axisOrder="col-major")
        self.heatmap.setColorMap(pg.colormap.get("inferno"))
        self.heatmap.setZValue(-10)
        self.heatmap.setVisible(False)
        self.plot_item.addItem(self.heatmap)
        self.curve = pg.PlotDataItem(connect="finite", pen=pg.mkPen((40, 200, 255), width=2))
        self.points = pg.ScatterPlotItem(size=4, pen=None)
        self.plot_item.addItem(self.curve)
        self.plot_item.addItem(self.points)
        self.setYRange(45, 81)

    def set_curve(self, time_s: np.ndarray, pitch_semitones: np.ndarray, confidence: np.ndarray,
                  gate: float = 0.5) -> None:
        y = gated_curve(pitch_semitones, confidence, gate)
        self.curve.setData(np.asarray(time_s, dtype=np.float64), y)
        ok = np.isfinite(y)
        if ok.sum() <= 20000:  # per-point opacity only where it stays cheap to draw
            alpha = (np.clip(np.asarray(confidence)[ok], 0, 1) * 255).astype(int)
            brushes = [pg.mkBrush(40, 200, 255, int(a)) for a in alpha]
            self.points.setData(np.asarray(time_s)[ok], y[ok], brush=brushes)
        else:
            self.points.clear()

    def set_heatmap(self, image: Optional[np.ndarray], t0_s: float = 0.0, dt_s: float = 0.01,
                    bins_per_semitone: int = 3, level: Optional[float] = None) -> None:
        if image is None or image.size == 0:
            self.heatmap.setVisible(False)
            return
        self.heatmap.setImage(image, autoLevels=False, levels=(0.0, level or max(float(image.max()), 1e-6)))
        self.heatmap.setRect(QtCore.QRectF(t0_s - dt_s / 2, -0.5 / bins_per_semitone, dt_s * image.shape[0],
                                           image.shape[1] / bins_per_semitone))
        self.heatmap.setVisible(True)


class ConfidenceLane(pg.PlotWidget):
    """Confidence (0..1) and volume (dB, scaled into 0..1) under the pitch plot, x-linked to it."""

    def __init__(self, parent=None, volume_floor_db: float = -80.0):
        super().__init__(parent)
        self.floor = volume_floor_db
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.setYRange(0, 1.05, padding=0)
        item.setLabel("left", "Conf.")
        item.showGrid(x=True, y=False, alpha=0.2)
        self.setMaximumHeight(120)
        self.confidence = item.plot(pen=pg.mkPen((255, 170, 0), width=1.5), name="confidence")
        self.volume = item.plot(pen=pg.mkPen((150, 150, 150), width=1), name="volume")
        self.gate_line = pg.InfiniteLine(0.5, angle=0, pen=pg.mkPen((255, 80, 80), style=QtCore.Qt.DashLine))
        item.addItem(self.gate_line)

    def set_data(self, time_s: np.ndarray, confidence: np.ndarray, volume: np.ndarray, gate: float) -> None:
        vol_db = 10 * np.log10(np.maximum(np.asarray(volume, dtype=np.float64), 1e-12))
        self.confidence.setData(time_s, confidence)
        self.volume.setData(time_s, np.clip((vol_db - self.floor) / -self.floor, 0, 1))
        self.gate_line.setValue(gate)
