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

* :class:`PitchStream`: for applications (the GUI). Any block length in, all completed frames out as a frozen
  :class:`StreamFrames` of numpy arrays with exact times; several independent streams; NaN/Inf samples tolerated.
* :func:`load_streaming_model` -> :class:`StreamingPestoModel`: upstream ``pesto``'s streaming module
  (``load_model(..., streaming=True)``), called with blocks of ``hop`` samples (or whole multiples of it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .bundled import DEFAULT_MODEL
from .checkpoint import load_checkpoint
from .decode import reduce_activations
from .device import select_device
from .errors import ParameterError
from .model import PestoModel
from .native import NativeFramePlan, library as native_library
from .refine import refine_pitch
from .units import semitones_to_hz
from .validation import check_positive_int, check_reduction, check_sr, hop_length_for
from .vqt import make_kernels, window_weights

# Frames per forward pass when one push completes many hops (bounds memory like the offline engine's chunks).
MAX_FRAMES_PER_PASS = 512
# Runs of bins with their own tap range in the streaming VQT (see StreamFrameEngine).
VQT_GROUPS = 4


# ------------------------------------------------------------------------------------------------------ geometry
@dataclass(frozen=True)
class StreamGeometry:
    """Where streaming frames sit in the input, in samples (see the module docstring).

    Attributes
    ----------
    sr, hop_length, kernel_width : int
        Sample rate (Hz), hop and VQT frame width ``W`` (samples).
    mirror : float
        Fraction of the future half-window replaced by zeros.
    mirrored : int
        ``m``: zeros appended after the newest sample of each window.
    cache : int
        ``Z = W - hop - m``: past samples kept between hops.
    lag : int
        ``W/2 - m``: samples from a frame's centre to the end of the hop that completes it.
    """

    sr: int
    hop_length: int
    kernel_width: int
    mirror: float
    mirrored: int
    cache: int
    lag: int

    @staticmethod
    def build(sr: int, hop_length: int, kernel_width: int, mirror: float) -> "StreamGeometry":
        if not (isinstance(mirror, (int, float)) and not isinstance(mirror, bool) and 0.0 <= mirror <= 1.0):
            raise ParameterError(f"mirror must be a number in [0, 1], got {mirror!r}")
        if hop_length > kernel_width // 2:
            raise ParameterError(f"hop of {hop_length} samples is longer than half the VQT frame "
                                 f"({kernel_width // 2} samples at {sr} Hz): use a shorter step")
        mirrored = int(mirror * (kernel_width - hop_length) / 2)  # upstream's rounding (towards zero)
        return StreamGeometry(sr=int(sr), hop_length=int(hop_length), kernel_width=int(kernel_width),
                              mirror=float(mirror), mirrored=mirrored,
                              cache=kernel_width - hop_length - mirrored, lag=kernel_width // 2 - mirrored)

    @property
    def taps(self) -> int:
        """Real (non-zero) samples per window: ``Z + hop``."""
        return self.cache + self.hop_length

    def centre(self, k):
        """Input sample index of frame ``k``'s centre: ``(k + 1) * hop - lag`` (int or int64 array)."""
        return (np.asarray(k, dtype=np.int64) + 1) * self.hop_length - self.lag


def offline_equivalent(geometry: StreamGeometry) -> Tuple[int, int]:
    """How mirror=0 streaming frames relate to the offline engine's frames.

    With ``mirror=0``, streaming frame ``k`` of a signal ``x`` equals offline frame ``k - delay`` of
    ``y = concatenate([zeros(pad), x])`` (offline frame ``t`` is centred on ``t * hop`` of its input):

        pad = (W/2) mod hop,   delay = (W/2) // hop - 1,

    because frame ``k`` is centred on ``(k+1)*hop - W/2`` of ``x``, i.e. ``(k - delay) * hop`` of ``y``. The equality is
    exact for every frame whose window starts inside ``y`` (``k >= 2 * delay + 1``); earlier frames differ only in the
    padding before the signal (zeros in a stream, reflection offline).

    Returns
    -------
    (pad, delay) : ints, samples and frames.
    """
    if geometry.mirrored:
        raise ParameterError("the offline relation holds for mirror=0 only")
    half = geometry.kernel_width // 2
    return half % geometry.hop_length, half // geometry.hop_length - 1


# ------------------------------------------------------------------------------------------------------ compute
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


def _frame_flags(bad: np.ndarray, pending_bad: np.ndarray, pending: int, hop: int, n_frames: int
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Which completed frames had a non-finite sample in the hop that completed them.

    Parameters
    ----------
    bad : bool (streams, samples)
        Non-finite samples of the new block.
    pending_bad : bool (streams,)
        Whether the ``pending`` samples buffered before the block (a partial hop) held any.

    Returns
    -------
    frame_bad : bool (streams, n_frames); new pending_bad : bool (streams,)
    """
    streams, n = bad.shape
    padded = np.concatenate([np.repeat(pending_bad[:, None], pending, axis=1), bad], axis=1)
    used = n_frames * hop
    frame_bad = padded[:, :used].reshape(streams, n_frames, hop).any(axis=2)
    return frame_bad, padded[:, used:].any(axis=1)


# ------------------------------------------------------------------------------------------------------ app API
@dataclass(frozen=True)
class StreamFrames:
    """Frames completed by one :meth:`PitchStream.push` (or :meth:`PitchStream.flush`), as numpy arrays.

    Shapes: ``(frames,)`` for a single stream fed 1-D blocks, else ``(n_streams, frames)``; ``time_s`` and
    ``frame_index`` are always ``(frames,)`` (shared by all streams).

    Attributes
    ----------
    time_s : float64 (frames,)
        Frame centre times in seconds since the stream start: exactly ``centre_sample / sr``. With ``mirror < 1`` the
        first few frames are centred before the stream start (negative times; their windows are mostly the silence
        a stream starts with).
    frame_index : int64 (frames,)
        Running frame number ``k`` since the stream start (consecutive across pushes).
    pitch_semitones : float32
        MIDI semitones (69 = A4).
    confidence : float32
        Voicing confidence in [0, 1]; 0 where ``input_finite`` is False.
    volume : float32
        Total VQT power of the frame (linear).
    activations : float32 (..., frames, 128 * bps)
    input_finite : bool
        False for a frame whose newest hop held NaN/Inf samples (they were replaced by zeros).
    """

    time_s: np.ndarray
    frame_index: np.ndarray
    pitch_semitones: np.ndarray
    confidence: np.ndarray
    volume: np.ndarray
    activations: np.ndarray
    input_finite: np.ndarray

    def __len__(self) -> int:
        return len(self.time_s)

    @property
    def f0_hz(self) -> np.ndarray:
        """Pitch in Hz, float32, same shape as ``pitch_semitones``."""
        return semitones_to_hz(self.pitch_semitones.astype(np.float32)).astype(np.float32)


class PitchStream:
    """Live pitch tracking of one or more audio streams, fed blocks of any length.

    Parameters
    ----------
    sr : int
        Sample rate in Hz (8000 .. 192000), fixed for the life of the object.
    step_ms : float
        Milliseconds between frames; hop = ``round(step_ms * sr / 1000)`` samples (ignored if ``hop_length``).
    model_name : str
        Bundled model name or checkpoint path.
    mirror : float in [0, 1]
        Fraction of each frame's future half-window replaced by zeros: 1 = lowest latency (about half a hop),
        0 = no approximation (latency half a VQT frame; frames equal the offline engine's).
    n_streams : int
        Independent streams (channels, inputs) fed together.
    device : None, str or torch.device
        Where the network runs (CPU by default).
    reduction : {"alwa", "argmax", "mean"}
    hop_length : int, optional
        Hop in samples, overriding ``step_ms``.
    model : PestoModel, optional
        An already loaded model to use (its network only; ``model_name`` is then ignored).
    refine : bool
        Cent-precise pitch (:mod:`pesto_core.refine`): each frame's pitch is measured from the audio around the
        network's estimate (at most a quarter semitone away). Same latency: the measuring window ends at the
        frame's newest sample.
    native : bool
        On the CPU, compute frames with the native frame engine (:mod:`pesto_core.native`: the same numbers to
        float32 rounding, several times faster per hop) where it can be built; False forces the torch engine.

    Notes
    -----
    Not thread-safe: one thread (the GUI's worker thread) owns the object and calls every method.
    """

    def __init__(self, sr: int, step_ms: float = 10.0, model_name: str = DEFAULT_MODEL, mirror: float = 1.0,
                 n_streams: int = 1, device=None, reduction: str = "alwa", *, hop_length: Optional[int] = None,
                 model: Optional[PestoModel] = None, refine: bool = False, native: bool = True):
        sr = check_sr(sr)
        hop_length = check_positive_int(hop_length_for(step_ms, sr) if hop_length is None else hop_length,
                                        "hop length (samples)")
        n_streams = check_positive_int(n_streams, "n_streams")
        check_reduction(reduction)
        if model is None:
            model = PestoModel(load_checkpoint(model_name), hop_length * 1000.0 / sr, reduction=reduction)
            model.to(select_device(device))
        self.model = model
        self.reduction = reduction
        self.refine = bool(refine)
        self.engine = StreamFrameEngine(model, int(sr), int(hop_length), mirror,
                                        native_reduction=reduction if native else None)
        self.geometry = self.engine.geometry
        self.n_streams = int(n_streams)
        # Refinement windows (with the earlier window of the extrapolation) stay inside the frame's own samples, so
        # that a frame's refined pitch does not depend on how the audio was split into blocks.
        self.refine_max_length = (self.geometry.taps - 1) * 2 // 3
        if self.refine and self.engine.native is not None:
            self.engine.native.enable_refine(int(sr), model.bins_per_semitone, self.refine_max_length)
        self._device = model.device
        self._n_out = 128 * model.bins_per_semitone
        # Buffer: cache (Z samples) then the pending partial hop; grown (never shrunk) for long blocks.
        self._buf = np.zeros((self.n_streams, self.geometry.taps + 4 * self.geometry.hop_length), np.float32)
        self.reset()

    # -------------------------------------------------------------------------------------------------- info
    @property
    def sr(self) -> int:
        return self.geometry.sr

    @property
    def hop_length(self) -> int:
        return self.geometry.hop_length

    @property
    def step_ms(self) -> float:
        return self.geometry.hop_length * 1000.0 / self.geometry.sr

    @property
    def mirror(self) -> float:
        return self.geometry.mirror

    @property
    def latency_samples(self) -> int:
        """Samples from a frame's centre to the end of the hop that completes it (``W/2 - m``)."""
        return self.geometry.lag

    @property
    def latency_s(self) -> float:
        """How far behind the newest sample each frame's centre is, in seconds.

        A frame with time ``t`` is complete once the stream has received ``(t + latency_s) * sr`` samples; with
        hop-sized blocks that is exactly the block that produces it. (Blocks longer than a hop add their own wait.)
        """
        return self.geometry.lag / self.geometry.sr

    @property
    def samples_received(self) -> int:
        """Samples received per stream since the start (or the last reset/flush)."""
        return self._n_samples

    @property
    def frames_emitted(self) -> int:
        """Frames returned since the start (or the last reset/flush)."""
        return self._n_frames

    @property
    def native(self) -> bool:
        """True when the frames come from the native frame engine (:mod:`pesto_core.native`): its cost is per frame,
        with little fixed cost per call."""
        return self.engine.native is not None

    # -------------------------------------------------------------------------------------------------- control
    def reset(self) -> None:
        """Forget all audio: the next sample is sample 0 of a new stream (silence before it)."""
        self._buf[:, :self.geometry.cache] = 0.0
        self._fill = self.geometry.cache
        self._pending_bad = np.zeros(self.n_streams, dtype=bool)
        self._n_samples = 0
        self._n_frames = 0

    def push(self, block, sr: Optional[int] = None) -> StreamFrames:
        """Add samples; return every frame they complete (possibly none).

        Called from the thread that owns the stream (the GUI's worker thread).

        Parameters
        ----------
        block : ndarray float (samples,) if ``n_streams == 1``, or (n_streams, samples)
            The next samples of each stream, any length (0 included). float32 is used as is; float64/float16 are
            converted. NaN/Inf samples are replaced by zeros in the stream's memory, and every frame whose newest
            hop held one is returned with confidence 0 and ``input_finite`` False; later frames are computed
            normally (as if those samples had been silent).
        sr : int, optional
            The block's sample rate, checked against the stream's (a change mid-stream is an error).

        Returns
        -------
        StreamFrames
        """
        x, squeeze = self._check_block(block, sr)
        n = x.shape[1]
        if n:
            fill = self._fill
            if fill + n > self._buf.shape[1]:
                grown = np.zeros((self.n_streams, fill + n + self.geometry.hop_length), np.float32)
                grown[:, :fill] = self._buf[:, :fill]
                self._buf = grown
            dst = self._buf[:, fill:fill + n]
            dst[...] = x
            finite = bool(np.isfinite(dst).all())
            pending = fill - self.geometry.cache
            self._fill = fill + n
            self._n_samples += n
            n_frames = self.engine.n_frames(self._fill)
            if finite and not self._pending_bad.any():
                frame_bad = None
            else:
                bad = ~np.isfinite(dst)
                dst[bad] = 0.0  # bad samples never enter the state
                frame_bad, self._pending_bad = _frame_flags(bad, self._pending_bad, pending,
                                                            self.geometry.hop_length, n_frames)
                if not frame_bad.any():
                    frame_bad = None
        else:
            n_frames = 0
            frame_bad = None
        return self._emit(n_frames, frame_bad, squeeze)

    def flush(self, squeeze: Optional[bool] = None) -> StreamFrames:
        """End the stream: return the frames still needed to cover every received sample, then :meth:`reset`.

        Zeros are fed after the last sample until a frame is centred at or after it, so that frame times span the
        whole signal (with ``mirror=1`` that is at most one frame; with ``mirror=0`` about ``W / (2 * hop)``).
        Called from the thread that owns the stream.

        Parameters
        ----------
        squeeze : bool, optional
            Shape of the result as for 1-D blocks (default: when ``n_streams == 1``).
        """
        if squeeze is None:
            squeeze = self.n_streams == 1
        g = self.geometry
        if self._n_samples == 0:
            frames = self._empty(squeeze)
        else:
            total = -(-(self._n_samples - 1 + g.lag) // g.hop_length)  # frames until one is centred >= last sample
            zeros = max(0, total * g.hop_length - self._n_samples)
            block = np.zeros((self.n_streams, zeros), np.float32)
            frames = self.push(block[0] if squeeze and self.n_streams == 1 else block)
            if squeeze != (frames.pitch_semitones.ndim == 1):
                frames = self._reshape(frames, squeeze)
        self.reset()
        return frames

    # -------------------------------------------------------------------------------------------------- internals
    def _check_block(self, block, sr) -> Tuple[np.ndarray, bool]:
        if sr is not None and sr != self.geometry.sr:
            raise ParameterError(f"sample rate changed mid-stream ({self.geometry.sr} Hz -> {sr} Hz): "
                                 f"create a new PitchStream for {sr} Hz")
        if torch.is_tensor(block):
            raise ParameterError("blocks must be numpy arrays, not torch tensors")
        x = np.asarray(block)
        if x.dtype != np.float32:
            if x.dtype.kind != "f":
                raise ParameterError(f"audio blocks must be float samples in [-1, 1], got dtype {x.dtype}"
                                     + (" (divide integer PCM by its full scale, e.g. 32768 for int16)"
                                        if x.dtype.kind in "iu" else ""))
            x = x.astype(np.float32)
        if x.ndim == 1 and self.n_streams == 1:
            return x[None, :], True
        if x.ndim == 2 and x.shape[0] == self.n_streams:
            return x, False
        if x.ndim == 2 and x.shape[0] > self.n_streams and x.shape[1] != self.n_streams:
            raise ParameterError(f"block has {x.shape[0]} streams but this PitchStream was made for "
                                 f"{self.n_streams} (n_streams)")
        expected = "(samples,) or (1, samples)" if self.n_streams == 1 else f"({self.n_streams}, samples)"
        hint = (" (a sound card's (frames, channels) block: pass block.T)"
                if x.ndim == 2 and x.shape[1] == self.n_streams and x.shape[0] != self.n_streams else "")
        raise ParameterError(f"audio block must have shape {expected}, got {x.shape}{hint}")

    def _empty(self, squeeze: bool) -> StreamFrames:
        lead = () if squeeze else (self.n_streams,)
        return StreamFrames(time_s=np.zeros(0), frame_index=np.zeros(0, np.int64),
                            pitch_semitones=np.zeros(lead + (0,), np.float32),
                            confidence=np.zeros(lead + (0,), np.float32), volume=np.zeros(lead + (0,), np.float32),
                            activations=np.zeros(lead + (0, self._n_out), np.float32),
                            input_finite=np.ones(lead + (0,), bool))

    @staticmethod
    def _reshape(frames: StreamFrames, squeeze: bool) -> StreamFrames:
        conv = (lambda a: a[0]) if squeeze else (lambda a: a[None])
        return StreamFrames(time_s=frames.time_s, frame_index=frames.frame_index,
                            pitch_semitones=conv(frames.pitch_semitones), confidence=conv(frames.confidence),
                            volume=conv(frames.volume), activations=conv(frames.activations),
                            input_finite=conv(frames.input_finite))

    def _refine(self, pitch: np.ndarray, n_frames: int) -> np.ndarray:
        """Refined pitch (streams, n_frames) of the frames about to be emitted, from the buffered samples."""
        g = self.geometry
        j = np.arange(n_frames, dtype=np.int64) * g.hop_length
        # frame j's window is _buf[j*hop : j*hop + Z + hop] followed by m zeros; its centre is sample W/2
        centres, ends = j + g.kernel_width // 2, j + g.taps
        seg_end = g.cache + n_frames * g.hop_length
        native = self.engine.native
        if native is not None:
            return np.stack([native.refine(self._buf[s, :seg_end], centres, ends, pitch[s])
                             for s in range(self.n_streams)])
        return np.stack([refine_pitch(self._buf[s, :seg_end], centres, pitch[s], g.sr, ends=ends,
                                      max_length=self.refine_max_length,
                                      bins_per_semitone=self.model.bins_per_semitone)
                         for s in range(self.n_streams)])

    def _frames_native(self, n_frames: int):
        """(activations, confidence, volume, pitch) of the next ``n_frames`` frames of every stream, natively."""
        g = self.geometry
        end = g.cache + n_frames * g.hop_length
        rows = [self.engine.native.frames(self._buf[s, :end], g.hop_length, n_frames) for s in range(self.n_streams)]
        if len(rows) == 1:
            return tuple(r[None] for r in rows[0])
        return tuple(np.stack(z) for z in zip(*rows))

    def _frames_torch(self, n_frames: int):
        """As :meth:`_frames_native`, with the torch engine (GPU, or no C compiler)."""
        hop, cache = self.geometry.hop_length, self.geometry.cache
        acts, conf, vol = [], [], []
        with torch.inference_mode():
            for f0 in range(0, n_frames, MAX_FRAMES_PER_PASS):
                f1 = min(n_frames, f0 + MAX_FRAMES_PER_PASS)
                seg = torch.from_numpy(self._buf[:, f0 * hop:cache + f1 * hop])
                if self._device.type != "cpu":
                    seg = seg.to(self._device)
                out = self.engine(seg)
                a = out["activations"]
                acts.append(a)
                conf.append(out["confidence"])
                vol.append(out["volume"])
            a = acts[0] if len(acts) == 1 else torch.cat(acts, dim=1)
            pitch = reduce_activations(a, self.reduction)
            c = conf[0] if len(conf) == 1 else torch.cat(conf, dim=1)
            v = vol[0] if len(vol) == 1 else torch.cat(vol, dim=1)
            return tuple(t.cpu().numpy() for t in (a, c, v, pitch))

    def _emit(self, n_frames: int, frame_bad: Optional[np.ndarray], squeeze: bool) -> StreamFrames:
        if n_frames == 0:
            return self._empty(squeeze)
        g = self.geometry
        hop = g.hop_length
        if self.engine.native is not None:
            a, c, v, pitch = self._frames_native(n_frames)
        else:
            a, c, v, pitch = self._frames_torch(n_frames)
        if self.refine:
            pitch = self._refine(pitch, n_frames)
        # keep the last Z samples before the next frame boundary and the pending partial hop
        used = n_frames * hop
        rest = self._fill - used
        self._buf[:, :rest] = self._buf[:, used:self._fill]
        self._fill = rest
        finite = np.ones((self.n_streams, n_frames), bool)
        if frame_bad is not None:
            c = c.copy()
            c[frame_bad] = 0.0
            finite = ~frame_bad
        k = np.arange(self._n_frames, self._n_frames + n_frames, dtype=np.int64)
        self._n_frames += n_frames
        if squeeze:
            pitch, c, v, a, finite = pitch[0], c[0], v[0], a[0], finite[0]
        return StreamFrames(time_s=g.centre(k) / g.sr, frame_index=k, pitch_semitones=pitch, confidence=c,
                            volume=v, activations=a, input_finite=finite)


# ------------------------------------------------------------------------------------------------------ upstream API
class StreamingPestoModel(nn.Module):
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
    def sr(self) -> int:
        return self.geometry.sr

    @property
    def hop_length(self) -> int:
        return self.geometry.hop_length

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
