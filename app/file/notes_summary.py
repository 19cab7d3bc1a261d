"""The File tab's session summary of the notes: how many, the median absolute deviation, the share of notes within
±10 and ±25 cents (deviations from the equal-tempered grid of the reference A4 shown), a histogram of the
deviations (bars coloured as the note boxes), and the measures of the note under the pointer or selected.

GUI thread only.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from pesto_core.notes import Note

from ..common.notes import deviation_rgb
from .notes_model import NotesSummary
from .notes_view import note_details

NO_NOTE = "Point at a note for its measures; click it to select it."


class NotesSummaryWidget(QtWidgets.QWidget):
    """Summary numbers, histogram and the details of one note."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QtWidgets.QLabel("<b>Notes</b>")
        self.numbers = QtWidgets.QLabel("No notes yet (analyse a file)")
        self.numbers.setObjectName("notesNumbers")
        self.numbers.setWordWrap(True)
        self.hist = pg.PlotWidget()
        self.hist.setObjectName("notesHistogram")
        self.hist.setMinimumHeight(150)
        self.hist.setMaximumHeight(220)
        item = self.hist.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.setLabel("bottom", "deviation", units="\u00a2")
        item.setLabel("left", "notes")
        item.setXRange(-50, 50, padding=0.02)
        item.getAxis("bottom").setTicks([[(v, f"{v:+d}" if v else "0") for v in (-50, -25, 0, 25, 50)]])
        for v in (-10, 10):
            item.addItem(pg.InfiniteLine(v, angle=90, pen=pg.mkPen(120, 120, 120, 160, style=QtCore.Qt.DashLine)))
        self.bars = pg.BarGraphItem(x0=[], x1=[], height=[], brushes=[])
        item.addItem(self.bars)
        self.details = QtWidgets.QLabel(NO_NOTE)
        self.details.setObjectName("noteDetails")
        self.details.setWordWrap(True)
        self.details.setAlignment(QtCore.Qt.AlignTop | QtCore.Qt.AlignLeft)
        self.details.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.details.setMinimumHeight(90)
        self.hint = QtWidgets.QLabel(
            "Shift+drag: select a time range \u00b7 Notes menu: octave \u2191\u2193, "
            "delete, split at the playhead, merge; Ctrl+Z / Ctrl+Shift+Z; Ctrl+S saves"
        )
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: gray;")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.numbers)
        layout.addWidget(self.hist)
        layout.addWidget(QtWidgets.QLabel("<b>Note</b>"))
        layout.addWidget(self.details)
        layout.addStretch(1)
        layout.addWidget(self.hint)
        self.summary: Optional[NotesSummary] = None

    def set_summary(self, summary: Optional[NotesSummary], status: str = "", a4_hz: Optional[float] = None) -> None:
        """Show ``summary`` (None: no notes yet); ``status``: a line under it (e.g. "corrected, unsaved");
        ``a4_hz``: the reference (Hz) the deviations are taken against, named under the numbers."""
        self.summary = summary
        if summary is None:
            self.numbers.setText(status or "No notes yet (analyse a file)")
            self.bars.setOpts(x0=[], x1=[], height=[], brushes=[])
            return
        if summary.count == 0:
            text = "No notes found"
        else:
            text = (
                f"{summary.count} notes \u00b7 median |deviation| {summary.median_abs_cents:.1f}\u00a2<br>"
                f"within \u00b110\u00a2: {100 * summary.within_10:.0f}% \u00b7 "
                f"within \u00b125\u00a2: {100 * summary.within_25:.0f}%"
            )
        if a4_hz is not None and summary.count:
            text += f"<br>equal temperament, A4 = {a4_hz:g} Hz"
        if status:
            text += f"<br><i>{status}</i>"
        self.numbers.setText(text)
        edges = summary.edges_cents
        centres = (edges[:-1] + edges[1:]) / 2
        brushes = [pg.mkBrush(*deviation_rgb(c)) for c in centres]
        self.bars.setOpts(
            x0=edges[:-1] + 0.4, x1=edges[1:] - 0.4, height=summary.counts.astype(float), brushes=brushes, pen=None
        )
        self.hist.getPlotItem().setYRange(0, max(1.0, float(np.max(summary.counts))) * 1.1, padding=0)

    def set_note(self, note: Optional[Note]) -> None:
        self.details.setText(note_details(note) if note is not None else NO_NOTE)

    def numbers_text(self) -> str:
        return self.numbers.text()
