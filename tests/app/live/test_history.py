"""The GUI's session history: bounded memory, time slicing, heatmap windows."""

import numpy as np

from app.common.heatmap import heatmap_image
from app.live.history import SessionHistory


def append_frames(h, t0, n, rate=100.0):
    t = t0 + np.arange(n) / rate
    h.append(
        t,
        np.full(n, 60, np.float32),
        np.ones(n, np.float32),
        np.ones(n, np.float32),
        np.tile(np.arange(384, dtype=np.uint32), (n, 1)),
    )
    return t


def test_bounded_and_sliced_by_time():
    h = SessionHistory(100.0, max_seconds=10.0, heat_seconds=2.0)
    for k in range(50):  # 50 s of frames in 1 s batches
        append_frames(h, k, 100)
    assert len(h) <= 10 * 100 + 1 and h.heat_frames <= 2 * 100 + 1
    assert h.end_s == 49.99 and h.start_s >= 39.0
    t, p, c, v, voiced = h.window(45.0, 46.0)
    assert len(t) == 100 and t[0] == 45.0 and voiced.all()
    img, t0, dt = h.heat_window(49.0, 50.0, 10, 20)
    assert img.shape == (100, 10) and t0 == 49.0 and dt == 0.01
    np.testing.assert_array_equal(img[0], np.arange(10, 20))
    img, t0, dt = h.heat_window(49.0, 50.0, 0, 384, max_columns=30)  # more frames than pixels: pooled by 4
    assert img.shape[0] <= 34 and dt == 0.04
    assert t0 == 49.015  # the centre of the first 4 frames
    assert h.heat_window(30.0, 31.0, 0, 10)[0] is None  # older than the heatmap keeps


def test_heatmap_is_confidence_weighted_and_max_pooled():
    """The Live tab's heatmap is the File tab's picture: activations weighted by confidence, max-pooled in time (a
    short note survives zooming out; nothing is normalised per frame)."""
    acts = np.zeros((8, 384), np.float32)
    acts[0, 100], acts[0, 101] = 0.6, 0.3
    acts[5, 50] = 0.01  # one quiet frame among four: pooling keeps it
    conf = np.array([1.0, 1, 1, 1, 0.5, 0.5, 0.5, 0.5], np.float32)
    h = SessionHistory(100.0)
    h.append(np.arange(8) / 100.0, np.full(8, 60, np.float32), conf, np.ones(8, np.float32), acts)
    img, t0, dt = h.heat_window(0.0, 1.0, 0, 384, max_columns=2)
    assert img.shape == (2, 384) and dt == 0.04 and t0 == 0.015
    assert abs(img[0, 100] - 0.6) <= 1e-3 and abs(img[0, 101] - 0.3) <= 1e-3  # float16 storage: 3 digits
    assert abs(img[1, 50] - 0.005) <= 1e-5 and img[1].max() == img[1, 50]  # weighted by its confidence, kept
    assert h.heat_max == np.float32(0.6)
    expected, factor = heatmap_image(acts, conf, 2)
    assert factor == 4
    np.testing.assert_allclose(img, expected, rtol=1e-3, atol=1e-6)
