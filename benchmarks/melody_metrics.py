"""Frame-level melody metrics (mir_eval.melody), shared by the accuracy benchmarks (model_accuracy, live_accuracy)."""

from __future__ import annotations

import mir_eval
import numpy as np


def metrics(ref_hz, est_hz, est_v) -> dict:
    """RPA, RCA, within 10 cents (``c10``), OA, voicing recall (``VR``) and false alarms (``VFA``), percentages.

    ref_hz : float (frames,), 0 where unvoiced; est_hz : float (frames,), the estimate's pitch (its sign ignored);
    est_v : bool (frames,), the estimate's voicing decision.
    """
    ref_v = (ref_hz > 0).astype(float)
    ref_c = mir_eval.melody.hz2cents(ref_hz)
    est_c = mir_eval.melody.hz2cents(np.abs(est_hz))
    est_vf = est_v.astype(float)
    out = {"frames": int(len(ref_hz)), "voiced": int(ref_v.sum())}
    if ref_v.sum():
        out["RPA"] = 100 * mir_eval.melody.raw_pitch_accuracy(ref_v, ref_c, est_vf, est_c)
        out["RCA"] = 100 * mir_eval.melody.raw_chroma_accuracy(ref_v, ref_c, est_vf, est_c)
        out["c10"] = 100 * mir_eval.melody.raw_pitch_accuracy(ref_v, ref_c, est_vf, est_c, cent_tolerance=10)
        out["VR"] = 100 * float((est_v[ref_v > 0]).mean())
    if len(ref_hz):
        out["OA"] = 100 * mir_eval.melody.overall_accuracy(ref_v, ref_c, est_vf, est_c)
    if (ref_v == 0).any():
        out["VFA"] = 100 * float(est_v[ref_v == 0].mean())
    return out
