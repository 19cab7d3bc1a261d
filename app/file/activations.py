"""Where the activations of a file analysis live: full resolution on disk, a small overview in memory.

An hour of audio at a 10 ms step is 360 000 frames x 384 bins of float32, 553 MB: too much to hold in RAM for each
open file, yet the NPZ export must contain all of it (it must equal what ``pesto -e npz`` writes). So:

* ``full``: a ``numpy.memmap`` of float32 (frames, 128 * bps) in a temporary file, written chunk by chunk by the
  analysis worker; the NPZ export reads it back (the operating system pages it in and out, RAM stays bounded);
* ``overview``: the confidence-weighted activations max-pooled along time to at most :data:`OVERVIEW_COLUMNS`
  columns, float16, in RAM (at most 8192 x 384 x 2 bytes = 6 MB whatever the file length): the heatmap of the
  whole file, drawn while the analysis runs;
* :meth:`ActivationStore.detail` pools any time range of ``full`` for a zoomed-in heatmap (called off the GUI
  thread, see :mod:`app.file.view`).

Threading: one writer (the analysis worker thread, :meth:`append`) and readers on other threads that only read
frames below :attr:`frames_done`, which is published after the rows are written.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from ..common.heatmap import confidence_weighted, heatmap_image

OVERVIEW_COLUMNS = 8192


class ActivationStore:
    """Activations of one analysis.

    Parameters
    ----------
    total_frames : int
        Frames the analysis will produce.
    directory : path, optional
        Folder for the temporary file (default: the system's temporary folder).
    """

    def __init__(self, total_frames: int, directory: Optional[str] = None):
        self.total_frames = int(total_frames)
        self.directory = directory
        self.n_bins = 0
        self.path: Optional[Path] = None
        self.full: Optional[np.memmap] = None
        self.factor = max(1, math.ceil(self.total_frames / OVERVIEW_COLUMNS))
        self.overview = np.zeros((0, 0), np.float16)
        self.overview_max = 0.0
        self.frames_done = 0

    def _allocate(self, n_bins: int) -> None:
        """Create the disk file and the overview once the bin count is known (first piece, worker thread)."""
        fd, name = tempfile.mkstemp(prefix="pesto-tracker-acts-", suffix=".f32", dir=self.directory)
        os.close(fd)
        self.path = Path(name)
        # a memmap cannot be empty: keep one spare row, never exposed
        self.full = np.memmap(self.path, dtype=np.float32, mode="w+", shape=(max(self.total_frames, 1), n_bins))
        self.overview = np.zeros((max(1, math.ceil(self.total_frames / self.factor)), n_bins), np.float16)
        self.n_bins = n_bins

    def append(self, activations: np.ndarray, confidence: np.ndarray) -> None:
        """Store the next consecutive frames.

        Called from the analysis worker thread.

        Parameters
        ----------
        activations : ndarray float32 (n, n_bins)
        confidence : ndarray float32 (n,), in [0, 1]
        """
        n, f0 = len(activations), self.frames_done
        if f0 + n > self.total_frames:
            raise ValueError(f"activation store overflow: {f0 + n} frames for {self.total_frames}")
        if n == 0:
            return
        if self.full is None:
            self._allocate(activations.shape[1])
        self.full[f0 : f0 + n] = activations
        weighted = confidence_weighted(activations, confidence)
        rows = np.arange(f0, f0 + n) // self.factor
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        pooled = np.maximum.reduceat(weighted, starts, axis=0)
        idx = rows[starts]
        # the first overview row may already hold the max of earlier frames (values are >= 0, rows start at 0)
        self.overview[idx] = np.maximum(self.overview[idx], pooled.astype(np.float16))
        self.overview_max = max(self.overview_max, float(pooled.max(initial=0.0)))
        self.frames_done = f0 + n  # published last: readers see only complete rows

    def activations(self) -> np.ndarray:
        """The frames analysed so far, float32 (frames_done, n_bins), a read-only view of the file on disk."""
        if self.full is None:
            return np.zeros((0, self.n_bins), np.float32)
        self.full.flush()
        return self.full[: self.frames_done]

    def overview_image(self) -> Tuple[np.ndarray, int]:
        """Overview rows complete so far (float16 (rows, n_bins)) and the pooling factor (frames per row).

        Called from the GUI thread. The row holding the latest frames may still grow."""
        rows = math.ceil(self.frames_done / self.factor)
        return self.overview[:rows], self.factor

    def detail(self, f0: int, f1: int, confidence: np.ndarray, max_columns: int) -> Tuple[np.ndarray, int]:
        """Confidence-weighted activations of frames ``[f0, f1)`` max-pooled to at most ``max_columns`` columns.

        Called from a background thread (reads the disk file).

        Parameters
        ----------
        f0, f1 : int
            Frame range.
        confidence : ndarray float32 (f1 - f0,)
            Confidence of those frames (a snapshot owned by the caller).
        max_columns : int

        Returns
        -------
        image : ndarray float32 (columns, n_bins)
        factor : int, frames per column
        """
        full = self.full
        if full is None:
            return np.zeros((0, 0), np.float32), 1
        stop = max(f0, min(f1, self.frames_done))
        acts = np.asarray(full[f0:stop])
        conf = np.asarray(confidence[: len(acts)], np.float32)
        return heatmap_image(acts, conf, max_columns)

    def close(self) -> None:
        """Release the memmap and delete the temporary file (GUI thread, once no worker writes any more)."""
        full, self.full = self.full, None
        if full is not None:
            mm = getattr(full, "_mmap", None)
            del full
            if mm is not None:
                try:
                    mm.close()
                except (BufferError, ValueError):  # a view is still alive somewhere: the GC will close it
                    pass
        if self.path is not None:
            try:
                self.path.unlink()
            except OSError:
                pass
