"""The native frame engine (pesto_core/native.py + native/frame.c): same frames as the torch engine, built and cached
safely, and a working fallback when it cannot be built."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from pesto_core import native
from pesto_core.stream import PitchStream

# Native vs torch frames: the same function in float32 with other summation orders (VQT kernels cut to their taps,
# FFT convolution of another size, Toeplitz layer by direct products): 7e-5 measured at worst on activations.
ACT_ATOL = 3e-4
CONF_ATOL = 1e-5
VOL_RTOL = 1e-5

pytestmark = pytest.mark.usefixtures("one_thread")


def require_native():
    if native.library() is None:
        if os.environ.get("PESTO_REQUIRE_NATIVE") == "1":
            pytest.fail(f"native frame engine required here but unavailable: {native.native_status()}")
        pytest.skip(f"native frame engine unavailable: {native.native_status()}")


@pytest.fixture
def fresh_native(monkeypatch, tmp_path):
    """A private build folder and a forgotten library; the default one is restored afterwards."""
    monkeypatch.setenv("PESTO_NATIVE_DIR", str(tmp_path / "cache"))
    native._reset_for_tests()
    yield tmp_path / "cache"
    native._reset_for_tests()


def signals(sr, n):
    rng = np.random.default_rng(sr)
    t = np.arange(n) / sr
    f0 = 110 * 2 ** (3 * t)  # a glide over 3 octaves per second
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = sum(0.4 / h * np.sin(h * phase + h) for h in range(1, 6))
    yield "harmonic glide", tone
    yield "noise", 0.2 * rng.standard_normal(n)
    yield "loud tone + noise", 0.95 * np.sin(2 * np.pi * 1234.5 * t) + 0.05 * rng.standard_normal(n)
    yield "silence", np.zeros(n)


@pytest.mark.parametrize(
    "sr,hop,mirror", [(48000, 480, 1.0), (48000, 128, 1.0), (44100, 441, 0.5), (16000, 160, 0.0), (8000, 80, 1.0)]
)
def test_native_frames_equal_torch_frames(model, sr, hop, mirror):
    require_native()
    fast = PitchStream(sr, hop_length=hop, mirror=mirror, model=model)
    slow = PitchStream(sr, hop_length=hop, mirror=mirror, model=model, native=False)
    assert fast.engine.native is not None and slow.engine.native is None
    for name, x in signals(sr, 40 * hop):
        a, b = fast.push(x.astype(np.float32)), slow.push(x.astype(np.float32))
        assert len(a) == len(b) > 0
        np.testing.assert_allclose(a.activations, b.activations, rtol=0, atol=ACT_ATOL, err_msg=name)
        np.testing.assert_allclose(a.confidence, b.confidence, rtol=0, atol=CONF_ATOL, err_msg=name)
        np.testing.assert_allclose(a.volume, b.volume, rtol=VOL_RTOL, atol=1e-30, err_msg=name)
        # same decoded note wherever the distribution has a clear peak
        clear = b.activations.max(axis=-1) > 0.5
        np.testing.assert_allclose(a.pitch_semitones[clear], b.pitch_semitones[clear], rtol=0, atol=1e-3, err_msg=name)
        np.testing.assert_array_equal(a.time_s, b.time_s)


def test_native_several_streams_and_blocks(model):
    """Two streams and odd block lengths give the frames of separate single streams fed whole."""
    require_native()
    sr, hop = 16000, 160
    x = np.stack([s for _, s in signals(sr, 30 * hop)][:2]).astype(np.float32)
    both = PitchStream(sr, hop_length=hop, model=model, n_streams=2)
    parts = [both.push(x[:, i : i + 777]) for i in range(0, x.shape[1], 777)]
    acts = np.concatenate([p.activations for p in parts], axis=1)
    for s in range(2):
        one = PitchStream(sr, hop_length=hop, model=model).push(x[s])
        np.testing.assert_array_equal(acts[s], one.activations)


def test_disabled_by_environment(model, monkeypatch, fresh_native):
    monkeypatch.setenv("PESTO_NATIVE", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # disabling on purpose is not worth a warning
        assert native.library() is None
    assert "PESTO_NATIVE=0" in native.native_status()
    stream = PitchStream(16000, hop_length=160, model=model)
    assert stream.engine.native is None
    fr = stream.push(np.zeros(1600, np.float32))
    assert len(fr) == 10 and np.isfinite(fr.activations).all()


def test_broken_compiler_falls_back_with_a_warning(model, monkeypatch, fresh_native):
    """A compiler that fails (a real failing program, not a mock) leaves streaming on the torch engine."""
    monkeypatch.setenv("CC", "false")
    with pytest.warns(RuntimeWarning, match="fast streaming kernels unavailable: compiling frame.c failed"):
        assert native.library() is None
    stream = PitchStream(16000, hop_length=160, model=model)
    assert stream.engine.native is None
    assert len(stream.push(np.zeros(1600, np.float32))) == 10
    assert not list(fresh_native.rglob("*.so")) and not list(fresh_native.rglob("*.tmp"))


def test_build_is_cached_and_atomic(fresh_native):
    if native._compiler() is None:
        pytest.skip("no C compiler")
    lib = native.library()
    assert lib is not None, native.native_status()
    built = list(fresh_native.rglob("frame-*.so"))
    assert len(built) == 1 and not list(fresh_native.rglob("*.tmp")) and native._intact(built[0])
    stamp = built[0].stat().st_mtime_ns
    native._reset_for_tests()
    assert native.library() is not None
    assert native.native_status() == f"native ({built[0]})"
    assert built[0].stat().st_mtime_ns == stamp  # loaded again, not rebuilt


def test_damaged_cache_entry_is_rebuilt(fresh_native):
    """A truncated library in the cache (a real broken file, e.g. after a full disk) is rebuilt, not fatal."""
    if native._compiler() is None:
        pytest.skip("no C compiler")
    # built by another process (this one must never map the file it then damages)
    code = "from pesto_core import native; assert native.library() is not None, native.native_status()"
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ), timeout=300)
    built = next(fresh_native.rglob("frame-*.so"))
    built.write_bytes(built.read_bytes()[:1000])
    assert native.library() is not None, native.native_status()
    assert built.stat().st_size > 1000 and native._intact(built)
    assert not list(fresh_native.rglob("*.tmp"))


def test_plan_rejects_short_input(model):
    require_native()
    stream = PitchStream(16000, hop_length=160, model=model)
    plan = stream.engine.native
    with pytest.raises(ValueError, match="float32 contiguous samples"):
        plan.frames(np.zeros(plan.taps - 1, np.float32), 160, 1)
    with pytest.raises(ValueError):
        plan.frames(np.zeros(plan.taps, np.float64), 160, 1)


@pytest.mark.parametrize("sr", [48000, 16000])
def test_native_refinement_equals_python_refinement(model, sr):
    """Streaming refinement in C equals pesto_core.refine.refine_pitch (float64 both; different summation: within
    1e-4 semitone = 0.01 cent), also across different block splits (windows stay inside each frame's samples)."""
    require_native()
    hop = sr // 100
    t = np.arange(2 * sr) / sr
    rng = np.random.default_rng(5)
    for f0 in (55.0, 443.3, 1500.0):
        f = f0 * 2 ** (0.5 * np.sin(2 * np.pi * 5.5 * t) / 12)  # vibrato: the extrapolation matters
        phase = 2 * np.pi * np.cumsum(f) / sr
        x = sum(0.5 / h * np.sin(h * phase + rng.uniform(0, 6)) for h in range(1, 8))
        x = (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
        fast = PitchStream(sr, hop_length=hop, model=model, refine=True)
        slow = PitchStream(sr, hop_length=hop, model=model, refine=True, native=False)
        a = np.concatenate([fast.push(x[i : i + hop]).pitch_semitones for i in range(0, len(x), hop)])
        b = np.concatenate([slow.push(x[i : i + 1000]).pitch_semitones for i in range(0, len(x), 1000)])
        n = min(len(a), len(b))
        assert n > 150
        raw = PitchStream(sr, hop_length=hop, model=model).push(x).pitch_semitones[:n]
        moved = np.abs(b[:n] - raw) > 1e-3
        assert moved.mean() > 0.5  # the refinement did something to compare
        np.testing.assert_allclose(a[:n], b[:n], rtol=0, atol=1e-4)


def test_upstream_streaming_module_native_equals_torch(model):
    """load_model(..., streaming=True)'s module: native frames on the CPU, torch frames with native=False."""
    require_native()
    from pesto_core.stream import StreamingPestoModel

    sr, hop = 16000, 160
    fast = StreamingPestoModel(model, sr, hop, mirror=1.0, max_batch_size=2)
    slow = StreamingPestoModel(model, sr, hop, mirror=1.0, max_batch_size=2, native=False)
    assert fast.engine.native is not None and slow.engine.native is None
    x = np.stack([s for _, s in signals(sr, 20 * hop)][:2]).astype(np.float32)
    for i in range(0, x.shape[1], 2 * hop):
        block = torch.from_numpy(x[:, i : i + 2 * hop])
        pf, cf, vf, af = fast(block)
        ps, cs, vs, as_ = slow(block)
        assert pf.shape == ps.shape == (2, 2) and af.dtype == as_.dtype == torch.float32
        np.testing.assert_allclose(af.numpy(), as_.numpy(), rtol=0, atol=ACT_ATOL)
        np.testing.assert_allclose(cf.numpy(), cs.numpy(), rtol=0, atol=CONF_ATOL)
        np.testing.assert_allclose(vf.numpy(), vs.numpy(), rtol=VOL_RTOL, atol=1e-30)


@pytest.mark.parametrize("channels", [20, 72])
def test_other_channel_counts(channels):
    """Checkpoints with other prefilter widths: 20 channels (padded to 24 lanes), 72 (the generic mixing loop).
    Random weights in the published layout; native frames against the torch engine's."""
    import dataclasses

    from pesto_core.checkpoint import load_checkpoint
    from pesto_core.model import PestoModel

    ckpt = load_checkpoint("mir-1k_g7")
    gen = torch.Generator().manual_seed(channels)
    sd = dict(ckpt.state_dict)
    k = ckpt.encoder.get("prefilt_kernel_size", 39)

    def rand(*shape, scale):
        return (torch.rand(*shape, generator=gen) - 0.5) * 2 * scale

    sd["encoder.conv1.0.weight"] = rand(channels, 1, k, scale=0.3)
    sd["encoder.conv1.0.bias"] = rand(channels, scale=0.1)
    for i in range(ckpt.encoder.get("n_prefilt_layers", 3) - 1):
        sd[f"encoder.prefilt_layers.{i}.0.weight"] = rand(channels, channels, k, scale=0.3 / (channels * k) ** 0.5)
        sd[f"encoder.prefilt_layers.{i}.0.bias"] = rand(channels, scale=0.1)
    w = sd["encoder.conv_layers.0.weight"]
    sd["encoder.conv_layers.0.weight"] = rand(w.shape[0], channels, 1, scale=1 / channels**0.5)
    enc = dict(ckpt.encoder)
    enc["n_chan_layers"] = [channels] + list(enc["n_chan_layers"])[1:]
    model = PestoModel(dataclasses.replace(ckpt, encoder=enc, state_dict=sd), 10.0)
    require_native()
    sr, hop = 16000, 160
    fast = PitchStream(sr, hop_length=hop, model=model)
    slow = PitchStream(sr, hop_length=hop, model=model, native=False)
    assert fast.engine.native is not None
    for name, x in signals(sr, 20 * hop):
        a, b = fast.push(x.astype(np.float32)), slow.push(x.astype(np.float32))
        assert b.activations.max() > 0.01  # a real distribution, not all-uniform
        np.testing.assert_allclose(a.activations, b.activations, rtol=0, atol=ACT_ATOL, err_msg=name)
        np.testing.assert_allclose(a.confidence, b.confidence, rtol=0, atol=CONF_ATOL, err_msg=name)
