"""The ``pesto`` command's run: plan the inputs, pick the mode (this process, a local pool, Ray), follow progress,
name each failure, write the run summary, and return the exit status.

Exit status: 0 when every file was analysed and written (or skipped as already done), 1 when at least one failed
or there was no audio file to analyse, 2 for bad options, a bad model or colliding results (nothing analysed),
130 when interrupted (Ctrl-C: the files in progress are finished and the summary written).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import List, Optional, Set

from ..errors import ParameterError, PestoError
from ..validation import check_viterbi
from .inputs import Plan, plan_outputs
from .progress import Progress
from .runner import FatalError, available_cores, run_pool, run_serial
from .summary import rows, summary_path, write_summary
from .worker import Job, Result


def _error(message: str) -> None:
    print(f"pesto: error: {message}", file=sys.stderr)


def check_options(args: argparse.Namespace) -> Optional[str]:
    for name, flag in (("num_chunks", "--num_chunks"), ("jobs", "-j/--jobs"), ("threads", "--threads")):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            return f"{flag} must be at least 1, got {value}"
    a4 = getattr(args, "a4", 440.0)
    if not 100.0 <= a4 <= 1000.0:
        return f"--a4 must be between 100 and 1000 Hz, got {a4}"
    try:  # the engine's own check (light: pesto_core.validation), so the message is the API's
        check_viterbi(getattr(args, "viterbi", False), getattr(args, "reduction", "alwa"))
    except ParameterError as e:
        return str(e)
    return None


def default_workers(args: argparse.Namespace, n_tasks: int) -> int:
    """``-j``, else one worker per core divided by ``--threads`` (one worker on a GPU); never more than the tasks."""
    if args.jobs:
        workers = args.jobs
    elif args.gpu is not None and args.gpu >= 0:
        workers = 1
    else:
        workers = max(1, available_cores() // args.threads)
    return max(1, min(workers, n_tasks))


def run(args: argparse.Namespace) -> int:
    """Run the command for parsed ``args`` (see :func:`pesto_core.cli.build_parser`); returns the exit status."""
    problem = check_options(args)
    if problem:
        _error(problem)
        return 2
    from ..writers import check_formats  # numpy only

    try:
        formats = check_formats(args.export_format)
        plan = plan_outputs(
            args.audio_files,
            args.output,
            semitones=args.no_convert_to_freq,
            formats=formats,
            skip_existing=args.skip_existing,
        )
    except PestoError as e:
        _error(str(e))
        return 2
    device = f"cuda:{args.gpu}" if args.gpu is not None and args.gpu >= 0 else "cpu"
    job = Job(
        model_name=args.model_name,
        step_size=args.step_size,
        reduction=args.reduction,
        formats=formats,
        no_convert_to_freq=args.no_convert_to_freq,
        num_chunks=args.num_chunks,
        refine=args.refine,
        smooth=args.smooth,
        viterbi=getattr(args, "viterbi", False),
        a4_hz=getattr(args, "a4", 440.0),
        midi_bends=getattr(args, "midi_bends", False),
        device=device,
        threads=args.threads,
    )
    progress = Progress(len(plan.tasks), sum(max(0, t.size) for t in plan.tasks), enabled=not args.quiet)
    _announce(plan, progress, args.quiet)

    results: List[Result] = []
    said: Set[str] = set()
    sizes = {t.index: t.size for t in plan.tasks}

    def warn(message: str) -> None:
        if message not in said:  # each worker says the same thing once (e.g. "CUDA is not available")
            said.add(message)
            progress.message(f"pesto: warning: {message}")

    def on_result(result: Result) -> None:
        results.append(result)
        for message in result.warnings:
            warn(message)
        if result.error:
            progress.message(f"pesto: error: {result.error}")
        progress.file_done(sizes.get(result.index, 0), result.duration_s, result.status == "ok")

    status = 0
    interrupted = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *a, **k: warn(str(message))  # restored by catch_warnings
            if plan.tasks:
                _dispatch(args, plan, job, on_result, progress, warn)
    except FatalError as e:
        progress.close()
        _error(str(e))
        return 2
    except PestoError as e:  # options the chosen mode rejects (Ray missing, no GPU in the cluster...)
        progress.close()
        _error(str(e))
        return 2
    except KeyboardInterrupt:
        interrupted, status = True, 130
    progress.close()

    failures = sum(r.status != "ok" for r in results)
    done = {r.index for r in results}
    table = rows(plan, results, interrupted=[t.index for t in plan.tasks if t.index not in done])
    path = summary_path(plan, args.output, args.summary)
    if path is not None:
        try:
            written = write_summary(path, table, replace=bool(args.summary))
            if not args.quiet:
                print(f"pesto: run summary: {written}", file=sys.stderr)
        except PestoError as e:
            _error(f"{e} (the results themselves are written)")
            status = status or 1
    if interrupted:
        _error(f"interrupted: {len(done)} of {len(plan.tasks)} file(s) done; rerun with --skip-existing to finish")
        return status
    if failures:
        print(f"pesto: {failures} of {len(plan.tasks)} file(s) failed", file=sys.stderr)
        return 1
    if not plan.tasks and not any(s.stem for s in plan.skipped):
        _error("no audio file to analyse")
        return 1
    return status


def _announce(plan: Plan, progress: Progress, quiet: bool) -> None:
    """One line per skipped input that deserves attention; counts for the rest."""
    existing = 0
    for s in plan.skipped:
        if s.stem:
            existing += 1
        elif s.reason.startswith("same file") or s.reason.startswith("folder holds"):
            progress.message(f"pesto: warning: {s.path}: {s.reason}")
    if plan.replaced:  # said even with -q: results of an earlier run are never replaced without a word
        first = plan.replaced[0] + (f" and {len(plan.replaced) - 1} more" if len(plan.replaced) > 1 else "")
        progress.message(
            f"pesto: warning: replacing {len(plan.replaced)} result file(s) of an earlier run ({first}); "
            "--skip-existing keeps them"
        )
    if quiet:
        return
    if plan.n_not_audio:
        progress.message(f"pesto: skipped {plan.n_not_audio} file(s) that are not audio (listed in the run summary)")
    if plan.stale_removed:
        progress.message(f"pesto: removed {plan.stale_removed} temporary file(s) left by an interrupted run")
    if existing:
        progress.message(f"pesto: {existing} file(s) already have their results (--skip-existing)")
    if plan.renamed:
        progress.message(
            f"pesto: {plan.renamed} result name(s) keep the input's extension (same name, another "
            "format, in one folder: e.g. take.wav.f0.csv)"
        )


def _dispatch(args, plan: Plan, job: Job, on_result, progress: Progress, warn) -> None:
    if args.ray is not None:
        from .ray_runner import run_ray  # Ray is optional

        local_cpus = (args.jobs or max(1, available_cores() // args.threads)) * args.threads
        run_ray(
            plan.tasks,
            job,
            args.jobs,
            on_result,
            address=args.ray or None,
            gpu=args.gpu is not None and args.gpu >= 0,
            local_cpus=local_cpus,
            on_info=(lambda text: None) if args.quiet else progress.message,
        )
        return
    workers = default_workers(args, len(plan.tasks))
    if workers == 1:
        run_serial(
            plan.tasks,
            job,
            on_result,
            on_warning=warn,
            on_partial=lambda task, done, total: progress.partial(task.size, done, total),
        )
    else:
        run_pool(plan.tasks, job, workers, on_result)
