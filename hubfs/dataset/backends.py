"""Url + token -> an fsspec file system and the root path inside it.

Minimal version: local folders and ``memory://``. Cloud stores extend ``filesystem_for``.
"""
from __future__ import annotations

import os

import fsspec

from hubfs.errors import ConfigError


def is_remote(url: str) -> bool:
    """True for urls whose bytes live on a server (not local, not memory)."""
    scheme = url.split("://", 1)[0] if "://" in url else "file"
    return scheme not in ("file", "local", "memory")


def filesystem_for(url: str, token: dict | str | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """Return a synchronous file system for ``url`` and the dataset's root path inside it."""
    if "://" not in url or url.startswith("file://"):
        path = url[len("file://"):] if url.startswith("file://") else url
        return fsspec.filesystem("file", auto_mkdir=True), os.path.abspath(os.path.expanduser(path))
    scheme, rest = url.split("://", 1)
    if scheme == "memory":
        return fsspec.filesystem("memory"), "/" + rest.strip("/")
    raise ConfigError(f"unsupported url scheme {scheme!r} in {url!r}")
