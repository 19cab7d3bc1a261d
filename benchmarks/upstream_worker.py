"""Upstream PESTO (pesto-pitch) side of the side-by-side benchmarks; runs under the upstream interpreter.

Started by :mod:`benchmarks.side_by_side` as ``<upstream-python> benchmarks/upstream_worker.py``. Protocol: one JSON
object per line on stdin, one JSON reply per line on stdout; audio is exchanged as ``.npy`` files. Commands:

* ``{"cmd": "info"}`` -> torch/pesto versions and thread count;
* ``{"cmd": "threads", "n": N}``;
* ``{"cmd": "offline", "npy": path, "sr": sr, "step_ms": ms, "save": path or null}`` -> ``{"seconds": s,
  "cpu_seconds": s}`` (wall-clock and process CPU time): one
  ``pesto.predict`` call on the whole signal (model loading included, as in upstream's API); ``save`` stores the
  activations for the accuracy cross-check;
* ``{"cmd": "stream_open", "sr": sr, "hop": hop, "npy": path}``: load the streaming model
  (``pesto.load_model(..., streaming=True, mirror=1.0)``) and the signal to stream;
* ``{"cmd": "stream_run", "hops": n[, "pace_s": p]}`` -> ``{"ns": [...], "cpu_ns": [...]}`` (wall-clock, process CPU):
  feed the next ``n`` hops as ``(1, hop)`` tensors under ``torch.inference_mode``, timing each call; with ``pace_s``,
  one call every ``p`` seconds (real-time pacing, as audio arrives), else back to back;
* ``{"cmd": "memory", "wav": path, "seconds": s, "chunks": n}`` -> peak RSS of a fresh process running
  ``pesto.predict`` on the file's first ``s`` seconds (read with soundfile: torchaudio is stubbed in the reference
  environment, so upstream's own CLI cannot read files there).
"""

import json
import subprocess
import sys
import time

import numpy as np
import pesto
import torch

MEMORY_CHILD = r"""
import resource, sys, time
import numpy as np, soundfile as sf, torch, pesto
path, seconds, chunks = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
info = sf.info(path)
x, sr = sf.read(path, frames=int(seconds * info.samplerate), dtype="float32", always_2d=True)
x = torch.from_numpy(np.ascontiguousarray(x.mean(axis=1)))
t = time.perf_counter()
pesto.predict(x, sr, step_size=10., num_chunks=chunks)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main():
    stream = {}
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req["cmd"]
        if cmd == "info":
            reply = {
                "torch": torch.__version__,
                "pesto": getattr(pesto, "__version__", "?"),
                "threads": torch.get_num_threads(),
            }
        elif cmd == "threads":
            torch.set_num_threads(int(req["n"]))
            reply = {"threads": torch.get_num_threads()}
        elif cmd == "offline":
            x = torch.from_numpy(np.load(req["npy"]))
            t, c = time.perf_counter(), time.process_time()
            _, _, _, act = pesto.predict(x, int(req["sr"]), step_size=float(req["step_ms"]))
            reply = {"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c}
            if req.get("save"):
                np.save(req["save"], act.numpy())
        elif cmd == "stream_open":
            hop = int(req["hop"])
            model = pesto.load_model(
                "mir-1k_g7", hop * 1000.0 / int(req["sr"]), sampling_rate=int(req["sr"]), streaming=True, mirror=1.0
            )
            stream = {"model": model, "hop": hop, "x": torch.from_numpy(np.load(req["npy"])), "pos": 0}
            reply = {"hop_ms": float(model.hop_size)}
        elif cmd == "stream_run":
            model, hop, x = stream["model"], stream["hop"], stream["x"]
            ns, cpu_ns = [], []
            pace = float(req.get("pace_s") or 0.0)
            due = time.perf_counter()
            with torch.inference_mode():
                for _ in range(int(req["hops"])):
                    if pace:
                        due += pace
                        time.sleep(max(0.0, due - time.perf_counter()))
                    p = stream["pos"]
                    block = x[p : p + hop].reshape(1, hop)
                    t, c = time.perf_counter_ns(), time.process_time_ns()
                    model(block)
                    ns.append(time.perf_counter_ns() - t)
                    cpu_ns.append(time.process_time_ns() - c)
                    stream["pos"] = p + hop
            reply = {"ns": ns, "cpu_ns": cpu_ns}
        elif cmd == "memory":
            out = subprocess.run(
                [sys.executable, "-c", MEMORY_CHILD, req["wav"], str(req["seconds"]), str(req["chunks"])],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds, rss_kb = out.stdout.split()[-2:]
            reply = {"seconds": float(seconds), "peak_rss_mb": int(rss_kb) / 1024}
        elif cmd == "quit":
            break
        else:
            reply = {"error": f"unknown command {cmd}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
