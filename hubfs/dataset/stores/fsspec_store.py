"""The contract over an fsspec file system: what S3, GCS, Azure and memory share. Each backend's module
says only how to make its file system and how it writes conditionally."""
from __future__ import annotations

import fsspec

from hubfs.dataset.stores.base import Store, check_range, content_token, is_outage, under
from hubfs.errors import StoreError


class FsspecStore(Store):
    """Keys under ``root`` of an fsspec file system."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, url: str):
        super().__init__(url)
        self.fs = fs
        self.root = root.rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def _info(self, key: str) -> dict | None:
        """The object's info, or None when ``key`` is no object (missing, or a prefix of other keys)."""
        try:
            info = self.fs.info(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except Exception as exc:
            raise self._fail("stat", key, exc) from exc
        return info if info.get("type") == "file" else None

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes | None:
        check_range(start, end)
        path = self._path(key)
        try:
            if start is None and end is None:
                return self.fs.cat_file(path)
            if end is not None and (start or 0) >= end:
                return b"" if self._info(key) is not None else None
            return self.fs.cat_file(path, start=start, end=end)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except Exception as exc:
            if is_outage(exc):  # a second request (the info below) would wait out the time-outs again
                raise self._fail("read", key, exc) from exc
            # Servers answer a range that starts past the end (416) and a prefix key in their own ways.
            info = self._info(key)
            if info is None:
                return None
            if start is not None and start >= int(info["size"]):
                return b""
            raise self._fail("read", key, exc) from exc

    def size(self, key: str) -> int | None:
        info = self._info(key)
        return None if info is None else int(info["size"])

    def list(self, prefix: str = "") -> list[str]:
        prefix = prefix.strip("/")
        try:
            found = self.fs.find(self._path(prefix))
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self._fail("list", prefix, exc) from exc
        root = self.fs._strip_protocol(self.root).rstrip("/") + "/"
        keys = (p[len(root):] for p in map(self.fs._strip_protocol, found) if p.startswith(root))
        return sorted(k for k in keys if under(k, prefix))

    def copy(self, src: str, dst: str) -> None:
        """The backend's server-side copy (S3 CopyObject, GCS rewrite, Azure copy): no bytes through here."""
        if self._info(src) is None:
            raise StoreError(f"store copy of {src!r} at {self.url} failed: no such object")
        try:
            self.fs.copy(self._path(src), self._path(dst))
        except Exception as exc:
            raise self._fail("copy", src, exc) from exc

    def token_of(self, key: str, info: dict) -> str | None:
        """The content identity in a listing entry, or None when it has none (then the bytes are hashed)."""
        return None

    def tokens(self, prefix: str = "") -> dict[str, str]:
        prefix = prefix.strip("/")
        try:
            found = self.fs.find(self._path(prefix), detail=True)
        except FileNotFoundError:
            return {}
        except Exception as exc:
            raise self._fail("list", prefix, exc) from exc
        root = self.fs._strip_protocol(self.root).rstrip("/") + "/"
        out = {}
        for path, info in found.items():
            path = self.fs._strip_protocol(path)
            key = path[len(root):]
            if not path.startswith(root) or not under(key, prefix) or info.get("type", "file") != "file":
                continue
            token = self.token_of(key, info)
            out[key] = token if token is not None else content_token(self.get(key) or b"")
        return dict(sorted(out.items()))

    def put(self, key: str, data: bytes) -> None:
        try:
            self.fs.pipe_file(self._path(key), bytes(data))
        except Exception as exc:
            raise self._fail("write", key, exc) from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        try:
            self.create(self._path(key), bytes(data))
        except FileExistsError:
            return False
        except Exception as exc:
            raise self._fail("write", key, exc) from exc
        return True

    def create(self, path: str, data: bytes) -> None:
        """Write ``path`` unless it exists, in one conditional request; FileExistsError when it does."""
        self.fs.pipe_file(path, data, mode="create")

    def delete(self, key: str) -> None:
        if self._info(key) is None:
            return  # missing, or a prefix: its children stay
        try:
            self.fs.rm_file(self._path(key))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._fail("delete", key, exc) from exc
