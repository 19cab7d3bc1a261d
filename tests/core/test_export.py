"""Export of the streaming model (pesto_core.export): TorchScript and ONNX files match the eager engine on the golden
audio, the ONNX state is explicit, and the command line validates before reporting success."""

import importlib.util
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from pesto_core import export as ex
from pesto_core.errors import ParameterError

from .golden import ACT_ATOL, DATA, audio

HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None
needs_ort = pytest.mark.skipif(not HAVE_ORT, reason="onnx/onnxruntime not installed (pip install -e '.[export]')")
SECONDS = 1.5  # of golden audio per validation: 150 hops, enough voiced and unvoiced frames

CASES = {"48k": ("synth_48k", 48000, 480, 1), "16k": ("synth_16k", 16000, 160, 2)}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache = {}

    def get(key, fmt):
        if (key, fmt) not in cache:
            case, sr, hop, batch = CASES[key]
            x, file_sr = audio(case)
            assert file_sr == sr
            spec = ex.ExportSpec("mir-1k_g7", sr, hop, batch, 1.0)
            out = tmp_path_factory.mktemp(f"export_{key}_{fmt}")
            lines = []
            ok, diffs, paths = ex.export(spec, out, [fmt], x[: int(SECONDS * sr)], log=lines.append)
            cache[key, fmt] = (spec, ok, diffs[fmt], paths, lines)
        return cache[key, fmt]

    return get


FORMATS = ["torchscript", pytest.param("onnx", marks=needs_ort)]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", sorted(CASES))
def test_exported_model_matches_eager_on_golden_audio(exported, key, fmt):
    spec, ok, diffs, paths, lines = exported(key, fmt)
    assert ok, lines
    assert diffs["activations"] <= ACT_ATOL and diffs["confidence"] <= ACT_ATOL and diffs["volume_rel"] <= ACT_ATOL
    assert diffs["pitch_share_within_atol"] >= 0.995
    suffix = {"torchscript": ".pt", "onnx": ".onnx"}[fmt]
    assert [p.suffix for p in paths] == [suffix, ".json"] and all(p.stat().st_size > 0 for p in paths)
    assert "OK against the eager engine" in lines[0] and "max |diff| activations" in lines[0]
    meta = json.loads(paths[1].read_text())
    assert meta["sample_rate_hz"] == spec.sr and meta["hop_length"] == spec.hop_length
    assert meta["batch"] == spec.batch and meta["validation"]["ok"] is True
    assert meta["latency_samples"] == -(-spec.hop_length // 2)  # mirror=1: half a hop


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_file_streams_and_resets(exported):
    spec, _, _, paths, _ = exported("16k", "torchscript")
    module = torch.jit.load(str(paths[0]))
    x, sr = audio("synth_16k")
    blocks = torch.from_numpy(np.stack([x[:1600], x[1600:3200]])).reshape(2, 10, 160)
    first = [module(blocks[:, i]) for i in range(10)]
    module.reset()
    again = [module(blocks[:, i]) for i in range(10)]
    for a, b in zip(first, again):
        for u, v in zip(a, b):
            assert torch.equal(u, v)
    pitch, conf, vol, acts = first[-1]
    assert pitch.shape == conf.shape == vol.shape == (2,) and acts.shape == (2, 384)


@needs_ort
def test_onnx_state_is_explicit_and_nan_safe(exported):
    import onnx
    import onnxruntime as ort

    spec, _, _, paths, _ = exported("48k", "onnx")
    graph = onnx.load(str(paths[0])).graph
    assert [i.name for i in graph.input] == ex.INPUT_NAMES
    assert [o.name for o in graph.output] == ex.OUTPUT_NAMES
    meta = json.loads(paths[1].read_text())
    z = meta["cache_length"]
    session = ort.InferenceSession(str(paths[0]), providers=["CPUExecutionProvider"])
    x, sr = audio("synth_48k")
    cache = np.zeros((1, z), np.float32)
    block = x[None, 48000:48480].copy()
    _, _, _, _, cache_a = session.run(None, {"audio": block, "cache_in": cache})
    np.testing.assert_array_equal(cache_a[0, -480:], block[0])  # the state is the newest Z samples
    block[0, 100] = np.nan
    pitch, conf, vol, acts, cache_b = session.run(None, {"audio": block, "cache_in": cache_a})
    assert conf[0] == 0.0 and np.isfinite(cache_b).all() and cache_b[0, -380] == 0.0
    assert np.isfinite(acts).all() and np.isfinite(vol).all()
    # the same call with the same state gives the same frame: nothing hidden
    again = session.run(None, {"audio": block, "cache_in": cache_a})
    np.testing.assert_array_equal(again[3], acts)


def test_comparison_can_fail():
    ref = {
        "pitch_semitones": np.zeros((1, 10), np.float32),
        "confidence": np.zeros((1, 10), np.float32),
        "volume": np.ones((1, 10), np.float32),
        "activations": np.zeros((1, 10, 384), np.float32),
    }
    assert ex.compare(ref, ref)[0]
    for key, delta in (("activations", 2e-3), ("confidence", 2e-3), ("volume", 2e-3), ("pitch_semitones", 0.1)):
        bad = dict(ref)
        bad[key] = ref[key] + delta
        assert not ex.compare(bad, ref)[0], key


def test_cli_torchscript_success_and_mismatch(tmp_path, capsys):
    wav = DATA / "synth_16k.wav"
    args = [
        "--sr",
        "16000",
        "--hop",
        "160",
        "-o",
        str(tmp_path),
        "-f",
        "torchscript",
        "--audio",
        str(wav),
        "--seconds",
        "0.5",
    ]
    assert ex.main(args) == 0
    out = capsys.readouterr().out
    assert "OK against the eager engine" in out and "wrote" in out
    assert (tmp_path / "pesto_mir-1k_g7_16000hz_hop160_b1_mirror1.pt").is_file()
    # an impossible tolerance: the check reports the mismatch and the exit status says so
    assert ex.main(args + ["--atol", "1e-12"]) == 1
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.out and "does not match" in captured.err


def test_cli_synthesised_signal_when_no_audio(tmp_path, capsys):
    assert (
        ex.main(
            [
                "--sr",
                "8000",
                "--step",
                "20",
                "--mirror",
                "0.5",
                "-o",
                str(tmp_path),
                "-f",
                "torchscript",
                "--seconds",
                "0.5",
            ]
        )
        == 0
    )
    assert (tmp_path / "pesto_mir-1k_g7_8000hz_hop160_b1_mirror0.5.pt").is_file()
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--sr", "16000", "--hop", "160", "--audio", "synth_48k.wav"], "48000 Hz, but the export is for 16000 Hz"),
        (["--sr", "16000", "--hop", "160", "--batch", "0"], "batch must be at least 1"),
        (["--sr", "16000", "--hop", "160", "--mirror", "2"], "mirror must be a number in [0, 1]"),
        (["--sr", "1000", "--hop", "10"], "sample rate"),
        (["--sr", "16000", "--hop", "160", "--audio", "missing.wav"], "missing.wav"),
    ],
)
def test_cli_bad_options(tmp_path, capsys, args, message):
    args = [a if not a.endswith(".wav") else str(DATA / a) for a in args]
    assert ex.main(args + ["-o", str(tmp_path), "-f", "torchscript", "--seconds", "0.2"]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.pt"))


def test_write_onnx_without_onnx_is_a_clear_error(monkeypatch, tmp_path):
    """A fault that cannot be produced for real where onnx is installed: the import is made to fail."""
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *a, **k):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *a, **k)

    step, _ = ex.build_step(ex.ExportSpec("mir-1k_g7", 16000, 160, 1, 1.0))
    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.raises(ParameterError, match=r"pip install -e '\.\[export\]'"):
        ex.write_onnx(step, 1, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_test_signal_is_audio():
    x = ex.test_signal(16000, 1.0)
    assert x.dtype == np.float32 and x.shape == (16000,) and np.isfinite(x).all() and 0.1 < np.abs(x).max() <= 1.0
    sf.info(str(DATA / "synth_16k.wav"))  # the golden WAVs are what the export tests validate on


@needs_ort
def test_onnx_without_onnxscript_uses_the_older_exporter_and_validates(monkeypatch, tmp_path):
    """torch's newer exporter needs onnxscript; without it (made to fail to import) the older one is used."""
    import builtins

    real_import = builtins.__import__

    def no_onnxscript(name, *a, **k):
        if name == "onnxscript" or name.startswith("onnxscript."):
            raise ImportError("No module named 'onnxscript'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_onnxscript)
    x, sr = audio("synth_16k")
    ok, diffs, paths = ex.export(
        ex.ExportSpec("mir-1k_g7", sr, 160, 1, 1.0), tmp_path, ["onnx"], x[:8000], log=lambda line: None
    )
    assert ok and diffs["onnx"]["activations"] <= ACT_ATOL and paths[0].suffix == ".onnx"


def test_cli_unwritable_output_dir(tmp_path, capsys):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    assert (
        ex.main(["--sr", "16000", "--hop", "160", "-o", str(blocker / "sub"), "-f", "torchscript", "--seconds", "0.2"])
        == 1
    )
    assert "not_a_dir" in capsys.readouterr().err


def test_cli_onnx_without_onnxruntime_exits_3(monkeypatch, tmp_path, capsys):
    """A fault that cannot be produced for real where onnxruntime is installed: the import is made to fail."""
    import builtins

    real_import = builtins.__import__

    def no_ort(name, *a, **k):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ort)
    assert ex.main(["--sr", "16000", "--hop", "160", "-o", str(tmp_path), "-f", "onnx"]) == 3
    assert "pip install -e '.[export]'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
