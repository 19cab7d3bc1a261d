"""The fast encoder (FFT prefilter, packed/split channel mixing, matrix-product 1x1 and Toeplitz layers) computes the
published network: compared with a direct float64 evaluation of the same weights, as upstream's layers define it."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pesto_core import load_model, predict
from pesto_core.model import Encoder

from .golden import audio

# float32 rounding of logits reaching 1e3 gives ~1e-4 on the probabilities, for direct convolution as for FFT
PROB_ATOL = 3e-4


def direct_float64(enc: Encoder, log_power: torch.Tensor) -> torch.Tensor:
    """Upstream's layer sequence (direct convolutions, Toeplitz layer as a convolution) in float64."""
    e = copy.deepcopy(enc).double()
    x = F.layer_norm(
        log_power.double()[:, None], e.layernorm.normalized_shape, e.layernorm.weight, e.layernorm.bias, e.layernorm.eps
    )
    x = F.leaky_relu(e.prefilter[0](x), 0.3)
    for conv in e.prefilter[1:]:
        x = F.leaky_relu(conv(x), 0.3) + x
    for conv in e.pointwise:
        x = F.leaky_relu(conv(x), 0.3)
    n_out = e.output_dim
    logits = F.conv1d(x.flatten(1)[:, None], e.fc_kernel.view(1, 1, -1), padding=n_out - 1)[:, 0]
    return torch.softmax(logits, dim=-1)


@pytest.fixture(scope="module")
def model_and_input():
    x, sr = audio("synth_48k")
    model = load_model("mir-1k_g7", 10.0, sampling_rate=sr)
    with torch.inference_mode():
        vqt = model.vqt.forward_padded(torch.from_numpy(x[: 200 * model.hop_length + model.vqt.kernel_width])[None])[0]
        log_power = model.frames_from_vqt(vqt)["vqt_db"] * np.log(10) / 10
    return model, log_power[:, model.crop[0] : model.crop[1]].clone()


@pytest.mark.parametrize("frames", [1, 3, 5, 64, 150])  # split form (<= FEW_FRAMES), packed form, several blocks
def test_encoder_matches_direct_float64(model_and_input, frames):
    model, log_power = model_and_input
    enc = model.encoder
    x = log_power[:frames]
    with torch.inference_mode():
        ours = enc(x)
    ref = direct_float64(enc, x)
    assert ours.dtype == torch.float32 and ours.shape == (frames, enc.output_dim)
    np.testing.assert_allclose(ours.double().numpy(), ref.numpy(), rtol=0, atol=PROB_ATOL)


def test_encoder_blocks_do_not_change_results(model_and_input):
    """Frames are computed in fixed blocks: a long input gives the same values as its blocks passed one by one."""
    model, log_power = model_and_input
    enc = model.encoder
    n = enc.CPU_BLOCK_FRAMES
    with torch.inference_mode():
        whole = enc(log_power[: 2 * n])
        parts = torch.cat([enc(log_power[:n]), enc(log_power[n : 2 * n])])
    assert torch.equal(whole, parts)


def test_prepare_follows_parameters(model_and_input):
    """After a parameter change, prepare() rebuilds the derived weights (spectra, Toeplitz matrix)."""
    model, log_power = model_and_input
    enc = copy.deepcopy(model.encoder)
    with torch.no_grad():
        enc.prefilter[1].weight.mul_(0.5)
        enc.fc_kernel.mul_(1.1)
    enc.prepare()
    with torch.inference_mode():
        ours = enc(log_power[:8])
    np.testing.assert_allclose(
        ours.double().numpy(), direct_float64(enc, log_power[:8]).numpy(), rtol=0, atol=PROB_ATOL
    )


def test_no_frames(model_and_input):
    model, log_power = model_and_input
    with torch.inference_mode():
        out = model.encoder(log_power[:0])
    assert out.shape == (0, model.encoder.output_dim)


def test_results_do_not_depend_on_thread_count():
    """The same signal analysed with 1 and 2 intra-op threads gives bit-identical activations."""
    x, sr = audio("synth_16k")
    before = torch.get_num_threads()
    try:
        outs = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            outs.append(predict(x, sr, step_size=10.0)[3])
    finally:
        torch.set_num_threads(before)
    assert torch.equal(outs[0], outs[1])
