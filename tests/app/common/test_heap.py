"""app.common.heap.settle: the garbage that exists is collected, what survives is frozen (never walked by a later
collection), and a later full collection walks only the objects allocated since."""

from __future__ import annotations

import gc
import time
import weakref

import pytest

from app.common import heap


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


class Leaf:
    """Tracked by the collector, in no cycle."""


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()  # leave the process as the other tests expect it


def test_settle_collects_the_garbage_then_freezes_the_survivors(unfrozen):
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    kept = [Leaf() for _ in range(10)]
    assert gone() is not None  # a cycle: reference counting alone does not free it
    frozen = heap.settle()
    assert gone() is None, "the garbage before the freeze was not collected"
    assert frozen > len(kept)  # the number frozen (reference counting may free some of them since)
    tracked = {id(o) for o in gc.get_objects()}
    assert not any(id(k) in tracked for k in kept), "the survivors are still walked by the collector"
    # frozen objects are freed by reference counting as usual
    survivor = weakref.ref(kept[0])
    del kept
    assert survivor() is None


def test_a_full_collection_after_settle_walks_only_new_objects(unfrozen):
    ballast = [Leaf() for _ in range(200_000)]  # stands for torch's and Qt's long-lived objects

    def full_collection_s() -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            gc.collect()
            best = min(best, time.perf_counter() - t0)
        return best

    before = full_collection_s()
    heap.settle()
    after = full_collection_s()
    assert len(ballast) == 200_000
    # the collector no longer walks the 200 000 frozen objects (a ratio: the machine may be slow or busy)
    assert after < 0.5 * before, f"full collection {1000 * before:.1f} ms before settle, {1000 * after:.1f} ms after"
