"""Checks of the parameters every entry point shares, with messages a user can act on (light: no torch).

Each raises :class:`pesto_core.errors.ParameterError`.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ParameterError

MIN_SR = 8000  # Hz; below this the VQT's highest bins pass Nyquist
MAX_SR = 192000
REDUCTIONS = ("alwa", "argmax", "mean")


def check_sr(sr, *, what: str = "sample rate") -> int:
    """``sr`` as an int number of Hz in ``MIN_SR..MAX_SR`` (an integral float is accepted)."""
    if isinstance(sr, float) and sr.is_integer():
        sr = int(sr)
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool):
        raise ParameterError(f"{what} must be an integer number of Hz in {MIN_SR}..{MAX_SR}, got {sr!r}")
    if not MIN_SR <= sr <= MAX_SR:
        raise ParameterError(f"{what} {sr} Hz is out of range ({MIN_SR}..{MAX_SR} Hz)")
    return int(sr)


def check_reduction(reduction: str) -> str:
    """``reduction`` if it is one of :data:`REDUCTIONS`."""
    if reduction not in REDUCTIONS:
        raise ParameterError(f"unknown reduction '{reduction}' (choose from {', '.join(REDUCTIONS)})")
    return reduction


def check_viterbi(viterbi: bool, reduction: str) -> None:
    """The Viterbi decoding (``viterbi=True``, ``--viterbi``) takes the ``alwa`` window around its path: it replaces
    that reduction only."""
    if viterbi and reduction != "alwa":
        raise ParameterError(
            f"the Viterbi decoding (--viterbi) averages the bins around its path as the alwa reduction does: "
            f"it cannot be combined with reduction {reduction!r}"
        )


def check_step_ms(step_ms) -> float:
    """``step_ms`` as a positive finite float (milliseconds between frames)."""
    if isinstance(step_ms, bool) or not (
        isinstance(step_ms, (int, float, np.floating, np.integer)) and math.isfinite(step_ms) and step_ms > 0
    ):
        raise ParameterError(f"step size must be a positive number of milliseconds, got {step_ms!r}")
    return float(step_ms)


def check_positive_int(value, name: str) -> int:
    """``value`` as a positive int (``n_streams``, ``hop_length``, ``batch``...)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_gate(value, what: str = "gate") -> float:
    """``value`` as a float in [0, 1] (a voicing gate: confidence or peak mass), else a ParameterError naming
    ``what``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not 0.0 <= value <= 1.0
    ):
        raise ParameterError(f"{what} must be in [0, 1], got {value!r}")
    return float(value)
