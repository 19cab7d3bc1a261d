"""A preallocated ring buffer of mono float32 samples, addressed by absolute sample cursor.

One writer (PortAudio's callback thread) and one reader (the live worker thread), no lock:

* the writer announces the end of the block it is about to write (``_claim``), copies the samples, then publishes
  the new end (``_end``); Python's GIL makes each of these integer stores atomic;
* the reader copies a range, then checks against ``_claim`` that the writer did not overwrite it meanwhile (the
  sequence-lock pattern). A reader that fell more than the capacity behind gets ``None`` and must skip ahead.

The ring also remembers, for each written block, the absolute cursor where it ended and the ``time.monotonic()`` at
which it arrived, so the worker can tell when any sample arrived (the start of the arrival-to-screen latency).
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np


class RingBuffer:
    """Single-producer single-consumer ring of float32 samples.

    Parameters
    ----------
    capacity : int
        Samples kept (e.g. a few seconds of audio). Memory is allocated once, here.
    max_blocks : int
        How many blocks' arrival times are remembered (4096 blocks of 10 ms = 41 s).
    """

    def __init__(self, capacity: int, max_blocks: int = 4096):
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least 1 sample, got {capacity}")
        self.capacity = int(capacity)
        self._data = np.zeros(self.capacity, dtype=np.float32)
        self._claim = 0  # end of the block being written (>= _end while a write is in progress)
        self._end = 0  # absolute cursor one past the last complete sample
        self._max_blocks = int(max_blocks)
        self._block_end = np.zeros(self._max_blocks, dtype=np.int64)
        self._block_time = np.zeros(self._max_blocks, dtype=np.float64)
        self._n_blocks = 0

    # ------------------------------------------------------------------------------------------------ writer side
    def write(self, block: np.ndarray, arrival_s: Optional[float] = None) -> None:
        """Append samples. Called from the audio callback thread only (or a test's scripted source).

        Parameters
        ----------
        block : ndarray float32 (samples,)
        arrival_s : float
            ``time.monotonic()`` when the block arrived; now if omitted.
        """
        n = len(block)
        if n == 0:
            return
        start = self._end
        end = start + n
        self._claim = end
        if n >= self.capacity:  # only the last `capacity` samples can be kept
            block = block[n - self.capacity :]
            start = end - self.capacity
            n = self.capacity
        i = start % self.capacity
        first = min(n, self.capacity - i)
        self._data[i : i + first] = block[:first]
        if first < n:
            self._data[: n - first] = block[first:]
        k = self._n_blocks % self._max_blocks
        self._block_end[k] = end
        self._block_time[k] = time.monotonic() if arrival_s is None else arrival_s
        self._n_blocks += 1
        self._end = end

    # ------------------------------------------------------------------------------------------------ reader side
    @property
    def write_cursor(self) -> int:
        """Absolute cursor one past the newest complete sample (samples written since creation). Any thread."""
        return self._end

    @property
    def oldest_cursor(self) -> int:
        """Oldest absolute cursor still readable. Any thread."""
        return max(0, self._claim - self.capacity)

    def read(self, start: int, n: int, out: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        """Copy samples ``[start, start + n)``. Called from the reader (worker) thread.

        Returns
        -------
        ndarray float32 (n,), or None when part of the range was already overwritten (the reader is too far behind).

        Raises
        ------
        ValueError
            If the range reaches past the newest sample (it has not been written yet).
        """
        if start + n > self._end:
            raise ValueError(f"samples [{start}, {start + n}) not written yet (write cursor {self._end})")
        if n > self.capacity or start < self._claim - self.capacity:
            return None
        if out is None:
            out = np.empty(n, dtype=np.float32)
        i = start % self.capacity
        first = min(n, self.capacity - i)
        out[:first] = self._data[i : i + first]
        if first < n:
            out[first:n] = self._data[: n - first]
        if start < self._claim - self.capacity:  # the writer overtook us while we copied
            return None
        return out

    def arrival_time(self, cursors: np.ndarray) -> np.ndarray:
        """``time.monotonic()`` at which each sample arrived, for absolute cursors. Reader thread.

        Parameters
        ----------
        cursors : ndarray int (k,)
            Absolute sample indices (already written).

        Returns
        -------
        ndarray float64 (k,): arrival time of the block that held each sample; NaN when that block is no longer
        remembered.
        """
        cursors = np.asarray(cursors, dtype=np.int64)
        n = self._n_blocks
        count = min(n, self._max_blocks)
        if count == 0:
            return np.full(cursors.shape, np.nan)
        idx = np.arange(n - count, n) % self._max_blocks
        ends = self._block_end[idx]
        times = self._block_time[idx]
        # block j holds samples [ends[j-1], ends[j]): the first block whose end is beyond the cursor
        j = np.searchsorted(ends, cursors, side="right")
        out = np.full(cursors.shape, np.nan)
        ok = (j < count) & ((j > 0) | (n <= self._max_blocks))
        out[ok] = times[j[ok]]
        return out

    def reset(self) -> None:
        """Forget everything (cursors restart at 0). Only while no writer or reader is running."""
        self._claim = self._end = 0
        self._n_blocks = 0
