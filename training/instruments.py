"""Sampled real instruments rendered from MIDI by FluidSynth, with pitch bends, exact f0 ground truth.

Each clip: one General MIDI melodic programme from a General MIDI SoundFont installed by Debian
(``fluidsynth``, ``musescore-general-soundfont-small``, ``timgm6mb-soundfont``, ``fluid-soundfont-gm``), a
monophonic phrase (notes 28-95, rests, legato), pitch-bend contours (vibrato, glides, slow drift) with the bend range
set by RPN 0, rendered at the clip's sample rate without reverb or chorus (added afterwards by
:func:`training.synth.finish`). Ground truth: note + bend at each sample (bend changes every 5 ms; FluidSynth
applies them per 64-sample block). Labels: voiced from 20 ms after a note-on to its note-off, ambiguous for the
release (0.4 s or until the next note), unvoiced otherwise.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from pesto_core.notes.midi import vlq

from . import synth

# Training renders with these two; the held-out benchmark uses MuseScore_General (a SoundFont never trained on).
SOUNDFONT_CANDIDATES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")
HELD_OUT_SOUNDFONT = "/usr/share/sounds/sf3/MuseScore_General.sf3"
# melodic programmes (0-based GM numbers) left out: honky-tonk piano (detuned layers), tubular bells, sound effects
# and percussion (112-127), synth effects (96-103)
EXCLUDED = {3, 14, 47, 55} | set(range(96, 104)) | set(range(112, 128))
PROGRAMS = [p for p in range(128) if p not in EXCLUDED]
TICKS_PER_BEAT, TEMPO_US = 480, 500000  # 960 ticks per second
TICKS_PER_S = TICKS_PER_BEAT * 1e6 / TEMPO_US


def soundfonts() -> list:
    return [p for p in SOUNDFONT_CANDIDATES if Path(p).is_file()]


def available() -> bool:
    return shutil.which("fluidsynth") is not None and bool(soundfonts())


_varlen = vlq  # the engine's MIDI variable-length quantity


def write_midi(path: str, events: list) -> None:
    """Format-0 MIDI file from ``(tick, bytes)`` events (sorted by tick, stable)."""
    track, last = bytearray(), 0
    track += _varlen(0) + b"\xff\x51\x03" + TEMPO_US.to_bytes(3, "big")
    for tick, msg in sorted(events, key=lambda e: e[0]):
        track += _varlen(tick - last) + msg
        last = tick
    track += _varlen(0) + b"\xff\x2f\x00"
    with open(path, "wb") as f:
        f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT))
        f.write(b"MTrk" + struct.pack(">I", len(track)) + bytes(track))


def phrase(rng: np.random.Generator, dur_s: float, lo: int = 28, hi: int = 95) -> tuple:
    """Notes [(start_s, end_s, key)], a bend contour in semitones every 5 ms, and the bend range."""
    notes, t = [], rng.uniform(0.02, 0.3)
    key = int(rng.integers(lo, hi + 1))
    while t < dur_s - 0.2:
        length = rng.uniform(0.15, 1.0)
        key = int(np.clip(key + rng.integers(-7, 8), lo, hi)) if rng.random() < 0.8 else int(rng.integers(lo, hi + 1))
        end = min(t + length, dur_s - 0.05)
        notes.append((t, end, key))
        t = end + (0.0 if rng.random() < 0.4 else rng.uniform(0.05, 0.5))
    bend_range = int(rng.choice([2, 2, 12]))
    n = int(dur_s / 0.005) + 1
    tt = np.arange(n) * 0.005
    bend = np.zeros(n)
    if rng.random() < 0.6:  # vibrato
        bend += rng.uniform(0.05, 0.6) * np.sin(2 * np.pi * rng.uniform(4, 7) * tt + rng.uniform(0, 6.3))
    if rng.random() < 0.4:  # slow drift / scoops
        k = int(dur_s * 3) + 2
        bend += np.interp(tt, np.linspace(0, dur_s, k), rng.normal(0, 0.4, k))
    if bend_range == 12 and rng.random() < 0.7:  # glides
        k = int(dur_s * 2) + 2
        bend += np.interp(tt, np.linspace(0, dur_s, k), rng.uniform(-6, 6, k))
    bend = np.clip(bend, -bend_range * 0.99, bend_range * 0.99)
    return notes, bend, bend_range


def render(notes, bend, bend_range, program: int, sr: int, soundfont: str, dur_s: float) -> np.ndarray:
    ch = 0
    ev = [
        (0, bytes([0xC0 | ch, program])),
        (0, bytes([0xB0 | ch, 101, 0])),
        (0, bytes([0xB0 | ch, 100, 0])),
        (0, bytes([0xB0 | ch, 6, bend_range])),
        (0, bytes([0xB0 | ch, 38, 0])),
        (0, bytes([0xB0 | ch, 7, 110])),
    ]
    values = np.clip(np.round(8192 + bend / bend_range * 8192), 0, 16383).astype(int)
    prev = None
    for i, v in enumerate(values):
        if v != prev:
            ev.append((int(round(i * 0.005 * TICKS_PER_S)), bytes([0xE0 | ch, v & 0x7F, v >> 7])))
            prev = v
    for start, end, key in notes:
        ev.append((int(round(start * TICKS_PER_S)), bytes([0x90 | ch, key, 100])))
        ev.append((int(round(end * TICKS_PER_S)), bytes([0x80 | ch, key, 0])))
    with tempfile.TemporaryDirectory(prefix="pt-fs-") as d:
        mid, wav = os.path.join(d, "p.mid"), os.path.join(d, "p.wav")
        write_midi(mid, ev)
        subprocess.run(
            [
                "fluidsynth",
                "-ni",
                "-q",
                "-R",
                "0",
                "-C",
                "0",
                "-g",
                "0.5",
                "-r",
                str(sr),
                "-o",
                "synth.sample-rate=" + str(sr),
                "-T",
                "wav",
                "-F",
                wav,
                soundfont,
                mid,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
        audio, got = sf.read(wav, always_2d=True)
    if got != sr:
        raise RuntimeError(f"fluidsynth rendered at {got} Hz instead of {sr}")
    audio = audio.mean(axis=1)
    n = int(dur_s * sr)
    return np.pad(audio, (0, max(0, n - len(audio))))[:n]


def labels(notes, bend, sr: int, n: int) -> np.ndarray:
    t = np.arange(n) / sr
    b = bend[np.clip((t / 0.005).astype(int), 0, len(bend) - 1)]  # a step function, as sent
    f0 = np.zeros(n)
    for i, (start, end, key) in enumerate(notes):
        a, e = int((start + 0.02) * sr), int(end * sr)
        nxt = notes[i + 1][0] if i + 1 < len(notes) else end + 10
        f0[int(end * sr) : int(min(end + 0.4, nxt) * sr)] = -1.0
        f0[int(start * sr) : a] = -1.0
        f0[a:e] = synth.midi_to_hz(key + b[a:e])
    return f0


def instrument_clip(rng: np.random.Generator, sr: int, dur_s: float = 2.0, fonts=None, **finish_kw) -> tuple:
    fonts = fonts or soundfonts()
    font = fonts[int(rng.integers(len(fonts)))]
    program = PROGRAMS[int(rng.integers(len(PROGRAMS)))]
    hi = int(min(95, synth.hz_to_midi(0.4 * sr) - 2))
    notes, bend, bend_range = phrase(rng, dur_s, 28, hi)
    x = render(notes, bend, bend_range, program, sr, font, dur_s)
    f0 = labels(notes, bend, sr, len(x))
    if not np.any(np.abs(x) > 1e-5):
        f0[:] = np.where(f0 > 0, -1.0, f0)  # nothing audible: no pitch label
    kw = dict(noise_p=0.5, reverb_p=0.3)
    kw.update(finish_kw)
    return synth.finish(rng, x, synth.mark_edges(f0, sr, 0.01), sr, **kw)
