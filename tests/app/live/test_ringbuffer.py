"""The capture ring buffer: absolute cursors, odd block sizes, wrap-around, a reader left behind, arrival times."""

import threading
import time

import numpy as np
import pytest

from app.live.ringbuffer import RingBuffer


def test_odd_blocks_wrap_around_and_read_back_exactly():
    ring = RingBuffer(1000)
    rng = np.random.default_rng(0)
    signal = rng.standard_normal(5003).astype(np.float32)
    sizes = [1, 7, 333, 999, 1000, 2, 511, 1150]  # includes a block longer than the ring
    pos, cursor = 0, 0
    for n in sizes:
        ring.write(signal[pos : pos + n])
        pos += n
        assert ring.write_cursor == pos
        # the newest min(pos, capacity) samples are readable, in any odd split, and equal to what was written
        lo = max(0, pos - 1000)
        for a, b in ((lo, pos), (max(lo, pos - 17), pos), (lo, min(pos, lo + 3))):
            out = ring.read(a, b - a)
            assert out is not None
            np.testing.assert_array_equal(out, signal[a:b])
        cursor = pos
    assert cursor == sum(sizes)


def test_reader_too_far_behind_gets_none_and_future_raises():
    ring = RingBuffer(100)
    ring.write(np.arange(250, dtype=np.float32))
    assert ring.oldest_cursor == 150
    assert ring.read(149, 10) is None  # overwritten
    np.testing.assert_array_equal(ring.read(150, 100), np.arange(150, 250, dtype=np.float32))
    assert ring.read(0, 101) is None  # longer than the ring
    with pytest.raises(ValueError):
        ring.read(245, 10)  # not written yet


def test_arrival_times_follow_blocks():
    ring = RingBuffer(1000, max_blocks=4)
    for k, n in enumerate((10, 20, 30)):
        ring.write(np.zeros(n, np.float32), arrival_s=100.0 + k)
    np.testing.assert_array_equal(ring.arrival_time(np.array([0, 9, 10, 29, 30, 59])), [100, 100, 101, 101, 102, 102])
    for k in range(3, 6):  # forget the first blocks: only 4 remembered
        ring.write(np.zeros(5, np.float32), arrival_s=100.0 + k)
    t = ring.arrival_time(np.array([0, 59, 60, 74]))
    # blocks 2..5 are remembered, but block 2's start (the end of the forgotten block 1) is not: unknown
    assert np.isnan(t[0]) and np.isnan(t[1])
    np.testing.assert_array_equal(t[2:], [103, 105])


def test_concurrent_writer_and_reader_never_see_torn_data():
    """A writer thread fills blocks of a ramp; the reader either gets exactly the ramp or None (never garbage)."""
    ring = RingBuffer(4096)
    total = 300_000
    ramp = np.arange(total, dtype=np.float32)
    done = threading.Event()

    def writer():
        pos = 0
        sizes = [97, 480, 1, 1023, 333]
        i = 0
        while pos < total:
            n = min(sizes[i % len(sizes)], total - pos)
            ring.write(ramp[pos : pos + n])
            pos += n
            i += 1
            if i % 50 == 0:
                time.sleep(0)
        done.set()

    th = threading.Thread(target=writer)
    th.start()
    checked = none = 0
    while not done.is_set() or checked == 0:
        w = ring.write_cursor
        start = max(0, w - 3000)
        out = ring.read(start, w - start)
        if out is None:
            none += 1
            continue
        np.testing.assert_array_equal(out, ramp[start:w])
        checked += 1
    th.join()
    assert checked > 0
