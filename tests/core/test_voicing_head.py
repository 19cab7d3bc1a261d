"""Our models' learned voicing output (pesto_core.voicing_head / voicing.calibrated_voicing): one function in every
path (offline, native and torch streaming, upstream-style streaming module, exporter), mir-1k_g7 untouched, and a
calibrated probability that reads a tone as voiced and noise or silence as unvoiced."""

import numpy as np
import pytest
import torch

from pesto_core import export as ex
from pesto_core import predict
from pesto_core.checkpoint import load_checkpoint
from pesto_core.geometry import offline_equivalent
from pesto_core.model import PestoModel
from pesto_core.stream import PitchStream, StreamingPestoModel
from pesto_core.voicing import VOICING_KEYS, calibrated_voicing, peak_mass, voicing_features
from pesto_core.voicing_head import VoicingHead

pytestmark = pytest.mark.usefixtures("one_thread")

# numpy (float64) and torch (float64) forms of the same formula: only rounding of the float32 inputs differs
FORM_ATOL = 1e-6
# stream vs offline frames of the same windows (tests/core/test_stream.py: activations within 2e-4); the calibrated
# output moves at most |w| * (change of its inputs): measured 3e-5 here
RELATION_ATOL = 2e-3


def _tone(sr, hz=220.0, seconds=1.0, level=0.3):
    t = np.arange(int(sr * seconds)) / sr
    return (level * sum(np.sin(2 * np.pi * h * hz * t) / h for h in range(1, 6))).astype(np.float32)


def _distributions(n=64, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random((n, 384)) ** rng.uniform(1, 40, (n, 1))  # from flat to nearly one-hot
    a[: n // 4, 100:104] += 5.0  # some with a clear peak
    a = (a / a.sum(-1, keepdims=True)).astype(np.float32)
    return rng.random(n).astype(np.float32), a


@pytest.fixture(scope="module")
def tracker():
    return load_checkpoint("tracker-1")


def test_ours_carry_a_voicing_output_and_mir_1k_g7_does_not(tracker):
    assert PestoModel(load_checkpoint("mir-1k_g7")).voicing is None
    for name in ("tracker-1", "tracker-1-live"):
        sd = load_checkpoint(name).state_dict
        assert sd[VOICING_KEYS[0]].shape == (3,) and sd[VOICING_KEYS[1]].shape == (1,)
        assert torch.isfinite(sd[VOICING_KEYS[0]]).all()
        assert PestoModel(load_checkpoint(name)).voicing is not None


def test_numpy_and_torch_forms_agree():
    c, a = _distributions()
    w, b = np.array([0.3, 0.2, -1.6]), np.array([5.0])
    head = VoicingHead(torch.tensor(w), torch.tensor(b), 3)
    got = head(torch.from_numpy(c), torch.from_numpy(a)).numpy()
    ref = calibrated_voicing(c, a, w, b)
    np.testing.assert_allclose(got, ref, rtol=0, atol=FORM_ATOL)
    # and the formula itself, written out
    f = voicing_features(c, a)
    np.testing.assert_allclose(f[:, 1], np.log(peak_mass(a) / (1 - peak_mass(a))), rtol=0, atol=1e-4)
    np.testing.assert_allclose(ref, 1 / (1 + np.exp(-(f @ w + b[0]))), rtol=0, atol=FORM_ATOL)
    assert ref.dtype == np.float32 and np.all((ref >= 0) & (ref <= 1))


def test_all_zero_and_one_hot_frames_are_finite():
    a = np.zeros((3, 384), np.float32)
    a[1, 50] = 1.0
    a[2] = 1.0 / 384
    c = np.array([0.0, 1.0, 0.5], np.float32)
    out = calibrated_voicing(c, a, [0.3, 0.2, -1.6], [5.0])
    assert np.all(np.isfinite(out))
    head = VoicingHead(torch.tensor([0.3, 0.2, -1.6]), torch.tensor([5.0]), 3)
    np.testing.assert_allclose(head(torch.from_numpy(c), torch.from_numpy(a)).numpy(), out, rtol=0, atol=FORM_ATOL)


def test_offline_confidence_is_the_calibration_of_the_heads_output(tracker):
    x = _tone(16000)
    model = PestoModel(tracker, sampling_rate=16000)
    with torch.inference_mode():
        _, conf, _, act = model(torch.from_numpy(x), return_activations=True)
        vh = model.voicing
        model.voicing = None
        _, head, _, act_raw = model(torch.from_numpy(x), return_activations=True)
    torch.testing.assert_close(act, act_raw, rtol=0, atol=0)  # the pitch side is untouched
    expected = calibrated_voicing(head.numpy(), act.numpy(), vh.weight.numpy(), vh.bias.numpy())
    np.testing.assert_allclose(conf.numpy(), expected, rtol=0, atol=FORM_ATOL)
    assert not np.allclose(conf.numpy(), head.numpy(), atol=1e-3)  # it does change the confidence


@pytest.mark.parametrize("native", [True, False])
def test_stream_confidence_equals_offline_frames_at_mirror_0(tracker, native):
    sr, hop = 16000, 160
    x = np.concatenate([_tone(sr, 330.0, 0.6), np.zeros(sr // 4, np.float32), _tone(sr, 147.0, 0.5, 0.05)])
    model = PestoModel(tracker, hop * 1000 / sr)
    st = PitchStream(sr, hop_length=hop, mirror=0.0, model=model, native=native)
    assert st.native == native
    parts = [st.push(x[i : i + 4 * hop]) for i in range(0, len(x) - 4 * hop + 1, 4 * hop)]
    conf = np.concatenate([p.confidence for p in parts])
    pad, delay = offline_equivalent(st.geometry)
    off_model = PestoModel(tracker, hop * 1000 / sr, sampling_rate=sr)
    with torch.inference_mode():
        off = off_model._analyse_array(np.concatenate([np.zeros(pad, np.float32), x]))
    k = np.arange(2 * delay + 1, len(conf))
    np.testing.assert_allclose(conf[k], off["confidence"].numpy()[k - delay], rtol=0, atol=RELATION_ATOL)


def test_upstream_style_streaming_module_applies_it(tracker):
    sr, hop = 16000, 160
    x = _tone(sr, 262.0, 0.5)
    mod = StreamingPestoModel(PestoModel(tracker, hop * 1000 / sr), sr, hop, mirror=1.0)
    st = PitchStream(sr, hop_length=hop, mirror=1.0, model=PestoModel(tracker, hop * 1000 / sr), refine=False)
    got = torch.cat([mod(torch.from_numpy(x[i : i + hop]))[1] for i in range(0, len(x) - hop + 1, hop)]).numpy()
    ref = np.concatenate([st.push(x[i : i + hop]).confidence for i in range(0, len(x) - hop + 1, hop)])
    np.testing.assert_allclose(got, ref, rtol=0, atol=FORM_ATOL * 10)


def test_torchscript_export_of_ours_matches_the_eager_engine(tmp_path):
    sr, hop = 16000, 160
    x = np.concatenate([_tone(sr, 196.0, 0.7), np.random.default_rng(1).normal(0, 0.05, sr // 2).astype(np.float32)])
    spec = ex.ExportSpec("tracker-1", sr, hop, 1, 1.0)
    lines = []
    ok, diffs, _paths = ex.export(spec, tmp_path, ["torchscript"], x, log=lines.append)
    assert ok, lines
    assert diffs["torchscript"]["confidence"] <= 1e-3


@pytest.mark.parametrize("name", ["tracker-1", "tracker-1-live"])
def test_a_tone_is_voiced_and_noise_and_silence_are_not(name):
    """Per frame, offline. Loud white noise (-20 dBFS): the head alone calls 10% (tracker-1) and 47%
    (tracker-1-live) of its frames voiced; the calibrated output 0% and 17% (the live preset's medians: 0%)."""
    sr = 16000
    rng = np.random.default_rng(5)
    tone = _tone(sr, 220.0, 1.0, 0.2)
    noise = rng.normal(0, 0.1, sr).astype(np.float32)
    head_only = PestoModel(load_checkpoint(name))
    head_only.voicing = None
    for x, voiced in ((tone, True), (noise, False), (np.zeros(sr, np.float32), False)):
        mid = predict(x, sr, model_name=name)[2].numpy()[10:-10]
        head = predict(x, sr, model=head_only)[2].numpy()[10:-10]
        if voiced:
            assert np.median(mid) > 0.9 and np.mean(mid >= 0.5) > 0.95
        else:
            assert np.median(mid) < 0.3 and np.mean(mid >= 0.5) <= min(0.25, np.mean(head >= 0.5))
