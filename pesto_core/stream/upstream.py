"""Upstream ``pesto``'s streaming interface: ``load_model(..., streaming=True)`` -> :class:`StreamingPestoModel`."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn as nn

from ..bundled import DEFAULT_MODEL
from ..checkpoint import load_checkpoint
from ..decode import reduce_activations
from ..device import select_device
from ..errors import ParameterError
from ..geometry import StreamTiming, hop_length_for
from ..model import PestoModel
from ..units import semitones_to_hz
from ..validation import check_positive_int, check_reduction, check_sr
from .engine import StreamFrameEngine


class StreamingPestoModel(StreamTiming, nn.Module):
    """Upstream ``pesto``'s streaming model: call it with consecutive blocks of ``hop_length`` samples.

    ``model(x, sr=None, convert_to_freq=False, return_activations=True)`` with ``x`` of shape ``(hop,)`` or
    ``(batch, hop)`` (``batch <= max_batch_size``; a whole multiple of ``hop`` gives that many frames) returns
    ``pitch, confidence, volume[, activations]`` for the frames the block completes: shapes ``(frames,)`` or
    ``(batch, frames)``, activations ``(..., frames, 128 * bps)``. Row ``i`` of the batch is stream ``i``; each keeps
    its own past samples. Frame timing as :class:`PitchStream` (see the module docstring). NaN/Inf samples are
    replaced by zeros and the frames they complete get confidence 0.
    """

    def __init__(self, model: PestoModel, sr: int, hop_length: int, mirror: float = 0.0, max_batch_size: int = 1,
                 native: bool = True):
        super().__init__()
        check_positive_int(max_batch_size, "max_batch_size")
        self.model = model
        # On the CPU the frames come from the native frame engine where it can be built (see PitchStream)
        self.engine = StreamFrameEngine(model, sr, hop_length, mirror,
                                        native_reduction=model.reduction if native else None)
        self.geometry = self.engine.geometry
        self.max_batch_size = int(max_batch_size)
        self.register_buffer("cache", torch.zeros(self.max_batch_size, self.geometry.cache, device=model.device),
                             persistent=False)

    @property
    def hop_size(self) -> float:
        """Step between frames in milliseconds (upstream's name)."""
        return self.model.step_size

    def reset(self) -> None:
        """Forget the past samples of every stream."""
        self.cache.zero_()

    def forward(self, x: torch.Tensor, sr: Optional[int] = None, convert_to_freq: bool = False,
                return_activations: bool = True):
        if sr is not None and sr != self.geometry.sr:
            raise ParameterError(f"sample rate changed mid-stream ({self.geometry.sr} Hz -> {sr} Hz): "
                                 f"load a new streaming model with sampling_rate={sr}")
        if not torch.is_tensor(x):
            x = torch.as_tensor(np.asarray(x))
        if not x.is_floating_point():
            raise ParameterError(f"audio blocks must be float samples in [-1, 1], got {x.dtype}")
        hop = self.geometry.hop_length
        if x.ndim not in (1, 2) or x.shape[-1] == 0 or x.shape[-1] % hop:
            raise ParameterError(f"streaming blocks must have shape (hop,) or (batch, hop) with hop = {hop} samples "
                                 f"(or a whole multiple of it), got {tuple(x.shape)}")
        squeeze = x.ndim == 1
        x = x.reshape(1, -1) if squeeze else x
        batch = x.shape[0]
        if batch > self.max_batch_size:
            raise ParameterError(f"{batch} streams in the block but max_batch_size is {self.max_batch_size}")
        x = x.to(self.cache.device, torch.float32)
        finite = torch.isfinite(x)
        all_finite = bool(finite.all())
        if not all_finite:
            x = torch.where(finite, x, torch.zeros((), dtype=x.dtype, device=x.device))
        with torch.no_grad():
            buf = torch.cat((self.cache[:batch], x), dim=-1)
            if self.engine.native is not None and buf.device.type == "cpu":
                frames = x.shape[-1] // hop
                rows = [self.engine.native.frames(row.numpy(), hop, frames) for row in buf]
                activations, conf, volume, pitch = (torch.from_numpy(np.stack(z)) for z in zip(*rows))
                out = {"confidence": conf, "volume": volume}
            else:
                out = self.engine(buf)
                activations = out["activations"]
                pitch = reduce_activations(activations, self.model.reduction)
            self.cache[:batch] = buf[:, -self.geometry.cache:]
        confidence = out["confidence"]
        if not all_finite:
            frame_bad = ~finite.reshape(batch, -1, hop).all(dim=-1)
            confidence = confidence.masked_fill(frame_bad, 0.0)
        if convert_to_freq:
            pitch = semitones_to_hz(pitch)
        result = [pitch, confidence, out["volume"]]
        if return_activations:
            result.append(activations)
        if squeeze:
            result = [r[0] for r in result]
        return tuple(result)


def load_streaming_model(name_or_path: str = DEFAULT_MODEL, step_size: float = 10.0,
                         sampling_rate: Optional[int] = None, *, device=None, mirror: float = 0.0,
                         max_batch_size: int = 1, reduction: Optional[str] = None, streaming: bool = True,
                         **kwargs) -> StreamingPestoModel:
    """Upstream-compatible ``load_model(..., streaming=True)``: a :class:`StreamingPestoModel`.

    ``sampling_rate`` is required (a stream has one fixed rate); ``mirror`` defaults to 0 as upstream's.
    """
    kwargs.pop("chunk_frames", None)
    if kwargs:
        raise ParameterError(f"unknown option(s) for a streaming model: {', '.join(sorted(kwargs))}")
    if sampling_rate is None:
        raise ParameterError("a streaming model needs its sample rate: pass sampling_rate")
    if reduction is not None:
        check_reduction(reduction)
    sampling_rate = check_sr(sampling_rate)
    model = PestoModel(load_checkpoint(name_or_path), step_size, reduction=reduction)
    model.to(select_device(device))
    hop = hop_length_for(step_size, int(sampling_rate))
    return StreamingPestoModel(model, int(sampling_rate), hop, mirror=mirror, max_batch_size=max_batch_size).eval()
