"""Recording a live session: WAV + the CLI's CSV/NPZ, aligned, atomic, errors named."""

import threading
import time

import numpy as np
import pytest
import soundfile as sf

from app.live.recording import SessionRecorder
from app.live.ringbuffer import RingBuffer
from app.live.worker import LiveWorker
from pesto_core.errors import OutputError
from pesto_core.stream import PitchStream
from pesto_core.writers import csv_bytes
from tests.app.live_audio import synth_melody

SR = 16000


def run_session(signal, record_from, record_to):
    """Feed `signal` through a worker, recording samples [record_from, record_to) (absolute cursors)."""
    ring = RingBuffer(len(signal) + SR)
    wakeup = threading.Event()
    worker = LiveWorker(ring, wakeup, lambda: PitchStream(sr=SR, step_ms=10.0), start_cursor=0)
    worker.start()
    while not worker.ready:
        time.sleep(0.01)
    rec = SessionRecorder(SR, 160, 10.0, "mir-1k_g7", "alwa", record_from, decoding="alwa, live (mirror=1)")
    worker.recorder = rec
    ring.write(signal)
    wakeup.set()
    rec.request_stop(record_to)
    assert rec.wait_finished(20)
    worker.stop()
    return rec


def test_saved_session_matches_audio_and_frames(tmp_path):
    x = synth_melody(SR)[0]
    rec = run_session(x, 8000, 8000 + 3 * SR)
    written = rec.save(tmp_path / "take")
    names = sorted(p.name for p in written)
    assert names == ["take.f0.csv", "take.f0.npz", "take.wav"]
    audio, sr = sf.read(tmp_path / "take.wav", dtype="float32")
    assert sr == SR
    np.testing.assert_array_equal(audio, x[8000 : 8000 + 3 * SR])
    track = rec.track()
    # frames centred inside the recording, times from its first sample, one per hop, every one of them
    assert track.time_s[0] >= 0 and track.time_s[-1] < 3.0
    np.testing.assert_allclose(np.diff(track.time_s), 0.01, atol=1e-9)
    assert len(track) == 300
    # the live engine's values for those frames
    ref = PitchStream(sr=SR, step_ms=10.0).push(x[: 8000 + 3 * SR + 160])
    centre = np.round(ref.time_s * SR).astype(int)
    sel = (centre >= 8000) & (centre < 8000 + 3 * SR)
    np.testing.assert_allclose(track.pitch_semitones, ref.pitch_semitones[sel], atol=1e-3)
    # the CSV is byte for byte what the CLI's writer makes of that track; the NPZ has the CLI's keys
    assert (tmp_path / "take.f0.csv").read_bytes() == csv_bytes(track)
    with np.load(tmp_path / "take.f0.npz") as z:
        assert {"timesteps", "pitch", "confidence", "volume", "activations", "sr", "hop_length"} <= set(z.files)
        assert z["activations"].shape == (300, 384) and int(z["sr"]) == SR
    assert not list(tmp_path.glob("*.part"))
    rec.discard()


def test_unwritable_destination_is_a_named_error(tmp_path):
    rec = run_session(np.zeros(SR, np.float32), 0, SR // 2)
    target = tmp_path / "not-a-dir"
    target.write_text("a file where a folder should be")
    with pytest.raises(OutputError) as e:
        rec.save(target / "take")
    assert "not-a-dir" in str(e.value)
    assert not list(tmp_path.glob("**/*.part"))
    written = rec.save(tmp_path / "retry")  # the recording is still there for another try
    assert len(written) == 3
    rec.discard()


@pytest.mark.parametrize("refine", [True, False])
def test_recorded_decoding_says_what_the_stream_does(refine):
    """The NPZ's ``decoding`` of a live recording names the refinement when the engine refines (the default)."""
    from app.live.session import LiveSession

    session = LiveSession()
    ring = RingBuffer(4 * SR)
    wakeup = threading.Event()
    mirror = session.config.mirror  # the live preset's latency mode
    make = lambda: PitchStream(sr=SR, step_ms=10.0, refine=refine, mirror=mirror)  # noqa: E731
    session.worker = LiveWorker(ring, wakeup, make, start_cursor=0)
    session.worker.start()
    deadline = time.monotonic() + 60
    while not session.worker.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    assert session.start_recording(), session.messages
    rec = session.recorder
    assert mirror == 0.95 and rec.decoding == ("alwa+refine" if refine else "alwa") + ", live (mirror=0.95)"
    melody = synth_melody(SR)[0]
    ring.write(melody[:SR])
    wakeup.set()
    while session.worker.cursor < SR // 2 and time.monotonic() < deadline:  # half a second analysed
        time.sleep(0.01)
    session.stop_recording(ask_save=False)
    ring.write(melody[SR : 2 * SR])  # audio after the stop, so that the engine's latency can pass (whatever the load)
    wakeup.set()
    assert rec.wait_finished(20)
    assert rec.track().decoding == rec.decoding and len(rec.track()) > 0
    session.worker.stop()
    rec.discard()
