"""Live-mode benchmark (not a test): the real Live tab on the default input for N minutes, audio played into it.

Measures what the issue's "done when" asks for, on the machine it runs on:

* input overflows reported by PortAudio and frames the worker had to drop,
* arrival-to-screen latency per frame (sample's arrival in the audio callback -> the pitch plot's next repaint):
  median and 99th percentile, also given "beyond the hop" (minus one hop),
* the app's CPU use: process CPU time / wall time (1.0 = one core), and per thread (GUI, worker, PortAudio).

Audio: a synthetic melody (harmonic tones, a glide, rests) played in a loop with ``paplay`` into the default
PulseAudio sink, whose monitor is the default input (``tests/run.sh`` sets that up: a null sink ``vsink`` and
the source ``vmic``). Run it the same way:

    bash tests/run.sh --co -q >/dev/null   # (or start Xvfb + PulseAudio yourself, see tests/run.sh)
    python benchmarks/live_benchmark.py --minutes 5 --heatmap on --json out.json

Uses a temporary settings file: your own settings are untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pesto_core.presets import LIVE_DEFAULTS  # noqa: E402 (light: no torch, no Qt)


def melody(sr: int = 48000):
    """A 6 s phrase: four notes, a glide, rests (float32 samples, (samples,))."""
    from tests.app.live_audio import synth_melody  # shared with the end-to-end test

    return synth_melody(sr)[0]


def thread_cpu():
    """{(tid, name): CPU seconds} for this process's threads (Linux /proc)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1 : s.rindex(")")]
        fields = s[s.rindex(")") + 2 :].split()
        out[(tid, name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


MIRRORS = {"lowest": 1.0, "standard": LIVE_DEFAULTS["mirror"], "exact": 0.0}  # the Live tab's modes by name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--sr", type=int, default=48000)
    ap.add_argument("--step-ms", type=float, default=10.0)
    ap.add_argument("--heatmap", choices=["on", "off"], default="on")
    ap.add_argument(
        "--latency-mode",
        choices=list(MIRRORS),
        default="standard",
        help="the Live tab's latency mode (default: the live preset's, Standard)",
    )
    ap.add_argument("--refine", choices=["on", "off"], default="on", help="cent-precise refinement (app default: on)")
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--screenshot", help="save a screenshot of the window at the end")
    args = ap.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
    from PySide6 import QtCore, QtWidgets

    from app.common.settings import Settings

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from app.live.panel import LivePanel
    from app.main_window import MainWindow

    tmp = tempfile.mkdtemp(prefix="pesto-live-bench-")
    settings = Settings("live", path=os.path.join(tmp, "settings.ini"))
    settings.set("sr", args.sr)
    settings.set("step_ms", args.step_ms)
    settings.set("mirror", MIRRORS[args.latency_mode])
    settings.set("heatmap", args.heatmap == "on")
    settings.set("device", "")
    settings.set("refine", args.refine == "on")

    # the real main window, with the Live tab built on our temporary settings
    orig_init = LivePanel.__init__

    def init(self, main_window=None, **kw):
        kw.setdefault("settings", settings)
        orig_init(self, main_window, **kw)

    LivePanel.__init__ = init
    window = MainWindow()
    LivePanel.__init__ = orig_init
    panel = window.panel("LivePanel")
    window.resize(1280, 760)
    window.show()
    if not panel.start():
        print("cannot start live capture:", panel.messages[-1][1] if panel.messages else "?")
        return 1

    wav = os.path.join(tmp, "melody.wav")
    sf.write(wav, melody(args.sr), args.sr, subtype="FLOAT")
    duration = args.minutes * 60.0
    state = dict(player=None, t0=None, cpu0=None, th0=None, lat_start=0)

    def play():
        if state["player"] is None or state["player"].poll() is not None:
            state["player"] = subprocess.Popen(["paplay", wav])

    def begin():  # after warm-up: the first block takes ~1.5 s through PulseAudio/ALSA
        panel.session.latencies_s.clear()
        state["dropped0"] = panel.session.worker.dropped_frames if panel.session.worker else 0
        state["overflows0"] = panel.session.capture.overflows
        state["t0"] = time.monotonic()
        state["cpu0"] = time.process_time()
        state["th0"] = thread_cpu()
        state["frames0"] = panel.session.history.total

    def finish():
        wall = time.monotonic() - state["t0"]
        cpu = time.process_time() - state["cpu0"]
        th1 = thread_cpu()
        per_thread = {}
        for key, v in th1.items():
            d = v - state["th0"].get(key, 0.0)
            if d > 0.005 * wall:
                per_thread[f"{key[1]}[{key[0]}]"] = round(d / wall, 3)
        lat = np.asarray(panel.session.latencies_s, dtype=np.float64)
        worker = panel.session.worker
        hop_s = worker.hop_length / worker.sr if worker else args.step_ms / 1000
        res = dict(
            seconds=round(wall, 1),
            sr=args.sr,
            step_ms=args.step_ms,
            heatmap=args.heatmap,
            refine=args.refine,
            latency_mode=args.latency_mode,
            frames=int(panel.session.history.total - state["frames0"]),
            overflows=int(panel.session.capture.overflows - state["overflows0"]),
            dropped_frames=int((worker.dropped_frames if worker else 0) - state["dropped0"]),
            latency_ms_median=round(1000 * float(np.median(lat)), 1) if lat.size else None,
            latency_ms_p99=round(1000 * float(np.percentile(lat, 99)), 1) if lat.size else None,
            latency_ms_median_beyond_hop=round(1000 * (float(np.median(lat)) - hop_s), 1) if lat.size else None,
            latency_frames_measured=int(lat.size),
            engine_ms_per_hop=round(1000 * worker.compute_s_per_hop, 2) if worker else None,
            cpu_share_of_one_core=round(cpu / wall, 3),
            cpu_by_thread=per_thread,
            machine_load_avg=os.getloadavg(),
            messages=panel.messages,
        )
        if args.screenshot:
            window.grab().save(args.screenshot)
        if state["player"] is not None:
            state["player"].kill()
        panel.shutdown()
        print(json.dumps(res, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=2))
        app.quit()

    play_timer = QtCore.QTimer()
    play_timer.timeout.connect(play)
    play_timer.start(200)
    QtCore.QTimer.singleShot(3000, begin)
    QtCore.QTimer.singleShot(int(3000 + duration * 1000), finish)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
