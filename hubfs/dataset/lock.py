"""One writer per dataset: a lease in the store, taken with a conditional create, renewed by a heartbeat.

The lock object records host, pid, a token and a heartbeat time. It is taken with the store's
``put_if_absent`` (one conditional write: ``If-None-Match: *``, ``ifGenerationMatch=0``, ``link(2)``), so
of racing writers exactly one creates it. A thread renews it every quarter of the lease, independent of
flushes, so an idle writer keeps it; before renewing, the thread checks the object still holds its token,
and if not the lock is lost for good. On the same host a lock whose process is dead (or whose dataset
state in this process is gone) is stale and taken over at once; from another host, once its heartbeat is
older than the lease (``HUBFS_LOCK_LEASE`` seconds, default 600).

A writer that may have lost the lock writes nothing more: ``check()`` refuses once its last renewal is
older than three quarters of the lease (another host can take it only after a whole lease), and before a
commit ``verify()`` re-reads the lock object. Commits are also fenced by the root's generation number
(doc/DESIGN.md). ``HUBFS_HOST`` overrides the host name (containers that share a host name; tests).
"""
from __future__ import annotations

import gc
import json
import os
import socket
import threading
import time
import uuid
import weakref

from hubfs.dataset.stores import Store
from hubfs.dataset.stores.options import number
from hubfs.errors import LockedError

LOCK_KEY = ".hubfs-writer.lock"
STALE_AFTER = 600.0  # the lease, in seconds (env HUBFS_LOCK_LEASE)
_HELD: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()


def lease() -> float:
    """Seconds a lock lives without a heartbeat before another host may take it."""
    return number("HUBFS_LOCK_LEASE", STALE_AFTER)


def host() -> str:
    return os.environ.get("HUBFS_HOST") or socket.gethostname()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WriterLock:
    """The writer lock of the dataset in ``store``, held on behalf of ``owner``."""

    def __init__(self, store: Store, owner: object):
        self.store = store
        self.token = uuid.uuid4().hex
        self.held = False
        self.lost: str | None = None  # why the lock is no longer ours, once it is not
        self.lease = lease()
        self._renewed = 0.0  # time.monotonic() of the last write of the lock object
        self._stop = threading.Event()
        self._owner = weakref.ref(owner)  # weak: the lock must not keep its owner alive (no cycle)

    def _doc(self) -> bytes:
        return json.dumps({"host": host(), "pid": os.getpid(), "token": self.token,
                           "heartbeat": time.time()}).encode()

    def _stale(self, info: dict) -> bool:
        if info.get("host") == host():
            if info.get("pid") == os.getpid():
                return info.get("token") not in _HELD  # its Dataset object is gone
            return not _alive(int(info.get("pid", 0)))
        return time.time() - float(info.get("heartbeat", 0)) > self.lease

    def acquire(self) -> None:
        """Take the lock or raise LockedError naming the holder. StoreError when the store is not writable."""
        for _ in range(3):
            started = time.monotonic()
            if self.store.put_if_absent(LOCK_KEY, self._doc()):
                self.held, self.lost, self._renewed = True, None, started
                owner = self._owner()
                if owner is not None:
                    _HELD[self.token] = owner
                self._start_heartbeat()
                return
            raw = self.store.get(LOCK_KEY)
            if raw is None:
                continue
            try:
                info = json.loads(raw)
            except ValueError:
                info = {}
            if not self._stale(info):
                raise LockedError(
                    f"dataset at {self.store.url} is open for writing by process {info.get('pid')} on host "
                    f"{info.get('host')}; open it with mode='r', or close the other writer")
            if self.store.get(LOCK_KEY) == raw:  # still the stale one: not a lock just taken by another
                self.store.delete(LOCK_KEY)
        raise LockedError(f"could not take the writer lock of {self.store.url}")

    def _start_heartbeat(self) -> None:
        self._stop = threading.Event()
        ref = weakref.ref(self)
        thread = threading.Thread(target=_heartbeat, args=(ref, self._stop, self.lease / 4), daemon=True,
                                  name="hubfs-lock-heartbeat")
        # start() waits for the new thread to begin; a garbage collection inside its start-up could run a
        # dropped Dataset's __del__ there, which waits for the states lock this thread holds: a deadlock
        # (seen once in CI). No collection while it starts.
        enabled = gc.isenabled()
        gc.disable()
        try:
            thread.start()
        finally:
            if enabled:
                gc.enable()

    def renew(self) -> None:
        """Write a fresh heartbeat, unless the lock object is no longer ours (then the lock is lost)."""
        if not self.held or self.lost:
            return
        started = time.monotonic()
        raw = self.store.get(LOCK_KEY)
        try:
            token = json.loads(raw).get("token") if raw is not None else None
        except ValueError:
            token = None
        if token != self.token:
            self.lost = (f"the writer lock of {self.store.url} was taken by another writer (its lease of "
                         f"{self.lease:g} s lapsed)" if raw is not None else
                         f"the writer lock of {self.store.url} was removed")
            self._stop.set()
            return
        self.store.put(LOCK_KEY, self._doc())
        self._renewed = started

    def check(self) -> None:
        """LockedError unless this writer surely still holds the lock (no store call)."""
        if not self.held:
            raise LockedError(f"this process does not hold the writer lock of {self.store.url}")
        if self.lost:
            raise LockedError(f"{self.lost}; nothing more is written")
        age = time.monotonic() - self._renewed
        if age > 0.75 * self.lease:
            raise LockedError(f"the writer lock of {self.store.url} was last renewed {age:.0f} s ago (lease "
                              f"{self.lease:g} s): another writer may hold it now; nothing more is written")

    def verify(self) -> None:
        """``check()``, then read the lock object: it must still hold this writer's token."""
        self.check()
        self.renew()
        self.check()

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        self._stop.set()
        _HELD.pop(self.token, None)
        if self.lost:
            return  # another writer's lock now: never delete it
        raw = self.store.get(LOCK_KEY)
        if raw is not None:
            try:
                if json.loads(raw).get("token") == self.token:
                    self.store.delete(LOCK_KEY)
            except ValueError:
                pass


def _heartbeat(ref: "weakref.ref[WriterLock]", stop: threading.Event, interval: float) -> None:
    """Renew the lock every ``interval`` seconds until it is released, lost, or its object is gone."""
    while not stop.wait(interval):
        lock = ref()
        if lock is None:
            return
        try:
            lock.renew()
        except Exception:
            pass  # a store outage: the next beat tries again; check() refuses writes if none succeeds
        del lock
