"""The Live tab's engine configuration, in one place (light: no torch).

:func:`pesto_core.stream.live_stream` builds a :class:`~pesto_core.stream.PitchStream` from it, and the app reads its
defaults (latency mode, gate) from here, so that the Python API and the app cannot drift. The values are chosen by
measurement: see BENCHMARKS.md, "Live mode" (``benchmarks/live_accuracy.py``).
"""

from __future__ import annotations

from .bundled import DEFAULT_MODEL, bundled_models
from .glitch import DEFAULT_LAG

LIVE_MODEL = "tracker-1-live"

# mirror=0.95 with the glitch filter's 2-hop look-ahead: 29 ms of latency at 48 kHz with a 10 ms step (9 ms of the
# VQT + 20 ms), the most look-ahead within the 30 ms a performer does not notice: on the dev seeds of
# benchmarks/live_accuracy.py (7000, 9100) it brings the live RPA within 1 point of the offline engine, where mirror 1
# was 1.2 below on one, and fewer spikes (3.1 -> 0.8 and 3.4 -> 1.9 per voiced minute; BENCHMARKS.md "Live mode");
# voiced = median confidence >= 0.5 and median peak mass >= 0.5 over the filter's window (pesto_core.voicing)
LIVE_DEFAULTS = dict(
    step_ms=10.0, mirror=0.95, refine=True, smooth=True, smooth_lag=DEFAULT_LAG, gate=0.5, peak_gate=0.5
)

# The latency modes the Live tab offers, by latency: (label, mirror). LIVE_DEFAULTS["mirror"] is the default.
LATENCY_MODES = (
    ("Lowest latency", 1.0),
    ("Standard", 0.95),
    ("Low latency", 0.75),
    ("Balanced", 0.5),
    ("Exact (offline frames)", 0.0),
)


FILE_MODEL = "tracker-1"
# the File tab decodes with the offline Viterbi tracker (pesto --viterbi): on the held-out set it adds 1.0 RPA to
# tracker-1, 4.1 at 0 dB SNR, 2.5 above 800 Hz (benchmarks/results/model_accuracy_viterbi_2026-12-03.md); the box
# in the File tab turns it off
FILE_VITERBI = True


def file_model_name() -> str:
    """The File tab's default model: ``tracker-1`` where it is bundled, else the published ``mir-1k_g7``."""
    return FILE_MODEL if FILE_MODEL in bundled_models() else DEFAULT_MODEL


def live_model_name() -> str:
    """The live preset's model: ``tracker-1-live`` where it is bundled, else the published ``mir-1k_g7``."""
    return LIVE_MODEL if LIVE_MODEL in bundled_models() else DEFAULT_MODEL
