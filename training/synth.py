"""Synthetic training material with exact f0 ground truth (numpy only, seeded, fast).

Every generator returns ``(audio float64 (samples,), f0 float64 (samples,))`` where ``f0`` is the true fundamental
in Hz at each sample, ``0`` where the signal is unvoiced (silence, noise, breath, consonants, hum alone) and ``-1``
where the label is ambiguous (reverberation tails, the edges of notes) and no loss is taken.

Contents: harmonic notes with random spectra (tilt, formant resonances, odd-only spectra, a weak or missing
fundamental, inharmonicity), envelopes, vibrato, glides, drift and jitter, from 30 to 2000 Hz; unvoiced events;
background noise (white, pink, brown, babble, mains hum) at 0-30 dB SNR; reverberation; level changes.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve, lfilter

from pesto_core.units import hz_to_semitones, semitones_to_hz

F0_MIN, F0_MAX = 30.0, 2000.0


hz_to_midi = hz_to_semitones  # the engine's pitch units (pesto_core.units)


def midi_to_hz(m):
    return semitones_to_hz(np.asarray(m, np.float64))


# ------------------------------------------------------------------------------------------------ contours
def f0_contour(rng: np.random.Generator, n: int, sr: int, midi: float, style: str | None = None) -> np.ndarray:
    """An f0 contour in Hz of ``n`` samples around MIDI pitch ``midi``."""
    t = np.arange(n) / sr
    style = style or rng.choice(["steady", "vibrato", "glide", "drift", "vibrato_glide"], p=[0.3, 0.25, 0.2, 0.1, 0.15])
    m = np.full(n, float(midi))
    if "glide" in style:
        span = rng.uniform(-12, 12) * (rng.random() < 0.7 and 0.4 or 1.0)
        start, dur = rng.uniform(0, 0.5) * t[-1], rng.uniform(0.05, 1.0) * t[-1]
        m += span * np.clip((t - start) / max(dur, 1e-3), 0, 1) - span / 2
    if "vibrato" in style:
        rate, depth = rng.uniform(3.5, 8.0), rng.uniform(0.1, 1.0)  # depth in semitones (peak)
        onset = rng.uniform(0, 0.3)
        m += depth * np.clip(t / max(onset, 1e-3), 0, 1) * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    if style == "drift" or rng.random() < 0.3:
        k = max(2, int(t[-1] * 4) + 2)
        knots = rng.normal(0, rng.uniform(0.05, 0.5), k)
        m += np.interp(t, np.linspace(0, t[-1], k), knots)
    if rng.random() < 0.3:  # jitter: small fast random deviations
        k = max(2, int(t[-1] * 60))
        m += np.interp(t, np.linspace(0, t[-1], k), rng.normal(0, 0.03, k))
    return midi_to_hz(m)


# ------------------------------------------------------------------------------------------------ timbre
def harmonic_amplitudes(rng: np.random.Generator, f0_mean: float, sr: int, n_max: int = 60) -> tuple:
    """Amplitudes (H,) and inharmonicity B of a random harmonic spectrum."""
    n = int(min(n_max, max(1, np.floor(0.45 * sr / f0_mean))))
    n = int(rng.integers(1, n + 1)) if rng.random() < 0.3 else n
    h = np.arange(1, n + 1, dtype=np.float64)
    amps = h ** -rng.uniform(0.3, 2.5) * rng.uniform(0.3, 1.0, n)
    if rng.random() < 0.5:  # formant resonances (log-frequency bumps)
        for _ in range(int(rng.integers(1, 5))):
            fc, bw = np.exp(rng.uniform(np.log(200), np.log(5000))), rng.uniform(0.1, 0.6)
            amps *= 1 + rng.uniform(1, 15) * np.exp(-0.5 * (np.log(h * f0_mean / fc) / bw) ** 2)
    if n > 2 and rng.random() < 0.1:
        amps[1::2] *= rng.uniform(0, 0.1)  # odd harmonics only (clarinet-like)
    if n > 1:
        r = rng.random()
        if r < 0.12:
            amps[0] *= rng.uniform(0.01, 0.3)  # weak fundamental
        elif r < 0.18 and n > 3:
            amps[0] = 0.0  # missing fundamental
    b = rng.uniform(0, 4e-4) if rng.random() < 0.2 else 0.0
    return amps, b


def harmonic_signal(f0: np.ndarray, sr: int, amps: np.ndarray, b: float, rng: np.random.Generator) -> np.ndarray:
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = np.zeros_like(f0)
    for h in range(1, len(amps) + 1):
        if amps[h - 1] == 0:
            continue
        stretch = np.sqrt(1 + b * h * h)
        fh = h * stretch * f0
        fade = np.clip((0.45 * sr - fh) / (0.02 * sr), 0.0, 1.0)
        if not fade.any():
            break
        x += amps[h - 1] * fade * np.sin(h * stretch * phase + rng.uniform(0, 2 * np.pi))
    return x


def envelope(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    att = rng.uniform(0.003, 0.08)
    env = np.clip(t / att, 0, 1)
    if rng.random() < 0.35:  # percussive decay
        env *= np.exp(-t / rng.uniform(0.2, 2.0))
    rel = rng.uniform(0.01, 0.08)
    env *= np.clip((t[-1] - t) / rel, 0, 1)
    if rng.random() < 0.3:  # tremolo
        env *= 1 + rng.uniform(0.05, 0.4) * np.sin(2 * np.pi * rng.uniform(3, 8) * t)
    return env


# ------------------------------------------------------------------------------------------------ noise
def pink(rng: np.random.Generator, n: int) -> np.ndarray:
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1, -2.494956002, 2.017265875, -0.522189400]
    return lfilter(b, a, rng.standard_normal(n))


def brown(rng: np.random.Generator, n: int) -> np.ndarray:
    x = np.cumsum(rng.standard_normal(n))
    return x - lfilter([1], [1, -0.999], x) * 0.001 - np.linspace(x[0], x[-1], n)


def bandpass_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    spec *= (f >= lo) & (f <= min(hi, sr / 2))
    return np.fft.irfft(spec, n)


def babble(rng: np.random.Generator, n: int, sr: int, talkers: int = 5) -> np.ndarray:
    x = np.zeros(n)
    for _ in range(talkers):
        f0 = f0_contour(rng, n, sr, rng.uniform(45, 70), "drift")
        amps, _ = harmonic_amplitudes(rng, float(f0.mean()), sr, 40)
        k = max(2, int(n / sr * 6))
        gate = np.interp(np.arange(n), np.linspace(0, n, k), (rng.random(k) < 0.6).astype(float))
        x += harmonic_signal(f0, sr, amps, 0.0, rng) * gate
    return x + 0.3 * bandpass_noise(rng, n, sr, 2000, 8000) * x.std()


def hum(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    base = rng.choice([50.0, 60.0]) * (1 + rng.normal(0, 0.002))
    amps = rng.uniform(0, 1, 8) * np.arange(1, 9) ** -0.7
    return harmonic_signal(np.full(n, base), sr, amps, 0.0, rng)


def background(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    kind = rng.choice(["white", "pink", "brown", "babble", "hum", "mix"], p=[0.25, 0.25, 0.1, 0.15, 0.1, 0.15])
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return pink(rng, n)
    if kind == "brown":
        return brown(rng, n)
    if kind == "babble":
        return babble(rng, n, sr)
    if kind == "hum":
        return hum(rng, n, sr)
    parts = [rng.standard_normal(n), pink(rng, n), hum(rng, n, sr)]
    return sum(p / (p.std() + 1e-12) * rng.uniform(0, 1) for p in parts)


def unvoiced_event(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Breath, unvoiced consonant-like bursts, or broadband noise of ``n`` samples."""
    kind = rng.choice(["breath", "fricative", "burst", "noise"])
    if kind == "breath":
        x = bandpass_noise(rng, n, sr, rng.uniform(200, 800), rng.uniform(2000, 6000))
    elif kind == "fricative":
        x = bandpass_noise(rng, n, sr, rng.uniform(2500, 5000), sr / 2)
    elif kind == "burst":
        x = rng.standard_normal(n) * np.exp(-np.arange(n) / (sr * rng.uniform(0.005, 0.05)))
    else:
        x = pink(rng, n) if rng.random() < 0.5 else rng.standard_normal(n)
    return x * envelope(rng, n, sr)


def reverb(rng: np.random.Generator, x: np.ndarray, sr: int) -> tuple:
    rt60 = rng.uniform(0.1, 1.2)
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir[0] = 0.0
    wet = fftconvolve(x, ir)[: len(x)]
    wet *= rng.uniform(0.1, 0.7) * x.std() / (wet.std() + 1e-12)
    return x + wet, rt60


# ------------------------------------------------------------------------------------------------ clips
def mark_edges(f0: np.ndarray, sr: int, guard_s: float = 0.02) -> np.ndarray:
    """Label samples within ``guard_s`` of a change of voicing as ambiguous (-1)."""
    voiced = f0 > 0
    change = np.flatnonzero(np.diff(voiced.astype(np.int8)) != 0)
    out = f0.copy()
    g = int(guard_s * sr)
    for c in change:
        out[max(0, c - g) : c + g + 1] = -1.0
    return out


def add_background(rng, x, f0, sr, snr_db=None):
    """Noise at an SNR (dB) relative to the RMS of the voiced part (or of the whole clip)."""
    voiced = f0 > 0
    ref = np.sqrt(np.mean(x[voiced] ** 2)) if voiced.any() else np.sqrt(np.mean(x**2)) + 1e-4
    snr = rng.uniform(0, 30) if snr_db is None else snr_db
    noise = background(rng, len(x), sr)
    noise *= ref / (np.sqrt(np.mean(noise**2)) + 1e-12) * 10 ** (-snr / 20)
    return x + noise


def finish(rng, x, f0, sr, noise_p=0.6, reverb_p=0.3, level_db=(-45.0, -1.0), snr_range=None):
    """Reverberation, background noise (at an SNR uniform in ``snr_range`` dB, default 0-30), level changes, final
    level; labels tails of reverberation ambiguous."""
    label = f0.copy()
    if rng.random() < reverb_p:
        x, rt60 = reverb(rng, x, sr)
        voiced = f0 > 0
        tail = np.zeros(len(x), bool)
        ends = np.flatnonzero(voiced[:-1] & ~voiced[1:])
        for e in ends:
            tail[e : e + int(rt60 * 0.5 * sr)] = True
        label[tail & ~voiced] = -1.0
    if rng.random() < noise_p:
        # (the default draws inside add_background, as before the option: the same clips for the same seeds)
        snr = None if snr_range is None else float(rng.uniform(*snr_range))
        x = add_background(rng, x, f0, sr, snr_db=snr)
    if rng.random() < 0.3:  # slow level change of up to +-12 dB
        k = int(rng.integers(2, 5))
        g = np.interp(np.arange(len(x)), np.linspace(0, len(x), k), rng.uniform(-12, 12, k))
        x = x * 10 ** (g / 20)
    peak = np.max(np.abs(x)) + 1e-12
    x = x / peak * 10 ** (rng.uniform(*level_db) / 20)
    return x, label


def tone_clip(rng: np.random.Generator, sr: int, dur_s: float = 2.0, f0_range=(F0_MIN, F0_MAX), **finish_kw) -> tuple:
    """Notes of random harmonic timbres separated by gaps (silence or unvoiced events), then :func:`finish`."""
    n = int(dur_s * sr)
    x, f0 = np.zeros(n), np.zeros(n)
    lo, hi = hz_to_midi(f0_range[0]), hz_to_midi(min(f0_range[1], 0.45 * sr))
    pos = int(rng.uniform(0, 0.3) * sr)
    centre = rng.uniform(lo, hi)
    while pos < n - int(0.1 * sr):
        if rng.random() < 0.25:  # a gap
            g = int(rng.uniform(0.05, 0.4) * sr)
            if rng.random() < 0.5:
                seg = unvoiced_event(rng, min(g, n - pos), sr) * rng.uniform(0.05, 1.0)
                x[pos : pos + len(seg)] += seg
            pos += g
            continue
        length = min(n - pos, int(rng.uniform(0.15, 1.2) * sr))
        midi = (
            float(np.clip(centre + rng.normal(0, 4), lo + 0.5, hi - 0.5))
            if rng.random() < 0.7
            else rng.uniform(lo + 0.5, hi - 0.5)
        )
        contour = np.clip(f0_contour(rng, length, sr, midi), f0_range[0], min(f0_range[1], 0.45 * sr))
        amps, b = harmonic_amplitudes(rng, float(contour.mean()), sr)
        seg = harmonic_signal(contour, sr, amps, b, rng) * envelope(rng, length, sr)
        seg /= np.max(np.abs(seg)) + 1e-12
        x[pos : pos + length] += seg * rng.uniform(0.3, 1.0)
        f0[pos : pos + length] = contour
        pos += length if rng.random() < 0.6 else length + int(rng.uniform(0.02, 0.3) * sr)
    return finish(rng, x, mark_edges(f0, sr), sr, **finish_kw)


def unvoiced_clip(rng: np.random.Generator, sr: int, dur_s: float = 2.0) -> tuple:
    """Silence, noise, hum, breath and consonant-like events only: everything unvoiced."""
    n = int(dur_s * sr)
    x = np.zeros(n)
    if rng.random() < 0.7:
        x += background(rng, n, sr) * rng.uniform(0, 1)
    pos = 0
    while pos < n:
        g = int(rng.uniform(0.05, 0.5) * sr)
        if rng.random() < 0.6:
            seg = unvoiced_event(rng, min(g, n - pos), sr)
            x[pos : pos + len(seg)] += seg / (seg.std() + 1e-12) * (x.std() + 1e-3) * rng.uniform(0.3, 3)
        pos += g
    if rng.random() < 0.1:
        x[:] = 0.0  # digital silence
    elif rng.random() < 0.2:
        x *= 1e-3  # very quiet
    peak = np.max(np.abs(x))
    if peak > 0:
        x = x / peak * 10 ** (rng.uniform(-60, -3) / 20)
    return x, np.zeros(n)
