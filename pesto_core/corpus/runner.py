"""Running the tasks on this machine: in this process (``-j 1``) or in a pool of worker processes (``-j N``).

The pool uses the ``spawn`` start method (a forked copy of a process that has run torch is unsafe), each process
loading the model once (pool initializer) and setting the same torch thread count as every other mode, so that the
results are the same bytes as a serial run's. Tasks go out largest file first (a long file started last would
leave one worker busy alone at the end) with at most two per worker in flight, so that a run of 100,000 files does
not queue 100,000 futures. Results come back in completion order; the caller orders the summary.

A worker process that dies (killed, out of memory, a crash in native code) breaks the pool: the files it had in
flight are given to a fresh pool once more, and a file that was in flight at two such deaths is reported as
failed; the run goes on either way.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from typing import Callable, Dict, Iterable, List, Optional

from .inputs import Task
from .worker import Job, Result, Worker, init_process, process_in_pool

OnResult = Callable[[Result], None]


class FatalError(Exception):
    """The run cannot go on (the model cannot be loaded, an option is invalid): the message says why."""


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_fatal(result: Result) -> Result:
    if result.fatal:
        raise FatalError(result.fatal)
    return result


def run_serial(
    tasks: Iterable[Task],
    job: Job,
    on_result: OnResult,
    on_partial: Optional[Callable[[Task, int, int], None]] = None,
    on_warning: Callable[[str], None] = print,
) -> None:
    """Analyse the tasks one after another in this process (input order)."""
    from ..device import get_threads, set_threads

    threads_before = get_threads()
    try:
        worker = Worker(job)
        for message in worker.init_warnings:
            on_warning(message)
        for task in tasks:
            partial = (lambda done, total, t=task: on_partial(t, done, total)) if on_partial else None
            on_result(check_fatal(worker.process(task, progress=partial)))
    finally:
        set_threads(threads_before)  # a caller's own torch code (tests, notebooks) keeps its thread count


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it lets files finish


def _init_pool_process(job: Job) -> None:
    _ignore_sigint()
    init_process(job)


def died(task: Task, twice: bool) -> Result:
    reason = (
        "the worker process died while analysing it, twice (killed, out of memory or a crash); it may be the file"
        if twice
        else "the worker process died"
    )
    return Result(task.index, task.path, "failed", reason=reason, stem=task.stem, error=f"{task.path}: {reason}")


def run_pool(tasks: Iterable[Task], job: Job, workers: int, on_result: OnResult) -> None:
    """Analyse the tasks in ``workers`` spawned processes (at least 1)."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = deque(sorted(tasks, key=lambda t: -t.size))
    attempts: Dict[int, int] = {}
    context = multiprocessing.get_context("spawn")
    while queue:
        pool = ProcessPoolExecutor(
            max_workers=max(1, workers), mp_context=context, initializer=_init_pool_process, initargs=(job,)
        )
        in_flight: Dict[object, Task] = {}
        try:
            broken = False
            while (queue or in_flight) and not broken:
                while queue and len(in_flight) < 2 * workers:
                    task = queue.popleft()
                    in_flight[pool.submit(process_in_pool, task)] = task
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    task = in_flight.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        in_flight[future] = task  # handled with the others below
                        broken = True
                        continue
                    on_result(check_fatal(result))
            if broken:
                lost: List[Task] = list(in_flight.values())
                in_flight.clear()
                for task in reversed(lost):
                    attempts[task.index] = attempts.get(task.index, 0) + 1
                    if attempts[task.index] >= 2:
                        on_result(died(task, twice=True))
                    else:
                        queue.appendleft(task)
        finally:
            pool.shutdown(wait=not in_flight, cancel_futures=True)
