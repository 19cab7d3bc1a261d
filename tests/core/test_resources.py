"""The bundled example audio is what the README says it is."""

import numpy as np

from pesto_core import analyse_file, load_model
from pesto_core.checkpoint import RESOURCES_DIR


def test_example_melody_reads_as_documented():
    track = analyse_file(RESOURCES_DIR / "example_melody.wav", load_model())
    notes = np.round(track.pitch_semitones[track.confidence > 0.9]).astype(int)
    # held notes (>= 0.4 s each; the glide only passes through the notes between E4 and A4), in the order of their
    # median frame (F#4 is also crossed briefly by the glide, before A4)
    held = sorted(
        (float(np.median(np.flatnonzero(notes == n))), int(n)) for n in np.unique(notes) if (notes == n).sum() >= 40
    )
    assert [n for _, n in held] == [57, 64, 69, 66]  # A3, E4, A4, F#4
    assert (track.confidence[:20] < 0.5).all()  # it starts with a rest
