"""PESTO Tracker's engine: exact PESTO pitch estimation (Riou et al., ISMIR 2023 / TISMIR 2025), GUI-free.

Public API (names as upstream ``pesto``): :func:`predict`, :func:`predict_from_files`, :func:`load_model`; plus
:func:`analyse_file` / :func:`iter_file_track` returning :class:`PitchTrack` (numpy) for applications.
"""
from .core import (analyse_file, available_devices, get_threads, iter_file_track, load_model, predict,
                   predict_from_files, select_device, set_threads)
from .errors import AudioError, CheckpointError, OutputError, ParameterError, PestoError
from .track import PitchTrack

__version__ = "0.1.0"

__all__ = ["predict", "predict_from_files", "load_model", "analyse_file", "iter_file_track", "select_device",
           "available_devices", "set_threads", "get_threads",
           "PitchTrack", "PestoError", "ParameterError", "CheckpointError", "AudioError", "OutputError"]
