"""Persistent settings: a small typed wrapper around ``QSettings``.

``QSettings`` hands values back as strings on some back ends (INI files, and every back end for lists of one item);
this wrapper converts each value to the type of the default the caller gives, and falls back to that default when a
stored value is missing or unreadable (a hand-edited or corrupt settings file must never stop the app from starting).

Keys are grouped by a prefix per panel ("live/...", "file/..."). GUI thread only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

from PySide6 import QtCore

ORGANIZATION = "PESTO Tracker"
APPLICATION = "PESTO Tracker"

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class Settings:
    """Typed get/set with defaults.

    Parameters
    ----------
    group : str
        Prefix for every key (e.g. ``"live"``): ``get("step_ms")`` reads ``live/step_ms``.
    path : str or Path, optional
        An INI file to use instead of the platform's user settings (tests; portable installs).
    """

    def __init__(self, group: str = "", path: Optional[Union[str, Path]] = None):
        if path is not None:
            self._qs = QtCore.QSettings(str(path), QtCore.QSettings.IniFormat)
        else:
            self._qs = QtCore.QSettings(
                QtCore.QSettings.IniFormat, QtCore.QSettings.UserScope, ORGANIZATION, APPLICATION
            )
        self.group = group.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.group}/{key}" if self.group else key

    @property
    def file_name(self) -> str:
        return self._qs.fileName()

    def get(self, key: str, default: Any) -> Any:
        """The stored value converted to ``type(default)`` (bool, int, float, str, list of str), else ``default``."""
        raw = self._qs.value(self._key(key), None)
        if raw is None:
            return default
        try:
            return _convert(raw, default)
        except (TypeError, ValueError, OverflowError):
            return default

    def set(self, key: str, value: Any) -> None:
        if isinstance(value, (list, tuple)):
            value = [str(v) for v in value]
        self._qs.setValue(self._key(key), value)

    def contains(self, key: str) -> bool:
        return self._qs.contains(self._key(key))

    def remove(self, key: str) -> None:
        self._qs.remove(self._key(key))

    def sync(self) -> None:
        """Write pending changes to disk now (Qt also does it on its own, and at exit)."""
        self._qs.sync()


def _convert(raw: Any, default: Any) -> Any:
    if isinstance(default, bool):  # before int: bool is an int
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(raw)
    if isinstance(default, int):
        return int(float(raw))
    if isinstance(default, float):
        value = float(raw)
        if value != value:  # NaN from a broken file is not a setting
            raise ValueError(raw)
        return value
    if isinstance(default, (list, tuple)):
        if isinstance(raw, str):
            return [raw] if raw else []
        return [str(v) for v in raw]
    if isinstance(default, str):
        return str(raw)
    return raw
