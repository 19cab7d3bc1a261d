"""Corpus runs: whole folders, every core, or a Ray cluster, with one result file per input and nothing overwritten.

The stages, one module each, in the order a run goes through them:

* :mod:`~pesto_core.corpus.inputs`: files, globs and folders -> the list of audio files, each with its planned
  output stem (mirroring the tree under ``-o``), collisions resolved or refused before any work starts;
* :mod:`~pesto_core.corpus.worker`: one process's model (loaded once) analysing one file and writing its results;
* :mod:`~pesto_core.corpus.runner`: this process, or a pool of worker processes on this machine (``-j N``);
* :mod:`~pesto_core.corpus.ray_runner`: the same workers as Ray actors on a cluster (``--ray``; Ray is optional);
* :mod:`~pesto_core.corpus.progress` and :mod:`~pesto_core.corpus.summary`: the status line and the run summary;
* :mod:`~pesto_core.corpus.command`: the ``pesto`` command's run, tying them together.

Nothing here imports torch at module level: the worker imports the engine when it starts.
"""
