"""Render an analysis as a PNG picture with pyqtgraph, offscreen (used by ``pesto -e png`` and the app's export).

The picture: PESTO's pitch distribution weighted by confidence (a confident frame is bright, an unvoiced one dark),
time in seconds on x, pitch on y with note names on every C and a semitone grid, cropped to the range the
recording actually uses (at least an octave).
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

import numpy as np

from .heatmap import heatmap_image
from .notes import note_ticks

MAX_COLUMNS = 4000  # long files are max-pooled along time to this many image columns (app.common.heatmap)


def ensure_qapp():
    """The running QApplication, or a new one (offscreen when there is no display)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        if (
            not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY")
            and not os.environ.get("WAYLAND_DISPLAY")
        ):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        app = QApplication([])
    return app


def pitch_range(
    pitch_semitones: np.ndarray, confidence: np.ndarray, gate: float = 0.5, margin: float = 5.0
) -> Tuple[float, float]:
    """MIDI range to show: the confident frames' 1st..99th percentiles plus a margin, at least one octave."""
    voiced = pitch_semitones[(confidence >= gate) & np.isfinite(pitch_semitones)]
    if voiced.size == 0:
        return 36.0, 84.0
    lo, hi = np.percentile(voiced, [1, 99])
    lo, hi = lo - margin, hi + margin
    if hi - lo < 12:
        mid = (hi + lo) / 2
        lo, hi = mid - 6, mid + 6
    return float(max(lo, 0.0)), float(min(hi, 127.0))


def render_activation_png(
    track,
    title: Optional[str] = None,
    size: Tuple[int, int] = (1400, 560),
    time_range: Optional[Tuple[float, float]] = None,
) -> bytes:
    """PNG bytes of ``track``'s activation map (see module doc). ``time_range`` (s) restricts the view."""
    ensure_qapp()
    import pyqtgraph as pg
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF

    if track.activations is None or track.activations.shape[1] == 0:
        raise ValueError("this analysis kept no activations: a PNG cannot be drawn")
    bps = track.activations.shape[1] // 128
    lo, hi = pitch_range(track.pitch_semitones, track.confidence)
    dt = track.hop_length / track.sr
    n = len(track)
    t0, t1 = (0.0, max(n * dt, dt)) if time_range is None else time_range
    f0, f1 = int(max(0, np.floor(t0 / dt))), int(min(n, np.ceil(t1 / dt) + 1))
    img, _ = heatmap_image(track.activations[f0:f1], track.confidence[f0:f1], MAX_COLUMNS)
    b0, b1 = int(np.floor(lo * bps)), int(np.ceil(hi * bps))
    img = img[:, b0:b1]

    # colours set on this widget only: pyqtgraph's global options belong to the app's own plots
    widget = pg.PlotWidget(background="w")
    widget.resize(*size)
    plot = widget.getPlotItem()
    image = pg.ImageItem(img, levels=(0.0, max(float(img.max()), 1e-6)) if img.size else (0, 1))
    image.setColorMap(pg.colormap.get("inferno"))
    # bin i covers pitch [i - 0.5, i + 0.5) / bps; frame j covers time [j - 0.5, j + 0.5) * dt
    span_t = (f1 - f0) * dt
    image.setRect(QRectF((f0 - 0.5) * dt, (b0 - 0.5) / bps, span_t, (b1 - b0) / bps))
    plot.addItem(image)
    plot.setXRange(t0, t1, padding=0)
    plot.setYRange(lo, hi, padding=0)
    plot.setLabel("bottom", "Time", units="s")
    plot.setLabel("left", "Pitch")
    plot.getAxis("left").setTicks(note_ticks(lo, hi))
    for name in ("left", "bottom"):
        plot.getAxis(name).setPen("k")
        plot.getAxis(name).setTextPen("k")
    plot.showGrid(x=True, y=True, alpha=0.25)
    if title:
        plot.setTitle(title, color="k")
    widget.show()  # needed for the layout to settle before grabbing
    pg.QtWidgets.QApplication.processEvents()
    pixmap = widget.grab()
    widget.close()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buf, "PNG")
    buf.close()
    widget.deleteLater()
    return bytes(data.data())
