"""Playback of the File tab on a real output device: the PulseAudio null sink that ``tests/run.sh`` starts (reached
through PortAudio's ALSA ``default``/``pulse`` device). Skipped, with the reason, only where no audio server or no
PortAudio is available. The "no PortAudio" case itself is a fault that cannot be produced on a machine that has it,
so that one is simulated."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from PySide6 import QtCore

from app.file import player as player_mod
from app.file.player import Player
from tests.app.file_helpers import copy_data, file_panel, wait_idle, write_tone  # noqa: F401 (fixture)


def _audio_server_reason():
    sd, reason = player_mod.load_sounddevice()
    if sd is None:
        return reason
    if shutil.which("pactl") is None:
        return "no PulseAudio client (pactl) on this machine"
    if subprocess.run(["pactl", "info"], capture_output=True, timeout=10).returncode != 0:
        return "no PulseAudio server running (tests/run.sh starts one)"
    problem = player_mod.default_output_problem(sd)
    return problem


needs_audio = pytest.mark.skipif(bool(_audio_server_reason()), reason=str(_audio_server_reason()))


def _sink_input_count() -> int:
    out = subprocess.run(["pactl", "list", "short", "sink-inputs"], capture_output=True, text=True, timeout=10)
    return len([line for line in out.stdout.splitlines() if line.strip()])


@needs_audio
def test_cursor_moves_while_audio_plays(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    audio = write_tone(tmp_path / "tone.wav", 8.0, sr=44100, channels=2)
    panel.settings_box.analyse_on_open.setChecked(False)
    doc = panel.open_files([str(audio)])[0]
    assert panel.player.available, panel.player.reason
    before = _sink_input_count()
    panel.seek(1.0)
    panel.view.setFocus()
    qtbot.keyClick(panel.view, QtCore.Qt.Key_Space)  # Space: play (File-tab shortcut)
    assert panel.player.playing, panel.player.error
    # the stream is a real client of the audio server
    qtbot.waitUntil(lambda: _sink_input_count() > before, timeout=5000)
    # the cursor leaves 1.0 s and keeps moving (the null sink consumes audio in real time; its start may lag)
    qtbot.waitUntil(lambda: panel.view.playhead.value() > 1.2, timeout=8000)
    t0, w0 = panel.view.playhead.value(), time.monotonic()
    qtbot.wait(800)
    t1, w1 = panel.view.playhead.value(), time.monotonic()
    assert 0.3 * (w1 - w0) < t1 - t0 < 1.5 * (w1 - w0) + 0.2  # about real time
    assert panel.view.waveform.playhead.value() == pytest.approx(t1, abs=0.1)
    assert doc.playhead_s == pytest.approx(t1, abs=0.1)
    # click-to-seek while playing: the cursor jumps and goes on from there
    panel.seek(6.0)
    qtbot.waitUntil(lambda: panel.view.playhead.value() >= 6.0, timeout=3000)
    # Space again: pause, the cursor stops
    qtbot.keyClick(panel.view, QtCore.Qt.Key_Space)
    assert not panel.player.playing
    stopped = panel.view.playhead.value()
    qtbot.wait(300)
    assert panel.view.playhead.value() == pytest.approx(stopped, abs=1e-6)


@needs_audio
def test_view_follows_playback(qtbot, file_panel, tmp_path):  # noqa: F811
    _, panel = file_panel
    audio = write_tone(tmp_path / "tone.wav", 6.0, sr=22050)
    panel.settings_box.analyse_on_open.setChecked(False)
    panel.open_files([str(audio)])
    panel.view.pitch.setXRange(0.0, 1.0, padding=0)
    assert panel.play(0.8)
    qtbot.waitUntil(lambda: panel.view.visible_range()[0] > 0.5, timeout=8000)  # paged forward
    panel.player.pause()


@needs_audio
def test_player_plays_to_the_end(qtbot, tmp_path):
    audio = write_tone(tmp_path / "short.wav", 1.0, sr=16000)
    p = Player()
    p.load(audio)
    assert p.play(0.5), p.error
    qtbot.waitUntil(lambda: not p.playing or p.position_s() >= 1.0, timeout=8000)
    qtbot.waitUntil(lambda: (p.position_s(), not p.playing)[1], timeout=8000)
    assert p.position_s() == pytest.approx(1.0, abs=1e-3)  # parked at the end
    p.close()


def test_no_portaudio_disables_playback_with_the_reason(qtbot, file_panel, tmp_path, monkeypatch):  # noqa: F811
    """Simulated fault: the PortAudio library missing (sounddevice raises OSError on import)."""
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    p = Player()
    assert not p.available and "PortAudio library not found" in p.reason and "libportaudio2" in p.reason
    assert not p.play()
    monkeypatch.setattr(builtins, "__import__", real_import)

    # the panel: play disabled with the reason; analysis still works
    _, panel = file_panel
    panel.playback.player = p
    audio = copy_data("synth_16k.wav", tmp_path)
    doc = panel.open_files([str(audio)])[0]
    wait_idle(qtbot, panel)
    assert doc.complete
    assert not panel.act_play.isEnabled() and "PortAudio" in panel.act_play.toolTip()
    panel.toggle_play()
    assert panel.messages[-1][0] == "warning" and "PortAudio" in panel.messages[-1][1]
