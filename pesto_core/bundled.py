"""The models that ship with the package: where they are and what they are called (light: no torch).

In a source checkout the weights live in the repository's top-level ``resources/`` folder; a wheel carries the same
files as the package data ``pesto_core/resources/`` (``pyproject.toml`` maps the one onto the other), so an
installed package finds its models from any working directory.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

DEFAULT_MODEL = "mir-1k_g7"
CHECKPOINT_SUFFIXES = (".pt", ".ckpt")


def _models_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "resources", here.parent / "resources"):  # wheel, then source checkout
        if any(candidate.glob("*.pt")):
            return candidate
    return here / "resources"


MODELS_DIR = _models_dir()


def bundled_models() -> List[str]:
    """Names of the bundled models (``["mir-1k_g7", ...]``), sorted."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.pt"))


def bundled_path(name: str) -> Optional[Path]:
    """The file of the bundled model ``name``, or None if there is no such bundled model."""
    if not name or "/" in name or "\\" in name:
        return None
    for suffix in CHECKPOINT_SUFFIXES:
        candidate = MODELS_DIR / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None
