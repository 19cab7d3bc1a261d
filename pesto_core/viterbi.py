"""Offline pitch tracking: the most likely path of pitch bins through a track's activations (Viterbi decoding).

Why. The per-frame reductions (:mod:`pesto_core.decode`) read each frame alone, so a frame whose distribution puts
its peak on a wrong pitch (an octave, a loud partial, a noise band) is a wrong frame however clear its neighbours
are. Over a whole recording the decoder can weigh each frame's distribution against the continuity of the pitch, as
pYIN and CREPE's Viterbi option do: a frame keeps its own peak when the distribution is sure of it, and follows its
neighbours when its own second choice agrees with them.

Method. Bin ``b`` of ``128 * bps`` is MIDI pitch ``b / bps`` (the activations as the engine returns them, after the
checkpoint's roll). The path ``b_0 .. b_{T-1}`` maximises

    sum_t log(a_t[b_t] + floor)  -  sum_t min(jump * |b_t - b_{t-1}| / bps, max_jump)

(``a_t``: frame ``t``'s distribution; ``jump``: nats per semitone moved between frames; ``max_jump``: the most any
move costs, so that a real leap of any size costs the same as a small one once the frames on both sides agree;
``floor``: the least probability a bin is given, so that one frame whose distribution is nearly one-hot on a wrong
bin can still be overruled). The pitch of each frame is then the weighted average of the ``2 * bps - 1`` bins around
its path bin, as the ``alwa`` reduction takes around the arg-max: where the path keeps the arg-max, the two agree
exactly.

What it keeps. The path alone keeps an excursion from a steady pitch and back when its frames gain more than its
two moves cost: with distributions as sure as the network's on clean tones (a peak bin of 0.4-0.66), 1-2 frames for
a semitone, 4-5 for a fifth and 6-8 for an octave (10 ms frames). So the path is followed only where the frame
agrees (``support``, :func:`pitch_on_path`): a frame whose distribution holds less than 30% of its own peak's mass
around the path bin keeps its own pitch. A short note the network is sure of is kept however short; a frame the
path corrects is one that also sees the neighbours' pitch (the octave error whose true pitch keeps a third of the
peak), and a noise frame in a rest, which the path crosses at the neighbouring note's pitch, keeps its own (else
the note segmenter lengthens the note over it). A vibrato, a glide and a note change, whose frames agree with their
neighbours, are followed exactly as frame by frame (``tests/core/test_viterbi.py``).

The defaults were chosen on a development set of our own (``benchmarks/results/viterbi_dev.txt``, made by
the held-out generator of ``benchmarks/model_accuracy.py`` with another set version, 99, never the held-out one).

Bounded memory and chunk independence. A long recording is decoded in blocks of :data:`BLOCK` frames, each with
:data:`MARGIN` frames of context on either side (the path through a block is decided by its margins, not by frames
seconds away): block ``k`` keeps frames ``k * BLOCK .. (k + 1) * BLOCK - 1`` of the path decoded over
``k * BLOCK - MARGIN .. (k + 1) * BLOCK + MARGIN``. The blocks are set by the frame index alone, so the result does
not depend on how the frames arrive (:class:`PathTracker` for chunked files, :func:`track_pitch` for arrays): the
same numbers either way, tested. Cost: a few passes over the 384 bins per frame (the best predecessor under the
linear cost is two running maxima): about 40 us per frame here, about 5% of the engine's own time per frame in the same
run (``benchmarks/results/viterbi_dev.txt``).
"""

from __future__ import annotations

import threading
import time
from typing import List

import numpy as np

from .errors import ParameterError

# chosen on the development set (benchmarks/results/viterbi_dev.txt: a broad optimum, RPA within 0.2 of it for
# jump 0.25-1, max_jump 6-10, floor 0.03-0.1; floors of 0.3 and more smooth real notes away)
DEFAULT_JUMP = 0.5  # nats per semitone moved between neighbouring frames
DEFAULT_MAX_JUMP = 10.0  # nats: the most a move of any size costs
DEFAULT_FLOOR = 0.1  # probability added to every bin before the log
# share of a frame's own peak mass the path bin needs for the frame to follow it: without it (0) the noise frames
# that the confidence calls voiced in a noisy rest take the path's pitch, the neighbouring note's, and lengthen it
# (notes at 10 dB SNR, tuning seeds 17 / 19: COnP 1.000 -> 0.887, 0.993 -> 0.852); 0.3 keeps the notes (1.000, 0.991)
# and most of the pitch gain (development set RPA 90.7 frame by frame, 92.4 without support, 91.7 with 0.3)
DEFAULT_SUPPORT = 0.3
BLOCK = 2000  # frames decoded together (20 s at a 10 ms step)
MARGIN = 200  # frames of context either side of a block (2 s at 10 ms)
# the frame loop is many small numpy calls that hold the GIL: run on a thread other than the main one (an
# application's worker, e.g. the File tab's), it sleeps YIELD_S every YIELD_EVERY frames (about 1 ms of work), so
# that the GUI thread, whose painting is Python too, gets the GIL most of the time: with shorter pauses (0.5 ms per
# 64 frames) the two threads took turns at the interpreter's 5 ms switch interval, a paint took twice as long and the
# File tab stalled 120-170 ms in one run of tests/app/file/test_responsiveness.py out of two; with these, none over
# 50 ms in three. A bare release (sleep(0)) is often taken back before the waiting thread wakes. The price, in the
# File tab only: about 60 us of sleep per frame beside the decoding's 40. On the main thread (pesto, scripts): none.
YIELD_EVERY = 32
YIELD_S = 0.002


def _check(jump: float, max_jump: float, floor: float) -> None:
    if not (np.isfinite(jump) and jump > 0):
        raise ParameterError(f"jump must be a positive number of nats per semitone, got {jump!r}")
    if not (np.isfinite(max_jump) and max_jump > 0):
        raise ParameterError(f"max_jump must be a positive number of nats, got {max_jump!r}")
    if not (np.isfinite(floor) and floor > 0):
        raise ParameterError(f"floor must be a positive probability, got {floor!r}")


def viterbi_path(
    activations: np.ndarray,
    *,
    jump: float = DEFAULT_JUMP,
    max_jump: float = DEFAULT_MAX_JUMP,
    floor: float = DEFAULT_FLOOR,
) -> np.ndarray:
    """The most likely bin path through one stretch of frames (the objective of the module docstring).

    Parameters
    ----------
    activations : ndarray float (frames, 128 * bps), rows are distributions (NaN-free)

    Returns
    -------
    ndarray int64 (frames,): the path's bin in each frame
    """
    _check(jump, max_jump, floor)
    a = np.asarray(activations, dtype=np.float64)
    if a.ndim != 2:
        raise ParameterError(f"activations must have shape (frames, bins), got {a.shape}")
    T, n = a.shape
    if T == 0:
        return np.zeros(0, np.int64)
    bps = max(1, n // 128)
    per_bin = jump / bps
    ramp = per_bin * np.arange(n)
    cols = np.arange(n)
    emit = np.log(a + floor)
    back = np.empty((T, n), np.int32)
    score = emit[0]
    pause = threading.current_thread() is not threading.main_thread()
    for t in range(1, T):
        if pause and t % YIELD_EVERY == 0:
            time.sleep(YIELD_S)
        # best predecessor at the linear cost, max_j score[j] - per_bin * |i - j|, as two running maxima (j <= i:
        # cummax of score + ramp, minus ramp; j >= i: the same from the other end), with the index where each was
        # reached; then the capped cost: the previous frame's best bin at max_jump
        up = score + ramp
        up_max = np.maximum.accumulate(up)
        up_arg = np.maximum.accumulate(np.where(up == up_max, cols, 0))
        down = (score - ramp)[::-1]
        down_max = np.maximum.accumulate(down)[::-1]
        down_arg = (n - 1 - np.maximum.accumulate(np.where(down == np.maximum.accumulate(down), cols, 0)))[::-1]
        from_up = up_max - ramp
        from_down = down_max + ramp
        best = np.maximum(from_up, from_down)
        arg = np.where(from_up >= from_down, up_arg, down_arg)
        g = int(score.argmax())
        leap = score[g] - max_jump
        far = leap > best
        back[t] = np.where(far, g, arg)
        score = np.where(far, leap, best) + emit[t]
    path = np.empty(T, np.int64)
    path[-1] = int(score.argmax())
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def pitch_on_path(activations: np.ndarray, path: np.ndarray, support: float = 0.0) -> np.ndarray:
    """Pitch (MIDI semitones, float32 (frames,)) of each frame: the weighted average of the ``2 * bps - 1`` bins
    around its path bin (the ``alwa`` reduction's window, around the path instead of the arg-max).

    ``support``: a frame whose distribution holds less than this share of its own peak's mass (the same window
    around its arg-max) around the path bin keeps its own arg-max, i.e. its ``alwa`` pitch: the path may correct a
    frame that also sees the track's pitch, not give a pitch to one that does not (noise in a rest, whose flat
    distribution the path crosses at the neighbouring note's pitch, would otherwise lengthen that note)."""
    a = np.asarray(activations, dtype=np.float64)
    n = a.shape[1]
    bps = max(1, n // 128)
    offsets = np.arange(-bps + 1, bps)
    path = np.asarray(path)

    def window(centre):
        i = np.clip(centre[:, None] + offsets[None, :], 0, n - 1)
        return i, np.take_along_axis(a, i, axis=1)

    idx, wts = window(path)
    if support > 0 and len(path):
        own = a.argmax(axis=1)
        own_idx, own_wts = window(own)
        weak = wts.sum(axis=1) < support * own_wts.sum(axis=1)
        idx, wts = np.where(weak[:, None], own_idx, idx), np.where(weak[:, None], own_wts, wts)
        path = np.where(weak, own, path)
    total = wts.sum(axis=1)
    pitch = (wts * idx).sum(axis=1) / np.where(total > 0, total, 1.0) / bps
    return np.where(total > 0, pitch, path / bps).astype(np.float32)


class PathTracker:
    """Viterbi pitch of frames arriving in pieces (a file read chunk by chunk), in blocks of :data:`BLOCK` frames
    with :data:`MARGIN` frames of context: :meth:`push` returns the pitch of every frame whose block is complete,
    :meth:`flush` the rest. Memory: at most ``BLOCK + 2 * MARGIN`` frames of activations plus the newest piece.
    """

    def __init__(
        self,
        *,
        jump=DEFAULT_JUMP,
        max_jump=DEFAULT_MAX_JUMP,
        floor=DEFAULT_FLOOR,
        support=DEFAULT_SUPPORT,
        block=BLOCK,
        margin=MARGIN,
    ):
        _check(jump, max_jump, floor)
        if not (np.isfinite(support) and 0.0 <= support <= 1.0):
            raise ParameterError(f"support must be a share between 0 and 1, got {support!r}")
        self.support = float(support)
        if int(block) < 1 or int(margin) < 0:
            raise ParameterError(f"block must be >= 1 and margin >= 0 frames, got {block!r}, {margin!r}")
        self._kw = dict(jump=jump, max_jump=max_jump, floor=floor)
        self.block, self.margin = int(block), int(margin)
        self._buf: List[np.ndarray] = []  # frames from self._first on
        self._first = 0  # absolute index of the buffer's first frame
        self._done = 0  # frames whose pitch was returned
        self._seen = 0

    def _frames(self) -> np.ndarray:
        if len(self._buf) > 1:
            self._buf = [np.concatenate(self._buf)]
        return self._buf[0] if self._buf else np.zeros((0, 0), np.float32)

    def _decode(self, stop: int) -> np.ndarray:
        """Pitch of frames ``self._done .. stop - 1`` (a block, or the last one), with its margins."""
        frames = self._frames()
        lo = max(0, self._done - self.margin)
        hi = min(self._seen, stop + self.margin)
        part = frames[lo - self._first : hi - self._first]
        pitch = pitch_on_path(part, viterbi_path(part, **self._kw), self.support)
        out = pitch[self._done - lo : stop - lo]
        self._done = stop
        keep = max(0, self._done - self.margin)  # the next block's left margin stays
        self._buf = [frames[keep - self._first :]]
        self._first = keep
        return out

    def push(self, activations: np.ndarray) -> np.ndarray:
        """activations (n, bins) of the next frames -> pitch (semitones, float32) of the frames now decided."""
        a = np.asarray(activations, dtype=np.float32)
        if a.ndim != 2:
            raise ParameterError(f"activations must have shape (frames, bins), got {a.shape}")
        self._buf.append(a)
        self._seen += len(a)
        out = []
        while self._seen >= self._done + self.block + self.margin:
            out.append(self._decode(self._done + self.block))
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def flush(self) -> np.ndarray:
        """Pitch of the frames still held (the last blocks)."""
        out = []
        while self._done < self._seen:
            out.append(self._decode(min(self._seen, self._done + self.block)))
        return np.concatenate(out) if out else np.zeros(0, np.float32)


def track_pitch(activations: np.ndarray, **kw) -> np.ndarray:
    """Viterbi pitch (MIDI semitones, float32 (frames,)) of a whole track's activations (frames, bins): the same
    numbers as :class:`PathTracker` fed the frames in any pieces."""
    tracker = PathTracker(**kw)
    a = np.asarray(activations)
    return np.concatenate([tracker.push(a), tracker.flush()])


def track_pitch_rows(activations: np.ndarray, **kw) -> np.ndarray:
    """:func:`track_pitch` of each row of a batch (batch, frames, bins) -> (batch, frames)."""
    return np.stack([track_pitch(a, **kw) for a in np.asarray(activations)])
