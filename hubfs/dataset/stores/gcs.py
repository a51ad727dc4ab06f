"""``gcs://bucket/path`` and ``gs://``: Google Cloud Storage or an emulator through ``endpoint_url``.

Conditional create is an upload with ``ifGenerationMatch=0`` (gcsfs's ``mode="create"``).
"""
from __future__ import annotations

import logging
import os
from typing import Any

# gcsfs >= 2026.10 probes experimental bucket types on every call unless told not to before import;
# against an emulator each call then stalls 60 s.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import fsspec  # noqa: E402

from hubfs.dataset.stores.fsspec_store import FsspecStore  # noqa: E402
from hubfs.dataset.stores.options import (GOOGLE_CREDENTIALS, cached, endpoint, freeze, limits,  # noqa: E402
                                          no_listings_cache, split)

# gcsfs logs a traceback for every failed request; hubfs reports the failure as StoreError instead.
logging.getLogger("gcsfs").addHandler(logging.NullHandler())


def filesystem(url: str, options: dict) -> tuple[fsspec.AbstractFileSystem, str]:
    import gcsfs  # noqa: F401

    opts = dict(options)
    kwargs: dict[str, Any] = {}
    if opts.get("type") in GOOGLE_CREDENTIALS:
        end = opts.pop("endpoint_url", None)
        kwargs["token"] = opts  # the dict is the credentials themselves
        opts = {"endpoint_url": end} if end else {}
    if opts.pop("anon", False):
        kwargs["token"] = "anon"
    if "token" in opts:
        kwargs["token"] = opts.pop("token")
    if "endpoint_url" in opts:
        kwargs["endpoint_url"] = endpoint(opts.pop("endpoint_url"))
    kwargs.update(opts)
    lim = limits()
    return cached(("gcs", lim, freeze(kwargs)), lambda: _make(kwargs, lim)), split(url)


_CLASSES: dict[int, type] = {}


def _bounded(attempts: int) -> type:
    """GCSFileSystem with bounded retries (its own: 6 attempts, up to ~30 s of sleeping). gcsfs fixes the
    count when its class is defined, hence one subclass per count."""
    if attempts not in _CLASSES:
        import gcsfs
        from gcsfs.retry import retry_request

        class BoundedGCSFileSystem(gcsfs.GCSFileSystem):
            retries = attempts
            _request = retry_request(retries=attempts)(gcsfs.GCSFileSystem._request.__wrapped__)

        _CLASSES[attempts] = BoundedGCSFileSystem
    return _CLASSES[attempts]


def _make(kwargs: dict, lim: tuple[float, float, int]) -> fsspec.AbstractFileSystem:
    import aiohttp

    connect, read, attempts = lim
    kwargs = dict(kwargs)
    kwargs.setdefault("requests_timeout", aiohttp.ClientTimeout(
        total=None, connect=connect, sock_connect=connect, sock_read=read))
    return _bounded(attempts)(skip_instance_cache=True, **no_listings_cache(kwargs))


class GCSStore(FsspecStore):
    remote = True

    def token_of(self, key: str, info: dict) -> str | None:
        md5 = info.get("md5Hash")  # the MD5 of the bytes, kept by the service for every object
        if md5:
            return f"md5:{md5}"
        generation = info.get("generation")  # changes with every write of this object
        return f"gen:{key}:{generation}" if generation else None


STORE = GCSStore
