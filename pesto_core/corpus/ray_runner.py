"""Running the tasks on a Ray cluster (``pesto ... --ray [ADDRESS]``); imported only when ``--ray`` is given.

Design: Ray actors, one per worker, each holding a :class:`~pesto_core.corpus.worker.Worker` (the model loaded once
per actor). The driver (the ``pesto`` command) sends each actor file paths, at most two in flight per actor,
largest file first; the actor reads the audio from that path and writes the results (atomically) to the result
path itself, and sends back only the summary row. So the audio and the results must be on a folder that every node
sees under the same path (NFS, a mounted bucket...), and pesto-tracker must be installed on every node.

* Address: ``--ray ADDRESS`` (``auto``, ``host:6379``, ``ray://host:10001``) or ``RAY_ADDRESS`` joins that cluster
  (and only disconnects at the end); plain ``--ray`` without ``RAY_ADDRESS`` starts a private local instance with
  ``-j`` CPUs (default: every core) and shuts it down at the end.
* Workers: ``-j N`` actors, default one per CPU of the cluster divided by ``--threads``; each actor reserves
  ``--threads`` CPUs. With ``--gpu``: one actor per GPU of the cluster (or ``-j N`` actors sharing the GPUs, a
  fraction each), each running on the GPU Ray gave it.
* An actor that dies (node lost, out of memory) is replaced; its files in flight are tried once more, and a file in
  flight at two deaths is reported as failed.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import replace
from typing import Dict, Iterable, List, Optional

from ..errors import ParameterError
from .inputs import Task
from .runner import OnResult, check_fatal, died
from .worker import Job, Result, Worker

INSTALL_HINT = (
    "--ray needs Ray, an optional extra: pip install 'pesto-tracker[cluster]' (from a checkout: "
    "pip install -e '.[cluster]'), or pip install 'ray'"
)


def import_ray():
    try:
        import ray
    except ImportError:
        raise ParameterError(INSTALL_HINT) from None
    return ray


class PestoActor:
    """A Ray actor around one :class:`Worker`; ``process`` returns the :class:`Result` (results are written by the
    actor to the shared path)."""

    def __init__(self, job: Job):
        self.worker = Worker(job)
        self.pending_warnings = list(self.worker.init_warnings)

    def process(self, task: Task) -> Result:
        result = self.worker.process(task)
        if self.pending_warnings:
            result.warnings = self.pending_warnings + result.warnings
            self.pending_warnings = []
        return result


def connect(address: Optional[str], local_cpus: int):
    """Join the cluster at ``address`` / ``RAY_ADDRESS``, or start a local instance; returns (ray, started_local)."""
    ray = import_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address or None, **quiet)
        return ray, False
    ray.init(address="local", num_cpus=max(1, local_cpus), num_gpus=None, **quiet)
    return ray, True


def run_ray(
    tasks: Iterable[Task],
    job: Job,
    workers: Optional[int],
    on_result: OnResult,
    address: Optional[str] = None,
    gpu: bool = False,
    local_cpus: int = 1,
    on_info=lambda text: None,
) -> None:
    """Analyse the tasks on Ray actors (see the module docstring); ``workers`` None: as many as the cluster holds."""
    tasks = sorted(tasks, key=lambda t: -t.size)
    ray, started = connect(address, local_cpus)
    try:
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 1)), int(resources.get("GPU", 0))
        threads = max(1, job.threads)
        if gpu:
            if gpus < 1:
                raise ParameterError("--gpu with --ray: the Ray cluster has no GPU")
            n = workers or gpus
            options = dict(num_cpus=1, num_gpus=min(1.0, gpus / n))
            job = replace(job, device="cuda:0")  # Ray sets CUDA_VISIBLE_DEVICES: the actor sees its GPU as 0
        else:
            n = workers or max(1, cpus // threads)
            options = dict(num_cpus=threads)
            if n * threads > cpus:
                on_info(
                    f"pesto: warning: {n} workers x {threads} thread(s) but the Ray cluster has {cpus} CPU(s): "
                    "the actors that do not fit wait for a free CPU"
                )
        n = max(1, min(n, len(tasks))) if tasks else 0
        on_info(f"pesto: Ray {'local instance' if started else 'cluster'}: {cpus} CPU(s), {gpus} GPU(s); {n} worker(s)")
        actor_class = ray.remote(PestoActor)
        actors = [actor_class.options(**options).remote(job) for _ in range(n)]
        # absolute paths: an actor on another node (or in another folder) resolves them the same way
        queue = deque(replace(t, path=os.path.abspath(t.path), stem=os.path.abspath(t.stem)) for t in tasks)
        attempts: Dict[int, int] = {}
        in_flight: Dict[object, tuple] = {}  # object ref -> (task, actor slot, actor)
        load: List[int] = [0] * n

        def feed(slot: int) -> None:
            while queue and load[slot] < 2:
                task = queue.popleft()
                in_flight[actors[slot].process.remote(task)] = (task, slot, actors[slot])
                load[slot] += 1

        for slot in range(n):
            feed(slot)
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                task, slot, actor = in_flight.pop(ref)
                load[slot] -= 1
                try:
                    result = ray.get(ref)
                except (
                    ray.exceptions.RayActorError,
                    ray.exceptions.WorkerCrashedError,
                    ray.exceptions.ObjectLostError,
                ) as e:
                    attempts[task.index] = attempts.get(task.index, 0) + 1
                    if attempts[task.index] >= 2:
                        on_result(died(task, twice=True))
                    else:
                        queue.appendleft(task)
                    if actors[slot] is actor and isinstance(e, ray.exceptions.RayActorError):
                        actors[slot] = actor_class.options(**options).remote(job)  # a fresh actor in its place
                    feed(slot)
                    continue
                on_result(check_fatal(result))
                feed(slot)
    finally:
        ray.shutdown()  # a local instance is stopped; a cluster is only left
