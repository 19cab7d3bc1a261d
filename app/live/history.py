"""The live session's frames as the GUI keeps them: bounded arrays the plots slice by time.

Frames arrive in batches from the worker (:class:`app.live.worker.LiveFrames`). Pitch, confidence and volume are kept
for the whole session up to ``max_seconds`` (1 h at a 10 ms step is 360 000 frames, 8 MB); the heatmap columns
(confidence-weighted activations, float16: the File tab's picture, see :mod:`app.common.heatmap`), bigger, only for
the last ``heat_seconds`` (2 min at 10 ms: 9 MB). When an array is full its oldest quarter is dropped (one copy per
quarter of the capacity: cheap on average, and memory never grows past the bound).

GUI thread only.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..common.heatmap import confidence_weighted, max_pool


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
            self.data[:] = rows[k - self.capacity :]
            self.n = self.capacity
            return
        if self.n + k > self.capacity:
            drop = max(self.n + k - self.capacity, self.capacity // 4)
            keep = self.n - drop
            self.data[:keep] = self.data[drop : self.n]
            self.first += drop
            self.n = keep
        self.data[self.n : self.n + k] = rows
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
        self._voiced = _Rows(cap, (), np.bool_)
        self._heat = _Rows(int(heat_seconds * frame_rate) + 1, (self.n_bins,), np.float16)
        self.total = 0  # frames received (global index of the next one)
        self.heat_max = 0.0  # brightest heatmap value of the session (the colour scale follows it)

    def __len__(self) -> int:
        return self._t.n

    def clear(self) -> None:
        for rows in (self._t, self._p, self._c, self._v, self._voiced, self._heat):
            rows.clear()
        self.total = 0
        self.heat_max = 0.0

    def append(
        self,
        time_s: np.ndarray,
        pitch_semitones: np.ndarray,
        confidence: np.ndarray,
        volume: np.ndarray,
        activations: np.ndarray,
        voiced: Optional[np.ndarray] = None,
    ) -> None:
        """Add frames (time order).

        Parameters
        ----------
        time_s : float64 (n,); pitch_semitones, confidence, volume : float32 (n,)
        activations : float32 (n, n_bins)
            PESTO's pitch distribution of each frame; kept weighted by the frame's confidence for the heatmap.
        voiced : bool (n,), optional
            The engine's voicing decision (``StreamFrames.voiced``): the curve's gaps. Default: confidence >= 0.5.
        """
        self._t.append(time_s)
        self._voiced.append(np.asarray(confidence) >= 0.5 if voiced is None else np.asarray(voiced, bool))
        self._p.append(pitch_semitones)
        self._c.append(confidence)
        self._v.append(volume)
        heat = confidence_weighted(activations, confidence)
        self._heat.append(heat)
        if len(heat):
            self.heat_max = max(self.heat_max, float(heat.max()))
        self.total += len(time_s)

    # ------------------------------------------------------------------------------------------------- queries
    @property
    def time_s(self) -> np.ndarray:
        return self._t.data[: self._t.n]

    @property
    def pitch_semitones(self) -> np.ndarray:
        return self._p.data[: self._p.n]

    @property
    def confidence(self) -> np.ndarray:
        return self._c.data[: self._c.n]

    @property
    def volume(self) -> np.ndarray:
        return self._v.data[: self._v.n]

    @property
    def voiced(self) -> np.ndarray:
        """bool: the engine's voicing decision per frame."""
        return self._voiced.data[: self._voiced.n]

    @property
    def heat_frames(self) -> int:
        """Frames whose heatmap column is still kept (the last ``heat_seconds``)."""
        return self._heat.n

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
        """Copies (time_s, pitch, confidence, volume, voiced) of the frames in ``[t0, t1)``: pyqtgraph may keep
        them."""
        a, b = self.index_range(t0, t1)
        return (
            self.time_s[a:b].copy(),
            self.pitch_semitones[a:b].copy(),
            self.confidence[a:b].copy(),
            self.volume[a:b].copy(),
            self.voiced[a:b].copy(),
        )

    def heat_window(self, t0: float, t1: float, bin0: int, bin1: int, max_columns: int = 1200):
        """Heatmap image of the frames in ``[t0, t1)`` and bins ``[bin0, bin1)``: confidence-weighted activations,
        max-pooled along time to at most ``max_columns`` columns (the screen has no more pixels anyway).

        Returns
        -------
        (image float32 (columns, bin1 - bin0), centre time of column 0 (s), seconds per column),
        or (None, 0, 0) when no heatmap column of that range is kept.
        """
        a, b = self.index_range(t0, t1)
        g0 = self._t.first + a  # global frame indices
        g1 = self._t.first + b
        h0 = max(g0, self._heat.first)
        h1 = min(g1, self._heat.first + self._heat.n)
        if h1 <= h0:
            return None, 0.0, 0.0
        rows = self._heat.data[h0 - self._heat.first : h1 - self._heat.first, bin0:bin1]
        img, factor = max_pool(rows.astype(np.float32), max_columns)
        dt = 1.0 / self.frame_rate
        t_first = float(self._t.data[h0 - self._t.first])
        return img, t_first + (factor - 1) / 2 * dt, factor * dt
