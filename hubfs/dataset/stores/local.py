"""A folder on local disk: ``pread`` on cached descriptors, atomic replace by rename, atomic create by
``link`` (fails when the name exists, like ``O_EXCL``, and never shows a half-written object).

Durability: a put is on disk when it returns (its file fsync'd before the rename). Inside ``batch`` the
puts of that thread are written and renamed at once and made durable together when the batch ends: by one
``syncfs`` of the file system when there are several and little else is waiting for writeback (a flush of
many small objects pays one disk flush, not one each: doc/DESIGN.md, "Durable flushes"), else by an fsync
of each.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import stat
import threading
import uuid
from collections import OrderedDict
from typing import Iterator

import fsspec

from hubfs.dataset.stores.base import Store, check_range
from hubfs.dataset.stores.options import cached

_TEMP = re.compile(r"\.[0-9a-f]{12}\.tmp$")  # a put or create under way: not a key yet
SYNCFS_MIN_PUTS = 4  # a batch of fewer puts fsyncs each
# syncfs writes back every dirty page of the file system, other processes' too: past this much dirty data
# that is not the batch's (the kernel's count, all file systems), fsyncs of the batch's files cost less.
SYNCFS_MAX_OTHER_DIRTY = 64 << 20


def dirty_bytes() -> int | None:
    """The kernel's count of dirty page-cache bytes waiting for writeback (Linux), or None."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"Dirty:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _syncfs_function():
    """libc's ``syncfs`` (Linux), or None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    return fn


_SYNCFS = _syncfs_function()


def filesystem(url: str, options: dict | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    path = url.split("://", 1)[1] if "://" in url else url
    return cached(("file",), lambda: fsspec.filesystem("file", auto_mkdir=True)), \
        os.path.abspath(os.path.expanduser(path))


class LocalStore(Store):
    """Keys as files under ``root``."""

    MAX_OPEN_FILES = 64

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, url: str):
        super().__init__(url)
        self.fs = fs
        self.root = os.path.abspath(root)
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self._batches = threading.local()  # .paths: this thread's puts not yet durable, inside ``batch``

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

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes | None:
        check_range(start, end)
        path = self._path(key)
        try:
            if start is None and end is None:
                with open(path, "rb") as f:
                    return f.read()
            fd = self._fd(path)
            if end is None:
                end = os.fstat(fd).st_size
            return os.pread(fd, max(0, end - (start or 0)), start or 0)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._fail("read", key, exc) from exc

    def size(self, key: str) -> int | None:
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._fail("stat", key, exc) from exc
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def list(self, prefix: str = "") -> list[str]:
        prefix = prefix.strip("/")
        base = self._path(prefix)
        if prefix and not os.path.isdir(base):
            return []
        out = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if not _TEMP.search(name):
                    out.append(os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/"))
        return sorted(out)

    def _write_temp(self, key: str, path: str, data: bytes, sync: bool = True) -> str:
        tmp = f"{path}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                if sync:
                    os.fsync(f.fileno())
        except OSError as exc:
            _unlink(tmp)
            raise self._fail("write", key, exc) from exc
        return tmp

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        pending = getattr(self._batches, "paths", None)
        tmp = self._write_temp(key, path, data, sync=pending is None)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            _unlink(tmp)
            raise self._fail("write", key, exc) from exc
        self._forget(path)
        if pending is not None:
            pending[key] = (path, len(data))

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        if getattr(self._batches, "paths", None) is not None:
            yield  # nested: the outer batch makes it durable
            return
        self._batches.paths = pending = {}
        try:
            yield
        finally:
            self._batches.paths = None
        if not pending:
            return
        key = next(iter(pending))
        try:
            if _SYNCFS is not None and len(pending) >= SYNCFS_MIN_PUTS and self._others_dirty_few(pending):
                fd = os.open(self.root, os.O_RDONLY)
                try:
                    if _SYNCFS(fd) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, os.strerror(err))
                finally:
                    os.close(fd)
                return
            for key, (path, _) in pending.items():
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    continue  # deleted again inside the batch: nothing to make durable
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise self._fail("sync", key, exc) from exc

    @staticmethod
    def _others_dirty_few(pending: dict) -> bool:
        dirty = dirty_bytes()
        return dirty is not None and dirty - sum(n for _, n in pending.values()) <= SYNCFS_MAX_OTHER_DIRTY

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        tmp = self._write_temp(key, path, data)
        try:
            os.link(tmp, path)  # atomic, and fails when the name exists
        except FileExistsError:
            return False
        except OSError as exc:
            raise self._fail("write", key, exc) from exc
        finally:
            _unlink(tmp)
        self._forget(path)
        return True

    def copy(self, src: str, dst: str) -> None:
        """A hard link: no bytes written, and safe because every put replaces the file by rename (the
        link keeps the old bytes when ``src`` is rewritten)."""
        path = self._path(dst)
        tmp = f"{path}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.link(self._path(src), tmp)
            os.replace(tmp, path)
        except FileNotFoundError as exc:
            _unlink(tmp)
            raise self._fail("copy", src, exc) from exc
        except OSError as exc:
            _unlink(tmp)
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise self._fail("copy", src, exc) from exc
            super().copy(src, dst)  # a file system without hard links
        self._forget(path)

    def tokens(self, prefix: str = "") -> dict[str, str]:
        """Device, inode, mtime and size: a put makes a new inode, and a version's link keeps the old
        inode alive, so its number cannot come back for other bytes."""
        out = {}
        for key in self.list(prefix):
            try:
                st = os.stat(self._path(key))
            except FileNotFoundError:
                continue
            out[key] = f"i:{st.st_dev}:{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"
        return out

    def delete(self, key: str) -> None:
        path = self._path(key)
        self._forget(path)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except OSError as exc:
            if os.path.isdir(path):  # a prefix of other keys: not an object
                return
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
        """Every key under ``prefix``, then what this store's writers left there: temp files of a put a
        killed process never finished (a transform worker killed mid-write) and the emptied folders."""
        super().delete_prefix(prefix)
        top = self._path(prefix.strip("/"))
        for folder, _, files in os.walk(top, topdown=False):
            for name in files:
                if _TEMP.search(name):
                    _unlink(os.path.join(folder, name))
            try:
                os.rmdir(folder)  # only when empty: files that are not this store's stay
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


STORE = LocalStore
