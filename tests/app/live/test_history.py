"""The GUI's session history: bounded memory, time slicing, heatmap windows."""
import numpy as np

from app.live.history import SessionHistory, heat_columns


def append_frames(h, t0, n, rate=100.0):
    t = t0 + np.arange(n) / rate
    h.append(t, np.full(n, 60, np.float32), np.ones(n, np.float32), np.ones(n, np.float32),
             np.tile(np.arange(384, dtype=np.uint32), (n, 1)))
    return t


def test_bounded_and_sliced_by_time():
    h = SessionHistory(100.0, max_seconds=10.0, heat_seconds=2.0)
    for k in range(50):  # 50 s of frames in 1 s batches
        append_frames(h, k, 100)
    assert len(h) <= 10 * 100 + 1 and h._heat.n <= 2 * 100 + 1
    assert h.end_s == 49.99 and h.start_s >= 39.0
    t, p, c, v = h.window(45.0, 46.0)
    assert len(t) == 100 and t[0] == 45.0
    img, t0, dt = h.heat_window(49.0, 50.0, 10, 20)
    assert img.shape == (100, 10) and t0 == 49.0 and dt == 0.01
    np.testing.assert_array_equal(img[0], np.arange(10, 20))
    img, t0, dt = h.heat_window(49.0, 50.0, 0, 384, max_columns=30)  # more frames than pixels: every k-th
    assert img.shape[0] <= 34 and dt == 0.04
    assert h.heat_window(30.0, 31.0, 0, 10)[0] is None  # older than the heatmap keeps


def test_heat_columns_scale_by_peak_and_confidence():
    acts = np.zeros((2, 384), np.float32)
    acts[0, 100], acts[0, 101] = 0.6, 0.3
    acts[1, 50] = 0.01
    out = heat_columns(acts, np.array([1.0, 0.5], np.float32))
    assert out.dtype == np.uint8
    assert out[0, 100] == 255  # each frame's peak, full confidence
    assert abs(int(out[0, 101]) - 127.5) <= 0.5 and abs(int(out[1, 50]) - 127.5) <= 0.5  # half the peak; half conf.
    assert out[0, :100].max() == 0
