"""Native streaming frames: the whole per-hop computation in one C call (``pesto_core/native/frame.c``).

A streaming hop is one frame: about 40 tiny tensor operations, whose fixed costs (dispatch, allocation, threads)
dominate in torch — about 2 ms per hop here, against ~0.3 ms of arithmetic. The C file evaluates the same function
(VQT with each kernel cut to its non-zero taps, dB, confidence, volume, encoder with its prefilter by FFT, softmax,
decoding) for one frame at a time. It is compiled on first use with the system's C compiler (``$CC`` or ``cc``,
``-O3 -march=native``) into a per-user cache (``$PESTO_NATIVE_DIR``, else ``$XDG_CACHE_HOME/pesto-tracker`` or
``~/.cache/pesto-tracker``), keyed by the source, the compiler and the CPU, and loaded with ctypes.

Without a compiler (or with ``PESTO_NATIVE=0``) everything still works: streaming falls back to the torch engine,
which gives the same numbers to float32 rounding, only slower; :func:`native_status` says which is in use and why.
The offline engine always uses torch (there the work is large matrix products, which torch does well).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch

SOURCE = Path(__file__).resolve().parent / "native" / "frame.c"
ABI_VERSION = 5  # PT_ABI_VERSION in frame.c
MAX_POINT = 8
REDUCTION_CODES = {"alwa": 0, "argmax": 1, "mean": 2}
ACTIVATION_CODES = {"LeakyReLU": 0, "ReLU": 1, "SiLU": 2}
COMPILE_TIMEOUT_S = 120

_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_status: Optional[str] = None  # None: not tried yet
_warned = False

_f32p = ctypes.POINTER(ctypes.c_float)
_f64p = ctypes.POINTER(ctypes.c_double)
_i32p = ctypes.POINTER(ctypes.c_int32)
_i64p = ctypes.POINTER(ctypes.c_int64)


class _Plan(ctypes.Structure):
    """Mirror of ``pt_plan`` in frame.c (same order, same types)."""

    _fields_ = [
        ("n_bins", ctypes.c_int32),
        ("taps", ctypes.c_int32),
        ("bin_start", _i32p),
        ("bin_len", _i32p),
        ("bin_off", _i64p),
        ("vqt_re", _f32p),
        ("vqt_im", _f32p),
        ("crop0", ctypes.c_int32),
        ("n_in", ctypes.c_int32),
        ("ln10_over_10", ctypes.c_float),
        ("ln_eps", ctypes.c_float),
        ("db_floor", ctypes.c_float),
        ("ln_w", _f32p),
        ("ln_b", _f32p),
        ("act", ctypes.c_int32),
        ("slope", ctypes.c_float),
        ("ch", ctypes.c_int32),
        ("ksize", ctypes.c_int32),
        ("n_mix", ctypes.c_int32),
        ("fft_n", ctypes.c_int32),
        ("fft_log2", ctypes.c_int32),
        ("conv1_w", _f32p),
        ("conv1_b", _f32p),
        ("mix_h", _f32p),
        ("mix_b", _f32p),
        ("twiddle", _f32p),
        ("bitrev", _i32p),
        ("n_point", ctypes.c_int32),
        ("p_in", ctypes.c_int32 * MAX_POINT),
        ("p_out", ctypes.c_int32 * MAX_POINT),
        ("p_w", _f32p * MAX_POINT),
        ("p_b", _f32p * MAX_POINT),
        ("c_last", ctypes.c_int32),
        ("n_out", ctypes.c_int32),
        ("roll", ctypes.c_int32),
        ("fc_rev", _f32p),
        ("conf_k", ctypes.c_int32),
        ("conf_stride", ctypes.c_int32),
        ("conf_n", ctypes.c_int32),
        ("conf_w", _f64p),
        ("lin_w", _f64p),
        ("conf_b", ctypes.c_double),
        ("lin_b", ctypes.c_double),
        ("reduction", ctypes.c_int32),
        ("bps", ctypes.c_int32),
        ("has_voicing", ctypes.c_int32),
        ("voice_w", ctypes.c_double * 3),
        ("voice_b", ctypes.c_double),
        ("work", _f32p),
        ("work_len", ctypes.c_int64),
    ]


class _RefineParams(ctypes.Structure):
    """Mirror of ``pt_refine_params`` in frame.c."""

    _fields_ = [
        ("sr", ctypes.c_int32),
        ("max_harm", ctypes.c_int32),
        ("extrapolate", ctypes.c_int32),
        ("max_length", ctypes.c_int64),
        ("n_periods", ctypes.c_double),
        ("min_window_s", ctypes.c_double),
        ("max_shift", ctypes.c_double),
        ("nyquist_share", ctypes.c_double),
        ("tolerance", ctypes.c_double),
        ("work", _f64p),
        ("work_len", ctypes.c_int64),
    ]


# ------------------------------------------------------------------------------------------------------ building
def _cache_dir() -> Path:
    if os.environ.get("PESTO_NATIVE_DIR"):
        return Path(os.environ["PESTO_NATIVE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pesto-tracker"


def _cpu_identity() -> str:
    """What -march=native depends on: the machine and, on Linux, the CPU model and its feature flags."""
    ident = [platform.machine(), platform.system()]
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features")):
                    ident.append(line.strip())
                if len(ident) >= 4:
                    break
    except OSError:
        ident.append(platform.processor())
    return "\n".join(ident)


def _compiler() -> Optional[str]:
    cc = os.environ.get("CC", "").split()
    if cc:
        return shutil.which(cc[0]) or cc[0]
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _intact(lib: Path) -> bool:
    """Whether ``lib`` is the file our build wrote: its SHA-256 matches the sidecar written with it. Checked before
    loading because the dynamic loader does not fail cleanly on a damaged library (a truncated one crashes the
    process with SIGBUS)."""
    try:
        return Path(str(lib) + ".sha256").read_text().strip() == _digest(lib)
    except OSError:
        return False


def _compile(cc: str, out: Path) -> Tuple[bool, str]:
    """Compile frame.c into ``out``, with its SHA-256 beside it (``out.sha256``); both via temporary files in the
    same folder and atomic renames, so that a reader never sees a half-written file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    os.close(fd)
    fd, tmp_sum = tempfile.mkstemp(prefix=out.name + ".", suffix=".sha256.tmp", dir=out.parent)
    os.close(fd)
    errors = []
    try:
        for flags in (["-O3", "-march=native"], ["-O3"]):  # -march=native is unknown to some compilers/targets
            cmd = [cc, *flags, "-fPIC", "-shared", "-o", tmp, str(SOURCE), "-lm"]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
            except (OSError, subprocess.TimeoutExpired) as e:
                errors.append(f"{' '.join(cmd)}: {e}")
                continue
            if proc.returncode == 0:
                Path(tmp_sum).write_text(_digest(Path(tmp)) + "\n")
                os.replace(tmp, out)
                os.replace(tmp_sum, str(out) + ".sha256")
                return True, ""
            errors.append(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
        return False, "; ".join(errors)
    finally:
        for leftover in (tmp, tmp_sum):
            if os.path.exists(leftover):
                os.unlink(leftover)


def _load() -> Tuple[Optional[ctypes.CDLL], str]:
    if os.environ.get("PESTO_NATIVE", "1").strip().lower() in ("0", "no", "off", "false"):
        return None, "disabled by PESTO_NATIVE=0"
    if not SOURCE.is_file():
        return None, f"source {SOURCE} is missing"
    cc = _compiler()
    if cc is None:
        return None, "no C compiler found (install gcc or clang, or set CC)"
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"C compiler {cc} does not run ({e})"
    key = hashlib.sha256(
        b"\0".join(
            [SOURCE.read_bytes(), cc.encode(), version.encode(), _cpu_identity().encode(), sys.platform.encode()]
        )
    ).hexdigest()[:20]
    lib_path = None
    for folder in (
        _cache_dir() / "native",
        Path(tempfile.gettempdir()) / f"pesto-tracker-native-{os.getuid()}"
        if hasattr(os, "getuid")
        else Path(tempfile.gettempdir()) / "pesto-tracker-native",
    ):
        candidate = folder / f"frame-{key}.so"
        if candidate.is_file() and _intact(candidate):
            lib_path = candidate
            break
        # missing, or damaged (e.g. a disk that filled up, a copy cut short): (re)build it
        try:
            ok, why = _compile(cc, candidate)
        except OSError as e:  # folder not writable: try the next one
            ok, why = False, f"cannot write {folder} ({e})"
        if ok:
            lib_path = candidate
            break
        if "cannot write" not in why:
            return None, f"compiling {SOURCE.name} failed: {why}"
    if lib_path is None:
        return None, "no writable folder for the compiled library"
    try:
        lib = ctypes.CDLL(str(lib_path))
    except OSError as e:
        return None, f"cannot load {lib_path} ({e})"
    try:
        if lib.pt_abi_version() != ABI_VERSION:
            return None, f"{lib_path} has ABI {lib.pt_abi_version()}, expected {ABI_VERSION}"
    except AttributeError as e:
        return None, f"{lib_path} is not this engine's library ({e})"
    lib.pt_frames.restype = ctypes.c_int
    # array arguments as plain addresses (ndarray.ctypes.data): ctypes' typed-pointer casts cost ~5 us each
    vp = ctypes.c_void_p
    lib.pt_frames.argtypes = [ctypes.POINTER(_Plan), vp, ctypes.c_int64, ctypes.c_int64, vp, vp, vp, vp, vp]
    lib.pt_refine.restype = ctypes.c_int
    lib.pt_refine.argtypes = [ctypes.POINTER(_RefineParams), vp, vp, vp, ctypes.c_int64, vp, vp]
    lib.pt_work_floats.restype = ctypes.c_int64
    lib.pt_work_floats.argtypes = [ctypes.POINTER(_Plan)]
    return lib, f"native ({lib_path})"


def library() -> Optional[ctypes.CDLL]:
    """The compiled library, building it on first use; None where it cannot be had (see :func:`native_status`)."""
    global _lib, _status, _warned
    with _lock:
        if _status is None:
            _lib, _status = _load()
            if _lib is None and not _status.startswith("disabled") and not _warned:
                _warned = True
                warnings.warn(
                    f"fast streaming kernels unavailable: {_status}. Streaming uses the torch engine "
                    f"(same results, several times slower per hop).",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return _lib


def native_status() -> str:
    """'native (<library path>)' or the reason the torch engine is used for streaming."""
    library()
    return _status or ""


def _reset_for_tests() -> None:
    """Forget the loaded library so that the next :func:`library` call rebuilds/reloads it (tests only)."""
    global _lib, _status, _warned
    with _lock:
        _lib, _status, _warned = None, None, False


# ------------------------------------------------------------------------------------------------------ the plan
def _ptr(a: np.ndarray, kind):
    return a.ctypes.data_as(kind)


def _pad_to(n: int, m: int = 8) -> int:
    return -(-n // m) * m


class NativeFramePlan:
    """The weights of one streaming configuration in the layouts frame.c reads, and a scratch buffer.

    Parameters
    ----------
    model : PestoModel
        Its encoder, confidence head and geometry of the VQT (``hcqt_params``).
    kernels : ndarray complex128 (n_bins, kernel_width), lengths : ndarray float64 (n_bins,)
        The VQT kernels (:func:`pesto_core.vqt.make_kernels`) at the stream's sample rate.
    taps : int
        Samples per window (``Z + hop``); the ``m`` mirrored zeros after them are never read.
    reduction : {"alwa", "argmax", "mean"}

    Not thread-safe (one scratch buffer): one per stream owner.
    """

    def __init__(self, lib: ctypes.CDLL, model, kernels: np.ndarray, lengths: np.ndarray, taps: int, reduction: str):
        self._lib = lib
        self._keep = []  # arrays the struct points into
        enc, conf = model.encoder, model.confidence
        p = _Plan()
        # --- VQT: each kernel cut to its non-zero taps within the window, sqrt(l_k) folded in (one rounding)
        from .vqt import window_weights

        w_re, w_im, first, last = window_weights(kernels, lengths, taps)
        lens = (last - first + 1).astype(np.int32)
        offs = np.concatenate([[0], np.cumsum(lens[:-1], dtype=np.int64)]).astype(np.int64)
        re_flat = np.concatenate([w_re[k, first[k] : first[k] + lens[k]] for k in range(len(lens))] + [np.zeros(16)])
        im_flat = np.concatenate([w_im[k, first[k] : first[k] + lens[k]] for k in range(len(lens))] + [np.zeros(16)])
        p.n_bins, p.taps = kernels.shape[0], int(taps)
        p.bin_start = _ptr(self._hold(first.astype(np.int32)), _i32p)
        p.bin_len = _ptr(self._hold(lens), _i32p)
        p.bin_off = _ptr(self._hold(offs), _i64p)
        p.vqt_re = _ptr(self._hold(re_flat.astype(np.float32)), _f32p)
        p.vqt_im = _ptr(self._hold(im_flat.astype(np.float32)), _f32p)
        # --- front
        from .model import LN10_OVER_10, prefilter_spectrum

        p.crop0, p.n_in = model.crop[0], enc.n_bins_in
        p.ln10_over_10, p.ln_eps = LN10_OVER_10, enc.layernorm.eps
        p.db_floor = float(torch.finfo(torch.float32).eps)
        p.ln_w = _ptr(self._f32(enc.layernorm.weight.reshape(-1)), _f32p)
        p.ln_b = _ptr(self._f32(enc.layernorm.bias.reshape(-1)), _f32p)
        name = type(enc.activation).__name__
        if name not in ACTIVATION_CODES:
            raise ValueError(f"activation {name} has no native form")
        p.act = ACTIVATION_CODES[name]
        p.slope = float(getattr(enc.activation, "negative_slope", 0.0))
        # --- prefilter: channels padded to a multiple of 8 (zero weights and biases keep the padding at zero)
        w1 = enc.prefilter[0].weight.detach().double().cpu().numpy()  # (ch, 1, K)
        ch_real, k = w1.shape[0], w1.shape[2]
        ch = _pad_to(ch_real)
        p.ch, p.ksize, p.n_mix = ch, k, len(enc.prefilter) - 1
        conv1_w = np.zeros((k, ch))
        conv1_w[:, :ch_real] = w1[:, 0, :].T
        conv1_b = np.zeros(ch)
        conv1_b[:ch_real] = enc.prefilter[0].bias.detach().double().cpu().numpy()
        p.conv1_w = _ptr(self._hold(conv1_w.astype(np.float32)), _f32p)
        p.conv1_b = _ptr(self._hold(conv1_b.astype(np.float32)), _f32p)
        n = 1 << int(np.ceil(np.log2(enc.n_bins_in + k // 2)))  # circular convolution never wraps onto kept bins
        nf = n // 2 + 1
        p.fft_n, p.fft_log2 = n, n.bit_length() - 1
        mix_h = np.zeros((max(1, p.n_mix), nf, ch, 2, ch))
        mix_b = np.zeros((max(1, p.n_mix), ch))
        for layer, conv in enumerate(enc.prefilter[1:]):
            # (nf, in, out); 1/n of the inverse transform folded in
            spec = prefilter_spectrum(conv.weight.detach().cpu(), n).numpy() / n
            mix_h[layer, :, :ch_real, 0, :ch_real] = spec.real
            mix_h[layer, :, :ch_real, 1, :ch_real] = spec.imag
            mix_b[layer, :ch_real] = conv.bias.detach().double().cpu().numpy()
        p.mix_h = _ptr(self._hold(mix_h.astype(np.float32)), _f32p)
        p.mix_b = _ptr(self._hold(mix_b.astype(np.float32)), _f32p)
        j = np.arange(n // 2 + 1)
        twiddle = np.stack([np.cos(2 * np.pi * j / n), -np.sin(2 * np.pi * j / n)], axis=1)
        p.twiddle = _ptr(self._hold(twiddle.astype(np.float32)), _f32p)
        bits = p.fft_log2 - 1  # the complex transforms have n / 2 points
        bitrev = np.array([int(format(i, f"0{bits}b")[::-1], 2) for i in range(n // 2)], dtype=np.int32)
        p.bitrev = _ptr(self._hold(bitrev), _i32p)
        # --- 1x1 convolutions, (in, out) padded
        if len(enc.pointwise) > MAX_POINT or len(enc.pointwise) == 0:
            raise ValueError(f"{len(enc.pointwise)} 1x1 layers: the native form takes 1..{MAX_POINT}")
        p.n_point = len(enc.pointwise)
        c_in = ch
        for i, conv in enumerate(enc.pointwise):
            w = conv.weight.detach().double().cpu().numpy()[:, :, 0]  # (out, in)
            c_out = _pad_to(w.shape[0])
            wt = np.zeros((c_in, c_out))
            wt[: w.shape[1], : w.shape[0]] = w.T
            b = np.zeros(c_out)
            b[: w.shape[0]] = conv.bias.detach().double().cpu().numpy()
            p.p_in[i], p.p_out[i] = c_in, c_out
            p.p_w[i] = _ptr(self._hold(wt.astype(np.float32)), _f32p)
            p.p_b[i] = _ptr(self._hold(b.astype(np.float32)), _f32p)
            c_in = c_out
            p.c_last = w.shape[0]
        # --- Toeplitz layer: out[j] = sum_i x_i w[i - j + n_out - 1] = sum_i x_i rev[fc_in - 1 - i + j]
        fc = enc.fc_kernel.detach().float().cpu().numpy()
        p.n_out, p.roll = enc.output_dim, model.roll_bins
        p.fc_rev = _ptr(self._hold(np.concatenate([fc[::-1], np.zeros(8)]).astype(np.float32)), _f32p)
        # --- confidence head (float64)
        p.conf_k = conf.conv.kernel_size[0]
        p.conf_stride = conf.conv.stride[0]
        p.conf_n = conf.linear.in_features - 1
        p.conf_w = _ptr(self._hold(conf.conv.weight.detach().double().cpu().numpy().reshape(-1).copy()), _f64p)
        p.conf_b = float(conf.conv.bias.detach().double())
        p.lin_w = _ptr(self._hold(conf.linear.weight.detach().double().cpu().numpy().reshape(-1).copy()), _f64p)
        p.lin_b = float(conf.linear.bias.detach().double())
        p.reduction, p.bps = REDUCTION_CODES[reduction], model.bins_per_semitone
        # --- learned voicing output (pesto_core.voicing_head), when the model has one
        vh = getattr(model, "voicing", None)
        p.has_voicing = 0 if vh is None else 1
        if vh is not None:
            for i, v in enumerate(vh.weight.detach().double().cpu().tolist()):
                p.voice_w[i] = v
            p.voice_b = float(vh.bias.detach().double().cpu()[0])
        self.n_bins, self.n_out, self.taps = p.n_bins, p.n_out, p.taps
        p.work_len = 0
        work = np.zeros(int(lib.pt_work_floats(ctypes.byref(p))), np.float32)
        p.work = _ptr(self._hold(work), _f32p)
        p.work_len = len(work)
        self._plan = p
        self._plan_ref = ctypes.byref(p)

    def enable_refine(self, sr: int, bins_per_semitone: int, max_length: int) -> None:
        """Prepare :meth:`refine` (pesto_core.refine's method and constants; streaming windows, extrapolated, at most
        ``max_length`` samples)."""
        from . import refine as r

        q = _RefineParams()
        q.sr, q.max_harm, q.extrapolate, q.max_length = int(sr), r.MAX_HARMONICS, 1, int(max_length)
        q.n_periods, q.min_window_s = r.N_PERIODS, r.MIN_WINDOW_S
        q.max_shift = r.max_shift_for(bins_per_semitone)
        q.nyquist_share, q.tolerance = r.NYQUIST_SHARE, r.HARMONIC_TOLERANCE
        work = self._hold(np.zeros(2 * (int(max_length) + 8)))
        q.work, q.work_len = _ptr(work, _f64p), len(work)
        self._refine = q
        self._refine_ref = ctypes.byref(q)

    def refine(self, x: np.ndarray, centres: np.ndarray, ends: np.ndarray, pitch: np.ndarray) -> np.ndarray:
        """:func:`pesto_core.refine.refine_pitch` with ``ends`` (streaming), natively.

        Parameters
        ----------
        x : ndarray float32 (samples,), C-contiguous
        centres, ends : ndarray int64 (frames,): each frame's centre and the end of its usable samples, in ``x``
        pitch : ndarray float32 (frames,), MIDI semitones

        Returns
        -------
        ndarray float32 (frames,)
        """
        centres = np.ascontiguousarray(centres, dtype=np.int64)
        ends = np.ascontiguousarray(ends, dtype=np.int64)
        pitch = np.ascontiguousarray(pitch, dtype=np.float32)
        if (
            x.dtype != np.float32
            or not x.flags.c_contiguous
            or len(centres) != len(pitch)
            or len(ends) != len(pitch)
            or (len(ends) and (ends.max() > len(x) or ends.min() < 1))
        ):
            raise ValueError("native refine: need float32 contiguous samples and matching centres/ends/pitch")
        out = np.empty_like(pitch)
        rc = self._lib.pt_refine(
            self._refine_ref,
            x.ctypes.data,
            centres.ctypes.data,
            ends.ctypes.data,
            len(pitch),
            pitch.ctypes.data,
            out.ctypes.data,
        )
        if rc != 0:
            raise RuntimeError(f"native refine failed (code {rc})")
        return out

    def _hold(self, a: np.ndarray) -> np.ndarray:
        a = np.ascontiguousarray(a)
        self._keep.append(a)
        return a

    def _f32(self, t: torch.Tensor) -> np.ndarray:
        return self._hold(t.detach().float().cpu().numpy().astype(np.float32))

    def frames(self, x: np.ndarray, hop: int, n_frames: int):
        """Frames ``j < n_frames`` with windows ``x[j * hop : j * hop + taps]``.

        Parameters
        ----------
        x : ndarray float32, C-contiguous, at least ``(n_frames - 1) * hop + taps`` samples

        Returns
        -------
        activations (n_frames, n_out) (shifted), confidence, volume, pitch (n_frames,): float32
        """
        need = (n_frames - 1) * hop + self.taps if n_frames else 0
        if x.dtype != np.float32 or not x.flags.c_contiguous or x.ndim != 1 or len(x) < need:
            raise ValueError(f"native frames: need float32 contiguous samples >= {need}, got {x.dtype} {x.shape}")
        acts = np.empty((n_frames, self.n_out), np.float32)
        conf, vol, pitch = (np.empty(n_frames, np.float32) for _ in range(3))
        rc = self._lib.pt_frames(
            self._plan_ref,
            x.ctypes.data,
            hop,
            n_frames,
            acts.ctypes.data,
            conf.ctypes.data,
            vol.ctypes.data,
            pitch.ctypes.data,
            None,
        )
        if rc != 0:
            raise RuntimeError(f"native frames failed (code {rc})")
        return acts, conf, vol, pitch
