"""End to end on a real virtual microphone: a known melody played into PulseAudio's null sink reaches the app
through PortAudio exactly as a microphone would; the app's own results are checked against what was played.
Also the faults that can be produced for real: the device removed mid-run, an unsupported sample rate, no input
device at all, an engine slower than real time.

Needs the PulseAudio server that tests/run.sh starts (null sink ``vsink``, source ``vmic``, both defaults).
"""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6 import QtCore

from pesto_core.presets import LIVE_DEFAULTS
from tests.app.live_audio import (
    NOTES_IN_ORDER,
    align,
    boundary_distance,
    play,
    pulse_problem,
    remove_virtual_mic,
    restore_virtual_mic,
    synth_melody,
    true_pitch,
)

PROBLEM = pulse_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f"no virtual microphone: {PROBLEM}")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
NOTE_TOLERANCE_CENTS = 15.0  # a held note of the live strip vs the (exactly tuned) melody


@pytest.fixture
def window(qtbot, tmp_path):
    QtCore.QSettings.setPath(QtCore.QSettings.IniFormat, QtCore.QSettings.UserScope, str(tmp_path / "config"))
    restore_virtual_mic()
    from app.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1280, 760)
    w.show()
    yield w
    w.close()
    restore_virtual_mic()


def start_live(qtbot, panel, sr=48000):
    panel.rate_combo.setCurrentIndex(panel.rate_combo.findData(sr))
    panel.step_combo.setCurrentIndex(panel.step_combo.findData(10.0))
    # the Live tab's default latency mode is the live preset's (Standard, mirror 0.95), and the tests run it
    default = panel.latency_combo.findData(LIVE_DEFAULTS["mirror"])
    assert default >= 0 and panel.latency_combo.itemText(default) == "Standard"
    panel.latency_combo.setCurrentIndex(default)
    panel.device_combo.setCurrentIndex(0)  # the system default input: vmic
    assert panel.start(), panel.messages
    # PulseAudio through ALSA takes ~1.5 s to deliver the first block
    session = panel.session
    qtbot.waitUntil(
        lambda: session.worker is not None and session.worker.ready and session.capture.callbacks > 5, timeout=15000
    )


def test_melody_is_tracked_readout_names_notes_and_session_is_recorded(qtbot, window, tmp_path):
    panel = window.panel("LivePanel")
    panel.heatmap_check.setChecked(True)
    start_live(qtbot, panel)
    x, duration = synth_melody(48000)
    wav = tmp_path / "melody.wav"
    sf.write(wav, x, 48000, subtype="FLOAT")
    panel.record_button.click()
    assert panel.session.recorder is not None
    qtbot.wait(300)
    player = play(str(wav))
    qtbot.wait(int(duration * 1000 * 0.6))
    ARTIFACTS.mkdir(exist_ok=True)
    window.grab().save(str(ARTIFACTS / "live_melody_playing.png"))
    qtbot.waitUntil(lambda: player.poll() is not None, timeout=int(duration * 1000) + 10000)
    qtbot.wait(700)  # the last rest, and the engine's latency
    window.grab().save(str(ARTIFACTS / "live_melody.png"))
    saved_stem = tmp_path / "session"
    panel.ask_save_path = lambda default: str(saved_stem) + ".wav"
    panel.record_button.click()  # stop recording: saved through the (replaced) dialog
    qtbot.waitUntil(lambda: Path(str(saved_stem) + ".f0.npz").exists(), timeout=5000)
    assert panel.session.unsaved_recorder is None and panel.messages[-1][1].startswith("Saved session.wav")

    h = panel.session.history
    t, p = h.time_s.copy(), h.pitch_semitones.astype(np.float64)
    voiced = h.voiced.copy()  # the engine's decision, as the curve draws it
    offset = align(t, p, voiced, (h.start_s - 1.0, h.end_s - duration + 0.5))
    mt = t - offset  # melody time of each frame
    truth = true_pitch(mt)
    inside = (mt >= 0) & (mt < duration)
    steady = np.isfinite(truth) & (boundary_distance(mt) > 0.05)
    good = voiced & (np.abs(p - np.nan_to_num(truth)) <= 0.20)  # within 20 cents
    accuracy = good[steady].mean()
    rests = inside & ~np.isfinite(truth) & (boundary_distance(mt) > 0.1)
    gaps = (~voiced[rests]).mean()
    report = dict(
        offset_s=offset,
        voiced_frames=int(steady.sum()),
        within_20_cents=float(accuracy),
        rest_frames=int(rests.sum()),
        rests_as_gaps=float(gaps),
        latency_ms_median=(1000 * float(np.median(panel.session.latencies_s)) if panel.session.latencies_s else None),
    )
    (ARTIFACTS / "live_melody.json").write_text(json.dumps(report, indent=2))
    assert steady.sum() > 300 and rests.sum() > 60
    assert accuracy >= 0.90, report
    assert gaps >= 0.90, report
    # the readout named the melody's notes, in order
    names = [name for ts, name in panel.session.readout_log if name is not None and 0 <= ts - offset < duration]
    it = iter(names)
    assert all(any(n == want for n in it) for want in NOTES_IN_ORDER), names
    assert panel.session.tuner_filter.reading is None  # blank in the silence after the melody
    # the note strip: the melody's held notes, in order, each within NOTE_TOLERANCE_CENTS of in tune (the synth is
    # exactly in tune), and the current note blank in the silence after it
    sung = [n for n in panel.session.live_notes.notes if 0 <= n.onset_s - offset < duration]
    held = [n for n in sung if n.duration_s >= 0.4]
    report["notes"] = [
        (n.name, round(n.onset_s - offset, 3), round(n.duration_s, 3), round(n.deviation_cents, 1)) for n in sung
    ]
    (ARTIFACTS / "live_melody.json").write_text(json.dumps(report, indent=2))
    assert [n.name.replace("#", "\u266f") for n in held] == NOTES_IN_ORDER, report["notes"]
    assert all(abs(n.deviation_cents) <= NOTE_TOLERANCE_CENTS for n in held), report["notes"]
    strip = panel.view.note_strip.shown_notes()
    chips = iter(strip)  # every held note is on the strip, in order, with its deviation
    assert all(any(chip == (n.name, n.deviation_cents) for chip in chips) for n in held), strip
    assert panel.view.note_strip.current_text() == ""
    assert len(panel.session.latencies_s) > 0 and all(0 < v < 10 for v in list(panel.session.latencies_s)[:100])
    # the recording: WAV + the CLI's CSV/NPZ
    audio, sr = sf.read(str(saved_stem) + ".wav", dtype="float32")
    assert sr == 48000 and len(audio) > duration * sr
    assert np.sqrt(np.mean(audio**2)) > 0.01  # the melody is in it
    csv_lines = Path(str(saved_stem) + ".f0.csv").read_text().splitlines()
    assert csv_lines[0] == "time,frequency,confidence"
    with np.load(str(saved_stem) + ".f0.npz") as z:
        assert len(z["timesteps"]) == len(csv_lines) - 1 and z["activations"].shape[1] == 384
        assert str(z["pitch_unit"]) == "Hz" and int(z["sr"]) == 48000
        # the melody's notes are in the recorded pitch too
        f0, conf = z["pitch"], z["confidence"]
        for midi in (57, 64, 69, 66):
            hz = 440.0 * 2 ** ((midi - 69) / 12)
            assert np.sum((conf >= 0.5) & (np.abs(1200 * np.log2(np.maximum(f0, 1) / hz)) < 20)) > 30
    panel.stop()


def test_device_removed_mid_run_then_restart(qtbot, window):
    panel = window.panel("LivePanel")
    start_live(qtbot, panel)
    remove_virtual_mic()  # for real: PulseAudio kills the recording stream
    qtbot.waitUntil(lambda: not panel.running, timeout=10000)
    level, text = panel.messages[-1]
    assert level == "error" and ("stopped" in text or "failed" in text) and "Start" in text
    assert window.isVisible()
    # without the device, Start fails with a message, not an exception
    assert panel.start() is False
    assert panel.messages[-1][0] == "error"
    restore_virtual_mic()
    start_live(qtbot, panel)
    assert panel.running
    panel.stop()


def test_unsupported_sample_rate_falls_back(qtbot, window):
    panel = window.panel("LivePanel")
    panel.rate_combo.addItem("1000000 Hz", 1000000)
    panel.rate_combo.setCurrentIndex(panel.rate_combo.count() - 1)
    assert panel.start()
    level, text = panel.messages[-1]
    assert level == "warning" and "1000000 Hz" in text and "default rate" in text
    qtbot.waitUntil(lambda: panel.session.worker.ready and len(panel.session.history) > 20, timeout=15000)
    assert panel.session.capture.info.sr != 1000000 and panel.session.worker.sr == panel.session.capture.info.sr
    panel.stop()


def test_engine_slower_than_real_time_warns(qtbot, window):
    from pesto_core.stream import PitchStream

    class Slow:
        def __init__(self, sr):
            self.inner = PitchStream(sr=sr, step_ms=10.0)
            self.sr, self.hop_length, self.latency_samples = sr, self.inner.hop_length, self.inner.latency_samples

        def push(self, block):
            time.sleep(2.0 * len(block) / self.sr)  # twice real time
            return self.inner.push(block)

        def reset(self):
            self.inner.reset()

    panel = window.panel("LivePanel")
    panel.session.stream_factory = lambda sr, step_ms, mirror, refine, cache: lambda: Slow(sr)
    panel.session.capture.ring_seconds = 0.6
    start_live(qtbot, panel, sr=16000)
    qtbot.waitUntil(lambda: panel.session.worker is not None and panel.session.worker.dropped_frames > 0, timeout=15000)
    qtbot.wait(300)
    assert any("slower than real time" in text for level, text in panel.messages if level == "warning")
    assert panel.running  # it keeps going, with bounded latency
    assert panel.session.worker.backlog_s <= 0.7
    assert "dropped" in panel.status_counters.text() and "dropped 0" not in panel.status_counters.text()
    panel.stop()


def test_no_input_device_gives_a_message(tmp_path):
    """A process that reaches no audio server and no sound card: PortAudio lists no input device. Real, not
    mocked: the same PortAudio on a machine without a microphone."""
    env = dict(
        os.environ,
        XDG_RUNTIME_DIR=str(tmp_path),
        PULSE_SERVER="unix:/nonexistent/pulse",
        QT_QPA_PLATFORM="offscreen",
        HOME=str(tmp_path),
    )
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sounddevice as sd; print(sum(d['max_input_channels'] > 0 for d in sd.query_devices()))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0 or probe.stdout.strip() != "0":
        pytest.skip(f"this machine has audio inputs besides PulseAudio ({probe.stdout.strip()} found)")
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})
        from PySide6 import QtWidgets
        app = QtWidgets.QApplication([])
        from app.live.panel import LivePanel
        from app.common.settings import Settings
        panel = LivePanel(settings=Settings("live", path={str(tmp_path / "s.ini")!r}))
        ok = panel.start()
        print(json.dumps(dict(ok=ok, messages=panel.messages, enabled=panel.start_button.isEnabled())))
        panel.shutdown()
    """)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["ok"] is False
    assert any("No audio input device found" in text for _, text in res["messages"])


def test_tuner_readout_on_a_fast_run_and_a_glide_never_lies(qtbot, window):
    """What the tuner widget shows while a fast run (100 ms notes) and a glide over a fifth are played into the
    microphone: every reading names a note within +-50 cents, the note + cents it shows is where the pitch was a
    moment before (the 50 ms smoothing and the latency), and the run's notes are named in order."""
    from tests.app.live_audio import RUN, RUN_NOTES_IN_ORDER

    panel = window.panel("LivePanel")
    shown = []  # (session time of the reading, note, cents), as the widget received them
    tuner = panel.view.tuner
    original = tuner.set_reading

    def record(reading):
        if reading is not None:
            shown.append((reading.time_s, reading.note, reading.cents))
        original(reading)

    tuner.set_reading = record
    start_live(qtbot, panel)
    x, duration = synth_melody(48000, melody=RUN)
    wav = Path(os.environ.get("TMPDIR", "/tmp")) / f"run-{os.getpid()}.wav"
    sf.write(wav, x, 48000, subtype="FLOAT")
    try:
        qtbot.wait(300)
        player = play(str(wav))
        qtbot.waitUntil(lambda: player.poll() is not None, timeout=int(duration * 1000) + 10000)
        qtbot.wait(700)
    finally:
        wav.unlink()
    h = panel.session.history
    voiced = h.voiced
    offset = align(h.time_s, h.pitch_semitones.astype(np.float64), voiced, (h.start_s - 1.0, h.end_s), melody=RUN)
    log = [(ts, name) for ts, name in panel.session.readout_log]
    (ARTIFACTS / "live_run_tuner.json").write_text(json.dumps(dict(offset_s=offset, shown=shown, log=log)))
    assert shown, "the tuner showed nothing"
    for t, note, cents in shown:
        assert -50.0 <= cents <= 50.0
        mt = t - offset
        recent = true_pitch(np.linspace(mt - 0.12, mt, 25), RUN)  # where the pitch was over the last 120 ms
        recent = recent[np.isfinite(recent)]
        if len(recent):
            shown_pitch = note + cents / 100.0
            assert recent.min() - 0.3 <= shown_pitch <= recent.max() + 0.3, (mt, note, cents, recent)
    names = [name for ts, name in panel.session.readout_log if name is not None and 0 <= ts - offset < duration]
    it = iter(names)
    assert all(any(n == want for n in it) for want in RUN_NOTES_IN_ORDER), names
    panel.stop()
