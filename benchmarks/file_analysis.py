"""File tab on a long recording: analysis time, event-loop gaps and memory while a whole file is analysed in the app.

    python benchmarks/file_analysis.py --minutes 60          # offscreen unless DISPLAY is set

Writes a synthetic recording (a sine with vibrato and pauses, 16 kHz PCM16) into a temporary folder, opens it in a
:class:`app.file.panel.FilePanel` as a user would (analysis starts on open), and reports:

* the analysis wall time and its speed (seconds of audio per second);
* the event loop's gaps, measured by a 10 ms timer over the whole analysis (max, 99th percentile);
* the process's resident memory (RSS) before opening, at its peak, and the size of the activation file on disk
  (the activations live there, not in RAM).

Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb(kind: str = "RssAnon") -> float:
    """Resident memory in MB: ``RssAnon`` (the process's own memory) or ``RssFile`` (mapped files, e.g. the
    activation memmap: page cache the kernel can drop once written)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(kind + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_recording(path: Path, minutes: float, sr: int = 16000) -> None:
    """A minute at a time (bounded memory): 2 s notes with vibrato, 0.5 s pauses."""
    with sf.SoundFile(str(path), "w", sr, 1, "PCM_16") as f:
        for m in range(int(np.ceil(minutes))):
            n = int(min(60.0, (minutes - m) * 60) * sr)
            t = m * 60 + np.arange(n) / sr
            freq = 110 * 2 ** ((np.floor(t / 2.5) % 24) / 12)
            phase = 2 * np.pi * np.cumsum(freq * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) / sr
            gate = ((t % 2.5) < 2.0).astype(np.float32)
            f.write((0.3 * np.sin(phase) * gate).astype(np.float32))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from app.file.panel import FilePanel

    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "long.wav"
        write_recording(audio, args.minutes)
        from app.common.settings import Settings

        settings = Settings("file", path=Path(tmp) / "s.ini")
        window = QtWidgets.QMainWindow()
        panel = FilePanel(window, settings=settings, show_dialogs=False)
        window.setCentralWidget(panel)
        window.resize(1200, 760)
        window.show()
        for _ in range(20):
            app.processEvents()
        rss0, file0 = rss_mb(), rss_mb("RssFile")
        gaps, last, peak, peak_file = [], [None], [rss0], [file0]

        long_gaps = []

        def tick():
            now = time.perf_counter()
            if last[0] is not None:
                gaps.append(now - last[0])
                if gaps[-1] > 0.1:
                    long_gaps.append((last[0] - t0, gaps[-1], doc_frames()))
            last[0] = now
            if len(gaps) % 50 == 0:
                peak[0] = max(peak[0], rss_mb())
                peak_file[0] = max(peak_file[0], rss_mb("RssFile"))

        timer = QtCore.QTimer(interval=10)
        timer.setTimerType(QtCore.Qt.PreciseTimer)
        timer.timeout.connect(tick)
        loop = QtCore.QEventLoop()
        panel.idle.connect(loop.quit)
        docs = []

        def doc_frames():
            return docs[0].frames_done if docs else -1

        t0 = time.perf_counter()
        timer.start()
        doc = panel.open_files([str(audio)])[0]
        docs.append(doc)
        loop.exec()
        wall = time.perf_counter() - t0
        timer.stop()
        disk = doc.store.path.stat().st_size / 2**20 if doc.store and doc.store.path else 0.0
        g = np.array(gaps) * 1000
        print(
            f"audio: {args.minutes:g} min, {doc.total_frames} frames at {doc.settings.step_ms:g} ms; state: {doc.state}"
        )
        print(
            f"analysis: {wall:.1f} s wall, {args.minutes * 60 / wall:.1f}x real time "
            f"(torch threads: {__import__('torch').get_num_threads()}, cores: {os.cpu_count()})"
        )
        print(
            f"event loop gaps: max {g.max():.0f} ms, 99th percentile {np.percentile(g, 99):.0f} ms, "
            f"{(g > 100).sum()} over 100 ms of {len(g)}"
        )
        print(
            "gaps over 100 ms (s after opening, ms, frames done then): "
            + ", ".join(f"{a:.2f} s {1000 * g:.0f} ms ({n})" for a, g, n in long_gaps[:20])
        )
        print(
            f"memory: anonymous RSS {rss0:.0f} MB before opening, peak {peak[0]:.0f} MB; file-backed RSS "
            f"{file0:.0f} -> peak {peak_file[0]:.0f} MB (the memmap's page cache); max RSS of the process "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; activation file on disk "
            f"{disk:.0f} MB; overview in RAM {doc.store.overview.nbytes / 2**20:.1f} MB"
        )
        panel.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
