"""Accuracy of pitch models on a held-out set of our own, offline and streaming, beside SwiftF0 and Praat.

Run:  python3 benchmarks/model_accuracy.py [--models mir-1k_g7 tracker-1] [--scale 1.0] [--no-others]
                                           [--json results.json] [--live-model tracker-1-live]

Held-out set (all generated here from seeds never used in training: ``SeedSequence([EVAL_TAG, subset, i])``, a tag
that training never uses; see training/README.md), exact f0 at every sample, clips at 8-48 kHz:

* ``register``: one note per clip (steady, vibrato or glide; independent generator: benchmarks/pitch_accuracy.py's
  harmonic synthesis and random timbres), 30-2000 Hz in seven log-spaced bands, 0.15 s of silence either side;
* ``noise_<snr>``: phrases of synthetic notes (training/synth.py's generator, held-out seeds) plus background noise
  (white, pink, brown, babble, hum or a mix) at exactly 0, 5, 10, 20 and 30 dB SNR;
* ``phrases``: the same phrases with the training mix of noise, reverberation and level changes;
* ``instruments``: sampled instruments rendered by FluidSynth from the MuseScore General SoundFont (training uses
  two other SoundFonts), with pitch bends;
* ``voice_sung``, ``voice_spoken``: espeak-ng + WORLD resynthesis with voice variants and words never used in
  training;
* ``formant_voice``: benchmarks/pitch_accuracy.py's voice-like generator (glottal source, moving vowel formants);
* ``unvoiced``: silence, noise, hum, breath and consonant-like events only.

Frames: each system's own frames; the reference is the f0 at the frame centre; frames labelled ambiguous (the edges
of notes, reverberation tails) and frames within 50 ms of a clip's ends are left out. Voicing decision: confidence
>= 0.5 (Praat: its own decision). Metrics (mir_eval.melody on those frames): RPA, RCA, within 10 cents (RPA with a
10-cent tolerance), OA, voicing recall (VR) and false alarm (VFA); per subset and per f0 band of the reference.
Our models' confidence is their learned voicing output (pesto_core.voicing_head: the head's output, the peak mass
and the entropy of the distribution, calibrated by training/voicing.py). With ``--peak-rows``, checkpoints that carry
``peak_voicing.calibration`` also get "(peak voicing)" rows: the training's earlier proposal, the peak mass alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks import pitch_accuracy as pa  # noqa: E402
from benchmarks.melody_metrics import metrics  # noqa: E402
from pesto_core.checkpoint import load_checkpoint  # noqa: E402
from pesto_core.core import predict  # noqa: E402
from pesto_core.model import PestoModel  # noqa: E402
from pesto_core.stream import PitchStream, live_stream  # noqa: E402
from pesto_core.units import semitones_to_hz  # noqa: E402
from training import instruments, synth, voice  # noqa: E402
from training.data import EVAL_TAG  # noqa: E402

SET_VERSION = 1
RATES = (8000, 16000, 22050, 44100, 48000)
BANDS = ((0, 100), (100, 200), (200, 400), (400, 800), (800, 1e9))
BAND_NAMES = ("<100", "100-200", "200-400", "400-800", ">800")
SNRS = (0, 5, 10, 20, 30)
EDGE_S = 0.05


def _register(rng, sr, i):
    lo_b, hi_b = np.log(30.0), np.log(min(2000.0, 0.4 * sr))
    band = i % 7
    lo = np.exp(lo_b + (hi_b - lo_b) * band / 7)
    hi = np.exp(lo_b + (hi_b - lo_b) * (band + 1) / 7)
    kind = ("steady", "vibrato", "glide")[int(rng.integers(3))]
    f0 = pa.contour(kind, sr, rng, lo, hi)
    f0 = np.clip(f0, 30.0, 0.45 * sr)
    x = pa.harmonic_signal(f0, sr, pa.random_timbre(rng), rng.uniform(0, 2 * np.pi, 20))
    x *= np.clip(np.minimum(np.arange(len(x)), len(x) - np.arange(len(x))) / (0.01 * sr), 0, 1)
    pad = np.zeros(int(0.15 * sr))
    label = synth.mark_edges(np.concatenate([pad, f0, pad]), sr)
    x = np.concatenate([pad, x, pad])
    return x / np.max(np.abs(x)) * rng.uniform(0.05, 0.8), label


def _noisy(snr):
    def make(rng, sr, i):
        x, f0 = synth.tone_clip(rng, sr, noise_p=0.0, reverb_p=0.0, level_db=(-6.0, -5.0))
        x = synth.add_background(rng, x, f0, sr, snr_db=float(snr))
        return x / np.max(np.abs(x)) * rng.uniform(0.05, 0.8), f0

    return make


def _formant_voice(rng, sr, i):
    x, f0 = pa.voice_note(sr, rng)
    x = x / np.max(np.abs(x)) * rng.uniform(0.05, 0.8)
    return x, synth.mark_edges(f0, sr)


SUBSETS = {  # name -> (generator(rng, sr, i) -> (audio, f0), clips at scale 1)
    "register": (_register, 84),
    **{f"noise_{s}": (_noisy(s), 20) for s in SNRS},
    "phrases": (lambda rng, sr, i: synth.tone_clip(rng, sr), 24),
    "instruments": (
        lambda rng, sr, i: instruments.instrument_clip(rng, sr, fonts=[instruments.HELD_OUT_SOUNDFONT], noise_p=0.3),
        30,
    ),
    "voice_sung": (
        lambda rng, sr, i: voice.voice_clip(
            rng, sr, variants=voice.HELD_OUT_VARIANTS, words=voice.HELD_OUT_WORDS, style="sung"
        ),
        24,
    ),
    "voice_spoken": (
        lambda rng, sr, i: voice.voice_clip(
            rng, sr, variants=voice.HELD_OUT_VARIANTS, words=voice.HELD_OUT_WORDS, style="spoken"
        ),
        24,
    ),
    "formant_voice": (_formant_voice, 24),
    "unvoiced": (lambda rng, sr, i: synth.unvoiced_clip(rng, sr), 20),
}


DEV_VERSION = 99  # a development set from the same generators (benchmarks/viterbi_dev.py): settings are chosen there


def held_out(scale: float, cache: Path, version: int = SET_VERSION):
    """Yield (subset, i, sr, audio float32, f0 labels) for the whole held-out set (cached on disk); ``version``
    :data:`DEV_VERSION` gives the development set instead, whose seeds differ in the set version only."""
    cache.mkdir(parents=True, exist_ok=True)
    for s_index, (name, (gen, count)) in enumerate(SUBSETS.items()):
        for i in range(max(1, int(round(count * scale)))):
            path = cache / f"{name}-{i:03d}.npz"
            if path.is_file():
                with np.load(path) as z:
                    yield name, i, int(z["sr"]), z["x"], z["f0"]
                continue
            rng = np.random.default_rng(np.random.SeedSequence([EVAL_TAG, version, s_index, i]))
            sr = int(rng.choice(RATES))
            x, f0 = gen(rng, sr, i)
            x, f0 = np.asarray(x, np.float32), np.asarray(f0, np.float32)
            tmp = path.with_name(path.name + ".tmp.npz")
            np.savez(tmp, sr=sr, x=x, f0=f0)
            tmp.replace(path)
            yield name, i, sr, x, f0


# ------------------------------------------------------------------------------------------------ systems
def peak_voiced(activations: np.ndarray, calib) -> np.ndarray:
    a = np.asarray(activations, np.float64)
    i = a.argmax(-1)
    n = a.shape[-1]
    rows = np.arange(len(a))
    pk = a[rows, i] + a[rows, (i - 1) % n] + a[rows, (i + 1) % n]
    pk = np.clip(pk, 1e-6, 1 - 1e-6)
    return calib[0] * (np.log(pk) - np.log1p(-pk)) + calib[1] > 0


class Ours:
    """Our engine with a model. ``mode``: ``offline`` (``predict``), ``viterbi`` (``predict(viterbi=True)``: the
    offline Viterbi decoding, pesto_core.viterbi), ``stream`` (``PitchStream`` at ``mirror``,
    voiced = confidence >= 0.5) or ``preset`` (``live_stream(sr)``: mirror 1, refinement, glitch filter and its own
    voicing decision, ``StreamFrames.voiced``)."""

    def __init__(self, name: str, mode: str, mirror: float = 1.0):
        self.name, self.mode, self.mirror = name, mode, mirror
        ckpt = load_checkpoint(name)
        cal = ckpt.state_dict.get("peak_voicing.calibration")
        self.calib = None if cal is None or mode == "preset" else cal.tolist()
        self.model = PestoModel(ckpt)
        kind = {"offline": "offline", "viterbi": "offline + viterbi", "preset": "live preset"}.get(
            mode, f"stream m={mirror:g}"
        )
        self.label = f"{Path(name).stem} {kind}"

    def __call__(self, x, sr):
        if self.mode in ("offline", "viterbi"):
            t, f0, conf, act = predict(x, sr, model=self.model, refine=True, viterbi=self.mode == "viterbi")
            t, f0, conf, act = t.numpy() / 1000.0, f0.numpy(), conf.numpy(), act.numpy()
        else:
            if self.mode == "preset":
                st = live_stream(sr, model=self.model)
            else:
                st = PitchStream(sr, model=self.model, mirror=self.mirror, refine=True)
            parts = [st.push(x), st.flush()]
            t = np.concatenate([p.time_s for p in parts])
            f0 = np.concatenate([p.f0_hz for p in parts])
            conf = np.concatenate([p.confidence for p in parts])
            act = np.concatenate([p.activations for p in parts])
            if self.mode == "preset":
                return {"t": t, "f0": f0, "voiced": np.concatenate([p.voiced for p in parts])}
        out = {"t": t, "f0": f0, "voiced": conf >= 0.5}
        if self.calib is not None:
            out["peak_voiced"] = peak_voiced(act, self.calib)
        return out


class Swift:
    label = "SwiftF0"

    def __init__(self):
        from swift_f0 import SwiftF0

        self.det = SwiftF0(threads=1)

    def __call__(self, x, sr):
        r = self.det.detect(x, sr)
        return {"t": np.asarray(r.timestamps), "f0": np.asarray(r.pitch_hz), "voiced": np.asarray(r.confidence) >= 0.5}


class Praat:
    label = "Praat (ac)"

    def __call__(self, x, sr):
        import parselmouth

        p = parselmouth.Sound(x.astype(np.float64), sr).to_pitch_ac(
            time_step=0.01, pitch_floor=30.0, pitch_ceiling=2000.0
        )
        f = p.selected_array["frequency"]
        return {"t": np.asarray(p.xs()), "f0": f, "voiced": f > 0}


# ------------------------------------------------------------------------------------------------ scoring
def frame_table(out: dict, f0_label: np.ndarray, sr: int, voiced_key: str = "voiced"):
    dur = len(f0_label) / sr
    t = out["t"]
    keep = (t >= EDGE_S) & (t <= dur - EDGE_S)
    ref = f0_label[np.clip(np.round(t[keep] * sr).astype(int), 0, len(f0_label) - 1)]
    ok = ref >= 0
    est = np.asarray(out["f0"], np.float64)[keep][ok]
    return (
        ref[ok].astype(np.float64),
        np.where(np.isfinite(est) & (est > 0), est, 0.0),
        np.asarray(out[voiced_key])[keep][ok],
    )


def summarise_semitones(frames) -> dict:
    """:func:`summarise` of frames given as (subset, sr, f0 label (samples,) Hz, times (frames,) s, pitch (frames,)
    MIDI semitones, voiced (frames,) bool) per clip: the scoring of the development-set scripts."""
    rows = {}
    for subset, sr, f0, t, pitch, voiced in frames:
        out = {"t": t, "f0": semitones_to_hz(np.asarray(pitch, np.float64)), "voiced": voiced}
        rows.setdefault(subset, []).append(frame_table(out, f0, sr))
    return summarise(rows)


def summarise(rows: dict) -> dict:
    """rows: subset -> list of (ref, est, voiced) -> metrics per subset, per band, overall."""
    res = {"subsets": {}, "bands": {}}
    allr, alle, allv = [], [], []
    for name, parts in rows.items():
        r, e, v = (np.concatenate([p[k] for p in parts]) for k in range(3))
        res["subsets"][name] = metrics(r, e, v)
        allr.append(r), alle.append(e), allv.append(v)
    r, e, v = np.concatenate(allr), np.concatenate(alle), np.concatenate(allv)
    res["all"] = metrics(r, e, v)
    for (lo, hi), bn in zip(BANDS, BAND_NAMES):
        sel = (r > lo) & (r <= hi)
        res["bands"][bn] = metrics(r[sel], e[sel], v[sel])
    return res


def fmt(x, key):
    v = x.get(key)
    return "-" if v is None else f"{v:.1f}"


def markdown(results: dict) -> str:
    lines = [
        "| system | RPA | RCA | within 10 c | OA@0.5 | VR | VFA | "
        + " | ".join(f"RPA {b} Hz" for b in BAND_NAMES)
        + " | RPA 0 dB | RPA sung |",
        "|" + "---|" * (8 + len(BAND_NAMES) + 1),
    ]
    for label, res in results.items():
        a = res["all"]
        lines.append(
            f"| {label} | {fmt(a, 'RPA')} | {fmt(a, 'RCA')} | {fmt(a, 'c10')} | {fmt(a, 'OA')} | "
            f"{fmt(a, 'VR')} | {fmt(a, 'VFA')} | "
            + " | ".join(fmt(res["bands"][b], "RPA") for b in BAND_NAMES)
            + f" | {fmt(res['subsets'].get('noise_0', {}), 'RPA')} | "
            f"{fmt(res['subsets'].get('voice_sung', {}), 'RPA')} |"
        )
    subsets = list(next(iter(results.values()))["subsets"])
    lines += [
        "",
        "RPA / OA@0.5 per subset (VFA for unvoiced):",
        "",
        "| system | " + " | ".join(subsets) + " |",
        "|" + "---|" * (len(subsets) + 1),
    ]
    for label, res in results.items():
        cells = []
        for s in subsets:
            m = res["subsets"][s]
            cells.append(f"VFA {fmt(m, 'VFA')}" if s == "unvoiced" else f"{fmt(m, 'RPA')} / {fmt(m, 'OA')}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_hop_cost(names, sr=48000, hop=480, hops=500, segments=6) -> dict:
    """Median wall time per hop (ms) of PitchStream(refine=True) for each model, measured interleaved."""
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(hop * (hops + 50))).astype(np.float32)
    streams = {n: PitchStream(sr, model_name=n, hop_length=hop, refine=True) for n in names}
    times = {n: [] for n in names}
    for _ in range(segments):
        for n, st in streams.items():
            for k in range(hops):
                t = time.perf_counter()
                st.push(x[k * hop : (k + 1) * hop])
                times[n].append(time.perf_counter() - t)
    return {n: 1000 * float(np.median(v)) for n, v in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["mir-1k_g7", "tracker-1"])
    ap.add_argument(
        "--live-model",
        help="model for the streaming rows instead of each --models entry (e.g. tracker-1-live), added beside them",
    )
    ap.add_argument(
        "--mirrors", nargs="*", type=float, default=[1.0, 0.5, 0.0], help="streaming rows (none: offline only)"
    )
    ap.add_argument(
        "--preset", nargs="*", default=None, metavar="MODEL", help="add live_stream(sr) rows for these models"
    )
    ap.add_argument(
        "--viterbi", action="store_true", help="add offline rows with the Viterbi decoding (pesto --viterbi --refine)"
    )
    ap.add_argument("--scale", type=float, default=1.0, help="clips per subset, relative to the full set")
    ap.add_argument("--no-others", action="store_true", help="skip SwiftF0 and Praat")
    ap.add_argument(
        "--peak-rows",
        action="store_true",
        help="also score the training's peak-voicing proposal (peak_voicing.calibration): superseded by the engine's "
        "learned voicing output (pesto_core.voicing_head) since 2026-12-03",
    )
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "heldout" / f"v{SET_VERSION}"))
    ap.add_argument("--json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--generate-only", action="store_true", help="only make (and cache) the held-out set")
    ap.add_argument("--cost", action="store_true", help="only time a streaming hop (48 kHz, hop 480) per model")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.cost:
        for n, ms in per_hop_cost(args.models + ([args.live_model] if args.live_model else [])).items():
            print(f"{n}: median {ms:.3f} ms per hop (PitchStream 48 kHz, hop 480, refine, native engine)")
        return 0
    if args.generate_only:
        n = sum(1 for _ in held_out(args.scale, Path(args.cache)))
        print(f"{n} clips in {args.cache}")
        return 0

    systems = []
    for name in args.models:
        systems.append(Ours(name, "offline"))
        if args.viterbi:
            systems.append(Ours(name, "viterbi"))
        for m in args.mirrors:
            systems.append(Ours(name, "stream", m))
    if args.live_model:
        for m in args.mirrors:
            systems.append(Ours(args.live_model, "stream", m))
    for name in args.preset or []:
        systems.append(Ours(name, "preset"))
    if not args.peak_rows:
        for s in systems:
            s.calib = None
    if not args.no_others:
        for cls in (Swift, Praat):
            try:
                systems.append(cls())
                systems[-1](np.zeros(8000, np.float32), 8000)  # not 16 kHz: SwiftF0 resamples other rates (soxr)
            except Exception as e:  # not installed: skipped
                print(f"# {cls.label}: not available ({type(e).__name__}: {e})", file=sys.stderr)
                systems.pop()
    rows = {s.label: {} for s in systems}
    peak_rows = {s.label + " (peak voicing)": {} for s in systems if getattr(s, "calib", None) is not None}
    t0 = time.time()
    n = 0
    for subset, i, sr, x, f0 in held_out(args.scale, Path(args.cache)):
        for s in systems:
            out = s(x, sr)
            rows[s.label].setdefault(subset, []).append(frame_table(out, f0, sr))
            if "peak_voiced" in out:
                peak_rows[s.label + " (peak voicing)"].setdefault(subset, []).append(
                    frame_table(out, f0, sr, "peak_voiced")
                )
        n += 1
        if n % 25 == 0:
            print(f"# {n} clips, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    results = {label: summarise(r) for label, r in {**rows, **peak_rows}.items()}
    print(markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
