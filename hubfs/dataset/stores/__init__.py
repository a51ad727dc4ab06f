"""Stores: one contract (``base.Store``), one module per backend (local, memory, s3, gcs, azure).

``open_store(url, token)`` picks the backend from the url; ``filesystem_for`` gives the backend's fsspec
file system and the dataset's root inside it (for tools that hand the same bytes to zarr or copy files).
Every remote backend gets connect/read time-outs and a bounded number of retries, so a dead server is an
error within seconds, never a hang.
"""
from __future__ import annotations

import importlib
from urllib.parse import urlsplit

import fsspec

from hubfs.dataset.stores.base import Store, failure_reason
from hubfs.dataset.stores.options import AZURE, AZURE_HOST, GCS, LOCAL, S3, is_remote, load_token, redact_url, scheme
from hubfs.errors import ConfigError


def _kind(url: str) -> str:
    s = scheme(url)
    if s in LOCAL:
        return "local"
    if s == "memory":
        return "memory"
    if s in S3:
        return "s3"
    if s in GCS:
        return "gcs"
    host = urlsplit(url).hostname if s in ("https", "http") else None
    if s in AZURE or (host and host.endswith(AZURE_HOST)):
        return "azure"
    raise ConfigError(f"unsupported url {redact_url(url)!r}: use a local path, memory://, s3://, gcs://, "
                      f"gs://, az://, abfs:// or https://ACCOUNT.blob.core.windows.net/container/path")


def _backend(url: str):
    return importlib.import_module(f"hubfs.dataset.stores.{_kind(url)}")  # backends import only when used


def filesystem_for(url: str, token: dict | str | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """A synchronous file system for ``url`` and the dataset's root path inside it. The token is read
    (and a file that does not parse refused) whatever the store."""
    options = load_token(token)
    return _backend(url).filesystem(url, options)


def open_store(url: str, token: dict | str | None = None) -> Store:
    """The store for a dataset url (after namespace resolution)."""
    fs, root = filesystem_for(url, token)
    return _backend(url).STORE(fs, root, url)


__all__ = ["Store", "open_store", "filesystem_for", "is_remote", "load_token", "failure_reason"]
