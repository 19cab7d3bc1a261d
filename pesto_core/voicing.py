"""The voicing decision: is there a pitch in this frame? (light: numpy only)

Two measurements of each frame vote, both from the network's output:

* the **confidence** (the model's confidence head, in [0, 1]), and
* the **peak mass**: the share of the frame's pitch distribution within one semitone of its arg-max, in [0, 1].
  A frame with a pitch has its distribution gathered on one peak; noise, breath, silence and the frames the network
  gets wrong (the octave and fifth errors of noisy or ambiguous frames) spread it over several peaks.

Why both: the confidence head of the published architecture is a linear unit on the frame's power and spectral
flatness, so it calls loud noise voiced; the peak mass tells a pitched frame from noise but alone keeps too many
false alarms. A frame is voiced when both are high. Our models' confidence is already a learned voicing output that
reads the distribution too (below, and :mod:`pesto_core.voicing_head`); with it the peak gate over the window still
takes the live preset from 7.6 to 0.4 spikes per voiced minute (benchmarks/live_accuracy.py's sweep, seed 8000), so
the preset keeps both.

With a look-ahead (the live glitch filter's ``lag`` frames, :mod:`pesto_core.glitch`), each measurement is the
median over the frames ``t - lag .. t + lag`` (one-sided at the ends): a single frame of noise does not open a
voiced gap, nor does a single weak frame close one. No latency beyond the look-ahead the filter already has.

Chosen by measurement (``benchmarks/live_accuracy.py``, BENCHMARKS.md "Live mode"): the live preset uses
``gate=0.5, peak_gate=0.5``; ``peak_gate=0`` (the default of :class:`~pesto_core.stream.PitchStream`) is the
confidence alone (per frame without the glitch filter, as upstream PESTO; its median over the window with it).
"""

from __future__ import annotations

import numpy as np

from .validation import check_gate


def peak_mass(activations: np.ndarray) -> np.ndarray:
    """Share of each frame's pitch distribution within one semitone of its arg-max.

    Parameters
    ----------
    activations : float (..., frames, 128 * bps)
        Pitch distributions (non-negative; need not sum to one).

    Returns
    -------
    float32 (..., frames): in [0, 1]; 0 for a frame whose distribution is all zero.
    """
    a = np.asarray(activations, dtype=np.float32)
    n = a.shape[-1]
    bps = max(1, n // 128)
    peak = np.argmax(a, axis=-1)[..., None]
    near_peak = np.abs(np.arange(n) - peak) <= bps  # ±1 semitone, each bin once (fewer at the range's edges)
    near = np.where(near_peak, a, 0.0).sum(axis=-1)
    total = a.sum(axis=-1)
    return np.where(total > 1e-12, near / np.maximum(total, 1e-12), 0.0).astype(np.float32)


def window_median(x: np.ndarray, lag: int) -> np.ndarray:
    """Median of ``x[..., t - lag : t + lag + 1]`` for every frame ``t`` (one-sided windows at the ends).

    x : float (..., frames). Returns float32 of the same shape. ``lag=0`` returns ``x`` itself.
    """
    x = np.asarray(x, dtype=np.float32)
    if lag <= 0 or x.shape[-1] == 0:
        return x.copy()
    n = x.shape[-1]
    out = np.empty_like(x)
    w = 2 * lag + 1
    if n >= w:  # full windows at once (an hour of frames is one call, not 360 000)
        out[..., lag : n - lag] = np.median(np.lib.stride_tricks.sliding_window_view(x, w, axis=-1), axis=-1)
    for t in (*range(min(lag, n)), *range(max(lag, n - lag), n)):  # the one-sided windows at the ends
        out[..., t] = np.median(x[..., max(0, t - lag) : min(n, t + lag + 1)], axis=-1)
    return out


def decide(confidence: np.ndarray, peak: np.ndarray, gate: float, peak_gate: float) -> np.ndarray:
    """Per-frame decision: ``confidence >= gate`` and ``peak >= peak_gate`` (bool, the inputs' shape)."""
    return (np.asarray(confidence) >= gate) & (np.asarray(peak) >= peak_gate)


def voiced_track(
    confidence: np.ndarray, activations: np.ndarray, *, gate: float = 0.5, peak_gate: float = 0.0, lag: int = 0
) -> np.ndarray:
    """The voicing decision of a whole track, as the stream makes it frame by frame (the stream also makes frames
    whose input held NaN/Inf unvoiced: ``& input_finite``).

    Parameters
    ----------
    confidence : float (frames,)
    activations : float (frames, 128 * bps)
    gate, peak_gate : float in [0, 1]
    lag : int
        Frames of look-ahead (and look-back) of the medians: the glitch filter's ``lag`` when it is on, else 0.

    Returns
    -------
    bool (frames,)
    """
    gate, peak_gate = check_gate(gate), check_gate(peak_gate, "peak gate")
    pk = peak_mass(activations) if peak_gate > 0 else np.ones(np.shape(confidence), np.float32)
    return decide(window_median(confidence, lag), window_median(pk, lag), gate, peak_gate)


# ------------------------------------------------------------------------------------------- learned voicing output
# Our models (tracker-1, tracker-1-live) carry a logistic calibration of three per-frame measurements, fitted on
# training material by training/voicing.py (checkpoint keys ``voicing.weight`` (3,), ``voicing.bias`` (1,)). The
# engine's confidence for such a model is that calibrated probability (pesto_core.voicing_head in the torch paths,
# learned_voicing in native/frame.c for the native streaming kernel; this numpy form is the reference they are tested
# against, tests/core/test_voicing_head.py, and what training/voicing.py fits on).
VOICING_KEYS = ("voicing.weight", "voicing.bias")
LOGIT_EPS = 1e-4  # probabilities are clipped to [eps, 1 - eps] before the logit: logit(1e-4) = -9.2


def entropy(activations: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each frame's pitch distribution, normalised to sum to one: float64 (..., frames).

    0 for a one-hot frame, log(128 * bps) (5.95 for 384 bins) for a flat one; 0 for an all-zero frame.
    """
    a = np.asarray(activations, dtype=np.float64)
    total = a.sum(axis=-1, keepdims=True)
    q = a / np.maximum(total, 1e-12)
    return -(q * np.log(np.maximum(q, 1e-12))).sum(axis=-1)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), LOGIT_EPS, 1.0 - LOGIT_EPS)
    return np.log(p) - np.log1p(-p)


def voicing_features(confidence: np.ndarray, activations: np.ndarray) -> np.ndarray:
    """The calibration's inputs, float64 (..., frames, 3): logit of the confidence head's output, logit of the peak
    mass (:func:`peak_mass`), entropy (:func:`entropy`)."""
    pk = peak_mass(activations).astype(np.float64)
    return np.stack([_logit(confidence), _logit(pk), entropy(activations)], axis=-1)


def calibrated_voicing(confidence: np.ndarray, activations: np.ndarray, weight, bias) -> np.ndarray:
    """The learned voicing output: ``sigmoid(voicing_features @ weight + bias)``, float32 (..., frames) in [0, 1].

    confidence : float (..., frames), the confidence head's output; activations : float (..., frames, 128 * bps);
    weight : (3,); bias : scalar or (1,).
    """
    z = voicing_features(confidence, activations) @ np.asarray(weight, np.float64).reshape(3)
    z = z + float(np.asarray(bias, np.float64).reshape(-1)[0])
    return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)  # sigmoid without overflow warnings
