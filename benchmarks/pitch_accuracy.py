"""Pitch accuracy of PESTO's decoding with and without the cent-precise refinement, on signals with exact ground truth.

Run:  python3 benchmarks/pitch_accuracy.py [--notes N] [--seed S] [--stream] [--timing]

Test set (all synthesised here, reproducible from the seed; f0 known at every sample):

* ``steady <sr>``: harmonic tones, f0 log-uniform in 55..1760 Hz (any offset from the equal-tempered grid), random
  timbre (1-20 harmonics, spectral slope, random phases, fundamental sometimes 20 dB weaker), at 16, 22.05, 44.1 and
  48 kHz;
* ``vibrato``: the same tones (f0 82..880 Hz) with a 5-7 Hz, +-50 cent sinusoidal vibrato;
* ``glide``: glides of 2-12 semitones up or down over the note (linear in semitones), f0 82..880 Hz;
* ``noisy``: tones (steady, vibrato or glide) plus white noise at 10-30 dB SNR;
* ``voice``: resynthesised voice-like signals: a glottal-like source (-12 dB/octave) shaped by five vowel formants
  that move between vowels, an f0 contour with note changes (portamento), vibrato, slow random drift and jitter,
  plus breath noise; 80..700 Hz;
* ``mixed``: all frames of noisy + voice + vibrato + glide together.

Each note is analysed as its own signal (1 s); frames whose centre is within 0.1 s of either end are left out (the
VQT window there reaches into the reflect padding). All scored frames are voiced.

Scores per condition, for ``alwa`` (PESTO's published decoding; our engine reproduces upstream pesto-pitch 2.0.1's
numbers, see tests/core/test_golden.py) and ``alwa+refine`` (:mod:`pesto_core.refine`): median and 95th percentile
of the absolute error in cents, share of frames within 10 and within 50 cents.

``--stream`` also scores the streaming engine (PitchStream) with and without refinement; ``--timing`` measures the
offline cost of the refinement (median of repeated runs) and its per-hop cost in streaming.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from pesto_core.core import load_model  # noqa: E402
from pesto_core.decode import reduce_activations  # noqa: E402
from pesto_core.refine import refine_pitch  # noqa: E402
from pesto_core.vqt import padded_segment  # noqa: E402

SAMPLE_RATES = (16000, 22050, 44100, 48000)
NOTE_S = 1.0
EDGE_S = 0.1


# ------------------------------------------------------------------------------------------------ synthesis
def harmonic_signal(f0_hz: np.ndarray, sr: int, amps: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """Sum of harmonics of a time-varying f0.

    f0_hz : (samples,) Hz; amps : (H,) or (H, samples) linear amplitudes; phases : (H,) radians.
    Harmonics fade out (over 2% of sr) as they approach 0.45 * sr, so nothing aliases.
    """
    phase = 2 * np.pi * np.cumsum(f0_hz) / sr
    x = np.zeros_like(f0_hz)
    for h in range(1, amps.shape[0] + 1):
        fade = np.clip((0.45 * sr - h * f0_hz) / (0.02 * sr), 0.0, 1.0)
        if not fade.any():
            break
        a = amps[h - 1]
        x += a * fade * np.sin(h * phase + phases[h - 1])
    return x


def random_timbre(rng: np.random.Generator, n_max: int = 20) -> np.ndarray:
    n = int(rng.integers(1, n_max + 1))
    slope = rng.uniform(0.0, 2.0)
    amps = np.arange(1, n + 1, dtype=np.float64) ** -slope * rng.uniform(0.3, 1.0, n)
    if n > 1 and rng.random() < 0.2:
        amps[0] *= 0.1  # weak fundamental
    return amps


def normalise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return x / np.max(np.abs(x)) * rng.uniform(0.1, 0.8)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(len(x))
    noise *= np.sqrt(np.mean(x ** 2) / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    return x + noise


def contour(kind: str, sr: int, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    n = int(NOTE_S * sr)
    t = np.arange(n) / sr
    f_c = lo * (hi / lo) ** rng.random()
    if kind == "steady":
        return np.full(n, f_c)
    if kind == "vibrato":
        rate, phase = rng.uniform(5, 7), rng.uniform(0, 2 * np.pi)
        return f_c * 2 ** (0.5 * np.sin(2 * np.pi * rate * t + phase) / 12)
    if kind == "glide":
        span = rng.uniform(2, 12) * rng.choice([-1, 1])
        f_c = f_c * 2 ** (-span / 24)  # the glide's middle stays in [lo, hi] roughly
        return f_c * 2 ** (span * t / NOTE_S / 12)
    raise ValueError(kind)


def smooth_noise(n: int, sr: int, cutoff_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Low-pass Gaussian noise with unit standard deviation."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[np.fft.rfftfreq(n, 1 / sr) > cutoff_hz] = 0
    y = np.fft.irfft(spec, n)
    return y / (y.std() + 1e-12)


VOWELS = {  # formant frequencies (Hz) and bandwidths, a rough adult voice
    "a": ((730, 1090, 2440, 3400, 4500), (80, 90, 120, 150, 200)),
    "i": ((270, 2290, 3010, 3400, 4500), (60, 90, 150, 150, 200)),
    "u": ((300, 870, 2240, 3400, 4500), (60, 80, 120, 150, 200)),
    "e": ((530, 1840, 2480, 3400, 4500), (60, 90, 120, 150, 200)),
    "o": ((570, 840, 2410, 3400, 4500), (70, 80, 120, 150, 200)),
}


def formant_gain(freq: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """Magnitude of a cascade of second-order resonances at ``freq`` (any shape), unit gain at 0 Hz."""
    g = np.ones_like(freq)
    for fc, bw in zip(formants, bandwidths):
        g *= fc ** 2 / np.sqrt((fc ** 2 - freq ** 2) ** 2 + (bw * freq) ** 2)
    return g


def voice_note(sr: int, rng: np.random.Generator):
    """A voice-like phrase: two or three notes joined by portamento, vibrato, drift, jitter, moving vowels."""
    n = int(NOTE_S * sr)
    t = np.arange(n) / sr
    base = 80 * (700 / 80 / 1.5) ** rng.random()
    notes = base * 2 ** (rng.integers(-5, 6, size=int(rng.integers(2, 4))) / 12)
    # note pitch as a step function smoothed into 60-120 ms portamenti
    bounds = np.sort(rng.uniform(0.25, 0.75, len(notes) - 1))
    semis = 12 * np.log2(notes)
    step = semis[np.searchsorted(bounds, t)]
    glide_s = rng.uniform(0.06, 0.12)
    kernel = np.hanning(max(3, int(glide_s * sr)))
    step = np.convolve(np.pad(step, len(kernel), mode="edge"), kernel / kernel.sum(), mode="same")[len(kernel):-len(kernel)]
    vib_depth = rng.uniform(0.0, 0.5)  # semitones
    vib = vib_depth * np.sin(2 * np.pi * rng.uniform(5, 7) * t + rng.uniform(0, 2 * np.pi))
    vib *= np.clip(t / 0.3, 0, 1)  # vibrato grows in, as singers do
    drift = 0.1 * smooth_noise(n, sr, 3.0, rng)  # +-10 cents slow wander
    jitter = 0.02 * smooth_noise(n, sr, 40.0, rng)  # +-2 cents fast
    f0 = 2 ** ((step + vib + drift + jitter) / 12)
    n_h = int(0.45 * sr / f0.min())
    h = np.arange(1, n_h + 1, dtype=np.float64)[:, None]
    # vowel interpolation over the phrase
    v0, v1 = rng.choice(list(VOWELS), 2, replace=False)
    mix = np.clip((t - 0.3) / 0.4, 0, 1)[None, :]
    fmt = np.array(VOWELS[v0][0])[:, None, None] * (1 - mix) + np.array(VOWELS[v1][0])[:, None, None] * mix
    bw = np.array(VOWELS[v0][1])[:, None, None]
    freq = h * f0[None, :]
    amps = (1.0 / h ** 2) * formant_gain(freq[None], fmt, bw).prod(axis=0) ** (1 / 1)  # source -12 dB/oct
    phases = rng.uniform(0, 2 * np.pi, n_h)
    x = harmonic_signal(f0, sr, amps, phases)
    shimmer = 1 + 0.05 * smooth_noise(n, sr, 30.0, rng)
    x = x * shimmer
    x = add_noise(x, rng.uniform(25, 40), rng)  # breath
    return x, f0


def make_set(n_notes: int, seed: int):
    """The test set: list of (condition, sr, x float32 (samples,), f0_hz float64 (samples,))."""
    rng = np.random.default_rng(seed)
    items = []
    for sr in SAMPLE_RATES:
        for _ in range(n_notes):
            f0 = contour("steady", sr, rng, 55, 1760)
            x = harmonic_signal(f0, sr, random_timbre(rng), rng.uniform(0, 2 * np.pi, 20))
            items.append((f"steady {sr / 1000:g}k", sr, normalise(x, rng), f0))
    for kind in ("vibrato", "glide"):
        for _ in range(n_notes):
            sr = int(rng.choice(SAMPLE_RATES))
            f0 = contour(kind, sr, rng, 82, 880)
            x = harmonic_signal(f0, sr, random_timbre(rng), rng.uniform(0, 2 * np.pi, 20))
            items.append((kind, sr, normalise(x, rng), f0))
    for _ in range(n_notes):
        sr = int(rng.choice(SAMPLE_RATES))
        f0 = contour(str(rng.choice(["steady", "vibrato", "glide"])), sr, rng, 65, 1000)
        x = harmonic_signal(f0, sr, random_timbre(rng), rng.uniform(0, 2 * np.pi, 20))
        items.append(("noisy", sr, normalise(add_noise(x, rng.uniform(10, 30), rng), rng), f0))
    for _ in range(n_notes):
        sr = int(rng.choice(SAMPLE_RATES))
        x, f0 = voice_note(sr, rng)
        items.append(("voice", sr, normalise(x, rng), f0))
    return [(c, sr, x.astype(np.float32), f0) for c, sr, x, f0 in items]


# ------------------------------------------------------------------------------------------------ analysis
def offline_pitch(model, x: np.ndarray, sr: int, refine: bool):
    """Offline pitch (semitones, (frames,)) with our engine; ``refine`` adds the refinement stage."""
    model.set_sample_rate(sr)
    with torch.inference_mode():
        out = model._analyse_array(x)
        pitch = reduce_activations(out["activations"], "alwa").numpy()
    if refine:
        half, hop = model.vqt.kernel_width // 2, model.hop_length
        seg = padded_segment(lambda a, b: x[a:b], len(x), -half, (len(pitch) - 1) * hop + half)
        pitch = refine_pitch(seg, half + np.arange(len(pitch)) * hop, pitch, sr)
    return pitch


def offline_with_centres(model, x, sr, refine):
    pitch = offline_pitch(model, x, sr, refine)
    return pitch, np.arange(len(pitch)) * model.hop_length


def truth_at_frames(f0: np.ndarray, sr: int, centres: np.ndarray):
    """True pitch (semitones) at each frame centre (sample index) and the mask of scored frames."""
    inside = (centres >= EDGE_S * sr) & (centres < len(f0) - EDGE_S * sr)
    c = np.clip(centres, 0, len(f0) - 1)
    return 69 + 12 * np.log2(f0[c] / 440.0), inside


def score(errors_cents: np.ndarray) -> dict:
    e = np.abs(errors_cents)
    return {"n": len(e), "median": float(np.median(e)), "p95": float(np.percentile(e, 95)),
            "within10": float(np.mean(e <= 10)), "within50": float(np.mean(e <= 50))}


def evaluate(items, model, decoders):
    """errors[decoder][condition] -> list of per-frame cent errors."""
    errors = {d: {} for d in decoders}
    for cond, sr, x, f0 in items:
        model.set_sample_rate(sr)
        for name, fn in decoders.items():
            pitch, centres = fn(model, x, sr)
            truth, inside = truth_at_frames(f0, sr, centres)
            errors[name].setdefault(cond, []).append(100 * (pitch[inside] - truth[inside]))
    return {d: {c: np.concatenate(v) for c, v in per.items()} for d, per in errors.items()}


def table(errors, mixed=("vibrato", "glide", "noisy", "voice")) -> str:
    conds = list(next(iter(errors.values())))
    rows = ["| condition | decoding | frames | median (cents) | p95 (cents) | within 10 c | within 50 c |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for cond in conds + ["mixed"]:
        for dec, per in errors.items():
            e = np.concatenate([per[c] for c in mixed]) if cond == "mixed" else per[cond]
            s = score(e)
            rows.append(f"| {cond} | {dec} | {s['n']} | {s['median']:.2f} | {s['p95']:.2f} | "
                        f"{100 * s['within10']:.1f}% | {100 * s['within50']:.1f}% |")
    return "\n".join(rows)


def right_note_table(errors) -> str:
    """Steady tones, scored only where the network chose the right note (its own error below 50 cents).

    The refinement keeps the network's note by design, so this is the measure of the refinement itself; each refined
    decoding is masked with its unrefined counterpart's errors.
    """
    rows = ["| condition | decoding | frames (right note) | median (cents) | p95 (cents) | within 3 c | within 10 c |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for cond in [c for c in next(iter(errors.values())) if c.startswith("steady")]:
        for dec, per in errors.items():
            base = errors[dec.replace("+refine", "")][cond]
            right = np.abs(base) < 50
            e = np.abs(per[cond][right])
            rows.append(f"| {cond} | {dec} | {right.sum()} ({100 * right.mean():.0f}%) | {np.median(e):.2f} | "
                        f"{np.percentile(e, 95):.2f} | {100 * np.mean(e <= 3):.1f}% | {100 * np.mean(e <= 10):.1f}% |")
    return "\n".join(rows)


def stream_decoders():
    """Streaming decoders (PitchStream, default mirror=1: lowest latency), fed hop-sized blocks."""
    def run(refine):
        def fn(model, x, sr):
            return stream_pitch(model, x, sr, refine)
        return fn
    return {"stream alwa": run(False), "stream alwa+refine": run(True)}


def stream_pitch(model, x: np.ndarray, sr: int, refine: bool, block: int = 0, mirror: float = 1.0):
    """Streaming pitch (semitones, (frames,)) and frame centres (samples, (frames,))."""
    from pesto_core.stream import PitchStream

    stream = PitchStream(sr=sr, refine=refine, model=model, mirror=mirror, hop_length=model.hop_length)
    block = block or stream.hop_length
    parts = [stream.push(x[i:i + block]) for i in range(0, len(x), block)] + [stream.flush()]
    pitch = np.concatenate([p.pitch_semitones for p in parts])
    centres = np.round(np.concatenate([p.time_s for p in parts]) * sr).astype(np.int64)
    return pitch, centres


def timing(model, repeats: int = 7):
    """Offline time of the analysis (VQT, network, alwa) and of the refinement stage on 20 s of voice-like audio.

    Both are timed separately, interleaved, on the same signal (medians of ``repeats`` runs): the refinement is a
    stage after the analysis, so "with refinement" costs their sum. Timing them apart keeps the load of a shared
    machine from landing on one side only.
    """
    rng = np.random.default_rng(1)
    rows = ["| sample rate | alwa (s) | refinement stage (s) | extra |", "|---|---:|---:|---:|"]
    for sr in (16000, 44100, 48000):
        x = np.concatenate([voice_note(sr, rng)[0] for _ in range(20)]).astype(np.float32)
        model.set_sample_rate(sr)
        half, hop = model.vqt.kernel_width // 2, model.hop_length
        analysis, stage = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            pitch = offline_pitch(model, x, sr, False)
            t1 = time.perf_counter()
            seg = padded_segment(lambda a, b: x[a:b], len(x), -half, (len(pitch) - 1) * hop + half + 2)
            refine_pitch(seg, half + np.arange(len(pitch)) * hop, pitch, sr, max_length=model.vqt.kernel_width)
            t2 = time.perf_counter()
            analysis.append(t1 - t0)
            stage.append(t2 - t1)
        a, b = np.median(analysis), np.median(stage)
        rows.append(f"| {sr} | {a:.3f} | {b:.3f} | {100 * b / a:+.1f}% |")
    return "\n".join(rows)


def stream_timing(model, seconds: float = 5.0):
    """Per hop-sized push of PitchStream (mirror=1): median time without refinement, and median time of the
    refinement stage inside a refining stream (its ``_refine`` call, timed directly)."""
    from pesto_core.stream import PitchStream

    rng = np.random.default_rng(2)
    rows = ["| sample rate | hop | push, alwa (ms/hop) | refinement stage (ms/hop) |", "|---|---:|---:|---:|"]
    for sr in (16000, 44100, 48000):
        model.set_sample_rate(sr)
        x = np.concatenate([voice_note(sr, rng)[0] for _ in range(int(seconds))]).astype(np.float32)
        plain = PitchStream(sr=sr, model=model, hop_length=model.hop_length)
        refining = PitchStream(sr=sr, model=model, hop_length=model.hop_length, refine=True)
        stage = []

        def timed(*args, _inner=refining._refine):
            t0 = time.perf_counter()
            out = _inner(*args)
            stage.append(time.perf_counter() - t0)
            return out
        refining._refine = timed
        hop = model.hop_length
        push = []
        for i in range(0, len(x) - hop + 1, hop):
            t0 = time.perf_counter()
            plain.push(x[i:i + hop])
            push.append(time.perf_counter() - t0)
            refining.push(x[i:i + hop])
        rows.append(f"| {sr} | {hop} | {1000 * np.median(push[10:]):.3f} | {1000 * np.median(stage[10:]):.3f} |")
    return "\n".join(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--notes", type=int, default=24, help="notes per condition (default 24)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stream", action="store_true", help="also score the streaming engine")
    p.add_argument("--timing", action="store_true", help="also measure the refinement's cost")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model("mir-1k_g7", 10.0)
    items = make_set(args.notes, args.seed)
    decoders = {
        "alwa": lambda m, x, sr: offline_with_centres(m, x, sr, False),
        "alwa+refine": lambda m, x, sr: offline_with_centres(m, x, sr, True),
    }
    if args.stream:
        decoders.update(stream_decoders())
    if not items:  # --notes 0: timing only
        if args.timing:
            print(timing(model))
            print()
            print(stream_timing(model))
        return 0
    errors = evaluate(items, model, decoders)
    print(f"Accuracy, {args.notes} notes per condition, seed {args.seed}, 10 ms step, torch threads 1\n")
    print(table(errors))
    print("\nSteady tones where the network chose the right note\n")
    print(right_note_table(errors))
    if args.timing:
        print("\nOffline time (medians of 7 interleaved runs, 20 s of voice-like audio, 1 torch thread)\n")
        print(timing(model))
        print("\nStreaming time per hop (PitchStream, mirror=1, hop-sized pushes, medians over 5 s, 1 torch thread)\n")
        print(stream_timing(model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
