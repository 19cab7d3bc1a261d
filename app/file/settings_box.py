"""Controls of the File tab: analysis settings (model, step, reduction, device, channel), view options (confidence
gate, heatmap, follow playback) and the notes' reference A4, remembered between sessions under the ``file/`` keys
of the app's settings (:class:`app.common.settings.Settings`).

GUI thread only.
"""

from __future__ import annotations

import os
from typing import Optional

from PySide6 import QtCore, QtWidgets

from pesto_core.presets import FILE_VITERBI, file_model_name
from pesto_core.validation import REDUCTIONS

from ..common.settings import Settings
from .analysis import AnalysisSettings, DeviceProbe, bundled_models
from .notes_model import A4_RANGE_HZ

CHECKPOINT_ITEM = "Checkpoint file..."


class SettingsBox(QtWidgets.QWidget):
    """Analysis settings and view options.

    Signals: ``analysis_changed()`` (model, step, reduction, device: results must be recomputed),
    ``channel_changed(int)`` (-1: mix), ``gate_changed(float)``, ``heatmap_toggled(bool)``, ``follow_toggled(bool)``,
    ``a4_changed(float)`` (Hz; the user changed the reference, not :meth:`show_a4`).
    """

    analysis_changed = QtCore.Signal()
    channel_changed = QtCore.Signal(int)
    gate_changed = QtCore.Signal(float)
    heatmap_toggled = QtCore.Signal(bool)
    follow_toggled = QtCore.Signal(bool)
    refined_toggled = QtCore.Signal(bool)
    a4_changed = QtCore.Signal(float)

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        analysis = QtWidgets.QGroupBox("Analysis")
        form = QtWidgets.QFormLayout(analysis)
        self.model = QtWidgets.QComboBox()
        self.model.setToolTip("Bundled PESTO model, or a checkpoint file (.pt, or an original PESTO .ckpt)")
        for name in bundled_models():
            self.model.addItem(name, name)
        self.model.addItem(CHECKPOINT_ITEM, None)
        form.addRow("Model:", self.model)
        self.step = QtWidgets.QDoubleSpinBox()
        self.step.setRange(1.0, 500.0)
        self.step.setDecimals(2)
        self.step.setSingleStep(1.0)
        self.step.setSuffix(" ms")
        self.step.setToolTip("Time between frames (pesto -s)")
        self.step.setKeyboardTracking(False)
        form.addRow("Step:", self.step)
        self.reduction = QtWidgets.QComboBox()
        self.reduction.addItems(list(REDUCTIONS))
        self.reduction.setToolTip("How the pitch distribution becomes one pitch (pesto -r)")
        form.addRow("Reduction:", self.reduction)
        self.viterbi = QtWidgets.QCheckBox("Track the pitch over time (Viterbi)")
        self.viterbi.setObjectName("viterbiTracking")
        self.viterbi.setToolTip(
            "Decode the most likely pitch path through the whole file (pesto --viterbi): a frame whose own peak "
            "disagrees with its neighbours follows them when it also sees their pitch. Fewer wrong frames in "
            "noise and at high pitches. With the alwa reduction only"
        )
        form.addRow(self.viterbi)
        self.device = QtWidgets.QComboBox()
        self.device.addItem("CPU", "cpu")  # GPUs are added when the probe (a thread: it imports torch) finds them
        self._device_probe = DeviceProbe(self)
        self._device_probe.found.connect(self._on_devices_found)
        form.addRow("Device:", self.device)
        self.channel = QtWidgets.QComboBox()
        self.channel.setToolTip("Multi-channel files are mixed to mono (as pesto does), or one channel is analysed")
        form.addRow("Channel:", self.channel)
        self.analyse_on_open = QtWidgets.QCheckBox("Analyse files when opened")
        form.addRow(self.analyse_on_open)
        layout.addWidget(analysis)

        view = QtWidgets.QGroupBox("View")
        vform = QtWidgets.QFormLayout(view)
        self.gate = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.gate.setRange(0, 100)
        self.gate_label = QtWidgets.QLabel()
        gate_row = QtWidgets.QHBoxLayout()
        gate_row.addWidget(self.gate, 1)
        gate_row.addWidget(self.gate_label)
        self.gate.setToolTip("Frames with a lower confidence are not drawn (they stay in the exports)")
        vform.addRow("Confidence gate:", gate_row)
        self.refined = QtWidgets.QCheckBox("Cent-precise pitch (refined)")
        self.refined.setToolTip(
            "Draw the pitch refined from the audio around each frame (pesto --refine); exports "
            "write PESTO's own pitch unless asked otherwise"
        )
        vform.addRow(self.refined)
        self.heatmap = QtWidgets.QCheckBox("Activation heatmap")
        self.follow = QtWidgets.QCheckBox("Follow playback")
        vform.addRow(self.heatmap)
        vform.addRow(self.follow)
        layout.addWidget(view)

        notes = QtWidgets.QGroupBox("Notes")
        nform = QtWidgets.QFormLayout(notes)
        self.a4 = QtWidgets.QDoubleSpinBox()
        self.a4.setObjectName("a4Reference")
        self.a4.setRange(*A4_RANGE_HZ)
        self.a4.setDecimals(1)
        self.a4.setSingleStep(1.0)
        self.a4.setSuffix(" Hz")
        self.a4.setKeyboardTracking(False)  # typing "415" renames the notes once, not at "4" and "41"
        self.a4.setToolTip(
            "Reference pitch of A4: the notes' names and deviations (cents) are taken from the equal-tempered grid "
            "for it. Shows the current file's; a change applies to it (Ctrl+Z undoes it), is saved with its "
            "corrections, used by its notes/MIDI exports (as pesto --a4) and by the files analysed next"
        )
        nform.addRow("A4 reference:", self.a4)
        layout.addWidget(notes)
        layout.addStretch(1)

        self._restore()
        self._last_model_index = self.model.currentIndex()
        self.model.activated.connect(self._on_model)
        self.step.valueChanged.connect(self._changed)
        self.reduction.currentIndexChanged.connect(self._changed)
        self.viterbi.toggled.connect(self._changed)
        self.device.currentIndexChanged.connect(self._changed)
        self.channel.currentIndexChanged.connect(
            lambda i: self.channel_changed.emit(self.channel.itemData(i) if i >= 0 else -1)
        )
        self.gate.valueChanged.connect(self._on_gate)
        self.heatmap.toggled.connect(self._on_heatmap)
        self.follow.toggled.connect(self._on_follow)
        self.refined.toggled.connect(self._on_refined)
        self.analyse_on_open.toggled.connect(lambda on: self.settings.set("analyse_on_open", on))
        self.a4.valueChanged.connect(self._on_a4)
        self._on_gate(self.gate.value(), emit=False)
        self._device_probe.start()

    # ------------------------------------------------------------------------------------------------ values
    def analysis_settings(self) -> AnalysisSettings:
        return AnalysisSettings(
            model=self.model.currentData() or file_model_name(),
            step_ms=self.step.value(),
            reduction=self.reduction.currentText(),
            device=self.device.currentData(),
            viterbi=self.viterbi.isChecked(),
        )

    def set_analysis_settings(self, s: AnalysisSettings) -> None:
        """Show ``s`` (e.g. set by a test or restored); emits ``analysis_changed`` once."""
        self.blockSignals(True)
        for w in (self.model, self.step, self.reduction, self.device, self.viterbi):
            w.blockSignals(True)
        try:
            self._select_model(s.model)
            self.step.setValue(s.step_ms)
            self.reduction.setCurrentText(s.reduction)
            self.viterbi.setChecked(s.viterbi)
            i = self.device.findData(s.device)
            self.device.setCurrentIndex(max(i, 0))
        finally:
            for w in (self.model, self.step, self.reduction, self.device, self.viterbi):
                w.blockSignals(False)
            self.blockSignals(False)
        self._changed()

    @property
    def gate_value(self) -> float:
        return self.gate.value() / 100.0

    @property
    def a4_value(self) -> float:
        """The reference shown (Hz)."""
        return float(self.a4.value())

    def show_a4(self, a4_hz: float) -> None:
        """Show the reference of the notes drawn (another file, an undo): neither emitted nor remembered."""
        self.a4.blockSignals(True)
        try:
            self.a4.setValue(float(a4_hz))
        finally:
            self.a4.blockSignals(False)

    def set_channels(self, channels: int, current: Optional[int]) -> None:
        """Fill the channel choice for a file with ``channels`` channels (0: no file)."""
        self.channel.blockSignals(True)
        self.channel.clear()
        if channels > 1:
            self.channel.addItem("Mix to mono", -1)
            for c in range(channels):
                self.channel.addItem(f"Channel {c + 1}", c)
            self.channel.setCurrentIndex(0 if current is None else current + 1)
        else:
            self.channel.addItem("Mono" if channels == 1 else "-", -1)
        self.channel.setEnabled(channels > 1)
        self.channel.blockSignals(False)

    # ------------------------------------------------------------------------------------------------ internals
    def _select_model(self, model: str) -> None:
        i = self.model.findData(model)
        if i < 0:
            self.model.insertItem(self.model.count() - 1, os.path.basename(model), model)
            self.model.setItemData(self.model.count() - 2, model, QtCore.Qt.ToolTipRole)
            i = self.model.count() - 2
        self.model.setCurrentIndex(i)
        self._last_model_index = i

    def _on_model(self, index: int) -> None:
        if self.model.itemData(index) is None:  # "Checkpoint file..."
            path, _ = QtWidgets.QFileDialog.getOpenFileName(
                self, "PESTO checkpoint", "", "Checkpoints (*.pt *.ckpt);;All files (*)"
            )
            if not path:
                self.model.setCurrentIndex(self._last_model_index)
                return
            self._select_model(path)
        self._last_model_index = self.model.currentIndex()
        self._changed()

    def _changed(self, *_):
        s = self.analysis_settings()
        q = self.settings
        q.set("model", s.model)
        q.set("step_ms", s.step_ms)
        q.set("reduction", s.reduction)
        q.set("device", s.device)
        q.set("viterbi", s.viterbi)
        self._enable_viterbi()
        self.analysis_changed.emit()

    def _enable_viterbi(self) -> None:
        # the tracker replaces the alwa reduction only: with argmax / mean the box shows it does not apply
        self.viterbi.setEnabled(self.reduction.currentText() == "alwa")

    def _on_gate(self, value: int, emit: bool = True) -> None:
        self.gate_label.setText(f"{value / 100:.2f}")
        self.settings.set("gate", value / 100)
        if emit:
            self.gate_changed.emit(value / 100)

    def _on_heatmap(self, on: bool) -> None:
        self.settings.set("heatmap", on)
        self.heatmap_toggled.emit(on)

    def _on_refined(self, on: bool) -> None:
        self.settings.set("refined", on)
        self.refined_toggled.emit(on)

    def _on_a4(self, value: float) -> None:
        self.settings.set("a4_hz", float(value))  # the reference of the next sessions' analyses
        self.a4_changed.emit(float(value))

    def _on_follow(self, on: bool) -> None:
        self.settings.set("follow", on)
        self.follow_toggled.emit(on)

    def _on_devices_found(self, devices) -> None:
        """The engine's devices are known (GUI thread): offer them, and select the one remembered if it is there."""
        self.device.blockSignals(True)
        try:
            for dev in devices:
                if self.device.findData(dev) < 0:
                    self.device.addItem("CPU" if dev == "cpu" else f"GPU ({dev})", dev)
            wanted = self.settings.get("device", "cpu")
            i = self.device.findData(wanted)
            changed = i >= 0 and i != self.device.currentIndex()
            if changed:
                self.device.setCurrentIndex(i)
        finally:
            self.device.blockSignals(False)
        if changed:
            self._changed()

    def _restore(self) -> None:
        q = self.settings
        model = q.get("model", file_model_name()) or file_model_name()
        if model not in bundled_models() and not os.path.isfile(model):
            model = bundled_models()[0]  # a checkpoint that moved away
        self._select_model(model)
        self.step.setValue(q.get("step_ms", 10.0))
        reduction = q.get("reduction", "alwa")
        self.reduction.setCurrentText(reduction if reduction in REDUCTIONS else "alwa")
        self.viterbi.setChecked(bool(q.get("viterbi", FILE_VITERBI)))
        self._enable_viterbi()
        i = self.device.findData(q.get("device", "cpu"))
        self.device.setCurrentIndex(max(i, 0))
        self.gate.setValue(int(round(100 * min(max(q.get("gate", 0.5), 0.0), 1.0))))
        self.heatmap.setChecked(q.get("heatmap", True))
        self.follow.setChecked(q.get("follow", True))
        self.refined.setChecked(q.get("refined", True))
        self.analyse_on_open.setChecked(q.get("analyse_on_open", True))
        lo, hi = A4_RANGE_HZ
        self.a4.setValue(min(hi, max(lo, q.get("a4_hz", 440.0))))  # (a hand-edited file may hold anything)
        self.set_channels(0, None)
