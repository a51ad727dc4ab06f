"""One writer per dataset: a lease of numbered objects, every change a conditional create.

The lock is the newest of the objects ``.hubfs/lock/<n>`` (``n`` zero-padded, so listing sorts them);
each records host, pid, a token, its creation time and the lease. Nothing is ever overwritten: every
change of the lease creates the next number with the store's ``put_if_absent`` (one conditional write:
``If-None-Match: *``, ``ifGenerationMatch=0``, ``link(2)``), so of all writers that want ``n + 1``
exactly one gets it — a compare-and-swap built from conditional creates only:

- **take**: when there is no lease object, create 1; when the newest, ``n``, is a release marker, or is
  stale (its host's process is dead, or it is older than its lease), create ``n + 1``. Otherwise
  ``LockedError`` naming the holder.
- **renew** (the heartbeat thread, every quarter of the lease, independent of flushes): the holder of
  ``n`` creates ``n + 1``. A taker that judged ``n`` stale competes for the same number, so a paused
  holder's renewal and a takeover can never both succeed.
- **check after every create**: the creator lists the objects; if one newer than its own exists, or (on
  renewal) its previous one is gone, it has lost (a number deleted by a newer holder's clean-up can be
  created again by a writer paused long enough: the newer number beside it says so). A writer that lost
  never writes again and never deletes another's object.
- **release**: the holder creates ``n + 1`` as a release marker (so the newest object always remains
  and numbers only grow), which the next writer takes over at once.
- **clean-up**: a holder deletes the numbers below its own after each create; a writer that finds it
  lost deletes only what it created. One or two lock objects exist at any time.

On the same host a lease whose process is dead (or whose dataset state in this process is gone) is
stale at once; from another host, once it is older than its lease (``HUBFS_LOCK_LEASE`` seconds, default
600; hosts' clocks must agree to well within a quarter of it). A writer whose last renewal is older than
three quarters of the lease writes nothing more (``check()``), and before a commit ``verify()`` lists the
lease objects: its own must still be the newest. Commits are also fenced by the root's generation
number (doc/DESIGN.md). ``HUBFS_HOST`` overrides the host name (containers that share one; tests).
"""
from __future__ import annotations

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

LOCK_PREFIX = ".hubfs/lock"  # beside .hubfs/versions: the one folder zarr does not know
LEGACY_KEY = ".hubfs-writer.lock"  # the one overwritten object of earlier versions: removed by a new holder
STALE_AFTER = 600.0  # the lease, in seconds (env HUBFS_LOCK_LEASE)
_DIGITS = 12
_HELD: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()


def lease() -> float:
    """Seconds a lock lives without a heartbeat before another host may take it."""
    return number("HUBFS_LOCK_LEASE", STALE_AFTER)


def host() -> str:
    """This host's name as the lock records it (``HUBFS_HOST`` overrides it)."""
    return os.environ.get("HUBFS_HOST") or socket.gethostname()


def is_lock_key(key: str) -> bool:
    """True for the lock's objects (which are not part of the dataset: copies, commits and wipes skip them)."""
    return key == LEGACY_KEY or key == LOCK_PREFIX or key.startswith(LOCK_PREFIX + "/")


def lease_key(n: int) -> str:
    return f"{LOCK_PREFIX}/{n:0{_DIGITS}d}"


def numbers(store: Store) -> list[int]:
    """The numbers of the lease objects in ``store``, ascending."""
    out = []
    for key in store.list(LOCK_PREFIX):
        try:
            out.append(int(key.rsplit("/", 1)[1]))
        except ValueError:
            pass
    return sorted(out)


def _read(store: Store, n: int) -> dict | None:
    raw = store.get(lease_key(n))
    if raw is None:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def holder(store: Store) -> dict | None:
    """The newest lease object's record when it holds the lock (it is no release marker), else None.
    Whether its lease is still running is not judged here."""
    found = numbers(store)
    if not found:
        return None
    info = _read(store, found[-1])
    return None if info is None or info.get("released") else info


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
        self.number = 0  # the lease object this writer created last
        self.lost: str | None = None  # why the lock is no longer ours, once it is not
        self.lease = lease()
        self._renewed = 0.0  # time.monotonic() just before the last lease object was created
        self._stop = threading.Event()
        self._mutex = threading.Lock()  # one change of the lease at a time (heartbeat, verify, release)
        self._owner = weakref.ref(owner)  # weak: the lock must not keep its owner alive (no cycle)

    def _doc(self, released: bool = False) -> bytes:
        doc = {"host": host(), "pid": os.getpid(), "token": self.token, "heartbeat": time.time(),
               "lease": self.lease}
        if released:
            doc["released"] = True
        return json.dumps(doc).encode()

    def _stale(self, info: dict) -> bool:
        if info.get("released"):
            return True
        if info.get("host") == host():
            if info.get("pid") == os.getpid():
                return info.get("token") not in _HELD  # its Dataset object is gone
            try:
                return not _alive(int(info.get("pid", 0)))
            except (TypeError, ValueError):
                return True
        try:
            age, lease_s = time.time() - float(info.get("heartbeat", 0)), float(info.get("lease", self.lease))
        except (TypeError, ValueError):
            return True  # an unreadable lease object protects nothing
        return age > lease_s

    def _newest_is(self, n: int, previous: int | None = None) -> bool:
        """After creating ``n``: True when no newer lease object exists (and ``previous`` still does)."""
        found = numbers(self.store)
        return bool(found) and found[-1] == n and (previous is None or previous in found)

    def _clean_below(self, n: int) -> None:
        for old in numbers(self.store):
            if old < n:
                self.store.delete(lease_key(old))
        self.store.delete(LEGACY_KEY)

    def _ours(self, n: int) -> bool:
        info = _read(self.store, n)
        return info is not None and info.get("token") == self.token

    def acquire(self) -> None:
        """Take the lock or raise LockedError naming the holder. StoreError when the store is not writable."""
        # Known as a live holder of this process before its lease object exists: a taker in another thread
        # that finds that object must not judge it stale (its token not yet in _HELD) and take over too.
        owner = self._owner()
        if owner is not None:
            _HELD[self.token] = owner
        try:
            self._acquire()
        except BaseException:
            _HELD.pop(self.token, None)
            raise

    def _acquire(self) -> None:
        for _ in range(5):
            started = time.monotonic()
            found = numbers(self.store)
            top = found[-1] if found else 0
            if top:
                info = _read(self.store, top)
                if info is None:
                    continue  # renewed or cleaned up meanwhile: look again
                if not self._stale(info):
                    raise LockedError(
                        f"dataset at {self.store.url} is open for writing by process {info.get('pid')} on host "
                        f"{info.get('host')}; open it with mode='r', or close the other writer")
            mine = top + 1
            if not self.store.put_if_absent(lease_key(mine), self._doc()):
                continue  # another writer took or renewed it first: judge the new one
            if not self._newest_is(mine):
                self.store.delete(lease_key(mine))  # a number a newer holder had cleaned up: not the lock
                continue
            with self._mutex:
                self.held, self.lost, self.number, self._renewed = True, None, mine, started
            self._clean_below(mine)
            self._start_heartbeat()
            return
        raise LockedError(f"could not take the writer lock of {self.store.url}: other writers keep changing it")

    def _start_heartbeat(self) -> None:
        self._stop = threading.Event()
        ref = weakref.ref(self)
        thread = threading.Thread(target=_heartbeat, args=(ref, self._stop, self.lease / 4), daemon=True,
                                  name="hubfs-lock-heartbeat")
        # A collection inside start() (in this thread or the new one) may run Dataset.__del__: it never
        # waits for a lock (hubfs/dataset/finalize.py), so that cannot deadlock.
        thread.start()

    def _lose(self, why: str) -> None:
        self.lost = why
        self._stop.set()

    def renew(self) -> None:
        """Create the next lease object; if another writer created it (or a newer one) the lock is lost."""
        with self._mutex:
            if not self.held or self.lost:
                return
            started = time.monotonic()
            mine, nxt = self.number, self.number + 1
            created = self.store.put_if_absent(lease_key(nxt), self._doc())
            if not created and not self._ours(nxt):  # (ours: an earlier try whose answer was lost)
                self._lose(f"the writer lock of {self.store.url} was taken by another writer (its lease of "
                           f"{self.lease:g} s lapsed)")
                return
            if not self._newest_is(nxt, mine):
                self.store.delete(lease_key(nxt))  # ours, below the newest: garbage
                self._lose(f"the writer lock of {self.store.url} was taken by another writer, or removed")
                return
            self.number, self._renewed = nxt, started
            self.store.delete(lease_key(mine))

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
        """``check()``, then list the lease objects: this writer's must still be the newest."""
        self.check()
        with self._mutex:
            if not self.lost and not self._newest_is(self.number):
                self._lose(f"the writer lock of {self.store.url} was taken by another writer, or removed")
        self.check()

    def release(self) -> None:
        """Give the lock up: a release marker after this writer's lease object (never when it was lost)."""
        with self._mutex:
            if not self.held:
                return
            self.held = False
            self._stop.set()
            _HELD.pop(self.token, None)
            if self.lost:
                return  # another writer's lock now: never touch it
            mine = self.number
            if self.store.put_if_absent(lease_key(mine + 1), self._doc(released=True)):
                self.store.delete(lease_key(mine))


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
