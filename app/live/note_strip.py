"""The Live tab's note strip: the current note's running measures (name and mean deviation, time held, a
steadiness bar) and the last notes sung, each a chip with its name and cents, coloured in tune / a little off /
flat / sharp (:func:`app.common.notes.deviation_rgb`), so that a singer sees at a glance which notes were flat.

Painted by hand and only when what it shows changes (:attr:`app.live.intonation.LiveNotes.changes`).

GUI thread only.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from PySide6 import QtCore, QtGui, QtWidgets

from pesto_core.notes import CurrentNote, Note
from pesto_core.units import note_name

from ..common.notes import cents_text, deviation_rgb, note_label
from .intonation import steadiness_word

STRIP_NOTES = 12
STEADY_SCALE_CENTS = 30.0  # the steadiness bar is empty at this standard deviation (and beyond)


class NoteStrip(QtWidgets.QWidget):
    """``set_notes(current, recent, transposition)`` is the whole interface (``current``: a CurrentNote or None;
    ``recent``: the last finished notes, oldest first; ``transposition``: semitones from concert to written pitch,
    as the tuner's: the notes are named as written)."""

    BACKGROUND = QtGui.QColor(24, 26, 30)
    DIM = QtGui.QColor(120, 125, 135)
    TEXT = QtGui.QColor(235, 238, 242)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.current: Optional[CurrentNote] = None
        self.recent: List[Note] = []
        self.transposition = 0
        self.setMinimumHeight(58)
        self.setMaximumHeight(64)
        self.setSizePolicy(QtWidgets.QSizePolicy.Expanding, QtWidgets.QSizePolicy.Fixed)
        self.setAttribute(QtCore.Qt.WA_OpaquePaintEvent)
        self.setToolTip(
            "The note held now (mean deviation, time held, steadiness) and the last notes sung: "
            "green in tune (\u00b110\u00a2), amber within \u00b125\u00a2, blue flat, red sharp"
        )

    def set_notes(self, current: Optional[CurrentNote], recent: Sequence[Note], transposition: int = 0) -> None:
        self.current = current
        self.recent = list(recent)[-STRIP_NOTES:]
        self.transposition = int(transposition)
        self.update()

    def name(self, midi_note: int) -> str:
        """The name shown for a note (written pitch)."""
        return note_name(int(midi_note) + self.transposition)

    # ------------------------------------------------------------------------------------------------ text views
    def current_text(self) -> str:
        """``'E4 −3¢ · held 1.2 s · ±4¢ steady'``, or '' in a silence (tests, accessibility)."""
        c = self.current
        if c is None:
            return ""
        return (
            f"{note_label(self.name(c.midi_note), c.deviation_cents)} \u00b7 held {c.held_s:.1f} s \u00b7 "
            f"\u00b1{c.steadiness_cents:.0f}\u00a2 {steadiness_word(c.steadiness_cents)}"
        )

    def shown_notes(self) -> List[Tuple[str, float]]:
        """The strip's chips, oldest first: ``(name as shown, deviation_cents)``."""
        return [(self.name(n.midi_note), n.deviation_cents) for n in self.recent]

    # ------------------------------------------------------------------------------------------------ painting
    def paintEvent(self, event):  # noqa: N802 (Qt naming)
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.Antialiasing)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), self.BACKGROUND)
        left_w = min(300, max(200, w // 4))
        self._paint_current(p, QtCore.QRectF(6, 4, left_w - 12, h - 8))
        self._paint_strip(p, QtCore.QRectF(left_w, 4, w - left_w - 6, h - 8))
        p.end()

    def _paint_current(self, p: QtGui.QPainter, r: QtCore.QRectF) -> None:
        c = self.current
        font = QtGui.QFont(self.font())
        if c is None:
            font.setPointSizeF(10)
            p.setFont(font)
            p.setPen(self.DIM)
            p.drawText(r, QtCore.Qt.AlignVCenter | QtCore.Qt.AlignLeft, "no note")
            return
        colour = QtGui.QColor(*deviation_rgb(c.deviation_cents))
        font.setPointSizeF(15)
        font.setBold(True)
        p.setFont(font)
        p.setPen(colour)
        top = QtCore.QRectF(r.left(), r.top(), r.width(), r.height() * 0.6)
        p.drawText(
            top, QtCore.Qt.AlignVCenter | QtCore.Qt.AlignLeft, note_label(self.name(c.midi_note), c.deviation_cents)
        )
        font.setPointSizeF(9)
        font.setBold(False)
        p.setFont(font)
        p.setPen(self.TEXT)
        bottom = QtCore.QRectF(r.left(), r.top() + r.height() * 0.6, r.width() * 0.62, r.height() * 0.4)
        p.drawText(
            bottom,
            QtCore.Qt.AlignVCenter | QtCore.Qt.AlignLeft,
            f"held {c.held_s:.1f} s \u00b7 \u00b1{c.steadiness_cents:.0f}\u00a2",
        )
        # steadiness: a bar that is full for a steady note and empties as it wavers
        bar = QtCore.QRectF(r.left() + r.width() * 0.62, bottom.center().y() - 4, r.width() * 0.38, 8)
        p.setPen(QtCore.Qt.NoPen)
        p.setBrush(QtGui.QColor(50, 54, 62))
        p.drawRoundedRect(bar, 3, 3)
        frac = max(0.0, min(1.0, 1.0 - c.steadiness_cents / STEADY_SCALE_CENTS))
        p.setBrush(QtGui.QColor(*deviation_rgb(0.0 if frac > 0.8 else 20.0 if frac > 0.5 else 40.0)))
        p.drawRoundedRect(QtCore.QRectF(bar.left(), bar.top(), bar.width() * frac, bar.height()), 3, 3)

    def _paint_strip(self, p: QtGui.QPainter, r: QtCore.QRectF) -> None:
        notes = self.recent
        font = QtGui.QFont(self.font())
        if not notes:
            font.setPointSizeF(9)
            p.setFont(font)
            p.setPen(self.DIM)
            p.drawText(r, QtCore.Qt.AlignVCenter | QtCore.Qt.AlignLeft, "the last notes sung appear here")
            return
        gap = 4.0
        chip_w = min(76.0, (r.width() - gap * (STRIP_NOTES - 1)) / STRIP_NOTES)
        x = r.right() - len(notes) * (chip_w + gap) + gap  # newest on the right
        for n in notes:
            rr, gg, bb = deviation_rgb(n.deviation_cents)
            chip = QtCore.QRectF(x, r.top(), chip_w, r.height())
            p.setPen(QtCore.Qt.NoPen)
            p.setBrush(QtGui.QColor(rr, gg, bb, 60))
            p.drawRoundedRect(chip, 4, 4)
            p.setPen(QtGui.QColor(rr, gg, bb))
            font.setPointSizeF(10.5)
            font.setBold(True)
            p.setFont(font)
            p.drawText(
                QtCore.QRectF(chip.left(), chip.top() + 2, chip_w, chip.height() / 2),
                QtCore.Qt.AlignCenter,
                self.name(n.midi_note).replace("#", "\u266f"),
            )
            font.setPointSizeF(9)
            font.setBold(False)
            p.setFont(font)
            p.drawText(
                QtCore.QRectF(chip.left(), chip.center().y(), chip_w, chip.height() / 2 - 2),
                QtCore.Qt.AlignCenter,
                cents_text(n.deviation_cents),
            )
            x += chip_w + gap
