"""The learned voicing output of our models, in torch (the offline engine, the torch streaming engine, the exporter).

A checkpoint that carries ``voicing.weight`` (3,) and ``voicing.bias`` (1,) (``tracker-1``, ``tracker-1-live``; fitted
by ``python3 -m training.voicing``) has its confidence replaced by a calibrated probability that the frame has a
pitch::

    confidence = sigmoid(w0 * logit(c) + w1 * logit(m) + w2 * H + b)

``c`` is the published confidence head's output (a linear unit on the frame's power and spectral flatness), ``m``
the *peak mass* of the pitch distribution (its share within one semitone of the arg-max) and ``H`` the
distribution's entropy in nats. Why: the head alone cannot tell noisy voiced frames from noise (it is blind to
pitch), and a frame whose distribution is spread over several peaks is noise, breath or an error; the encoder's
distribution is the evidence the head lacks. A logistic unit on these three was as good as a small network on them
(training/README.md), costs a few operations per frame, and keeps 0.5 the natural gate (held-out results:
BENCHMARKS.md, "Model accuracy").
Checkpoints without the keys (``mir-1k_g7``) keep the head's output exactly (upstream's numbers).

The native streaming kernel computes the same in C (``learned_voicing`` in native/frame.c); the numpy reference is
:func:`pesto_core.voicing.calibrated_voicing`. All give the same values (tests/core/test_voicing_head.py).
"""

from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn as nn

from .voicing import LOGIT_EPS, VOICING_KEYS


class VoicingHead(nn.Module):
    """``forward(confidence (N,), activations (N, 128 * bps)) -> (N,)`` float32 in [0, 1]."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, bins_per_semitone: int):
        super().__init__()
        # float64 evaluation as the confidence head (results must not depend on how a signal is chunked); the
        # exporter's copy sets it False
        self.exact = True
        self.bins_per_semitone = int(bins_per_semitone)
        self.eps = float(LOGIT_EPS)  # an attribute, not a global: TorchScript reads it
        self.register_buffer("weight", weight.detach().clone().double().reshape(3))
        self.register_buffer("bias", bias.detach().clone().double().reshape(1))
        self.register_buffer("bins", torch.arange(128 * self.bins_per_semitone).unsqueeze(0))  # (1, n_out)

    @staticmethod
    def from_state_dict(state_dict: Dict[str, torch.Tensor], bins_per_semitone: int) -> Optional["VoicingHead"]:
        """The checkpoint's voicing output, or None when it has none."""
        if not all(k in state_dict for k in VOICING_KEYS):
            return None
        return VoicingHead(state_dict[VOICING_KEYS[0]], state_dict[VOICING_KEYS[1]], bins_per_semitone)

    def forward(self, confidence: torch.Tensor, activations: torch.Tensor) -> torch.Tensor:
        dtype = torch.float64 if self.exact else torch.float32
        a = activations.to(dtype)
        peak = a.argmax(dim=-1, keepdim=True)
        near = ((self.bins - peak).abs() <= self.bins_per_semitone).to(dtype)  # ±1 semitone, not wrapping round
        total = a.sum(dim=-1)
        mass = (a * near).sum(dim=-1) / total.clamp(min=1e-12)
        mass = torch.where(total > 1e-12, mass, torch.zeros_like(mass))
        q = a / total.clamp(min=1e-12).unsqueeze(-1)
        entropy = -(q * torch.log(q.clamp(min=1e-12))).sum(dim=-1)
        c = confidence.to(dtype).clamp(self.eps, 1.0 - self.eps)
        m = mass.clamp(self.eps, 1.0 - self.eps)
        w = self.weight.to(dtype)
        z = w[0] * (torch.log(c) - torch.log1p(-c)) + w[1] * (torch.log(m) - torch.log1p(-m)) + w[2] * entropy
        return torch.sigmoid(z + self.bias.to(dtype)[0]).float()
