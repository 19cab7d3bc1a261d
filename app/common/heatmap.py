"""The activation heatmap's picture, one definition for the Live tab, the File tab and the PNG export.

What is drawn: PESTO's pitch distribution of each frame weighted by that frame's confidence (a confident frame is
bright, an unvoiced one dark), max-pooled along time when there are more frames than image columns (a short note
stays visible however far the view is zoomed out, where subsampling would drop it). The colour scale tops out at
:data:`HEAT_HEADROOM` times the brightest value seen, so that the pitch curve stays readable over the heatmap.

Pure numpy, no Qt: callable from any thread.
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np

HEAT_HEADROOM = 1.6  # the colour scale's top, relative to the peak value seen (see heat_level)


def confidence_weighted(activations: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Activations weighted by confidence.

    Parameters
    ----------
    activations : float32 (frames, bins)
        PESTO's pitch distribution per frame (bins: ``128 * bins_per_semitone`` semitone fractions).
    confidence : float32 (frames,), in [0, 1]

    Returns
    -------
    float32 (frames, bins), a new array.
    """
    return np.asarray(activations, dtype=np.float32) * np.asarray(confidence, dtype=np.float32)[:, None]


def pool_factor(n_frames: int, max_columns: int) -> int:
    """Frames per image column when ``n_frames`` frames are pooled to at most ``max_columns`` columns."""
    return max(1, math.ceil(n_frames / max(1, int(max_columns))))


def max_pool(image: np.ndarray, max_columns: int) -> Tuple[np.ndarray, int]:
    """Max-pool an image along time (axis 0) to at most ``max_columns`` columns.

    Parameters
    ----------
    image : ndarray (frames, bins), values >= 0
    max_columns : int

    Returns
    -------
    pooled : ndarray (ceil(frames / factor), bins), same dtype; ``image`` itself when no pooling is needed.
        Column ``j`` holds the maximum of frames ``[j * factor, (j + 1) * factor)`` (the last group may be short).
    factor : int
        Frames per column. Column ``j``'s centre is at frame ``j * factor + (factor - 1) / 2``.
    """
    factor = pool_factor(len(image), max_columns)
    if factor == 1:
        return image, 1
    pad = (-len(image)) % factor
    if pad:  # zeros never win a maximum of values >= 0
        image = np.concatenate([image, np.zeros((pad,) + image.shape[1:], image.dtype)])
    return image.reshape(-1, factor, *image.shape[1:]).max(axis=1), factor


def heatmap_image(activations: np.ndarray, confidence: np.ndarray, max_columns: int) -> Tuple[np.ndarray, int]:
    """The heatmap of some frames: confidence-weighted activations, max-pooled to at most ``max_columns`` columns.

    Parameters
    ----------
    activations : float32 (frames, bins); confidence : float32 (frames,)
    max_columns : int

    Returns
    -------
    image : float32 (columns, bins)
    factor : int, frames per column (see :func:`max_pool`)
    """
    return max_pool(confidence_weighted(activations, confidence), max_columns)


def heat_level(peak: float) -> float:
    """The value drawn at the top of the colour scale, for a heatmap whose brightest value so far is ``peak``."""
    return max(float(peak) * HEAT_HEADROOM, 1e-6)
