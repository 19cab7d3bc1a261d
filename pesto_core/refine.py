"""Cent-precise refinement of PESTO's pitch: measure the fundamental from the audio around the network's estimate.

PESTO's distribution has 3 bins per semitone (33.3 cents apart) and, on steady tones, its decoded pitch snaps to them.
The network is very good at choosing the right note and octave; the last cents are measured here by signal
processing, in a narrow band around its choice, so the refinement cannot introduce an octave or note error.

Method (harmonic instantaneous frequency, one frame at a time)
---------------------------------------------------------------
For a frame centred on sample ``c`` with network estimate ``f`` (Hz):

1. Take a Hann window of ``L = max(n_periods * sr / f, min_window_s * sr)`` samples centred on ``c``. A window of
   a few periods of ``f`` resolves the harmonics (neighbouring harmonics fall near the nulls of the window's
   spectrum) while staying short, so a vibrato is not smoothed away; at high pitches the window is kept at least
   ``min_window_s`` long for noise robustness.
2. Spectra of the windowed segment and of the same segment one sample later (zero-padded FFT, a power of two of at
   least ``2 * L`` points). For a complex exponential of angular frequency ``w`` (radians per sample), the second
   spectrum is the first times ``exp(i w)`` at every FFT bin, so ``w = angle(X1[k] / X0[k])`` at the bin ``k``
   nearest the partial: exact in discrete time, whatever the partial's offset from the bin (the time-shift form of
   the reassignment method; Auger & Flandrin 1995, Kodera et al. 1978).
3. This is done at the bins nearest ``h * f`` for the harmonics ``h = 1 .. max_harmonics`` below 0.45 ``sr``; each
   gives an estimate ``f_h / h`` of the fundamental, combined with weights ``|X0|^2 * h``: the error of
   ``f_h / h`` shrinks as ``1 / h`` and with the partial's power (``h`` rather than the optimal ``h^2`` for white
   noise keeps slightly inharmonic instruments from pulling the estimate). A harmonic whose measured frequency is
   more than 2 bins from ``h * f`` (its bin holds a neighbouring partial or noise) is left out.
4. The result is kept only within ``max_shift`` (default three quarters of a bin: 25 cents, see
   :func:`max_shift_for`) of the network's estimate: beyond, it is clipped to that limit; a frame without
   measurable energy near the estimate's harmonics keeps the network's value.

The window is centred on the frame and never longer than the VQT's own frame, so offline the refinement needs no
sample that the VQT does not already use. In streaming (``ends``), a frame's audio stops ``lag`` samples after its
centre (half a hop with ``mirror=1``): the window then ends at the newest sample, so it measures the pitch somewhat
before the centre, and a second window half a window earlier gives the slope to extrapolate linearly to the centre
(a vibrato or a glide is not reported late). The latency is unchanged. :class:`pesto_core.stream.PitchStream` also
caps the window at two thirds of the frame's own samples (``max_length``), so that a frame's refined pitch does not
depend on how the audio was split into blocks; its native engine (:mod:`pesto_core.native`) computes the same
estimate with direct DFTs at the harmonics' bins instead of whole FFTs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Optional

import numpy as np

from .errors import ParameterError
from .vqt import padded_segment

# Design values; MAX_SHIFT_BINS (0.5 vs 0.75 vs 1) and ZERO_PADDING (1 vs 2) were compared on
# benchmarks/pitch_accuracy.py (see max_shift_for and BENCHMARKS.md), the others were not tuned.
N_PERIODS = 4.0
MIN_WINDOW_S = 0.02
MAX_HARMONICS = 8
MAX_SHIFT_BINS = 0.75
ZERO_PADDING = 2
NYQUIST_SHARE = 0.45
# Relative distance from h * estimate beyond which a harmonic's measurement is not that harmonic (2 bins).
HARMONIC_TOLERANCE = 2 ** (2 / 36) - 1


def max_shift_for(bins_per_semitone: int = 3) -> float:
    """Largest correction, in semitones: three quarters of a bin of PESTO's distribution (25 cents for 3 bins per
    semitone).

    Half a bin (16.7 cents) would be the natural bound if PESTO's decoded pitch were always within half a bin of the
    truth, but ``alwa`` is further off on about 14% of steady-tone frames (up to 39 cents with the right note;
    benchmarks/pitch_accuracy.py): with half a bin the refined error's 95th percentile stays near 4 cents there,
    with three quarters it is below 1 cent. 25 cents is still a quarter of a semitone: no note or octave change.
    """
    return MAX_SHIFT_BINS / bins_per_semitone


def refine_pitch(
    segment: np.ndarray,
    centres: np.ndarray,
    pitch_semitones: np.ndarray,
    sr: int,
    *,
    ends: Optional[np.ndarray] = None,
    max_length: Optional[int] = None,
    max_shift: Optional[float] = None,
    bins_per_semitone: int = 3,
    n_periods: float = N_PERIODS,
    min_window_s: float = MIN_WINDOW_S,
    max_harmonics: int = MAX_HARMONICS,
    max_batch: int = 64,
    extrapolate: bool = True,
) -> np.ndarray:
    """Refine frame pitches from the audio around each frame.

    Parameters
    ----------
    segment : ndarray, float32 or float64, shape (samples,)
        Audio around the frames (offline: the VQT's padded segment, which holds half a VQT frame on each side of
        every centre).
    centres : ndarray, int, shape (frames,)
        Index in ``segment`` of each frame's centre sample.
    ends : ndarray, int, shape (frames,), optional
        Streaming: index one past the newest sample each frame may use (the frame's own future is cut short
        there). A window that would reach past it is moved back to end there, so it measures slightly earlier
        than the centre. Default: windows are centred on ``centres`` and limited by the segment's ends.
    max_length : int, optional
        Longest window in samples (default: no limit beyond the segment).
    pitch_semitones : ndarray, float, shape (frames,)
        The network's decoded pitch in MIDI semitones (69 = A4 = 440 Hz); NaN frames are returned unchanged.
    sr : int
        Sample rate in Hz.
    max_shift : float, optional
        Largest correction in semitones (default :func:`max_shift_for`: 0.25 semitone for 3 bins per semitone).
    n_periods, min_window_s, max_harmonics :
        Window length in periods of the estimate, its minimum in seconds, and the number of harmonics used.
    extrapolate : bool
        With ``ends``, where the window had to move back (it measures the pitch ``d`` samples before the centre),
        also measure half a window earlier and extrapolate the pitch linearly to the centre, so that a vibrato or
        glide is not reported late.
    max_batch : int
        Frames processed together (bounds memory: ``max_batch * 2 * next_pow2(L)`` float64 values).

    Returns
    -------
    ndarray, float32, shape (frames,) : the refined pitch in MIDI semitones.
    """
    segment = np.asarray(segment, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.int64)
    pitch = np.asarray(pitch_semitones, dtype=np.float64)
    if segment.ndim != 1 or centres.ndim != 1 or pitch.shape != centres.shape:
        raise ParameterError(
            f"refine_pitch: need a 1-D segment and matching centres/pitch, got shapes "
            f"{segment.shape}, {centres.shape}, {pitch.shape}"
        )
    if max_shift is None:
        max_shift = max_shift_for(bins_per_semitone)
    out = pitch.copy()
    if len(centres) == 0:
        return out.astype(np.float32)
    if ends is None:
        # symmetric windows; one more sample after the window for the shifted copy
        room = 2 * np.minimum(centres, len(segment) - 2 - centres)
    else:
        ends = np.broadcast_to(np.asarray(ends, dtype=np.int64), centres.shape)
        if ends.max() > len(segment):
            raise ParameterError("refine_pitch: ends reach past the segment")
        # the extrapolation's second window starts half a window earlier
        room = (ends - 1) * 2 // 3 if extrapolate else ends - 1
    if max_length is not None:
        room = np.minimum(room, max_length)
    if room.min() < 16:
        raise ParameterError(
            f"refine_pitch: frames need at least 16 samples of audio around them (got {int(room.min())})"
        )
    f_est = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
    ok = np.isfinite(f_est) & (f_est > 0) & (f_est < NYQUIST_SHARE * sr)
    # window: n_periods of the estimate, at least min_window_s, even, within the room
    lengths = np.maximum(n_periods * sr / np.where(ok, f_est, sr), min_window_s * sr)
    lengths = np.maximum(np.minimum(np.rint(lengths / 2).astype(np.int64) * 2, room - room % 2), 16)
    starts = centres - lengths // 2
    if ends is not None:
        starts = np.minimum(starts, ends - 1 - lengths)
    # FFT size: a power of two of at least ZERO_PADDING * L samples, so that the nearest bin is within
    # 1 / (2 * ZERO_PADDING) of the window's resolution from each partial
    fft_sizes = 1 << np.ceil(np.log2(ZERO_PADDING * lengths)).astype(np.int64)
    # Streaming: where the window had to move back, a second window half a window earlier gives the slope; both
    # are measured in the same batches (fewer, larger numpy calls: this runs once per hop in a live stream).
    n = len(pitch)
    late = np.zeros(n) if ends is None or not extrapolate else centres - (starts + lengths / 2)
    extra = np.flatnonzero(ok & (late > 0))
    step = lengths[extra] // 2
    all_starts = np.concatenate([starts, starts[extra] - step])
    all_f, all_len = np.concatenate([f_est, f_est[extra]]), np.concatenate([lengths, lengths[extra]])
    all_size, all_ok = np.concatenate([fft_sizes, fft_sizes[extra]]), np.concatenate([ok, ok[extra]])
    f_all = np.full(len(all_starts), np.nan)
    sizes = np.unique(all_size[all_ok]) if len(all_size) > 2 else sorted(set(all_size[all_ok].tolist()))
    for size in sizes:
        idx = np.flatnonzero(all_ok & (all_size == size))
        for b0 in range(0, len(idx), max_batch):
            sel = idx[b0 : b0 + max_batch]
            f_all[sel] = _harmonic_frequency(
                segment, all_starts[sel], all_f[sel], all_len[sel], int(size), sr, max_harmonics
            )
    f_ref = f_all[:n]
    if len(extra):
        # linear extrapolation from the window's centre to the frame's centre
        now = f_ref[extra]
        extrapolated = now + (now - f_all[n:]) / step * late[extra]
        f_ref[extra] = np.where(np.isfinite(extrapolated), extrapolated, now)
    good = np.isfinite(f_ref) & (f_ref > 0)
    refined = 69.0 + 12.0 * np.log2(np.where(good, f_ref, 1.0) / 440.0)
    shift = np.clip(refined - pitch, -max_shift, max_shift)
    out[good] = pitch[good] + shift[good]
    return out.astype(np.float32)


@lru_cache(maxsize=64)
def _hann(length: int) -> np.ndarray:
    """Periodic Hann window of ``length`` samples, float64 (read-only: cached)."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)
    w.flags.writeable = False
    return w


def _harmonic_frequency(
    segment: np.ndarray,
    starts: np.ndarray,
    f_est: np.ndarray,
    lengths: np.ndarray,
    size: int,
    sr: int,
    max_harmonics: int,
) -> np.ndarray:
    """Weighted harmonic estimate of the fundamental (Hz) for a batch of frames sharing one FFT size.

    Frame ``i``'s window covers ``segment[starts[i] : starts[i] + lengths[i] + 1]`` (one more sample for the
    shifted copy). Returns ndarray float64 (batch,), NaN where no harmonic carries energy.
    """
    longest = int(lengths.max())
    idx = starts[:, None] + np.arange(longest + 1)[None, :]
    if len(starts) > 1:  # a shorter window's row may run past the segment; weight zero there, so clip the index
        idx = np.minimum(idx, len(segment) - 1)
    rows = segment[idx]
    if (lengths == longest).all():
        window = _hann(longest)[None, :]
    else:  # zero beyond each frame's own length
        u = np.arange(longest)[None, :] / lengths[:, None]
        window = np.where(u < 1.0, 0.5 - 0.5 * np.cos(2 * np.pi * u), 0.0)
    # the window's spectrum and the same one sample later, in one FFT call: (2, batch, size // 2 + 1)
    spec = np.fft.rfft(np.stack((rows[:, :-1] * window, rows[:, 1:] * window)), n=size, axis=-1)
    harmonics = np.arange(1, max_harmonics + 1, dtype=np.float64)
    freqs = f_est[:, None] * harmonics[None, :]  # (batch, H)
    valid = freqs < NYQUIST_SHARE * sr
    k = np.clip(np.rint(freqs * (size / sr)).astype(np.int64), 1, size // 2 - 1)
    picked = spec[:, np.arange(len(k))[:, None], k]
    x0, x1 = picked[0], picked[1]
    power = x0.real**2 + x0.imag**2
    # angle of X1/X0 = the partial's frequency in radians per sample (exact for one complex exponential)
    ratio = x1 * np.conj(x0)
    f_h = np.arctan2(ratio.imag, ratio.real) * (sr / (2 * np.pi))
    # a harmonic whose bin is dominated by something else (a neighbouring partial, noise) is left out
    valid &= np.abs(f_h / freqs - 1.0) < HARMONIC_TOLERANCE
    weight = np.where(valid, power * harmonics[None, :], 0.0)
    total = weight.sum(axis=1)
    f0 = (weight * f_h / harmonics[None, :]).sum(axis=1) / np.where(total > 0, total, 1.0)
    return np.where(total > 0, f0, np.nan)


def refine_frames(
    read: Callable[[int, int], np.ndarray],
    n_samples: int,
    first_frame: int,
    pitch_semitones: np.ndarray,
    *,
    sr: int,
    hop_length: int,
    kernel_width: int,
    bins_per_semitone: int = 3,
) -> np.ndarray:
    """Refine consecutive offline frames of a signal read on demand (frame ``t`` centred on sample ``t * hop``).

    Parameters
    ----------
    read : callable (start, stop) -> ndarray float32 (stop - start,)
        Samples of the mono signal, as for :meth:`pesto_core.model.PestoModel.iter_chunks`; the reflect padding
        beyond both ends is the offline engine's (:func:`pesto_core.vqt.padded_segment`).
    n_samples : int
    first_frame : int
        Index of the first frame of ``pitch_semitones``.
    pitch_semitones : ndarray float (frames,)
    sr, hop_length, kernel_width : int
        The model's sample rate, hop and VQT frame width (windows never reach further than the VQT's).

    Returns
    -------
    ndarray float32 (frames,)
    """
    pitch = np.asarray(pitch_semitones)
    if len(pitch) == 0 or n_samples <= 0:
        return pitch.astype(np.float32)
    half = kernel_width // 2
    last = first_frame + len(pitch) - 1
    # one sample more than the VQT reads after the last centre: the window's one-sample-later copy
    seg = padded_segment(read, n_samples, first_frame * hop_length - half, last * hop_length + half + 2)
    centres = half + np.arange(len(pitch)) * hop_length
    return refine_pitch(seg, centres, pitch, sr, max_length=kernel_width, bins_per_semitone=bins_per_semitone)


def refine_signal(
    signal: np.ndarray,
    pitch_semitones: np.ndarray,
    *,
    sr: int,
    hop_length: int,
    kernel_width: int,
    bins_per_semitone: int = 3,
) -> np.ndarray:
    """Refine the offline frames of an in-memory mono signal (float, (samples,)); pitch (frames,) -> (frames,)."""
    signal = np.asarray(signal, dtype=np.float32)
    return refine_frames(
        lambda a, b: signal[a:b],
        len(signal),
        0,
        pitch_semitones,
        sr=sr,
        hop_length=hop_length,
        kernel_width=kernel_width,
        bins_per_semitone=bins_per_semitone,
    )
