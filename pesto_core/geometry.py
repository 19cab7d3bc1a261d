"""Where frames sit in the signal, in samples: one definition for the offline and streaming engines (light: numpy).

Offline, frame ``t`` is centred on sample ``t * hop`` and a signal of ``n`` samples has ``n // hop + 1`` frames. For
streaming, :class:`StreamGeometry` says where each frame of a stream sits and how late it is (see
:mod:`pesto_core.stream` for the method).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from .errors import ParameterError
from .validation import check_step_ms


def hop_length_for(step_ms: float, sr: int) -> int:
    """Hop in samples for a step in milliseconds: ``round(step_ms * sr / 1000)``, halves rounded up."""
    step_ms = check_step_ms(step_ms)
    hop = int(step_ms * sr / 1000 + 0.5)
    if hop < 1:
        raise ParameterError(f"step size {step_ms} ms is shorter than one sample at {sr} Hz")
    return hop


def n_offline_frames(n_samples: int, hop_length: int) -> int:
    """Frames the offline analysis gives for ``n_samples`` samples: ``n_samples // hop + 1`` (0 if empty)."""
    return 0 if n_samples <= 0 else n_samples // hop_length + 1


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


class StreamTiming:
    """Read-only timing of a streaming object that has a ``geometry`` (:class:`StreamGeometry`) attribute."""

    geometry: StreamGeometry

    @property
    def sr(self) -> int:
        """Sample rate in Hz."""
        return self.geometry.sr

    @property
    def hop_length(self) -> int:
        """Samples between frames."""
        return self.geometry.hop_length

    @property
    def step_ms(self) -> float:
        """Milliseconds between frames."""
        return self.geometry.hop_length * 1000.0 / self.geometry.sr

    @property
    def mirror(self) -> float:
        """Fraction of each frame's future half-window replaced by zeros."""
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
        return self.latency_samples / self.geometry.sr


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
