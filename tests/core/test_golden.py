"""The engine reproduces upstream PESTO's offline outputs (every case, step and key of the golden set)."""

import numpy as np
import pytest
import torch

from pesto_core import load_model, predict
from pesto_core.decode import REDUCTIONS, reduce_activations

from .golden import (
    ACT_ATOL,
    CASES,
    CONF_ATOL,
    VOL_RTOL,
    VQT_DB_ATOL,
    VQT_FLOOR_DB,
    assert_pitch_close,
    audio,
    golden,
    offline_steps,
)

PARAMS = [(case, step) for case in CASES for step in offline_steps(case)]


@pytest.fixture(scope="module")
def outputs():
    cache = {}

    def get(case, step):
        if (case, step) not in cache:
            x, sr = audio(case)
            model = load_model("mir-1k_g7", step, sampling_rate=sr)
            with torch.inference_mode():
                cache[case, step] = {k: v.numpy() for k, v in model._analyse_array(x, keep_vqt=True).items()}
        return cache[case, step]

    return get


@pytest.mark.parametrize("case,step", PARAMS)
def test_vqt_db(outputs, case, step):
    ref = golden(case)[f"step{step}_vqt_db"]
    ours = outputs(case, step)["vqt_db"]
    assert ours.shape == ref.shape
    audible = ref > VQT_FLOOR_DB
    assert audible.mean() > 0.5  # the comparison covers most bins
    np.testing.assert_allclose(ours[audible], ref[audible], rtol=0, atol=VQT_DB_ATOL)


@pytest.mark.parametrize("case,step", PARAMS)
def test_activations_confidence_volume(outputs, case, step):
    g, ours = golden(case), outputs(case, step)
    np.testing.assert_allclose(ours["activations"], g[f"step{step}_activations"], rtol=0, atol=ACT_ATOL)
    np.testing.assert_allclose(ours["confidence"], g[f"step{step}_confidence"], rtol=0, atol=CONF_ATOL)
    np.testing.assert_allclose(ours["volume"], g[f"step{step}_volume"], rtol=VOL_RTOL, atol=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case,step", PARAMS)
def test_pitch_per_reduction(outputs, case, step, reduction):
    g, ours = golden(case), outputs(case, step)
    pitch = reduce_activations(torch.from_numpy(ours["activations"]), reduction).numpy()
    assert_pitch_close(pitch, g[f"step{step}_pitch_semitones_{reduction}"], g[f"step{step}_confidence"])


@pytest.mark.parametrize("case,step", PARAMS)
def test_predict_api_matches_golden(case, step):
    """The upstream-style predict() gives the same numbers, with exact frame times."""
    x, sr = audio(case)
    g = golden(case)
    timesteps, pitch, confidence, activations = predict(x, sr, step_size=step, convert_to_freq=False)
    hop = int(step * sr / 1000 + 0.5)
    np.testing.assert_allclose(timesteps.numpy(), np.arange(len(pitch)) * hop / sr * 1000, rtol=0, atol=1e-9)
    if hop * 1000 == step * sr:  # where the step is a whole number of samples, upstream's times are exact too
        np.testing.assert_allclose(timesteps.numpy(), g[f"step{step}_timesteps_ms"], rtol=0, atol=1e-3)
    assert_pitch_close(pitch.numpy(), g[f"step{step}_pitch_semitones_alwa"], g[f"step{step}_confidence"])
    np.testing.assert_allclose(confidence.numpy(), g[f"step{step}_confidence"], rtol=0, atol=CONF_ATOL)
    np.testing.assert_allclose(activations.numpy(), g[f"step{step}_activations"], rtol=0, atol=ACT_ATOL)
