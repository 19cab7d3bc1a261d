"""Note segmentation of a monophonic pitch curve, offline (:func:`segment_notes`) or live (:class:`NoteTracker`).

Method (one pipeline, run frame by frame, so that the offline and the live results are identical):

1. **Voicing.** A frame is voiced when its pitch is finite and its confidence is at least ``gate`` -- or at least
   ``low_gate`` while its pitch holds within ``stable_semitones`` for ``stable_s`` on both sides and its level is at
   most ``quiet_db`` below the loudest frame so far and above ``silence_db`` (timbres that PESTO is less sure of;
   noise has no steady pitch), unless it lies, below ``trough_below``, in a *trough* more than ``trough_db`` below
   the loudest frame within ``dip_window_s`` on both sides where the model is sure of both (``rearticulation_sure``):
   the gap between two repeated low notes, which the long VQT kernels smear to less than a dip -- and it is not in a
   loudness *dip*: a frame more than ``dip_db`` below the loudest frame within ``dip_window_s`` on *both* sides (the
   short gap between two repeated notes; a steady decay or an attack is not a dip) -- and it is not a *release*: more
   than ``release_db`` below the loudest frame within ``release_semitones`` of its pitch in the last
   ``release_window_s`` of its voiced run, or following such a frame at its pitch without rising ``release_rise_db``
   (the fading tail of a plucked or struck note, or of a room's reverberation, which a model trained on such tails,
   ``tracker-1``, keeps voiced). No frame more than ``floor_db`` below the loudest frame so far is voiced: the last
   of a release, 70 dB down, after the rest where the tail dipped under the analysis floor (the release test's memory
   ends at a rest), which ``tracker-1``'s learned voicing output still hears as a pitch.
2. **Smoothing.** Within each run of voiced frames the pitch is median-filtered (half-width ``median_s``; removes
   short octave errors) and then averaged (half-width ``smooth_s``; removes most of a vibrato's swing while a
   step between two notes stays a step centred where it was).
3. **Segmentation.** Each voiced run is cut into notes by dynamic programming (optimal partitioning): the cost of a
   note is the squared distance of its smoothed frames from their mean (semitones², scaled to 10 ms frames) plus
   ``penalty`` (``penalty - level_bonus`` for a note that begins where the level steps by ``level_step_db`` from the
   ``level_span_s`` before to the ``level_span_s`` after: an articulated change, such as a legato step of half a
   semitone to a louder or softer note); notes last at least ``min_note_s``. A legato change of one semitone or more
   that lasts longer than a few frames pays for its own note; a vibrato, whose smoothed swing is small, does not; a
   glide is cut where it crosses the middle. Runs are independent (a run restarts the programme), so the work per
   frame is bounded by ``max_span_s``; very long runs are committed in pieces (``commit_s``, ``lag_s``). A piece
   shorter than ``transition_s`` whose pitch lies between its neighbours' is the passage of a fast change (the
   analysis window straddles both notes): it is shared between them -- unless it lasts ``min_note_s`` and holds its
   pitch (``steady_note_semitones``): then it is a note of a fast run. Likewise a *glide*: consecutive pieces whose
   smoothed pitch moves one way at ``glide_rate`` semitones per second or more (measured on each piece's middle
   half), leading from the note before to the note after, are shared between those two notes at the glide's middle
   (the programme alone would cut a slow glide into short notes); a moving piece that ends (or begins) by holding
   its pitch for ``glide_tail_s`` at ``merge_semitones`` or more from the note after (before) is cut there first:
   the programme had made one piece of a glide's end and the short note the glide reaches, whose middle half still
   moved, and the glide rule shared the note out. Last, a boundary between two notes at least
   ``cross_semitones`` apart moves to where the smoothed pitch crosses the middle of their means, the nearest such
   frame within ``transition_s`` (each note keeping ``min_note_s``): a vibrato swinging into a glide pulled the
   least-squares cut 50 ms before the glide's middle. Between closer notes, one with a vibrato (its pitch turning
   at least twice by ``steady_note_semitones``) and one at least twice as steady, the steady one begins (or ends)
   where its raw pitch enters (leaves) for good the band of ``settle_semitones`` (or its middle half's spread) about
   its median, within ``transition_s`` -- provided the frames it gives back touched that band and then swung
   towards the other note by more than ``settle_back_semitones`` beyond it, all at a level within
   ``rearticulation_db`` of the steady note's: a vibrato's last trough reaching the next note's pitch (least
   squares cut there, 60-110 ms early), not an approach or a scoop, a noisy note's wobble, or a pitch read in a
   re-articulation's dip.
4. **Joining.** Consecutive pieces with the same pitch (within ``merge_semitones``) separated by at most
   ``max_gap_s`` of unvoiced frames and no dip (a voicing flicker, or a long note cut by ``max_span_s``) are one
   note -- unless the level in those unvoiced frames falls ``rearticulation_db`` below both pieces while the model
   is sure of both (``rearticulation_sure``): repeated notes in background noise, which fills their gap to less
   than a dip, or a note re-struck as the last one fades (the gap is then the release test's tail, whose pitch the
   model still hears; ``reattack_release``). A voiced run shorter than
   ``min_note_s`` (noise) gives no note; nor does a piece whose raw pitch does not hold: fewer than
   ``min_coherence`` of its frames within ``coherent_semitones`` of their median (a noise that the model calls
   voiced, whose pitch jumps from frame to frame, still comes out of the smoothing as a steady line).
5. **Extending.** A note is widened over the unvoiced frames next to it (at most ``extend_s``) that carry its
   pitch (within ``merge_semitones``) at a level at most ``extend_db`` below its median: attacks and releases
   where the confidence lags the sound.
6. **Measures** of each note from its raw (unsmoothed) voiced frames, leaving out the half glides it was given
   in step 3 (a steady E4 before a glide has no drift): :func:`~.intonation.measure_note`.

Frames are consumed with a delay of ``dip_window_s + median_s + smooth_s`` (0.12 s at the defaults). The live
tracker's finished notes arrive when the programme has decided them: that long after the end of their voiced run (a
rest, a dip); within a run, a note arrives once a boundary after it is ``lag_s`` old and the note after that boundary
holds a steady pitch at least 1.5 ``merge_semitones`` away (``settled_commit``: later frames cannot move such a
boundary, and the programme goes on seeing the whole run, so the notes are those of the offline segmenter); a run
longer than ``commit_s`` is in any case committed in pieces that end at least ``lag_s`` before its newest frame.
Its *current* note is measured on the raw frames, at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from ..units import A4_HZ, nearest_note, note_name, reference_shift
from .intonation import Note, measure_note


@dataclass(frozen=True)
class SegmentParams:
    """Settings of the segmenter (times in seconds, levels in dB, pitches in semitones; see the module's
    description). The defaults were chosen on the benchmark's tuning sets (benchmarks/notes_eval.py, seeds 7, 11
    and 13), never on the reported set."""

    gate: float = 0.5
    low_gate: float = 0.15
    stable_s: float = 0.03
    stable_semitones: float = 0.5
    quiet_db: float = 40.0
    # a frame more than this below the loudest frame so far is never voiced (0: off): the last of a release after a
    # rest, which a model with a learned voicing output still calls voiced (chosen on tuning seeds 17, 19, 23)
    floor_db: float = 60.0
    # below this level (dB of linear VQT power) a frame is silence whatever its pitch: digital silence gives a steady
    # pitch and a middling confidence with some models (tracker-1: 0.39 at -114 dB)
    silence_db: float = -60.0
    min_note_s: float = 0.1
    penalty: float = 6.0
    median_s: float = 0.03
    smooth_s: float = 0.01
    dip_db: float = 12.0
    dip_window_s: float = 0.08
    max_gap_s: float = 0.03
    merge_semitones: float = 0.5
    max_span_s: float = 2.5
    commit_s: float = 6.0
    lag_s: float = 1.0
    # settled commit: a run's notes before a boundary lag_s old are final as soon as the note after it holds its
    # pitch (steady_note_semitones) at least 1.5 merge_semitones from the note before (the live strip of finished
    # notes fills note by note in a legato phrase instead of at its end); False = only commit_s
    settled_commit: bool = True
    extend_s: float = 0.1
    transition_s: float = 0.15
    extend_db: float = 20.0
    # release: a frame more than release_db below the loudest frame at its pitch in the last release_window_s of its
    # voiced run is the fading tail of a note (a plucked or struck string, a reverberant room), not a note (0 = off);
    # it stays a tail until the level rises release_rise_db (a new attack)
    release_db: float = 20.0
    release_window_s: float = 0.5
    release_semitones: float = 1.0
    release_rise_db: float = 3.0
    release_gap_s: float = 0.2  # a rest this long starts a new run: the next note is never the last one's tail
    # glide: pieces whose smoothed pitch moves at least glide_rate semitones per second (and glide_semitones in all),
    # all one way, between two notes they lead from one to the other, are the glide between them: shared at its middle
    glide_rate: float = 5.0
    glide_semitones: float = 0.3
    # glide tail: the glide's last (first) moving piece that ends (begins) holding its pitch within
    # steady_note_semitones for at least glide_tail_s, merge_semitones or more from the note after (before), ends
    # (begins) the glide there: the plateau is a short note reached by the glide, not the glide's end; 0 = off.
    # Chosen on tuning seeds 7-37 (benchmarks/results/notes_glidetail_seed*.txt): 0.1 and 0.08 gained the same
    # (seed 29 clean +0.009 with tracker-1, seed 13 at 10 dB +0.002) and 0.1 a little more, nothing lost on any
    # seed; 0.06 cost up to 0.004 at 10 dB and on the instruments
    glide_tail_s: float = 0.1
    # a piece shorter than transition_s that holds its pitch within this (middle half) is a note, not a transition
    steady_note_semitones: float = 0.3
    # coherence: a note needs at least min_coherence of its voiced frames within coherent_semitones of its median
    # pitch (noise that a model calls voiced has a pitch that jumps from frame to frame, and the median filter and
    # the programme still make a note of it; a sung or played note, even with a wide vibrato, holds its pitch);
    # 0 = off
    coherent_semitones: float = 1.0
    min_coherence: float = 0.5
    # re-attack: two pieces of the same pitch separated by unvoiced frames are two notes when the level in that gap
    # falls this far below both (the gap between repeated notes, which background noise fills to less than dip_db;
    # a voicing flicker inside a held note keeps its level); 0 = off. Only where the model is sure of both pieces
    # (median confidence of the dip_window_s next to the gap >= rearticulation_sure): a model that hovers about the
    # gate on a timbre (mir-1k_g7 on sampled instruments) drops below it with every swell of a held note
    rearticulation_db: float = 6.0
    rearticulation_sure: float = 0.8
    # ... and the gap may be frames the release test took out (the model still hearing the old note's fading pitch)
    # when the level then rises again to the next piece: a note re-struck as the last one fades, not a flicker
    # (tuning seeds 17, 19, 23: a repeated C#3 after a 36 ms fade; nothing else moved); False = only frames below
    # the gate
    reattack_release: bool = True
    # trough: a frame below the gate more than trough_db below the loudest frame within dip_window_s on both sides,
    # the model sure of both sides (rearticulation_sure), gets no relaxed voicing (the gap between repeated notes)
    trough_db: float = 8.5
    # ... only below this pitch (MIDI semitones; C4): there the analysis window at the fundamental is 0.2 s or more
    # and smears a 30 ms gap; above it the dip rule sees the gap, and troughs are a held instrument note's swells
    trough_below: float = 60.0
    # low dip: below trough_below, a frame more than low_dip_db below the loudest within dip_window_s on both sides,
    # the model sure of both (rearticulation_sure), is a dip whatever its own confidence (the smeared gap between
    # repeated low notes, 9-12 dB deep, that the model still hears as the note); 0 = off, the default: at 8.5 or
    # 10 dB it fixed such gaps (clean +0.001..+0.004 on tuning seeds 29, 31, 37) and cost the instruments 0.004-0.027
    # on all six tuning seeds (a held low note's swells), benchmarks/results/notes_lowdip_seed*.txt
    low_dip_db: float = 0.0
    # a boundary between notes at least cross_semitones apart lies where the pitch crosses the middle of theirs; 0 = off
    cross_semitones: float = 1.0
    # settling: between notes closer than cross_semitones, one steady (steady_note_semitones) and one not (vibrato),
    # the steady note begins where its pitch enters, or ends where it leaves, for good the band of settle_semitones
    # about its middle half's median (a vibrato's trough near the next note's pitch drew the cut); 0 = off
    settle_semitones: float = 0.15
    # ... when, between its last touch of the band and the edge, the other note's swing goes back out by more than
    # settle_back_semitones beyond the band (a noisy note's analysis wobbles less)
    settle_back_semitones: float = 0.05
    # level step: a note may begin for penalty - level_bonus where the level rises (or falls, level_fall) by
    # level_step_db from the level_span_s before to the level_span_s after (an articulated change); 0 = off
    level_step_db: float = 2.0
    level_bonus: float = 2.0
    level_span_s: float = 0.03
    level_fall: bool = True


@dataclass(frozen=True)
class CurrentNote:
    """The note being held now (live), measured on its raw frames (the last ``measure_s`` of them at most) from
    where its pitch first comes within ``approach_semitones`` of its centre: a glide or scoop into the note is part of
    its held time, not of its intonation (the finished note likewise leaves a glide between notes out).

    onset_s : its start (s); held_s : time since then (s); pitch_semitones : median pitch (semitones vs 440);
    midi_note, name : the nearest note for the tracker's A4; deviation_cents : mean deviation of its frames from
    that note (cents); steadiness_cents : standard deviation of its last ``steady_s`` of frames (cents; small =
    steady).
    """

    onset_s: float
    held_s: float
    pitch_semitones: float
    midi_note: int
    name: str
    deviation_cents: float
    steadiness_cents: float


@dataclass(frozen=True)
class NoteUpdate:
    """What one :meth:`NoteTracker.push` returns: notes finished since the last push, and the current note."""

    finished: List[Note]
    current: Optional[CurrentNote]


class _Grow:
    """A growable float64 array addressed by global frame index (older frames can be dropped)."""

    def __init__(self):
        self.data = np.empty(256)
        self.base = 0
        self.n = 0  # global index of the next frame

    def append(self, x: float) -> None:
        i = self.n - self.base
        if i == len(self.data):
            self.data = np.concatenate([self.data, np.empty(len(self.data))])
        self.data[i] = x
        self.n += 1

    def __getitem__(self, k: int) -> float:
        return self.data[k - self.base]

    def __setitem__(self, k: int, x: float) -> None:
        self.data[k - self.base] = x

    def view(self, start: int, stop: int) -> np.ndarray:
        return self.data[start - self.base : stop - self.base]

    def drop_before(self, k: int) -> None:
        k = min(k, self.n)
        if k - self.base > len(self.data) // 2:
            self.data = np.concatenate([self.data[k - self.base : self.n - self.base], np.empty(len(self.data) // 2)])
            self.base = k


def _median(x: np.ndarray) -> float:
    """``np.median`` of a non-empty finite 1-D array without its generic checks (the live current note takes several
    per frame: the call overhead was most of their cost)."""
    h = len(x) // 2
    if len(x) % 2:
        return float(np.partition(x, h)[h])
    p = np.partition(x, (h - 1, h))
    return float((p[h - 1] + p[h]) / 2)


def _piece_mean(run: dict, i: int, e: int) -> float:
    """Mean of the smoothed pitch over piece [i, e) of ``run`` (relative to the run's ``s0``, semitones)."""
    S1 = run["S1"]
    return (S1[e] - S1[i]) / (e - i)


class NoteTracker:
    """Incremental note segmentation of frames arriving one by one (live), identical to :func:`segment_notes`.

    ``push(time_s, pitch_semitones, voiced, volume, confidence)`` for each frame in time order, then ``finish()``
    at the end. ``step_s`` is the time between frames (s); ``voiced`` is ``confidence >= gate``; ``volume`` is the
    frame's linear power (as ``PitchTrack.volume``; None disables dip detection); ``confidence`` in [0, 1] (NaN
    when unknown: no relaxed voicing, no mean confidence).
    """

    RETURN_S = 0.3  # s: longer than a cycle of the slowest vibrato (4 Hz: 0.25 s)
    CHECK_S = 0.1  # s: how often a voiced run is searched for a settled boundary (settled_commit)

    def __init__(
        self,
        step_s: float = 0.01,
        *,
        a4_hz: float = A4_HZ,
        params: Optional[SegmentParams] = None,
        steady_s: float = 0.5,
        measure_s: float = 5.0,
        approach_semitones: float = 0.25,
    ):
        self.p = params or SegmentParams()
        self.a4_hz, self.step_s, self.steady_s = float(a4_hz), float(step_s), float(steady_s)
        self.measure_s, self.approach = float(measure_s), float(approach_semitones)
        self.back = int(round(self.RETURN_S / self.step_s))
        fr = lambda s: max(0, int(round(s / self.step_s)))  # noqa: E731
        self.W, self.m, self.a = max(1, fr(self.p.dip_window_s)), fr(self.p.median_s), fr(self.p.smooth_s)
        self.Lmin = max(1, fr(self.p.min_note_s))
        self.Lmax = max(2 * self.Lmin, fr(self.p.max_span_s))
        self.gap = fr(self.p.max_gap_s)
        self.commit, self.lag = max(self.Lmax, fr(self.p.commit_s)), max(self.Lmin, fr(self.p.lag_s))
        self.check = max(1, fr(self.CHECK_S))
        self.scale = self.step_s / 0.01  # costs per 10 ms of note, whatever the step
        self.t, self.pitch, self.conf, self.db = _Grow(), _Grow(), _Grow(), _Grow()
        self.v = _Grow()  # raw voicing (1/0)
        self.glide = _Grow()  # 1 for the frames of a glide shared between two notes (not measured as either)
        self.u = _Grow()  # voicing after the dip test
        self.dip = _Grow()  # loudness dip (whatever the voicing)
        self.released = _Grow()  # 1 for a voiced frame that the release test took out (a fading tail)
        self.med, self.s = _Grow(), _Grow()
        self.cut_pen = _Grow()  # the programme's penalty for a note beginning at each frame
        self.Ls = max(1, fr(self.p.level_span_s))
        self.n_u = self.n_med = self.n_s = self.n_dp = 0  # frames done by each stage
        self.finished = False
        self.run: Optional[dict] = None
        self.pending: Optional[Tuple[int, int]] = None
        self.out: List[Note] = []
        self.raw_start = 0
        self.last_end = 0
        self.E = fr(self.p.extend_s)
        self.T = fr(self.p.transition_s)
        self.H = max(1, fr(self.p.stable_s))
        self.W = max(self.W, self.H)
        self.loudest = -math.inf
        self.relaxed = 0
        self.R = max(1, fr(self.p.release_window_s))
        self.run_start = 0  # first frame of the current voiced run (release test)
        self.last_voiced = -(10**9)
        self.G = max(1, fr(self.p.release_gap_s))
        self.tail: Optional[Tuple[float, float]] = None  # (pitch, lowest dB) of the fading tail being followed

    # ------------------------------------------------------------------ input
    def push(
        self,
        time_s: float,
        pitch_semitones: float,
        voiced: bool,
        volume: Optional[float] = None,
        confidence: float = math.nan,
    ) -> NoteUpdate:
        """Add one frame; returns the notes finished since the last call and the current note's measures."""
        return NoteUpdate(self.add(time_s, pitch_semitones, voiced, volume, confidence), self._current())

    def add(
        self,
        time_s: float,
        pitch_semitones: float,
        voiced: bool,
        volume: Optional[float] = None,
        confidence: float = math.nan,
    ) -> List[Note]:
        """Add one frame, as :meth:`push`, without measuring the current note (a block of frames of which only the
        newest is shown: :meth:`current_note` after the last); returns the notes finished since the last call."""
        self._add(time_s, pitch_semitones, voiced, volume, confidence)
        return self._take()

    def current_note(self) -> Optional[CurrentNote]:
        """The note being held at the newest frame (None in silence), as :meth:`push` returns it."""
        return self._current()

    def _add(self, time_s, pitch_semitones, voiced, volume, confidence) -> None:
        pitch = float(pitch_semitones)
        if self.t.n == 0 or self.v[self.t.n - 1] <= 0:
            self.raw_start = self.t.n
        self.t.append(float(time_s))
        self.pitch.append(pitch)
        self.conf.append(float(confidence))
        self.v.append(1.0 if voiced and math.isfinite(pitch) else 0.0)
        self.glide.append(0.0)
        level = float(volume) if volume is not None else 1.0
        self.db.append(10.0 * math.log10(level) if math.isfinite(level) and level > 1e-12 else -120.0)
        self.loudest = max(self.loudest, self.db[self.db.n - 1])
        self._advance()

    def finish(self) -> List[Note]:
        """End of input: the remaining notes."""
        self.finished = True
        self._advance()
        self._close_run()
        self._flush_pending(force=True)
        return self._take()

    def _take(self) -> List[Note]:
        out, self.out = self.out, []
        return out

    # ------------------------------------------------------------------ stages
    def _advance(self) -> None:
        n = self.t.n
        end = n if self.finished else n - self.W
        while self.n_u < end:
            self._dip(self.n_u)
        end = self.n_u if self.finished else self.n_u - self.m
        while self.n_med < end:
            self._median(self.n_med)
        end = self.n_med if self.finished else self.n_med - self.a
        while self.n_s < end:
            self._smooth(self.n_s)
        while self.n_dp < self.n_s:
            self._dp(self.n_dp)
        self._flush_pending()
        self._trim()

    def _dip(self, k: int) -> None:
        lo, hi = max(self.t.base, k - self.W), min(self.t.n, k + self.W + 1)
        left, right = self.db.view(lo, k), self.db.view(k + 1, hi)
        # dB below the louder sides' quieter one (how deep a trough the frame is in; -inf at the ends)
        depth = min(left.max(), right.max()) - self.db[k] if len(left) and len(right) else -math.inf
        dip = self.p.dip_db > 0 and depth > self.p.dip_db
        if not dip and self.p.low_dip_db > 0 and depth > self.p.low_dip_db and self.pitch[k] < self.p.trough_below:
            dip = self._sure(lo, k) and self._sure(k + 1, hi)
        self.dip.append(1.0 if dip else 0.0)
        voiced = self.v[k] > 0
        # a low frame below the gate in a trough deeper than trough_db, the model sure of the sound on both sides, is
        # the gap between two repeated notes (a low note's long VQT kernels smear a 30 ms gap to less than a dip),
        # not a less confident timbre (a model that hovers about the gate on an instrument is not sure)
        trough = (
            self.p.trough_db > 0
            and self.pitch[k] < self.p.trough_below
            and depth > self.p.trough_db
            and self._sure(lo, k)
            and self._sure(k + 1, hi)
        )
        if not voiced and not trough and self.p.low_gate < self.p.gate and self.conf[k] >= self.p.low_gate:
            # a less confident frame whose pitch holds still, at a level near the loudest so far
            h = self.H
            lo, hi = max(self.t.base, k - h), min(self.t.n, k + h + 1)
            near = self.pitch.view(lo, hi)
            voiced = bool(
                hi - lo == 2 * h + 1
                and np.all(np.abs(near - self.pitch[k]) < self.p.stable_semitones)
                and self.db[k] >= self.loudest - self.p.quiet_db
                and self.db[k] > self.p.silence_db
            )
            if voiced:
                self.relaxed += 1
        if voiced and self.p.floor_db > 0 and self.db[k] < self.loudest - self.p.floor_db:
            # far below the loudest frame so far: the last of a release that a rest cut from its note (the release
            # rule's memory ends at a rest), which a model with a learned voicing output still hears as a pitch
            voiced = False
        released = False
        if self.p.release_db > 0:
            released = voiced
            voiced = self._release(k, voiced, dip)
            released = released and not voiced
        self.released.append(1.0 if released else 0.0)
        self.u.append(1.0 if voiced and not dip else 0.0)
        self.n_u += 1

    def _release(self, k: int, voiced: bool, dip: bool) -> bool:
        """Frame k's voicing after the release test: False for the fading tail of a note, a frame more than
        ``release_db`` below the loudest frame within ``release_semitones`` of its pitch in the last
        ``release_window_s`` of its voiced run (a run ends at a rest of ``release_gap_s``: the tail of a note
        carries the note's pitch; a softer note at another pitch, or after a rest, is a new note). Once a tail, the
        frames that follow at that pitch stay a tail until the level rises ``release_rise_db`` above the lowest since
        (a new attack): a slow second decay does not come back as a note when the attack leaves the window."""
        if self.v[k] > 0:
            if k - self.last_voiced > self.G:  # a new voiced run after a rest (not a flicker inside a fading tail)
                self.run_start, self.tail = k, None
            self.last_voiced = k
        pk = self.pitch[k]
        if not voiced or not math.isfinite(pk):
            return voiced
        if self.tail is not None:
            t_pitch, floor = self.tail
            if abs(pk - t_pitch) < self.p.release_semitones and self.db[k] < floor + self.p.release_rise_db:
                self.tail = (t_pitch, min(floor, self.db[k]))
                return False
            self.tail = None
        lo = max(self.t.base, k - self.R, self.run_start)
        same = np.abs(self.pitch.view(lo, k + 1) - pk) < self.p.release_semitones
        same[-1] = True  # the frame itself (whatever release_semitones is)
        if self.db[k] < self.db.view(lo, k + 1)[same].max() - self.p.release_db:
            self.tail = (pk, self.db[k])
            return False
        return True

    def _extent(self, k: int, half: int, done: int) -> Tuple[int, int]:
        """[lo, hi) around voiced frame k, at most ``half`` each side, within its voiced run (frames < done)."""
        lo = k
        while lo > max(self.u.base, k - half) and self.u[lo - 1] > 0:
            lo -= 1
        hi = k + 1
        while hi < min(done, k + half + 1) and self.u[hi] > 0:
            hi += 1
        return lo, hi

    def _median(self, k: int) -> None:
        if self.u[k] > 0:
            lo, hi = self._extent(k, self.m, self.n_u)
            self.med.append(float(np.median(self.pitch.view(lo, hi))))
        else:
            self.med.append(math.nan)
        self.n_med += 1

    def _smooth(self, k: int) -> None:
        if self.u[k] > 0:
            lo, hi = self._extent(k, self.a, self.n_med)
            self.s.append(float(np.mean(self.med.view(lo, hi))))
        else:
            self.s.append(math.nan)
        self.n_s += 1

    # ------------------------------------------------------------------ dynamic programming
    def _dp(self, k: int) -> None:
        self.n_dp = k + 1
        self.cut_pen.append(self._cut_penalty(k))
        if self.u[k] <= 0:
            self._close_run()
            return
        if self.run is None:
            self.run = dict(r=k, s0=self.s[k], S1=_Grow(), S2=_Grow(), F=_Grow(), back=[], done=0)
            self.run["S1"].append(0.0), self.run["S2"].append(0.0), self.run["F"].append(0.0)
            self.run["back"].append(-1)
        self._dp_step(self.run, self.s[k])
        n = self.run["F"].n - 1
        if n >= self.commit:
            self._commit(n)
        elif self.p.settled_commit and n % self.check == 0 and n >= self.lag + self.Lmin:
            self._commit_settled(n)

    def _dp_step(self, run: dict, value: float) -> None:
        S1, S2, F = run["S1"], run["S2"], run["F"]
        x = value - run["s0"]
        S1.append(S1[S1.n - 1] + x)
        S2.append(S2[S2.n - 1] + x * x)
        e = S1.n - 1
        lo, hi = max(0, e - self.Lmax), e - self.Lmin
        if hi < lo:
            F.append(math.inf), run["back"].append(-1)
            return
        i = np.arange(lo, hi + 1)
        s1 = S1[e] - S1.view(lo, hi + 1)
        cost = (S2[e] - S2.view(lo, hi + 1)) - s1 * s1 / (e - i)
        pen = self.cut_pen.view(run["r"] + lo, run["r"] + hi + 1)
        total = F.view(lo, hi + 1) + self.scale * np.maximum(cost, 0.0) + pen
        j = int(np.argmin(total))
        F.append(float(total[j])), run["back"].append(int(i[j]))

    def _cut_penalty(self, k: int) -> float:
        """The penalty of a note beginning at frame k: ``penalty``, less ``level_bonus`` where the level steps by
        ``level_step_db`` across k (mean dB of the ``level_span_s`` after against the ``level_span_s`` before)."""
        p = self.p
        if not (p.level_bonus > 0 and p.level_step_db > 0):
            return p.penalty
        L = self.Ls
        lo, hi = max(self.db.base, k - L), min(self.db.n, k + L)
        if k - lo < L or hi - k < L:
            return p.penalty
        step = float(np.mean(self.db.view(k, hi)) - np.mean(self.db.view(lo, k)))
        stepped = step >= p.level_step_db or (p.level_fall and step <= -p.level_step_db)
        return p.penalty - p.level_bonus if stepped else p.penalty

    def _path(self, run: dict, e: int) -> List[Tuple[int, int]]:
        """Segments [i, e) (relative to the run) ending at ``e``, in time order."""
        segs = []
        back = run["back"]
        while e > 0:
            i = back[e]
            if i < 0:
                return []
            segs.append((i, e))
            e = i
        return segs[::-1]

    def _transitions(self, run: dict, segs: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
        """Pieces shorter than ``transition_s`` whose pitch lies between their two neighbours' (the frames of a
        fast change between two notes) are given half to each neighbour."""
        mean = lambda i, e: _piece_mean(run, i, e)  # noqa: E731
        segs = list(segs)
        k = 1
        while k < len(segs) - 1:
            (a0, a1), (b0, b1), (c0, c1) = segs[k - 1 : k + 2]
            ma, mb, mc = mean(a0, a1), mean(b0, b1), mean(c0, c1)
            short = b1 - b0 < self.T and not self._steady(run, b0, b1)  # a short steady piece is a note (fast runs)
            if short and min(ma, mc) < mb < max(ma, mc):
                mid = (b0 + b1) // 2
                segs[k - 1 : k + 2] = [(a0, mid), (mid, c1)]
            else:
                k += 1
        return segs

    def _steady(self, run: dict, i: int, e: int) -> bool:
        """Piece [i, e) of the run lasts ``min_note_s`` and its smoothed pitch holds within
        ``steady_note_semitones`` over its middle half (a note of a fast run, not the passage between two notes)."""
        if self.p.steady_note_semitones <= 0 or e - i < self.Lmin:
            return False
        q = (e - i) // 4
        mid = self.s.view(run["r"] + i + q, run["r"] + e - q)
        return bool(len(mid) >= 2 and np.ptp(mid) < self.p.steady_note_semitones)

    def _glides(self, run: dict, segs: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
        """Runs of moving pieces (a glide cut by the programme into short notes) between two notes, moving from one
        to the other: the glide's first half joins the note before, its second half the note after."""
        if self.p.glide_rate <= 0 or len(segs) < 3:
            return segs
        r, s = run["r"], self.s

        def motion(i: int, e: int) -> float:  # +1 / -1 for a piece that moves up / down, 0 for a steady one
            # measured on the piece's middle half: its ends hold the smoothed edges of the neighbouring steps
            q = (e - i) // 4
            a, b = r + i + q, r + e - q - 1
            if b - a < 2:
                return 0.0
            span = s[b] - s[a]
            fast = abs(span) >= self.p.glide_semitones / 2 and abs(span) >= self.p.glide_rate * (b - a) * self.step_s
            return math.copysign(1.0, span) if fast else 0.0

        mean = lambda i, e: _piece_mean(run, i, e)  # noqa: E731
        segs = self._glide_tails(run, list(segs), motion, mean) if self.p.glide_tail_s > 0 else list(segs)
        k = 1
        while k < len(segs) - 1:
            way = motion(*segs[k])
            j = k
            while j < len(segs) - 1 and way != 0 and motion(*segs[j]) == way:
                j += 1
            ma, mc = mean(*segs[k - 1]), mean(*segs[j])  # j < len(segs): the loop stops before the last piece
            means = [mean(*segs[q]) for q in range(k, j)]
            between = all(min(ma, mc) < m < max(ma, mc) for m in means) and (mc - ma) * way > 0
            if j > k and motion(*segs[k - 1]) != way and motion(*segs[j]) != way and between:
                for q in range(r + segs[k][0], r + segs[j - 1][1]):
                    self.glide[q] = 1.0  # the notes' measures leave the glide out
                mid = (segs[k][0] + segs[j - 1][1]) // 2
                segs[k - 1 : j + 1] = [(segs[k - 1][0], mid), (mid, segs[j][1])]
                if self.p.glide_tail_s > 0:
                    # the note after the glide now holds the glide's second half, whose motion must not make a
                    # glide of it in turn (a short note reached by a glide would be shared out again)
                    k += 1
            else:
                k = max(k + 1, j)
        return segs

    def _glide_tails(self, run: dict, segs: List[Tuple[int, int]], motion, mean) -> List[Tuple[int, int]]:
        """Split off the steady end of a moving piece followed by a steady one (and the steady start of a moving
        piece that follows a steady one): frames at its end (start) whose smoothed pitch holds within
        ``steady_note_semitones`` for at least ``glide_tail_s``, ``merge_semitones`` or more from the neighbouring
        piece's mean. The programme, paying one note for the glide's end and a short note after it, often makes one
        piece of both, whose middle half still moves: the glide rule then shared the short note out as glide."""
        tail = max(2, int(round(self.p.glide_tail_s / self.step_s)))
        band, r, s = self.p.steady_note_semitones, run["r"], self.s
        out: List[Tuple[int, int]] = []
        for q, (i, e) in enumerate(segs):
            if motion(i, e) == 0 or e - i < tail + 2:
                out.append((i, e))
                continue
            cuts = []
            if q + 1 < len(segs) and motion(*segs[q + 1]) == 0:  # a glide ending in a plateau, then a steady note
                k = e - 1
                while k > i and np.ptp(s.view(r + k - 1, r + e)) <= band:
                    k -= 1
                if e - k >= tail and abs(float(np.mean(s.view(r + k, r + e))) - mean(*segs[q + 1])) >= (
                    self.p.merge_semitones
                ):
                    cuts.append(k)
            if q > 0 and motion(*segs[q - 1]) == 0:  # a steady note, then a plateau that a glide leaves
                k = i + 1
                while k < e and np.ptp(s.view(r + i, r + k + 1)) <= band:
                    k += 1
                if k - i >= tail and abs(float(np.mean(s.view(r + i, r + k))) - mean(*segs[q - 1])) >= (
                    self.p.merge_semitones
                ):
                    cuts.append(k)
            bounds = [i] + sorted(c for c in set(cuts) if i + 2 <= c <= e - 2) + [e]
            if len(bounds) == 4 and bounds[2] - bounds[1] < 2:  # both plateaus: keep a moving part between them
                bounds = [i, e]
            out += list(zip(bounds[:-1], bounds[1:]))
        return out

    def _pieces(self, run: dict, e: int) -> List[Tuple[int, int]]:
        """The notes [i, e) of the run up to ``e``: the programme's pieces, glides and fast changes shared, and each
        boundary between two notes a semitone or more apart moved to where the pitch crosses the middle of theirs."""
        segs = self._transitions(run, self._glides(run, self._path(run, e)))
        segs = self._crossings(run, segs) if self.p.cross_semitones > 0 else segs
        return self._settles(run, segs) if self.p.settle_semitones > 0 else segs

    def _crossings(self, run: dict, segs: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
        """Each boundary between adjacent notes whose means are ``cross_semitones`` or more apart, moved to the
        crossing of the middle of their means by the smoothed pitch nearest to it within ``transition_s`` (a note
        keeps ``min_note_s / 2``): the programme places a cut at the least squares' best, which a vibrato swinging
        into a glide can pull 50 ms off the glide's middle."""
        segs = list(segs)
        r, s = run["r"], self.s
        for k in range(1, len(segs)):
            (a0, a1), (b0, b1) = segs[k - 1], segs[k]
            if a1 != b0:
                continue
            ma, mb = _piece_mean(run, a0, a1), _piece_mean(run, b0, b1)
            if abs(mb - ma) < self.p.cross_semitones:
                continue
            mid = (ma + mb) / 2 + run["s0"]
            keep = self.Lmin
            lo, hi = max(a0 + keep, a1 - self.T), min(b1 - keep, a1 + self.T)
            best = None
            for j in range(lo, hi + 1):  # j: first frame of the second note
                below, after = s[r + j - 1] - mid, s[r + j] - mid
                if (
                    below * after <= 0
                    and (after - below) * (mb - ma) > 0
                    and (best is None or abs(j - a1) < abs(best - a1))
                ):
                    best = j
            if best is not None:
                segs[k - 1], segs[k] = (a0, best), (best, b1)
        return segs

    def _settles(self, run: dict, segs: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
        """Each boundary between adjacent notes less than ``cross_semitones`` apart, one steady and the other not
        (a vibrato), moved into the steady note to where its smoothed pitch enters (or leaves) for good the band of
        ``settle_semitones`` about the median of its middle half, within ``transition_s`` (each keeping
        ``min_note_s``): a vibrato's trough that reaches the next note's pitch is no part of that note, however well
        it fits its mean (the programme's least squares put such cuts 60-80 ms early)."""
        segs = list(segs)
        r, s, p, band = run["r"], self.s, self.pitch, self.p.settle_semitones
        for k in range(1, len(segs)):
            (a0, a1), (b0, b1) = segs[k - 1], segs[k]
            ma, mb = _piece_mean(run, a0, a1), _piece_mean(run, b0, b1)
            if a1 != b0 or abs(mb - ma) >= self.p.cross_semitones:
                continue
            if min(a1 - a0, b1 - b0) < self.Lmin:
                continue
            qa, qb = (a1 - a0) // 4, (b1 - b0) // 4
            swing_a = float(np.ptp(s.view(r + a0 + qa, r + a1 - qa)))
            swing_b = float(np.ptp(s.view(r + b0 + qb, r + b1 - qb)))
            # the band and the walk on the raw pitch: the smoothing flattens the swing's last turn into the note
            mid_a, mid_b = p.view(r + a0 + qa, r + a1 - qa), p.view(r + b0 + qb, r + b1 - qb)
            moving = self.p.steady_note_semitones  # a swing this wide is a vibrato (or a slide), not a held pitch
            if (
                swing_a >= moving and swing_b <= swing_a / 2 and self._vibrato(r, a0 + qa, a1 - qa)
            ):  # the steadier note begins where it enters its band
                centre = _median(mid_b)
                width = max(band, float(np.max(np.abs(mid_b - centre))))
                j = b0 + qb  # back from its middle half while the pitch before stays in the band
                while j > a0 + self.Lmin and abs(p[r + j - 1] - centre) <= width:
                    j -= 1
                if (
                    b0 < j <= b0 + self.T
                    and b1 - j >= self.Lmin
                    and self._swung(r, b0, j - 1, j - 1, centre, width, ma - mb, b0 + qb, b1 - qb)
                ):
                    segs[k - 1], segs[k] = (a0, j), (j, b1)
            elif (
                swing_b >= moving and swing_a <= swing_b / 2 and self._vibrato(r, b0 + qb, b1 - qb)
            ):  # the steadier note ends where it leaves its band
                centre = _median(mid_a)
                width = max(band, float(np.max(np.abs(mid_a - centre))))
                j = a1 - qa  # on from its middle half while the pitch stays in the band
                while j < b1 - self.Lmin and abs(p[r + j] - centre) <= width:
                    j += 1
                if (
                    a1 - self.T <= j < a1
                    and j - a0 >= self.Lmin
                    and self._swung(r, j + 1, a1, j, centre, width, mb - ma, a0 + qa, a1 - qa)
                ):
                    segs[k - 1], segs[k] = (a0, j), (j, b1)
        return segs

    def _vibrato(self, r: int, lo: int, hi: int) -> bool:
        """Whether the smoothed pitch of frames [lo, hi) of the run turns at least twice by ``steady_note_semitones``
        (a vibrato's swings; a slide or an instrument's settling moves one way)."""
        x = self.s.view(r + lo, r + hi)
        turns, way, ext = 0, 0.0, float(x[0]) if len(x) else 0.0
        for v in x[1:]:
            d = float(v) - ext
            if way == 0.0:
                if abs(d) >= self.p.steady_note_semitones / 2:
                    way, ext = math.copysign(1.0, d), float(v)
            elif d * way > 0:
                ext = float(v)
            elif -d * way >= self.p.steady_note_semitones:
                turns, way, ext = turns + 1, -way, float(v)
        return turns >= 2

    def _swung(
        self, r: int, lo: int, hi: int, edge: int, centre: float, width: float, way: float, m0: int, m1: int
    ) -> bool:
        """Whether the raw pitch touches the band ``centre +- width`` somewhere in frames [lo, hi) of the run while
        frame ``edge`` lies outside it on the side ``way`` (towards the other note): a swing of the other note that
        reached the steady note's pitch and went back, not an approach to it (a scoop, the frames between two notes),
        which does not reach the band before it enters it for good. Raw, because the smoothing flattens the swing's
        turn. The frames given back (those and the frame outside) must all sound within ``rearticulation_db`` of the
        steady note's middle [m0, m1): a pitch read in a re-articulation's dip, the analysis window straddling the
        attack (a sampled instrument's new note sounding 50-80 ms after a level dip), is no swing."""
        p = self.pitch
        floor = float(np.min(self.db.view(r + min(lo, edge), r + max(hi, edge + 1))))
        loud = floor >= _median(self.db.view(r + m0, r + m1)) - self.p.rearticulation_db
        outside = loud and (p[r + edge] - centre) * way > width
        touches = [x for x in range(lo, hi) if abs(p[r + x] - centre) <= width]
        if not (outside and touches):
            return False
        # between the touch nearest the edge and the edge, the swing goes back out by more than settle_semitones
        # beyond the band (analysis noise in a noisy note wobbles less, and is no swing)
        back = range(max(touches) + 1, edge + 1) if edge >= hi else range(edge, min(touches))
        return max((p[r + y] - centre) * way for y in back) > width + self.p.settle_back_semitones

    def _close_run(self) -> None:
        run, self.run = self.run, None
        if run is None:
            return
        n = run["F"].n - 1
        if n >= self.Lmin and math.isfinite(run["F"][n]):
            self._emit_pieces(run, self._pieces(run, n), n)

    def _emit_pieces(self, run: dict, segs: List[Tuple[int, int]], upto: int) -> None:
        """Segment the pieces of ``run`` that end by ``upto`` and after what was emitted already (a settled
        commit). A piece reaching back over that point is clipped to it; a clipped remainder shorter than ``Lmin``
        (the boundary moved a few frames after the commit) joins the next piece, or is left out at the run's end."""
        done, carry = run["done"], None
        for i, e in segs:
            if e <= done or e > upto:
                continue
            lo = max(i, done) if carry is None else carry
            if i < done and e - lo < self.Lmin:
                carry = lo
                continue
            self._segment(run["r"] + lo, run["r"] + e)
            carry = None
        run["done"] = max(done, upto) if carry is None else carry

    def _commit(self, n: int) -> None:
        """Emit the notes of a long run that end at least ``lag`` before its end; restart the run there."""
        run = self.run
        cut = 0
        for i, e in self._path(run, n):
            if e <= n - self.lag:
                cut = e
        cut = max(cut, run["done"])
        if cut <= 0:
            return
        self._emit_pieces(run, self._pieces(run, cut), cut)
        self._restart(run, run["done"], n)  # before ``cut`` where a clipped remainder was carried

    def _restart(self, run: dict, cut: int, n: int) -> None:
        """A new run from frame ``cut`` of ``run`` (whose notes before it are emitted), its programme replayed over
        the run's frames up to ``n``."""
        r = run["r"] + cut
        self.run = dict(r=r, s0=self.s[r], S1=_Grow(), S2=_Grow(), F=_Grow(), back=[-1], done=0)
        self.run["S1"].append(0.0), self.run["S2"].append(0.0), self.run["F"].append(0.0)
        for k in range(r, run["r"] + n):
            self._dp_step(self.run, self.s[k])

    def _commit_settled(self, n: int) -> None:
        """Emit the notes of the run before its latest boundary that is at least ``lag`` old and followed by a
        steady note (``steady_note_semitones``) whose pitch lies 1.5 ``merge_semitones`` or more from the note
        before: later frames do not move such a boundary (a glide, a fast change or a join needs a moving or a
        same-pitch piece after it), and the note before it cannot join the one after. The run goes on (its
        programme and the rules see the whole run, as without the commit); only its later notes are emitted later."""
        run, r = self.run, self.run["r"]
        segs = self._pieces(run, n)  # marks glide frames; those after the cut are judged again later
        cut = run["done"]
        for k in range(1, len(segs)):
            (a0, a1), (b0, b1) = segs[k - 1], segs[k]
            if a1 > n - self.lag:
                break
            apart = abs(self._centre(r + b0, r + b1) - self._centre(r + a0, r + a1)) >= 1.5 * self.p.merge_semitones
            if a1 == b0 and a1 > cut and apart and self._steady(run, b0, b1):
                cut = a1
        for q in range(r + cut, r + n):
            self.glide[q] = 0.0
        if cut <= run["done"]:
            return
        self._emit_pieces(run, segs, cut)
        self._flush_pending(force=True)  # another pitch follows: the last note before the cut is final

    # ------------------------------------------------------------------ joining and measuring
    def _centre(self, lo: int, hi: int) -> float:
        sel = self.u.view(lo, hi) > 0
        return float(np.median(self.pitch.view(lo, hi)[sel]))

    def _segment(self, lo: int, hi: int) -> None:
        centre = self._centre(lo, hi)
        if self.pending is not None:
            plo, phi, pc = self.pending
            gap = lo - phi
            dipped = gap > 0 and (bool(np.any(self.dip.view(phi, lo) > 0)) or self._reattack(plo, phi, lo, hi))
            if 0 <= gap <= self.gap and not dipped and abs(pc - centre) < self.p.merge_semitones:
                self.pending = (plo, hi, self._centre(plo, hi) if hi - plo < 2000 else pc)
                return
            self._emit(plo, phi)
        self.pending = (lo, hi, centre)

    def _reattack(self, plo: int, phi: int, lo: int, hi: int) -> bool:
        """Whether the gap [phi, lo) between the pieces [plo, phi) and [lo, hi) holds a frame that the model called
        unvoiced (below the gate: it heard a break) or, with ``reattack_release``, that the release test took out (a
        fading tail, which the level rising again to the next piece makes the end of a note re-struck) at least
        ``rearticulation_db`` below the loudest of each piece's ``dip_window_s`` next to it, the model being sure of
        both (median confidence there at least ``rearticulation_sure``)."""
        if self.p.rearticulation_db <= 0:
            return False
        unvoiced = self.v.view(phi, lo) <= 0
        if self.p.reattack_release:
            unvoiced |= self.released.view(phi, lo) > 0
        if not np.any(unvoiced):
            return False
        a, b = max(plo, phi - self.W), min(hi, lo + self.W)
        if not (self._sure(a, phi) and self._sure(lo, b)):
            return False
        left, right = float(np.max(self.db.view(a, phi))), float(np.max(self.db.view(lo, b)))
        return float(np.min(self.db.view(phi, lo)[unvoiced])) < min(left, right) - self.p.rearticulation_db

    def _sure(self, lo: int, hi: int) -> bool:
        """Whether the median known confidence of frames [lo, hi) is at least ``rearticulation_sure`` (False when
        no confidence is known: arrays given without one)."""
        conf = self.conf.view(lo, hi)
        conf = conf[np.isfinite(conf)]
        return bool(conf.size) and float(np.median(conf)) >= self.p.rearticulation_sure

    def _flush_pending(self, force: bool = False) -> None:
        if self.pending is None:
            return
        phi = self.pending[1]
        horizon = self.run["r"] if self.run is not None else self.n_dp
        if force or horizon - phi > self.gap:
            self._emit(*self.pending[:2])
            self.pending = None

    def _extend(self, lo: int, hi: int, centre: float) -> Tuple[int, int]:
        """Bounds widened over unvoiced frames next to the note that carry its pitch at a level near its own
        (the attack before the confidence rises, the release after it falls)."""
        if self.E <= 0:
            return lo, hi
        sel = self.u.view(lo, hi) > 0
        floor = float(np.median(self.db.view(lo, hi)[sel])) - self.p.extend_db

        def same(k: int) -> bool:
            pk = self.pitch[k]
            return (
                self.v[k] <= 0
                and self.dip[k] <= 0
                and self.db[k] >= floor
                and math.isfinite(pk)
                and abs(pk - centre) < self.p.merge_semitones
            )

        a = lo
        while a > max(self.t.base, self.last_end, lo - self.E) and same(a - 1):
            a -= 1
        b = hi
        while b < min(self.n_u, hi + self.E) and same(b):
            b += 1
        return a, b

    def _coherent(self, pitch: np.ndarray) -> bool:
        """Whether at least ``min_coherence`` of a note's measured frames (``pitch``, semitones) lie within
        ``coherent_semitones`` of their median (False: a pitch that jumps about, noise rather than a note)."""
        if self.p.coherent_semitones <= 0 or len(pitch) == 0:
            return True
        near = np.abs(pitch - np.median(pitch)) < self.p.coherent_semitones
        return bool(np.count_nonzero(near) >= self.p.min_coherence * len(pitch))

    def _emit(self, lo: int, hi: int) -> None:
        sel = self.u.view(lo, hi) > 0
        steady = sel & (self.glide.view(lo, hi) <= 0)
        if np.count_nonzero(steady) >= self.Lmin // 2:
            sel = steady  # measured without the half glides the note was given (its bounds keep them)
        if not self._coherent(self.pitch.view(lo, hi)[sel]):
            return
        conf = self.conf.view(lo, hi)[sel]
        a, b = self._extend(lo, hi, float(np.median(self.pitch.view(lo, hi)[sel])))
        self.last_end = b
        onset = self.t[a] - self.step_s / 2
        onset = max(onset, min(self.t[a], 0.0))  # a note starting at the first frame starts at 0, not before
        note = measure_note(
            onset,
            self.t[b - 1] + self.step_s / 2,
            self.t.view(lo, hi)[sel],
            self.pitch.view(lo, hi)[sel],
            None if np.all(np.isnan(conf)) else conf,
            self.a4_hz,
        )
        if note is not None:
            self.out.append(note)

    def _trim(self) -> None:
        keep = self.n_dp - self.W - self.m - self.a - 2
        if self.run is not None:
            keep = min(keep, self.run["r"])
        if self.pending is not None:
            keep = min(keep, self.pending[0] - self.E - 1)
        keep = min(keep, self.t.n - 2 * int(self.steady_s / self.step_s) - self.W - self.m - self.a - 2)
        if self.p.release_db > 0:
            keep = min(keep, self.n_u - self.R - 1)  # the release test looks back release_window_s
        if keep > 0:
            for g in (
                self.t,
                self.pitch,
                self.conf,
                self.db,
                self.v,
                self.glide,
                self.u,
                self.dip,
                self.released,
                self.med,
                self.s,
                self.cut_pen,
            ):
                g.drop_before(keep)

    # ------------------------------------------------------------------ live display
    def _returns(self, k: int, start: int, ref: float) -> bool:
        """Whether the pitch, which left ``ref`` before frame ``k``, was within ``merge_semitones`` of it in the
        ``RETURN_S`` before ``k`` (a vibrato comes back within a cycle; a new note, or a glide into it, does not)."""
        before = self.pitch.view(max(start, k - self.back), k)
        return bool(np.any(np.abs(before - ref) < self.p.merge_semitones))

    def _current(self) -> Optional[CurrentNote]:
        newest = self.t.n - 1
        if newest < 0 or self.v[newest] <= 0:
            return None
        start = max(self.raw_start, self.v.base)
        recent = self.pitch.view(max(start, newest - 4), newest + 1)
        ref = float(np.median(recent))
        k = newest
        while k > max(start, self.n_dp) and abs(self.pitch[k - 1] - ref) < self.p.merge_semitones:
            k -= 1
        if k > max(start, self.n_dp) and not self._returns(k, start, ref):
            start = k  # a change not yet seen by the (delayed) programme: begin where the recent pitch took over
        elif self.run is not None and self.run["r"] >= start:
            run, r = self.run, self.run["r"]
            segs = self._path(run, run["F"].n - 1)
            mean = lambda i, e: run["s0"] + _piece_mean(run, i, e)  # noqa: E731
            # the programme's last piece is this note when its mean is within coherent_semitones of the recent pitch
            # (whose 5-frame median swings with a vibrato of up to a semitone about the piece's mean)
            held = mean(*segs[-1]) if segs else math.nan
            if not abs(held - ref) < max(self.p.coherent_semitones, self.p.merge_semitones):
                # it still holds the glide or the note before: the note began where the recent pitch took over
                start = max(start, k)
            else:
                # go back over the programme's pieces of the same pitch (a long note is cut every max_span_s)
                first = len(segs) - 1
                while first > 0 and abs(mean(*segs[first - 1]) - held) < self.p.merge_semitones:
                    first -= 1
                start = max(start, r + segs[first][0])
                if (
                    first == 0
                    and self.pending is not None
                    and 0 <= r - self.pending[1] <= self.gap
                    and abs(self.pending[2] - held) < self.p.merge_semitones
                ):
                    start = self.pending[0]
        # measures over the last ``measure_s`` at most (bounded work per frame)
        pitch = self.pitch.view(max(start, newest + 1 - int(self.measure_s / self.step_s)), newest + 1)
        pitch = pitch[np.isfinite(pitch)]
        centre = _median(pitch)
        for _ in range(2):  # leave out the approach, then the approach against the centre without it
            first = int(np.argmax(np.abs(pitch - centre) < self.approach))  # 0 also when no frame is near
            if first == 0:
                break
            pitch = pitch[first:]
            centre = _median(pitch)
        midi, _ = nearest_note(centre + reference_shift(self.a4_hz))
        cents = 100.0 * (pitch + reference_shift(self.a4_hz) - midi)
        tail = cents[-max(2, int(round(self.steady_s / self.step_s))) :]
        onset = self.t[start] - self.step_s / 2
        return CurrentNote(
            onset_s=float(onset),
            held_s=float(self.t[newest] + self.step_s / 2 - onset),
            pitch_semitones=centre,
            midi_note=int(midi),
            name=note_name(midi),
            deviation_cents=float(np.mean(cents)),
            steadiness_cents=float(np.std(tail)),
        )


def segment_arrays(
    time_s,
    pitch_semitones,
    voiced,
    volume=None,
    confidence=None,
    *,
    a4_hz: float = A4_HZ,
    step_s: Optional[float] = None,
    params: Optional[SegmentParams] = None,
) -> List[Note]:
    """Notes of a pitch curve given as arrays.

    time_s : (frames,) s, increasing, evenly spaced; pitch_semitones : (frames,) MIDI semitones vs 440 (NaN allowed);
    voiced : (frames,) bool; volume : (frames,) linear power or None; confidence : (frames,) or None (only for the
    notes' mean confidence). ``step_s`` defaults to the median frame spacing.
    """
    time_s = np.asarray(time_s, np.float64)
    pitch = np.asarray(pitch_semitones, np.float64)
    voiced = np.asarray(voiced, bool)
    n = len(time_s)
    if not (len(pitch) == len(voiced) == n) or (volume is not None and len(volume) != n):
        raise ValueError("time_s, pitch_semitones, voiced and volume must have the same length")
    if step_s is None:
        step_s = float(np.median(np.diff(time_s))) if n > 1 else 0.01
    tracker = NoteTracker(step_s if step_s > 0 else 0.01, a4_hz=a4_hz, params=params)
    vol = None if volume is None else np.asarray(volume, np.float64)
    conf = np.full(n, math.nan) if confidence is None else np.asarray(confidence, np.float64)
    for k in range(n):
        tracker._add(time_s[k], pitch[k], voiced[k], None if vol is None else vol[k], conf[k])
    return tracker.finish()


def segment_notes(
    track, *, a4_hz: float = A4_HZ, gate: Optional[float] = None, params: Optional[SegmentParams] = None
) -> List[Note]:
    """The notes of a :class:`~pesto_core.track.PitchTrack` (monophonic), in time order.

    A frame is voiced when ``track.confidence >= gate`` (default ``params.gate``, 0.5); ``track.pitch_semitones``
    (refined when the analysis was) gives the pitch, ``track.volume`` the loudness. ``a4_hz`` is the reference the
    notes' names and deviations are taken against. See the module's description for the method.
    """
    params = params or SegmentParams()
    gate = params.gate if gate is None else float(gate)
    if len(track) == 0:
        return []
    step_s = track.step_ms / 1000.0 if getattr(track, "step_ms", 0) else None
    conf = np.asarray(track.confidence, np.float64)
    return segment_arrays(
        track.time_s, track.pitch_semitones, conf >= gate, track.volume, conf, a4_hz=a4_hz, step_s=step_s, params=params
    )
