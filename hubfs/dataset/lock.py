"""One writer per dataset: a lock object in the store, recognised as stale when its holder is gone.

The lock records host, pid and a heartbeat time. On the same host a lock whose process is dead (or whose
dataset state in this process is gone) is stale and taken over; from another host it is
stale once its heartbeat is older than ``STALE_AFTER`` seconds (writers refresh it on every flush).
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
import weakref

from hubfs.dataset.stores import Store
from hubfs.errors import LockedError

LOCK_KEY = ".hubfs-writer.lock"
STALE_AFTER = 600.0
_HELD: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()


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
        self._owner = weakref.ref(owner)  # weak: the lock must not keep its owner alive (no cycle)

    def _doc(self) -> bytes:
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "token": self.token,
                           "heartbeat": time.time()}).encode()

    def _stale(self, info: dict) -> bool:
        if info.get("host") == socket.gethostname():
            if info.get("pid") == os.getpid():
                return info.get("token") not in _HELD  # its Dataset object is gone
            return not _alive(int(info.get("pid", 0)))
        return time.time() - float(info.get("heartbeat", 0)) > STALE_AFTER

    def acquire(self) -> None:
        """Take the lock or raise LockedError naming the holder. StoreError when the store is not writable."""
        for _ in range(3):
            if self.store.put_if_absent(LOCK_KEY, self._doc()):
                self.held = True
                owner = self._owner()
                if owner is not None:
                    _HELD[self.token] = owner
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
            self.store.delete(LOCK_KEY)
        raise LockedError(f"could not take the writer lock of {self.store.url}")

    def refresh(self) -> None:
        if self.held:
            self.store.put(LOCK_KEY, self._doc())

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        _HELD.pop(self.token, None)
        raw = self.store.get(LOCK_KEY)
        if raw is not None:
            try:
                if json.loads(raw).get("token") == self.token:
                    self.store.delete(LOCK_KEY)
            except ValueError:
                pass
