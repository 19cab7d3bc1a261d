"""Training objective.

* Pitch: cross-entropy between the encoder's output distribution and a Gaussian of ``sigma`` bins centred on the
  exact f0 (fractional bin, circular over the output), on voiced frames only. The ground truth is exact (synthetic
  f0), so supervision replaces PESTO's self-supervised equivariance objective; the encoder's Toeplitz layer keeps the
  architecture transposition-equivariant. A Gaussian target (rather than one-hot) lets the softmax keep the
  sub-bin position that PESTO's ``alwa`` decoding and our refinement read from neighbouring bins.
* Voicing: binary cross-entropy of the confidence head's logit against the voiced / unvoiced label, on every
  labelled frame, so that the confidence is a calibrated probability of voicing and 0.5 is the natural gate.
* Voicing from the pitch distribution (a proposed confidence, not yet an engine output): the mass of the output
  distribution within one bin of its peak, ``peak``, mapped by a learned logistic calibration
  ``sigmoid(a * logit(peak) + b)``, trained by the same binary cross-entropy with gradients into the encoder: the
  encoder learns to spread its distribution on unvoiced frames. The engine's own confidence head is a linear unit on
  the linear-power VQT and its spectral flatness; it cannot separate noisy voiced frames from noise (about 72% frame
  accuracy on our mix at best, see training/README.md), so this second output is trained and measured beside it.
Frames labelled ambiguous (-1) take no loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def pitch_target(
    f0_hz: torch.Tensor, n_out: int, bins_per_semitone: int, shift_bins: int, sigma: float = 1.0
) -> torch.Tensor:
    """Gaussian targets (frames, n_out) over the encoder's raw (un-rolled) output bins."""
    midi = 69.0 + 12.0 * torch.log2(f0_hz / 440.0)
    centre = midi * bins_per_semitone + shift_bins
    k = torch.arange(n_out, dtype=torch.float32)
    d = torch.remainder(k[None, :] - centre[:, None] + n_out / 2, n_out) - n_out / 2
    w = torch.exp(-0.5 * (d / sigma) ** 2)
    return w / w.sum(-1, keepdim=True)


def peak_mass(probs: torch.Tensor) -> torch.Tensor:
    """Probability mass within one bin of each frame's argmax (circular), shape (frames,)."""
    i = probs.argmax(-1, keepdim=True)
    n = probs.shape[-1]
    idx = torch.cat([(i - 1) % n, i, (i + 1) % n], -1)
    return probs.gather(-1, idx).sum(-1)


def peak_voicing_logit(pitch_logits: torch.Tensor, calib: torch.Tensor) -> torch.Tensor:
    """``a * logit(peak) + b`` with ``calib = (a, b)``."""
    pk = peak_mass(torch.softmax(pitch_logits, -1)).clamp(1e-6, 1 - 1e-6)
    return calib[0] * (pk.log() - (-pk).log1p()) + calib[1]


def losses(
    pitch_logits: torch.Tensor,
    conf_logit: torch.Tensor,
    f0_hz: torch.Tensor,
    *,
    bins_per_semitone: int,
    shift_bins: int,
    sigma: float = 1.0,
    calib: torch.Tensor | None = None,
) -> dict:
    voiced = f0_hz > 0
    labelled = f0_hz >= 0
    out = {}
    if voiced.any():
        target = pitch_target(f0_hz[voiced], pitch_logits.shape[-1], bins_per_semitone, shift_bins, sigma)
        logp = F.log_softmax(pitch_logits[voiced], dim=-1)
        out["pitch"] = -(target * logp).sum(-1).mean()
        with torch.no_grad():
            est = logp.argmax(-1).float()
            ref = target.argmax(-1).float()
            d = (
                torch.remainder(est - ref + pitch_logits.shape[-1] / 2, pitch_logits.shape[-1])
                - pitch_logits.shape[-1] / 2
            )
            out["acc50"] = (d.abs() <= 1.5).float().mean()  # within a semitone/2 = 1.5 bins at 3 bins/semitone
    else:
        out["pitch"] = pitch_logits.sum() * 0.0
    if labelled.any():
        out["voicing"] = F.binary_cross_entropy_with_logits(conf_logit[labelled], voiced[labelled].float())
        with torch.no_grad():
            out["vacc"] = ((conf_logit[labelled] > 0) == voiced[labelled]).float().mean()
    else:
        out["voicing"] = conf_logit.sum() * 0.0
    if calib is not None:
        if labelled.any():
            z = peak_voicing_logit(pitch_logits[labelled], calib)
            out["peak_voicing"] = F.binary_cross_entropy_with_logits(z, voiced[labelled].float())
            with torch.no_grad():
                out["pvacc"] = ((z > 0) == voiced[labelled]).float().mean()
        else:
            out["peak_voicing"] = pitch_logits.sum() * 0.0
    return out


def lr_factor(step: int, total: int, warmup: int, decay_from: float = 0.75, floor: float = 0.1) -> float:
    """Linear warm-up, constant, then cosine decay to ``floor`` over the last ``1 - decay_from`` of the run."""
    if step < warmup:
        return (step + 1) / warmup
    start = int(decay_from * total)
    if step < start:
        return 1.0
    p = min(1.0, (step - start) / max(1, total - start))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p))
