"""A coloured message line at the top of the Live tab (errors, warnings, notices). GUI thread only."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


class MessageBanner(QtWidgets.QFrame):
    """A coloured message line at the top of the tab (errors, warnings, notices), with a close button."""

    COLOURS = {"error": ("#5c1f1f", "#ffd7d7"), "warning": ("#5a4512", "#ffe9b0"), "info": ("#1d3b57", "#d6ecff")}

    def __init__(self, parent=None):
        super().__init__(parent)
        self.level = ""
        self.label = QtWidgets.QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        close = QtWidgets.QToolButton()
        close.setText("\u2715")
        close.setAutoRaise(True)
        close.setFocusPolicy(QtCore.Qt.NoFocus)
        close.clicked.connect(self.clear)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.addWidget(self.label, 1)
        lay.addWidget(close, 0, QtCore.Qt.AlignTop)
        self.setVisible(False)

    def show_message(self, level: str, text: str) -> None:
        bg, fg = self.COLOURS.get(level, self.COLOURS["info"])
        self.setStyleSheet(f"MessageBanner {{ background: {bg}; border-radius: 4px; }} QLabel {{ color: {fg}; }}")
        self.level = level
        self.label.setText(text)
        self.setVisible(True)

    def clear(self) -> None:
        self.level = ""
        self.label.setText("")
        self.setVisible(False)

    @property
    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()
