"""The File tab's work queue: one analysis or export runs at a time, the rest wait in order.

"Analyse and export all" is a queue of jobs (a document, and the export to write once it is analysed, if any); the
Cancel button empties it. Widget-free: the panel starts the jobs this queue hands out.

GUI thread only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional

from . import document as fd
from .export import ExportOptions


@dataclass(frozen=True, eq=False)
class Job:
    """One piece of work: analyse ``doc`` (unless its analysis is already finished, for an export), then write
    ``export`` if given."""

    doc: fd.FileDocument
    export: Optional[ExportOptions] = None


class JobQueue:
    """Jobs waiting (:attr:`pending`, oldest first) and the one running (:attr:`current`).

    ``bool(queue)`` and ``len(queue)`` count the waiting jobs.
    """

    def __init__(self):
        self.pending: List[Job] = []
        self.current: Optional[Job] = None

    def __len__(self) -> int:
        return len(self.pending)

    def __iter__(self) -> Iterator[Job]:
        return iter(self.pending)

    @property
    def busy(self) -> bool:
        """A job is running."""
        return self.current is not None

    def add(self, doc: fd.FileDocument, export: Optional[ExportOptions] = None, *, analysing: bool = False) -> bool:
        """Queue a job; an analysis of a document that is already queued or being analysed (``analysing``: the
        current job's analysis is running) is not queued twice. Returns True if queued."""
        if export is None:
            if analysing and self.current is not None and self.current.doc is doc:
                return False
            if any(j.doc is doc and j.export is None for j in self.pending):
                return False
        self.pending.append(Job(doc, export))
        if doc.state != fd.ANALYSING and not doc.complete:
            doc.state = fd.QUEUED
        return True

    def take(self) -> Optional[Job]:
        """The next waiting job (removed from the queue), or None."""
        return self.pending.pop(0) if self.pending else None

    def clear(self) -> List[Job]:
        """Drop every waiting job (their documents are no longer marked as queued); returns them."""
        dropped, self.pending = self.pending, []
        for job in dropped:
            if job.doc.state == fd.QUEUED:
                job.doc.state = fd.NEW
        return dropped

    def drop(self, doc: fd.FileDocument) -> None:
        """Forget the waiting jobs of ``doc`` (it is being closed)."""
        self.pending = [j for j in self.pending if j.doc is not doc]

    def has(self, doc: fd.FileDocument) -> bool:
        """Some waiting job is about ``doc``."""
        return any(j.doc is doc for j in self.pending)

    def is_running(self, doc: fd.FileDocument) -> bool:
        return self.current is not None and self.current.doc is doc
