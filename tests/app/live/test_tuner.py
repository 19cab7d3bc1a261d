"""Tuner maths: nearest note and cents, A4 reference, transposition, hysteresis and hold."""

import math

import numpy as np
import pytest

from app.live.tuner import TRANSPOSITIONS, TunerFilter, note_label
from pesto_core.units import hz_to_semitones, reference_shift, semitones_to_hz


def tuner_reading(pitch_semitones: float, a4_hz: float = 440.0, transposition: int = 0):
    """What the tuner shows for one voiced frame of the engine's pitch: the path the live session takes."""
    f = TunerFilter(smooth_s=0.0)
    f.set_reference(a4_hz, transposition)
    f.feed(np.array([0.0]), np.array([pitch_semitones], np.float32), np.array([True]))
    return f.reading


@pytest.mark.parametrize(
    "f0, a4, name, cents",
    [
        (440.0, 440.0, "A4", 0.0),
        (261.6256, 440.0, "C4", 0.0),
        (415.0, 415.0, "A4", 0.0),  # baroque pitch: 415 Hz is an in-tune A
        (415.0, 440.0, "G\u266f4", -1.3),  # ... and a slightly flat G# at modern pitch
        (466.0, 466.0, "A4", 0.0),
        (446.0, 440.0, "A4", 23.4),
        (27.5, 440.0, "A0", 0.0),
    ],
)
def test_note_and_cents(f0, a4, name, cents):
    r = tuner_reading(float(hz_to_semitones(f0)), a4_hz=a4)  # engine pitch is relative to 440 Hz
    letter, octave = note_label(r.note)
    assert f"{letter}{octave}" == name == r.name
    assert r.cents == pytest.approx(cents, abs=0.05)


def test_reference_and_conversions_round_trip():
    assert reference_shift(440.0) == 0.0
    assert reference_shift(415.0) == pytest.approx(12 * math.log2(440 / 415))
    f = np.array([55.0, 440.0, 1000.0])
    np.testing.assert_allclose(semitones_to_hz(hz_to_semitones(f, 432.0), 432.0), f, rtol=1e-12)


@pytest.mark.parametrize(
    "instrument, concert, written",
    [
        ("Concert (C)", 60, "C4"),
        ("B\u266d instrument", 58, "C4"),  # a B-flat clarinet's written C sounds B-flat
        ("E\u266d instrument", 51, "C4"),  # alto sax: written C sounds the E-flat a major sixth below
        ("F instrument", 53, "C4"),  # horn: written C sounds the F a fifth below
    ],
)
def test_transposition(instrument, concert, written):
    r = tuner_reading(float(concert), 440.0, TRANSPOSITIONS[instrument])
    assert "".join(map(str, note_label(r.note))) == written
    assert r.cents == pytest.approx(0.0, abs=1e-9)
    assert r.f0_hz == pytest.approx(float(semitones_to_hz(float(concert))), rel=1e-6)  # concert Hz, not written


def test_filter_holds_against_jitter_and_switches_after_hold():
    f = TunerFilter(hold_s=0.06, smooth_s=0.0, release_s=0.15, margin_cents=8.0)
    t = 0.0
    # A4 with jitter across the A/A# boundary by up to 55 cents: stays A4
    for k in range(50):
        r = f.update(t, 69.0 + (0.55 if k % 2 else 0.1), 440.0, True)
        assert r.note == 69
        t += 0.01
    # a real move to B4: switches only after the hold time, blank until then (A4 no longer describes the pitch)
    switched_at = None
    for k in range(20):
        r = f.update(t, 71.0, 493.9, True)
        if r is not None and r.note == 71 and switched_at is None:
            switched_at = k
        if switched_at is None:
            assert r is None
        t += 0.01
    assert switched_at is not None and 0.05 <= switched_at * 0.01 <= 0.08
    assert f.reading.cents == pytest.approx(0.0, abs=1e-9)


def test_filter_blank_after_release_but_not_on_short_gaps():
    f = TunerFilter(hold_s=0.06, smooth_s=0.05, release_s=0.15)
    for k in range(20):
        f.update(k * 0.01, 60.2, 264.6, True)
    assert f.reading.note == 60 and f.reading.cents == pytest.approx(20.0, abs=0.5)
    assert f.update(0.25, math.nan, 0.0, False) is not None  # 60 ms gap: still shown
    assert f.update(0.40, math.nan, 0.0, False) is None  # 210 ms: blank
    r = f.update(0.41, 64.0, 329.6, True)  # new note starts at once after a rest
    assert r.note == 64 and r.name == "E4"


def test_filter_smooths_cents():
    f = TunerFilter(smooth_s=0.05)
    f.update(0.0, 69.0, 440.0, True)
    r = f.update(0.01, 69.3, 447.7, True)  # a 30-cent step, 10 ms later: partly followed
    assert 0 < r.cents < 30
    for k in range(2, 60):
        r = f.update(k * 0.01, 69.3, 447.7, True)
    assert r.cents == pytest.approx(30.0, abs=0.1)


# ------------------------------------------------------------------------------------------------ never lies
def play(f, times, pitches, voiced=None):
    """Feed written pitches; return the readings (None = blank), one per frame."""
    voiced = np.ones(len(times), bool) if voiced is None else voiced
    return [f.update(float(t), float(p), float(semitones_to_hz(p)), bool(v)) for t, p, v in zip(times, pitches, voiced)]


def assert_truthful(readings, pitches, tolerance_cents, lag_frames=0):
    """Every reading names a note within +-50 cents, and note + cents is the pitch (within the tolerance) or, with
    smoothing, lies within the range the pitch took over the last ``lag_frames`` frames."""
    pitches = np.asarray(pitches, dtype=np.float64)
    for i, r in enumerate(readings):
        if r is None:
            continue
        assert -50.0 <= r.cents <= 50.0
        recent = pitches[max(0, i - lag_frames) : i + 1]
        shown = r.note + r.cents / 100.0
        tol = tolerance_cents / 100.0
        assert recent.min() - tol <= shown <= recent.max() + tol, (r, pitches[i])


def test_fast_run_names_every_note_and_never_a_wrong_one():
    """A chromatic run up and down, 80 ms a note (12.5 notes a second): the old filter read G#3 +164 c here."""
    f = TunerFilter(hold_s=0.06, smooth_s=0.0, margin_cents=8.0)
    notes = list(range(55, 67)) + list(range(67, 54, -1))
    t = np.arange(len(notes) * 8) * 0.01
    p = np.repeat(np.array(notes, float), 8) + 0.1  # 10 cents sharp
    readings = play(f, t, p)
    assert_truthful(readings, p, tolerance_cents=0.01)
    named = [r.note for r in readings if r is not None]
    assert [n for i, n in enumerate(named) if i == 0 or named[i - 1] != n] == notes  # each note, in order


def test_glide_over_several_semitones_never_shows_more_than_50_cents():
    f = TunerFilter(hold_s=0.06, smooth_s=0.05, margin_cents=8.0)
    t = np.arange(150) * 0.01
    p = 57.0 + np.clip((t - 0.3) / 0.6, 0, 1) * 7.0  # A3 -> E4 in 0.6 s, then held
    readings = play(f, t, p)
    assert_truthful(readings, p, tolerance_cents=8.0, lag_frames=15)  # the 50 ms smoothing lags a glide
    assert readings[-1].note == 64 and abs(readings[-1].cents) < 1.0
    assert all(r is not None for r in readings[:30])  # the held A3 before the glide


def test_wide_vibrato_stays_one_note():
    f = TunerFilter(hold_s=0.06, smooth_s=0.0, margin_cents=8.0)
    t = np.arange(200) * 0.01
    p = 69.0 + 0.5 * np.sin(2 * np.pi * 6.0 * t)  # +-50 cents around A4
    readings = play(f, t, p)
    assert all(r is not None and r.note == 69 for r in readings)
    assert_truthful(readings, p, tolerance_cents=0.01)


def test_octave_jump_blanks_for_at_most_the_hold_then_names_the_new_octave():
    f = TunerFilter(hold_s=0.06, smooth_s=0.05, margin_cents=8.0)
    t = np.arange(60) * 0.01
    p = np.where(t < 0.3, 57.0, 69.0)
    readings = play(f, t, p)
    blank = [i for i, r in enumerate(readings) if r is None]
    assert blank and min(blank) == 30 and len(blank) <= 6
    assert all(r.note == 57 for r in readings[:30]) and all(r.note == 69 for r in readings[37:])
    assert_truthful(readings, p, tolerance_cents=0.01)


def test_noise_between_notes_does_not_reach_the_readout():
    f = TunerFilter(hold_s=0.06, smooth_s=0.05, release_s=0.15, margin_cents=8.0)
    rng = np.random.default_rng(0)
    t = np.arange(100) * 0.01
    p = np.where(t < 0.3, 62.0, np.where(t < 0.7, rng.uniform(30, 100, 100), 65.0))
    voiced = (t < 0.3) | (t >= 0.7)
    readings = play(f, t, p, voiced)
    assert all(r.note == 62 for r in readings[:30])
    assert all(r is None for r in readings[46:70])  # blank once the release time has passed
    assert all(r is not None and r.note == 65 for r in readings[70:])
    assert_truthful([r if v else None for r, v in zip(readings, voiced)], p, tolerance_cents=0.01)
