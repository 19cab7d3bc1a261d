"""The File tab's widgets and keys, built on a :class:`~app.file.panel.FilePanel` (layout only; the panel holds the
behaviour). GUI thread."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from .playback import clock_text
from .settings_box import SettingsBox


def build_ui(panel) -> None:
    """Create the File tab's widgets on ``panel`` (a :class:`~app.file.panel.FilePanel`) and wire them. GUI thread."""
    panel.settings_box = SettingsBox(panel.settings)
    panel.file_list = QtWidgets.QListWidget()
    panel.file_list.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
    panel.file_list.currentRowChanged.connect(panel._on_current_changed)
    panel.file_list.setContextMenuPolicy(QtCore.Qt.CustomContextMenu)
    panel.file_list.customContextMenuRequested.connect(panel._list_menu)
    panel.file_list.setToolTip("Open files (drop audio files here)")
    panel.file_list.setWordWrap(True)
    panel.file_list.setTextElideMode(QtCore.Qt.ElideMiddle)
    panel.file_list.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
    panel.file_list.setSpacing(2)
    panel.view.gate = panel.settings_box.gate_value
    panel.view.show_heatmap = panel.settings_box.heatmap.isChecked()
    panel.view.follow = panel.settings_box.follow.isChecked()
    panel.view.refined = panel.settings_box.refined.isChecked()
    panel.view.seek_requested.connect(panel.seek)

    # actions (also in the File menu)
    panel.act_open = QtGui.QAction("&Open...", panel, shortcut=QtGui.QKeySequence.Open, triggered=panel.open_dialog)
    panel.act_analyse = QtGui.QAction("&Analyse", panel, shortcut="Ctrl+R", triggered=panel.analyse_current)
    panel.act_analyse_all = QtGui.QAction("Analyse a&ll", panel, triggered=panel.analyse_all)
    panel.act_cancel = QtGui.QAction("&Cancel analysis", panel, triggered=panel.cancel)
    panel.act_export = QtGui.QAction(
        "&Export CSV/NPZ/PNG/notes/MIDI...", panel, shortcut="Ctrl+E", triggered=panel.export_dialog
    )
    panel.act_export_all = QtGui.QAction(
        "Export all open files...", panel, shortcut="Ctrl+Shift+E", triggered=panel.export_all_dialog
    )
    panel.act_close = QtGui.QAction(
        "Close file", panel, shortcut=QtGui.QKeySequence.Close, triggered=panel.close_current
    )
    panel.act_quit = QtGui.QAction("&Quit", panel, shortcut=QtGui.QKeySequence.Quit, triggered=panel._quit)
    panel.act_play = QtGui.QAction("Play", panel, triggered=panel.toggle_play)
    panel.act_play.setToolTip("Play / pause (Space)")

    bar = QtWidgets.QToolBar()
    bar.setToolButtonStyle(QtCore.Qt.ToolButtonTextOnly)
    for act in (panel.act_open, panel.act_analyse, panel.act_analyse_all, panel.act_cancel):
        bar.addAction(act)
    bar.addSeparator()
    bar.addAction(panel.act_play)
    panel.act_stop = bar.addAction("Stop", panel.stop_playback)
    panel.playback.playing_changed.connect(lambda on: panel.act_play.setText("Pause" if on else "Play"))
    panel.playback.time_changed.connect(lambda t, dur: panel.time_label.setText(f"{clock_text(t)} / {clock_text(dur)}"))
    panel.time_label = QtWidgets.QLabel("0:00.000 / 0:00.000")
    panel.time_label.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont))
    panel.time_label.setContentsMargins(8, 0, 8, 0)
    bar.addWidget(panel.time_label)
    bar.addSeparator()
    bar.addAction(panel.act_export)
    for widget in bar.findChildren(QtWidgets.QToolButton):  # Space must reach the play shortcut
        widget.setFocusPolicy(QtCore.Qt.NoFocus)
    panel.playback_note = QtWidgets.QLabel()
    panel.playback_note.setStyleSheet("color: #b36b00;")
    if not panel.playback.available:
        panel.playback_note.setText(f"Playback unavailable: {panel.player.reason}")
        panel.playback_note.setToolTip(panel.player.reason)
        panel.playback_note.setWordWrap(True)

    left = QtWidgets.QWidget()
    left_layout = QtWidgets.QVBoxLayout(left)
    left_layout.setContentsMargins(0, 0, 0, 0)
    left_layout.addWidget(QtWidgets.QLabel("Open files"))
    left_layout.addWidget(panel.file_list, 1)
    left_layout.addWidget(panel.settings_box)
    left.setMinimumWidth(250)

    split = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
    split.addWidget(left)
    split.addWidget(panel.view)
    split.addWidget(panel.notes.summary)
    split.setStretchFactor(0, 0)
    split.setStretchFactor(1, 1)
    split.setStretchFactor(2, 0)
    split.setSizes([270, 760, 250])

    layout = QtWidgets.QVBoxLayout(panel)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(bar)
    layout.addWidget(panel.playback_note)
    panel.playback_note.setVisible(not panel.playback.available)
    layout.addWidget(split, 1)

    # status bar widgets (the main window places them)
    panel.status_label = QtWidgets.QLabel("")
    panel.status_label.setMaximumWidth(520)  # a long message must not widen the window
    panel.progress = QtWidgets.QProgressBar()
    panel.progress.setMaximumWidth(220)
    panel.progress.setRange(0, 1000)
    panel.progress.setVisible(False)
    panel.cancel_button = QtWidgets.QPushButton("Cancel")
    panel.cancel_button.clicked.connect(panel.cancel)
    panel.cancel_button.setVisible(False)

    sb = panel.settings_box
    sb.analysis_changed.connect(panel._on_settings_changed)
    sb.channel_changed.connect(panel._on_channel_changed)
    sb.gate_changed.connect(panel.view.set_gate)
    sb.heatmap_toggled.connect(panel.view.set_heatmap_visible)
    sb.follow_toggled.connect(lambda on: setattr(panel.view, "follow", on))
    sb.refined_toggled.connect(panel.view.set_refined)
    sb.refined_toggled.connect(lambda _: panel.notes.resegment(list(panel.docs)))
    panel.notes.set_reference(sb.a4_value)  # the reference remembered: that of the first analyses' notes
    sb.a4_changed.connect(panel.notes.set_reference)
    panel.notes.reference_shown.connect(sb.show_a4)
    panel.notes.changed.connect(panel._update_item)


def build_shortcuts(panel) -> None:
    """Keys of the File tab only (the Live tab has its own): WidgetWithChildrenShortcut. GUI thread."""
    ctx = QtCore.Qt.WidgetWithChildrenShortcut
    keys = [
        ("Space", panel.toggle_play),
        ("Left", lambda: panel.view.pan_time(-0.2)),
        ("Right", lambda: panel.view.pan_time(0.2)),
        ("Shift+Left", lambda: panel.view.pan_time(-0.9)),
        ("Shift+Right", lambda: panel.view.pan_time(0.9)),
        ("Up", lambda: panel.view.pan_pitch(2)),
        ("Down", lambda: panel.view.pan_pitch(-2)),
        ("+", lambda: panel.view.zoom_time(0.5)),
        ("=", lambda: panel.view.zoom_time(0.5)),
        ("-", lambda: panel.view.zoom_time(2.0)),
        ("Shift+Up", lambda: panel.view.zoom_pitch(0.7)),
        ("Shift+Down", lambda: panel.view.zoom_pitch(1.4)),
        ("Home", panel.view.show_all),
        ("F", panel.view.fit_pitch),
        ("Escape", panel.cancel),
    ]
    panel.shortcuts = {}
    for key, slot in keys:
        sc = QtGui.QShortcut(QtGui.QKeySequence(key), panel, context=ctx)
        sc.activated.connect(slot)
        panel.shortcuts[key] = sc
    panel.notes.add_shortcuts(panel)  # the Notes menu's keys (Ctrl+Z...), in this tab only
