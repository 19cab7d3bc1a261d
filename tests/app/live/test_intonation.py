"""The live notes (app/live/intonation.py) and the note strip (app/live/note_strip.py), without an audio server:
frames fed through LiveSession.ingest as the worker would publish them give the same notes as the offline
segmentation, the current note's running measures, and the strip's chips."""

import time

import numpy as np
import pytest

from app.live.intonation import LiveNotes, steadiness_word
from app.live.worker import LiveFrames
from pesto_core.notes import segment_arrays

STEP_S = 0.01


def melody_frames(cents=(0.0, -30.0, 12.0), seconds=0.6, rest=0.3):
    """Frames of three held notes (A3, C4, E4 offset by ``cents``) separated by rests: (t, pitch, voiced, volume,
    confidence), arrays (n,)."""
    pitch, voiced = [], []
    for midi, c in zip((57, 60, 64), cents):
        pitch += [np.nan] * int(rest / STEP_S) + [midi + c / 100.0] * int(seconds / STEP_S)
        voiced += [False] * int(rest / STEP_S) + [True] * int(seconds / STEP_S)
    pitch += [np.nan] * int(rest / STEP_S)
    voiced += [False] * int(rest / STEP_S)
    n = len(pitch)
    t = np.arange(n) * STEP_S
    voiced = np.array(voiced)
    conf = np.where(voiced, 0.95, 0.05).astype(np.float32)
    vol = np.where(voiced, 1e-2, 1e-7).astype(np.float32)
    return t, np.array(pitch, np.float32), voiced, vol, conf


def batches(t, p, v, vol, c, size=2):
    for a in range(0, len(t), size):
        s = slice(a, a + size)
        n = len(t[s])
        yield LiveFrames(
            time_s=t[s],
            centre=(t[s] * 48000).astype(np.int64),
            pitch_semitones=p[s],
            confidence=c[s],
            volume=vol[s],
            activations=np.zeros((n, 384), np.float32),
            arrival_s=np.full(n, time.monotonic()),
            published_s=time.monotonic(),
            compute_s=0.0,
            hops=n,
            voiced=v[s],
        )


def test_live_notes_equal_offline_and_current_note_measures():
    t, p, v, vol, c = melody_frames()
    live = LiveNotes(STEP_S)
    currents = []
    for a in range(0, len(t), 2):
        live.feed(t[a : a + 2], p[a : a + 2], v[a : a + 2], vol[a : a + 2], c[a : a + 2])
        currents.append(live.current)
    live.finish()
    offline = segment_arrays(t, p, v, vol, c, step_s=STEP_S)
    assert list(live.notes) == offline
    assert [n.name for n in live.notes] == ["A3", "C4", "E4"]
    assert [round(n.deviation_cents) for n in live.notes] == [0, -30, 12]
    held = [x for x in currents if x is not None and x.name == "C4"]
    assert held and held[-1].held_s == pytest.approx(0.6, abs=0.05)
    assert held[-1].deviation_cents == pytest.approx(-30, abs=0.5) and held[-1].steadiness_cents < 1
    assert steadiness_word(held[-1].steadiness_cents) == "steady"
    assert live.current is None  # finished: silence
    assert live.recent(2) == list(live.notes)[-2:]


def test_session_ingest_feeds_the_strip(qtbot):
    from app.live.session import LiveSession
    from app.live.view import LiveView

    session = LiveSession()
    view = LiveView(session)
    qtbot.addWidget(view)
    view.resize(1000, 500)
    view.show()
    t, p, v, vol, c = melody_frames()
    mid = int(1.5 / STEP_S)  # in the middle of the C4
    frames = list(batches(t, p, v, vol, c))
    session.ingest(frames[: mid // 2])
    view.redraw()
    assert view.note_strip.current_text().startswith("C4 \u221230\u00a2 \u00b7 held")
    assert view.note_strip.shown_notes() == [("A3", pytest.approx(0.0, abs=0.5))]
    changes = session.live_notes.changes
    session.ingest(frames[mid // 2 :])
    session.live_notes.finish()
    assert session.live_notes.changes > changes
    view.update_notes()
    names = [name for name, _ in view.note_strip.shown_notes()]
    assert names == ["A3", "C4", "E4"] and view.note_strip.current_text() == ""
    session.set_tuning(440.0, 2)  # a B-flat instrument: the strip names the written notes, as the tuner
    view.update_notes()
    assert [name for name, _ in view.note_strip.shown_notes()] == ["B3", "D4", "F#4"]
    assert len(session.live_notes.notes) == 3  # the same notes (A4 unchanged)
    view.note_strip.repaint()  # paints without error, with chips
    image = view.note_strip.grab().toImage()
    assert image.width() > 500
