"""``s3://bucket/path``: AWS or any S3-compatible server (MinIO, moto, rclone) through ``endpoint_url``.

Conditional create is ``PutObject`` with ``If-None-Match: *`` (AWS since 2024, MinIO, moto). Servers that
ignore the header (``rclone serve s3``) overwrite instead: on them ``put_if_absent`` is right for one
creator at a time but cannot tell two racing creators apart, so the writer lock holds only within one host.
"""
from __future__ import annotations

from typing import Any

import fsspec

from hubfs.dataset.stores.fsspec_store import FsspecStore
from hubfs.dataset.stores.options import cached, endpoint, freeze, limits, no_listings_cache, split

_OURS = (("aws_access_key_id", "key"), ("aws_secret_access_key", "secret"), ("aws_session_token", "token"))


def filesystem(url: str, options: dict) -> tuple[fsspec.AbstractFileSystem, str]:
    import s3fs  # noqa: F401

    opts = dict(options)
    kwargs: dict[str, Any] = {}
    for ours, theirs in _OURS:
        if ours in opts:
            kwargs[theirs] = opts.pop(ours)
    if "endpoint_url" in opts:
        kwargs["endpoint_url"] = endpoint(opts.pop("endpoint_url"))
    client_kwargs = dict(opts.pop("client_kwargs", {}) or {})
    region = opts.pop("region", None) or opts.pop("region_name", None)
    if region:
        client_kwargs["region_name"] = region
    # botocore >= 1.36 checksums break ranged GETs on S3-compatible servers (rclone): only when required.
    connect, read, attempts = limits()
    config_kwargs = {"connect_timeout": connect, "read_timeout": read,
                     "retries": {"max_attempts": attempts, "mode": "standard"},
                     "request_checksum_calculation": "when_required",
                     "response_checksum_validation": "when_required"}
    config_kwargs.update(opts.pop("config_kwargs", {}) or {})
    kwargs.update(client_kwargs=client_kwargs, config_kwargs=config_kwargs)
    kwargs.update(opts)  # any other key: an s3fs storage option
    return cached(("s3", freeze(kwargs)), lambda: _make(kwargs, attempts)), split(url)


def _make(kwargs: dict, attempts: int) -> fsspec.AbstractFileSystem:
    import s3fs

    # skip_instance_cache: ours is the cache, keyed per process; fsspec's would share across kwargs copies
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **no_listings_cache(kwargs))
    fs.retries = attempts  # s3fs's own retry loop around botocore's (5 by default)
    return fs


class S3Store(FsspecStore):
    remote = True

    def create(self, path: str, data: bytes) -> None:
        # The HEAD keeps servers that ignore If-None-Match right for one creator at a time; the header
        # (s3fs's mode="create", FileExistsError on 412) makes racing creators safe where it is honoured.
        if self.fs.isfile(path):
            raise FileExistsError(path)
        self.fs.pipe_file(path, data, mode="create")

    def token_of(self, key: str, info: dict) -> str | None:
        # The ETag of a single-part upload or copy is the MD5 of the bytes; a multipart one is unique too.
        etag = info.get("ETag") or info.get("etag")
        return f"etag:{etag.strip(chr(34))}" if etag else None


STORE = S3Store
