"""Thread pools that survive ``fork``: a pool made before a fork has no threads in the child (a
DataLoader worker, a forked transform), and work submitted to it there would wait forever."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_POOLS: list["LazyPool"] = []


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


def _after_fork_in_child() -> None:
    for pool in _POOLS:
        pool._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
