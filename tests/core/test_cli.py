"""The `pesto` command line: golden numbers in CSV/NPZ, PNG, options, and bad input (one clear line per failing file,
the other files still processed, exit status 1, nothing half-written)."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pesto_core.cli import main

from .golden import ACT_ATOL, CONF_ATOL, DATA, VOL_RTOL, assert_pitch_close, golden

ROOT = Path(__file__).resolve().parents[2]


def run(args, capsys):
    code = main([str(a) for a in args] + ["-q"])
    out = capsys.readouterr()
    return code, out.err


@pytest.fixture(scope="module")
def golden_outputs(tmp_path_factory):
    """The CLI on all golden WAVs at once, csv + npz, into one output folder."""
    out = tmp_path_factory.mktemp("cli")
    wavs = sorted(DATA.glob("*.wav"))
    code = main([str(w) for w in wavs] + ["-o", str(out), "-e", "csv", "npz", "-q"])
    assert code == 0
    return out


@pytest.mark.parametrize("case", ["synth_16k", "speech_22k", "synth_44k", "synth_48k"])
def test_csv_matches_golden(golden_outputs, case):
    g = golden(case)
    lines = (golden_outputs / f"{case}.f0.csv").read_text().splitlines()
    assert lines[0] == "time,frequency,confidence"
    data = np.loadtxt(lines[1:], delimiter=",")
    sr = sf.info(DATA / f"{case}.wav").samplerate
    hop = int(10 * sr / 1000 + 0.5)
    np.testing.assert_allclose(data[:, 0], np.arange(len(data)) * hop / sr, atol=1e-6)  # seconds
    pitch_semitones = 69 + 12 * np.log2(data[:, 1] / 440)
    # the CSV rounds Hz to 1e-4: about 1e-3 cents at 100 Hz, far inside the 1e-3 semitone tolerance
    assert_pitch_close(pitch_semitones, g["step10_pitch_semitones_alwa"], g["step10_confidence"])
    np.testing.assert_allclose(data[:, 2], g["step10_confidence"], atol=CONF_ATOL)


@pytest.mark.parametrize("case", ["synth_16k", "speech_22k", "synth_44k", "synth_48k"])
def test_npz_matches_golden(golden_outputs, case):
    g = golden(case)
    with np.load(golden_outputs / f"{case}.f0.npz") as z:
        assert str(z["pitch_unit"]) == "Hz" and str(z["model"]) == "mir-1k_g7" and str(z["reduction"]) == "alwa"
        np.testing.assert_allclose(z["activations"], g["step10_activations"], atol=ACT_ATOL)
        np.testing.assert_allclose(z["confidence"], g["step10_confidence"], atol=CONF_ATOL)
        np.testing.assert_allclose(z["volume"], g["step10_volume"], rtol=VOL_RTOL)
        assert_pitch_close(69 + 12 * np.log2(z["pitch"] / 440), g["step10_pitch_semitones_alwa"],
                           g["step10_confidence"])
        sr = sf.info(DATA / f"{case}.wav").samplerate
        assert z["timesteps"][1] == pytest.approx(int(10 * sr / 1000 + 0.5) / sr)  # s, exact hop


@pytest.mark.parametrize("reduction", ["argmax", "mean"])
def test_semitones_steps_and_reductions(tmp_path, capsys, reduction):
    wav = tmp_path / "synth_16k.wav"
    shutil.copy(DATA / "synth_16k.wav", wav)
    code, err = run([wav, "-F", "-r", reduction, "-s", "5", "-e", "npz"], capsys)
    assert code == 0, err
    with np.load(tmp_path / "synth_16k.semitones.npz") as z:
        assert str(z["pitch_unit"]) == "semitones" and float(z["step_ms"]) == 5.0
        g = golden("synth_16k")
        assert_pitch_close(z["pitch"], g[f"step5_pitch_semitones_{reduction}"], g["step5_confidence"])


def test_png_export_is_a_picture(tmp_path, capsys):
    wav = tmp_path / "speech.wav"
    shutil.copy(DATA / "speech_22k.wav", wav)
    code, err = run([wav, "-e", "png"], capsys)
    assert code == 0, err
    png = tmp_path / "speech.f0.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert image.width() >= 800 and image.height() >= 300
    # not blank: the bright activation ridge and the dark background are both there
    gray = [image.pixelColor(x, y).lightness() for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)]
    assert max(gray) > 200 and min(gray) < 40


def test_multichannel_is_mixed_to_mono(tmp_path, capsys):
    x, sr = sf.read(DATA / "synth_16k.wav", dtype="float32")
    sf.write(tmp_path / "stereo.wav", np.stack([x, x], axis=1), sr, subtype="FLOAT")
    sf.write(tmp_path / "mono.wav", x, sr, subtype="FLOAT")
    code, err = run([tmp_path / "stereo.wav", tmp_path / "mono.wav"], capsys)
    assert code == 0, err
    assert (tmp_path / "stereo.f0.csv").read_text() == (tmp_path / "mono.f0.csv").read_text()


def test_flac_and_glob(tmp_path, capsys):
    x, sr = sf.read(DATA / "synth_16k.wav", dtype="float32")
    sf.write(tmp_path / "a.flac", x, sr)
    sf.write(tmp_path / "b.ogg", x, sr)
    code, err = run([str(tmp_path / "*.flac"), str(tmp_path / "*.ogg")], capsys)  # quoted globs: we expand them
    assert code == 0, err
    assert (tmp_path / "a.f0.csv").exists() and (tmp_path / "b.f0.csv").exists()


def _bad_inputs(tmp_path):
    x, sr = sf.read(DATA / "synth_16k.wav", dtype="float32")
    good = tmp_path / "good.wav"
    sf.write(good, x, sr)
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n")
    data = good.read_bytes()
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(data[: len(data) // 2])
    header_only = tmp_path / "header.wav"
    header_only.write_bytes(data[:30])
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), sr)
    nan = tmp_path / "nan.wav"
    y = x.copy()
    y[8000] = np.nan
    sf.write(nan, y, sr, subtype="FLOAT")
    sf.write(tmp_path / "flac_src.flac", x, sr)
    flac = tmp_path / "cut.flac"
    flac.write_bytes((tmp_path / "flac_src.flac").read_bytes()[:4000])
    (tmp_path / "flac_src.flac").unlink()
    return good, {
        tmp_path / "missing.wav": "no such file",
        text: "not a readable audio file",
        truncated: "truncated",
        header_only: "not a readable audio file",
        empty: "no audio (zero length)",
        nan: "NaN or infinite samples (first at sample 8000",
        flac: "corrupt or truncated",
    }


def test_each_bad_input_is_reported_and_others_processed(tmp_path, capsys):
    good, bad = _bad_inputs(tmp_path)
    files = list(bad) + [good]
    code, err = run(files, capsys)
    assert code == 1
    lines = [l for l in err.splitlines() if l.startswith("pesto: error:")]
    assert len(lines) == len(bad)
    for path, reason in bad.items():
        line = next((l for l in lines if f"{path}:" in l), None)
        assert line is not None, f"no error line for {path}: {err}"
        assert reason in line, line
    assert f"{len(bad)} of {len(files)} file(s) failed" in err
    assert (tmp_path / "good.f0.csv").exists()
    # nothing half-written: no CSV for any bad input, no temporary files left
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["good.f0.csv"]
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*"))


def test_unwritable_output_directory(tmp_path, capsys):
    """An output path that cannot be a directory (it is a file): a clear message, exit 1."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should be")
    code, err = run([DATA / "synth_16k.wav", "-o", blocker / "out"], capsys)
    assert code == 1
    assert "cannot write here" in err and str(blocker / "out") in err


def test_failed_write_leaves_previous_result_intact(tmp_path, capsys, monkeypatch):
    """A write that fails half-way (disk full) leaves neither a partial file nor a damaged older result, and the
    next file is still processed. A full disk cannot be produced for real here, so the file object is made to fail
    after writing some bytes."""
    import pesto_core.writers as writers

    for name in ("take", "next"):
        shutil.copy(DATA / "synth_16k.wav", tmp_path / f"{name}.wav")
    (tmp_path / "take.f0.csv").write_text("previous result\n")
    real_fdopen = writers.os.fdopen
    calls = []

    class DiskFull:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fdopen(fd, mode="r", *a, **k):
        calls.append(fd)
        f = real_fdopen(fd, mode, *a, **k)
        return DiskFull(f) if len(calls) == 1 else f

    monkeypatch.setattr(writers.os, "fdopen", fdopen)
    code, err = run([tmp_path / "take.wav", tmp_path / "next.wav", "-j", "1"], capsys)  # in this process
    assert code == 1 and "No space left on device" in err and "take.f0.csv" in err
    assert (tmp_path / "take.f0.csv").read_text() == "previous result\n"
    assert (tmp_path / "next.f0.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_model_and_options(tmp_path, capsys):
    code, err = run([DATA / "synth_16k.wav", "-m", tmp_path / "nope.ckpt"], capsys)
    assert code == 2 and "no such checkpoint" in err
    code, err = run([DATA / "synth_16k.wav", "-c", "0"], capsys)
    assert code == 2 and "--num_chunks" in err
    with pytest.raises(SystemExit):
        main([str(DATA / "synth_16k.wav"), "-e", "json"])


def test_console_script_and_module_entry_points(tmp_path):
    wav = tmp_path / "s.wav"
    shutil.copy(DATA / "synth_48k.wav", wav)
    out = subprocess.run([sys.executable, "-m", "pesto_core", str(wav), "-q"], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "s.f0.csv").exists()
    if shutil.which("pesto"):
        out = subprocess.run(["pesto", "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and "--export_format" in out.stdout


def test_gpu_option_without_cuda_warns(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is present: the fallback warning cannot be observed")
    wav = tmp_path / "s.wav"
    shutil.copy(DATA / "synth_16k.wav", wav)
    code, err = run([wav, "--gpu", "0"], capsys)
    assert code == 0
    assert "warning" in err and "CUDA is not available" in err
