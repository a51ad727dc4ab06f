"""Work a finalizer must not do where it runs: queued, and run by a reaper thread or the next caller.

A finalizer (``Dataset.__del__``) can run inside a garbage collection started by any allocation of any
thread: in the middle of ``Thread.start()`` (whose caller waits for the new thread while holding locks
the finalizer wants), or while the collecting thread itself holds them half-way through an update. So a
finalizer never waits for a lock and never runs during a collection: it ``defer``s the work, which is
run by the reaper thread (woken through a pipe: writing a byte takes no Python lock) or by the next
``run_deferred()`` call (every open calls it first, so a dataset dropped in this process is closed
before it is opened again). The reaper is started by ``start_reaper()`` from ordinary code, never from
a finalizer (starting a thread takes locks of the threading module).
"""
from __future__ import annotations

import gc
import os
import sys
import threading
from collections import deque
from typing import Callable

_PENDING: "deque[Callable[[], None]]" = deque()  # append and popleft are atomic: no lock needed
_collecting: dict[int, int] = {}  # thread ident -> nesting of the collection running in it
_reaper = {"pid": None, "wake": None}
_DONE = threading.Condition()
_busy = 0  # pieces of work taken from the queue and still running


def _on_gc(phase: str, _info: dict) -> None:
    ident = threading.get_ident()
    if phase == "start":
        _collecting[ident] = _collecting.get(ident, 0) + 1
    elif _collecting.get(ident, 0) > 1:
        _collecting[ident] -= 1
    else:
        _collecting.pop(ident, None)


gc.callbacks.append(_on_gc)


def in_collection() -> bool:
    """True inside a garbage collection running in this thread (finalizers must defer their work)."""
    return threading.get_ident() in _collecting


def defer(work: Callable[[], None]) -> None:
    """Queue ``work`` for the reaper (or the next ``run_deferred``); never blocks, safe in a finalizer."""
    _PENDING.append(work)
    wake = _reaper["wake"]
    if wake is not None and _reaper["pid"] == os.getpid():
        try:
            os.write(wake, b".")
        except OSError:
            pass  # the pipe is full: the reaper is awake already


def run_deferred() -> None:
    """Run every queued piece of work in this thread (errors are reported, the rest still run)."""
    global _busy
    while True:
        with _DONE:  # (finalizers never take this lock: a collection while it is held cannot deadlock)
            try:
                work = _PENDING.popleft()
            except IndexError:
                return
            _busy += 1
        try:
            work()
        except Exception as exc:
            print(f"hubfs: closing a dropped dataset failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            with _DONE:
                _busy -= 1
                _DONE.notify_all()


def settle(timeout: float | None = None) -> bool:
    """Run what is queued and wait until work another thread took is done too; False on ``timeout``."""
    run_deferred()
    with _DONE:
        return _DONE.wait_for(lambda: not _PENDING and not _busy, timeout)


def start_reaper() -> None:
    """Start this process's reaper thread once (call it from ordinary code, not from a finalizer)."""
    if _reaper["pid"] == os.getpid():
        return
    read, write = os.pipe()
    os.set_blocking(write, False)
    _reaper["pid"], _reaper["wake"] = os.getpid(), write
    threading.Thread(target=_reap, args=(read,), daemon=True, name="hubfs-finalizer").start()
    if _PENDING:
        defer(lambda: None)  # work queued before the reaper existed: wake it


def _reap(read: int) -> None:
    while True:
        try:
            os.read(read, 4096)
        except OSError:
            return
        run_deferred()
