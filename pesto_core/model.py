"""PESTO's network: encoder, confidence head and volume, on top of the VQT front end.

Method (Riou et al., ISMIR 2023, arXiv 2309.02265; TISMIR 2025, arXiv 2508.01488). Each VQT frame is processed on its
own (no context across time):

1. VQT power in dB (``n_bins`` bins). Volume = the frame's total power; confidence = a small head on the power
   spectrum (a strided convolution plus the spectral flatness, then a logistic unit).
2. The log-power spectrum is cropped to ``n_bins_in`` bins (``pitch_shift``), layer-normalised, passed through a
   residual stack of "prefilter" convolutions along frequency, 1x1 convolutions that reduce the channels, and a
   Toeplitz (i.e. transposition-equivariant) fully-connected layer, then a softmax: a distribution over
   ``128 * bps`` pitch bins.
3. The distribution is rolled by the checkpoint's ``shift`` (in semitones) so that bin ``i`` is MIDI pitch
   ``i / bps``, and reduced to a pitch (:mod:`pesto_core.decode`).
4. For a checkpoint with a learned voicing output (ours: ``voicing.*`` keys), the confidence is that calibrated
   probability, computed from the head's output and the distribution (:mod:`pesto_core.voicing_head`).
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Iterator, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import Checkpoint
from .decode import reduce_activations
from .errors import CheckpointError, ParameterError
from .geometry import hop_length_for, n_offline_frames  # noqa: F401 (hop_length_for re-exported)
from .units import semitones_to_hz
from .validation import check_sr
from .voicing_head import VoicingHead
from .vqt import VQT, padded_segment

# Frames yielded per chunk by default. Memory is bounded by the tiles (about 0.25 MB per frame at 48 kHz).
DEFAULT_CHUNK_FRAMES = 512
TILE_FRAMES = 512  # frames per encoder pass, and per VQT pass for long signals (see _computation_blocks)
WHOLE_VQT_FRAMES = 2048  # signals up to this many frames get their VQT in one pass, as upstream
LN10_OVER_10 = math.log(10) / 10


def _fft_friendly(n: int) -> int:
    """Smallest integer >= n whose only prime factors are 2, 3 and 5 (fast FFT sizes)."""
    m = max(1, int(n))
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def prefilter_spectrum(weight: torch.Tensor, n: int) -> torch.Tensor:
    """Spectrum of a prefilter convolution for an ``n``-point circular (FFT) evaluation, in float64.

    The layer computes ``y[i] = sum_k w[k] x[i + k - K//2]`` ("same" padding), i.e. the circular convolution of ``x``
    with ``h[(K//2 - k) mod n] = w[k]``; with ``n >= n_bins + K//2`` it never wraps onto the kept bins.

    Parameters
    ----------
    weight : Tensor (out, in, K), any float dtype
    n : int, FFT size

    Returns
    -------
    Tensor complex128 (n // 2 + 1, in, out)
    """
    w = weight.double()
    k = w.shape[-1]
    h = torch.zeros(*w.shape[:2], n, dtype=torch.float64, device=w.device)
    h[:, :, (k // 2 - torch.arange(k, device=w.device)) % n] = w
    return torch.fft.rfft(h).permute(2, 1, 0)


class Encoder(nn.Module):
    """Frame-wise pitch encoder.

    Input: log-power spectra, shape (frames, n_bins_in). Output: probabilities, shape (frames, output_dim).

    Arithmetic (the same function as the published network, evaluated more cheaply; float32 throughout):

    * The prefilter convolutions after the first (``C x C`` channels, kernel ``K`` = 39 along ``n_bins_in`` = 219
      bins: 2 * 13.7 M multiply-adds per frame as a direct convolution) are computed by FFT: each channel, zero-padded
      to ``fft_size`` >= ``n_bins_in + K // 2`` bins (so the circular convolution never wraps onto the kept bins), is
      transformed (``rfft``), the channels are mixed at each frequency by the kernels' spectra (one batched matrix
      product over the frequencies), transformed back, and the first ``n_bins_in`` bins are kept. The spectra are
      computed once in float64 and rounded to float32. FFT convolution equals direct convolution in real arithmetic;
      in float32 both differ from a float64 evaluation by rounding only (about 1e-4 on the output probabilities,
      whose logits reach 1e3; the golden tolerance is 1e-3).
    * The complex mixing is one real matrix product per frequency: rows ``[Re X, Im X]`` times
      ``[[Re H, Im H], [-Im H, Re H]]`` (batches of frames).
    * For a few frames (streaming, one frame per hop) the cost is reading the weights, not the arithmetic: there the
      convolution is overlap-save in blocks of ``few_fft_size`` (80) bins with ``few_fft_size - K + 1`` valid outputs
      each (41 frequencies instead of 121: a third of the weight bytes), the mixing is in split form (rows ``Re X``
      and ``Im X`` times ``[Re H, Im H]``, recombined as ``(Re X) H + i (Im X) H``: half the bytes again), the 1x1
      layers are one product each over all bins, and the Toeplitz layer is a circular convolution by FFT with the
      spectrum of its generating vector (4 KB instead of the 1 MB matrix).
    * The first prefilter (one input channel, 0.3 M multiply-adds) stays a direct convolution; the 1x1
      convolutions and the Toeplitz layer are matrix products (the Toeplitz matrix is derived once from its
      generating vector).
    * On the CPU, frames go through in blocks of ``CPU_BLOCK_FRAMES`` so the FFT buffers stay in cache (blocks are
      cut on a fixed grid from the start of the input).
    """

    # Frames per pass on the CPU: the FFT buffers of 64 frames (a few MB) stay in the L2/L3 caches.
    CPU_BLOCK_FRAMES = 64
    # Up to this many frames, the few-frames evaluation (least weight bytes; see above) is used.
    FEW_FRAMES = 4

    def __init__(
        self,
        n_chan_layers=(40, 30, 30, 10, 3),
        n_prefilt_layers: int = 3,
        prefilt_kernel_size: int = 39,
        residual: bool = True,
        n_bins_in: int = 219,
        output_dim: int = 384,
        activation_fn: str = "leaky",
        a_lrelu: float = 0.3,
        n_chan_input: int = 1,
        **unused,
    ):
        super().__init__()
        if n_chan_input != 1:
            raise CheckpointError("only single-harmonic (n_chan_input=1) PESTO models are supported")
        channels = list(n_chan_layers)
        self.residual = residual
        self.n_bins_in = n_bins_in
        self.output_dim = output_dim
        if activation_fn == "leaky":
            self.activation = nn.LeakyReLU(a_lrelu, inplace=True)
        elif activation_fn == "relu":
            self.activation = nn.ReLU(inplace=True)
        elif activation_fn == "silu":
            self.activation = nn.SiLU(inplace=True)
        else:
            raise CheckpointError(f"unknown activation '{activation_fn}'")
        if prefilt_kernel_size % 2 == 0:
            raise CheckpointError(f"prefilter kernel size {prefilt_kernel_size} is even (only odd sizes keep the bins)")
        self.layernorm = nn.LayerNorm([1, n_bins_in])
        pad = prefilt_kernel_size // 2
        self.prefilter = nn.ModuleList(
            [
                nn.Conv1d(1 if i == 0 else channels[0], channels[0], prefilt_kernel_size, padding=pad)
                for i in range(n_prefilt_layers)
            ]
        )
        self.pointwise = nn.ModuleList([nn.Conv1d(c_in, c_out, 1) for c_in, c_out in zip(channels[:-1], channels[1:])])
        fc_in = n_bins_in * channels[-1]
        # Toeplitz layer kept as its generating vector; the (fc_in, output_dim) matrix is derived once.
        self.fc_kernel = nn.Parameter(torch.zeros(fc_in + output_dim - 1), requires_grad=False)
        self.register_buffer("fc_matrix", torch.zeros(fc_in, output_dim), persistent=False)
        self.kernel_size = prefilt_kernel_size
        self.fft_size = _fft_friendly(n_bins_in + prefilt_kernel_size // 2)
        n_freq = self.fft_size // 2 + 1
        c = channels[0]
        n_mix = max(0, n_prefilt_layers - 1)
        # Kernel spectra H (freq, c_in, c_out) of prefilter layers 1.. in the two real forms described above
        self.register_buffer("spectra_packed", torch.zeros(n_mix, n_freq, 2 * c, 2 * c), persistent=False)
        # Few frames (streaming): overlap-save in short blocks of few_fft_size bins, each giving few_fft_size - K + 1
        # outputs: fewer frequencies, so a third of the weight bytes to read per hop, in split form.
        self.few_fft_size = _fft_friendly(2 * (prefilt_kernel_size - 1))
        self.few_valid = self.few_fft_size - prefilt_kernel_size + 1
        self.few_blocks = -(-n_bins_in // self.few_valid)
        self.register_buffer("spectra_few", torch.zeros(n_mix, self.few_fft_size // 2 + 1, c, 2 * c), persistent=False)
        # Toeplitz layer as a circular correlation: out[j] = sum_i x[i] w[i - j + output_dim - 1] never wraps with
        # fc_fft_size >= fc_in + output_dim - 1; its spectrum is conj(rfft(w reversed-and-aligned)).
        self.fc_fft_size = _fft_friendly(fc_in + output_dim - 1)
        self.register_buffer(
            "fc_spectrum", torch.zeros(self.fc_fft_size // 2 + 1, dtype=torch.complex64), persistent=False
        )

    def load_upstream(self, sd: Dict[str, torch.Tensor]) -> None:
        """Copy weights from an upstream-named state dict (``encoder.*`` keys)."""
        with torch.no_grad():
            self.layernorm.weight.copy_(sd["encoder.layernorm.weight"])
            self.layernorm.bias.copy_(sd["encoder.layernorm.bias"])
            names = ["encoder.conv1.0"] + [f"encoder.prefilt_layers.{i}.0" for i in range(len(self.prefilter) - 1)]
            for conv, name in zip(self.prefilter, names):
                conv.weight.copy_(sd[f"{name}.weight"])
                conv.bias.copy_(sd[f"{name}.bias"])
            for i, conv in enumerate(self.pointwise):  # Sequential(conv, act, dropout) * n upstream
                conv.weight.copy_(sd[f"encoder.conv_layers.{3 * i}.weight"])
                conv.bias.copy_(sd[f"encoder.conv_layers.{3 * i}.bias"])
            self.fc_kernel.copy_(sd["encoder.fc.weight"].flatten())
            self.prepare()

    @torch.no_grad()
    def prepare(self) -> None:
        """Derive the computation's weight forms (kernel spectra, Toeplitz matrix) from the parameters.

        Called by :meth:`load_upstream`; call it again after changing parameters by hand. Spectra are computed in
        float64 and rounded once to float32.
        """
        fc_in = self.fc_matrix.shape[0]
        # out[j] = sum_i x[i] * w[i - j + output_dim - 1]   (a full "valid" correlation with output_dim-1 zero padding)
        i = torch.arange(fc_in, device=self.fc_kernel.device)[:, None]
        j = torch.arange(self.output_dim, device=self.fc_kernel.device)[None, :]
        self.fc_matrix.copy_(self.fc_kernel[i - j + self.output_dim - 1])
        # out[j] = sum_i x[i] w[i - j + D] (D = output_dim - 1) = sum_i x[i] r[(j - i) mod n] with r[m] = w[D - m]:
        # a circular convolution with r, where r[m] for m in -(fc_in - 1) .. D sits at index m mod n
        n = self.fc_fft_size
        d = self.output_dim - 1
        m = torch.arange(-(fc_in - 1), d + 1, device=self.fc_kernel.device)
        r = torch.zeros(n, dtype=torch.float64, device=self.fc_kernel.device)
        r[m % n] = self.fc_kernel.double()[d - m]
        self.fc_spectrum.copy_(torch.fft.rfft(r))
        n = self.fft_size
        for layer, conv in enumerate(self.prefilter[1:]):
            w = conv.weight.double()  # (out, in, K)
            spectrum = prefilter_spectrum(w, n)  # (freq, in, out)
            re, im = spectrum.real, spectrum.imag
            # packed: [Re X, Im X] @ [[Re H, Im H], [-Im H, Re H]], output (re, im) interleaved per channel
            packed = torch.stack((torch.stack((re, im), -1), torch.stack((-im, re), -1)), 2)  # (freq, in, 2, out, 2)
            self.spectra_packed[layer].copy_(packed.flatten(-2).flatten(1, 2))
            # few frames, overlap-save: y[i] = sum_j g[j] x[i + K//2 - j] with the causal kernel g[j] = w[K - 1 - j]
            few = torch.fft.rfft(w.flip(-1), n=self.few_fft_size).permute(2, 1, 0)  # (freq, in, out)
            # split: Re X @ [Re H, Im H] and Im X @ [Re H, Im H], (re, im) interleaved per output channel
            self.spectra_few[layer].copy_(torch.view_as_real(few).flatten(-2))

    def _prefilter_fft(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Prefilter convolution ``layer`` (>= 1) without its bias, by FFT.

        Parameters
        ----------
        x : Tensor float32 (frames, channels, n_bins_in)

        Returns
        -------
        Tensor float32 (frames, channels, n_bins_in), a view
        """
        frames, c_in, n_bins = x.shape
        if frames > self.FEW_FRAMES:
            spec = torch.fft.rfft(x, n=self.fft_size)  # (frames, in, freq)
            n_freq = spec.shape[-1]
            rows = torch.view_as_real(spec.permute(2, 0, 1).contiguous()).view(n_freq, frames, 2 * c_in)
            mixed = torch.bmm(rows, self.spectra_packed[layer - 1]).view(n_freq, frames, -1, 2)
            mixed = torch.view_as_complex(mixed)  # (freq, frames, out)
            return torch.fft.irfft(mixed.permute(1, 2, 0).contiguous(), n=self.fft_size)[..., :n_bins]
        # overlap-save: block b holds padded bins b * valid .. b * valid + n - 1 (padding: K//2 zeros in front) and
        # its last ``valid`` circular outputs are the outputs b * valid .. (b + 1) * valid - 1
        k, n, valid, n_blocks = self.kernel_size, self.few_fft_size, self.few_valid, self.few_blocks
        padded = F.pad(x, (k // 2, n_blocks * valid + k - 1 - n_bins - k // 2))
        spec = torch.fft.rfft(padded.unfold(-1, n, valid))  # (frames, in, blocks, freq)
        n_freq = spec.shape[-1]
        rows = torch.view_as_real(spec).permute(3, 4, 0, 2, 1).reshape(n_freq, 2 * frames * n_blocks, c_in)
        prod = torch.bmm(rows, self.spectra_few[layer - 1]).view(n_freq, 2, frames, n_blocks, -1, 2)
        # (Re X) H + i (Im X) H
        mixed = torch.add(torch.view_as_complex(prod[:, 0]), torch.view_as_complex(prod[:, 1]), alpha=1j)
        y = torch.fft.irfft(mixed.permute(1, 3, 2, 0).contiguous(), n=n)[..., k - 1 :]  # (frames, out, blocks, valid)
        return y.reshape(frames, -1, n_blocks * valid)[..., :n_bins]

    def published(self, log_power: torch.Tensor) -> torch.Tensor:
        """The published network as its layers define it: direct convolutions, matrix products, float32.

        This is the definition; :meth:`forward` evaluates the same function faster (tests/core/test_encoder.py).
        Plain operators only, so that TorchScript and ONNX compile it (the exporter runs this method).

        Parameters
        ----------
        log_power : Tensor float32 (frames, n_bins_in)

        Returns
        -------
        Tensor float32 (frames, output_dim): probabilities
        """
        x = self.layernorm(log_power.unsqueeze(1))
        for i, conv in enumerate(self.prefilter):
            y = self.activation(conv(x))
            x = y + x if self.residual and i > 0 else y
        for conv in self.pointwise:
            x = self.activation(conv(x))
        return torch.softmax(x.flatten(1) @ self.fc_matrix, dim=-1)

    @torch.jit.unused  # eager only: scripted copies (the exporter's) run :meth:`published`
    def forward(self, log_power: torch.Tensor) -> torch.Tensor:
        if log_power.device.type == "cpu" and log_power.shape[0] > self.CPU_BLOCK_FRAMES:
            return torch.cat([self.forward(block) for block in log_power.split(self.CPU_BLOCK_FRAMES)])
        frames, n_bins = log_power.shape
        if frames == 0:
            return log_power.new_zeros(0, self.output_dim)
        x = F.layer_norm(
            log_power, (n_bins,), self.layernorm.weight.view(-1), self.layernorm.bias.view(-1), self.layernorm.eps
        )
        x = self.activation(self.prefilter[0](x.unsqueeze(1)))  # (frames, channels, bins)
        for layer, conv in enumerate(self.prefilter[1:], start=1):
            y = self.activation(self._prefilter_fft(x, layer) + conv.bias[:, None])
            x = y.add_(x) if self.residual else y
        if frames <= self.FEW_FRAMES:
            # few frames (streaming): plain matrix products per frame, and the Toeplitz layer by FFT from its
            # generating vector (4 KB of spectrum instead of the 1 MB matrix to read each hop)
            x = x.transpose(0, 1).reshape(x.shape[1], -1)  # (channels, frames * bins): one product per layer
            for conv in self.pointwise:
                x = self.activation(torch.addmm(conv.bias[:, None], conv.weight[:, :, 0], x))
            x = x.view(-1, frames, n_bins).transpose(0, 1)
            n = self.fc_fft_size
            spec = torch.fft.rfft(x.reshape(frames, -1), n=n) * self.fc_spectrum
            logits = torch.fft.irfft(spec, n=n)[:, : self.output_dim]
        else:
            for conv in self.pointwise:  # 1x1 convolutions: (out, in) @ (frames, in, bins)
                x = self.activation(torch.matmul(conv.weight[:, :, 0], x).add_(conv.bias[:, None]))
            logits = x.reshape(frames, -1) @ self.fc_matrix
        return torch.softmax(logits, dim=-1)


class ConfidenceHead(nn.Module):
    """Voicing confidence in [0, 1] from a power spectrum, shape (frames, n_bins) -> (frames,)."""

    def __init__(self, n_bins: int = 251, kernel_size: int = 39, stride: int = 3):
        super().__init__()
        # float64 evaluation (see forward); the exporter's copy sets it False (float32 runs everywhere)
        self.exact = True
        self.conv = nn.Conv1d(1, 1, kernel_size, stride=stride)
        n_conv = (n_bins - kernel_size) // stride + 1
        self.linear = nn.Linear(n_conv + 1, 1)

    def forward(self, power: torch.Tensor, log_power: torch.Tensor) -> torch.Tensor:
        # Computed in float64 (it is tiny): float32 reductions change order with the number of frames, and the
        # results must not depend on how a signal is chunked. Upstream's float32 values are matched within 1e-6.
        dtype = torch.float64 if self.exact else torch.float32
        power, log_power = power.to(dtype), log_power.to(dtype)
        bias = self.conv.bias
        assert bias is not None  # (for TorchScript: the layer always has one)
        flatness = log_power.mean(dim=-1, keepdim=True).exp() / power.mean(dim=-1, keepdim=True).clamp(min=1e-8)
        features = F.relu(
            F.conv1d(power.unsqueeze(1), self.conv.weight.to(dtype), bias.to(dtype), stride=self.conv.stride).squeeze(1)
        )
        logit = F.linear(
            torch.cat((features, flatness), dim=-1), self.linear.weight.to(dtype), self.linear.bias.to(dtype)
        )
        return torch.sigmoid(logit).squeeze(-1).float()


class PestoModel(nn.Module):
    """The whole PESTO pipeline for one checkpoint and one step size; the sample rate may change between calls.

    Call it as upstream's model: ``model(x, sr=None, convert_to_freq=False, return_activations=True)`` with ``x``
    float audio of shape (samples,) or (batch, samples) -> ``pitch, confidence, volume[, activations]`` of shapes
    ``(frames,)`` / ``(batch, frames)`` and activations ``(..., frames, 128 * bps)``. Pitch is in MIDI semitones, or
    Hz with ``convert_to_freq``. Frame ``i`` is centred on sample ``i * hop_length``.
    """

    def __init__(
        self,
        ckpt: Checkpoint,
        step_size: float = 10.0,
        sampling_rate: Optional[int] = None,
        reduction: Optional[str] = None,
        chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    ):
        super().__init__()
        self.checkpoint_name = ckpt.name
        self.hcqt_params = dict(ckpt.hcqt_params)
        harmonics = list(self.hcqt_params.get("harmonics", [1]))
        if harmonics != [1]:
            raise CheckpointError(f"{ckpt.name}: harmonics {harmonics} are not supported (only [1])")
        self.bins_per_semitone = int(self.hcqt_params["bins_per_semitone"])
        self.step_size = float(step_size)
        hop_length_for(self.step_size, 16000)  # validates the step early
        self.reduction = reduction or ckpt.reduction
        self.chunk_frames = int(chunk_frames)
        self.crop = (
            int(ckpt.pitch_shift["max_steps"]),
            int(self.hcqt_params["n_bins"]) + int(ckpt.pitch_shift["min_steps"]),
        )
        try:
            self.encoder = Encoder(**ckpt.encoder)
            self.confidence = ConfidenceHead(n_bins=int(self.hcqt_params["n_bins"]))
            self.encoder.load_upstream(ckpt.state_dict)
            with torch.no_grad():
                for name in ("conv.weight", "conv.bias", "linear.weight", "linear.bias"):
                    self.confidence.get_parameter(name).copy_(ckpt.state_dict[f"confidence.{name}"])
        except (KeyError, RuntimeError) as e:
            raise CheckpointError(f"{ckpt.name}: weights do not fit a PESTO model ({e})") from None
        # our models' learned voicing output (pesto_core.voicing_head); None for mir-1k_g7: the head's output as is
        self.voicing: Optional[VoicingHead] = VoicingHead.from_state_dict(ckpt.state_dict, self.bins_per_semitone)
        self.register_buffer("shift", ckpt.state_dict["shift"].detach().clone().float())
        self.roll_bins = -round(float(self.shift) * self.bins_per_semitone)
        self.vqt: Optional[VQT] = None
        self.requires_grad_(False)
        self.eval()
        if sampling_rate is not None:
            self.set_sample_rate(sampling_rate)

    # ---------------------------------------------------------------------------------------------------- set-up
    @property
    def hop_size(self) -> float:
        """Step between frames in milliseconds, as requested (upstream's name)."""
        return self.step_size

    @property
    def sr(self) -> Optional[int]:
        return None if self.vqt is None else self.vqt.sr

    @property
    def hop_length(self) -> int:
        if self.vqt is None:
            raise ParameterError("no sample rate set yet: pass sr")
        return self.vqt.hop_length

    @property
    def device(self) -> torch.device:
        return self.shift.device

    def set_sample_rate(self, sr: int) -> None:
        """(Re)build the VQT for sample rate ``sr`` (Hz) if it changed."""
        sr = check_sr(sr)
        if self.vqt is not None and self.vqt.sr == sr:
            return
        self.vqt = VQT(int(sr), hop_length_for(self.step_size, int(sr)), **self.hcqt_params).to(self.device)

    def n_frames(self, n_samples: int) -> int:
        """Frames the offline analysis gives for ``n_samples`` samples: ``n_samples // hop + 1`` (0 if empty)."""
        return n_offline_frames(n_samples, self.hop_length)

    # ---------------------------------------------------------------------------------------------------- compute
    def frames_from_vqt(self, vqt: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Network outputs for VQT frames.

        Parameters
        ----------
        vqt : Tensor, complex64, shape (frames, n_bins)

        Returns
        -------
        dict with ``vqt_db`` (frames, n_bins), ``activations`` (frames, 128 * bps) already shifted,
        ``confidence`` (frames,) (the learned voicing output where the checkpoint has one), ``volume`` (frames,)
        (total VQT power, linear).
        """
        db = VQT.to_db(vqt)
        # Upstream feeds the encoder the natural log of the power (dB * ln10 / 10): its in-place dB -> power
        # conversion also rewrites the tensor the encoder reads. We reproduce that input exactly.
        log_power = db * LN10_OVER_10
        power = log_power.exp()
        volume = power.double().sum(dim=-1).float()  # float64 sum: independent of the chunking (see ConfidenceHead)
        confidence = self.confidence(power, log_power)
        activations = self.encoder(log_power[:, self.crop[0] : self.crop[1]])
        activations = activations.roll(self.roll_bins, -1)
        if self.voicing is not None:
            confidence = self.voicing(confidence, activations)
        return {"vqt_db": db, "activations": activations, "confidence": confidence, "volume": volume}

    def iter_chunks(
        self, read: Callable[[int, int], np.ndarray], n_samples: int, num_chunks: int = 1, keep_vqt: bool = False
    ) -> Iterator[Tuple[int, Dict[str, torch.Tensor]]]:
        """Analyse a signal chunk by chunk, reading only what each chunk needs.

        Parameters
        ----------
        read : callable (start, stop) -> ndarray float32 (stop - start,)
            Samples of the (mono) signal; the reflect padding at both ends is handled here.
        n_samples : int
        num_chunks : int
            Yield the frames in this many chunks (at most ``chunk_frames`` frames each). Memory is bounded by the
            computation tiles whatever the chunking, and the results do not depend on it, bit for bit.

        Yields
        ------
        (first_frame, outputs) with outputs as :meth:`frames_from_vqt`; with ``keep_vqt`` also ``vqt_db`` and the
        complex VQT ``vqt`` (frames, n_bins), else neither.
        """
        total = self.n_frames(n_samples)
        if num_chunks < 1:
            raise ParameterError(f"num_chunks must be at least 1, got {num_chunks}")
        per_chunk = max(1, min(self.chunk_frames, -(-total // num_chunks)))
        pending: Dict[str, list] = {}
        done = 0
        for t0, block in self._computation_blocks(read, n_samples, total):
            for k, v in block.items():
                pending.setdefault(k, []).append(v)
            have = t0 + len(block["activations"])
            while have - done >= per_chunk or (have == total and done < total):
                n = min(per_chunk, have - done)
                merged = {k: torch.cat(v) if len(v) > 1 else v[0] for k, v in pending.items()}
                out = {k: v[:n] for k, v in merged.items()}
                pending = {k: [v[n:]] for k, v in merged.items()}
                if not keep_vqt:
                    del out["vqt_db"], out["vqt"]
                yield done, out
                done += n

    def _computation_blocks(self, read, n_samples: int, total: int) -> Iterator[Tuple[int, Dict[str, torch.Tensor]]]:
        """The fixed computation plan: a function of the signal length only, never of the chunking.

        oneDNN's float32 results depend on tensor shapes and memory alignment, so every frame must always be computed
        in the same call shape for chunked results to equal unchunked ones bit for bit. Signals up to
        ``WHOLE_VQT_FRAMES`` frames get their VQT in one strided convolution over the whole padded signal — the very
        call upstream PESTO makes, hence its dB values to the last bit; longer ones in tiles of ``TILE_FRAMES`` frames
        on a fixed grid. The encoder always runs on tiles of ``TILE_FRAMES`` frames on that grid.
        """
        half, hop = self.vqt.kernel_width // 2, self.hop_length
        vqt_block = max(1, total) if total <= WHOLE_VQT_FRAMES else TILE_FRAMES
        for t0 in range(0, total, vqt_block):
            t1 = min(t0 + vqt_block, total)
            seg = padded_segment(read, n_samples, t0 * hop - half, (t1 - 1) * hop + half)
            # a freshly allocated (aligned) copy, for the same reason
            seg_t = torch.tensor(np.asarray(seg, dtype=np.float32), device=self.device)
            vqt = self.vqt.forward_padded(seg_t[None])[0]
            for a in range(0, t1 - t0, TILE_FRAMES):
                part = vqt[a : a + TILE_FRAMES]
                out = self.frames_from_vqt(part)
                out["vqt"] = part
                yield t0 + a, out

    def forward(
        self,
        x: torch.Tensor,
        sr: Optional[int] = None,
        convert_to_freq: bool = False,
        return_activations: bool = True,
        num_chunks: int = 1,
    ):
        if sr is not None:
            self.set_sample_rate(sr)
        if self.vqt is None:
            raise ParameterError("the sample rate is unknown: pass sr")
        if not torch.is_tensor(x):
            x = torch.as_tensor(np.asarray(x))
        if x.ndim not in (1, 2):
            raise ParameterError(f"audio must have shape (samples,) or (batch, samples), got {tuple(x.shape)}")
        squeeze = x.ndim == 1
        batch = x.reshape(1, -1) if squeeze else x
        batch_np = batch.detach().to("cpu", torch.float32).numpy()
        if not np.isfinite(batch_np).all():
            raise ParameterError("audio contains NaN or infinite samples")
        results = [self._analyse_array(row, num_chunks) for row in batch_np]
        pitch = torch.stack([reduce_activations(r["activations"], self.reduction) for r in results])
        if convert_to_freq:
            pitch = semitones_to_hz(pitch)
        out = [pitch, torch.stack([r["confidence"] for r in results]), torch.stack([r["volume"] for r in results])]
        if return_activations:
            out.append(torch.stack([r["activations"] for r in results]))
        if squeeze:
            out = [o[0] for o in out]
        return tuple(out)

    def _analyse_array(
        self, signal: np.ndarray, num_chunks: int = 1, keep_vqt: bool = False
    ) -> Dict[str, torch.Tensor]:
        """Whole-signal outputs for an in-memory mono signal (float32, shape (samples,))."""
        n_out = 128 * self.bins_per_semitone
        parts = list(self.iter_chunks(lambda a, b: signal[a:b], len(signal), num_chunks, keep_vqt))
        if not parts:
            empty = {"activations": torch.zeros(0, n_out), "confidence": torch.zeros(0), "volume": torch.zeros(0)}
            if keep_vqt:
                empty["vqt_db"] = torch.zeros(0, int(self.hcqt_params["n_bins"]))
                empty["vqt"] = torch.zeros(0, int(self.hcqt_params["n_bins"]), dtype=torch.complex64)
            return {k: v.to(self.device) for k, v in empty.items()}
        return {k: torch.cat([p[k] for _, p in parts]) for k in parts[0][1]}
