"""Helpers for the live-mode tests and benchmark: a known melody, the virtual microphone (PulseAudio), alignment.

The melody: harmonic tones (6 partials, amplitudes 1/h) with 15 ms fades, rests between them and a glide, so that
notes, a continuous pitch change and silences are all checked. Its true pitch is known at every instant.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import List, Optional, Tuple

import numpy as np

# (start s, end s, MIDI at start, MIDI at end); None = rest.
MELODY = [
    (0.00, 0.50, None, None),
    (0.50, 1.30, 57.0, 57.0),  # A3
    (1.30, 1.60, None, None),
    (1.60, 2.40, 64.0, 64.0),  # E4
    (2.40, 3.20, 64.0, 69.0),  # glide E4 -> A4
    (3.20, 4.00, 69.0, 69.0),  # A4
    (4.00, 4.50, None, None),
    (4.50, 5.30, 66.0, 66.0),  # F#4
    (5.30, 6.00, None, None),
]
NOTES_IN_ORDER = ["A3", "E4", "A4", "F\u266f4"]

# A fast run and a wide glide, for the tuner: eight notes of 100 ms (C4 D4 E4 F4 G4 A4 B4 C5, legato), a held C5,
# a glide down a fifth (C5 -> F4) in 0.5 s, a held F4.
RUN = [(0.00, 0.50, None, None)]
RUN += [(0.50 + 0.1 * i, 0.60 + 0.1 * i, float(m), float(m)) for i, m in enumerate((60, 62, 64, 65, 67, 69, 71))]
RUN += [(1.20, 1.70, 72.0, 72.0), (1.70, 2.20, 72.0, 65.0), (2.20, 2.80, 65.0, 65.0), (2.80, 3.30, None, None)]
RUN_NOTES_IN_ORDER = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5", "F4"]


def true_pitch(t: np.ndarray, melody=None) -> np.ndarray:
    """MIDI pitch of a melody (default :data:`MELODY`) at times ``t`` (s, float64 (n,)); NaN in rests and outside
    the melody."""
    t = np.asarray(t, dtype=np.float64)
    out = np.full(t.shape, np.nan)
    for a, b, m0, m1 in MELODY if melody is None else melody:
        if m0 is None:
            continue
        sel = (t >= a) & (t < b)
        out[sel] = m0 + (m1 - m0) * (t[sel] - a) / (b - a)
    return out


def boundary_distance(t: np.ndarray) -> np.ndarray:
    """Seconds from each time to the nearest note/rest boundary (onsets and offsets are ambiguous frames)."""
    edges = []
    for a, b, m0, _ in MELODY:
        if m0 is not None:
            edges += [a, b]
    edges = np.asarray(edges)
    return np.min(np.abs(np.asarray(t)[:, None] - edges[None, :]), axis=1)


def synth_melody(sr: int = 48000, amplitude: float = 0.25, partials: int = 6, melody=None) -> Tuple[np.ndarray, float]:
    """A melody (default :data:`MELODY`) as float32 samples (samples,) at ``sr``, and its duration in seconds."""
    melody = MELODY if melody is None else melody
    duration = melody[-1][1]
    n = int(round(duration * sr))
    t = np.arange(n) / sr
    midi = true_pitch(t, melody)
    voiced = np.isfinite(midi)
    f0 = np.where(voiced, 440.0 * 2.0 ** ((np.nan_to_num(midi) - 69.0) / 12.0), 0.0)
    phase = 2 * np.pi * np.cumsum(f0) / sr  # integrated frequency: the glide is continuous
    x = np.zeros(n)
    for h in range(1, partials + 1):
        x += np.sin(h * phase) / h
    env = np.zeros(n)
    fade = int(0.015 * sr)
    # one envelope per phrase of consecutive notes (legato notes are not faded between them)
    phrases = []
    for a, b, m0, _ in melody:
        if m0 is None:
            continue
        if phrases and abs(phrases[-1][1] - a) < 1e-9:
            phrases[-1][1] = b
        else:
            phrases.append([a, b])
    for a, b in phrases:
        i0, i1 = int(round(a * sr)), int(round(b * sr))
        e = np.ones(i1 - i0)
        e[:fade] = np.linspace(0, 1, fade)
        e[-fade:] = np.linspace(1, 0, fade)
        env[i0:i1] = e
    x *= env
    x *= amplitude / max(1e-9, np.max(np.abs(x)))
    return x.astype(np.float32), duration


def align(
    time_s: np.ndarray,
    pitch: np.ndarray,
    voiced: np.ndarray,
    search: Tuple[float, float],
    step: float = 0.005,
    melody=None,
) -> float:
    """Offset ``o`` (s) such that tracked frame time ``t`` corresponds to melody time ``t - o``.

    Chosen to maximise the frames where tracker and melody agree within 50 cents (voiced) or are both unvoiced.
    """
    melody = MELODY if melody is None else melody
    best, best_score = search[0], -1
    for o in np.arange(search[0], search[1], step):
        truth = true_pitch(time_s - o, melody)
        tv = np.isfinite(truth)
        score = np.sum(tv & voiced & (np.abs(pitch - np.nan_to_num(truth)) < 0.5)) + np.sum(
            ~tv & ~voiced & ((time_s - o >= 0) & (time_s - o < melody[-1][1]))
        )
        if score > best_score:
            best, best_score = o, score
    return float(best)


# ---------------------------------------------------------------------------------------------- the virtual mic
def pulse_problem() -> Optional[str]:
    """Why the PulseAudio virtual microphone cannot be used here (None if it can)."""
    if shutil.which("pactl") is None or shutil.which("paplay") is None:
        return "PulseAudio tools (pactl, paplay) are not installed"
    try:
        info = subprocess.run(["pactl", "info"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"pactl info failed: {e}"
    if info.returncode != 0:
        return "no PulseAudio server is running (tests/run.sh starts one)"
    try:
        import sounddevice  # noqa: F401
    except OSError as e:
        return f"PortAudio is missing: {e}"
    return None


def pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10, check=True).stdout


def modules() -> List[Tuple[str, str, str]]:
    """Loaded PulseAudio modules as (index, name, arguments)."""
    out = []
    for line in pactl("list", "short", "modules").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            out.append((parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return out


def restore_virtual_mic() -> None:
    """Make sure the null sink ``vsink`` and the source ``vmic`` exist and are the defaults (as tests/run.sh)."""
    names = {(m[1], m[2].split()[0] if m[2] else "") for m in modules()}
    if ("module-null-sink", "sink_name=vsink") not in names:
        pactl("load-module", "module-null-sink", "sink_name=vsink", "rate=48000")
    if ("module-remap-source", "master=vsink.monitor") not in names:
        pactl("load-module", "module-remap-source", "master=vsink.monitor", "source_name=vmic")
    pactl("set-default-sink", "vsink")
    pactl("set-default-source", "vmic")


def remove_virtual_mic() -> None:
    """Unload the virtual microphone and its sink: for a stream recording from it, the device is gone."""
    for idx, name, args in reversed(modules()):
        if name == "module-remap-source" and "vmic" in args or name == "module-null-sink" and "vsink" in args:
            pactl("unload-module", idx)


def play(path: str) -> subprocess.Popen:
    """Play a sound file into the default sink (the virtual microphone hears it)."""
    return subprocess.Popen(
        ["paplay", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ)
    )
