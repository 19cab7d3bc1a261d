"""The Live tab's status-bar widgets: device and rate, hop, engine load, latency, overflows/drops, recording.

GUI thread only.
"""

from __future__ import annotations

from typing import List

from PySide6 import QtWidgets

from .session import LiveSession


class LiveStatus:
    """Labels the main window places in its status bar; :meth:`show` fills them from a session."""

    def __init__(self):
        self.device = QtWidgets.QLabel("Live: stopped")
        self.hop = QtWidgets.QLabel("")
        self.compute = QtWidgets.QLabel("")
        self.latency = QtWidgets.QLabel("")
        self.counters = QtWidgets.QLabel("")
        self.record = QtWidgets.QLabel("")
        self.record.setStyleSheet("color: #ff5050; font-weight: bold;")
        tips = {
            self.device: "Input device and sample rate",
            self.hop: "Hop between frames",
            self.compute: "Engine time per hop (and share of real time)",
            self.latency: "From a sample's arrival in the audio callback to its point on screen: median "
            "(99th percentile) over the last seconds",
            self.counters: "Input overflows reported by the device / frames dropped because the engine fell behind",
            self.record: "Recording",
        }
        for label, tip in tips.items():
            label.setToolTip(tip)

    def widgets(self) -> List[QtWidgets.QWidget]:
        return [self.device, self.hop, self.compute, self.latency, self.counters, self.record]

    def starting(self, device_name: str, sr: int) -> None:
        self.device.setText(f"{device_name} \u00b7 {sr} Hz \u00b7 starting\u2026")

    def ready(self, device_name: str, sr: int) -> None:
        self.device.setText(f"{device_name} \u00b7 {sr} Hz")

    def show(self, session: LiveSession) -> None:
        """What the session is doing now."""
        w, info = session.worker, session.info
        if w is None or info is None:
            self.device.setText("Live: stopped" if not session.portaudio_error else "Live: unavailable")
            for label in (self.hop, self.compute, self.latency, self.counters, self.record):
                label.setText("")
            return
        if w.ready:
            step = 1000.0 * w.hop_length / w.sr
            self.hop.setText(f"hop {w.hop_length} ({step:g} ms)")
            self.compute.setText(f"engine {1000 * w.compute_s_per_hop:.1f} ms/hop ({100 * w.load:.0f}%)")
        lat = session.latency_summary()
        self.latency.setText(
            "latency \u2013" if lat is None else f"latency {1000 * lat[0]:.0f} ms (p99 {1000 * lat[1]:.0f})"
        )
        self.counters.setText(f"overflows {session.capture.overflows} \u00b7 dropped {w.dropped_frames}")
        rec = session.recorder
        if rec is not None:
            secs = int(rec.duration_s)
            self.record.setText(f"\u25cf REC {secs // 60}:{secs % 60:02d}")
        else:
            self.record.setText("")
