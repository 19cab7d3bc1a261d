"""PESTO Tracker's engine: exact PESTO pitch estimation (Riou et al., ISMIR 2023 / TISMIR 2025), GUI-free.

Public API (names as upstream ``pesto``): :func:`predict`, :func:`predict_from_files`, :func:`load_model`; plus
:func:`analyse_file` / :func:`iter_file_track` returning :class:`PitchTrack` (numpy) for applications.

Importing the package is cheap: torch is imported when a name that needs it is first used (``pesto_core.predict``,
``pesto_core.load_model``...), not at ``import pesto_core``. The light modules (``units``, ``track``, ``errors``,
``bundled``, ``validation``, ``writers``, ``audio``, ``device``) never import torch at module level.
"""
from __future__ import annotations

from importlib import import_module

from .errors import AudioError, CheckpointError, OutputError, ParameterError, PestoError
from .track import PitchTrack

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first use)
_LAZY = {
    "predict": "core", "predict_from_files": "core", "load_model": "core", "analyse_file": "core",
    "iter_file_track": "core",
    "select_device": "device", "available_devices": "device", "set_threads": "device", "get_threads": "device",
}

__all__ = ["predict", "predict_from_files", "load_model", "analyse_file", "iter_file_track", "select_device",
           "available_devices", "set_threads", "get_threads",
           "PitchTrack", "PestoError", "ParameterError", "CheckpointError", "AudioError", "OutputError"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pesto_core' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
