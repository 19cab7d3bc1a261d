"""Keeps Python's cyclic garbage collector from pausing the window.

Why. A full (generation 2) collection walks every object the collector tracks while holding the GIL, whichever
thread triggers it: with torch, pyqtgraph and PySide6 loaded the app tracks ~250 000 objects, and one full
collection takes 90 ms on the 2-core test machine (a process that has built and closed many windows: up to 270 ms,
measured with ``gc.callbacks``). Python starts one every few seconds while an analysis or a live session allocates,
and it lands at a random moment: the event loop stalls (the File tab's responsiveness test allows 100 ms) and
PortAudio's callback, which needs the GIL too, waits.

What. Almost all of those objects are there for good (modules, classes, the loaded networks). Once the big one-off
allocations are done -- torch imported and a model loaded -- :func:`settle` collects once and then freezes the
survivors (:func:`gc.freeze`): frozen objects are never walked again, so later collections only look at what was
allocated since, which is little and short-lived. The one collection is paid where the user already waits (a model
loading). Frozen objects are still freed by reference counting; only cyclic garbage that existed before the freeze
would be kept, and the collection just before it leaves none.

Any thread may call :func:`settle` (the analysis and live workers do, after loading their model).
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()


def settle() -> int:
    """Collect the garbage once, then freeze every tracked object that survives (process-wide).

    Cheap when called again: the frozen objects are not walked. Returns the number of frozen objects."""
    with _lock:
        gc.collect()
        gc.freeze()
        return gc.get_freeze_count()
