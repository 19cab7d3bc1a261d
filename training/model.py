"""A differentiable form of the engine's network, with the engine's parameter names, for training.

The engine's :class:`pesto_core.model.Encoder` evaluates the published network through derived weight forms (kernel
spectra, Toeplitz matrix) computed without gradients; here the same function is written directly (convolutions,
the Toeplitz matrix gathered from its generating vector) so that every parameter gets a gradient. The trained
parameters are copied back into a :class:`pesto_core.checkpoint.Checkpoint` with upstream key names, so the offline
engine, the native streaming kernel and the exporter run the result unchanged (same architecture, same cost).
"""

from __future__ import annotations

import dataclasses
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from pesto_core.checkpoint import Checkpoint
from pesto_core.model import ConfidenceHead, Encoder
from pesto_core.voicing import VOICING_KEYS


class TrainableNet(nn.Module):
    """Encoder + confidence head of one checkpoint, differentiable.

    forward(log_power (frames, n_bins)) -> (raw logits (frames, output_dim) before the checkpoint's roll,
    confidence logit (frames,)).
    """

    def __init__(self, ckpt: Checkpoint):
        super().__init__()
        self.base = ckpt
        self.encoder = Encoder(**ckpt.encoder)
        self.encoder.load_upstream(ckpt.state_dict)
        self.encoder.fc_kernel.requires_grad_(True)
        n_bins = int(ckpt.hcqt_params["n_bins"])
        self.confidence = ConfidenceHead(n_bins=n_bins)
        with torch.no_grad():
            for name in ("conv.weight", "conv.bias", "linear.weight", "linear.bias"):
                self.confidence.get_parameter(name).copy_(ckpt.state_dict[f"confidence.{name}"])
        self.crop = (int(ckpt.pitch_shift["max_steps"]), n_bins + int(ckpt.pitch_shift["min_steps"]))
        self.bins_per_semitone = int(ckpt.hcqt_params["bins_per_semitone"])
        self.shift_bins = round(float(ckpt.state_dict["shift"]) * self.bins_per_semitone)
        enc = self.encoder
        fc_in = enc.fc_matrix.shape[0]
        i = torch.arange(fc_in)[:, None]
        j = torch.arange(enc.output_dim)[None, :]
        self.register_buffer("fc_index", (i - j + enc.output_dim - 1), persistent=False)
        # calibration (a, b) of the proposed voicing output from the pitch distribution (training/losses.py)
        self.peak_calibration = nn.Parameter(torch.tensor([1.0, 0.0]))

    def pitch_logits(self, log_power_cropped: torch.Tensor) -> torch.Tensor:
        enc = self.encoder
        x = F.layer_norm(
            log_power_cropped,
            (log_power_cropped.shape[-1],),
            enc.layernorm.weight.view(-1),
            enc.layernorm.bias.view(-1),
            enc.layernorm.eps,
        )
        x = enc.activation(enc.prefilter[0](x.unsqueeze(1)))
        for conv in enc.prefilter[1:]:
            y = (
                F.leaky_relu(conv(x), enc.activation.negative_slope)
                if isinstance(enc.activation, nn.LeakyReLU)
                else enc.activation(conv(x))
            )
            x = x + y if enc.residual else y
        for conv in enc.pointwise:
            x = (
                F.leaky_relu(conv(x), enc.activation.negative_slope)
                if isinstance(enc.activation, nn.LeakyReLU)
                else enc.activation(conv(x))
            )
        return x.flatten(1) @ enc.fc_kernel[self.fc_index]

    def confidence_logit(self, log_power: torch.Tensor) -> torch.Tensor:
        head = self.confidence
        power = log_power.exp()
        flatness = log_power.mean(dim=-1, keepdim=True).exp() / power.mean(dim=-1, keepdim=True).clamp(min=1e-8)
        features = F.relu(head.conv(power.unsqueeze(1)).squeeze(1))
        return head.linear(torch.cat((features, flatness), dim=-1)).squeeze(-1)

    def forward(self, log_power: torch.Tensor):
        return self.pitch_logits(log_power[:, self.crop[0] : self.crop[1]]), self.confidence_logit(log_power)

    def state_for_checkpoint(self) -> Dict[str, torch.Tensor]:
        enc, sd = self.encoder, {}
        sd["encoder.layernorm.weight"] = enc.layernorm.weight
        sd["encoder.layernorm.bias"] = enc.layernorm.bias
        names = ["encoder.conv1.0"] + [f"encoder.prefilt_layers.{i}.0" for i in range(len(enc.prefilter) - 1)]
        for conv, name in zip(enc.prefilter, names):
            sd[f"{name}.weight"], sd[f"{name}.bias"] = conv.weight, conv.bias
        for i, conv in enumerate(enc.pointwise):
            sd[f"encoder.conv_layers.{3 * i}.weight"] = conv.weight
            sd[f"encoder.conv_layers.{3 * i}.bias"] = conv.bias
        sd["encoder.fc.weight"] = enc.fc_kernel.view_as(self.base.state_dict["encoder.fc.weight"])
        for name in ("conv.weight", "conv.bias", "linear.weight", "linear.bias"):
            sd[f"confidence.{name}"] = self.confidence.get_parameter(name)
        return {k: v.detach().clone().float().contiguous() for k, v in sd.items()}

    def to_checkpoint(self, name: str) -> Checkpoint:
        sd = dict(self.base.state_dict)
        for key in VOICING_KEYS:  # a learned voicing output was fitted to the old weights: refit it after training
            sd.pop(key, None)
        sd.update(self.state_for_checkpoint())
        # the proposed voicing output's calibration travels with the weights (the engine ignores this key)
        sd["peak_voicing.calibration"] = self.peak_calibration.detach().clone().float()
        return dataclasses.replace(self.base, name=name, state_dict=sd)
