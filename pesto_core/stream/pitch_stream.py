"""PitchStream: live pitch tracking of one or more streams fed blocks of any length (numpy in, numpy out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch

from ..bundled import DEFAULT_MODEL
from ..checkpoint import load_checkpoint
from ..decode import reduce_activations
from ..device import select_device
from ..errors import ParameterError
from ..geometry import StreamTiming, hop_length_for
from ..glitch import DEFAULT_LAG, GlitchFilter
from ..model import PestoModel
from ..presets import LIVE_DEFAULTS, live_model_name
from ..refine import refine_pitch
from ..units import semitones_to_hz
from ..validation import check_gate, check_positive_int, check_reduction, check_sr
from ..voicing import decide, peak_mass
from .engine import StreamFrameEngine

# Frames per forward pass when one push completes many hops (bounds memory like the offline engine's chunks).
MAX_FRAMES_PER_PASS = 512


def _frame_flags(
    bad: np.ndarray, pending_bad: np.ndarray, pending: int, hop: int, n_frames: int
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


def _concatenate(a: "StreamFrames", b: "StreamFrames") -> "StreamFrames":
    """Frames of ``a`` then those of ``b`` (same streams and shape)."""
    if len(a) == 0:
        return b
    axis = {"time_s": 0, "frame_index": 0}
    lead = a.pitch_semitones.ndim - 1  # 0 for one squeezed stream, 1 with a stream axis
    return StreamFrames(
        **{
            k: np.concatenate([getattr(a, k), getattr(b, k)], axis=axis.get(k, lead))
            for k in StreamFrames.__dataclass_fields__
        }
    )


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
    voiced : bool
        The stream's voicing decision (:mod:`pesto_core.voicing`): ``confidence >= gate`` and peak mass
        ``>= peak_gate`` (medians over the glitch filter's window when it is on), on a finite input. Gaps, curves and
        tuners use this, never a threshold of their own.
    """

    time_s: np.ndarray
    frame_index: np.ndarray
    pitch_semitones: np.ndarray
    confidence: np.ndarray
    volume: np.ndarray
    activations: np.ndarray
    input_finite: np.ndarray
    voiced: np.ndarray

    def __len__(self) -> int:
        return len(self.time_s)

    @property
    def f0_hz(self) -> np.ndarray:
        """Pitch in Hz, float32, same shape as ``pitch_semitones``."""
        return semitones_to_hz(self.pitch_semitones.astype(np.float32)).astype(np.float32)


class PitchStream(StreamTiming):
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
    gate : float
        Confidence at or above which a frame is ``voiced``.
    peak_gate : float
        Peak mass (:func:`pesto_core.voicing.peak_mass`) at or above which a frame is ``voiced`` (as well as the
        confidence); 0 = the confidence alone. With ``smooth``, both are medians over the glitch filter's window
        (:mod:`pesto_core.voicing`).
    smooth : bool
        Remove isolated pitch jumps with the glitch filter (:mod:`pesto_core.glitch`): frames come ``smooth_lag``
        hops later (included in :attr:`latency_s`); real note changes are not delayed further or smoothed.
    smooth_lag : int
        Look-ahead of the glitch filter in frames (1 or 2).

    Notes
    -----
    Not thread-safe: one thread (the GUI's worker thread) owns the object and calls every method.
    """

    def __init__(
        self,
        sr: int,
        step_ms: float = 10.0,
        model_name: str = DEFAULT_MODEL,
        mirror: float = 1.0,
        n_streams: int = 1,
        device=None,
        reduction: str = "alwa",
        *,
        hop_length: Optional[int] = None,
        model: Optional[PestoModel] = None,
        refine: bool = False,
        native: bool = True,
        gate: float = 0.5,
        peak_gate: float = 0.0,
        smooth: bool = False,
        smooth_lag: int = DEFAULT_LAG,
    ):
        sr = check_sr(sr)
        hop_length = check_positive_int(
            hop_length_for(step_ms, sr) if hop_length is None else hop_length, "hop length (samples)"
        )
        n_streams = check_positive_int(n_streams, "n_streams")
        self._gate = check_gate(gate, "gate (a confidence)")
        self._peak_gate = check_gate(peak_gate, "peak gate")
        if smooth and not (isinstance(smooth_lag, (int, np.integer)) and 1 <= smooth_lag <= 2):
            raise ParameterError(f"smooth_lag must be 1 or 2 frames (at most 2 hops of latency), got {smooth_lag!r}")
        self._glitch = (
            GlitchFilter(n_streams, gate=self._gate, lag=int(smooth_lag), peak_gate=self._peak_gate) if smooth else None
        )
        check_reduction(reduction)
        if model is None:
            model = PestoModel(load_checkpoint(model_name), hop_length * 1000.0 / sr, reduction=reduction)
            model.to(select_device(device))
        self.model = model
        self.reduction = reduction
        self.refine = bool(refine)
        self.engine = StreamFrameEngine(
            model, int(sr), int(hop_length), mirror, native_reduction=reduction if native else None
        )
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
    # sr, hop_length, step_ms, mirror, latency_samples, latency_s: see StreamTiming
    @property
    def samples_received(self) -> int:
        """Samples received per stream since the start (or the last reset/flush)."""
        return self._n_samples

    @property
    def frames_emitted(self) -> int:
        """Frames returned since the start (or the last reset/flush)."""
        return self._n_returned

    @property
    def latency_samples(self) -> int:
        """Samples from a frame's centre to the end of the hop after which it is returned: ``W/2 - m``, plus the
        glitch filter's look-ahead (``smooth_lag`` hops) when it is on."""
        extra = self._glitch.lag * self.geometry.hop_length if self._glitch is not None else 0
        return self.geometry.lag + extra

    @property
    def gate(self) -> float:
        """Confidence at or above which a frame is voiced; may be changed between pushes (the next frames use it,
        the glitch filter's decisions included)."""
        return self._gate

    @gate.setter
    def gate(self, value: float) -> None:
        self._gate = check_gate(value, "gate (a confidence)")
        if self._glitch is not None:
            self._glitch.gate = self._gate

    @property
    def peak_gate(self) -> float:
        """Peak mass at or above which a frame is voiced (with the confidence gate); may be changed between
        pushes, like :attr:`gate`."""
        return self._peak_gate

    @peak_gate.setter
    def peak_gate(self, value: float) -> None:
        self._peak_gate = check_gate(value, "peak gate")
        if self._glitch is not None:
            self._glitch.peak_gate = self._peak_gate

    @property
    def native(self) -> bool:
        """True when the frames come from the native frame engine (:mod:`pesto_core.native`): its cost is per frame,
        with little fixed cost per call."""
        return self.engine.native is not None

    # -------------------------------------------------------------------------------------------------- control
    def reset(self) -> None:
        """Forget all audio: the next sample is sample 0 of a new stream (silence before it)."""
        self._buf[:, : self.geometry.cache] = 0.0
        self._fill = self.geometry.cache
        self._pending_bad = np.zeros(self.n_streams, dtype=bool)
        self._n_samples = 0
        self._n_frames = 0  # frames computed
        self._n_returned = 0  # frames returned (the glitch filter holds back its look-ahead)
        if self._glitch is not None:
            self._glitch.reset()

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
            dst = self._buf[:, fill : fill + n]
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
                frame_bad, self._pending_bad = _frame_flags(
                    bad, self._pending_bad, pending, self.geometry.hop_length, n_frames
                )
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
            rest = self._glitch.flush() if self._glitch is not None else None
            if rest:
                frames = _concatenate(frames, self._frames(rest, squeeze))
        self.reset()
        return frames

    # -------------------------------------------------------------------------------------------------- internals
    def _check_block(self, block, sr) -> Tuple[np.ndarray, bool]:
        if sr is not None and sr != self.geometry.sr:
            raise ParameterError(
                f"sample rate changed mid-stream ({self.geometry.sr} Hz -> {sr} Hz): "
                f"create a new PitchStream for {sr} Hz"
            )
        if torch.is_tensor(block):
            raise ParameterError("blocks must be numpy arrays, not torch tensors")
        x = np.asarray(block)
        if x.dtype != np.float32:
            if x.dtype.kind != "f":
                raise ParameterError(
                    f"audio blocks must be float samples in [-1, 1], got dtype {x.dtype}"
                    + (" (divide integer PCM by its full scale, e.g. 32768 for int16)" if x.dtype.kind in "iu" else "")
                )
            x = x.astype(np.float32)
        if x.ndim == 1 and self.n_streams == 1:
            return x[None, :], True
        if x.ndim == 2 and x.shape[0] == self.n_streams:
            return x, False
        if x.ndim == 2 and x.shape[0] > self.n_streams and x.shape[1] != self.n_streams:
            raise ParameterError(
                f"block has {x.shape[0]} streams but this PitchStream was made for {self.n_streams} (n_streams)"
            )
        expected = "(samples,) or (1, samples)" if self.n_streams == 1 else f"({self.n_streams}, samples)"
        hint = (
            " (a sound card's (frames, channels) block: pass block.T)"
            if x.ndim == 2 and x.shape[1] == self.n_streams and x.shape[0] != self.n_streams
            else ""
        )
        raise ParameterError(f"audio block must have shape {expected}, got {x.shape}{hint}")

    def _empty(self, squeeze: bool) -> StreamFrames:
        lead = () if squeeze else (self.n_streams,)
        return StreamFrames(
            time_s=np.zeros(0),
            frame_index=np.zeros(0, np.int64),
            pitch_semitones=np.zeros(lead + (0,), np.float32),
            confidence=np.zeros(lead + (0,), np.float32),
            volume=np.zeros(lead + (0,), np.float32),
            activations=np.zeros(lead + (0, self._n_out), np.float32),
            input_finite=np.ones(lead + (0,), bool),
            voiced=np.zeros(lead + (0,), bool),
        )

    @staticmethod
    def _reshape(frames: StreamFrames, squeeze: bool) -> StreamFrames:
        conv = (lambda a: a[0]) if squeeze else (lambda a: a[None])
        return StreamFrames(
            time_s=frames.time_s,
            frame_index=frames.frame_index,
            pitch_semitones=conv(frames.pitch_semitones),
            confidence=conv(frames.confidence),
            volume=conv(frames.volume),
            activations=conv(frames.activations),
            input_finite=conv(frames.input_finite),
            voiced=conv(frames.voiced),
        )

    def _refine(self, pitch: np.ndarray, n_frames: int) -> np.ndarray:
        """Refined pitch (streams, n_frames) of the frames about to be emitted, from the buffered samples."""
        g = self.geometry
        j = np.arange(n_frames, dtype=np.int64) * g.hop_length
        # frame j's window is _buf[j*hop : j*hop + Z + hop] followed by m zeros; its centre is sample W/2
        centres, ends = j + g.kernel_width // 2, j + g.taps
        seg_end = g.cache + n_frames * g.hop_length
        native = self.engine.native
        if native is not None:
            return np.stack(
                [native.refine(self._buf[s, :seg_end], centres, ends, pitch[s]) for s in range(self.n_streams)]
            )
        return np.stack(
            [
                refine_pitch(
                    self._buf[s, :seg_end],
                    centres,
                    pitch[s],
                    g.sr,
                    ends=ends,
                    max_length=self.refine_max_length,
                    bins_per_semitone=self.model.bins_per_semitone,
                )
                for s in range(self.n_streams)
            ]
        )

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
                seg = torch.from_numpy(self._buf[:, f0 * hop : cache + f1 * hop])
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
            a, c, v, pitch = self._frames_native(n_frames)  # the kernel applies a learned voicing output too
        else:
            a, c, v, pitch = self._frames_torch(n_frames)
        if self.refine:
            pitch = self._refine(pitch, n_frames)
        # keep the last Z samples before the next frame boundary and the pending partial hop
        used = n_frames * hop
        rest = self._fill - used
        self._buf[:, :rest] = self._buf[:, used : self._fill]
        self._fill = rest
        finite = np.ones((self.n_streams, n_frames), bool)
        if frame_bad is not None:
            c = c.copy()
            c[frame_bad] = 0.0
            finite = ~frame_bad
        k = np.arange(self._n_frames, self._n_frames + n_frames, dtype=np.int64)
        self._n_frames += n_frames
        fields = dict(
            time_s=g.centre(k) / g.sr,
            frame_index=k,
            pitch_semitones=pitch,
            confidence=c,
            volume=v,
            activations=a,
            input_finite=finite,
        )
        if self._glitch is not None:
            fields = self._glitch.push(fields)
        return self._frames(fields, squeeze)

    def _frames(self, fields: dict, squeeze: bool) -> StreamFrames:
        """StreamFrames of per-stream arrays ``(n_streams, frames, ...)`` (time_s, frame_index: ``(frames,)``)."""
        if not fields or len(fields["frame_index"]) == 0:
            return self._empty(squeeze)
        if "voiced" not in fields:  # no glitch filter: this frame's own measurements
            pk = peak_mass(fields["activations"]) if self._peak_gate > 0 else 1.0
            fields = dict(fields, voiced=decide(fields["confidence"], pk, self._gate, self._peak_gate))
            fields["voiced"] &= fields["input_finite"]
        self._n_returned += len(fields["frame_index"])
        if squeeze:
            fields = {k: (v if k in GlitchFilter.SHARED else v[0]) for k, v in fields.items()}
        return StreamFrames(**fields)


def live_stream(sr: int, n_streams: int = 1, **overrides) -> PitchStream:
    """The :class:`PitchStream` exactly as the Live tab configures it by default.

    Parameters
    ----------
    sr : int
        Sample rate of the input (Hz).
    n_streams : int
        Independent streams fed together.
    **overrides
        Any :class:`PitchStream` keyword (``mirror``, ``model_name``, ``gate``, ``smooth``...) replacing the preset.

    The preset (:data:`LIVE_DEFAULTS`): the live model (:func:`live_model_name`), mirror 0.95 (29 ms of latency in
    all at 48 kHz with a 10 ms step), cent-precise refinement, the glitch filter with a 2-hop look-ahead, and the
    voicing gate. ``latency_s`` includes the filter.
    """
    options = dict(LIVE_DEFAULTS, model_name=live_model_name())
    options.update(overrides)
    return PitchStream(sr, n_streams=n_streams, **options)
