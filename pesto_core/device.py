"""Where the engine runs: torch device selection and CPU thread count.

Kept apart from the entry points (``core``, ``stream``) so that both use it without importing each other. Each function
imports torch when it is called (this module itself is light); GUIs call them from worker threads only.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Optional, Union

from .errors import ParameterError

if TYPE_CHECKING:  # annotations only: torch is imported when a function runs
    import torch


def select_device(device: Union[None, str, int, "torch.device"] = None, gpu: Optional[int] = None) -> "torch.device":
    """The torch device to run on.

    ``gpu`` is the CLI's ``--gpu N`` (N < 0: CPU); ``device`` anything ``torch.device`` accepts. Asking for CUDA
    where none is available warns and falls back to the CPU.
    """
    import torch

    if gpu is not None:
        device = "cpu" if gpu < 0 else f"cuda:{int(gpu)}"
    if device is None:
        return torch.device("cpu")
    if isinstance(device, int):
        device = f"cuda:{device}"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ParameterError(f"invalid device {device!r} ({e})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            warnings.warn(f"{dev} requested but CUDA is not available here: using the CPU instead", stacklevel=2)
            return torch.device("cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ParameterError(f"GPU {dev.index} requested but only {torch.cuda.device_count()} GPU(s) found")
    return dev


def available_devices() -> list:
    """Names of the devices the engine can run on: ``["cpu", "cuda:0", ...]`` (for GUIs, which never import torch)."""
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return names


def set_threads(n: int) -> None:
    """Intra-op CPU threads of the engine, process-wide (torch.set_num_threads), at least 1."""
    import torch

    torch.set_num_threads(max(1, int(n)))


def get_threads() -> int:
    """Current intra-op CPU thread count of the engine."""
    import torch

    return torch.get_num_threads()
