"""The status line of a run, on stderr: files done, audio hours done, speed (x real time), ETA, failures.

On a terminal the line is rewritten in place (at most 10 times a second); in a log file (not a terminal) a line is
written every 10 s and at the end. The ETA extrapolates from the bytes of audio done against the bytes left (the
files' sizes are known before the run, their durations only once read).
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


def _hms(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Follows a run of ``n_files`` files totalling ``total_bytes`` bytes.

    Call :meth:`file_done` after each file (from the thread that owns the stream), :meth:`partial` for the share of
    the file being analysed (single-process runs), :meth:`message` to print a line (an error) without breaking the
    status line, and :meth:`close` at the end.
    """

    def __init__(self, n_files: int, total_bytes: int, enabled: bool = True, stream: Optional[TextIO] = None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and n_files > 0
        self.tty = self.enabled and getattr(self.stream, "isatty", lambda: False)()
        self.n_files, self.total_bytes = n_files, max(0, total_bytes)
        self.files = self.failed = 0
        self.bytes = 0
        self.partial_bytes = 0.0
        self.audio_s = 0.0
        self.start = time.monotonic()
        self.last = -1e9
        self.shown = False

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.start

    def file_done(self, size: int, duration_s: float, ok: bool) -> None:
        self.files += 1
        self.failed += not ok
        self.bytes += max(0, size)
        self.partial_bytes = 0.0
        if duration_s == duration_s:  # not NaN
            self.audio_s += duration_s
        self.show(force=self.files == self.n_files)

    def partial(self, size: int, done: int, total: int) -> None:
        self.partial_bytes = max(0, size) * (done / total if total else 1.0)
        self.show()

    def line(self) -> str:
        elapsed = self.elapsed_s
        speed = self.audio_s / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.files}/{self.n_files} files", f"{self.audio_s / 3600:.2f} h audio"]
        if self.audio_s > 0:
            parts.append(f"{speed:.0f}x real time" if speed >= 10 else f"{speed:.1f}x real time")
        done = self.bytes + self.partial_bytes
        if self.files < self.n_files and done > 0 and self.total_bytes > 0:
            parts.append(f"ETA {_hms(elapsed * (self.total_bytes - done) / done)}")
        elif self.files == self.n_files:
            parts.append(f"in {_hms(elapsed)}")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return "pesto: " + ", ".join(parts)

    def show(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < (0.1 if self.tty else 10.0):
            return
        self.last = now
        if self.tty:
            self.stream.write("\r" + self.line()[:150].ljust(100))
        else:
            self.stream.write(self.line() + "\n")
        self.shown = True
        self.stream.flush()

    def message(self, text: str) -> None:
        """Print ``text`` on its own line (the status line is redrawn by the next update)."""
        if self.tty and self.shown:
            self.stream.write("\r" + " " * 100 + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()
        self.last = -1e9 if self.tty else self.last

    def close(self) -> None:
        if self.enabled and self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
