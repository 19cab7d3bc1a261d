"""Speech and singing resynthesised with an imposed f0 contour: espeak-ng for the voice, WORLD for the resynthesis.

espeak-ng (Debian ``espeak-ng``) speaks random words in one of several languages and voice variants; the WORLD
vocoder (PyPI ``pyworld``) analyses it (DIO + StoneMask f0, CheapTrick envelope, D4C aperiodicity) at the clip's
sample rate and resynthesises it with a new f0 contour in the frames WORLD found voiced: a sung melody (notes,
portamento, vibrato) or a spoken intonation (a declining smooth contour with accents), 55-1100 Hz. The synthesis
follows the imposed f0 exactly, so that contour (linearly interpolated between 5 ms frames) is the ground truth;
frames within 20 ms of a voicing change are ambiguous; unvoiced consonants, breath pauses and silence are unvoiced.

Training uses voice variants ``TRAIN_VARIANTS``; the held-out benchmark uses ``HELD_OUT_VARIANTS`` and its own words.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from . import synth

LANGUAGES = ("en", "en-us", "de", "fr", "es", "it", "pt", "nl", "pl", "sv")
TRAIN_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3", "croak", "whisperf", "klatt", "klatt2")
HELD_OUT_VARIANTS = ("m6", "m7", "f4", "f5", "klatt3")
WORDS = (
    "la",
    "mama",
    "hello",
    "morning",
    "window",
    "river",
    "yellow",
    "summer",
    "money",
    "lovely",
    "animal",
    "banana",
    "orange",
    "velvet",
    "thunder",
    "silver",
    "marble",
    "lemon",
    "ocean",
    "valley",
    "rainbow",
    "freedom",
    "shadow",
    "garden",
    "miracle",
    "holiday",
    "evening",
    "season",
    "journey",
    "feather",
    "station",
    "picture",
    "kitchen",
    "chocolate",
    "festival",
    "umbrella",
    "elephant",
    "butterfly",
)
HELD_OUT_WORDS = ("alone", "mirror", "meadow", "winter", "honey", "circle", "melody", "nowhere", "island", "lullaby")

_pw = None


def _pyworld():
    """The compiled pyworld module (loaded directly: its package __init__ needs pkg_resources, gone from new
    setuptools)."""
    global _pw
    if _pw is None:
        spec = importlib.util.find_spec("pyworld")
        if spec is None or spec.origin is None:
            raise ImportError("pyworld is not installed")
        so = next(Path(spec.origin).parent.glob("pyworld*.so"))
        ext = importlib.util.spec_from_file_location("pyworld.pyworld", so)
        mod = importlib.util.module_from_spec(ext)
        ext.loader.exec_module(mod)
        _pw = mod
    return _pw


def available() -> bool:
    """espeak-ng and pyworld are installed. Checked without loading pyworld's compiled module: loading it in a
    process that later runs Qt made a Qt test abort (tests/run.sh runs the training tests apart for that reason)."""
    if shutil.which("espeak-ng") is None:
        return False
    try:
        spec = importlib.util.find_spec("pyworld")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None and any(Path(spec.origin).parent.glob("pyworld*.so"))


def speak(text: str, voice: str, speed: int, pitch: int) -> tuple:
    with tempfile.TemporaryDirectory(prefix="pt-es-") as d:
        wav = os.path.join(d, "s.wav")
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", wav, text],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        x, sr = sf.read(wav)
    return x.astype(np.float64), int(sr)


def sung_contour(rng: np.random.Generator, t: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """MIDI contour: notes of 0.15-0.8 s, portamento, vibrato."""
    m, pos, key = np.zeros(len(t)), 0.0, rng.uniform(lo, hi)
    knots_t, knots_m = [], []
    while pos < t[-1] + 0.5:
        key = float(np.clip(key + rng.integers(-5, 6) + rng.normal(0, 0.05), lo, hi))
        d = rng.uniform(0.15, 0.8)
        port = rng.uniform(0.02, 0.12)
        knots_t += [pos, pos + d - port]
        knots_m += [key, key]
        pos += d
    m = np.interp(t, knots_t, knots_m)
    if rng.random() < 0.7:
        m += rng.uniform(0.1, 0.8) * np.sin(2 * np.pi * rng.uniform(4.5, 7) * t + rng.uniform(0, 6.3))
    return m


def spoken_contour(rng: np.random.Generator, t: np.ndarray, lo: float, hi: float) -> np.ndarray:
    base = rng.uniform(lo, min(hi, lo + 24))
    k = int(t[-1] * 4) + 2
    m = base - rng.uniform(0, 4) * t / max(t[-1], 1e-3)
    m = m + np.interp(t, np.linspace(0, t[-1], k), rng.normal(0, rng.uniform(0.5, 3), k))
    return np.clip(m, lo, hi)


def voice_clip(
    rng: np.random.Generator,
    sr: int,
    dur_s: float = 2.0,
    variants=TRAIN_VARIANTS,
    words=WORDS,
    style: str | None = None,
    f0_range=(55.0, 1100.0),
    **finish_kw,
) -> tuple:
    pw = _pyworld()
    text = " ".join(rng.choice(words, int(rng.integers(3, 8))))
    voice = f"{rng.choice(LANGUAGES)}+{rng.choice(variants)}"
    x, sr0 = speak(text, voice, int(rng.integers(110, 200)), int(rng.integers(20, 80)))
    out_sr, sr = sr, max(sr, 16000)  # WORLD works at 16 kHz or more (its analysis fails at 8 kHz); resampled after
    g = np.gcd(sr, sr0)
    x = resample_poly(x, sr // g, sr0 // g)
    n = int(dur_s * sr)
    if len(x) > n:
        start = int(rng.integers(0, len(x) - n + 1))
        x = x[start : start + n]
    x = np.pad(x, (0, n - len(x)))
    x = x + 1e-6 * rng.standard_normal(n)  # WORLD dislikes exact digital silence
    fp = 5.0
    f0, t = pw.dio(x, sr, frame_period=fp, f0_floor=60.0, f0_ceil=600.0)
    f0 = pw.stonemask(x, f0, t, sr)
    sp = pw.cheaptrick(x, f0, t, sr)
    ap = pw.d4c(x, f0, t, sr)
    style = style or ("sung" if rng.random() < 0.6 else "spoken")
    lo, hi = synth.hz_to_midi(f0_range[0]), synth.hz_to_midi(min(f0_range[1], 0.4 * out_sr))
    centre_lo = rng.uniform(lo, hi - 6)
    contour = (sung_contour if style == "sung" else spoken_contour)(rng, t, centre_lo, min(hi, centre_lo + 19))
    new_f0 = np.where(f0 > 0, synth.midi_to_hz(contour), 0.0)
    y = pw.synthesize(np.ascontiguousarray(new_f0), sp, ap, sr, frame_period=fp)[:n]
    y = np.pad(y, (0, n - len(y)))
    ts = np.arange(n) / sr
    fr = np.clip(ts / (fp / 1000), 0, len(new_f0) - 1)
    i0 = np.floor(fr).astype(int)
    i1 = np.minimum(i0 + 1, len(new_f0) - 1)
    w = fr - i0
    a, b = new_f0[i0], new_f0[i1]
    label = np.where((a > 0) & (b > 0), a * (1 - w) + b * w, 0.0)
    label = np.where((a > 0) != (b > 0), -1.0, label)
    # a frame is voiced only where the resynthesis actually has energy
    env = np.sqrt(np.convolve(y**2, np.ones(int(0.02 * sr)) / int(0.02 * sr), "same"))
    label = np.where((label > 0) & (env < 1e-3 * (env.max() + 1e-12)), -1.0, label)
    label = synth.mark_edges(label, sr)
    if out_sr != sr:
        g = np.gcd(out_sr, sr)
        y = resample_poly(y, out_sr // g, sr // g)
        label = label[np.minimum((np.arange(len(y)) * sr) // out_sr, len(label) - 1)]
    kw = dict(noise_p=0.5, reverb_p=0.25)
    kw.update(finish_kw)
    return synth.finish(rng, y, label, out_sr, **kw)
