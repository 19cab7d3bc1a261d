"""Thread helpers shared by the background threads of both tabs."""

from __future__ import annotations

import os
import threading


def lower_thread_priority(niceness: int = 10) -> None:
    """Make the calling thread yield the CPU to the GUI thread (Linux: a per-thread nice value; elsewhere a no-op).

    Called at the start of background threads: when the machine is busy, the event loop keeps its share of CPU and
    the window stays responsive, while the analysis still uses whatever CPU is left."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), niceness))
    except (AttributeError, OSError):  # no per-thread priorities here
        pass
