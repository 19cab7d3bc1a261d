"""The live session's frames as the GUI keeps them: bounded arrays the plots slice by time.

Frames arrive in batches from the worker (:class:`app.live.worker.LiveFrames`). Pitch, confidence and volume are kept
for the whole session up to ``max_seconds`` (1 h at a 10 ms step is 360 000 frames, 8 MB); the heatmap columns,
bigger, only for the last ``heat_seconds``. When an array is full its oldest quarter is dropped (one copy per quarter
of the capacity: cheap on average, and memory never grows past the bound).

GUI thread only.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np


class _Rows:
    """Rows of fixed shape appended at the end, oldest dropped by quarters when full."""

    def __init__(self, capacity: int, shape: tuple, dtype):
        self.capacity = max(4, int(capacity))
        self.data = np.zeros((self.capacity,) + shape, dtype=dtype)
        self.first = 0  # global index of row 0
        self.n = 0

    def append(self, rows: np.ndarray) -> None:
        k = len(rows)
        if k >= self.capacity:
            self.first += self.n + k - self.capacity
            self.data[:] = rows[k - self.capacity:]
            self.n = self.capacity
            return
        if self.n + k > self.capacity:
            drop = max(self.n + k - self.capacity, self.capacity // 4)
            keep = self.n - drop
            self.data[:keep] = self.data[drop:self.n]
            self.first += drop
            self.n = keep
        self.data[self.n:self.n + k] = rows
        self.n += k

    def clear(self) -> None:
        self.first = 0
        self.n = 0


class SessionHistory:
    """Frames of one live session.

    Parameters
    ----------
    frame_rate : float
        Frames per second (1000 / step_ms).
    n_bins : int
        Heatmap bins per frame (128 * bins_per_semitone).
    max_seconds, heat_seconds : float
        How much of the session is kept for the curve and for the heatmap.
    """

    def __init__(self, frame_rate: float, n_bins: int = 384, max_seconds: float = 3600.0, heat_seconds: float = 120.0):
        self.frame_rate = float(frame_rate)
        self.n_bins = int(n_bins)
        cap = int(max_seconds * frame_rate) + 1
        self._t = _Rows(cap, (), np.float64)
        self._p = _Rows(cap, (), np.float32)
        self._c = _Rows(cap, (), np.float32)
        self._v = _Rows(cap, (), np.float32)
        self._heat = _Rows(int(heat_seconds * frame_rate) + 1, (self.n_bins,), np.uint32)
        self.total = 0  # frames received (global index of the next one)

    def __len__(self) -> int:
        return self._t.n

    def clear(self) -> None:
        for rows in (self._t, self._p, self._c, self._v, self._heat):
            rows.clear()
        self.total = 0

    def append(self, time_s: np.ndarray, pitch_semitones: np.ndarray, confidence: np.ndarray, volume: np.ndarray,
               heat: np.ndarray) -> None:
        """Add frames (time order).

        Parameters
        ----------
        time_s : float64 (n,); pitch_semitones, confidence, volume : float32 (n,)
        heat : uint32 (n, n_bins)
            Heatmap column of each frame, as colours (see :func:`heat_columns` and
            :func:`app.common.plots.heat_colours`).
        """
        self._t.append(time_s)
        self._p.append(pitch_semitones)
        self._c.append(confidence)
        self._v.append(volume)
        self._heat.append(heat)
        self.total += len(time_s)

    # ------------------------------------------------------------------------------------------------- queries
    @property
    def time_s(self) -> np.ndarray:
        return self._t.data[:self._t.n]

    @property
    def pitch_semitones(self) -> np.ndarray:
        return self._p.data[:self._p.n]

    @property
    def confidence(self) -> np.ndarray:
        return self._c.data[:self._c.n]

    @property
    def volume(self) -> np.ndarray:
        return self._v.data[:self._v.n]

    @property
    def start_s(self) -> float:
        """Time of the oldest frame kept (0 if none)."""
        return float(self._t.data[0]) if self._t.n else 0.0

    @property
    def end_s(self) -> float:
        """Time of the newest frame (0 if none)."""
        return float(self._t.data[self._t.n - 1]) if self._t.n else 0.0

    def index_range(self, t0: float, t1: float) -> Tuple[int, int]:
        """Local indices ``[a, b)`` of the frames with ``t0 <= time < t1``."""
        t = self.time_s
        return int(np.searchsorted(t, t0, "left")), int(np.searchsorted(t, t1, "left"))

    def window(self, t0: float, t1: float):
        """Copies (time_s, pitch, confidence, volume) of the frames in ``[t0, t1)``: pyqtgraph may keep them."""
        a, b = self.index_range(t0, t1)
        return (self.time_s[a:b].copy(), self.pitch_semitones[a:b].copy(), self.confidence[a:b].copy(),
                self.volume[a:b].copy())

    def heat_window(self, t0: float, t1: float, bin0: int, bin1: int, max_columns: int = 1200):
        """Heatmap image of the frames in ``[t0, t1)`` and bins ``[bin0, bin1)``, with at most ``max_columns``
        columns (every k-th frame when there are more frames than that: the screen has no more pixels anyway).

        Returns
        -------
        (image (columns, bin1 - bin0) of the stored dtype, time of column 0 (s), seconds per column),
        or (None, 0, 0).
        """
        a, b = self.index_range(t0, t1)
        g0 = self._t.first + a  # global frame indices
        g1 = self._t.first + b
        h0 = max(g0, self._heat.first)
        h1 = min(g1, self._heat.first + self._heat.n)
        if h1 <= h0:
            return None, 0.0, 0.0
        rows = self._heat.data[h0 - self._heat.first:h1 - self._heat.first, bin0:bin1]
        t_first = float(self._t.data[h0 - self._t.first])
        dt = 1.0 / self.frame_rate
        factor = int(np.ceil(len(rows) / max_columns)) if len(rows) > max_columns else 1
        if factor > 1:
            return rows[::factor], t_first, factor * dt
        return rows, t_first, dt


def heat_columns(activations: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Heatmap columns from PESTO's distributions: each frame scaled to its peak, weighted by its confidence.

    Parameters
    ----------
    activations : float32 (n, bins); confidence : float32 (n,)

    Returns
    -------
    uint8 (n, bins): 255 = the frame's most likely bin in a fully confident frame, so a voiced note is bright
    whatever its loudness and an unvoiced frame is dark.
    """
    peak = activations.max(axis=1, keepdims=True)
    scale = 255.0 * np.clip(confidence, 0.0, 1.0)[:, None] / np.maximum(peak, 1e-9)
    return np.clip(activations * scale + 0.5, 0, 255).astype(np.uint8)
