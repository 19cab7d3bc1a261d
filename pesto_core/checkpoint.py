"""Loading PESTO checkpoints without running code from the file.

Two formats are accepted:

* the plain format we bundle (``resources/<name>.pt``): a dict of tensors, numbers, strings, lists and dicts, loaded
  with ``torch.load(weights_only=True)``;
* original PESTO checkpoints (``.ckpt`` from the ``pesto-pitch`` wheel or from the training repository). Those are
  PyTorch-Lightning pickles whose hyper-parameters are omegaconf containers. We unpickle them with an allow-listed
  unpickler: omegaconf classes are replaced by inert stand-ins that are converted back to plain dicts and lists,
  tensors are rebuilt by torch, and any other global (``os.system``, ``builtins.eval``, arbitrary classes...) is refused
  with a :class:`CheckpointError`. omegaconf does not need to be installed.

Both give a :class:`Checkpoint`: the model's configuration as plain Python values plus its ``state_dict``.
"""
from __future__ import annotations

import collections
import pickle
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict

import torch

from .bundled import DEFAULT_MODEL, MODELS_DIR, bundled_models, bundled_path
from .errors import CheckpointError

RESOURCES_DIR = MODELS_DIR  # the bundled models' folder (older name)
PLAIN_FORMAT = "pesto-tracker-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """A PESTO model's configuration and weights, as plain values.

    Attributes
    ----------
    name : str
        Model name (file stem).
    hcqt_params : dict
        Front-end parameters: ``fmin`` (Hz), ``bins_per_semitone``, ``n_bins``, ``gamma``, ``center_bins``,
        ``center``, ``harmonics`` (list of multipliers), ``fmax`` (None).
    encoder : dict
        Encoder hyper-parameters (``n_chan_layers``, ``n_prefilt_layers``, ``prefilt_kernel_size``, ``residual``,
        ``n_bins_in``, ``output_dim``, ``activation_fn``, ``a_lrelu``...).
    pitch_shift : dict
        ``min_steps`` / ``max_steps``: the VQT is cropped to bins ``[max_steps, n_bins + min_steps)``.
    reduction : str
        Default reduction of the checkpoint.
    state_dict : dict of str -> Tensor
    """

    name: str
    hcqt_params: Dict[str, Any]
    encoder: Dict[str, Any]
    pitch_shift: Dict[str, int]
    reduction: str
    state_dict: Dict[str, torch.Tensor] = field(repr=False)

    def to_plain(self) -> dict:
        """The plain, code-free dict that :func:`save_plain` writes."""
        return {
            "format": PLAIN_FORMAT,
            "name": self.name,
            "hcqt_params": self.hcqt_params,
            "hparams": {"encoder": self.encoder, "pitch_shift": self.pitch_shift, "reduction": self.reduction},
            "state_dict": {k: v.detach().clone().contiguous() for k, v in self.state_dict.items()},
        }


# --------------------------------------------------------------------------------------------------------------------
# allow-listed unpickling of original checkpoints

class _OmegaStandIn:
    """Inert replacement for omegaconf containers and nodes: only remembers its pickled state."""

    def __init__(self, *args, **kwargs):
        self._state = None

    def __setstate__(self, state):
        self._state = state


def _stand_in(name: str) -> type:
    return type(name, (_OmegaStandIn,), {})


_OMEGACONF_CLASSES = {
    ("omegaconf.dictconfig", "DictConfig"), ("omegaconf.listconfig", "ListConfig"),
    ("omegaconf.nodes", "AnyNode"), ("omegaconf.nodes", "StringNode"), ("omegaconf.nodes", "IntegerNode"),
    ("omegaconf.nodes", "FloatNode"), ("omegaconf.nodes", "BooleanNode"), ("omegaconf.nodes", "ValueNode"),
    ("omegaconf.base", "ContainerMetadata"), ("omegaconf.base", "Metadata"),
}
_STAND_INS = {key: _stand_in(key[1]) for key in _OMEGACONF_CLASSES}

# Harmless callables/types that Lightning checkpoints reference. Calling any of them cannot touch the system.
_SAFE_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "defaultdict"): collections.defaultdict,
    ("builtins", "dict"): dict, ("__builtin__", "dict"): dict,
    ("builtins", "list"): list, ("__builtin__", "list"): list,
    ("builtins", "set"): set, ("builtins", "tuple"): tuple,
    ("builtins", "int"): int, ("__builtin__", "long"): int, ("__builtin__", "int"): int,
    ("builtins", "float"): float, ("builtins", "str"): str, ("builtins", "bool"): bool,
    ("builtins", "object"): object, ("__builtin__", "object"): object,
    ("typing", "Any"): object,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
}


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        key = (module, name)
        if key in _STAND_INS:
            return _STAND_INS[key]
        if key in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[key]
        if module == "torch" and name.endswith("Storage"):  # torch's own wrapper maps these first
            return getattr(torch, name)
        raise CheckpointError(f"refusing to load: the file references '{module}.{name}', which is not allowed in a "
                              "PESTO checkpoint (it could run code)")


# torch.load wants a module-like object exposing Unpickler (and load for legacy files)
_allow_list_pickle = types.SimpleNamespace(
    Unpickler=_AllowListUnpickler,
    load=lambda f, **kw: _AllowListUnpickler(f, **kw).load(),
    __name__="pesto_core_allow_list_pickle",
)


def _plain(obj: Any) -> Any:
    """Recursively turn omegaconf stand-ins and containers into dicts, lists and scalars."""
    if isinstance(obj, _OmegaStandIn):
        state = obj._state or {}
        if "_val" in state:
            return _plain(state["_val"])
        content = state.get("_content")
        if isinstance(content, dict):
            return {k: _plain(v) for k, v in content.items()}
        if isinstance(content, (list, tuple)):
            return [_plain(v) for v in content]
        return content
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# --------------------------------------------------------------------------------------------------------------------

def resolve(name_or_path: str | Path) -> Path:
    """Path of a checkpoint given a bundled model name (``"mir-1k_g7"``) or a file path."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    bundled = bundled_path(str(name_or_path))
    if bundled is not None:
        return bundled
    raise CheckpointError(f"{name_or_path}: no such checkpoint file, and not a bundled model name "
                          f"(bundled: {', '.join(bundled_models()) or 'none'})")


def load_checkpoint(name_or_path: str | Path = DEFAULT_MODEL) -> Checkpoint:
    """Load a bundled model by name or a checkpoint file, without executing code from it.

    Raises
    ------
    CheckpointError
        Missing file, not a PyTorch checkpoint, a pickle referencing anything outside the allow-list, or a checkpoint
        that does not describe a PESTO model.
    """
    path = resolve(name_or_path)
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (expected a zip archive as written by torch.save)")
    try:
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except CheckpointError:
            raise
        except Exception:
            # original Lightning checkpoints reference omegaconf classes: retry with our allow-list
            raw = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_allow_list_pickle)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except Exception as e:  # corrupt zip, truncated file...
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(e).__name__}: {e})") from None
    return _to_checkpoint(_plain(raw), path)


def _to_checkpoint(raw: Any, path: Path) -> Checkpoint:
    if not isinstance(raw, dict) or not {"hparams", "hcqt_params", "state_dict"} <= raw.keys():
        raise CheckpointError(f"{path}: not a PESTO checkpoint (expected keys 'hparams', 'hcqt_params', "
                              "'state_dict')")
    hparams = raw["hparams"]
    state_dict = raw["state_dict"]
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(f"{path}: 'state_dict' is not a mapping of tensors")
    try:
        ckpt = Checkpoint(
            name=str(raw.get("name", path.stem)),
            hcqt_params=dict(raw["hcqt_params"]),
            encoder=dict(hparams["encoder"]),
            pitch_shift={k: int(v) for k, v in hparams.get("pitch_shift", {"min_steps": 0, "max_steps": 0}).items()},
            reduction=str(hparams.get("reduction", "alwa")),
            state_dict=dict(state_dict),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: malformed PESTO hyper-parameters ({e})") from None
    missing = {"shift", "encoder.fc.weight", "confidence.linear.weight"} - ckpt.state_dict.keys()
    if missing:
        raise CheckpointError(f"{path}: not a PESTO checkpoint (missing weights {sorted(missing)})")
    return ckpt


def save_plain(ckpt: Checkpoint, path: str | Path) -> None:
    """Write ``ckpt`` in the bundled plain format (loads with ``torch.load(weights_only=True)``), atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt.to_plain(), tmp)
    tmp.replace(path)


if __name__ == "__main__":  # python -m pesto_core.checkpoint ORIGINAL.ckpt OUT.pt
    import sys

    save_plain(load_checkpoint(sys.argv[1]), sys.argv[2])
    print(f"wrote {sys.argv[2]}")
