"""The live worker with a scripted source (a test thread writing into the ring instead of PortAudio): its frames
equal the engine's own, it skips audio in a bounded way when far behind, warns when slower than real time, and
reports engine errors instead of dying."""

import threading
import time

import numpy as np
import pytest

from app.live.ringbuffer import RingBuffer
from app.live.worker import LiveFrames, LiveWorker
from pesto_core.stream import PitchStream
from tests.app.live_audio import synth_melody

SR = 16000  # a low rate keeps these tests light on a 2-core machine


@pytest.fixture(scope="module")
def melody():
    return synth_melody(SR)[0]


def collect(worker, until, timeout=20.0):
    frames, notices = [], []
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        f, n = worker.drain()
        frames += f
        notices += n
        if until(frames, notices):
            break
        time.sleep(0.01)
    return frames, notices


def concat(frames, name):
    return np.concatenate([getattr(f, name) for f in frames])


def test_scripted_source_gives_the_engines_frames(melody):
    ring = RingBuffer(SR * 3)
    wakeup = threading.Event()
    worker = LiveWorker(ring, wakeup, lambda: PitchStream(sr=SR, step_ms=10.0, mirror=1.0), start_cursor=0)
    worker.start()
    _, first = collect(worker, lambda f, n: worker.ready, timeout=30)

    def source():  # odd block sizes, faster than real time
        pos = 0
        for n in [37, 160, 1023, 5, 800] * 1000:
            if pos >= len(melody):
                break
            ring.write(melody[pos : pos + n])
            pos += n
            wakeup.set()
            time.sleep(0.002)

    th = threading.Thread(target=source)
    th.start()
    n_expected = len(melody) // 160
    frames, notices = collect(worker, lambda f, n: sum(len(x) for x in f) >= n_expected)
    th.join()
    worker.stop()
    assert [n.kind for n in first + notices] == ["ready"]
    assert all(isinstance(f, LiveFrames) for f in frames)
    ref = PitchStream(sr=SR, step_ms=10.0, mirror=1.0).push(melody[: n_expected * 160])
    n = len(ref)
    np.testing.assert_allclose(concat(frames, "time_s")[:n], ref.time_s, rtol=0, atol=1e-12)
    np.testing.assert_allclose(concat(frames, "pitch_semitones")[:n], ref.pitch_semitones, atol=1e-3)
    np.testing.assert_allclose(concat(frames, "confidence")[:n], ref.confidence, atol=1e-4)
    np.testing.assert_allclose(concat(frames, "activations")[:n], ref.activations, atol=1e-4)
    arrival = concat(frames, "arrival_s")
    assert np.isfinite(arrival).all() and np.all(np.diff(arrival) >= 0)
    assert worker.dropped_frames == 0


def test_far_behind_skips_in_bounded_way():
    """The ring fills with 10 s of audio before the worker looks: it jumps to the newest audio, counts the frames
    it skipped, and its latency (the backlog) is bounded by the ring."""
    ring = RingBuffer(SR * 1)
    wakeup = threading.Event()
    worker = LiveWorker(ring, wakeup, lambda: PitchStream(sr=SR, step_ms=10.0), start_cursor=0)
    ring.write(np.zeros(SR * 10, np.float32))  # 10 s, the ring keeps 1 s
    worker.start()
    frames, notices = collect(
        worker, lambda f, n: any(x.kind == "warning" for x in n) and worker.backlog_s < 0.1 and len(f) > 0
    )
    worker.stop()
    skipped = worker.dropped_frames
    assert 900 <= skipped <= 1000  # at least the 9 s the ring no longer held
    assert any("skipped" in n.message for n in notices if n.kind == "warning")
    t = concat(frames, "time_s")
    assert t.min() >= 9.0  # only recent audio was analysed, on the session's time axis
    assert worker.backlog_s < 0.1


class SlowStream:
    """A real engine that takes `factor` times real time (a machine too slow for the settings)."""

    def __init__(self, factor):
        self.inner = PitchStream(sr=SR, step_ms=10.0)
        self.factor = factor
        inner = self.inner
        self.sr, self.hop_length, self.latency_samples = inner.sr, inner.hop_length, inner.latency_samples

    def push(self, block):
        time.sleep(self.factor * len(block) / SR)
        return self.inner.push(block)

    def reset(self):
        self.inner.reset()


def test_slower_than_real_time_warns_and_drops_bounded():
    ring = RingBuffer(SR // 2)  # 0.5 s ring: the skip comes quickly
    wakeup = threading.Event()
    worker = LiveWorker(ring, wakeup, lambda: SlowStream(2.0), max_hops_per_push=4)
    worker.start()
    collect(worker, lambda f, n: worker.ready, timeout=30)
    stop = threading.Event()

    def source():  # real time, 10 ms blocks
        while not stop.is_set():
            ring.write(np.zeros(160, np.float32))
            wakeup.set()
            time.sleep(0.01)

    th = threading.Thread(target=source)
    th.start()
    frames, notices = collect(
        worker,
        lambda f, n: worker.dropped_frames > 0 and any("slower than real time" in x.message for x in n),
        timeout=15,
    )
    stop.set()
    th.join()
    worker.stop()
    assert any("slower than real time" in n.message for n in notices)
    assert worker.dropped_frames > 0
    assert worker.backlog_s <= 0.5 + 0.1  # never more than the ring behind


class BrokenStream(SlowStream):
    def push(self, block):
        raise RuntimeError("engine exploded")


def test_engine_error_is_reported_not_fatal():
    ring = RingBuffer(SR)
    wakeup = threading.Event()
    worker = LiveWorker(ring, wakeup, lambda: BrokenStream(0))
    worker.start()
    collect(worker, lambda f, n: worker.ready, timeout=30)
    ring.write(np.zeros(1600, np.float32))
    wakeup.set()
    frames, notices = collect(worker, lambda f, n: any(x.kind == "error" for x in n))
    assert worker.stop()
    err = [n for n in notices if n.kind == "error"]
    assert err and "engine exploded" in err[0].message and worker.failed


def test_fallback_engine_replaces_a_failing_one():
    ring = RingBuffer(SR)
    wakeup = threading.Event()
    worker = LiveWorker(
        ring,
        wakeup,
        lambda: BrokenStream(0),
        make_fallback=lambda: PitchStream(sr=SR),
        fallback_note="continuing without refinement",
    )
    worker.start()
    collect(worker, lambda f, n: worker.ready, timeout=30)
    for _ in range(10):
        ring.write(np.zeros(160, np.float32))
        wakeup.set()
        time.sleep(0.01)
    frames, notices = collect(worker, lambda f, n: sum(len(x) for x in f) >= 5)
    worker.stop()
    assert any("continuing without refinement" in n.message for n in notices)
    assert sum(len(x) for x in frames) >= 5 and not worker.failed


def test_engine_that_cannot_start_is_reported():
    def boom():
        raise ValueError("no such model")

    worker = LiveWorker(RingBuffer(100), threading.Event(), boom)
    worker.start()
    frames, notices = collect(worker, lambda f, n: bool(n))
    assert worker.stop()
    assert notices[0].kind == "error" and "no such model" in notices[0].message


class CountingStream:
    """Records the block length of every engine call (a PitchStream underneath)."""

    def __init__(self, declare_native=False):
        self.inner = PitchStream(sr=SR, step_ms=10.0, mirror=1.0)
        self.sr, self.hop_length, self.geometry = self.inner.sr, self.inner.hop_length, self.inner.geometry
        self.latency_samples = self.inner.latency_samples
        if declare_native:  # otherwise an engine that does not say (like a third-party one)
            self.native = self.inner.native
        self.calls = []

    def push(self, block):
        self.calls.append(len(block))
        return self.inner.push(block)

    def reset(self):
        self.inner.reset()


def test_min_hops_per_push_gathers_hops_and_keeps_every_frame(melody):
    """With min_hops_per_push=2 and audio arriving one hop at a time, the engine is called with two hops at a
    time (never one), and the frames are the same as the engine's own."""
    ring = RingBuffer(SR * 3)
    wakeup = threading.Event()
    engines = []
    worker = LiveWorker(
        ring, wakeup, lambda: engines.append(CountingStream()) or engines[-1], start_cursor=0, min_hops_per_push=2
    )
    worker.start()
    collect(worker, lambda f, n: worker.ready, timeout=30)
    n_hops = 60
    for i in range(n_hops):  # real-time-like: one hop per block, with a pause so that the worker keeps up
        ring.write(melody[i * 160 : (i + 1) * 160])
        wakeup.set()
        time.sleep(0.005)
    frames, _ = collect(worker, lambda f, n: sum(len(x) for x in f) >= n_hops)
    worker.stop()
    calls = engines[0].calls
    assert sum(calls) == n_hops * 160
    assert all(c % 320 == 0 for c in calls), calls  # whole pairs of hops, never a lone hop
    ref = PitchStream(sr=SR, step_ms=10.0, mirror=1.0).push(melody[: n_hops * 160])
    np.testing.assert_allclose(concat(frames, "time_s"), ref.time_s, rtol=0, atol=1e-12)
    np.testing.assert_allclose(concat(frames, "pitch_semitones"), ref.pitch_semitones, atol=1e-3)


def test_native_engine_is_called_every_hop(melody):
    """With the native frame engine (cost per frame, not per call) the worker does not wait for a second hop, even
    when asked to gather two: lower latency at no CPU cost."""
    from pesto_core.native import library

    if library() is None:
        pytest.skip("native frame engine unavailable here")
    ring = RingBuffer(SR * 3)
    wakeup = threading.Event()
    engines = []
    worker = LiveWorker(
        ring,
        wakeup,
        lambda: engines.append(CountingStream(declare_native=True)) or engines[-1],
        start_cursor=0,
        min_hops_per_push=2,
    )
    worker.start()
    collect(worker, lambda f, n: worker.ready, timeout=30)
    assert engines[0].native
    n_hops = 40
    for i in range(n_hops):
        ring.write(melody[i * 160 : (i + 1) * 160])
        wakeup.set()
        time.sleep(0.02)  # slower than the engine: each hop is pushed on its own
    frames, _ = collect(worker, lambda f, n: sum(len(x) for x in f) >= n_hops)
    worker.stop()
    calls = engines[0].calls
    assert sum(calls) == n_hops * 160
    assert sum(c == 160 for c in calls) >= 0.9 * len(calls), calls  # one hop per call (a rare late wake-up aside)
