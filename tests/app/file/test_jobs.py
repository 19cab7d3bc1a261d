"""The File tab's job queue: order, no duplicate analyses, cancel and close (widget-free)."""

from app.file import document as fd
from app.file.export import ExportOptions
from app.file.jobs import JobQueue
from tests.app.file_helpers import DATA


def test_queue_order_duplicates_cancel_and_drop():
    a, b = fd.FileDocument(DATA / "synth_16k.wav"), fd.FileDocument(DATA / "speech_22k.wav")
    q = JobQueue()
    assert not q and not q.busy
    assert q.add(a) and q.add(b, ExportOptions(("csv",)))
    assert not q.add(a)  # already queued for analysis
    assert q.add(a, ExportOptions(("npz",)))  # an export of it is another job
    assert len(q) == 3 and a.state == fd.QUEUED and b.state == fd.QUEUED and q.has(a)
    job = q.take()
    q.current = job
    assert job.doc is a and job.export is None and q.busy and q.is_running(a)
    assert not q.add(a, analysing=True)  # being analysed
    q.drop(a)
    assert [j.doc for j in q] == [b]
    dropped = q.clear()
    assert [j.doc for j in dropped] == [b] and b.state == fd.NEW and not q
