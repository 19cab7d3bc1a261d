"""The notes drawn over the File tab's pitch curve: one box per note from its onset to its offset at its pitch
±0.5 semitone, coloured by its deviation (:func:`app.common.notes.deviation_rgb`), labelled "A4 −12¢" while the
view holds few enough notes to read the labels; the selected note outlined; and the time range selected for a
correction (a ``LinearRegionItem``, made by Shift+dragging on the plot).

Also :func:`note_details`, the text of a note's measures (the tooltip and the summary's "selected note").

GUI thread only.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from pesto_core.notes import Note

from ..common.notes import deviation_rgb, intonation_word, note_label

MAX_LABELS = 80  # labels are drawn while at most this many notes are in view (more could not be read)


def note_details(n: Note) -> str:
    """Several lines: the note, where it lies, and its intonation measures."""
    lines = [
        f"{note_label(n.name, n.deviation_cents)}  ({intonation_word(n.deviation_cents)})",
        f"{n.onset_s:.3f} \u2013 {n.offset_s:.3f} s  ({1000 * n.duration_s:.0f} ms)  {n.frequency_hz:.2f} Hz",
        f"spread {n.spread_cents:.1f}\u00a2 \u00b7 drift {n.drift_cents:+.1f}\u00a2 \u00b7 in tune "
        f"{100 * n.in_tune_share:.0f}% of the time"
        if math.isfinite(n.in_tune_share)
        else f"spread {n.spread_cents:.1f}\u00a2 \u00b7 drift {n.drift_cents:+.1f}\u00a2",
    ]
    if n.has_vibrato:
        lines.append(f"vibrato {n.vibrato_rate_hz:.1f} Hz, \u00b1{n.vibrato_extent_cents:.0f}\u00a2")
    else:
        lines.append("no vibrato")
    # the reference always: the name and the cents above mean nothing without it
    lines.append(
        f"confidence {n.confidence:.2f} \u00b7 A4 = {n.a4_hz:g} Hz"
        if math.isfinite(n.confidence)
        else f"A4 = {n.a4_hz:g} Hz"
    )
    return "\n".join(lines)


class NoteBoxes(pg.GraphicsObject):
    """All the note boxes, painted in one item (a box per note would be thousands of items in a long file)."""

    def __init__(self):
        super().__init__()
        self.setZValue(5)  # above the heatmap and grid, under the curve
        self._notes: List[Note] = []
        self._rects: List[QtCore.QRectF] = []
        self._brushes: List[QtGui.QBrush] = []
        self._pens: List[QtGui.QPen] = []
        self._bounds = QtCore.QRectF()
        self.selected: Optional[int] = None
        self._sel_pen = QtGui.QPen(QtGui.QColor(255, 255, 255), 2)
        self._sel_pen.setCosmetic(True)

    def set_notes(self, notes: Sequence[Note], selected: Optional[int] = None) -> None:
        self.prepareGeometryChange()
        self._notes = list(notes)
        self.selected = selected
        self._rects, self._brushes, self._pens = [], [], []
        for n in self._notes:
            r, g, b = deviation_rgb(n.deviation_cents)
            self._rects.append(QtCore.QRectF(n.onset_s, n.pitch_semitones - 0.5, n.duration_s, 1.0))
            self._brushes.append(QtGui.QBrush(QtGui.QColor(r, g, b, 70)))
            pen = QtGui.QPen(QtGui.QColor(r, g, b, 230), 1.5)
            pen.setCosmetic(True)
            self._pens.append(pen)
        if self._rects:
            x0 = min(r.left() for r in self._rects)
            x1 = max(r.right() for r in self._rects)
            y0 = min(r.top() for r in self._rects)
            y1 = max(r.bottom() for r in self._rects)
            self._bounds = QtCore.QRectF(x0, y0, x1 - x0, y1 - y0)
        else:
            self._bounds = QtCore.QRectF()
        self.update()

    def boundingRect(self):  # noqa: N802
        return self._bounds

    def paint(self, p, *args):
        view = self.getViewBox()
        x0, x1 = view.viewRange()[0] if view is not None else (-math.inf, math.inf)
        for i, rect in enumerate(self._rects):
            if rect.right() < x0 or rect.left() > x1:
                continue
            p.setPen(self._sel_pen if i == self.selected else self._pens[i])
            p.setBrush(self._brushes[i])
            p.drawRect(rect)


class NotesOverlay(QtCore.QObject):
    """The notes, their labels and the selection on a :class:`~app.common.plots.PitchPlot`.

    Signals: ``selection_changed(t0, t1)`` (the selected range; ``(nan, nan)`` when there is none).
    """

    selection_changed = QtCore.Signal(float, float)

    def __init__(self, plot, parent=None):
        super().__init__(parent)
        self.plot = plot
        self.notes: List[Note] = []
        self.visible = True
        self.boxes = NoteBoxes()
        plot.addItem(self.boxes, ignoreBounds=True)
        self.labels: List[pg.TextItem] = []
        self.region = pg.LinearRegionItem(
            values=(0, 0), movable=True, brush=pg.mkBrush(255, 255, 255, 30), pen=pg.mkPen(255, 255, 255, 150)
        )
        self.region.setZValue(12)
        self.region.setVisible(False)
        plot.addItem(self.region, ignoreBounds=True)
        self.region.sigRegionChanged.connect(self._on_region)
        self._drag_start: Optional[float] = None
        vb = plot.getPlotItem().vb
        self._vb_drag = vb.mouseDragEvent
        vb.mouseDragEvent = self._drag  # Shift+drag selects a time range (plain drag still pans)

    def detach(self) -> None:
        """Give the view box back its own drag handler (the window closes: no reference cycle through it is left
        for the garbage collector to break at some random later moment, a pause on the GUI thread)."""
        vb = self.plot.getPlotItem().vb
        if vb.__dict__.get("mouseDragEvent") is not None:
            del vb.mouseDragEvent
        self._vb_drag = None

    # ------------------------------------------------------------------------------------------------ notes
    def set_notes(self, notes: Sequence[Note], selected: Optional[int] = None) -> None:
        self.notes = list(notes)
        self.boxes.set_notes(self.notes if self.visible else [], selected)
        self.update_labels()

    def set_visible(self, visible: bool) -> None:
        self.visible = bool(visible)
        self.set_notes(self.notes, self.boxes.selected)

    def update_labels(self) -> None:
        """Labels for the notes in view (none when there are too many to read)."""
        (x0, x1), _ = self.plot.getPlotItem().vb.viewRange()
        shown = [n for n in self.notes if n.offset_s >= x0 and n.onset_s <= x1] if self.visible else []
        if len(shown) > MAX_LABELS:
            shown = []
        while len(self.labels) < len(shown):
            item = pg.TextItem(anchor=(0, 1))
            item.setZValue(6)
            font = QtGui.QFont()
            font.setPointSizeF(8.5)
            item.setFont(font)
            self.plot.addItem(item, ignoreBounds=True)
            self.labels.append(item)
        vb = self.plot.getPlotItem().vb

        def scene_rect(n: Note) -> QtCore.QRectF:
            a = vb.mapViewToScene(QtCore.QPointF(n.onset_s, n.pitch_semitones + 0.5))
            b = vb.mapViewToScene(QtCore.QPointF(n.offset_s, n.pitch_semitones - 0.5))
            return QtCore.QRectF(a, b).normalized()

        boxes = [scene_rect(n) for n in shown]
        placed: List[QtCore.QRectF] = []  # scene rectangles of the labels drawn: a label covers no other label or box
        for k, (item, n) in enumerate(zip(self.labels, shown)):
            r, g, b = deviation_rgb(n.deviation_cents)
            item.setText(
                note_label(n.name, n.deviation_cents), color=(min(255, r + 60), min(255, g + 60), min(255, b + 60))
            )
            item.setPos(n.onset_s, n.pitch_semitones + 0.5)
            size = item.textItem.boundingRect()
            corner = vb.mapViewToScene(QtCore.QPointF(n.onset_s, n.pitch_semitones + 0.5))
            rect = QtCore.QRectF(corner.x(), corner.y() - size.height(), size.width(), size.height())
            rect.adjust(1, 1, -1, -1)
            free = not any(rect.intersects(other) for other in placed[-4:]) and not any(
                rect.intersects(box) for j, box in enumerate(boxes[max(0, k - 8) : k + 8], max(0, k - 8)) if j != k
            )
            if free:
                placed.append(rect)
            item.setVisible(free)
        for item in self.labels[len(shown) :]:
            item.setVisible(False)

    def label_texts(self) -> List[str]:
        """The labels on screen (tests, screenshots)."""
        return [item.textItem.toPlainText() for item in self.labels if item.isVisible()]

    def select_note(self, index: Optional[int]) -> None:
        self.boxes.selected = index
        self.boxes.update()

    # ------------------------------------------------------------------------------------------------ selection
    @property
    def selection(self) -> Optional[tuple]:
        """The selected time range ``(t0, t1)`` in seconds, or None."""
        if not self.region.isVisible():
            return None
        t0, t1 = self.region.getRegion()
        return (float(t0), float(t1)) if t1 > t0 else None

    def set_selection(self, t0: Optional[float], t1: Optional[float] = None) -> None:
        """Select [t0, t1) (None: no selection)."""
        if t0 is None or t1 is None or not t1 > t0:
            self.region.setVisible(False)
            self.selection_changed.emit(math.nan, math.nan)
            return
        self.region.setVisible(True)
        self.region.setRegion((float(t0), float(t1)))  # emits through _on_region

    def _on_region(self, *_):
        sel = self.selection
        self.selection_changed.emit(*(sel if sel else (math.nan, math.nan)))

    def _drag(self, ev, axis=None):
        if ev.button() != QtCore.Qt.LeftButton or not (ev.modifiers() & QtCore.Qt.ShiftModifier):
            self._vb_drag(ev, axis)
            return
        ev.accept()
        vb = self.plot.getPlotItem().vb
        t0 = float(vb.mapSceneToView(ev.buttonDownScenePos()).x())
        t1 = float(vb.mapSceneToView(ev.scenePos()).x())
        a, b = min(t0, t1), max(t0, t1)
        if b > a:
            self.region.setVisible(True)
            self.region.setRegion((a, b))
