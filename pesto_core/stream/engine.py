"""The torch streaming engine: VQT of windows cut from a contiguous buffer, and the network, all frames in one pass.

Also prepares the native frame engine (:mod:`pesto_core.native`) for the same configuration. Method: see
:mod:`pesto_core.stream`.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..geometry import StreamGeometry
from ..model import PestoModel
from ..native import NativeFramePlan
from ..native import library as native_library
from ..validation import check_sr
from ..vqt import make_kernels, window_weights

# Runs of bins with their own tap range in the streaming VQT (see StreamFrameEngine).
VQT_GROUPS = 4


class StreamFrameEngine(nn.Module):
    """VQT and network for streaming frames cut from a contiguous buffer of samples.

    Parameters
    ----------
    model : PestoModel
        Supplies the network (:meth:`PestoModel.frames_from_vqt`) and the VQT parameters.
    sr, hop_length : int
    mirror : float
    native_reduction : {"alwa", "argmax", "mean"}, optional
        Also prepare the native frame engine (``self.native``, a :class:`pesto_core.native.NativeFramePlan`, None
        where it cannot be built or off the CPU), decoding with this reduction. The torch forms are always there.
    """

    def __init__(self, model: PestoModel, sr: int, hop_length: int, mirror: float,
                 native_reduction: Optional[str] = None):
        super().__init__()
        sr = check_sr(sr)
        self.model = model
        p = model.hcqt_params
        kernels, lengths, _ = make_kernels(int(sr), float(p.get("fmin", 27.5)), int(p.get("n_bins", 251)),
                                           int(p.get("bins_per_semitone", 3)), float(p.get("gamma", 7)),
                                           bool(p.get("center_bins", True)))
        self.geometry = StreamGeometry.build(sr, hop_length, kernels.shape[1], mirror)
        self.n_bins = kernels.shape[0]
        w_re, w_im, first, last = window_weights(kernels, lengths, self.geometry.taps)
        # the dense form (one strided convolution over all taps, sqrt(l_k) folded in) is what the exporter
        # compiles (export.StreamStep)
        self.register_buffer("weight", torch.from_numpy(np.concatenate([w_re, w_im])[:, None, :]), persistent=False)
        # Sparse evaluation: a kernel is zero before its own start (long kernels start early, short ones late), so
        # the bins are cut into VQT_GROUPS runs and each run is one matrix product over its taps from the run's
        # earliest start only: about 55% of the multiply-adds and weight traffic of the dense product at 48 kHz with
        # mirror=1 (the skipped products are exact zeros). sqrt(l_k) is folded into the weights (one rounding of the
        # product instead of two). A product gives [Re | Im] of its run; one gather puts the bins back in order.
        bounds = np.linspace(0, self.n_bins, min(VQT_GROUPS, self.n_bins) + 1).astype(int)
        self.groups: List[Tuple[int, int]] = []
        order = []  # (part, bin) of each column of the concatenated products
        for g, (b0, b1) in enumerate(zip(bounds[:-1], bounds[1:])):
            start = int(np.where(last[b0:b1] >= 0, first[b0:b1], self.geometry.taps - 1).min())
            w = np.concatenate([w_re[b0:b1, start:], w_im[b0:b1, start:]])
            self.register_buffer(f"group_weight{g}", torch.from_numpy(np.ascontiguousarray(w)), persistent=False)
            self.groups.append((g, start))
            order += [(0, b) for b in range(b0, b1)] + [(1, b) for b in range(b0, b1)]
        position = {key: i for i, key in enumerate(order)}
        gather = [position[part, b] for part in (0, 1) for b in range(self.n_bins)]
        self.register_buffer("gather", torch.tensor(gather, dtype=torch.long), persistent=False)
        self.to(model.device)
        # The native frame engine (pesto_core/native.py), when asked for, on the CPU, and where it can be built
        self.native: Optional[NativeFramePlan] = None
        if native_reduction is not None and model.device.type == "cpu":
            lib = native_library()
            if lib is not None:
                self.native = NativeFramePlan(lib, model, kernels, lengths, self.geometry.taps, native_reduction)

    def n_frames(self, n_buffered: int) -> int:
        """Frames computable from ``n_buffered`` samples (cache included)."""
        return max(0, (n_buffered - self.geometry.cache) // self.geometry.hop_length)

    def vqt(self, x: torch.Tensor) -> torch.Tensor:
        """Complex VQT of the frames of ``x``.

        Parameters
        ----------
        x : Tensor float32 (batch, Z + frames * hop)
            Cache followed by new samples; frame ``j`` uses ``x[:, j*hop : j*hop + Z + hop]``.

        Returns
        -------
        Tensor complex64 (batch, frames, n_bins)
        """
        g = self.geometry
        batch = x.shape[0]
        frames = (x.shape[1] - g.cache) // g.hop_length
        windows = x.unfold(1, g.taps, g.hop_length).reshape(batch * frames, g.taps)  # a view for one frame
        parts = [F.linear(windows[:, start:], self.get_buffer(f"group_weight{k}")) for k, start in self.groups]
        y = torch.cat(parts, dim=1).index_select(1, self.gather)  # (batch * frames, 2 * n_bins): [Re | Im]
        return torch.complex(y[:, :self.n_bins], y[:, self.n_bins:]).view(batch, frames, self.n_bins)

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Outputs of every frame of ``x`` (see :meth:`vqt`).

        Returns
        -------
        dict: ``activations`` (batch, frames, 128 * bps) shifted, ``confidence`` (batch, frames),
        ``volume`` (batch, frames) (total VQT power, linear).
        """
        vqt = self.vqt(x)
        batch, frames = vqt.shape[:2]
        out = self.model.frames_from_vqt(vqt.reshape(batch * frames, self.n_bins))
        return {"activations": out["activations"].reshape(batch, frames, -1),
                "confidence": out["confidence"].reshape(batch, frames),
                "volume": out["volume"].reshape(batch, frames)}
