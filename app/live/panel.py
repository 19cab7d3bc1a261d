"""The "Live" tab: microphone -> ring buffer -> streaming engine (worker thread) -> scrolling pitch plot and tuner.

Data path (see :mod:`app.live.capture`, :mod:`app.live.worker`): PortAudio's callback copies each block into the ring and
wakes the worker; the worker runs :class:`pesto_core.stream.PitchStream` and publishes numpy frames; a ~60 Hz timer
here drains them into the session history (:mod:`app.live.history`), feeds the tuner and redraws.

Latency probe: every frame carries the ``time.monotonic()`` at which its newest sample arrived in the callback; when
the pitch plot next finishes painting, ``paint time - arrival`` is that frame's arrival-to-screen latency (shown in
the status bar, kept in :attr:`LivePanel.latencies_s`).

Faults (PortAudio missing, no device, a device that vanishes or refuses the sample rate, an engine slower than real
time, an engine error) become a message in the banner at the top of the tab; capture stops and can be restarted.

Threading: everything here runs in the GUI thread; the worker and PortAudio's thread only touch the objects named
above.
"""
from __future__ import annotations

import collections
import datetime
import inspect
import math
import os
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ..common.plots import ConfidenceLane, PitchPlot, heat_colours
from ..common.qt_compat import protect_none_refcount
from ..common.settings import Settings
from .capture import AudioCapture, CaptureError, list_input_devices
from .history import SessionHistory, heat_columns
from .recording import SessionRecorder
from .tuner import A4_MAX_HZ, A4_MIN_HZ, TRANSPOSITIONS, TunerFilter, TunerWidget, reference_shift
from .worker import LiveWorker

SAMPLE_RATES = (0, 16000, 22050, 32000, 44100, 48000, 88200, 96000)  # 0: the device's default
STEPS_MS = (5.0, 10.0, 20.0)
LATENCY_MODES = (("Lowest latency", 1.0), ("Exact (delayed ~85 ms)", 0.0))
TICK_MS = 16  # ~60 Hz: drain the worker, feed the tuner
# The plots redraw at most this often. pyqtgraph's repaint of the pitch plot, heatmap and lane costs a few ms of
# CPU; at 60 Hz the GUI alone would use a third of a core on a small machine. 25 Hz (film rate: the scrolling
# stays smooth) keeps the whole app under half a core at 48 kHz / 10 ms with the heatmap on, for a few ms more
# median latency (measured by benchmarks/live_benchmark.py).
PLOT_FPS = 25.0
STATUS_MS = 250
MODEL_NAME = "mir-1k_g7"

protect_none_refcount()  # (also done by app.common.plots; explicit here because the Live tab is what would crash)

DEFAULTS = dict(device="", sr=48000, step_ms=10.0, mirror=1.0, gate=0.5, a4_hz=440.0,
                transposition="Concert (C)", history_s=10, heatmap=True, refine=True, record_dir="")


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


def default_stream_factory(sr: int, step_ms: float, mirror: float, refine: bool, cache: Dict[str, object]):
    """A callable that builds the live engine (run in the worker thread, so loading never blocks the window).

    ``refine`` turns on the engine's cent-precise refinement when :class:`pesto_core.stream.PitchStream` offers it
    (a ``refine`` argument); ``cache`` keeps the loaded network between starts (it is never used by the GUI).
    """

    def make():
        from pesto_core.stream import PitchStream  # noqa: WPS433 (torch loads in the worker thread)

        kwargs = dict(sr=sr, step_ms=step_ms, mirror=mirror)
        if "refine" in inspect.signature(PitchStream).parameters:
            kwargs["refine"] = bool(refine)
        if MODEL_NAME in cache:
            kwargs["model"] = cache[MODEL_NAME]
        stream = PitchStream(**kwargs)
        cache[MODEL_NAME] = stream.model
        return stream

    return make


class LivePanel(QtWidgets.QWidget):
    """Live pitch tracking tab.

    Parameters
    ----------
    main_window : QMainWindow, optional
        The parent window (for dialogs).
    settings : Settings, optional
        Where the controls persist (default: the user's settings, group "live").
    stream_factory : callable(sr, step_ms, mirror, refine, cache) -> (callable () -> PitchStream), optional
        Builds the engine (tests pass a slow one to check the slower-than-real-time warning).
    """

    def __init__(self, main_window=None, *, settings: Optional[Settings] = None,
                 stream_factory: Optional[Callable] = None):
        super().__init__(main_window)
        self.main_window = main_window
        self.settings = settings or Settings("live")
        self.stream_factory = stream_factory or default_stream_factory
        self._model_cache: Dict[str, object] = {}
        self.capture = AudioCapture()
        self.worker: Optional[LiveWorker] = None
        self.history = SessionHistory(100.0)
        self.tuner_filter = TunerFilter()
        self.readout_log: collections.deque = collections.deque(maxlen=10000)  # (session time, note name or None)
        self.latencies_s: collections.deque = collections.deque(maxlen=200000)  # arrival-to-screen, per frame
        self.messages: List[tuple] = []  # every (level, text) shown, for the record (and the tests)
        self.paused = False
        self.follow = True  # view follows the newest audio
        self.auto_y = True
        self.recorder: Optional[SessionRecorder] = None
        self.unsaved_recorder: Optional[SessionRecorder] = None
        self._finishing_recorder: Optional[SessionRecorder] = None
        self._pending_arrivals: List[np.ndarray] = []
        self._dirty = False
        self._t_ref = 0.0  # session time at x = 0 of the plots
        self._x_range = None  # x range last set while following
        self._last_redraw = 0.0
        self._last_status = 0.0
        self._last_y_update = 0.0
        self._devices = []
        self._portaudio_error: Optional[str] = None
        self._slow_warning = False
        self._scroll_guard = False
        self._info = None
        self._session_started = 0.0

        self._build_ui()
        self._build_actions()
        self._load_settings()
        self.refresh_devices(initial=True)
        self._apply_display_settings()

        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.PreciseTimer)
        self.timer.timeout.connect(self._tick)
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

        self.start_button = button("Start", "Start or stop live tracking (Space)",
                                   icon=QtWidgets.QStyle.SP_MediaPlay)
        self.start_button.clicked.connect(self.toggle_running)
        self.pause_button = button("Pause", "Freeze the view; analysis goes on (P)", checkable=True,
                                   icon=QtWidgets.QStyle.SP_MediaPause)
        self.pause_button.toggled.connect(self.set_paused)
        self.record_button = button("Record", "Record the session as WAV + CSV/NPZ (R)", checkable=True,
                                    icon=_dot_icon(QtGui.QColor(230, 50, 50)))
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
        self.latency_combo.setToolTip("Lowest latency: the newest part of each analysis window is approximated "
                                      "(PESTO's mirror padding).\nExact: the same frames as the offline analysis, "
                                      "half a VQT window later.")
        self.gate_spin = QtWidgets.QDoubleSpinBox()
        self.gate_spin.setRange(0.0, 1.0)
        self.gate_spin.setSingleStep(0.05)
        self.gate_spin.setDecimals(2)
        self.gate_spin.setToolTip("Confidence gate: frames below it are gaps (unvoiced)")
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

        self.plot = PitchPlot(fast=True)
        self.plot.disableAutoRange()
        self.plot.on_paint = self._on_plot_painted
        self.plot.setMinimumHeight(220)
        self.plot.getPlotItem().hideAxis("bottom")  # the lane below carries the time axis
        self.lane = ConfidenceLane(fast=True)
        self.lane.disableAutoRange()
        self.lane.setXLink(self.plot)
        self.lane.getPlotItem().showGrid(x=False, y=False)  # grid lines in a scrolling axis cost ~3 ms a repaint
        self.lane.getPlotItem().setMouseEnabled(x=True, y=False)
        for axis in (self.plot.getPlotItem().getAxis("left"), self.lane.getPlotItem().getAxis("left")):
            axis.setWidth(48)
            # Replaying an axis' text costs ~1 ms per repaint; the left axes change only when the pitch range does,
            # so let Qt keep them as pixmaps (the scrolling time axis is redrawn, it changes every frame anyway).
            axis.setCacheMode(QtWidgets.QGraphicsItem.DeviceCoordinateCache)
        vb = self.plot.getPlotItem().vb
        vb.setLimits(yMin=0, yMax=128, minYRange=3, maxYRange=128, minXRange=0.5)
        vb.sigRangeChangedManually.connect(self._on_manual_range)
        self.lane.getPlotItem().vb.sigRangeChangedManually.connect(self._on_manual_range)
        self.scrollbar = QtWidgets.QScrollBar(QtCore.Qt.Horizontal)
        self.scrollbar.setToolTip("Scroll back through the session")
        self.scrollbar.setRange(0, 0)
        self.scrollbar.valueChanged.connect(self._on_scroll)
        self.tuner = TunerWidget()
        self.tuner.setMinimumWidth(280)

        left = QtWidgets.QWidget()
        lv = QtWidgets.QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.setSpacing(2)
        lv.addWidget(self.plot, 1)
        lv.addWidget(self.lane)
        lv.addWidget(self.scrollbar)
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tuner)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([860, 320])

        main = QtWidgets.QVBoxLayout(self)
        main.setContentsMargins(6, 6, 6, 6)
        main.addWidget(self.banner)
        main.addLayout(row1)
        main.addLayout(row2)
        main.addWidget(self.splitter, 1)

        # status bar widgets (the main window adds them permanently)
        self.status_device = QtWidgets.QLabel("Live: stopped")
        self.status_hop = QtWidgets.QLabel("")
        self.status_compute = QtWidgets.QLabel("")
        self.status_latency = QtWidgets.QLabel("")
        self.status_counters = QtWidgets.QLabel("")
        self.status_record = QtWidgets.QLabel("")
        self.status_record.setStyleSheet("color: #ff5050; font-weight: bold;")
        self._status_widgets = [self.status_device, self.status_hop, self.status_compute, self.status_latency,
                                self.status_counters, self.status_record]
        for w in self._status_widgets:
            w.setToolTip({self.status_device: "Input device and sample rate",
                          self.status_hop: "Hop between frames",
                          self.status_compute: "Engine time per hop (and share of real time)",
                          self.status_latency: "From a sample's arrival in the audio callback to its point on "
                                               "screen: median (99th percentile) over the last seconds",
                          self.status_counters: "Input overflows reported by the device / frames dropped "
                                                "because the engine fell behind",
                          self.status_record: "Recording"}[w])

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
        self.act_refine.setToolTip("Measure the last cents from the audio around PESTO's estimate "
                                   "(pesto_core.refine); off: PESTO's own decoded pitch")

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
        return list(self._status_widgets)

    def shutdown(self) -> None:
        """Stop capture and the worker; a recording nobody saved is saved next to the others (never lost)."""
        self.timer.stop()
        self.stop(ask_save=False)
        rec = self.unsaved_recorder
        if rec is not None:
            try:
                stem = self._default_record_stem()
                rec.save(stem)
                print(f"pesto-gui: unsaved live recording saved as {stem}.wav")
            except Exception as e:  # noqa: BLE001
                print(f"pesto-gui: could not save the live recording: {e}")
            rec.discard()
            self.unsaved_recorder = None
        self.settings.sync()

    def showEvent(self, event):  # noqa: N802 (Qt naming)
        super().showEvent(event)
        if not self.hasFocus() and not self.isAncestorOf(QtWidgets.QApplication.focusWidget()):
            self.setFocus(QtCore.Qt.OtherFocusReason)  # so that the tab's shortcuts work at once

    # ========================================================================================= settings
    def _load_settings(self) -> None:
        s = self.settings
        widgets = [self.rate_combo, self.step_combo, self.latency_combo, self.gate_spin, self.a4_spin,
                   self.transpose_combo, self.history_spin, self.heatmap_check]
        for w in widgets:
            w.blockSignals(True)
        _select_data(self.rate_combo, s.get("sr", DEFAULTS["sr"]))
        _select_data(self.step_combo, s.get("step_ms", DEFAULTS["step_ms"]))
        _select_data(self.latency_combo, s.get("mirror", DEFAULTS["mirror"]))
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
        self.lane.gate_line.setValue(self.gate)
        shift = reference_shift(self.a4_hz)
        trans = self.transposition
        names = {v: k for k, v in TRANSPOSITIONS.items()}
        ctx = f"A4 = {self.a4_hz:g} Hz"
        if trans:
            ctx += f" \u00b7 {names.get(trans, '')} (written pitch)"
        self.tuner.set_context(ctx)
        self._tuner_shift = shift + trans
        self.tuner_filter.reset()
        self.tuner.set_reading(None)
        if not self.heatmap_check.isChecked():
            self.plot.set_heatmap(None)
        self._dirty = True
        self._redraw(force=True)

    # ========================================================================================= devices
    _loading_devices = False

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
            try:
                self._devices = list_input_devices(refresh=not initial)
                self._portaudio_error = None
            except CaptureError as e:
                self._devices = []
                self._portaudio_error = str(e)
                self.show_message("error", str(e))
                self._set_capture_possible(False)
                return
            except Exception as e:  # noqa: BLE001 (a broken audio system must not stop the app)
                self._devices = []
                self._portaudio_error = f"Cannot list audio devices: {e}"
                self.show_message("error", self._portaudio_error)
                self._set_capture_possible(False)
                return
            for d in self._devices:
                self.device_combo.addItem(d.label, d.name)
            i = self.device_combo.findData(wanted)
            self.device_combo.setCurrentIndex(max(0, i))
            self._set_capture_possible(True)
            if not self._devices:
                self.show_message("warning", "No audio input device found. Connect a microphone, then re-scan "
                                             "(Live \u2192 Re-scan audio devices).")
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
        return self.worker is not None

    def toggle_running(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        """Open the input and start the worker (restarting if running). Returns False (with a message) on failure."""
        if self._portaudio_error:
            self.show_message("error", self._portaudio_error)
            return False
        self.stop()
        self._save_settings()
        step_ms = float(self.step_combo.currentData())
        mirror = float(self.latency_combo.currentData())
        want_sr = int(self.rate_combo.currentData()) or None
        device = self.device_combo.currentData() or None
        try:
            info = self.capture.open(device, want_sr, blocksize=lambda sr: max(1, int(round(step_ms * sr / 1000))))
        except CaptureError as e:
            self.show_message("error", str(e))
            self._update_status(force=True)
            return False
        self._info = info
        if info.notice:
            self.show_message("warning", info.notice)
        elif self.banner.level != "warning" or not self._slow_warning:
            self.banner.clear()
        make = self.stream_factory(info.sr, step_ms, mirror, self.refine, self._model_cache)
        fallback = self.stream_factory(info.sr, step_ms, mirror, False, self._model_cache) if self.refine else None
        # torch engine: calls at most every ~20 ms (2 hops at 10 ms, 4 at 5 ms): the screen is redrawn every 40 ms
        # anyway, and two hops per call cost ~40% less CPU than two calls; the native engine (the default on the CPU)
        # is called every hop (see LiveWorker's min_hops_per_push)
        min_hops = max(1, round(0.02 / (step_ms / 1000.0)))
        self.worker = LiveWorker(self.capture.ring, self.capture.wakeup, make, make_fallback=fallback,
                                 fallback_note="continuing without the cent-precise refinement",
                                 min_hops_per_push=min_hops)
        self.history = SessionHistory(1000.0 / step_ms)
        self.tuner_filter.reset()
        self.tuner.set_reading(None)
        self.readout_log.clear()
        self.latencies_s.clear()
        self._pending_arrivals = []
        self._slow_warning = False
        self.follow = True
        self.auto_y = True
        self._x_range = None
        self._t_ref = 0.0
        self._session_started = time.monotonic()
        self.worker.start()
        self.start_button.setText("Stop")
        self.start_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.SP_MediaStop))
        self.status_device.setText(f"{info.device_name} \u00b7 {info.sr} Hz \u00b7 starting\u2026")
        self.plot.set_curve(np.zeros(0), np.zeros(0), np.zeros(0), self.gate)
        self.plot.set_heatmap(None)
        self._update_status(force=True)
        return True

    def stop(self, ask_save: bool = True) -> None:
        """Stop capture and the worker (idempotent); a recording in progress is finished (and offered for saving)."""
        rec = self.recorder
        self.capture.close()
        worker, self.worker = self.worker, None
        if worker is not None:
            if not worker.stop(timeout=3.0):
                self.show_message("warning", "The pitch engine did not stop within 3 s; it was left to finish "
                                             "in the background.")
            frames, notices = worker.drain()
            self._ingest(frames)
            worker.recorder = None
        if rec is not None:
            self.recorder = None
            rec.request_stop()
            self._recording_done(rec, ask_save)
        self.record_button.blockSignals(True)
        self.record_button.setChecked(False)
        self.record_button.blockSignals(False)
        self.start_button.setText("Start")
        self.start_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.SP_MediaPlay))
        self._pending_arrivals = []
        self._update_status(force=True)

    def _fail(self, message: str) -> None:
        """A fault while running: stop everything, say why; Start works again afterwards."""
        self.stop()
        self.show_message("error", message)

    # ========================================================================================= view control
    def set_paused(self, paused: bool) -> None:
        """Freeze (or unfreeze) the view; audio keeps being analysed into the history."""
        self.paused = bool(paused)
        if self.pause_button.isChecked() != self.paused:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(self.paused)
            self.pause_button.blockSignals(False)
        self.pause_button.setText("Resume" if self.paused else "Pause")
        if not self.paused:
            self.go_live()

    def go_live(self) -> None:
        self.follow = True
        self.auto_y = True
        if self.paused:
            self.set_paused(False)
            return
        self._dirty = True
        self._redraw(force=True)

    def clear_history(self) -> None:
        self.history.clear()
        self._dirty = True
        self._redraw(force=True)

    def _on_manual_range(self, mask=None) -> None:
        """The user dragged or zoomed the plot: stop following (x) / auto-ranging (y)."""
        if mask is None or (isinstance(mask, (list, tuple)) and len(mask) > 0 and mask[0]):
            self.follow = False
            self._x_range = None
            self._set_time_label()
        if mask is None or (isinstance(mask, (list, tuple)) and len(mask) > 1 and mask[1]):
            self.auto_y = False
        self._dirty = True

    def _on_scroll(self, value: int) -> None:
        if self._scroll_guard:
            return
        self.follow = value >= self.scrollbar.maximum() and not self.paused
        self._dirty = True
        if not self.follow:
            t0 = self.history.start_s + value / 10.0 - self._t_ref
            self._x_range = None
            self._set_time_label()
            self.plot.setXRange(t0, t0 + self.history_s, padding=0)
        self._redraw(force=True)

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
        worker = self.worker
        if worker is None or not worker.ready:
            self.show_message("info", "Start live tracking first, then record.")
            return False
        if self.recorder is not None:
            return True
        try:
            rec = SessionRecorder(worker.sr, worker.hop_length, 1000.0 * worker.hop_length / worker.sr, MODEL_NAME,
                                  "alwa", worker.cursor,
                                  decoding=f"alwa, live (mirror={self.latency_combo.currentData():g})")
        except Exception as e:  # noqa: BLE001 (no temporary space...)
            self.show_message("error", f"Cannot start recording: {e}")
            return False
        self.recorder = rec
        worker.recorder = rec
        self._update_status(force=True)
        return True

    def stop_recording(self, ask_save: bool = True) -> None:
        rec, self.recorder = self.recorder, None
        if rec is None:
            return
        end = self.worker.cursor if self.worker is not None else None
        rec.request_stop(end)
        self._finishing_recorder = rec  # the worker adds the last frames (engine latency), then _tick saves it
        self._finishing_ask = ask_save
        self._finishing_since = time.monotonic()
        self._update_status(force=True)

    def _recording_done(self, rec: SessionRecorder, ask_save: bool) -> None:
        if self.worker is not None and self.worker.recorder is rec:
            self.worker.recorder = None
        if self.unsaved_recorder is not None and self.unsaved_recorder is not rec:
            self.unsaved_recorder.discard()
        self.unsaved_recorder = rec
        self.act_save_last.setEnabled(True)
        if ask_save:
            QtCore.QTimer.singleShot(0, self.save_unsaved_recording)

    def ask_save_path(self, default: str) -> Optional[str]:
        """Ask where to save a recording (a file dialog; tests replace this method)."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save live recording", default,
                                                        "WAV audio + pitch (*.wav)")
        return path or None

    def _default_record_stem(self) -> str:
        folder = self.settings.get("record_dir", "") or str(Path.home())
        return os.path.join(folder, datetime.datetime.now().strftime("live-%Y%m%d-%H%M%S"))

    def save_unsaved_recording(self) -> Optional[List[Path]]:
        rec = self.unsaved_recorder
        if rec is None:
            return None
        path = self.ask_save_path(self._default_record_stem() + ".wav")
        if not path:
            self.show_message("info", "Recording not saved yet: Live \u2192 Save last recording\u2026 saves it.")
            return None
        try:
            written = rec.save(path)
        except Exception as e:  # noqa: BLE001 (OutputError and friends: the recording stays for another try)
            self.show_message("error", f"Could not save the recording: {e}")
            return None
        self.settings.set("record_dir", str(Path(path).parent))
        rec.discard()
        self.unsaved_recorder = None
        self.act_save_last.setEnabled(False)
        self.show_message("info", "Saved " + ", ".join(p.name for p in written) + f" in {Path(path).parent}")
        return written

    # ========================================================================================= messages
    def show_message(self, level: str, text: str) -> None:
        self.messages.append((level, text))
        self.banner.show_message(level, text)

    # ========================================================================================= the timer
    def _tick(self) -> None:
        now = time.monotonic()
        worker = self.worker
        if worker is not None:
            frames, notices = worker.drain()
            for n in notices:
                self._on_notice(n)
            if self.worker is not None:
                self._ingest(frames)
                fault = self.capture.fault(now)
                if fault:
                    self._fail(fault)
                elif not worker.alive and not worker.failed:
                    self._fail("The live analysis thread ended unexpectedly.")
        rec = self._finishing_recorder
        if rec is not None and (rec.wait_finished(0) or now - self._finishing_since > 1.0 or self.worker is None):
            self._finishing_recorder = None
            self._recording_done(rec, self._finishing_ask)
        if not self.paused and now - self._last_redraw >= 1.0 / PLOT_FPS - 0.004:
            self._redraw()
        if now - self._last_status > STATUS_MS / 1000.0:
            self._update_status()

    def _on_notice(self, n) -> None:
        if n.kind == "error":
            self._fail(n.message)
        elif n.kind == "warning":
            self._slow_warning = True
            self.show_message("warning", n.message)
        elif n.kind == "recovered":
            if self._slow_warning and self.banner.level == "warning":
                self.banner.clear()
            self._slow_warning = False
        elif n.kind == "ready" and self._info is not None:
            self.status_device.setText(f"{self._info.device_name} \u00b7 {self._info.sr} Hz")

    def _ingest(self, batches) -> None:
        """New frames: into the history, through the tuner, latency probes queued for the next paint."""
        if not batches:
            return
        for fr in batches:
            heat = heat_colours(heat_columns(fr.activations, fr.confidence))
            self.history.append(fr.time_s, fr.pitch_semitones, fr.confidence, fr.volume, heat)
            voiced = fr.confidence >= self.gate
            written = fr.pitch_semitones.astype(np.float64) + self._tuner_shift
            f0 = 440.0 * 2.0 ** ((fr.pitch_semitones.astype(np.float64) - 69.0) / 12.0)
            for i in range(len(fr)):
                before = self.tuner_filter.reading
                reading = self.tuner_filter.update(float(fr.time_s[i]), float(written[i]), float(f0[i]),
                                                   bool(voiced[i]))
                if (reading is None) != (before is None) or (reading is not None and reading.note != before.note):
                    self.readout_log.append((float(fr.time_s[i]), None if reading is None else reading.name))
            if self.follow and not self.paused:
                self._pending_arrivals.append(fr.arrival_s)
        self._dirty = True

    def _on_plot_painted(self, t: float) -> None:
        """The pitch plot finished a repaint at monotonic time ``t``: frames handed to it before are on screen."""
        if self._pending_arrivals:
            arr = np.concatenate(self._pending_arrivals)
            self._pending_arrivals = []
            lat = t - arr[np.isfinite(arr)]
            self.latencies_s.extend(lat.tolist())

    # ========================================================================================= drawing
    def _redraw(self, force: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._dirty = False
        self._last_redraw = time.monotonic()
        self.tuner.set_reading(self.tuner_filter.reading)  # repainted with the plots (only if what it shows changed)
        h = self.history
        width = self.history_s
        vb = self.plot.getPlotItem().vb
        # x is time relative to a reference (seconds ago): while following, the reference is the newest frame and
        # the axis stays still (-history .. 0) instead of being regenerated on every redraw, which is the most
        # expensive part of a pyqtgraph repaint; scrolled back, the reference stays where the live view was left.
        if self.follow:
            self._t_ref = h.end_s if len(h) else 0.0
            if self._x_range != (-width, 0.0):
                self._x_range = (-width, 0.0)
                self.plot.setXRange(-width, 0.0, padding=0)
                self._set_time_label()
            x0, x1 = -width, 0.0
        else:
            (x0, x1), _ = vb.viewRange()
        ref = self._t_ref
        t0, t1 = x0 + ref, x1 + ref
        margin = 0.02 * (t1 - t0)
        t, p, c, v = h.window(t0 - margin, t1 + margin)
        x = t - ref
        self.plot.set_curve(x, p, c, self.gate)
        self.lane.set_data(x, c, v, self.gate)
        if self.auto_y:
            self._follow_pitch_range(p, c)
        if self.heatmap_check.isChecked():
            (_, _), (y0, y1) = vb.viewRange()
            b0 = max(0, int(math.floor(y0 * 3)) - 2)
            b1 = min(h.n_bins, int(math.ceil(y1 * 3)) + 3)
            cols = max(200, int(self.plot.width()))
            img, tc, dt = h.heat_window(t0 - margin, t1 + margin, b0, b1, max_columns=cols)
            self.plot.set_heatmap(img, t0_s=tc - ref, dt_s=dt, bins_per_semitone=3, first_bin=b0)
        self._update_scrollbar(t0)

    def _follow_pitch_range(self, p: np.ndarray, c: np.ndarray) -> None:
        """Keep the singer's recent range in view, moving the axis only when the curve nears an edge."""
        now = time.monotonic()
        if now - self._last_y_update < 0.2:
            return
        self._last_y_update = now
        voiced = p[(c >= self.gate) & np.isfinite(p)]
        if voiced.size < 5:
            return
        lo, hi = np.percentile(voiced, [2, 98])
        (_, _), (y0, y1) = self.plot.getPlotItem().vb.viewRange()
        min_span = 14.0
        if lo - 1.5 >= y0 and hi + 1.5 <= y1 and (y1 - y0) <= max(min_span, (hi - lo) + 12.0) + 1:
            return  # comfortably inside and not too zoomed out: keep the axis still
        mid = (lo + hi) / 2
        span = max(min_span, (hi - lo) + 8.0)
        new0 = max(0.0, min(128.0 - span, mid - span / 2))
        self.plot.setYRange(new0, new0 + span, padding=0)

    def _set_time_label(self) -> None:
        text = "seconds ago" if self.follow else "seconds before the point where the live view was left"
        self.lane.getPlotItem().setLabel("bottom", text)

    def _update_scrollbar(self, t0: Optional[float] = None) -> None:
        """Scroll bar range = the session kept, in tenths of a second; its value = the view's start ``t0``
        (session seconds; None keeps the current value, e.g. while paused). GUI thread."""
        h = self.history
        total = max(0.0, h.end_s - h.start_s - self.history_s)
        self._scroll_guard = True
        value = self.scrollbar.value()
        self.scrollbar.setRange(0, int(total * 10))
        self.scrollbar.setPageStep(int(self.history_s * 10))
        if self.follow and not self.paused:
            self.scrollbar.setValue(self.scrollbar.maximum())
        elif t0 is not None:
            self.scrollbar.setValue(int((t0 - h.start_s) * 10))
        else:
            self.scrollbar.setValue(value)
        self._scroll_guard = False
        self.live_button.setEnabled(not self.follow or self.paused)

    # ========================================================================================= status bar
    def latency_summary(self, seconds: float = 3.0):
        """(median, 99th percentile) arrival-to-screen latency in seconds over about the last ``seconds``."""
        if not self.latencies_s:
            return None
        n = int(seconds * self.history.frame_rate)
        recent = np.fromiter(list(self.latencies_s)[-n:], dtype=np.float64)
        return float(np.median(recent)), float(np.percentile(recent, 99))

    def _update_status(self, force: bool = False) -> None:
        self._last_status = time.monotonic()
        if self.paused:  # the view is frozen but the session grows: let the scroll bar reach the new audio
            self._update_scrollbar(None)
        w = self.worker
        info = self._info
        if w is None or info is None:
            self.status_device.setText("Live: stopped" if not self._portaudio_error else "Live: unavailable")
            for lab in (self.status_hop, self.status_compute, self.status_latency, self.status_counters):
                lab.setText("")
            self.status_record.setText("")
            return
        if w.ready:
            step = 1000.0 * w.hop_length / w.sr
            self.status_hop.setText(f"hop {w.hop_length} ({step:g} ms)")
            self.status_compute.setText(f"engine {1000 * w.compute_s_per_hop:.1f} ms/hop ({100 * w.load:.0f}%)")
        lat = self.latency_summary()
        self.status_latency.setText("latency \u2013" if lat is None else
                                    f"latency {1000 * lat[0]:.0f} ms (p99 {1000 * lat[1]:.0f})")
        self.status_counters.setText(f"overflows {self.capture.overflows} \u00b7 dropped {w.dropped_frames}")
        rec = self.recorder
        if rec is not None:
            secs = int(rec.duration_s)
            self.status_record.setText(f"\u25cf REC {secs // 60}:{secs % 60:02d}")
        else:
            self.status_record.setText("")


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


def _select_data(combo: QtWidgets.QComboBox, value) -> None:
    for i in range(combo.count()):
        d = combo.itemData(i)
        if d == value or (isinstance(d, float) and isinstance(value, (int, float)) and abs(d - value) < 1e-9):
            combo.setCurrentIndex(i)
            return
