"""Network inputs for training, computed by the engine's own code.

* ``offline``: the engine's VQT (:class:`pesto_core.vqt.VQT` on the reflect-padded signal, as
  :class:`pesto_core.model.PestoModel` computes it): frame ``t`` is centred on sample ``t * hop``.
* ``stream``: the live condition, :class:`pesto_core.stream.StreamFrameEngine` (the engine PitchStream uses, here with
  ``mirror=1`` by default: the future half of each window replaced by zeros), fed with the stream's zero cache
  followed by the clip: frame ``k`` is centred on sample ``(k + 1) * hop - lag``.

Both give the VQT in dB (``VQT.to_db``); the encoder's input is ``dB * ln(10) / 10`` (the natural log of the power),
exactly as :meth:`PestoModel.frames_from_vqt` forms it. Labels are the clip's f0 at each frame's centre sample.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from pesto_core.checkpoint import load_checkpoint
from pesto_core.model import PestoModel, hop_length_for
from pesto_core.stream import StreamFrameEngine
from pesto_core.vqt import VQT, padded_segment


@lru_cache(maxsize=4)
def _model(name: str) -> PestoModel:
    return PestoModel(load_checkpoint(name))


@lru_cache(maxsize=32)
def _offline_vqt(name: str, sr: int, hop: int) -> VQT:
    return VQT(sr, hop, **_model(name).hcqt_params)


@lru_cache(maxsize=32)
def _stream_engine(name: str, sr: int, hop: int, mirror: float) -> StreamFrameEngine:
    return StreamFrameEngine(_model(name), sr, hop, mirror)


@torch.no_grad()
def vqt_db(
    audio: np.ndarray, sr: int, mode: str, step_ms: float = 10.0, mirror: float = 1.0, model_name: str = "mir-1k_g7"
) -> tuple:
    """VQT frames in dB (frames, n_bins) float32 and each frame's centre sample (frames,) int."""
    hop = hop_length_for(step_ms, sr)
    x = np.asarray(audio, dtype=np.float32)
    if mode == "offline":
        vqt = _offline_vqt(model_name, sr, hop)
        half = vqt.kernel_width // 2
        total = len(x) // hop + 1
        seg = padded_segment(lambda a, b: x[a:b], len(x), -half, (total - 1) * hop + half)
        out = vqt.forward_padded(torch.tensor(np.asarray(seg, np.float32))[None])[0]
        centres = np.arange(total) * hop
    elif mode == "stream":
        eng = _stream_engine(model_name, sr, hop, float(mirror))
        g = eng.geometry
        buf = torch.tensor(np.concatenate([np.zeros(g.cache, np.float32), x]))[None]
        out = eng.vqt(buf)[0]
        centres = (np.arange(out.shape[0]) + 1) * hop - g.lag
    else:
        raise ValueError(f"unknown feature mode {mode!r}")
    return VQT.to_db(out).numpy().astype(np.float32), centres


def frame_labels(f0: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """f0 (Hz; 0 unvoiced, -1 ambiguous) at each frame centre."""
    return f0[np.clip(centres, 0, len(f0) - 1)].astype(np.float32)
