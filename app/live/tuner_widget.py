"""The tuner's widget: the reading of :class:`app.live.tuner.TunerFilter`, large enough to read from a music stand.

GUI thread only.
"""

from __future__ import annotations

from typing import Optional

from PySide6 import QtCore, QtGui, QtWidgets

from .tuner import TunerReading, note_label


class TunerWidget(QtWidgets.QWidget):
    """Large note name with octave, a -50..+50 cents meter with an in-tune zone, the cents and the frequency.

    ``set_reading(reading)`` (None blanks it) and ``set_context(text)`` (e.g. "A4 = 440 Hz") are the whole
    interface. Painted by hand so that it scales with the window and stays readable from a music stand; the static
    parts (meter scale, labels) are cached in a pixmap and a repaint happens only when what is shown changes
    (note, whole cents, tenth of a Hz, needle pixel), so a steady note costs nothing.
    """

    BACKGROUND = QtGui.QColor(24, 26, 30)
    DIM = QtGui.QColor(110, 115, 125)
    TEXT = QtGui.QColor(235, 238, 242)

    def __init__(self, parent=None, in_tune_cents: float = 5.0):
        super().__init__(parent)
        self.in_tune_cents = in_tune_cents
        self.reading: Optional[TunerReading] = None
        self.context = ""
        self._shown = None
        self._static: Optional[QtGui.QPixmap] = None
        self._note_cache = {}
        self._geom = None
        self.setMinimumSize(240, 260)
        self.setSizePolicy(QtWidgets.QSizePolicy.Preferred, QtWidgets.QSizePolicy.Expanding)
        self.setAttribute(QtCore.Qt.WA_OpaquePaintEvent)

    # -------------------------------------------------------------------------------------------------- interface
    def set_reading(self, reading: Optional[TunerReading]) -> None:
        self.reading = reading
        key = self._display_key(reading)
        if key != self._shown:
            self._shown = key
            self.update()

    def set_context(self, text: str) -> None:
        if text != self.context:
            self.context = text
            self._static = None
            self.update()

    def shown_text(self) -> str:
        """What the readout says, as text (for tests and accessibility): e.g. 'A4 +3 ¢ 440.8 Hz', or '' if blank."""
        r = self.reading
        if r is None:
            return ""
        c = int(round(r.cents))
        return f"{r.name} {f'{c:+d}' if c else '0'} \u00a2 {r.f0_hz:.1f} Hz"

    def colour_for(self, cents: float) -> QtGui.QColor:
        c = abs(cents)
        if c <= self.in_tune_cents:
            return QtGui.QColor(60, 220, 110)
        if c <= 3 * self.in_tune_cents:
            return QtGui.QColor(250, 190, 40)
        return QtGui.QColor(255, 90, 70)

    # -------------------------------------------------------------------------------------------------- geometry
    def _geometry(self):
        w, h = self.width(), self.height()
        if self._geom is not None and self._geom["w"] == w and self._geom["h"] == h:
            return self._geom
        small = max(10, int(min(h * 0.045, w * 0.05)))
        fm = QtGui.QFontMetricsF(self._font(small))
        margin = max(w * 0.08, fm.horizontalAdvance("+50") / 2 + 6)
        self._geom = dict(w=w, h=h, small=small, m_left=margin, m_right=w - margin, m_top=h * 0.50, m_h=h * 0.12)
        return self._geom

    def _x_of(self, g, cents: float) -> float:
        return g["m_left"] + (max(-50.0, min(50.0, cents)) + 50.0) / 100.0 * (g["m_right"] - g["m_left"])

    def _display_key(self, r: Optional[TunerReading]):
        if r is None:
            return None
        g = self._geometry()
        return (
            r.note,
            round(r.cents),
            round(r.f0_hz, 1),
            round(self._x_of(g, r.cents)),
            self.colour_for(r.cents).rgb(),
        )

    def _font(self, pixels: int, bold: bool = False) -> QtGui.QFont:
        f = QtGui.QFont(self.font())
        f.setPixelSize(max(6, int(pixels)))
        f.setBold(bold)
        return f

    def _note_pixmap(self, note, letter: str, octave: str, rgb: int, big_px: float, w: int, box: QtCore.QRectF):
        """The note name, rendered once per (note, colour, size): glyphs this large are not in Qt's glyph cache and
        would be drawn as paths on every repaint."""
        key = (note, letter, octave, rgb, int(big_px), w, int(box.height()))
        pm = self._note_cache.get(key)
        if pm is not None:
            return pm
        ratio = self.devicePixelRatioF()
        pm = QtGui.QPixmap(int(w * ratio), int((box.bottom() + 1) * ratio))
        pm.setDevicePixelRatio(ratio)
        pm.fill(QtCore.Qt.transparent)
        p = QtGui.QPainter(pm)
        p.setRenderHint(QtGui.QPainter.Antialiasing)
        p.setRenderHint(QtGui.QPainter.TextAntialiasing)
        base, accidental = letter[:1], letter[1:]  # "F\u266f": the sharp drawn smaller, raised, like in a score

        def fonts(px):
            return self._font(px, bold=True), self._font(px * 0.5), self._font(px * 0.55, bold=True)

        def widths(fb, fo, fa):
            mb, mo, ma = QtGui.QFontMetricsF(fb), QtGui.QFontMetricsF(fo), QtGui.QFontMetricsF(fa)
            return (
                mb.horizontalAdvance(base),
                ma.horizontalAdvance(accidental) if accidental else 0.0,
                mo.horizontalAdvance(octave) if octave else 0.0,
                mb,
            )

        f_big, f_oct, f_acc = fonts(big_px)
        wb, wa, wo, fm_big = widths(f_big, f_oct, f_acc)
        total = wb + max(wa, wo)
        if total > w * 0.92:  # a narrow panel: shrink to fit
            f_big, f_oct, f_acc = fonts(big_px * w * 0.92 / total)
            wb, wa, wo, fm_big = widths(f_big, f_oct, f_acc)
            total = wb + max(wa, wo)
        x0 = (w - total) / 2
        baseline = box.center().y() + fm_big.capHeight() / 2
        p.setFont(f_big)
        p.setPen(QtGui.QColor.fromRgb(rgb))
        p.drawText(QtCore.QPointF(x0, baseline), base)
        if accidental:  # superscript, in the note's colour
            p.setFont(f_acc)
            p.drawText(
                QtCore.QPointF(x0 + wb + fm_big.horizontalAdvance(" ") * 0.1, baseline - fm_big.capHeight() * 0.45),
                accidental,
            )
        if octave:  # subscript-like, on the baseline
            p.setFont(f_oct)
            p.setPen(self.TEXT)
            p.drawText(QtCore.QPointF(x0 + wb, baseline), octave)
        p.end()
        if len(self._note_cache) > 64:
            self._note_cache.clear()
        self._note_cache[key] = pm
        return pm

    def resizeEvent(self, event):  # noqa: N802 (Qt naming)
        self._static = None
        self._note_cache.clear()
        self._shown = self._display_key(self.reading)
        super().resizeEvent(event)

    def _static_pixmap(self, g) -> QtGui.QPixmap:
        """Background, meter scale, in-tune zone, labels and context line."""
        ratio = self.devicePixelRatioF()
        pm = QtGui.QPixmap(int(g["w"] * ratio), int(g["h"] * ratio))
        pm.setDevicePixelRatio(ratio)
        pm.fill(self.BACKGROUND)
        p = QtGui.QPainter(pm)
        p.setRenderHint(QtGui.QPainter.Antialiasing)
        m_left, m_right, m_top, m_h = g["m_left"], g["m_right"], g["m_top"], g["m_h"]
        p.setPen(QtCore.Qt.NoPen)
        p.setBrush(QtGui.QColor(44, 47, 54))
        p.drawRoundedRect(QtCore.QRectF(m_left, m_top, m_right - m_left, m_h), 6, 6)
        x0, x1 = self._x_of(g, -self.in_tune_cents), self._x_of(g, self.in_tune_cents)
        p.setBrush(QtGui.QColor(40, 120, 70))
        p.drawRect(QtCore.QRectF(x0, m_top, x1 - x0, m_h))
        p.setFont(self._font(g["small"]))
        for c in range(-50, 51, 10):
            x = self._x_of(g, c)
            major = c % 25 == 0
            p.setPen(QtGui.QPen(QtGui.QColor(170, 175, 185) if major else QtGui.QColor(100, 104, 112), 1.5))
            p.drawLine(QtCore.QPointF(x, m_top + m_h), QtCore.QPointF(x, m_top + m_h * (0.45 if major else 0.7)))
        p.setPen(QtGui.QColor(170, 175, 185))
        for c in (-50, -25, 0, 25, 50):
            p.drawText(
                QtCore.QRectF(self._x_of(g, c) - 40, m_top + m_h + 2, 80, g["small"] * 1.6),
                QtCore.Qt.AlignHCenter | QtCore.Qt.AlignTop,
                f"{c:+d}" if c else "0",
            )
        if self.context:
            p.setPen(self.DIM)
            p.drawText(
                QtCore.QRectF(0, g["h"] - g["small"] * 1.9, g["w"], g["small"] * 1.6),
                QtCore.Qt.AlignCenter,
                self.context,
            )
        p.end()
        return pm

    # -------------------------------------------------------------------------------------------------- painting
    def paintEvent(self, event):  # noqa: N802 (Qt naming)
        g = self._geometry()
        if self._static is None or self._static.deviceIndependentSize().toSize() != self.size():
            self._static = self._static_pixmap(g)
        p = QtGui.QPainter(self)
        p.drawPixmap(0, 0, self._static)
        p.setRenderHint(QtGui.QPainter.Antialiasing)
        w, h = g["w"], g["h"]
        r = self.reading
        big_px = min(h * 0.30, w * 0.30)
        note_box = QtCore.QRectF(0, h * 0.04, w, h * 0.40)
        if r is None:
            p.drawPixmap(0, 0, self._note_pixmap(None, "\u2013", "", self.DIM.rgb(), big_px, w, note_box))
        else:
            letter, octave = note_label(r.note)
            p.drawPixmap(
                0,
                0,
                self._note_pixmap(r.note, letter, str(octave), self.colour_for(r.cents).rgb(), big_px, w, note_box),
            )
            # needle
            x = self._x_of(g, r.cents)
            pen = QtGui.QPen(self.colour_for(r.cents), max(3.0, w * 0.012))
            pen.setCapStyle(QtCore.Qt.RoundCap)
            p.setPen(pen)
            p.drawLine(QtCore.QPointF(x, g["m_top"] - g["m_h"] * 0.3), QtCore.QPointF(x, g["m_top"] + g["m_h"] * 1.05))
        # cents and Hz, each in half the width, font fitted to it
        row_y = g["m_top"] + g["m_h"] + g["small"] * 2.0
        row_h = min(h * 0.10, w * 0.10)
        if r is None:
            p.setFont(self._font(row_h * 0.8))
            p.setPen(self.DIM)
            p.drawText(QtCore.QRectF(0, row_y, w, row_h * 1.4), QtCore.Qt.AlignCenter, "no pitch")
        else:
            c = int(round(r.cents))
            texts = (f"{c:+d} \u00a2" if c else "0 \u00a2", f"{r.f0_hz:.1f} Hz")
            px = row_h * 0.8
            f = self._font(px)
            widest = max(QtGui.QFontMetricsF(f).horizontalAdvance(t) for t in texts)
            if widest > w * 0.46:
                f = self._font(px * w * 0.46 / widest)
            p.setFont(f)
            p.setPen(self.colour_for(r.cents))
            p.drawText(QtCore.QRectF(0, row_y, w / 2, row_h * 1.4), QtCore.Qt.AlignCenter, texts[0])
            p.setPen(self.TEXT)
            p.drawText(QtCore.QRectF(w / 2, row_y, w / 2, row_h * 1.4), QtCore.Qt.AlignCenter, texts[1])
        p.end()
