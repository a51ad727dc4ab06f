"""The store contract: a small abstract core every backend implements, and the operations derived from it.

Core (each backend, one module each): ``get`` (whole object or a byte range), ``put`` (atomic replace),
``put_if_absent`` (a real conditional create), ``delete`` and ``list``. Derived here: ``exists``, ``size``,
``get_range`` (exact bytes or an error), ``delete_prefix``, ``copy`` (one object to another key) and
``tokens`` (what versions compare to find changed objects); backends may override a derived operation
with a cheaper one that answers the same (a hard link, a server-side copy, the listing's ETag) (the contract suite in tests/stores/test_store_contract.py checks
that they do).

Semantics every store keeps:
- A key names an object. A prefix of other keys (``"t"`` when ``"t/data/c/0"`` exists) is not an object:
  ``get`` and ``size`` answer None, ``exists`` False, ``delete`` leaves the children alone.
- ``get(key, start, end)`` slices like Python: a range past the end is cut at the end, a start at or past
  the end gives ``b""``; a missing key is None. ``get_range`` is the strict form the engine uses for
  ranges it computed from an index: exactly ``end - start`` bytes or ``StoreError``.
- ``list(prefix)`` gives every key strictly under the folder-like ``prefix`` (all keys for ``""``), sorted,
  each relative to the store's root; a key just written is listed, a key just deleted is not.
- Failures of the backend are ``StoreError`` (``.denied`` when the store refused), with a reason taken
  from the exception's classes only: backend messages can echo credentials or signed urls.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
from abc import ABC, abstractmethod

from hubfs.errors import StoreError

PERMISSION_DENIED = "permission denied (check the credentials)"
TIMED_OUT = "timed out"
UNREACHABLE = "cannot reach the server"
_REASONS = (  # (class names anywhere in the exception's MRO or chain, what to tell the user)
    ({"ReadTimeoutError", "ConnectTimeoutError", "ServerTimeoutError", "ServiceResponseTimeoutError",
      "ServiceRequestTimeoutError", "FSTimeoutError", "TimeoutError"}, TIMED_OUT),
    ({"EndpointConnectionError", "ClientConnectorError", "ServerDisconnectedError", "ClientOSError",
      "ServiceRequestError", "ServiceResponseError", "ConnectionError", "ConnectionClosedError"},
     UNREACHABLE),
    ({"ClientAuthenticationError", "PermissionError", "NoCredentialsError", "RefreshError",
      "InvalidAccessKeyId", "SignatureDoesNotMatch"}, PERMISSION_DENIED),
    ({"FileNotFoundError", "ResourceNotFoundError", "NoSuchBucket"}, "not found (does the bucket or container exist?)"),
)


def failure_reason(exc: BaseException) -> str:
    """A short, secret-free reason for a backend failure ("timed out", "cannot reach the server", ...),
    from the exception's classes only (backend messages can echo credentials or signed urls)."""
    seen = set()
    chain = []
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    names = {cls.__name__ for e in chain for cls in type(e).__mro__}
    statuses = {v for e in chain for v in (getattr(e, a, None) for a in ("status_code", "status", "code"))
                if isinstance(v, int)}  # HTTP statuses on azure-core, aiohttp and gcsfs errors
    if statuses & {401, 403}:
        names.add("PermissionError")
    if 404 in statuses:
        names.add("FileNotFoundError")
    for wanted, reason in _REASONS:
        if names & wanted:
            return reason
    return type(chain[0]).__name__ if chain else "unknown error"


def is_outage(exc: BaseException) -> bool:
    """True when the server did not answer or refused: asking it again about the key cannot help."""
    return failure_reason(exc) in (TIMED_OUT, UNREACHABLE, PERMISSION_DENIED)


def check_range(start: int | None, end: int | None) -> None:
    if (start is not None and start < 0) or (end is not None and end < 0):
        raise ValueError(f"byte ranges are absolute and non-negative, not [{start}, {end})")


class Store(ABC):
    """Keys (``"image/data/c/0"``) under one root of one backend."""

    remote = False  # True when the bytes live on a server (read-ahead pays off)

    def __init__(self, url: str):
        self.url = url

    def _fail(self, op: str, key: str, exc: BaseException) -> StoreError:
        reason = failure_reason(exc)
        error = StoreError(f"store {op} of {key!r} at {self.url} failed: {reason}")
        # Denied (not down, not missing): the one failure that makes a dataset read-only rather than broken.
        error.denied = reason == PERMISSION_DENIED or getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS)
        return error

    # -- the core ------------------------------------------------------------------------------------
    @abstractmethod
    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes | None:
        """The object's bytes ``[start, end)`` (cut at its end), or None when there is no such object."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write a whole object atomically: readers see the old or the new bytes, never a mix."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create ``key`` with ``data`` unless it exists, in one conditional write; True when this call
        created it. Of concurrent callers (threads, processes, hosts) exactly one gets True."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Every key under the folder-like ``prefix``, sorted, relative to the root."""

    # -- derived ---------------------------------------------------------------------------------------
    def size(self, key: str) -> int | None:
        """The object's length in bytes, or None when there is no such object."""
        data = self.get(key)
        return None if data is None else len(data)

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Exactly bytes ``[start, end)`` of an existing object (offsets from an index), else StoreError."""
        data = self.get(key, start, end)
        if data is None or len(data) != end - start:
            found = "does not exist" if data is None else f"ends {end - start - len(data)} bytes early"
            raise StoreError(f"store read of {key!r} at {self.url} failed: bytes [{start}, {end}) wanted, "
                             f"the object {found}")
        return data

    def delete_prefix(self, prefix: str) -> None:
        """Delete every key under ``prefix`` (every key for ``""``)."""
        for key in self.list(prefix):
            self.delete(key)

    def copy(self, src: str, dst: str) -> None:
        """Make ``dst`` an object with ``src``'s bytes (atomic, like ``put``); StoreError when ``src`` is
        missing. Backends copy without the bytes passing through this process where they can."""
        data = self.get(src)
        if data is None:
            raise StoreError(f"store copy of {src!r} at {self.url} failed: no such object")
        self.put(dst, data)

    def tokens(self, prefix: str = "") -> dict[str, str]:
        """``{key: token}`` for every key under ``prefix``: equal tokens mean equal bytes (whichever keys
        they came from), and rewriting an object with other bytes changes its token. Versions compare
        them to find what changed since a commit without reading the data."""
        return {key: content_token(self.get(key) or b"") for key in self.list(prefix)}

    def forget(self, key: str) -> None:
        """Drop anything cached about ``key`` (an open file), so the next read sees its current version."""

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Puts of this thread inside the block are durable when it ends, not each on its own return (a
        flush writes its data objects in a batch, then the root that commits them). Object stores make
        each PUT durable anyway: there this does nothing."""
        yield

    def close(self) -> None:
        """Release cached resources (open files)."""


def content_token(data: bytes) -> str:
    """A token from the bytes themselves (stores whose listing carries no content identity)."""
    return "b2:" + hashlib.blake2b(data, digest_size=16).hexdigest()


def under(key: str, prefix: str) -> bool:
    """True when ``key`` lies under the folder-like ``prefix`` (every key lies under ``""``)."""
    prefix = prefix.strip("/")
    return not prefix or key.startswith(prefix + "/")
