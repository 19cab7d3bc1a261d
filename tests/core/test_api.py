"""Python API: shapes, units, exact frame times, chunking, padding of short inputs, bad input, devices."""

import warnings

import numpy as np
import pytest
import torch

from pesto_core import ParameterError, load_model, predict
from pesto_core.checkpoint import load_checkpoint
from pesto_core.model import WHOLE_VQT_FRAMES, PestoModel
from pesto_core.vqt import reflect_indices

from .golden import audio


def tone(f0, sr, seconds, harmonics=4):
    t = np.arange(int(sr * seconds)) / sr
    return sum(0.3 / h * np.sin(2 * np.pi * f0 * h * t) for h in range(1, harmonics + 1)).astype(np.float32)


def test_predict_shapes_and_units():
    x = tone(220.0, 16000, 1.0)
    timesteps, pitch, conf, acts = predict(x, 16000)
    assert timesteps.shape == pitch.shape == conf.shape == (101,)
    assert acts.shape == (101, 384)
    assert np.median(pitch.numpy()[10:-10]) == pytest.approx(220.0, rel=0.01)  # Hz by default
    _, semis, _, _ = predict(x, 16000, convert_to_freq=False)
    assert np.median(semis.numpy()[10:-10]) == pytest.approx(57.0, abs=0.15)  # A3
    np.testing.assert_allclose(torch.softmax(torch.log(acts), -1).sum(-1).numpy(), 1, atol=1e-5)


def test_batch_equals_rows():
    x = np.stack([tone(220.0, 16000, 0.5), tone(330.0, 16000, 0.5)])
    _, pitch, conf, acts = predict(x, 16000)
    assert pitch.shape == (2, 51) and acts.shape == (2, 51, 384)
    for i in range(2):
        _, p1, c1, a1 = predict(x[i], 16000)
        np.testing.assert_allclose(pitch[i].numpy(), p1.numpy(), rtol=1e-6)
        np.testing.assert_allclose(acts[i].numpy(), a1.numpy(), atol=1e-6)


def test_exact_timesteps_do_not_drift():
    """44.1 kHz with a 5 ms step: the hop is 221 samples (5.011 ms); frame i is at exactly i * 221 / 44100 s."""
    x = np.zeros(44100 * 2, np.float32)
    timesteps, pitch, _, _ = predict(x, 44100, step_size=5.0)
    assert len(pitch) == 44100 * 2 // 221 + 1
    np.testing.assert_allclose(timesteps.numpy(), np.arange(len(pitch)) * 221 / 44100 * 1000, rtol=0, atol=1e-9)


@pytest.mark.parametrize("num_chunks", [2, 7, 50])
def test_chunked_equals_unchunked(num_chunks):
    x, sr = audio("synth_48k")
    ref = predict(x, sr, num_chunks=1)
    got = predict(x, sr, num_chunks=num_chunks)
    for a, b in zip(ref, got):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_internal_chunking_is_invisible():
    """A model yielding tiny chunks gives the same frames as the default one."""
    x, sr = audio("speech_22k")
    m_small = PestoModel(load_checkpoint("mir-1k_g7"), 10.0, sr, chunk_frames=37)
    with torch.inference_mode():
        small = m_small(torch.from_numpy(x), sr)
    _, pitch, conf, acts = predict(x, sr, convert_to_freq=False)
    np.testing.assert_array_equal(small[0].numpy(), pitch.numpy())
    np.testing.assert_array_equal(small[3].numpy(), acts.numpy())


def test_long_signal_chunking_is_bit_exact():
    """Past WHOLE_VQT_FRAMES the VQT is tiled on a fixed grid: still identical for any num_chunks."""
    x = np.tile(audio("synth_16k")[0], 2)[: 16000 * 11]  # 11 s at 5 ms: 2201 frames
    ref = predict(x, 16000, step_size=5.0)
    assert len(ref[1]) > WHOLE_VQT_FRAMES
    for num_chunks in (3, 40):
        got = predict(x, 16000, step_size=5.0, num_chunks=num_chunks)
        for a, b in zip(ref, got):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_empty_input_gives_empty_results():
    timesteps, pitch, conf, acts = predict(np.zeros(0, np.float32), 16000)
    assert timesteps.shape == pitch.shape == conf.shape == (0,)
    assert acts.shape == (0, 384)


@pytest.mark.parametrize("n", [1, 2, 100, 4000])
def test_inputs_shorter_than_padding_still_give_frames(n):
    """Upstream raises on these (reflect padding longer than the input); we pad by repeated reflection."""
    x = tone(440.0, 16000, 1.0)[:n]
    _, pitch, conf, acts = predict(x, 16000)
    assert len(pitch) == n // 160 + 1
    assert np.isfinite(pitch.numpy()).all() and np.isfinite(acts.numpy()).all()


def test_reflect_rule():
    # reflection about the first and last samples, repeated: period 2 * (n - 1)
    np.testing.assert_array_equal(reflect_indices(np.arange(-5, 9), 4), [1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2])
    np.testing.assert_array_equal(reflect_indices(np.arange(-2, 3), 1), [0, 0, 0, 0, 0])
    # a reflect pad shorter than the signal is numpy's reflect padding
    x = np.arange(10)
    np.testing.assert_array_equal(x[reflect_indices(np.arange(-4, 14), 10)], np.pad(x, 4, mode="reflect"))


@pytest.mark.parametrize("bad", [np.array([0.0, np.nan] * 800, np.float32), np.array([np.inf] * 1600, np.float32)])
def test_nan_inf_input_raises(bad):
    with pytest.raises(ParameterError, match="NaN or infinite"):
        predict(bad, 16000)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"sr": 4000}, "out of range"),
        ({"sr": 16000, "step_size": 0}, "positive"),
        ({"sr": 16000, "step_size": 0.01}, "shorter than one sample"),
        ({"sr": 16000, "reduction": "median"}, "unknown reduction"),
        ({"sr": 16000.5}, "integer"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        predict(np.zeros(1600, np.float32), **kwargs)


def test_bad_shape():
    with pytest.raises(ParameterError, match="shape"):
        predict(np.zeros((2, 2, 100), np.float32), 16000)


def test_model_forward_like_upstream(model):
    x = torch.from_numpy(tone(330.0, 22050, 0.5))
    pitch, conf, vol, acts = model(x, sr=22050)
    assert pitch.shape == conf.shape == vol.shape == (x.numel() // 221 + 1,)
    assert float(pitch[10:-10].median()) == pytest.approx(64.0, abs=0.15)  # E4 in semitones by default
    hz, *_ = model(x, sr=22050, convert_to_freq=True)
    np.testing.assert_allclose(hz.numpy(), 440 * 2 ** ((pitch.numpy() - 69) / 12), rtol=1e-5)
    three = model(x, sr=22050, return_activations=False)
    assert len(three) == 3


@pytest.mark.parametrize("sr", [8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 192000])
def test_any_sample_rate(sr):
    x = tone(261.63, sr, 0.4)
    _, pitch, conf, _ = predict(x, sr, convert_to_freq=False)
    assert len(pitch) == len(x) // int(10 * sr / 1000 + 0.5) + 1
    mid = pitch.numpy()[5:-5]
    assert np.median(mid) == pytest.approx(60.0, abs=0.2)  # C4
    assert np.median(conf.numpy()[5:-5]) > 0.5


def test_cuda_request_without_cuda_warns_and_uses_cpu():
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here: the fallback cannot be observed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = load_model("mir-1k_g7", 10.0, device="cuda:0")
    assert m.device.type == "cpu"
    assert any("CUDA is not available" in str(w.message) for w in caught)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_gpu_matches_cpu():
    x, sr = audio("synth_16k")
    _, p_cpu, c_cpu, a_cpu = predict(x, sr, convert_to_freq=False)
    _, p_gpu, c_gpu, a_gpu = predict(torch.from_numpy(x).cuda(), sr, convert_to_freq=False)
    np.testing.assert_allclose(a_gpu.cpu().numpy(), a_cpu.numpy(), atol=1e-3)
    np.testing.assert_allclose(c_gpu.cpu().numpy(), c_cpu.numpy(), atol=1e-3)


def test_streaming_load_model_keeps_reduction():
    m = load_model("mir-1k_g7", 10.0, 16000, streaming=True, reduction="argmax")
    assert m.model.reduction == "argmax"
