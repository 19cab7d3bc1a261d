"""Standard MIDI files of segmented notes, written with the standard library.

The file (``.mid``) is SMF format 0: one track, 480 ticks per quarter note, tempo 120 bpm (so 960 ticks per second),
channel 1, program 0 (Acoustic Grand Piano, or ``program``), one note-on/note-off pair per note at its onset and
offset (velocity ``velocity``). The key of a note is its ``midi_note`` (the nearest note for the chosen A4).

With ``bends``, the notes follow the pitch curve: the file first sets the pitch-bend range to ±``bend_range``
semitones (RPN 0: CC101 0, CC100 0, CC6 range, CC38 0, then RPN null), then sends a pitch bend at each frame
of a note (whenever the bend changes) that brings the key to the frame's actual pitch (A4 = 440 Hz), clipped to
the range, and resets the bend to centre after each note-off. Without bends the file plays equal-tempered notes.
"""

from __future__ import annotations

import struct
from typing import List, Sequence

import numpy as np

from .intonation import Note

TICKS_PER_BEAT = 480
TEMPO_US = 500_000  # 120 bpm
TICKS_PER_S = TICKS_PER_BEAT * 1_000_000 / TEMPO_US


def vlq(n: int) -> bytes:
    """MIDI variable-length quantity (shared by every MIDI writer of the project)."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(out[::-1])


def _ticks(seconds: float) -> int:
    return max(0, int(round(seconds * TICKS_PER_S)))


def midi_bytes(
    notes: Sequence[Note],
    *,
    track=None,
    bends: bool = False,
    bend_range: int = 2,
    velocity: int = 80,
    program: int = 0,
    name: str = "PESTO notes",
    gate: float = 0.5,
) -> bytes:
    """The ``.mid`` file of ``notes`` (see the module's description).

    track : the :class:`~pesto_core.track.PitchTrack` the notes came from; needed for ``bends`` (frames with
    confidence >= ``gate`` inside a note give its bends). An empty ``notes`` gives a valid file without notes.
    """
    if not 1 <= int(bend_range) <= 24:
        raise ValueError(f"bend_range must be 1..24 semitones, got {bend_range}")
    velocity = int(min(127, max(1, velocity)))
    # events: (tick, order, bytes); at one tick: note-offs (0), bend resets (1), set-up/bends (2), note-ons (3)
    events: List[tuple] = [(0, 2, bytes([0xC0, program & 0x7F]))]
    use_bends = bends and track is not None
    if use_bends:
        r = int(bend_range)
        events += [
            (0, 2, bytes([0xB0, 101, 0])),
            (0, 2, bytes([0xB0, 100, 0])),
            (0, 2, bytes([0xB0, 6, r])),
            (0, 2, bytes([0xB0, 38, 0])),
            (0, 2, bytes([0xB0, 101, 127])),
            (0, 2, bytes([0xB0, 100, 127])),
            (0, 2, _bend(0.0, r)),
        ]
        t = np.asarray(track.time_s, np.float64)
        pitch = np.asarray(track.pitch_semitones, np.float64)
        ok = (np.asarray(track.confidence) >= gate) & np.isfinite(pitch)
    prev_off = -1
    for note in sorted(notes, key=lambda n: n.onset_s):
        key = int(min(127, max(0, note.midi_note)))
        on, off = _ticks(note.onset_s), _ticks(note.offset_s)
        on = max(on, prev_off)
        off = max(off, on + 1)
        prev_off = off
        if use_bends:
            sel = ok & (t >= note.onset_s) & (t < note.offset_s)
            last = None
            for k, (tk, pk) in enumerate(zip(t[sel], pitch[sel])):
                msg = _bend(pk - key, r)
                if msg != last:
                    events.append((on if k == 0 else min(max(on, _ticks(tk)), off), 2, msg))
                    last = msg
            events.append((off, 1, _bend(0.0, r)))
        events.append((on, 3, bytes([0x90, key, velocity])))
        events.append((off, 0, bytes([0x80, key, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    body = bytearray()
    body += b"\x00\xff\x03" + vlq(len(name.encode())) + name.encode()
    body += b"\x00\xff\x51\x03" + TEMPO_US.to_bytes(3, "big")
    body += b"\x00\xff\x58\x04\x04\x02\x18\x08"  # 4/4
    now = 0
    for tick, _, msg in events:
        body += vlq(tick - now) + msg
        now = tick
    body += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    return header + b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def _bend(semitones: float, bend_range: int) -> bytes:
    """Pitch-bend message (channel 1) for a bend of ``semitones`` given the range; 8192 = centre."""
    value = int(round(8192 + 8192 * float(semitones) / bend_range))
    value = min(16383, max(0, value))
    return bytes([0xE0, value & 0x7F, value >> 7])


def read_midi_notes(data: bytes) -> List[tuple]:
    """``(onset_s, offset_s, key, velocity)`` of the notes of a format-0/1 file written with a constant tempo.

    A small reader (channel messages with running status, meta events, tempo changes; no SysEx) for checks.
    """
    if data[:4] != b"MThd":
        raise ValueError("not a standard MIDI file")
    _, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    pos, out = 14, []
    for _ in range(ntracks):
        if data[pos : pos + 4] != b"MTrk":
            raise ValueError("bad track chunk")
        length = struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        pos += 8
        end, tick, seconds, tempo, status, open_ = pos + length, 0, 0.0, TEMPO_US, 0, {}
        while pos < end:
            delta = 0
            while True:
                b = data[pos]
                pos += 1
                delta = (delta << 7) | (b & 0x7F)
                if b < 0x80:
                    break
            tick += delta
            seconds += delta * tempo / 1e6 / division
            b = data[pos]
            if b == 0xFF:
                kind, ln = data[pos + 1], data[pos + 2]
                if kind == 0x51:
                    tempo = int.from_bytes(data[pos + 3 : pos + 6], "big")
                pos += 3 + ln
                continue
            if b >= 0x80:
                status, pos = b, pos + 1
            kind = status & 0xF0
            nbytes = 1 if kind in (0xC0, 0xD0) else 2
            args = data[pos : pos + nbytes]
            pos += nbytes
            if kind == 0x90 and args[1] > 0:
                open_[args[0]] = (seconds, args[1])
            elif kind == 0x80 or (kind == 0x90 and args[1] == 0):
                if args[0] in open_:
                    on, vel = open_.pop(args[0])
                    out.append((on, seconds, int(args[0]), int(vel)))
        pos = end
    return sorted(out)
