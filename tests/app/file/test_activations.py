"""The activation store of a file analysis: full resolution in a disk-backed memmap, a bounded overview in RAM."""

from __future__ import annotations

import numpy as np
import pytest

from app.common.heatmap import heatmap_image
from app.file import activations as file_activations
from app.file.activations import ActivationStore


@pytest.mark.parametrize("total,columns,piece", [(1000, 8192, 512), (1000, 64, 512), (1001, 100, 37)])
def test_store_keeps_everything_and_a_pooled_overview(tmp_path, monkeypatch, total, columns, piece):
    monkeypatch.setattr(file_activations, "OVERVIEW_COLUMNS", columns)
    rng = np.random.default_rng(1)
    acts = rng.random((total, 384), dtype=np.float32)
    conf = rng.random(total, dtype=np.float32)
    store = ActivationStore(total, str(tmp_path))
    for a in range(0, total, piece):
        store.append(acts[a : a + piece], conf[a : a + piece])
        assert store.frames_done == min(total, a + piece)
    assert isinstance(store.full, np.memmap) and store.path.parent == tmp_path
    np.testing.assert_array_equal(store.activations(), acts)  # bit for bit: the NPZ export reads these
    overview, factor = store.overview_image()
    assert factor == max(1, -(-total // columns)) and len(overview) <= columns
    expected, _ = heatmap_image(acts, conf, columns)
    np.testing.assert_allclose(overview.astype(np.float32), expected, rtol=1e-3, atol=1e-4)  # float16
    assert store.overview_max == pytest.approx(float(expected.max()))
    img, f = store.detail(100, 400, conf[100:400], 1000)
    assert f == 1
    np.testing.assert_allclose(img, acts[100:400] * conf[100:400, None], rtol=0, atol=0)
    img, f = store.detail(0, total, conf, 50)
    assert f == -(-total // 50) and len(img) == -(-total // f)
    path = store.path
    store.close()
    assert not path.exists()


def test_store_refuses_more_frames_than_announced(tmp_path):
    store = ActivationStore(10, str(tmp_path))
    store.append(np.zeros((8, 384), np.float32), np.zeros(8, np.float32))
    with pytest.raises(ValueError):
        store.append(np.zeros((3, 384), np.float32), np.zeros(3, np.float32))
    store.close()


def test_overview_memory_is_bounded_for_an_hour(tmp_path):
    store = ActivationStore(360001, str(tmp_path))  # one hour at 10 ms
    store.append(np.zeros((512, 384), np.float32), np.zeros(512, np.float32))
    assert store.overview.nbytes <= 8192 * 384 * 2
    assert store.path.stat().st_size == 360001 * 384 * 4  # the full array is on disk (sparse until written)
    store.close()
