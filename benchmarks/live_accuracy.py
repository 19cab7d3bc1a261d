"""Live-mode accuracy: raw pitch accuracy, voicing and glitches of the streaming engine against the offline engine,
for each latency mode (mirror), with and without the glitch filter, per condition and sample rate.

Run:  python3 benchmarks/live_accuracy.py [--phrases N] [--seed S] [--models mir-1k_g7 ...] [--mirrors 1 0.5 ...]
      python3 benchmarks/live_accuracy.py --seed 7000 --variants '[{"continuity": 0}, {}]' --mirrors
          (glitch-filter settings side by side on the live preset's frames; the main tables skipped with no mirrors)

Evaluation set (synthesised here, reproducible from the seed; seeds 7000+ are used by no training run): phrases of
3-5 s at 16, 44.1 and 48 kHz, each a sequence of notes and rests. Notes: harmonic tones with random timbres (1-20
harmonics, random slope, a weak fundamental one time in five), steady, with vibrato (+-50 cents, 5-7 Hz) or gliding
(2-12 semitones), f0 50-1500 Hz, joined legato or separated by rests of 0.1-0.5 s; or voice-like notes (glottal
source, moving formants, vibrato, drift, jitter, breath noise; pitch_accuracy.voice_note). Rests hold silence with a
little noise. Conditions: ``clean``, ``noise 20 dB``, ``noise 10 dB``, ``noise 0 dB`` (white or pink noise over the
whole phrase), ``voice``.

Ground truth: the f0 at each frame's own centre sample (every engine is scored on its own frame times, no
interpolation); frames within 20 ms of a voicing boundary or of a legato note change are left out (their window
straddles two states).

Engines: ``offline`` (the file engine, voiced = confidence >= 0.5); ``live`` (``PitchStream`` at that mirror,
voiced = confidence >= 0.5); ``live + glitch filter`` (the same with the glitch filter: voiced = the median
confidence over the filter's window >= 0.5, no peak gate); ``live preset`` (``live_stream(sr, mirror=...)``: the
glitch filter and the preset's voicing decision, ``StreamFrames.voiced``: median confidence >= 0.5 and median peak
mass >= 0.5 over the filter's window).

Scores (mir_eval conventions, voiced = the engine's voicing decision): RPA and RCA (within 50
cents, chroma for RCA) on reference-voiced frames, ``<10c`` (within 10 cents), OA (overall accuracy), voicing recall
and false-alarm rate, and false spikes per voiced minute: runs of 1-3 estimated-voiced frames more than a semitone off
the reference, with correct frames (within 50 cents) on both sides. Latency: frame centre to the newest sample it
needed, plus the glitch filter's look-ahead, at 48 kHz with a 10 ms step. With ``--variants``: the preset's frames
(at the preset's mirror) through the glitch filter with other settings (``glitch.remove_glitches`` keyword
arguments; the offline form gives the stream's numbers), scored as above plus "late": of the first five frames after
each reference note
change of more than a semitone, how many are still within 50 cents of the old note (a filter that lags changes
raises it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from melody_metrics import metrics  # noqa: E402
from pitch_accuracy import harmonic_signal, random_timbre, smooth_noise, voice_note  # noqa: E402

from pesto_core.bundled import bundled_models  # noqa: E402
from pesto_core.core import load_model  # noqa: E402
from pesto_core.decode import reduce_activations  # noqa: E402
from pesto_core.glitch import remove_glitches  # noqa: E402
from pesto_core.refine import refine_signal  # noqa: E402
from pesto_core.stream import LIVE_DEFAULTS, PitchStream, live_stream  # noqa: E402
from pesto_core.units import hz_to_semitones, semitones_to_hz  # noqa: E402
from pesto_core.voicing import voiced_track  # noqa: E402

SAMPLE_RATES = (16000, 44100, 48000)
CONDITIONS = ("clean", "noise 20 dB", "noise 10 dB", "noise 0 dB", "voice")
STEP_MS = 10.0
GATE = 0.5
GUARD_S = 0.02


# ------------------------------------------------------------------------------------------------ evaluation set
def _note_f0(kind: str, n: int, sr: int, rng: np.random.Generator, f_c: float) -> np.ndarray:
    t = np.arange(n) / sr
    if kind == "vibrato":
        return f_c * 2 ** (0.5 * np.sin(2 * np.pi * rng.uniform(5, 7) * t + rng.uniform(0, 2 * np.pi)) / 12)
    if kind == "glide":
        span = rng.uniform(2, 12) * rng.choice([-1, 1])
        return f_c * 2 ** (-span / 24) * 2 ** (span * t / t[-1] / 12)
    return np.full(n, f_c)


def _noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    if kind == "white":
        return white
    spec = np.fft.rfft(white)
    spec[1:] /= np.sqrt(np.arange(1, len(spec)))  # pink: 1/f power
    spec[0] = 0
    return np.fft.irfft(spec, n)


def phrase(condition: str, sr: int, rng: np.random.Generator):
    """One phrase: (x float32 (samples,), f0_hz float64 (samples,), 0 where unvoiced)."""
    total = int(rng.uniform(3.0, 5.0) * sr)
    x, f0 = np.zeros(total), np.zeros(total)
    pos = int(rng.uniform(0.1, 0.4) * sr)
    register = 50 * (1500 / 50) ** rng.uniform(0.1, 0.9)  # the phrase's centre, 50..1500 Hz overall
    while pos < total - int(0.3 * sr):
        n = min(total - pos, int(rng.uniform(0.25, 0.9) * sr))
        if condition == "voice":
            voice, vf0 = voice_note(sr, rng)
            m = min(n, len(voice))
            seg, sf0 = voice[:m] / (np.abs(voice[:m]).max() + 1e-9), vf0[:m]
            ok = (sf0 > 50) & (sf0 < 1500)
            seg, sf0 = seg * ok, sf0 * ok
        else:
            f_c = float(np.clip(register * 2 ** (rng.integers(-7, 8) / 12), 50, 1500))
            sf0 = _note_f0(str(rng.choice(["steady", "steady", "vibrato", "glide"])), n, sr, rng, f_c)
            sf0 = np.clip(sf0, 50, 1500)
            seg = harmonic_signal(sf0, sr, random_timbre(rng), rng.uniform(0, 2 * np.pi, 20))
            seg /= np.abs(seg).max() + 1e-9
        m = len(seg)
        ramp = np.minimum(1.0, np.minimum(np.arange(m), np.arange(m)[::-1]) / (0.01 * sr))  # 10 ms edges
        x[pos : pos + m] = seg * ramp * rng.uniform(0.2, 1.0)
        f0[pos : pos + m] = sf0
        pos += m + (int(rng.uniform(0.1, 0.5) * sr) if rng.random() < 0.6 else 0)  # legato or a rest
    level = np.sqrt(np.mean(x[f0 > 0] ** 2)) if (f0 > 0).any() else 0.1
    if condition.startswith("noise"):
        snr = float(condition.split()[1])
        noise = _noise(str(rng.choice(["white", "pink"])), total, rng)
        x = x + noise * level / np.sqrt(np.mean(noise**2)) / 10 ** (snr / 20)
    else:
        x = x + 1e-3 * level * smooth_noise(total, sr, 4000.0, rng)  # room tone in the rests
    x = x / (np.abs(x).max() + 1e-9) * rng.uniform(0.1, 0.8)
    return x.astype(np.float32), f0


def make_set(n_phrases: int, seed: int):
    """[(condition, sr, x, f0)] with ``n_phrases`` per condition and sample rate."""
    rng = np.random.default_rng(seed)
    return [(c, sr) + phrase(c, sr, rng) for c in CONDITIONS for sr in SAMPLE_RATES for _ in range(n_phrases)]


def reference(f0: np.ndarray, centres: np.ndarray, sr: int):
    """(f0 at each frame centre (0 = unvoiced), keep mask excluding frames near voicing boundaries)."""
    idx = np.clip(centres, 0, len(f0) - 1)
    ref = np.where((centres >= 0) & (centres < len(f0)), f0[idx], 0.0)
    voiced = f0 > 0
    st = 12 * np.log2(np.where(voiced, f0, 1.0))
    jumps = voiced[1:] & voiced[:-1] & (np.abs(np.diff(st)) > 0.3)  # legato note changes (glides move far less)
    edges = np.flatnonzero(np.diff(voiced.astype(np.int8)) | jumps) + 0.5
    keep = np.ones(len(centres), bool)
    if len(edges):
        dist = np.min(np.abs(centres[:, None] - edges[None, :]), axis=1)
        keep = dist > GUARD_S * sr
    return ref, keep


# ------------------------------------------------------------------------------------------------ engines
def offline(model, x: np.ndarray, sr: int):
    """(centres (frames,), pitch semitones, confidence) of the offline engine with refinement."""
    model.set_sample_rate(sr)
    with torch.inference_mode():
        out = model._analyse_array(x)
        pitch = reduce_activations(out["activations"], "alwa").numpy()
    pitch = refine_signal(
        x,
        pitch,
        sr=sr,
        hop_length=model.hop_length,
        kernel_width=model.vqt.kernel_width,
        bins_per_semitone=model.bins_per_semitone,
    )
    return np.arange(len(pitch)) * model.hop_length, pitch, out["confidence"].numpy()


def streaming(model, x: np.ndarray, sr: int, mirror: float, smooth: bool, preset: bool = False, acts: bool = False):
    """(centres, pitch, voiced, latency in seconds[, confidence, activations]) of PitchStream fed hop-sized blocks:
    refined, at ``mirror``; ``preset``: :func:`live_stream` (its glitch filter and voicing decision), else a plain
    stream with the confidence gate (and the glitch filter if ``smooth``)."""
    m = model_for(model, sr)
    if preset:
        s = live_stream(sr, model=m, mirror=mirror)
    else:
        s = PitchStream(sr, model=m, mirror=mirror, refine=True, smooth=smooth, gate=GATE)
    hop = s.hop_length
    parts = [s.push(x[i : i + hop]) for i in range(0, len(x), hop)] + [s.flush()]
    k = np.concatenate([p.frame_index for p in parts])
    centres = s.geometry.centre(k)
    out = (
        centres,
        np.concatenate([p.pitch_semitones for p in parts]),
        np.concatenate([p.voiced for p in parts]),
        s.latency_s,
    )
    if acts:
        out += (np.concatenate([p.confidence for p in parts]), np.concatenate([p.activations for p in parts]))
    return out


_models = {}


def model_for(name: str, sr: int):
    key = (name, sr)
    if key not in _models:
        m = load_model(name, STEP_MS)
        m.set_sample_rate(sr)
        _models[key] = m
    return _models[key]


# ------------------------------------------------------------------------------------------------ scores
def spike_runs(err_cents: np.ndarray, est_voiced: np.ndarray) -> list:
    """``[(start, stop)]`` of the runs of 1-3 est-voiced frames more than 100 cents off with correct (< 50 c) frames
    on both sides (indices into the arrays given)."""
    bad = (np.abs(err_cents) > 100) & est_voiced
    good = np.abs(err_cents) < 50
    runs, t, n = [], 0, len(bad)
    while t < n:
        if bad[t]:
            u = t
            while u < n and bad[u]:
                u += 1
            if u - t <= 3 and t > 0 and u < n and good[t - 1] and good[u]:
                runs.append((t, u))
            t = u
        else:
            t += 1
    return runs


def row_spikes(ref_hz: np.ndarray, est: np.ndarray, voiced: np.ndarray, keep: np.ndarray) -> list:
    """The false spikes of one phrase (its scored frames: ``keep`` and reference-voiced) as ``[(first, last)]``
    frame indices of the phrase."""
    rv = ref_hz > 0
    err = np.where(rv, 100 * (est - hz_to_semitones(np.where(rv, ref_hz, 1.0))), np.nan)
    sel = np.flatnonzero(keep & rv)
    runs = spike_runs(np.nan_to_num(err[sel], nan=0.0), np.asarray(voiced, bool)[sel])
    return [(int(sel[a]), int(sel[b - 1])) for a, b in runs]


def score(rows):
    """rows: list of (ref_hz, est_semitones, est_voiced (bool), keep). Returns a dict of the metrics (percentages)."""
    ref = np.concatenate([r[0][r[3]] for r in rows])
    est = np.concatenate([r[1][r[3]] for r in rows]).astype(np.float64)
    voiced = np.concatenate([r[2][r[3]] for r in rows]).astype(bool)
    n_spikes = sum(len(row_spikes(*row)) for row in rows)
    m = metrics(ref, semitones_to_hz(est), voiced)  # mir_eval.melody, as benchmarks/model_accuracy.py
    voiced_min = np.sum(ref > 0) * STEP_MS / 1000 / 60
    return dict(
        rpa=m["RPA"],
        rca=m["RCA"],
        w10=m["c10"],
        oa=m["OA"],
        recall=m["VR"],
        fa=m.get("VFA", 0.0),
        spikes=n_spikes / voiced_min,
    )


def late_frames(rows) -> float:
    """Mean count, over reference note changes of more than a semitone between frames, of the first five frames after
    the change whose estimate is still within 50 cents of the old note."""
    late = changes = 0
    for ref_hz, est, _, _ in rows:
        rs = np.where(ref_hz > 0, hz_to_semitones(np.where(ref_hz > 0, ref_hz, 1.0)), np.nan)
        for k in np.flatnonzero(np.abs(np.diff(rs)) > 1.0) + 1:
            if k + 5 > len(rs) or np.isnan(rs[k : k + 5]).any():
                continue
            changes += 1
            late += int(np.sum(np.abs(est[k : k + 5] - rs[k - 1]) < 0.5))
    return late / max(changes, 1)


def glitch_variants(models, data, variants) -> None:
    """Print the table of glitch-filter settings (``remove_glitches`` keyword arguments) on the preset's frames."""
    lag, gate, peak_gate = LIVE_DEFAULTS["smooth_lag"], LIVE_DEFAULTS["gate"], LIVE_DEFAULTS["peak_gate"]
    mirror = LIVE_DEFAULTS["mirror"]
    print(
        f"\n# glitch filter settings on the live preset's frames (mirror {mirror:g}; gate, peak gate and lag of the "
        "preset): RPA, OA, spikes per voiced minute, late frames per note change; spikes per condition"
    )
    print("| model | settings | RPA | OA | spikes/min | late | " + " | ".join(CONDITIONS) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(CONDITIONS))
    for name in models:
        raw = []
        for cond, sr, x, f0 in data:
            centres, pitch, _, _, conf, act = streaming(name, x, sr, mirror, False, acts=True)
            ref, keep = reference(f0, centres, sr)
            raw.append((cond, ref, pitch, conf, act, keep))
        for kw in variants:
            rows, by_cond = [], {}
            for cond, ref, pitch, conf, act, keep in raw:
                p = remove_glitches(pitch, conf, act, gate=gate, peak_gate=peak_gate, lag=lag, **kw)
                row = (ref, p, voiced_track(conf, act, gate=gate, peak_gate=peak_gate, lag=lag), keep)
                rows.append(row)
                by_cond.setdefault(cond, []).append(row)
            s = score(rows)
            label = json.dumps(kw) if kw else "defaults"
            cells = " | ".join(f"{score(by_cond[c])['spikes']:.1f}" for c in CONDITIONS)
            print(
                f"| {name} | {label} | {s['rpa']:.2f} | {s['oa']:.2f} | {s['spikes']:.2f} | {late_frames(rows):.3f} | "
                f"{cells} |",
                flush=True,
            )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phrases", type=int, default=4, help="phrases per condition and sample rate")
    p.add_argument("--seed", type=int, default=7000)
    p.add_argument("--models", nargs="+", default=None, help="default: every bundled model")
    p.add_argument("--mirrors", type=float, nargs="*", default=[1.0, 0.9, 0.75, 0.5, 0.0])
    p.add_argument(
        "--variants",
        type=json.loads,
        default=None,
        help="JSON list of glitch-filter settings to compare, e.g. '[{\"continuity\": 0}, {}]' ({} = the defaults)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--gates",
        type=float,
        nargs="+",
        default=[0.3, 0.5, 0.7],
        help="confidence gates swept for the live preset's voicing decision (at --sweep-mirror, glitch filter on)",
    )
    p.add_argument(
        "--sweep-mirror",
        type=float,
        default=LIVE_DEFAULTS["mirror"],
        help="latency mode of the voicing sweep (default: the preset's; tables before 2026-12-03 used 1)",
    )
    p.add_argument(
        "--peak-gates",
        type=float,
        nargs="+",
        default=[0.0, 0.3, 0.5, 0.6],
        help="peak-mass gates swept with them (0 = the confidence alone)",
    )
    args = p.parse_args()
    if args.variants is not None and not (
        isinstance(args.variants, list) and all(isinstance(v, dict) for v in args.variants)
    ):
        p.error("--variants takes a JSON list of settings objects, e.g. '[{\"continuity\": 0}, {}]'")
    torch.set_num_threads(args.threads)
    models = args.models or bundled_models()
    data = make_set(args.phrases, args.seed)
    secs = sum(len(x) / sr for _, sr, x, _ in data)
    print(
        f"# live_accuracy: {len(data)} phrases ({secs / 60:.1f} min) seed {args.seed}, step {STEP_MS:g} ms, "
        f"gate {GATE}, refinement on; torch threads {args.threads}"
    )
    if args.variants:
        glitch_variants(models, data, args.variants)
    if not args.mirrors:
        return 0
    header = (
        "| model | engine | mirror | latency @48k (ms) | RPA | RCA | <10c | OA | recall | FA | spikes/min |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    per_cond = []
    print(header)
    for name in models:
        configs = [("offline", None, False)] + [
            (e, m, s) for m in args.mirrors for e, s in (("live", False), ("live", True), ("preset", True))
        ]
        for engine, mirror, smooth in configs:
            t0 = time.perf_counter()
            rows, by_cond, by_sr, latency = [], {}, {}, 0.0
            for cond, sr, x, f0 in data:
                m = model_for(name, sr)
                if engine == "offline":
                    centres, pitch, conf = offline(m, x, sr)
                    voiced, lat = conf >= GATE, float("nan")
                else:
                    centres, pitch, voiced, lat = streaming(name, x, sr, mirror, smooth, preset=engine == "preset")
                if sr == 48000:
                    latency = lat
                ref, keep = reference(f0, centres, sr)
                row = (ref, pitch, voiced, keep)
                rows.append(row)
                by_cond.setdefault(cond, []).append(row)
                by_sr.setdefault(sr, []).append(row)
            s = score(rows)
            label = {"offline": "offline", "preset": "live preset"}.get(engine) or (
                "live + glitch filter" if smooth else "live"
            )
            lat_ms = "-" if engine == "offline" else f"{1000 * latency:.0f}"
            mir = "-" if mirror is None else f"{mirror:g}"
            print(
                f"| {name} | {label} | {mir} | {lat_ms} | {s['rpa']:.1f} | {s['rca']:.1f} | {s['w10']:.1f} | "
                f"{s['oa']:.1f} | {s['recall']:.1f} | {s['fa']:.1f} | {s['spikes']:.2f} |",
                flush=True,
            )
            per_cond.append(
                (
                    name,
                    label,
                    mir,
                    {c: score(v) for c, v in by_cond.items()},
                    {sr: score(v) for sr, v in by_sr.items()},
                    time.perf_counter() - t0,
                )
            )
    lag = LIVE_DEFAULTS["smooth_lag"]
    print(
        f"\n# voicing of the live preset (mirror {args.sweep_mirror:g}, glitch filter) against the confidence gate and "
        "the peak-mass gate (voicing.voiced_track, lag 2: the stream's own decision): recall / false alarms / OA / "
        "spikes per minute"
    )
    print("| model | gate | " + " | ".join(f"peak gate {h:g}" for h in args.peak_gates) + " |")
    print("|---|---|" + "---|" * len(args.peak_gates))
    for name in models:
        runs = []
        for cond, sr, x, f0 in data:
            centres, pitch, _, _, conf, act = streaming(name, x, sr, args.sweep_mirror, True, preset=True, acts=True)
            ref, keep = reference(f0, centres, sr)
            runs.append((ref, pitch, conf, act, keep))
        for g in args.gates:
            cells = []
            for h in args.peak_gates:
                rows = [(r, p_, voiced_track(c, a, gate=g, peak_gate=h, lag=lag), k) for r, p_, c, a, k in runs]
                sg = score(rows)
                cells.append(f"{sg['recall']:.1f} / {sg['fa']:.1f} / {sg['oa']:.1f} / {sg['spikes']:.1f}")
            print(f"| {name} | {g:g} | " + " | ".join(cells) + " |")
    print("\n# per condition and sample rate: RPA / OA / spikes per voiced minute")
    cols = list(CONDITIONS) + [f"{sr / 1000:g} kHz" for sr in SAMPLE_RATES]
    print("| model | engine | mirror | " + " | ".join(cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for name, label, mir, conds, srs, _ in per_cond:
        cells = [f"{conds[c]['rpa']:.1f} / {conds[c]['oa']:.1f} / {conds[c]['spikes']:.1f}" for c in CONDITIONS]
        cells += [f"{srs[sr]['rpa']:.1f} / {srs[sr]['oa']:.1f} / {srs[sr]['spikes']:.1f}" for sr in SAMPLE_RATES]
        print(f"| {name} | {label} | {mir} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
