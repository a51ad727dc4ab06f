"""A key/value view of a dataset's folder on any fsspec file system.

The engine speaks only to ``Store``: whole-object gets and atomic puts, ranged reads, prefix listing and
deletion. Failures of the backend surface as ``StoreError`` (a missing key is ``None``, not an error), so
callers never see backend-specific exceptions. Local folders get a faster path: cached file descriptors
and ``os.pread`` for ranged reads, and temp-file + rename for atomic writes.
"""
from __future__ import annotations

import errno
import os
import stat
import threading
import uuid
from collections import OrderedDict
import fsspec

from hubfs.dataset.backends import PERMISSION_DENIED, failure_reason, filesystem_for, is_remote
from hubfs.errors import StoreError

_PUT_IF_ABSENT = threading.Lock()  # makes put_if_absent atomic within a process (memory://)


class Store:
    """Keys (``"image/data/c/0"``) under one root of an fsspec file system."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, url: str):
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url
        self.remote = is_remote(url)

    # -- helpers ---------------------------------------------------------------------------------
    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def _fail(self, op: str, key: str, exc: BaseException) -> StoreError:
        # Only the url, the key and a reason from the exception's classes: backend messages can echo
        # credentials or signed urls.
        reason = failure_reason(exc)
        error = StoreError(f"store {op} of {key!r} at {self.url} failed: {reason}")
        # Denied (not down, not missing): the one failure that makes a dataset read-only rather than broken.
        error.denied = reason == PERMISSION_DENIED or getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS)
        return error

    # -- reads -----------------------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        """The whole object, or None when it does not exist."""
        try:
            return self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._fail("read", key, exc) from exc

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of an existing object."""
        try:
            return self.fs.cat_file(self._path(key), start=start, end=end)
        except Exception as exc:
            raise self._fail("read", key, exc) from exc

    def size(self, key: str) -> int | None:
        try:
            return int(self.fs.size(self._path(key)))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._fail("stat", key, exc) from exc

    def exists(self, key: str) -> bool:
        try:
            return bool(self.fs.exists(self._path(key)))
        except Exception as exc:
            raise self._fail("stat", key, exc) from exc

    def list(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (a folder-like prefix), relative to the root."""
        base = self._path(prefix).rstrip("/")
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self._fail("list", prefix, exc) from exc
        root = self.fs._strip_protocol(self.root).rstrip("/") + "/"
        out = []
        for path in found:
            path = self.fs._strip_protocol(path)
            if path.startswith(root):
                out.append(path[len(root):])
        return out

    # -- writes ----------------------------------------------------------------------------------
    def put(self, key: str, data: bytes) -> None:
        """Write a whole object atomically: readers see the old or the new bytes, never a mix."""
        try:
            self.fs.pipe_file(self._path(key), bytes(data))
        except Exception as exc:
            raise self._fail("write", key, exc) from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create ``key`` unless it exists; True when this call created it (best effort on object stores:
        write, then read back to see whose bytes won)."""
        with _PUT_IF_ABSENT:
            if self.exists(key):
                return False
            self.put(key, data)
        return self.get(key) == bytes(data)

    def delete(self, key: str) -> None:
        try:
            self.fs.rm(self._path(key))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._fail("delete", key, exc) from exc

    def delete_prefix(self, prefix: str) -> None:
        for key in self.list(prefix):
            self.delete(key)

    def forget(self, key: str) -> None:
        """Drop anything cached about ``key`` (an open file), so the next read sees its current version."""

    def close(self) -> None:
        """Release cached resources (open files)."""


class LocalStore(Store):
    """A folder on local disk: pread on cached descriptors, atomic writes by rename."""

    MAX_OPEN_FILES = 64

    def __init__(self, root: str, url: str):
        super().__init__(fsspec.filesystem("file"), os.path.abspath(root), url)
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def _path(self, key: str) -> str:
        return os.path.join(self.root, key) if key else self.root

    def _fd(self, path: str) -> int:
        with self._lock:
            fd = self._fds.get(path)
            if fd is not None:
                self._fds.move_to_end(path)
                return fd
            fd = os.open(path, os.O_RDONLY)
            self._fds[path] = fd
            while len(self._fds) > self.MAX_OPEN_FILES:
                _, old = self._fds.popitem(last=False)
                os.close(old)
            return fd

    def _forget(self, path: str) -> None:
        with self._lock:
            fd = self._fds.pop(path, None)
            if fd is not None:
                os.close(fd)

    def forget(self, key: str) -> None:
        self._forget(self._path(key))

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._fail("read", key, exc) from exc

    def get_range(self, key: str, start: int, end: int) -> bytes:
        path = self._path(key)
        try:
            data = os.pread(self._fd(path), end - start, start)
        except OSError as exc:
            raise self._fail("read", key, exc) from exc
        if len(data) != end - start:
            raise StoreError(f"store read of {key!r} at {self.url} failed: object is shorter than expected")
        return data

    def size(self, key: str) -> int | None:
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._fail("stat", key, exc) from exc
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def list(self, prefix: str = "") -> list[str]:
        base = self._path(prefix)
        out = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                out.append(os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/"))
        return out

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = f"{path}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise self._fail("write", key, exc) from exc
        self._forget(path)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise self._fail("write", key, exc) from exc
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return True

    def delete(self, key: str) -> None:
        path = self._path(key)
        self._forget(path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._fail("delete", key, exc) from exc
        # Folders are implicit in a key/value store: drop the ones this delete emptied.
        parent = os.path.dirname(path)
        while len(parent) > len(self.root):
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)

    def delete_prefix(self, prefix: str) -> None:
        for key in self.list(prefix):
            self.delete(key)
        # remove the emptied folders, deepest first
        base = self._path(prefix)
        for dirpath, _dirs, _files in sorted(os.walk(base), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()


def open_store(url: str, token: dict | str | None = None) -> Store:
    """The store for a dataset url (after namespace resolution)."""
    fs, root = filesystem_for(url, token)
    if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
        return LocalStore(root, url)
    return Store(fs, root, url)


__all__ = ["Store", "LocalStore", "open_store", "is_remote"]
