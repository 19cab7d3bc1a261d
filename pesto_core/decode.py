"""Decoding PESTO's pitch distribution into a pitch, and pitch-unit conversions.

The activations are a probability distribution over ``128 * bins_per_semitone`` log-frequency bins; bin ``i`` is
MIDI pitch ``i / bins_per_semitone`` (after the checkpoint's shift has been applied by rolling the distribution).

Reductions:

* ``argmax``: the most probable bin;
* ``mean``: the expectation over all bins;
* ``alwa`` (argmax-local weighted average, as CREPE): the expectation over the ``2 * bps - 1`` bins centred on the
  argmax (indices clipped at the edges).
"""
from __future__ import annotations

from functools import lru_cache

import torch

from .errors import ParameterError
from .validation import REDUCTIONS, check_reduction  # noqa: F401 (REDUCTIONS re-exported)


@lru_cache(maxsize=16)
def _grid(n_out: int, bps: int, device: str):
    """Pitch of each bin (n_out,) and the alwa window offsets (2 * bps - 1,), made once per size and device.

    Made outside inference mode so that they serve under it and outside it; never modified.
    """
    with torch.inference_mode(False):
        pitches = torch.arange(n_out, dtype=torch.float32, device=device) / bps
        offsets = torch.arange(-bps + 1, bps, device=device)
    return pitches, offsets


def decode(activations: torch.Tensor, pitches: torch.Tensor, offsets: torch.Tensor, reduction: str) -> torch.Tensor:
    """The reductions themselves, scriptable (the exporter compiles this very function).

    Parameters
    ----------
    activations : Tensor (..., n_out); pitches : (n_out,) MIDI semitones of each bin; offsets : (2 * bps - 1,) int64,
    the alwa window around the arg-max; reduction : a checked member of ``REDUCTIONS``.
    """
    if reduction == "argmax":
        return pitches[activations.argmax(dim=-1)]
    if reduction == "mean":
        return activations @ pitches
    centre = activations.argmax(dim=-1, keepdim=True)
    idx = torch.clamp(centre + offsets, 0, activations.shape[-1] - 1)
    weights = activations.gather(-1, idx)
    return (weights * pitches[idx]).sum(dim=-1) / weights.sum(dim=-1)


def reduce_activations(activations: torch.Tensor, reduction: str = "alwa") -> torch.Tensor:
    """Pitch in (fractional) MIDI semitones from activations.

    Parameters
    ----------
    activations : Tensor, shape (..., n_out) with ``n_out = 128 * bps``; rows sum to 1
    reduction : {"alwa", "argmax", "mean"}

    Returns
    -------
    Tensor, float32, shape (...)
    """
    check_reduction(reduction)
    n_out = activations.shape[-1]
    bps, rest = divmod(n_out, 128)
    if rest or bps == 0:
        raise ParameterError(f"activations must have 128 * bins_per_semitone bins, got {n_out}")
    return decode(activations, *_grid(n_out, bps, str(activations.device)), reduction)
