"""``memory://``: fsspec's in-process file system, shared by every dataset of the process."""
from __future__ import annotations

import threading

import fsspec

from hubfs.dataset.stores.fsspec_store import FsspecStore
from hubfs.dataset.stores.options import cached

_CREATE = threading.Lock()  # fsspec's memory create is check-then-write: one at a time makes it atomic


def filesystem(url: str, options: dict | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    return cached(("memory",), lambda: fsspec.filesystem("memory")), "/" + url.split("://", 1)[1].strip("/")


class MemoryStore(FsspecStore):
    def create(self, path: str, data: bytes) -> None:
        with _CREATE:
            if self.fs.isfile(path):
                raise FileExistsError(path)
            self.fs.pipe_file(path, data)


STORE = MemoryStore
