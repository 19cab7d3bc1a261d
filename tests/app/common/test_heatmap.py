"""One heatmap picture for both tabs and the PNG: confidence-weighted activations, max-pooled along time."""

import numpy as np
import pytest

from app.common import heatmap, render
from app.common.heatmap import heat_level, heatmap_image, max_pool
from app.file.activations import ActivationStore
from app.live.history import SessionHistory


def frames(n=1000, bins=384, seed=3):
    rng = np.random.default_rng(seed)
    acts = rng.random((n, bins), dtype=np.float32)
    acts /= acts.sum(axis=1, keepdims=True)  # a distribution per frame, as PESTO's
    conf = rng.random(n, dtype=np.float32)
    return acts, conf


@pytest.mark.parametrize("n, columns", [(1000, 2000), (1000, 300), (1001, 7)])
def test_max_pool_keeps_each_groups_peak(n, columns):
    img = np.random.default_rng(0).random((n, 5), dtype=np.float32)
    pooled, factor = max_pool(img, columns)
    assert factor == max(1, -(-n // columns)) and len(pooled) == -(-n // factor) <= columns
    for j in (0, len(pooled) - 1):
        np.testing.assert_array_equal(pooled[j], img[j * factor : (j + 1) * factor].max(axis=0))


def test_live_tab_file_tab_and_png_pool_the_same_picture(tmp_path):
    acts, conf = frames()
    expected, factor = heatmap_image(acts, conf, 250)
    assert factor == 4
    np.testing.assert_allclose(expected[10], (acts[40:44] * conf[40:44, None]).max(axis=0), rtol=0, atol=0)
    # File tab: the activation store of an analysis (zoomed-in detail)
    store = ActivationStore(len(acts), str(tmp_path))
    store.append(acts, conf)
    file_img, file_factor = store.detail(0, len(acts), conf, 250)
    assert file_factor == factor
    np.testing.assert_array_equal(file_img, expected)
    # Live tab: the session history (float16 storage: three significant digits)
    h = SessionHistory(100.0)
    h.append(
        np.arange(len(acts)) / 100.0, np.full(len(acts), 60, np.float32), conf, np.ones(len(acts), np.float32), acts
    )
    live_img, t0, dt = h.heat_window(0.0, 10.0, 0, 384, max_columns=250)
    assert live_img.shape == expected.shape and dt == pytest.approx(factor / 100.0)
    assert t0 == pytest.approx((factor - 1) / 2 / 100.0)  # centre of the first column, as the File tab places it
    np.testing.assert_allclose(live_img, expected, rtol=2e-3, atol=1e-7)
    # ... and the same colour scale: the brightest value so far, with the same headroom
    assert heat_level(h.heat_max) == pytest.approx(heat_level(store.overview_max), rel=2e-3)
    assert heat_level(0.5) == pytest.approx(0.5 * heatmap.HEAT_HEADROOM)
    store.close()


def test_png_renderer_uses_the_shared_pooling(monkeypatch):
    calls = []
    real = render.heatmap_image

    def spy(a, c, cols):
        calls.append((len(a), cols))
        return real(a, c, cols)

    monkeypatch.setattr(render, "heatmap_image", spy)
    from pesto_core.track import PitchTrack

    acts, conf = frames(n=200)
    track = PitchTrack(
        time_s=np.arange(200) * 0.01,
        pitch_semitones=np.full(200, 60, np.float32),
        confidence=conf,
        volume=np.ones(200, np.float32),
        activations=acts,
        sr=16000,
        hop_length=160,
        step_ms=10.0,
        model_name="m",
        reduction="alwa",
        decoding="alwa",
    )
    png = render.render_activation_png(track, size=(400, 200))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and calls == [(200, render.MAX_COLUMNS)]
