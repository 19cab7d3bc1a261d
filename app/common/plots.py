"""Plots shared by the live and file modes (pyqtgraph): a pitch plot on a note axis, with confidence gating and an
optional activation heatmap behind the curve, and a confidence/volume lane.

The pitch plot looks like a piano roll: one row per semitone, black-key rows darker, a thin line through the centre
of every note (a pitch on the line is in tune at A4 = 440 Hz) and a brighter one on every C. The curve's opacity
follows confidence in a few steps; frames under the confidence gate are gaps.

Threading: every method here is called from the GUI thread only. Arrays passed in are copied or owned by the
caller from then on (pyqtgraph keeps references: never pass a view another thread mutates).
"""

from __future__ import annotations

import functools
import time
from typing import Callable, Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from pesto_core.units import NOTE_NAMES, note_name

from .notes import note_ticks
from .qt_compat import protect_none_refcount

protect_none_refcount()  # PySide6 6.12.0 on Python 3.11 would abort a live view within a minute (see qt_compat)

BLACK_KEYS = frozenset((1, 3, 6, 8, 10))  # pitch classes of the black keys (C = 0)
CURVE_RGB = (60, 210, 255)
# Two layers show confidence without one brush per point: every frame above the gate is drawn thin and
# half-transparent, frames above the midpoint between the gate and 1 again, thick and opaque. (A 1-pixel line is
# 4-8 times cheaper to draw than a wider or translucent wide one: this keeps a 60 Hz redraw affordable.)
CURVE_LAYERS = 2
CURVE_PENS = ((CURVE_RGB + (150,), 1.0), (CURVE_RGB + (255,), 2.0))


class NoteAxis(pg.AxisItem):
    """Vertical axis in MIDI semitones labelled with note names (C on every octave, naturals when zoomed in)."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (Qt naming)
        """Labels that never overlap: every natural note when a semitone is at least 13 px tall, else C, E, G
        (3+ semitones apart), else C and G, else only the Cs."""
        major, _ = note_ticks(minVal, maxVal)
        px_per_semitone = size / max(maxVal - minVal, 1e-9)
        if px_per_semitone >= 13:
            names = "DEFGAB"
        elif px_per_semitone >= 7:
            names = "EG"
        elif px_per_semitone >= 3.5:
            names = "G"
        else:
            names = ""
        lo, hi = int(np.ceil(minVal)), int(np.floor(maxVal))
        minor = [m for m in range(lo, hi + 1) if NOTE_NAMES[m % 12] in names and len(NOTE_NAMES[m % 12]) == 1]
        return [(12.0, [m for m, _ in major]), (1.0, minor)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        return [note_name(round(v)) for v in values]


class NoteGrid(pg.GraphicsObject):
    """Piano-roll background over the whole view: darker rows for black keys (``part="rows"``), or a line through
    every note, brighter on C (``part="lines"``, drawn above the heatmap)."""

    WHITE_ROW = (34, 37, 44)
    BLACK_ROW = (22, 24, 29)

    def __init__(self, part: str = "rows"):
        super().__init__()
        self.part = part
        self.setZValue(-20 if part == "rows" else -5)
        self._rect = QtCore.QRectF(0, 0, 1, 128)
        self.white_row = QtGui.QColor(*self.WHITE_ROW)
        self.black_row = QtGui.QColor(*self.BLACK_ROW)
        self.note_pen = QtGui.QPen(QtGui.QColor(68, 73, 86), 0)
        self.c_pen = QtGui.QPen(QtGui.QColor(120, 126, 142), 0)
        self.note_pen.setCosmetic(True)
        self.c_pen.setCosmetic(True)

    def viewRangeChanged(self):  # noqa: N802 (pyqtgraph calls it when its view box moves)
        vb = self.getViewBox()
        if vb is None:
            return
        self.prepareGeometryChange()
        self._rect = QtCore.QRectF(vb.viewRect())
        self.update()

    def boundingRect(self):  # noqa: N802
        return self._rect

    def paint(self, p, *args):
        r = self._rect
        lo, hi = max(0, int(np.floor(r.top())) - 1), min(128, int(np.ceil(r.bottom())) + 1)
        x0, w = r.left(), r.width()
        dense = hi - lo <= 90  # zoomed far out, rows and note lines would be a blur: C lines only
        if self.part == "rows":
            p.fillRect(r, self.white_row)
            if dense:
                p.setPen(QtCore.Qt.NoPen)
                p.setBrush(self.black_row)
                p.drawRects([QtCore.QRectF(x0, m - 0.5, w, 1.0) for m in range(lo, hi) if m % 12 in BLACK_KEYS])
            return
        if dense:  # one drawLines call each: per-line calls cost more than the drawing
            p.setPen(self.note_pen)
            p.drawLines([QtCore.QLineF(x0, m, x0 + w, m) for m in range(lo, hi) if m % 12])
        p.setPen(self.c_pen)
        p.drawLines([QtCore.QLineF(x0, m, x0 + w, m) for m in range(lo - lo % 12, hi, 12)])


def gated_curve(pitch_semitones: np.ndarray, confidence: np.ndarray, gate: float) -> np.ndarray:
    """Pitch with frames below the confidence gate set to NaN (drawn as gaps with ``connect='finite'``)."""
    out = np.array(pitch_semitones, dtype=np.float64, copy=True)
    out[~(np.asarray(confidence) >= gate)] = np.nan
    return out


def heatmap_lut(name: str = "inferno") -> np.ndarray:
    """Opaque colours for heatmap *indices*, uint32 (512,) as ``0xffRRGGBB`` (QImage's RGB32): ``value`` (0..255)
    on a white-key row, ``256 + value`` on a black-key row.

    The colour map is blended over the row's background with an opacity that rises with the value, so the piano roll
    shows through where PESTO puts no probability while the image itself stays opaque (an image with an alpha channel
    is several times slower to draw).
    """
    # the top of the map stops at orange: the curve drawn over the brightest bins (cyan) stays visible
    cmap = pg.colormap.get(name).getLookupTable(0.0, 0.78, 256, alpha=False).astype(np.float64)
    a = np.clip(np.linspace(0.0, 1.0, 256) * 2.5, 0.0, 1.0)[:, None]
    rows = [np.asarray(bg, np.float64)[None, :] * (1 - a) + cmap * a for bg in (NoteGrid.WHITE_ROW, NoteGrid.BLACK_ROW)]
    rgb = np.clip(np.round(np.concatenate(rows)), 0, 255).astype(np.uint32)
    return (np.uint32(0xFF000000) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).astype(np.uint32)


HEATMAP_LUT = heatmap_lut()


@functools.lru_cache(maxsize=64)
def black_key_bins(n_bins: int = 384, bins_per_semitone: int = 3, first_bin: int = 0) -> np.ndarray:
    """bool (n_bins,): whether each bin (MIDI ``(first_bin + i) / bps``) lies on a black-key row (read-only)."""
    rows = np.arange(first_bin, first_bin + n_bins)
    out = np.isin(np.floor(rows / bins_per_semitone + 0.5).astype(int) % 12, list(BLACK_KEYS))
    out.setflags(write=False)
    return out


def heat_colours(values: np.ndarray, bins_per_semitone: int = 3, first_bin: int = 0) -> np.ndarray:
    """Heatmap values uint8 (frames, bins) -> opaque colours uint32 (frames, bins) (see :func:`heatmap_lut`)."""
    index = values.astype(np.uint16)
    index[:, black_key_bins(values.shape[1], bins_per_semitone, first_bin)] += 256
    return HEATMAP_LUT[index]


class HeatmapItem(pg.GraphicsObject):
    """An RGB32 image drawn into a rectangle of the view (cheaper than ``pg.ImageItem`` for a scrolling heatmap:
    no level/LUT pass per redraw and no alpha channel)."""

    def __init__(self):
        super().__init__()
        self._image: Optional[QtGui.QImage] = None
        self._buffer = None
        self._rect = QtCore.QRectF()

    def set_colours(self, colours: np.ndarray, rect: QtCore.QRectF) -> None:
        """``colours``: uint32 (columns = time, rows = bins) 0xffRRGGBB; row 0 is drawn at the bottom of ``rect``."""
        buf = np.ascontiguousarray(colours.T)  # QImage rows are scanlines: one per bin
        h, w = buf.shape
        self._buffer = buf  # the QImage uses this memory: keep it alive as long as the image
        self._image = QtGui.QImage(buf.data, w, h, w * 4, QtGui.QImage.Format_RGB32)
        self.prepareGeometryChange()
        self._rect = QtCore.QRectF(rect)
        self.update()

    def clear(self) -> None:
        self._image = None
        self._buffer = None
        self.update()

    def boundingRect(self):  # noqa: N802
        return self._rect

    def paint(self, p, *args):
        if self._image is not None:
            p.drawImage(self._rect, self._image)


class FastCurve(pg.GraphicsObject):
    """A polyline with gaps at NaN, for data that changes on every frame (the live view).

    ``pg.PlotDataItem`` recomputes bounds, display datasets and pixel vectors in Python on every update and paint;
    here an update is one :func:`pyqtgraph.arrayToQPath` call (numpy -> QPainterPath in C++) and a paint is one
    ``drawPath``. The item claims the whole view as its bounds, so it never triggers a bounds computation.
    """

    def __init__(self, pen):
        super().__init__()
        self.pen = pg.mkPen(pen)
        self.path = QtGui.QPainterPath()
        self._rect = QtCore.QRectF(0, 0, 1, 1)
        self.n_points = 0

    def setData(self, x: np.ndarray, y: np.ndarray) -> None:  # noqa: N802 (pyqtgraph naming)
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self.n_points = len(x)
        if len(x) < 2:
            self.path = QtGui.QPainterPath()
        else:
            self.path = pg.arrayToQPath(x, y, connect="finite")
        self.update()

    def clear(self) -> None:
        self.setData(np.zeros(0), np.zeros(0))

    def viewRangeChanged(self):  # noqa: N802
        vb = self.getViewBox()
        if vb is not None:
            self.prepareGeometryChange()
            self._rect = QtCore.QRectF(vb.viewRect())

    def boundingRect(self):  # noqa: N802
        return self._rect

    def paint(self, p, *args):
        p.setPen(self.pen)
        p.drawPath(self.path)


class PitchPlot(pg.PlotWidget):
    """Pitch over time on a note axis.

    * ``set_curve(time_s, pitch_semitones, confidence, gate)``: the gated curve, thin and faint where confidence is
      low, thick and bright where it is high; frames under the gate are gaps. ``curve`` is the base layer
      (settings such as clip-to-view and downsampling made on it are applied to every layer).
    * ``set_heatmap(image, t0_s, dt_s, bins_per_semitone, level, first_bin)``: PESTO's distribution
      (frames, bins) behind it, column ``j`` at ``t0_s + j * dt_s``, row ``i`` at MIDI ``(first_bin + i) / bps``.
    * ``on_paint``: optional callable(monotonic time) called after each repaint (the live mode's latency probe).

    ``fast=True`` (the live view) draws the curve with :class:`FastCurve` items instead of ``pg.PlotDataItem``:
    much cheaper to update 30-60 times a second, without clip-to-view/downsampling (a live window holds at most
    a few thousand frames).
    """

    def __init__(self, parent=None, fast: bool = False):
        super().__init__(parent, axisItems={"left": NoteAxis(orientation="left")})
        self.on_paint: Optional[Callable[[float], None]] = None
        self.plot_item = self.getPlotItem()
        self.plot_item.setLabel("bottom", "Time", units="s")
        self.plot_item.setLabel("left", "Pitch")
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.grid = NoteGrid("rows")
        self.plot_item.addItem(self.grid, ignoreBounds=True)
        self.grid_lines = NoteGrid("lines")
        self.plot_item.addItem(self.grid_lines, ignoreBounds=True)
        self.heatmap = HeatmapItem()
        self.heatmap.setZValue(-10)
        self.heatmap.setVisible(False)
        self.plot_item.addItem(self.heatmap)
        self.curve_layers = []
        self.fast = fast
        for colour, width in CURVE_PENS:
            pen = pg.mkPen(colour, width=width)
            item = FastCurve(pen) if fast else pg.PlotDataItem(connect="finite", pen=pen)
            self.plot_item.addItem(item, ignoreBounds=fast)
            self.curve_layers.append(item)
        self.curve = self.curve_layers[0]
        self.points = pg.ScatterPlotItem(size=4, pen=None)  # kept for callers that add points of their own
        self.plot_item.addItem(self.points)
        self.setYRange(45, 81)

    def set_curve(
        self, time_s: np.ndarray, pitch_semitones: np.ndarray, confidence: np.ndarray, gate: float = 0.5
    ) -> None:
        t = np.asarray(time_s, dtype=np.float64)
        conf = np.asarray(confidence)
        y = gated_curve(pitch_semitones, conf, gate)
        base = getattr(self.curve, "opts", {})
        for k, item in enumerate(self.curve_layers):
            # the other layers take the drawing options the caller set on the base layer (`curve`)
            if item is not self.curve and not self.fast:
                if item.opts.get("clipToView") != base.get("clipToView"):
                    item.setClipToView(base.get("clipToView", False))
                ds = (base.get("downsample"), base.get("autoDownsample"), base.get("downsampleMethod"))
                if (
                    item.opts.get("downsample"),
                    item.opts.get("autoDownsample"),
                    item.opts.get("downsampleMethod"),
                ) != ds:
                    item.setDownsampling(*ds)
            threshold = gate + (1.0 - gate) * k / CURVE_LAYERS
            yk = y if k == 0 else np.where(conf >= threshold, y, np.nan)
            item.setData(t, yk)

    def set_heatmap(
        self,
        image: Optional[np.ndarray],
        t0_s: float = 0.0,
        dt_s: float = 0.01,
        bins_per_semitone: int = 3,
        level: Optional[float] = None,
        first_bin: int = 0,
    ) -> None:
        """Show ``image`` (frames, bins) behind the curve: column ``j`` centred at ``t0_s + j * dt_s``, row ``i`` at
        MIDI ``(first_bin + i) / bins_per_semitone``. Values run from 0 to ``level`` (uint8 images: 0..255 by
        default; otherwise the image's maximum); a uint32 image is taken as colours already (:func:`heat_colours`).
        None hides it."""
        if image is None or image.size == 0:
            self.heatmap.clear()
            self.heatmap.setVisible(False)
            return
        if image.dtype == np.uint32:
            colours = image
        else:
            if image.dtype == np.uint8 and (level is None or level == 255):
                value = image
            else:
                if level is None:
                    level = max(float(np.nanmax(image)), 1e-6)
                value = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float32)) * (255.0 / level), 0, 255).astype(
                    np.uint8
                )
            colours = heat_colours(value, int(bins_per_semitone), first_bin)
        bps = int(bins_per_semitone)
        self.heatmap.set_colours(
            colours,
            QtCore.QRectF(t0_s - dt_s / 2, (first_bin - 0.5) / bps, dt_s * colours.shape[0], colours.shape[1] / bps),
        )
        self.heatmap.setVisible(True)

    def paintEvent(self, event):  # noqa: N802 (Qt naming)
        super().paintEvent(event)
        if self.on_paint is not None:
            self.on_paint(time.monotonic())


class ConfidenceLane(pg.PlotWidget):
    """Confidence (0..1) and volume (dB, scaled into 0..1) under the pitch plot, x-linked to it."""

    def __init__(self, parent=None, volume_floor_db: float = -80.0, fast: bool = False):
        super().__init__(parent)
        self.floor = volume_floor_db
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setYRange(0, 1.05, padding=0)
        item.setLabel("left", "Conf.")
        item.getAxis("left").setTicks([[(0.0, "0"), (0.5, ".5"), (1.0, "1")]])
        item.showGrid(x=True, y=False, alpha=0.2)
        self.setMaximumHeight(120)
        if fast:  # see FastCurve
            self.volume = FastCurve(pg.mkPen((150, 150, 160), width=1))
            self.confidence = FastCurve(pg.mkPen((255, 170, 0), width=1))
            item.addItem(self.volume, ignoreBounds=True)
            item.addItem(self.confidence, ignoreBounds=True)
        else:
            self.volume = item.plot(pen=pg.mkPen((150, 150, 160), width=1), name="volume")
            self.confidence = item.plot(pen=pg.mkPen((255, 170, 0), width=1), name="confidence")
        self.gate_line = pg.InfiniteLine(0.5, angle=0, pen=pg.mkPen((255, 80, 80), style=QtCore.Qt.DashLine))
        item.addItem(self.gate_line)
        legend = pg.TextItem(
            html='<span style="color:#ffaa00">confidence</span> <span style="color:#9696a0">volume</span>',
            anchor=(0, 0),
        )
        legend.setParentItem(item.vb)
        legend.setPos(4, 0)
        self.legend = legend

    def set_data(self, time_s: np.ndarray, confidence: np.ndarray, volume: np.ndarray, gate: float) -> None:
        vol_db = 10 * np.log10(np.maximum(np.asarray(volume, dtype=np.float64), 1e-12))
        self.confidence.setData(time_s, confidence)
        self.volume.setData(time_s, np.clip((vol_db - self.floor) / -self.floor, 0, 1))
        self.gate_line.setValue(gate)
