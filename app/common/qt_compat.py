"""Work-arounds for bugs of the Qt binding, applied once when the app's views are imported.

PySide6 6.12.0 (shiboken6 6.12.0) returns ``None`` without taking a reference from every C++ method that returns
void (``label.setText``, ``widget.update``, ``QCoreApplication.processEvents``...). Python 3.12+ made ``None``
immortal, so nothing happens there; on Python 3.11 each call lowers ``None``'s reference count by one, and a live
view redrawing 30-60 times a second brings it to zero in under a minute (measured: -1400 per second in the Live tab):
the process aborts with "Fatal Python error: none_dealloc: deallocating None".

:func:`protect_none_refcount` detects the bug at run time (a few calls of a void method, watching ``None``'s count)
and, only then, makes ``None`` effectively immortal as Python 3.12 does, by adding 2**40 references to it. The
better fix is a binding without the bug: pyproject.toml excludes PySide6-Essentials 6.12.0 (6.11.x is fine).
"""

from __future__ import annotations

import sys

_APPLIED = None


def none_refcount_leak_per_call() -> float:
    """References to ``None`` lost per call of a void PySide6 method (0.0 with a correct binding)."""
    from PySide6 import QtCore

    obj = QtCore.QObject()
    n = 200
    before = sys.getrefcount(None)
    for _ in range(n):
        obj.setObjectName("probe")
    return (before - sys.getrefcount(None)) / n


def protect_none_refcount() -> bool:
    """Apply the work-around if this PySide6 loses references to ``None`` on a non-immortal-None Python.

    Returns True if it was applied (now or before). Idempotent.
    """
    global _APPLIED
    if _APPLIED is not None:
        return _APPLIED
    _APPLIED = False
    if sys.version_info >= (3, 12):
        return False
    if none_refcount_leak_per_call() < 0.5:
        return False
    import ctypes

    # ob_refcnt is the first field of every object in release builds of CPython <= 3.11
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
    _APPLIED = True
    return True
