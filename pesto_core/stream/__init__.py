"""Streaming pitch estimation for live audio: one frame per hop, computed as soon as its samples have arrived.

Method (PESTO's streaming mode, Riou et al., TISMIR 2025, arXiv 2508.01488, after Caillon & Esling's cached
convolutions). The offline VQT frame ``t`` is the window ``x[t*hop - W/2 : t*hop + W/2]`` (``W`` = the VQT's
``kernel_width``, a power of two) and needs ``W/2`` samples of the future. A stream cannot wait that long, so the
newest ``m`` samples of each window are replaced by zeros ("mirror" padding):

    m = int(mirror * (W - hop) / 2)          (0 <= mirror <= 1; upstream's formula, rounding included)
    Z = W - hop - m                          (past samples kept between blocks; zeros at the start of a stream)

Frame ``k`` (k = 0, 1, ...) is the window whose real part is the ``Z + hop`` samples ending at sample ``(k+1)*hop``
(exclusive), followed by ``m`` zeros. Its centre (the window's sample ``W/2``, where every VQT kernel is centred) is
input sample

    c_k = (k + 1) * hop - lag,    lag = W/2 - m   samples,

so ``time_s = c_k / sr``, and a frame becomes available ``lag`` samples after its centre: ``latency_s = lag / sr``.
With ``mirror=1``, ``lag = ceil(hop / 2)`` (frame ``k`` centred on ``k * hop + floor(hop / 2)``): 5 ms at 48 kHz with
a 480-sample hop. With ``mirror=0`` there is no zero padding and ``lag = W/2`` (85 ms at 48 kHz): frame ``k`` is
exactly the offline frame of the same audio centred on ``c_k``; see :func:`offline_equivalent` for the index
relation.

Arithmetic: the ``m`` trailing zeros contribute nothing, so the VQT uses only the first ``Z + hop`` taps of the
kernels, and within those only each kernel's non-zero span: identical to the offline VQT in real arithmetic, equal
to float32 rounding. Two engines compute the frames:

* on the CPU, by default, the native frame engine (:mod:`pesto_core.native`): one C call per push computes every
  completed frame, one at a time (VQT, network, decoding, refinement) — a hop is one frame, and in torch its ~40
  tiny operations cost several times the arithmetic;
* otherwise (GPU, no C compiler, ``native=False``, and the exported modules) the torch engine: grouped matrix
  products for the VQT (:class:`StreamFrameEngine`) and :meth:`pesto_core.model.PestoModel.frames_from_vqt`, the
  same network code as the offline engine, all frames of a push in one pass.

Both give the same numbers to float32 rounding (tests/core/test_native.py).

Two interfaces:

* :class:`PitchStream` (:mod:`.pitch_stream`): for applications (the GUI). Any block length in, all completed
  frames out as a frozen :class:`StreamFrames` of numpy arrays with exact times; several independent streams;
  NaN/Inf samples tolerated.
* :func:`load_streaming_model` -> :class:`StreamingPestoModel` (:mod:`.upstream`): upstream ``pesto``'s streaming
  module (``load_model(..., streaming=True)``), called with blocks of ``hop`` samples (or whole multiples of it).
"""
from __future__ import annotations

from ..geometry import StreamGeometry, offline_equivalent
from .engine import VQT_GROUPS, StreamFrameEngine
from .pitch_stream import LIVE_DEFAULTS, MAX_FRAMES_PER_PASS, PitchStream, StreamFrames, live_model_name, live_stream
from .upstream import StreamingPestoModel, load_streaming_model

__all__ = ["PitchStream", "StreamFrames", "live_stream", "live_model_name", "LIVE_DEFAULTS", "StreamGeometry",
           "offline_equivalent", "StreamFrameEngine", "StreamingPestoModel", "load_streaming_model",
           "MAX_FRAMES_PER_PASS", "VQT_GROUPS"]
