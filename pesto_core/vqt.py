"""Variable-Q transform (VQT): PESTO's front end, for any sample rate.

Method (Schörkhuber et al., "A Matlab toolbox for efficient perfect reconstruction time-frequency transforms with
log-frequency resolution", 2014; as parameterised by PESTO's ``hcqt_params``): bin ``k`` has centre frequency
``f_k = fmin * 2 ** (k / bins_per_octave)`` and a Hann-windowed complex exponential kernel whose length is

    l_k = ceil(Q * sr / (f_k + gamma / alpha)),   Q = 1 / (2 ** (1 / bins_per_octave) - 1),   alpha = 2 ** (1/bpo) - 1

(``gamma`` > 0 shortens the low-frequency kernels: that is the "variable" in VQT). Kernels are L1-normalised, placed
centred in a common power-of-two frame of ``kernel_width`` samples, and their outputs are scaled by ``sqrt(l_k)``
(librosa's normalisation). With ``center_bins`` the whole grid is lowered by ``(bps - 1) / 2`` bins so that each
semitone's middle bin falls on the equal-tempered frequency.

Arithmetic: the kernels are rounded to complex64 and applied as one strided float32 convolution (real and imaginary
parts as separate output channels), then scaled by ``sqrt(l_k)`` in float32. Bins far below a frame's loudest bin
(about -95 dB relative) sit at the float32 noise floor of that 8192-tap sum, so we keep the same order of operations
as the published implementation: its dB values are reproduced to the last bit on the same CPU, not only to within
the noise. (Cutting each kernel to its own length was measured slower here than oneDNN's strided convolution.)
"""
from __future__ import annotations

import math
from typing import Callable, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import ParameterError
from .validation import MAX_SR, MIN_SR, check_sr  # noqa: F401 (MAX_SR re-exported)


def bin_frequencies(fmin_hz: float, n_bins: int, bins_per_semitone: int, center_bins: bool = True) -> np.ndarray:
    """Centre frequency of each VQT bin, in Hz, shape (n_bins,), float64."""
    if center_bins:
        fmin_hz = fmin_hz / 2 ** ((bins_per_semitone - 1) / (24 * bins_per_semitone))
    return fmin_hz * 2.0 ** (np.arange(n_bins) / (12.0 * bins_per_semitone))


def kernel_lengths(freqs_hz: np.ndarray, sr: int, bins_per_octave: int, gamma: float) -> np.ndarray:
    """Length in samples of each bin's kernel, shape (n_bins,), float64 (integral values)."""
    alpha = 2.0 ** (1.0 / bins_per_octave) - 1.0
    q = 1.0 / alpha
    return np.ceil(q * sr / (freqs_hz + gamma / alpha))


def make_kernels(sr: int, fmin_hz: float, n_bins: int, bins_per_semitone: int, gamma: float,
                 center_bins: bool = True) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Build the VQT kernels.

    Returns
    -------
    kernels : ndarray, complex128, shape (n_bins, kernel_width)
        L1-normalised kernel of each bin placed in the common frame. The transform of a frame ``x``
        (kernel_width samples) is ``sqrt(lengths) * (conj(kernels) @ x)``.
    lengths : ndarray, float64, shape (n_bins,)
    freqs_hz : ndarray, float64, shape (n_bins,)
    """
    bpo = 12 * bins_per_semitone
    freqs = bin_frequencies(fmin_hz, n_bins, bins_per_semitone, center_bins)
    if freqs[-1] > sr / 2:
        raise ParameterError(f"sample rate {sr} Hz is too low: the top VQT bin ({freqs[-1]:.0f} Hz) is above "
                             f"Nyquist; use at least {MIN_SR} Hz")
    lengths = kernel_lengths(freqs, sr, bpo, gamma)
    width = int(2 ** math.ceil(math.log2(lengths.max())))
    kernels = np.zeros((n_bins, width), dtype=np.complex128)
    for k, (f, length) in enumerate(zip(freqs, lengths.astype(int))):
        # centred in the frame; odd lengths get the extra zero on the right
        start = math.ceil(width / 2 - length / 2) - (length % 2)
        n = np.arange(length)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * n / length)  # periodic Hann
        phase_index = np.arange(-(length // 2) - (length % 2), length // 2)  # floor(-l/2) .. ceil(l/2) - 1
        kernel = window * np.exp(2j * np.pi * f / sr * phase_index)
        kernel /= np.abs(kernel).sum()
        kernels[k, start:start + length] = kernel
    return kernels, lengths, freqs


def window_weights(kernels: np.ndarray, lengths: np.ndarray, taps: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                            np.ndarray]:
    """The kernels as the streaming engines apply them to a window's first ``taps`` samples.

    The transform of such a window ``x`` is ``(w_re @ x) + i (w_im @ x)``: the kernels are cut to the window's real
    samples (the mirrored zeros after them contribute nothing), conjugated, rounded to complex64, and ``sqrt(l_k)``
    is folded in (one float32 rounding of the product instead of two). Each bin's non-zero taps form one span.

    Parameters
    ----------
    kernels : complex128 (n_bins, kernel_width); lengths : float64 (n_bins,) (see :func:`make_kernels`)
    taps : int, at most ``kernel_width``

    Returns
    -------
    w_re, w_im : float32 (n_bins, taps)
    first, last : int64 (n_bins,): each bin's first and last non-zero tap (``first = 0, last = -1`` for none)
    """
    k64 = kernels.astype(np.complex64)[:, :taps]
    scale = np.sqrt(lengths)[:, None]
    w_re = (k64.real * scale).astype(np.float32)
    w_im = (-k64.imag * scale).astype(np.float32)
    nonzero = (w_re != 0) | (w_im != 0)
    has = nonzero.any(axis=1)
    first = np.where(has, nonzero.argmax(axis=1), 0).astype(np.int64)
    last = np.where(has, taps - 1 - nonzero[:, ::-1].argmax(axis=1), -1).astype(np.int64)
    return w_re, w_im, first, last


class VQT(nn.Module):
    """Complex VQT of single-channel audio at a fixed sample rate and hop.

    Parameters
    ----------
    sr : int
        Sample rate in Hz (8000 .. 192000).
    hop_length : int
        Samples between consecutive frames.
    fmin, n_bins, bins_per_semitone, gamma, center_bins :
        As in the checkpoint's ``hcqt_params``.
    """

    def __init__(self, sr: int, hop_length: int, *, fmin: float = 27.5, n_bins: int = 251,
                 bins_per_semitone: int = 3, gamma: float = 7, center_bins: bool = True, **unused):
        super().__init__()
        sr = check_sr(sr)
        if hop_length < 1:
            raise ParameterError(f"hop length must be at least 1 sample, got {hop_length}")
        self.sr = int(sr)
        self.hop_length = int(hop_length)
        self.n_bins = int(n_bins)
        kernels, lengths, freqs = make_kernels(sr, fmin, n_bins, bins_per_semitone, gamma, center_bins)
        self.kernel_width = kernels.shape[1]
        self.freqs_hz = freqs
        self.lengths = lengths
        k64 = kernels.astype(np.complex64)
        # x . conj(k): real part with Re(k), imaginary part with -Im(k); shape (2 * n_bins, 1, kernel_width)
        weight = np.concatenate([k64.real, -k64.imag])[:, None, :]
        self.register_buffer("weight", torch.from_numpy(np.ascontiguousarray(weight)), persistent=False)
        self.register_buffer("sqrt_lengths", torch.from_numpy(lengths).float().sqrt()[:, None], persistent=False)

    def n_frames_padded(self, n_padded: int) -> int:
        """Frames produced by :meth:`forward_padded` on ``n_padded`` samples."""
        if n_padded < self.kernel_width:
            return 0
        return (n_padded - self.kernel_width) // self.hop_length + 1

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        """VQT of an already padded signal: frame ``t`` covers ``x[..., t*hop : t*hop + kernel_width]``.

        Parameters
        ----------
        x : Tensor, float32, shape (batch, samples)

        Returns
        -------
        Tensor, complex64, shape (batch, frames, n_bins)
        """
        batch = x.shape[0]
        if self.n_frames_padded(x.shape[-1]) == 0:
            return torch.zeros(batch, 0, self.n_bins, dtype=torch.complex64, device=x.device)
        y = F.conv1d(x[:, None, :], self.weight, stride=self.hop_length)  # (batch, 2 * n_bins, frames)
        y = y.view(batch, 2, self.n_bins, -1) * self.sqrt_lengths
        return torch.complex(y[:, 0], y[:, 1]).transpose(1, 2)

    @staticmethod
    def to_db(vqt: torch.Tensor) -> torch.Tensor:
        """Log-magnitude in dB, floored at float32 epsilon (-138.5 dB), same shape as ``vqt``."""
        return vqt.abs().clamp_(min=torch.finfo(torch.float32).eps).log10_().mul_(20)


def reflect_indices(idx: np.ndarray, n: int) -> np.ndarray:
    """Map sample indices outside ``[0, n)`` into it by reflection about the first and last samples.

    This is the padding rule of the offline engine (``numpy.pad(mode="reflect")``, as upstream PESTO's reflect-padded
    convolution). When the padding is longer than the signal (upstream crashes there), the reflection is applied
    repeatedly: the signal is mirrored back and forth, with period ``2 * (n - 1)``. A one-sample signal is repeated.
    """
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= n, period - idx, idx)


def padded_segment(read: Callable[[int, int], np.ndarray], n_samples: int, start: int, stop: int) -> np.ndarray:
    """Samples ``[start, stop)`` of a signal of ``n_samples`` samples, reflect-padded outside ``[0, n_samples)``.

    ``read(a, b)`` returns samples ``[a, b)`` as float32 (shape (b - a,)); only the samples needed are read, so a long
    file never has to be in memory whole.
    """
    if start >= 0 and stop <= n_samples:
        return read(start, stop)
    idx = reflect_indices(np.arange(start, stop), n_samples)
    a, b = int(idx.min()), int(idx.max()) + 1
    return read(a, b)[idx - a]
