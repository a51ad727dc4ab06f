"""Thread pools that survive ``fork``, and the one way bulk reads split their work over them.

A pool made before a fork has no threads in the child (a DataLoader worker, a forked transform), and work
submitted to it there would wait forever: ``LazyPool`` starts its pool on first use in each process.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")

_POOLS: list["LazyPool"] = []

# Bulk reads decode on threads (zlib, Pillow, lz4 and blosc drop the GIL while they work);
# HUBFS_PARALLEL_DECODE=0 keeps every decode on the calling thread.
PARALLEL = os.environ.get("HUBFS_PARALLEL_DECODE", "1") != "0"
CORES = os.cpu_count() or 1


class LazyPool:
    """A ``ThreadPoolExecutor`` started on first use in each process."""

    def __init__(self, workers: int, name: str):
        self.workers, self.name = workers, name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        _POOLS.append(self)

    def get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=self.name)
            return self._pool

    def _forget(self) -> None:
        self._pool, self._lock = None, threading.Lock()  # the parent's threads and lock holder are not here


DECODERS = LazyPool(CORES, "hubfs-decode")  # CPU-bound work: one thread per core
FETCHERS = LazyPool(4, "hubfs-prefetch")  # object-store requests: waits on the network, not on the GIL


def in_slices(n: int, work: Callable[[int, int], list[T]], pool: LazyPool = DECODERS) -> list[T]:
    """``work(lo, hi)`` over [0, n), one contiguous slice per thread of ``pool`` (by default the decode
    threads, one per core), the results joined in order. The lowest failing slice's error is raised: the
    lowest failing index's, when each slice works in order."""
    k = pool.workers
    bounds = [n * j // k for j in range(k + 1)]
    executor = pool.get()
    futures = [executor.submit(work, lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]
    out: list[T] = []
    for f in futures:
        out.extend(f.result())
    return out


def _after_fork_in_child() -> None:
    for pool in _POOLS:
        pool._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
