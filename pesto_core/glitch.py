"""Glitch filter: removes isolated pitch jumps (octave errors and other 1-2 frame spikes) without lagging real note
changes, causally with a fixed look-ahead of ``lag`` frames (light: numpy only).

Method. Frame ``t`` is judged in the window of the ``2 * lag + 1`` frames ``t - lag .. t + lag``, whose past frames
carry their corrected pitch (a recursive filter: a run of alternating octave errors does not outvote the track once
its first frames were corrected). Among the window's voiced frames (confidence >= ``gate``), the median pitch is
the track: with fewer outliers than track frames the
median lies on the track. If frame ``t`` is voiced and does not agree with the median (within ``tolerance``
semitones) while a majority of the window's voiced frames, at least two, does, then ``t`` is a glitch: its pitch is
decoded again from its own activations, restricted to ``±tolerance`` around the median (the arg-max there and the
weighted average of the ``2 * bps - 1`` bins around it, as the ``alwa`` reduction); if the distribution's largest bin
there is below ``support`` of its peak (default 0.2; or it has no activations), the median itself is used.

Continuity. A frame the median rule leaves alone (for the errors it cannot see: a run of ``lag`` or more wrong
frames, such as an octave error over the first frames of a glide, where the median of a moving pitch agrees with too
few frames) that jumps more than ``tolerance`` from the previous frame, itself on a track (within ``tolerance`` of
the frame before it; all three voiced or shown), is decoded again near the previous pitch when its own distribution
still keeps ``continuity`` of its peak within ``±tolerance`` of it (default 0.2): the network sees both pitches and
the arg-max took the wrong one. At most ``lag`` frames among any ``2 * lag + 1`` are held so (a flicker back to the
old pitch does not renew the hold); the frames after are judged by the median rule, in whose windows held frames
do not count as the track (a guess is no evidence: else two held frames and a flicker would outvote a new note).
A jump that continues the move into the previous frame (the same way, that step at least ``glide_step``, 0.3
semitones, and the jump under 5 semitones) is a glide, not held: a voice's fast scoop moves 1-2 semitones a hop, and
holding it put the curve more than a semitone behind for a frame or two.

Bridge. A jump from a track (as above) is a glitch too when the look-ahead sees a voiced frame come back within
``tolerance`` of the previous frame and the excursion, with the frames held just before it, lasts at most
``bridge`` frames (3): the median rule cannot see it once frames of the same excursion were held (they do not count),
as in a 3-frame octave error in noise whose first frame the continuity rule held (the window 60 72 72 60 has no
majority). It is decoded again near the previous pitch and counts as held. The bound keeps the guarantee below: a new
note whose frames flicker back to the old one is held at most ``lag`` frames by the continuity rule and at most
``bridge`` in all.

Why it does not lag: a note change is a step; in a window centred on a frame of the new note, the new note's frames
are the majority or the frame agrees with the median anyway (the median of a step is the step), so the median rule
modifies no frame of a real change, however large the interval (the continuity rule can, within its bound below). A
glide or a vibrato moves by much less than ``tolerance`` between neighbouring frames, so the median stays within the
tolerance of the centre. Only a run of at most ``lag``
frames that leaves the track and comes back is corrected. The price of the recursion: a wrong frame among the first
frames of a new note (60 60 72 72 60 72 72) can hold the note's first frames on the old one (60 60 60 60 60 72 72)
until the new note has the window's majority on its own: a change can come up to ``lag`` frames late there. The
continuity rule has the same bound: a new note whose distribution still holds the old pitch (a fall of an octave, whose
second harmonic is the old note) is held at most ``lag`` frames. Measured on the live benchmark's dev seeds 7000 and
9100 (``benchmarks/results/glitch_tuning_seed*.txt``; the live preset's frames, mirror 0.95): spikes per voiced
minute 1.96 -> 0.79 and 1.52 -> 1.89 (-3 and +1 spikes), RPA +0.05 and +0.09, frames at a note change still on the
old note +0.08 and +0.04 per change (of the first five); with ``tracker-1`` 1.57 -> 0.79 and 4.17 -> 2.65. The bridge
rule and the glide exception, on the same seeds (``benchmarks/results/glitch_bridge_seed*.txt``): 0.79 -> 0.39 and
1.89 -> 1.52, RPA +0.04 and 0.00, late frames -0.02 and 0.00; ``tracker-1`` 0.79 -> 0.79 and 2.65 -> 2.27.

The streaming filter (:class:`GlitchFilter`) emits frame ``t`` when frame ``t + lag`` has arrived: ``lag`` hops of
extra latency. The offline form (:func:`remove_glitches`) applies the identical rule to a whole track (the first and
last ``lag`` frames see a one-sided window, as at the end of a stream).

The streaming filter also makes each frame's voicing decision over the same window (:mod:`pesto_core.voicing`:
medians of the confidence and of the peak mass): the look-ahead serves both, so the decision costs no latency.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from .errors import ParameterError
from .validation import check_gate
from .voicing import decide, peak_mass, voiced_track

DEFAULT_LAG = 2  # frames of look-ahead (2 hops: 20 ms at a 10 ms step)
DEFAULT_TOLERANCE = 0.75  # semitones: farther than this from the window's track is a jump (chosen on dev seeds)
# shares of a frame's peak: a jump whose distribution keeps DEFAULT_CONTINUITY of it at the previous frame's pitch is
# held there; a glitch whose distribution has less than DEFAULT_SUPPORT near the track takes the track's median (both
# chosen on dev seeds 7000 and 9100 with benchmarks/live_accuracy.py's set)
DEFAULT_CONTINUITY = 0.2
DEFAULT_SUPPORT = 0.2
# a jump that continues a move of at least DEFAULT_GLIDE_STEP semitones into the previous frame, the same way and by
# less than GLIDE_MAX_JUMP, is a fast glide, which the continuity rule leaves alone (chosen on dev seeds 7000, 9100)
DEFAULT_GLIDE_STEP = 0.3
GLIDE_MAX_JUMP = 5.0
# the bridge rule corrects an excursion from a track of at most DEFAULT_BRIDGE frames that its look-ahead sees end
DEFAULT_BRIDGE = 3


def _redecode(activations: np.ndarray, centre: float, tolerance: float, share: float = 0.0) -> float:
    """Pitch (semitones) of one frame's distribution near ``centre``: arg-max within ``±tolerance`` semitones, then the
    weighted average of the ``2 * bps - 1`` bins around it; NaN if the distribution has no mass there, or if its
    largest bin there is below ``share`` of its peak (the network does not see that pitch in this frame)."""
    n_out = activations.shape[-1]
    bps = n_out // 128
    lo = max(0, int(np.ceil((centre - tolerance) * bps)))
    hi = min(n_out, int(np.floor((centre + tolerance) * bps)) + 1)
    if hi <= lo:
        return float("nan")
    peak = lo + int(np.argmax(activations[lo:hi]))
    if share > 0 and not activations[peak] >= share * float(np.max(activations)):
        return float("nan")
    a, b = max(0, peak - bps + 1), min(n_out, peak + bps)
    w = activations[a:b].astype(np.float64)
    total = w.sum()
    if not total > 1e-6:
        return float("nan")
    return float((w * np.arange(a, b)).sum() / total / bps)


def _jumps(pitch: np.ndarray, t: int, tolerance: float) -> bool:
    """Frame ``t`` jumps more than ``tolerance`` semitones from frame ``t - 1``, itself on a track (within
    ``tolerance`` of frame ``t - 2``): the premise of the continuity and the bridge rules."""
    prev = pitch[t - 1]
    if not (np.isfinite(prev) and np.isfinite(pitch[t])) or abs(pitch[t] - prev) <= tolerance:
        return False
    return bool(abs(prev - pitch[t - 2]) <= tolerance)  # else frame t - 1 is itself a jump: nothing to continue


def _gliding(pitch: np.ndarray, t: int, glide_step: float) -> bool:
    """Frame ``t``'s jump continues the move into frame ``t - 1`` (the same direction, that step at least
    ``glide_step`` semitones, the jump less than GLIDE_MAX_JUMP): a fast glide or scoop of a voice, which moves a
    semitone or two per 10 ms hop; an octave error does not ramp into its jump."""
    if not glide_step > 0:
        return False
    step, jump = pitch[t - 1] - pitch[t - 2], pitch[t] - pitch[t - 1]
    return bool(abs(step) >= glide_step and step * jump > 0 and abs(jump) < GLIDE_MAX_JUMP)


def _continue(
    pitch: np.ndarray, t: int, activations: np.ndarray, tolerance: float, continuity: float, glide_step: float
) -> Optional[float]:
    """The pitch near frame ``t - 1``'s if frame ``t`` jumps more than ``tolerance`` semitones from it while its own
    distribution still holds at least ``continuity`` of its peak within ``±tolerance`` of that pitch (an octave or
    other error whose true pitch the network still sees) and the jump is no glide (:func:`_gliding`); else None."""
    if not _jumps(pitch, t, tolerance) or _gliding(pitch, t, glide_step):
        return None
    value = _redecode(activations, pitch[t - 1], tolerance, continuity)
    return value if np.isfinite(value) else None


def _returns(
    pitch: np.ndarray, voiced: np.ndarray, held: np.ndarray, t: int, lag: int, tolerance: float, bridge: int
) -> bool:
    """Frame ``t`` jumps from the track of frames ``t - 2, t - 1`` (:func:`_jumps`) and a voiced frame among the
    next ``lag`` (the look-ahead, not yet corrected) is back within ``tolerance`` of frame ``t - 1``, so that the
    excursion -- with the frames just before ``t`` that were held on the track -- lasts at most ``bridge`` frames:
    a real note does not leave and come back so fast."""
    if not _jumps(pitch, t, tolerance):
        return False
    before = 0  # held frames just before t: the excursion's start
    while before < bridge and t - 1 - before >= 0 and held[t - 1 - before]:
        before += 1
    for j in range(1, min(lag, bridge - before) + 1):  # the excursion: `before` held frames and t .. t + j - 1
        if t + j < len(pitch) and voiced[t + j] and abs(pitch[t + j] - pitch[t - 1]) <= tolerance:
            return True
    return False


def _moved(activations: Optional[np.ndarray], track: float, tolerance: float, support: float) -> float:
    """The new pitch of a glitch whose window's track is ``track`` (semitones): decoded again near the track where its
    distribution reaches ``support`` of its peak there; else (or without activations) the track itself: a weak bin
    at the edge of the range would put the frame a semitone off the track, a spike of its own."""
    value = _redecode(activations, track, tolerance, support) if activations is not None else float("nan")
    return track if not np.isfinite(value) else value


def _judge(
    pitch: np.ndarray, members: np.ndarray, t: int, lo: int, hi: int, tolerance: float, judged: bool
) -> Optional[float]:
    """The track's pitch if frame ``t`` is a glitch in the window ``[lo, hi)``, else None. ``members`` (bool, ``hi -
    lo``): the window's frames that make the track (voiced, not held by the continuity rule); ``judged``: frame ``t``
    is voiced or shown by the window's decision (a weak frame the decision keeps must not keep its octave error)."""
    if not judged or not np.isfinite(pitch[t]):
        return None
    window = pitch[lo:hi][members]
    if len(window) < 3:
        return None
    track = float(np.median(window))
    if abs(pitch[t] - track) <= tolerance:
        return None
    agree = np.count_nonzero(np.abs(window - track) <= tolerance)
    if agree < 2 or agree <= len(window) - agree:
        return None  # no consistent majority to return to (e.g. noise): leave the frames as they are
    return track


def _correct(
    pitch: np.ndarray,
    voiced: np.ndarray,
    shown: np.ndarray,
    held: np.ndarray,
    t: int,
    activations: Optional[np.ndarray],
    lag: int,
    tolerance: float,
    continuity: float,
    support: float,
    bridge: int = 0,
    glide_step: float = 0.0,
) -> None:
    """Judge frame ``t`` and correct ``pitch[t]`` in place (the offline and the streaming filter's one step).

    pitch : float32 (frames,), the past already corrected; voiced : bool (frames,), confidence >= gate and a finite
    pitch; shown : bool (frames,), the window's voicing decision (known up to ``t``); held : bool (frames,), frames the
    continuity rule held (``held[t]`` is set here when it holds ``t``); activations : (128 * bps,) of frame ``t`` or
    None. Only frames ``t - 2 * lag .. t + lag`` are read."""
    n = len(pitch)
    lo, hi = max(0, t - lag), min(n, t + lag + 1)
    members = voiced[lo:hi] & ~held[lo:hi]  # held frames are guesses, no evidence of the track
    track = _judge(pitch, members, t, lo, hi, tolerance, bool(voiced[t] or shown[t]))
    if track is not None:
        pitch[t] = _moved(activations, track, tolerance, support)
        return
    if t < 2 or not (voiced[t - 2 : t + 1] | shown[t - 2 : t + 1]).all():
        return
    if bridge > 1 and _returns(pitch, voiced, held, t, lag, tolerance, bridge):
        # the median rule cannot see it when earlier frames of the same excursion were held (a guess is no evidence):
        # an octave error of 3-4 frames in noise, whose first frames the continuity rule held
        pitch[t] = _moved(activations, pitch[t - 1], tolerance, support)
        held[t] = True
        return
    if continuity <= 0 or activations is None:
        return
    if np.count_nonzero(held[max(0, t - 2 * lag) : t]) >= lag:
        return  # at most `lag` holds among any 2 * lag + 1 frames
    value = _continue(pitch, t, activations, tolerance, continuity, glide_step)
    if value is not None:
        pitch[t] = value
        held[t] = True


def remove_glitches(
    pitch_semitones: np.ndarray,
    confidence: np.ndarray,
    activations: Optional[np.ndarray] = None,
    *,
    gate: float = 0.5,
    lag: int = DEFAULT_LAG,
    tolerance: float = DEFAULT_TOLERANCE,
    peak_gate: float = 0.0,
    continuity: float = DEFAULT_CONTINUITY,
    support: float = DEFAULT_SUPPORT,
    bridge: int = DEFAULT_BRIDGE,
    glide_step: float = DEFAULT_GLIDE_STEP,
) -> np.ndarray:
    """The offline glitch filter: corrected pitch of a whole track (the streaming filter's pitch, frame for frame).
    Frames voiced by the window's decision (:func:`pesto_core.voicing.voiced_track` with ``gate``, ``peak_gate``
    and ``lag``) are judged too.

    Parameters
    ----------
    pitch_semitones : float (frames,)
        Decoded (or refined) pitch, MIDI semitones.
    confidence : float (frames,)
        Voicing confidence; frames below ``gate`` are neither judged nor used as the track.
    activations : float (frames, 128 * bps), optional
        Each frame's pitch distribution, to decode a glitch again near the track (else the track's median is used).
    gate, lag, tolerance :
        See the module docstring (tolerance in semitones).
    peak_gate : float
        The voicing decision's peak-mass gate (needs ``activations`` when above 0).
    continuity : float in [0, 1]
        Share of a frame's peak its distribution must keep at the previous pitch for a jump to be held there (at most
        ``lag`` frames among any ``2 * lag + 1``; 0 = off; needs ``activations``). See the module docstring.
    support : float in [0, 1]
        Share of a glitch's peak its distribution must reach near the track to be decoded again there (else it takes
        the track's median; 0 = always decoded again where there is any mass).
    bridge : int
        The bridge rule (module docstring): an excursion from a track of at most this many frames (those held just
        before it included) that the look-ahead sees come back is a glitch (0 or 1 = off).
    glide_step : float >= 0
        Semitones: a jump that continues a move of at least this into the previous frame (the same way, less than
        ``GLIDE_MAX_JUMP``) is a glide, not held by the continuity rule (0 = every jump may be held).

    Returns
    -------
    float32 (frames,): the pitch with glitches replaced (a new array)
    """
    pitch = np.asarray(pitch_semitones, dtype=np.float32)
    voiced = (np.asarray(confidence) >= gate) & np.isfinite(pitch)
    if peak_gate > 0 and activations is None:
        raise ParameterError("the glitch filter's peak gate needs the activations")
    shown = voiced_track(confidence, activations, gate=gate, peak_gate=peak_gate, lag=lag)
    continuity, support = _check_share(continuity, "continuity"), _check_share(support, "support")
    glide_step, bridge = _check_glide_step(glide_step), _check_bridge(bridge)
    out = pitch.copy()
    held = np.zeros(len(pitch), bool)  # frames held by the continuity rule
    for t in range(len(pitch)):  # each frame judged against the corrected past
        acts = None if activations is None else activations[t]
        _correct(out, voiced, shown, held, t, acts, lag, tolerance, continuity, support, bridge, glide_step)
    return out


def _check_bridge(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ParameterError(f"glitch filter bridge must be a number of frames >= 0, got {value!r}")
    return int(value)


def _check_glide_step(value: float) -> float:
    if isinstance(value, bool) or not (isinstance(value, (int, float, np.floating, np.integer)) and value >= 0):
        raise ParameterError(f"glitch filter glide step must be a number of semitones >= 0, got {value!r}")
    return float(value)


def _check_share(value: float, what: str) -> float:
    if isinstance(value, bool) or not (
        isinstance(value, (int, float, np.floating, np.integer)) and 0.0 <= float(value) <= 1.0
    ):
        raise ParameterError(f"glitch filter {what} must be a share of the peak in [0, 1], got {value!r}")
    return float(value)


class GlitchFilter:
    """The streaming glitch filter: frames in, the same frames ``lag`` frames later, glitches corrected.

    Parameters
    ----------
    n_streams : int
    gate, lag, tolerance :
        See the module docstring.
    peak_gate : float in [0, 1]
        Peak-mass gate of the voicing decision (:mod:`pesto_core.voicing`); 0 = the confidence alone.
    continuity, support : float in [0, 1]
        Shares of a frame's peak for the continuity rule and for decoding a glitch again near the track (see
        :func:`remove_glitches` and the module docstring).
    bridge, glide_step :
        The bridge rule on or off, and the glide exception of the continuity rule (see :func:`remove_glitches`).

    :meth:`push` takes a dict of per-frame arrays shaped ``(n_streams, frames, ...)`` (``frame_index``/``time_s``
    as ``(frames,)``), with at least ``pitch_semitones``, ``confidence`` and ``activations`` (and optionally
    ``input_finite``), and returns the same fields for the frames that are now final (all fields delayed alike), plus
    ``voiced`` (bool): the median over the window of the confidence ``>= gate`` and of the peak mass
    ``>= peak_gate``, on a finite input. :meth:`flush` returns the rest. ``gate`` may be changed between pushes.
    Not thread-safe: called by the stream's owner thread.
    """

    SHARED = ("time_s", "frame_index")  # fields shaped (frames,), shared by the streams
    PRIVATE = ("_peak", "_shown", "_hold")  # per-frame state held with the frames, never returned

    def __init__(
        self,
        n_streams: int = 1,
        *,
        gate: float = 0.5,
        lag: int = DEFAULT_LAG,
        tolerance: float = DEFAULT_TOLERANCE,
        peak_gate: float = 0.0,
        continuity: float = DEFAULT_CONTINUITY,
        support: float = DEFAULT_SUPPORT,
        bridge: int = DEFAULT_BRIDGE,
        glide_step: float = DEFAULT_GLIDE_STEP,
    ):
        self.continuity = _check_share(continuity, "continuity")
        self.support = _check_share(support, "support")
        self.bridge, self.glide_step = _check_bridge(bridge), _check_glide_step(glide_step)
        if not isinstance(lag, (int, np.integer)) or isinstance(lag, bool) or lag < 1:
            raise ParameterError(f"glitch filter lag must be a positive number of frames, got {lag!r}")
        if not tolerance > 0:
            raise ParameterError(f"glitch filter tolerance must be positive (semitones), got {tolerance!r}")
        self.n_streams, self.lag, self.tolerance = int(n_streams), int(lag), float(tolerance)
        self.gate, self.peak_gate = gate, peak_gate
        self.reset()

    @property
    def gate(self) -> float:
        """Confidence gate in [0, 1]; may be changed between pushes (a bad value is refused, the old one kept)."""
        return self._gate

    @gate.setter
    def gate(self, value: float) -> None:
        self._gate = check_gate(value)

    @property
    def peak_gate(self) -> float:
        """Peak-mass gate in [0, 1] (0 = the confidence alone); may be changed between pushes."""
        return self._peak_gate

    @peak_gate.setter
    def peak_gate(self, value: float) -> None:
        self._peak_gate = check_gate(value, "peak gate")

    def reset(self) -> None:
        """Forget the held frames (a new stream starts)."""
        # frames not yet emitted, plus the 2 * lag before them (the window's past and the continuity rule's count)
        self._held: Optional[Dict[str, np.ndarray]] = None
        self._n_past = 0  # how many of the held frames were already emitted (the window's past)

    def push(self, frames: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Add frames; return those ``lag`` or more frames older than the newest one, corrected."""
        return self._advance(frames, final=False)

    def flush(self) -> Optional[Dict[str, np.ndarray]]:
        """Return the frames still held (judged with the window they have), then :meth:`reset`. None if none."""
        if self._held is None or self._count() == self._n_past:
            self.reset()
            return None
        out = self._advance(None, final=True)
        self.reset()
        return out

    # ----------------------------------------------------------------------------------------------- internals
    def _count(self) -> int:
        return 0 if self._held is None else len(self._held["frame_index"])

    def _advance(self, frames: Optional[Dict[str, np.ndarray]], final: bool) -> Dict[str, np.ndarray]:
        if frames is not None:
            if "activations" in frames:  # measured once per frame, when it arrives (not again for each window)
                frames = dict(frames, _peak=peak_mass(frames["activations"]))
            blank = np.zeros((self.n_streams, len(np.asarray(frames["frame_index"]))), bool)
            frames = dict(frames, _shown=blank, _hold=blank.copy())  # decisions, once made
            if self._held is None:
                self._held = {k: np.asarray(v) for k, v in frames.items()}
            else:
                axis = {k: 0 if k in self.SHARED else 1 for k in frames}
                self._held = {
                    k: np.concatenate([self._held[k], np.asarray(v)], axis=axis[k]) for k, v in frames.items()
                }
        held = self._held
        n = self._count()
        stop = n if final else max(self._n_past, n - self.lag)  # frames [n_past, stop) become final now
        start = self._n_past
        if held is None or stop <= start:
            out = self._slice(held, start, start)
            for k in self.PRIVATE:
                out.pop(k, None)
            if out:
                out["voiced"] = np.zeros((self.n_streams, 0), bool)
            return out
        # the held past frames already carry their corrected pitch: each frame is judged against corrected past
        pitch = held["pitch_semitones"].astype(np.float32, copy=True)
        conf, acts = held["confidence"], held.get("activations")
        finite = held.get("input_finite")
        if self.peak_gate > 0 and acts is None:
            raise ParameterError("the glitch filter's peak gate needs the activations")
        peak = held["_peak"] if self.peak_gate > 0 else None
        voiced_out = np.zeros((self.n_streams, stop - start), bool)
        shown_all, hold_all = held["_shown"].copy(), held["_hold"].copy()
        for s in range(self.n_streams):
            voiced = (conf[s] >= self.gate) & np.isfinite(held["pitch_semitones"][s])
            for t in range(start, stop):
                lo, hi = max(0, t - self.lag), min(n, t + self.lag + 1)
                pk = float(np.median(peak[s, lo:hi])) if peak is not None else 1.0
                shown = bool(decide(float(np.median(conf[s, lo:hi])), pk, self.gate, self.peak_gate))
                voiced_out[s, t - start] = shown_all[s, t] = shown
                a = None if acts is None else acts[s, t]
                _correct(
                    pitch[s], voiced, shown_all[s], hold_all[s], t, a,
                    self.lag, self.tolerance, self.continuity, self.support, self.bridge, self.glide_step,
                )  # fmt: skip
        if finite is not None:
            voiced_out &= np.asarray(finite)[:, start:stop]
        held = dict(held, pitch_semitones=pitch, _shown=shown_all, _hold=hold_all)
        out = self._slice(held, start, stop)
        for k in self.PRIVATE:
            out.pop(k, None)
        out["voiced"] = voiced_out
        # keep 2 * lag emitted frames (at least 2, and the bridge rule's `bridge`) as the next frames' past, and the
        # frames not yet final
        keep_from = max(0, stop - max(2 * self.lag, self.bridge, 2))
        self._held = self._slice(held, keep_from, n)
        self._n_past = stop - keep_from
        return out

    def _slice(self, held: Optional[Dict[str, np.ndarray]], a: int, b: int) -> Dict[str, np.ndarray]:
        if held is None:
            return {}
        return {k: (v[a:b] if k in self.SHARED else v[:, a:b]) for k, v in held.items()}
