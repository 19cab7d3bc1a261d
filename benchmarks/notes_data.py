"""Audio with exact note ground truth for the note-transcription benchmark (benchmarks/notes_eval.py).

Everything is generated from a seed (numpy ``default_rng``), so a set is reproduced exactly by its seed.

* ``synth``: monophonic phrases of 4-8 s, harmonic tones with a random timbre per phrase (3-16 harmonics, random
  spectral slope and phases), 16 kHz. Notes of 0.15-0.9 s (MIDI 45-79, steps of -7..+7 semitones), each off the
  equal-tempered grid by up to ±25 cents. Between consecutive notes one of:
  *legato* (the pitch changes within 10 ms, no gap), *glide* (a 40-120 ms glide linear in semitones; the reference
  boundary is its middle), *dip* (the level falls by 30-40 dB for 30-80 ms; every repeated note is joined this
  way or by a rest), *rest* (0.15-0.5 s of silence). 40 % of the notes of 0.35 s or more have a 4.5-7 Hz vibrato of
  20-100 cents extent (half peak-to-peak) that starts 0-0.15 s into the note. Attack 10-30 ms, release 20-40 ms,
  levels ±6 dB from note to note.
* ``noisy``: the same phrases plus white (even phrases) or pink (odd) noise, 10 dB below the phrase's power over
  its sounding samples.
* ``instruments``: phrases of the same structure (integer MIDI notes; legato, repeated notes with 30-80 ms gaps,
  rests; some notes with a pitch-bend vibrato of 4.5-6.5 Hz, ±40 cents; some transitions with a 60-100 ms
  pitch-bend glide) rendered by FluidSynth with the FluidR3 GM sound font, one of eight monophonic GM
  instruments per phrase. The reference notes are the MIDI notes (on to off; for the glides the boundary is the
  glide's middle). Each note is cut at its note-off (All Sound Off on its channel; consecutive notes alternate
  between two channels so that the next note is untouched): a release tail would overlap the next note, which a
  monophonic reference cannot describe.

Reference notes: ``(onset_s, offset_s, frequency_hz)``.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import soundfile as sf

from pesto_core.notes.midi import vlq
from pesto_core.units import semitones_to_hz

SR = 16000
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# flute, violin, clarinet, trumpet, alto sax, oboe, cello, choir aahs
PROGRAMS = (73, 40, 71, 56, 65, 68, 42, 52)


@dataclass
class Phrase:
    audio: np.ndarray  # (samples,) float32 at SR
    notes: np.ndarray  # (n, 3) onset_s, offset_s, frequency_hz
    label: str


def _midi_hz(m):
    return semitones_to_hz(np.asarray(m, np.float64))


def _plan(rng, integer: bool):
    """Notes and joins of one phrase: list of (pitch_semitones, dur_s), list of joins between them."""
    total = rng.uniform(4, 8)
    pitch = rng.uniform(52, 70) if not integer else float(rng.integers(52, 71))
    notes, joins, t = [], [], 0.3
    while True:
        dur = rng.uniform(0.15, 0.9)
        off = 0.0 if integer else rng.uniform(-0.25, 0.25)
        notes.append((round(pitch) + off if not integer else pitch, dur))
        t += dur
        join = rng.choice(["legato", "glide", "dip", "rest"], p=[0.3, 0.2, 0.3, 0.2])
        step = int(rng.integers(-7, 8))
        if step == 0 and join in ("legato", "glide"):
            join = "dip"
        nxt = min(79, max(45, round(pitch) + step))
        if nxt == round(pitch) and join in ("legato", "glide"):
            nxt += 2 if nxt < 77 else -2
        gap = {"legato": 0.0, "glide": 0.0, "dip": rng.uniform(0.03, 0.08), "rest": rng.uniform(0.15, 0.5)}[join]
        t += gap
        if t > total:
            break
        joins.append((join, gap))
        pitch = float(nxt)
    return notes, joins


def synth_phrase(rng) -> Phrase:
    notes, joins = _plan(rng, integer=False)
    n_h = int(rng.integers(3, 17))
    slope = rng.uniform(-12, -3)  # dB per octave
    amps = 10 ** (slope * np.log2(np.arange(1, n_h + 1)) / 20)
    phases = rng.uniform(0, 2 * np.pi, n_h)
    # sample-wise pitch and amplitude
    t0 = 0.3
    bounds, f0_parts, env_parts = [], [], []
    pre = int(t0 * SR)
    f0_parts.append(np.full(pre, _midi_hz(notes[0][0])))
    env_parts.append(np.zeros(pre))
    time = t0
    for k in range(len(notes)):
        p, dur = notes[k][:2]
        n = int(round(dur * SR))
        tt = np.arange(n) / SR
        semis = np.full(n, p)
        if dur >= 0.35 and rng.random() < 0.4:
            rate, extent, start = rng.uniform(4.5, 7), rng.uniform(0.2, 1.0), rng.uniform(0, 0.15)
            ramp = np.clip((tt - start) / 0.1, 0, 1)
            semis = semis + extent * ramp * np.sin(2 * np.pi * rate * np.maximum(tt - start, 0))
        level = 10 ** (rng.uniform(-6, 6) / 20)
        env = np.full(n, level)
        join_in = joins[k - 1][0] if k > 0 else "rest"
        join_out = joins[k][0] if k < len(joins) else "rest"
        if join_in in ("rest", "dip"):
            a = int(rng.uniform(0.01, 0.03) * SR)
            env[:a] *= np.linspace(0, 1, a)
        if join_out in ("rest", "dip"):
            r = int(rng.uniform(0.02, 0.04) * SR)
            env[-r:] *= np.linspace(1, 0, r)
        if join_out in ("legato", "glide") and k + 1 < len(notes):
            nxt = notes[k + 1][0]
            g = 0.01 if join_out == "legato" else rng.uniform(0.04, 0.12)
            # the change is centred on the boundary: its second half belongs to the next note
            m = int(g / 2 * SR)
            semis[-m:] = np.linspace(p, (p + nxt) / 2, m)
            notes[k + 1] = (nxt, notes[k + 1][1], (p + nxt) / 2, m)  # remember where the next one starts from
        if len(notes[k]) == 4:
            _, _, frm, m = notes[k]
            semis[:m] = np.linspace(frm, p, m) + (semis[:m] - p)
            notes[k] = (p, dur)
        bounds.append((time, time + dur, _midi_hz(p)))
        f0_parts.append(_midi_hz(semis))
        env_parts.append(env)
        time += dur
        if k < len(joins) and joins[k][1] > 0:
            g = int(round(joins[k][1] * SR))
            f0_parts.append(np.full(g, _midi_hz(p)))
            floor = 10 ** (-rng.uniform(30, 40) / 20) * level if joins[k][0] == "dip" else 0.0
            env_parts.append(np.full(g, floor))
            time += joins[k][1]
    post = int(0.3 * SR)
    f0_parts.append(np.full(post, _midi_hz(notes[-1][0])))
    env_parts.append(np.zeros(post))
    f0, env = np.concatenate(f0_parts), np.concatenate(env_parts)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = np.zeros_like(f0)
    for h in range(1, n_h + 1):
        fade = np.clip((0.45 * SR - h * f0) / (0.02 * SR), 0, 1)
        x += amps[h - 1] * fade * np.sin(h * phase + phases[h - 1])
    x *= env
    x *= 0.3 / (np.max(np.abs(x)) + 1e-9)
    return Phrase(x.astype(np.float32), np.array(bounds), f"synth n_h={n_h}")


def add_noise(x: np.ndarray, rng, snr_db: float, pink: bool) -> np.ndarray:
    """x plus white or pink noise ``snr_db`` below x's power over its sounding samples (|x| above 1e-4)."""
    sounding = np.abs(x) > 1e-4
    power = float(np.mean(x[sounding].astype(np.float64) ** 2)) if sounding.any() else 1e-6
    noise = rng.standard_normal(len(x))
    if pink:
        spec = np.fft.rfft(noise)
        f = np.fft.rfftfreq(len(x), 1 / SR)
        spec[1:] /= np.sqrt(f[1:])
        spec[0] = 0
        noise = np.fft.irfft(spec, len(x))
    noise *= np.sqrt(power / 10 ** (snr_db / 10) / np.mean(noise**2))
    return (x + noise).astype(np.float32)


# ------------------------------------------------------------------------------------------------ instruments
_vlq = vlq  # the engine's MIDI variable-length quantity


def _smf(events: List[Tuple[float, bytes]]) -> bytes:
    """Format-0 file, 120 bpm, 480 ticks per beat, from (time_s, message) pairs."""
    body = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20")
    now = 0
    # at one tick: note-offs and all-sound-off first, then the rest (a note-on on the other channel survives)
    for t, msg in sorted(
        events,
        key=lambda e: (round(e[0] * 960), not (e[1][0] & 0xF0 == 0x80 or (e[1][0] & 0xF0 == 0xB0 and e[1][1] == 120))),
    ):
        tick = int(round(t * 960))
        body += _vlq(tick - now) + msg
        now = tick
    body += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def _bend(semis: float, ch: int = 0) -> bytes:
    v = int(min(16383, max(0, round(8192 + 8192 * semis / 2))))
    return bytes([0xE0 | ch, v & 0x7F, v >> 7])


def instrument_phrase(rng) -> Phrase:
    notes, joins = _plan(rng, integer=True)
    program = int(rng.choice(PROGRAMS))
    ev: List[Tuple[float, bytes]] = []
    for ch in (0, 1):  # consecutive notes alternate between two channels (see the module's description)
        ev += [
            (0.0, bytes([0xC0 | ch, program])),
            (0.0, bytes([0xB0 | ch, 101, 0])),
            (0.0, bytes([0xB0 | ch, 100, 0])),
            (0.0, bytes([0xB0 | ch, 6, 2])),
            (0.0, bytes([0xB0 | ch, 38, 0])),
            (0.0, bytes([0xB0 | ch, 7, 110])),
            (0.0, _bend(0, ch)),
        ]
    time, bounds = 0.3, []
    for k in range(len(notes)):
        p, dur = notes[k][:2]
        shift = notes[k][2] if len(notes[k]) == 3 else 0.0
        key, vel, ch = int(p), int(rng.integers(70, 115)), k % 2
        on, off = time, time + dur
        ev.append((on, bytes([0x90 | ch, key, vel])))
        join_out = joins[k][0] if k < len(joins) else "rest"
        if dur >= 0.35 and rng.random() < 0.35:
            rate, start = rng.uniform(4.5, 6.5), on + rng.uniform(0.05, 0.15)
            for t in np.arange(start, off - 0.05, 0.01):
                ev.append((t, _bend(0.4 * np.sin(2 * np.pi * rate * (t - start)), ch)))
            ev.append((off - 0.04, _bend(0, ch)))
        end = off
        if join_out == "glide" and k + 1 < len(notes) and abs(notes[k + 1][0] - p) <= 2:
            # bend into the next note over the last 60-100 ms, which then starts at the glide's middle
            g = rng.uniform(0.06, 0.1)
            nxt = notes[k + 1][0] - p
            for t in np.arange(off - g, off, 0.01):
                ev.append((t, _bend(nxt * (t - (off - g)) / g, ch)))
            end = off - g / 2
            notes[k + 1] = (notes[k + 1][0], notes[k + 1][1], g / 2)
        ev.append((off, bytes([0x80 | ch, key, 0])))
        ev.append((off, bytes([0xB0 | ch, 120, 0])))  # all sound off: the note stops at its note-off
        ev.append((off, _bend(0, ch)))
        bounds.append((on - shift, end, _midi_hz(p)))
        time = off + (joins[k][1] if k < len(joins) else 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = os.path.join(tmp, "p.mid"), os.path.join(tmp, "p.wav")
        with open(mid, "wb") as f:
            f.write(_smf(ev))
        subprocess.run(
            ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SR), "-F", wav, SOUNDFONT, mid],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        x, sr = sf.read(wav, dtype="float32", always_2d=True)
    x = x.mean(1)
    x = np.concatenate([x, np.zeros(int(0.2 * SR), np.float32)])
    x *= 0.3 / (np.max(np.abs(x)) + 1e-9)
    return Phrase(x, np.array(bounds), f"program {program}")


def make_set(seed: int, n: int) -> dict:
    """``{"clean": [...], "10dB": [...], "instruments": [...]}`` of ``n`` phrases each."""
    rng = np.random.default_rng(seed)
    clean = [synth_phrase(rng) for _ in range(n)]
    noisy = [
        Phrase(add_noise(p.audio, rng, 10.0, pink=bool(i % 2)), p.notes, p.label + (" pink" if i % 2 else " white"))
        for i, p in enumerate(clean)
    ]
    inst = [instrument_phrase(rng) for _ in range(n)]
    return {"clean": clean, "10dB": noisy, "instruments": inst}
