"""The "Live" tab's widgets: controls, banner, the view of the session, menus and status bar.

The session itself (capture, engine worker, history, tuner filter, recorder) is a widget-free
:class:`~app.live.session.LiveSession`; :class:`~app.live.view.LiveView` draws it. This panel builds the controls,
keeps them in the settings (group "live"), turns them into a :class:`~app.live.session.LiveConfig`, and runs the
~60 Hz timer that polls the session and redraws the view at :data:`PLOT_FPS`.

Faults (PortAudio missing, no device, a device that vanishes or refuses the sample rate, an engine slower than real
time, an engine error) become a message in the banner at the top of the tab; capture stops and can be restarted.

Threading: everything here runs in the GUI thread.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, List, Optional

from PySide6 import QtCore, QtGui, QtWidgets

from pesto_core.presets import LATENCY_MODES, LIVE_DEFAULTS

from ..common.settings import Settings
from .banner import MessageBanner
from .recording import SessionRecorder
from .session import LiveConfig, LiveSession
from .status import LiveStatus
from .tuner import A4_MAX_HZ, A4_MIN_HZ, TRANSPOSITIONS
from .view import LiveView

SAMPLE_RATES = (0, 16000, 22050, 32000, 44100, 48000, 88200, 96000)  # 0: the device's default
STEPS_MS = (5.0, 10.0, 20.0)
# the latency modes and the defaults of the engine settings are the live preset's (pesto_core.presets)
TICK_MS = 16  # ~60 Hz: drain the worker, feed the tuner
# The plots redraw at most this often. pyqtgraph's repaint of the pitch plot, heatmap and lane costs a few ms of
# CPU; at 60 Hz the GUI alone would use a third of a core on a small machine. 25 Hz (film rate: the scrolling
# stays smooth) keeps the whole app under half a core at 48 kHz / 10 ms with the heatmap on, for a few ms more
# median latency (measured by benchmarks/live_benchmark.py).
PLOT_FPS = 25.0
STATUS_MS = 250

DEFAULTS = dict(
    device="",
    sr=48000,
    step_ms=LIVE_DEFAULTS["step_ms"],
    mirror=LIVE_DEFAULTS["mirror"],
    gate=LIVE_DEFAULTS["gate"],
    a4_hz=440.0,
    transposition="Concert (C)",
    history_s=10,
    heatmap=True,
    refine=True,
    record_dir="",
)


class LivePanel(QtWidgets.QWidget):
    """Live pitch tracking tab.

    Parameters
    ----------
    main_window : QMainWindow, optional
        The parent window (for dialogs).
    settings : Settings, optional
        Where the controls persist (default: the user's settings, group "live").
    stream_factory : callable(sr, step_ms, mirror, refine, cache) -> (callable () -> PitchStream), optional
        Builds the engine (see :class:`~app.live.session.LiveSession`).
    """

    def __init__(
        self, main_window=None, *, settings: Optional[Settings] = None, stream_factory: Optional[Callable] = None
    ):
        super().__init__(main_window)
        self.main_window = main_window
        self.settings = settings or Settings("live")
        self.session = LiveSession(stream_factory)
        self.session.on_message = lambda level, text: self.banner.show_message(level, text)
        self.session.on_warning_over = self._on_warning_over
        self.session.on_ready = lambda info: self.status.ready(info.device_name, info.sr)
        self.session.on_stopped = self._on_stopped
        self.session.on_recording_finished = self._on_recording_finished
        self.refine = DEFAULTS["refine"]
        self._last_status = 0.0
        self._loading_devices = False

        self._build_ui()
        self._build_actions()
        self._load_settings()
        self.refresh_devices(initial=True)
        self._apply_display_settings()

        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.PreciseTimer)
        self.timer.timeout.connect(self.tick)
        self.timer.start(TICK_MS)

    # ================================================================================================== UI set-up
    def _build_ui(self) -> None:
        self.setFocusPolicy(QtCore.Qt.StrongFocus)
        self.banner = MessageBanner()

        style = self.style()

        def button(text, tip, checkable=False, icon=None):
            b = QtWidgets.QPushButton(text)
            if icon is not None:
                b.setIcon(style.standardIcon(icon) if isinstance(icon, QtWidgets.QStyle.StandardPixmap) else icon)
            b.setToolTip(tip)
            b.setCheckable(checkable)
            b.setFocusPolicy(QtCore.Qt.NoFocus)  # Space belongs to the start/stop shortcut
            return b

        self.start_button = button("Start", "Start or stop live tracking (Space)", icon=QtWidgets.QStyle.SP_MediaPlay)
        self.start_button.clicked.connect(self.toggle_running)
        self.pause_button = button(
            "Pause", "Freeze the view; analysis goes on (P)", checkable=True, icon=QtWidgets.QStyle.SP_MediaPause
        )
        self.pause_button.toggled.connect(self.set_paused)
        self.record_button = button(
            "Record",
            "Record the session as WAV + CSV/NPZ (R)",
            checkable=True,
            icon=_dot_icon(QtGui.QColor(230, 50, 50)),
        )
        self.record_button.toggled.connect(self._on_record_toggled)
        self.live_button = button("Live", "Back to the newest audio (End)", icon=QtWidgets.QStyle.SP_MediaSkipForward)
        self.live_button.clicked.connect(self.go_live)

        self.device_combo = QtWidgets.QComboBox()
        self.device_combo.setMinimumContentsLength(18)
        self.device_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.device_combo.setToolTip("Audio input")
        self.refresh_button = QtWidgets.QToolButton()
        self.refresh_button.setText("\u27f3")
        self.refresh_button.setToolTip("Re-scan audio devices")
        self.refresh_button.setFocusPolicy(QtCore.Qt.NoFocus)
        self.refresh_button.clicked.connect(lambda: self.refresh_devices())
        self.rate_combo = QtWidgets.QComboBox()
        for sr in SAMPLE_RATES:
            self.rate_combo.addItem("device default" if sr == 0 else f"{sr} Hz", sr)
        self.rate_combo.setToolTip("Sample rate (falls back to the device's default if refused)")
        self.step_combo = QtWidgets.QComboBox()
        for s in STEPS_MS:
            self.step_combo.addItem(f"{s:g} ms", s)
        self.step_combo.setToolTip("Step between frames")
        self.latency_combo = QtWidgets.QComboBox()
        for name, mirror in LATENCY_MODES:
            self.latency_combo.addItem(name, mirror)
        self.latency_combo.setToolTip(
            "Lowest latency: the newest part of each analysis window is approximated "
            "(PESTO's mirror padding).\nStandard (default): a little less of it, for fewer glitches "
            "and offline accuracy at 4 ms more latency (29 ms at 48 kHz).\nLow latency / Balanced: "
            "less of it approximated, for 20 / 40 ms more latency.\nExact: the same frames as "
            "the offline analysis, half a VQT window later (85 ms at 48 kHz)."
        )
        self.gate_spin = QtWidgets.QDoubleSpinBox()
        self.gate_spin.setRange(0.0, 1.0)
        self.gate_spin.setSingleStep(0.05)
        self.gate_spin.setDecimals(2)
        self.gate_spin.setToolTip("Confidence gate: frames below it (or whose pitch distribution is spread) are gaps")
        self.a4_spin = QtWidgets.QDoubleSpinBox()
        self.a4_spin.setRange(A4_MIN_HZ, A4_MAX_HZ)
        self.a4_spin.setDecimals(1)
        self.a4_spin.setSingleStep(1.0)
        self.a4_spin.setSuffix(" Hz")
        self.a4_spin.setToolTip("Reference pitch of A4")
        self.transpose_combo = QtWidgets.QComboBox()
        for name in TRANSPOSITIONS:
            self.transpose_combo.addItem(name)
        self.transpose_combo.setToolTip("Show written notes for a transposing instrument")
        self.history_spin = QtWidgets.QSpinBox()
        self.history_spin.setRange(2, 60)
        self.history_spin.setSuffix(" s")
        self.history_spin.setToolTip("Seconds shown")
        self.heatmap_check = QtWidgets.QCheckBox("Heatmap")
        self.heatmap_check.setToolTip("Show PESTO's pitch distribution behind the curve (H)")

        def labelled(text, widget, stretch=0):
            box = QtWidgets.QHBoxLayout()
            box.setSpacing(4)
            lab = QtWidgets.QLabel(text)
            lab.setBuddy(widget)
            box.addWidget(lab)
            box.addWidget(widget, stretch)
            return box

        row1 = QtWidgets.QHBoxLayout()
        for w in (self.start_button, self.pause_button, self.record_button):
            row1.addWidget(w)
        row1.addSpacing(12)
        row1.addLayout(labelled("&Input", self.device_combo, 1), 1)
        row1.addWidget(self.refresh_button)
        row1.addLayout(labelled("Rate", self.rate_combo))
        row1.addLayout(labelled("Step", self.step_combo))
        row1.addLayout(labelled("Latency", self.latency_combo))
        row2 = QtWidgets.QHBoxLayout()
        row2.addLayout(labelled("Gate", self.gate_spin))
        row2.addLayout(labelled("A4", self.a4_spin))
        row2.addLayout(labelled("Transpose", self.transpose_combo))
        row2.addLayout(labelled("History", self.history_spin))
        row2.addWidget(self.heatmap_check)
        row2.addStretch(1)
        row2.addWidget(self.live_button)

        self.view = LiveView(self.session)
        self.view.live_available.connect(self.live_button.setEnabled)

        main = QtWidgets.QVBoxLayout(self)
        main.setContentsMargins(6, 6, 6, 6)
        main.addWidget(self.banner)
        main.addLayout(row1)
        main.addLayout(row2)
        main.addWidget(self.view, 1)

        self.status = LiveStatus()  # status bar widgets (the main window adds them permanently)
        self.status_counters = self.status.counters

        for w in (self.device_combo, self.rate_combo, self.step_combo, self.latency_combo):
            w.currentIndexChanged.connect(self._on_engine_setting)
        self.gate_spin.valueChanged.connect(self._on_display_setting)
        self.a4_spin.valueChanged.connect(self._on_display_setting)
        self.transpose_combo.currentIndexChanged.connect(self._on_display_setting)
        self.history_spin.valueChanged.connect(self._on_display_setting)
        self.heatmap_check.toggled.connect(self._on_display_setting)

    def _build_actions(self) -> None:
        ctx = QtCore.Qt.WidgetWithChildrenShortcut  # only while the Live tab has the focus (File uses Space too)

        def action(text, shortcut, slot, checkable=False):
            a = QtGui.QAction(text, self)
            a.setShortcut(QtGui.QKeySequence(shortcut))
            a.setShortcutContext(ctx)
            a.setCheckable(checkable)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.act_start = action("Start / stop", "Space", self.toggle_running)
        self.act_pause = action("Pause view", "P", lambda: self.pause_button.toggle())
        self.act_record = action("Record", "R", lambda: self.record_button.toggle())
        self.act_heatmap = action("Show heatmap", "H", lambda: self.heatmap_check.toggle())
        self.act_live = action("Back to live", "End", self.go_live)
        self.act_refresh = action("Re-scan audio devices", "", lambda: self.refresh_devices())
        self.act_save_last = action("Save last recording\u2026", "", self.save_unsaved_recording)
        self.act_save_last.setEnabled(False)
        self.act_clear = action("Clear history", "", self.clear_history)
        self.act_refine = action("Cent-precise pitch (refinement)", "", self._on_refine_toggled, checkable=True)
        self.act_refine.setToolTip(
            "Measure the last cents from the audio around PESTO's estimate "
            "(pesto_core.refine); off: PESTO's own decoded pitch"
        )

    # ================================================================================ main-window integration
    def install_menus(self, menubar: QtWidgets.QMenuBar) -> None:
        menu = menubar.addMenu("&Live")
        for a in (self.act_start, self.act_pause, self.act_record, self.act_save_last):
            menu.addAction(a)
        menu.addSeparator()
        for a in (self.act_heatmap, self.act_live, self.act_clear, self.act_refresh):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.act_refine)
        self.menu = menu

    def status_widgets(self) -> List[QtWidgets.QWidget]:
        return self.status.widgets()

    def shutdown(self) -> None:
        """Stop capture and the worker; a recording nobody saved is saved next to the others (never lost)."""
        self.timer.stop()
        self.session.shutdown(self.settings.get("record_dir", ""))
        self.settings.sync()

    def showEvent(self, event):  # noqa: N802 (Qt naming)
        super().showEvent(event)
        if not self.hasFocus() and not self.isAncestorOf(QtWidgets.QApplication.focusWidget()):
            self.setFocus(QtCore.Qt.OtherFocusReason)  # so that the tab's shortcuts work at once

    # ========================================================================================= settings
    def _load_settings(self) -> None:
        s = self.settings
        widgets = [
            self.rate_combo,
            self.step_combo,
            self.latency_combo,
            self.gate_spin,
            self.a4_spin,
            self.transpose_combo,
            self.history_spin,
            self.heatmap_check,
        ]
        for w in widgets:
            w.blockSignals(True)
        _select_data(self.rate_combo, s.get("sr", DEFAULTS["sr"]), DEFAULTS["sr"])
        _select_data(self.step_combo, s.get("step_ms", DEFAULTS["step_ms"]), DEFAULTS["step_ms"])
        _select_data(self.latency_combo, s.get("mirror", DEFAULTS["mirror"]), DEFAULTS["mirror"])
        self.gate_spin.setValue(min(1.0, max(0.0, s.get("gate", DEFAULTS["gate"]))))
        self.a4_spin.setValue(min(A4_MAX_HZ, max(A4_MIN_HZ, s.get("a4_hz", DEFAULTS["a4_hz"]))))
        i = self.transpose_combo.findText(s.get("transposition", DEFAULTS["transposition"]))
        self.transpose_combo.setCurrentIndex(max(0, i))
        self.history_spin.setValue(int(min(60, max(2, s.get("history_s", DEFAULTS["history_s"])))))
        self.heatmap_check.setChecked(s.get("heatmap", DEFAULTS["heatmap"]))
        self.refine = s.get("refine", DEFAULTS["refine"])
        self.act_refine.setChecked(self.refine)
        for w in widgets:
            w.blockSignals(False)

    def _save_settings(self) -> None:
        s = self.settings
        s.set("device", self.device_combo.currentData() or "")
        s.set("sr", int(self.rate_combo.currentData()))
        s.set("step_ms", float(self.step_combo.currentData()))
        s.set("mirror", float(self.latency_combo.currentData()))
        s.set("gate", float(self.gate_spin.value()))
        s.set("a4_hz", float(self.a4_spin.value()))
        s.set("transposition", self.transpose_combo.currentText())
        s.set("history_s", int(self.history_spin.value()))
        s.set("heatmap", bool(self.heatmap_check.isChecked()))
        s.set("refine", bool(self.refine))

    @property
    def gate(self) -> float:
        return float(self.gate_spin.value())

    @property
    def history_s(self) -> float:
        return float(self.history_spin.value())

    @property
    def a4_hz(self) -> float:
        return float(self.a4_spin.value())

    @property
    def transposition(self) -> int:
        return TRANSPOSITIONS.get(self.transpose_combo.currentText(), 0)

    def config(self) -> LiveConfig:
        """The engine settings the controls show."""
        return LiveConfig(
            device=self.device_combo.currentData() or None,
            sr=int(self.rate_combo.currentData()) or None,
            step_ms=float(self.step_combo.currentData()),
            mirror=float(self.latency_combo.currentData()),
            refine=bool(self.refine),
        )

    def _on_engine_setting(self, *_):
        if self._loading_devices:
            return
        self._save_settings()
        if self.running:
            self.start()  # restart with the new device / rate / step / latency mode

    def _on_refine_toggled(self, on: bool) -> None:
        self.refine = bool(on)
        self._save_settings()
        if self.running:
            self.start()

    def _on_display_setting(self, *_):
        self._save_settings()
        self._apply_display_settings()

    def _apply_display_settings(self) -> None:
        self.session.gate = self.gate
        self.view.set_gate_line(self.gate)
        self.view.history_s = self.history_s
        trans = self.transposition
        names = {v: k for k, v in TRANSPOSITIONS.items()}
        ctx = f"A4 = {self.a4_hz:g} Hz"
        if trans:
            ctx += f" \u00b7 {names.get(trans, '')} (written pitch)"
        self.view.tuner.set_context(ctx)
        self.session.set_tuning(self.a4_hz, trans)
        self.view.tuner.set_reading(None)
        self.view.set_heatmap_visible(self.heatmap_check.isChecked())
        self.view.redraw(force=True)

    # ========================================================================================= devices
    def refresh_devices(self, initial: bool = False) -> None:
        """(Re)list the input devices into the combo; PortAudio missing is reported, not raised."""
        if self.running and not initial:
            self.show_message("info", "Stop live tracking before re-scanning the audio devices.")
            return
        self._loading_devices = True
        try:
            wanted = self.device_combo.currentData() if not initial else self.settings.get("device", "")
            self.device_combo.clear()
            self.device_combo.addItem("System default input", "")
            ok = self.session.refresh_devices(initial)
            for d in self.session.devices:
                self.device_combo.addItem(d.label, d.name)
            self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(wanted)))
            self._set_capture_possible(ok)
        finally:
            self._loading_devices = False

    def _set_capture_possible(self, ok: bool) -> None:
        self.start_button.setEnabled(ok)
        self.act_start.setEnabled(ok)
        self.device_combo.setEnabled(ok)
        self.refresh_button.setEnabled(True)

    # ========================================================================================= start / stop
    @property
    def running(self) -> bool:
        return self.session.running

    def toggle_running(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        """Open the input and start the engine (restarting if running). False (with a message) on failure."""
        self._save_settings()
        was_slow = self.session.slow_warning
        if not self.session.start(self.config()):
            self.update_status()
            return False
        info = self.session.info
        if not info.notice and (self.banner.level != "warning" or not was_slow):
            self.banner.clear()
        self.view.reset()
        self.start_button.setText("Stop")
        self.start_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.SP_MediaStop))
        self.status.starting(info.device_name, info.sr)
        self.update_status()
        return True

    def stop(self, ask_save: bool = True) -> None:
        """Stop capture and the engine (idempotent); a recording in progress is finished (and offered for saving)."""
        self.session.stop(ask_save)
        self._on_stopped()

    def _on_stopped(self) -> None:
        self.record_button.blockSignals(True)
        self.record_button.setChecked(False)
        self.record_button.blockSignals(False)
        self.start_button.setText("Start")
        self.start_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.SP_MediaPlay))
        self.view.update_notes()  # the last note, finished when the session stopped
        self.update_status()

    # ========================================================================================= view control
    @property
    def paused(self) -> bool:
        return self.view.paused

    def set_paused(self, paused: bool) -> None:
        """Freeze (or unfreeze) the view; audio keeps being analysed into the history."""
        if self.pause_button.isChecked() != bool(paused):
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(bool(paused))
            self.pause_button.blockSignals(False)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.view.set_paused(paused)

    def go_live(self) -> None:
        if self.paused:
            self.set_paused(False)
        else:
            self.view.go_live()

    def clear_history(self) -> None:
        self.session.clear_history()
        self.view.redraw(force=True)

    # ========================================================================================= recording
    def _on_record_toggled(self, on: bool) -> None:
        if on:
            if not self.start_recording():
                self.record_button.blockSignals(True)
                self.record_button.setChecked(False)
                self.record_button.blockSignals(False)
        else:
            self.stop_recording()

    def start_recording(self) -> bool:
        ok = self.session.start_recording()
        self.update_status()
        return ok

    def stop_recording(self, ask_save: bool = True) -> None:
        self.session.stop_recording(ask_save)
        self.update_status()

    def _on_recording_finished(self, rec: SessionRecorder, ask_save: bool) -> None:
        self.act_save_last.setEnabled(True)
        if ask_save:
            QtCore.QTimer.singleShot(0, self.save_unsaved_recording)

    def ask_save_path(self, default: str) -> Optional[str]:
        """Ask where to save a recording (a file dialog; tests replace this method)."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save live recording", default, "WAV audio + pitch (*.wav)"
        )
        return path or None

    def save_unsaved_recording(self) -> Optional[List[Path]]:
        if self.session.unsaved_recorder is None:
            return None
        path = self.ask_save_path(self.session.default_record_stem(self.settings.get("record_dir", "")) + ".wav")
        if not path:
            self.show_message("info", "Recording not saved yet: Live \u2192 Save last recording\u2026 saves it.")
            return None
        try:
            written = self.session.save_recording(path)
        except Exception as e:  # OutputError and friends: the recording stays for another try
            self.show_message("error", f"Could not save the recording: {e}")
            return None
        self.settings.set("record_dir", str(Path(path).parent))
        self.act_save_last.setEnabled(False)
        self.show_message("info", "Saved " + ", ".join(p.name for p in written) + f" in {Path(path).parent}")
        return written

    # ========================================================================================= messages
    def show_message(self, level: str, text: str) -> None:
        """Tell the user: recorded with the session's messages, shown in the banner."""
        self.session.report(level, text)

    @property
    def messages(self) -> List[tuple]:
        """Every (level, text) shown, oldest first."""
        return self.session.messages

    def _on_warning_over(self) -> None:
        if self.banner.level == "warning":
            self.banner.clear()

    # ========================================================================================= the timer
    def tick(self) -> None:
        """One turn of the GUI loop (the timer's slot, every :data:`TICK_MS`): poll the session, redraw the view at
        most :data:`PLOT_FPS` times a second, refresh the status bar."""
        now = time.monotonic()
        self.session.poll(now)
        if not self.view.following:
            self.session.drop_latency_probes()  # these frames are not drawn now: no latency to measure
        if not self.paused and now - self.view.last_redraw >= 1.0 / PLOT_FPS - 0.004:
            self.view.redraw()
        if now - self._last_status > STATUS_MS / 1000.0:
            self.update_status()

    def update_status(self) -> None:
        """Refresh the status bar (and, while paused, the scroll bar's range: the session keeps growing)."""
        self._last_status = time.monotonic()
        if self.paused:
            self.view.update_scrollbar(None)
        self.status.show(self.session)


def _dot_icon(colour: QtGui.QColor, size: int = 16) -> QtGui.QIcon:
    pm = QtGui.QPixmap(size, size)
    pm.fill(QtCore.Qt.transparent)
    p = QtGui.QPainter(pm)
    p.setRenderHint(QtGui.QPainter.Antialiasing)
    p.setPen(QtCore.Qt.NoPen)
    p.setBrush(colour)
    p.drawEllipse(QtCore.QRectF(2, 2, size - 4, size - 4))
    p.end()
    return QtGui.QIcon(pm)


def _select_data(combo: QtWidgets.QComboBox, value, default) -> None:
    """Select the item whose data is ``value``; a stored value no item has (an older version's menu, a hand-edited
    file) selects ``default``'s item, not whichever item happens to be first."""
    for wanted in (value, default):
        for i in range(combo.count()):
            d = combo.itemData(i)
            if d == wanted or (isinstance(d, float) and isinstance(wanted, (int, float)) and abs(d - wanted) < 1e-9):
                combo.setCurrentIndex(i)
                return
