"""Export the streaming engine for a fixed sample rate, hop and batch size as TorchScript and ONNX, and validate it.

Usage::

    python -m pesto_core.export --sr 48000 --hop 480 --batch 1 --mirror 1 -o DIR [--audio FILE.wav] [-m MODEL]

writes, for ``NAME = pesto_<model>_<sr>hz_hop<hop>_b<batch>_mirror<mirror>``:

* ``NAME.pt`` (TorchScript, stateful like upstream's streaming model): ``pitch, confidence, volume, activations =
  module(block)`` with ``block`` float32 (batch, hop); the past samples live in the module (``module.reset()``
  forgets them).
* ``NAME.onnx`` (stateless; opset 18): inputs ``audio`` float32 (batch, hop) and ``cache_in`` float32 (batch, Z),
  outputs ``pitch_semitones`` (batch,), ``confidence`` (batch,), ``volume`` (batch,), ``activations``
  (batch, 128 * bps) and ``cache_out`` (batch, Z). Start a stream with ``cache_in`` = zeros and pass each call's
  ``cache_out`` to the next: the streaming state is explicit, any runtime can carry it.
* ``NAME.json``: sample rate, hop, batch, mirror, cache length ``Z``, latency and the frame-time rule, I/O names.

Each exported file is checked against the eager engine (:class:`pesto_core.stream.StreamingPestoModel`) on real audio
(``--audio``, else a synthesised test signal) before success is reported: the maximal differences are printed, and
the command exits with status 1 if any exceeds the tolerance (activations and confidence within ``--atol``, 1e-3
by default, as the golden tests; volume within that relative difference; pitch within ``--atol`` semitones on at least
99.5% of frames), or if a file cannot be written. Status 2: bad options or audio; 3: ONNX requested but ``onnx`` or
``onnxruntime`` is not installed (``pip install -e .[export]``).

The exported network is the published computation written with plain operators (direct convolutions, matrix
products, real arithmetic: ``|z| = sqrt(re^2 + im^2)``), so it runs in any ONNX runtime; the eager engine may evaluate
the same function differently (e.g. FFT convolutions), hence a tolerance. NaN/Inf samples are replaced by zeros
and the frame they complete gets confidence 0, as in the eager engine.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .bundled import DEFAULT_MODEL
from .checkpoint import load_checkpoint
from .decode import REDUCTIONS, decode
from .errors import AudioError, OutputError, ParameterError, PestoError
from .model import LN10_OVER_10, PestoModel
from .stream import StreamFrameEngine, StreamingPestoModel
from .validation import check_reduction
from .voicing_head import VoicingHead

ONNX_OPSET = 18
INPUT_NAMES = ["audio", "cache_in"]
OUTPUT_NAMES = ["pitch_semitones", "confidence", "volume", "activations", "cache_out"]
DEFAULT_ATOL = 1e-3
PITCH_SHARE = 0.995


# ------------------------------------------------------------------------------------------------------ modules
class StreamStep(nn.Module):
    """One streaming hop for ``batch`` streams, state in and out: the function that is exported.

    ``forward(block (batch, hop), cache (batch, Z)) -> pitch_semitones (batch,), confidence (batch,),
    volume (batch,), activations (batch, 128 * bps), cache_out (batch, Z)``; all float32.

    Parameters
    ----------
    model : PestoModel
        Its weights are copied; the module does not keep the model.
    sr, hop_length : int
    mirror : float
    reduction : {"alwa", "argmax", "mean"}, optional
        Default: the model's.
    """

    def __init__(self, model: PestoModel, sr: int, hop_length: int, mirror: float, reduction: Optional[str] = None):
        super().__init__()
        engine = StreamFrameEngine(model, sr, hop_length, mirror)
        self.geometry = engine.geometry
        self.hop_length = engine.geometry.hop_length
        self.cache_length = engine.geometry.cache
        self.n_bins = engine.n_bins
        self.register_buffer("vqt_weight", engine.weight.detach().clone())
        self.eps = float(torch.finfo(torch.float32).eps)
        self.ln10_over_10 = float(LN10_OVER_10)
        self.crop_lo, self.crop_hi = int(model.crop[0]), int(model.crop[1])
        # the model's own network modules (copied weights), run through their plain, scriptable definitions:
        # Encoder.published and ConfidenceHead in float32 (never the eager engine's optimised forms)
        self.encoder = copy.deepcopy(model.encoder)
        if hasattr(self.encoder.activation, "inplace"):
            self.encoder.activation.inplace = False
        for name in ("spectra_packed", "spectra_few", "fc_spectrum"):  # the fast forms: not needed, not exported
            setattr(self.encoder, name, torch.zeros(0))
        self.confidence = copy.deepcopy(model.confidence)
        self.confidence.exact = False
        # our models' learned voicing output (pesto_core.voicing_head), in float32; a placeholder (never run) for
        # models without one, so that the scripted graph has one type
        self.has_voicing = model.voicing is not None
        self.voicing = (
            copy.deepcopy(model.voicing)
            if model.voicing is not None
            else VoicingHead(torch.zeros(3), torch.zeros(1), model.bins_per_semitone)
        )
        self.voicing.exact = False
        n_out = self.encoder.output_dim
        # activations.roll(roll_bins) as a gather: out[j] = in[(j - roll_bins) mod n_out]
        self.register_buffer("roll_index", (torch.arange(n_out) - model.roll_bins) % n_out)
        bps = n_out // 128
        self.bins_per_semitone = bps
        self.register_buffer("pitches", torch.arange(n_out, dtype=torch.float32) / bps)
        self.register_buffer("alwa_offsets", torch.arange(-bps + 1, bps))
        self.reduction = check_reduction(reduction or model.reduction)
        self.requires_grad_(False)
        self.eval()

    def forward(
        self, block: torch.Tensor, cache: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        finite = torch.isfinite(block)
        clean = finite.all(dim=1)
        x = torch.where(finite, block, torch.zeros_like(block))  # bad samples never enter the state
        buf = torch.cat([cache, x], dim=1)  # (batch, Z + hop): the window's real samples
        cache_out = buf[:, self.hop_length :]
        y = F.conv1d(buf.unsqueeze(1), self.vqt_weight, stride=self.hop_length)[:, :, 0]  # (batch, 2 * n_bins)
        re, im = y[:, : self.n_bins], y[:, self.n_bins :]  # sqrt(l_k) is folded into the weights
        magnitude = torch.sqrt(re * re + im * im)  # |z| in real arithmetic (ONNX has no complex numbers)
        db = torch.log10(torch.clamp(magnitude, min=self.eps)) * 20.0
        log_power = db * self.ln10_over_10  # the encoder's input, as the eager engine (see PestoModel)
        power = torch.exp(log_power)
        volume = power.sum(dim=1)
        confidence = self.confidence(power, log_power)
        confidence = torch.where(clean, confidence, torch.zeros_like(confidence))
        activations = self.encoder.published(log_power[:, self.crop_lo : self.crop_hi])
        activations = activations.index_select(1, self.roll_index)
        if self.has_voicing:
            confidence = torch.where(clean, self.voicing(confidence, activations), torch.zeros_like(confidence))
        pitch = decode(activations, self.pitches, self.alwa_offsets, self.reduction)
        return pitch, confidence, volume, activations, cache_out


class StatefulStream(nn.Module):
    """:class:`StreamStep` with its state inside (what the TorchScript file holds).

    ``forward(block (batch, hop)) -> pitch_semitones, confidence, volume, activations``; ``reset()``.
    """

    def __init__(self, step: StreamStep, batch: int):
        super().__init__()
        self.step = step
        self.register_buffer("cache", torch.zeros(batch, step.cache_length))

    def forward(self, block: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        pitch, confidence, volume, activations, cache_out = self.step(block, self.cache)
        self.cache.copy_(cache_out)
        return pitch, confidence, volume, activations

    @torch.jit.export
    def reset(self) -> None:
        self.cache.zero_()


# ------------------------------------------------------------------------------------------------------ writing
@dataclass(frozen=True)
class ExportSpec:
    """What to export: model, sample rate (Hz), hop (samples), batch (streams) and mirror."""

    model_name: str
    sr: int
    hop_length: int
    batch: int
    mirror: float

    @property
    def stem(self) -> str:
        model = Path(self.model_name).stem
        return f"pesto_{model}_{self.sr}hz_hop{self.hop_length}_b{self.batch}_mirror{self.mirror:g}"


def build_step(spec: ExportSpec, reduction: Optional[str] = None) -> Tuple[StreamStep, PestoModel]:
    """The exportable module and the eager model it was copied from (CPU)."""
    if spec.batch < 1:
        raise ParameterError(f"batch must be at least 1, got {spec.batch}")
    model = PestoModel(load_checkpoint(spec.model_name), spec.hop_length * 1000.0 / spec.sr, reduction=reduction)
    return StreamStep(model, spec.sr, spec.hop_length, spec.mirror, reduction), model


def _atomic_bytes(path: Path, data: bytes) -> None:
    from .writers import atomic_write

    atomic_write(path, lambda f: f.write(data))


def write_torchscript(step: StreamStep, batch: int, path: Path) -> Path:
    """Script the stateful stream and write it atomically."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 marks TorchScript deprecated; it works
        scripted = torch.jit.script(StatefulStream(copy.deepcopy(step), batch))
        torch.jit.save(scripted, buffer)
    _atomic_bytes(path, buffer.getvalue())
    return path


def write_onnx(step: StreamStep, batch: int, path: Path) -> Path:
    """Export the stateless step to ONNX and write it atomically (one self-contained file).

    torch's ``torch.export``-based exporter is used (it needs ``onnxscript``); without ``onnxscript`` the older
    TorchScript-based exporter (deprecated by torch, needs only ``onnx``) is used instead. Either result is validated
    by :func:`export` before success is reported.
    """
    try:
        import onnx  # noqa: F401  (torch.onnx needs it)
    except ImportError:
        raise ParameterError("ONNX export needs the 'onnx' package: pip install -e '.[export]'") from None
    try:
        import onnxscript  # noqa: F401

        dynamo = True
    except ImportError:
        dynamo = False
    args = (torch.zeros(batch, step.hop_length), torch.zeros(batch, step.cache_length))
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # e.g. "torchvision is not installed" notices
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # exporter progress and deprecation notices
            if dynamo:
                program = torch.onnx.export(
                    step,
                    args,
                    input_names=INPUT_NAMES,
                    output_names=OUTPUT_NAMES,
                    opset_version=ONNX_OPSET,
                    dynamo=True,
                    external_data=False,
                    verbose=False,
                )
                data = program.model_proto.SerializeToString()
            else:
                buffer = io.BytesIO()
                torch.onnx.export(
                    step,
                    args,
                    buffer,
                    input_names=INPUT_NAMES,
                    output_names=OUTPUT_NAMES,
                    opset_version=ONNX_OPSET,
                    dynamo=False,
                    do_constant_folding=True,
                )
                data = buffer.getvalue()
    finally:
        exporter_log.setLevel(level)
    _atomic_bytes(path, data)
    return path


def metadata(spec: ExportSpec, step: StreamStep) -> dict:
    g = step.geometry
    return {
        "model": spec.model_name,
        "sample_rate_hz": spec.sr,
        "hop_length": spec.hop_length,
        "batch": spec.batch,
        "mirror": spec.mirror,
        "reduction": step.reduction,
        "cache_length": g.cache,
        "kernel_width": g.kernel_width,
        "mirrored_samples": g.mirrored,
        "latency_samples": g.lag,
        "latency_s": g.lag / g.sr,
        "frame_time_rule": "frame k (k = 0, 1, ... since the stream start) is centred on sample (k + 1) * hop - "
        "latency_samples: time_s = ((k + 1) * hop_length - latency_samples) / sample_rate_hz",
        "pitch_unit": "MIDI semitones (69 = A4 = 440 Hz)",
        "volume": "total VQT power (linear)",
        "activations": f"distribution over {128 * step.bins_per_semitone} bins, bin i = MIDI pitch i / "
        f"{step.bins_per_semitone}",
        "onnx": {
            "opset": ONNX_OPSET,
            "inputs": {"audio": [spec.batch, spec.hop_length], "cache_in": [spec.batch, g.cache]},
            "outputs": {
                "pitch_semitones": [spec.batch],
                "confidence": [spec.batch],
                "volume": [spec.batch],
                "activations": [spec.batch, 128 * step.bins_per_semitone],
                "cache_out": [spec.batch, g.cache],
            },
            "state": "pass zeros as cache_in for the first block, then each call's cache_out",
        },
        "torchscript": "module(block (batch, hop) float32) -> pitch_semitones, confidence, volume, activations; "
        "module.reset() starts a new stream",
    }


# ------------------------------------------------------------------------------------------------------ validation
def test_signal(sr: int, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """A synthesised validation signal: a harmonic glide (100 -> 800 Hz) with vibrato, a silence, then noise.

    Returns float32 (samples,) at ``sr``.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    top = min(800.0, sr / 10)  # glide up to 800 Hz (less at very low rates: harmonics stay below Nyquist)
    f0 = 100.0 * (top / 100.0) ** (t / seconds) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = np.zeros(n)
    for h in range(1, 6):
        if h * f0.max() < sr / 2:
            x += 0.3 / h * np.sin(h * phase)
    x[int(0.6 * n) : int(0.7 * n)] = 0.0
    x[int(0.85 * n) :] = 0.05 * rng.standard_normal(n - int(0.85 * n))
    return x.astype(np.float32)


def _batch_signals(x: np.ndarray, batch: int, hop: int) -> np.ndarray:
    """(batch, samples) rows that differ (row b starts b * 7.3 hops later, wrapping), trimmed to whole hops."""
    n = (len(x) // hop) * hop
    rows = [np.roll(x, -int(b * 7.3 * hop))[:n] for b in range(batch)]
    return np.stack(rows).astype(np.float32)


def eager_outputs(model: PestoModel, spec: ExportSpec, signals: np.ndarray, reduction: str) -> Dict[str, np.ndarray]:
    """The eager streaming engine's frames for ``signals`` (batch, samples) fed hop by hop."""
    model.reduction = reduction
    eager = StreamingPestoModel(model, spec.sr, spec.hop_length, mirror=spec.mirror, max_batch_size=spec.batch)
    hop = spec.hop_length
    outs = [eager(torch.from_numpy(signals[:, i : i + hop])) for i in range(0, signals.shape[1], hop)]
    return {
        k: torch.cat([o[j] for o in outs], dim=1).numpy()
        for j, k in enumerate(("pitch_semitones", "confidence", "volume", "activations"))
    }


def run_torchscript(path: Path, signals: np.ndarray, hop: int) -> Dict[str, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path))
    module.reset()
    outs = []
    with torch.inference_mode():
        for i in range(0, signals.shape[1], hop):
            outs.append([o.clone() for o in module(torch.from_numpy(signals[:, i : i + hop]))])
    return {
        k: torch.stack([o[j] for o in outs], dim=1).numpy()
        for j, k in enumerate(("pitch_semitones", "confidence", "volume", "activations"))
    }


def run_onnx(path: Path, signals: np.ndarray, hop: int, cache_length: int) -> Dict[str, np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    cache = np.zeros((signals.shape[0], cache_length), np.float32)
    outs = []
    for i in range(0, signals.shape[1], hop):
        pitch, confidence, volume, activations, cache = session.run(
            None, {"audio": np.ascontiguousarray(signals[:, i : i + hop]), "cache_in": cache}
        )
        outs.append((pitch, confidence, volume, activations))
    return {
        k: np.stack([o[j] for o in outs], axis=1)
        for j, k in enumerate(("pitch_semitones", "confidence", "volume", "activations"))
    }


def compare(
    ours: Dict[str, np.ndarray], ref: Dict[str, np.ndarray], atol: float = DEFAULT_ATOL
) -> Tuple[bool, Dict[str, float]]:
    """Differences between exported and eager outputs, and whether they are within tolerance."""
    diffs = {
        "activations": float(np.abs(ours["activations"] - ref["activations"]).max()),
        "confidence": float(np.abs(ours["confidence"] - ref["confidence"]).max()),
        "volume_rel": float((np.abs(ours["volume"] - ref["volume"]) / np.maximum(np.abs(ref["volume"]), 1e-30)).max()),
        "pitch_semitones": float(np.abs(ours["pitch_semitones"] - ref["pitch_semitones"]).max()),
    }
    share = float((np.abs(ours["pitch_semitones"] - ref["pitch_semitones"]) <= atol).mean())
    diffs["pitch_share_within_atol"] = share
    ok = (
        diffs["activations"] <= atol
        and diffs["confidence"] <= atol
        and diffs["volume_rel"] <= atol
        and share >= PITCH_SHARE
    )
    return ok, diffs


def read_audio(path: Path, sr: int) -> np.ndarray:
    from .audio import load_audio

    x, file_sr = load_audio(path)
    if file_sr != sr:
        raise AudioError(
            f"{path}: sample rate {file_sr} Hz, but the export is for {sr} Hz (pass a file at {sr} Hz, "
            f"or no --audio for a synthesised signal)"
        )
    return np.asarray(x, np.float32)


def export(
    spec: ExportSpec,
    out_dir: Path,
    formats: Sequence[str] = ("torchscript", "onnx"),
    audio: Optional[np.ndarray] = None,
    atol: float = DEFAULT_ATOL,
    reduction: Optional[str] = None,
    log=print,
) -> Tuple[bool, Dict[str, Dict[str, float]], List[Path]]:
    """Write the requested formats into ``out_dir`` and validate each against the eager engine.

    Returns
    -------
    (ok, differences per format, written paths)
    """
    step, model = build_step(spec, reduction)
    reduction = step.reduction
    if audio is None:
        audio = test_signal(spec.sr)
    if len(audio) < spec.hop_length:
        raise AudioError(f"validation audio is shorter than one hop ({spec.hop_length} samples)")
    signals = _batch_signals(audio, spec.batch, spec.hop_length)
    with torch.inference_mode():
        ref = eager_outputs(model, spec, signals, reduction)
    out_dir = Path(out_dir)
    written, results, ok_all = [], {}, True
    for fmt in formats:
        if fmt == "torchscript":
            path = write_torchscript(step, spec.batch, out_dir / f"{spec.stem}.pt")
            ours = run_torchscript(path, signals, spec.hop_length)
        elif fmt == "onnx":
            path = write_onnx(step, spec.batch, out_dir / f"{spec.stem}.onnx")
            try:
                ours = run_onnx(path, signals, spec.hop_length, step.cache_length)
            except ImportError:
                raise ParameterError("validating the ONNX file needs onnxruntime: pip install -e '.[export]'") from None
        else:
            raise ParameterError(f"unknown format '{fmt}' (torchscript, onnx)")
        ok, diffs = compare(ours, ref, atol)
        written.append(path)
        results[fmt] = diffs
        ok_all &= ok
        log(
            f"{path}: {'OK' if ok else 'MISMATCH'} against the eager engine on {signals.shape[1] / spec.sr:.2f} s x "
            f"{spec.batch} stream(s): max |diff| activations {diffs['activations']:.2e}, confidence "
            f"{diffs['confidence']:.2e}, volume (relative) {diffs['volume_rel']:.2e}, pitch "
            f"{diffs['pitch_semitones']:.2e} semitones ({diffs['pitch_share_within_atol']:.2%} of frames within "
            f"{atol:g}); tolerance {atol:g}"
        )
    meta = metadata(spec, step)
    meta["validation"] = {
        "atol": atol,
        "seconds": signals.shape[1] / spec.sr,
        "max_differences": results,
        "ok": bool(ok_all),
    }
    meta_path = out_dir / f"{spec.stem}.json"
    _atomic_bytes(meta_path, (json.dumps(meta, indent=2) + "\n").encode())
    written.append(meta_path)
    return ok_all, results, written


# ------------------------------------------------------------------------------------------------------ CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pesto_core.export",
        description="Export PESTO's streaming model (fixed sample rate, hop and batch) as "
        "TorchScript and ONNX, validated against the eager engine.",
    )
    p.add_argument("--sr", type=int, required=True, help="sample rate in Hz")
    hop = p.add_mutually_exclusive_group()
    hop.add_argument("--hop", type=int, help="hop in samples")
    hop.add_argument("-s", "--step", type=float, help="step in ms (hop = round(step * sr / 1000)); default 10")
    p.add_argument("--batch", type=int, default=1, help="streams per call (default 1)")
    p.add_argument("--mirror", type=float, default=1.0, help="fraction of the future half-window zeroed (default 1)")
    p.add_argument("-o", "--output-dir", type=Path, required=True, help="directory for the files")
    p.add_argument(
        "-m", "--model", default=DEFAULT_MODEL, help=f"bundled model or checkpoint (default {DEFAULT_MODEL})"
    )
    p.add_argument("-r", "--reduction", choices=REDUCTIONS, default=None, help="pitch reduction (default: model's)")
    p.add_argument("-f", "--formats", nargs="+", choices=("torchscript", "onnx"), default=["torchscript", "onnx"])
    p.add_argument("--audio", type=Path, help="audio file at --sr for the validation (default: synthesised)")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds of audio used for the validation (default 3)")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL, help=f"tolerance (default {DEFAULT_ATOL:g})")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .geometry import hop_length_for

    args = _parser().parse_args(argv)
    try:
        if args.hop is not None:
            hop = args.hop
        else:
            hop = hop_length_for(10.0 if args.step is None else args.step, args.sr)
        if args.seconds <= 0:
            raise ParameterError(f"--seconds must be positive, got {args.seconds}")
        if "onnx" in args.formats:
            try:
                import onnx  # noqa: F401
                import onnxruntime  # noqa: F401
            except ImportError as e:
                print(
                    f"pesto export: error: ONNX export needs onnx and onnxruntime ({e}): "
                    f"pip install -e '.[export]' (or -f torchscript)",
                    file=sys.stderr,
                )
                return 3
        spec = ExportSpec(args.model, args.sr, hop, args.batch, args.mirror)
        audio = None
        if args.audio is not None:
            audio = read_audio(args.audio, args.sr)[: int(args.seconds * args.sr)]
        else:
            audio = test_signal(args.sr, args.seconds)
        ok, _, written = export(spec, args.output_dir, args.formats, audio, args.atol, args.reduction)
    except OutputError as e:
        print(f"pesto export: error: {e}", file=sys.stderr)
        return 1
    except PestoError as e:
        print(f"pesto export: error: {e}", file=sys.stderr)
        return 2
    if not ok:
        print("pesto export: error: an exported model does not match the eager engine (see above)", file=sys.stderr)
        return 1
    print(f"pesto export: wrote {', '.join(str(p) for p in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
