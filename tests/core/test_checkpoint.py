"""Checkpoints load without running code from the file: bundled plain format, original .ckpt without omegaconf,
and refusal of pickles that would execute something."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pesto_core.checkpoint import RESOURCES_DIR, load_checkpoint, save_plain
from pesto_core.errors import CheckpointError

ORIGINAL = Path(__file__).resolve().parent.parent / "data" / "mir-1k_g7.ckpt"


def test_bundled_model_is_plain_weights_only():
    raw = torch.load(RESOURCES_DIR / "mir-1k_g7.pt", weights_only=True)
    assert raw["hcqt_params"]["n_bins"] == 251 and raw["hcqt_params"]["gamma"] == 7
    assert raw["hparams"]["pitch_shift"] == {"min_steps": -16, "max_steps": 16}
    assert (RESOURCES_DIR / "LICENSE-pesto-pitch.md").read_text().startswith("GNU Lesser General Public License")


def test_original_checkpoint_loads_without_omegaconf(tmp_path):
    """In a fresh interpreter where importing omegaconf fails, the original Lightning checkpoint still loads and
    equals the bundled one."""
    code = (
        "import sys; sys.modules['omegaconf'] = None\n"  # any `import omegaconf` now raises ImportError
        "import torch\n"
        "from pesto_core.checkpoint import load_checkpoint\n"
        f"a = load_checkpoint({str(ORIGINAL)!r}); b = load_checkpoint('mir-1k_g7')\n"
        "assert a.hcqt_params == b.hcqt_params and a.encoder == b.encoder and a.pitch_shift == b.pitch_shift\n"
        "assert a.encoder['n_chan_layers'] == [40, 30, 30, 10, 3], a.encoder\n"
        "assert a.state_dict.keys() == b.state_dict.keys()\n"
        "assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2]
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


class _RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = _RunsCode()
    evil.marker = marker
    path = tmp_path / "evil.ckpt"
    torch.save({"hparams": evil, "hcqt_params": {}, "state_dict": {}}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert "system" in str(err.value) and "not allowed" in str(err.value)
    assert str(path) in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"this is not a checkpoint", "not a PyTorch checkpoint"),
        (b"", "not a PyTorch checkpoint"),
    ],
)
def test_garbage_file_is_refused(tmp_path, content, reason):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=reason):
        load_checkpoint(path)


def test_foreign_torch_file_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a PESTO checkpoint"):
        load_checkpoint(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    data = ORIGINAL.read_bytes()
    path = tmp_path / "cut.ckpt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_unknown_model_name():
    with pytest.raises(CheckpointError, match="no such checkpoint file.*bundled: mir-1k_g7"):
        load_checkpoint("no-such-model")


def test_plain_round_trip(tmp_path):
    ckpt = load_checkpoint(ORIGINAL)
    save_plain(ckpt, tmp_path / "m.pt")
    again = load_checkpoint(tmp_path / "m.pt")
    assert again.encoder == ckpt.encoder
    assert all(torch.equal(again.state_dict[k], v) for k, v in ckpt.state_dict.items())
