"""Azure Blob Storage: ``az://container/path``, ``abfs://container@ACCOUNT.dfs.core.windows.net/path``
and ``https://ACCOUNT.blob.core.windows.net/container/path`` (a SAS url too); Azurite or a private endpoint
through ``endpoint_url``.

Conditional create is an upload with ``If-None-Match: *`` (adlfs's ``overwrite=False``).
"""
from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import fsspec

from hubfs.dataset.stores.fsspec_store import FsspecStore
from hubfs.dataset.stores.options import (RETRIES, cached, freeze, limits, no_listings_cache, redact_url,
                                          scheme, split)
from hubfs.errors import ConfigError

_CREDENTIALS = ("account_name", "account_key", "sas_token", "connection_string", "credential",
                "client_id", "client_secret", "tenant_id", "anon")


def filesystem(url: str, options: dict) -> tuple[fsspec.AbstractFileSystem, str]:
    import adlfs  # noqa: F401

    opts = dict(options)
    if scheme(url) in ("https", "http"):  # https://ACCOUNT.blob.core.windows.net/container/path
        parts = urlsplit(url)
        opts.setdefault("account_name", parts.hostname.split(".", 1)[0])
        if parts.query and "sas_token" not in opts:  # a SAS url
            opts["sas_token"] = parts.query
        root = parts.path.strip("/")
    else:
        root = split(url)
        container, _, rest = root.partition("/")
        if "@" in container:  # abfs://container@ACCOUNT.dfs.core.windows.net/path
            container, host = container.split("@", 1)
            opts.setdefault("account_name", host.split(".", 1)[0])
            root = f"{container}/{rest}".rstrip("/")
    if not root:
        raise ConfigError(f"url {redact_url(url)!r} names no container")
    connect, read, attempts = limits()
    kwargs: dict[str, Any] = {"timeout": read, "connection_timeout": connect, "read_timeout": read,
                              "hubfs_attempts": attempts}
    for key in _CREDENTIALS:
        if key in opts:
            kwargs[key] = opts.pop(key)
    end = opts.pop("endpoint_url", None)
    if end:
        kwargs["connection_string"] = _connection_string(str(end), kwargs)
    kwargs.update(opts)
    if not any(kwargs.get(k) for k in ("account_name", "connection_string")):
        env = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if env:
            kwargs["connection_string"] = env
        elif os.environ.get("AZURE_STORAGE_ACCOUNT_NAME"):
            kwargs["account_name"] = os.environ["AZURE_STORAGE_ACCOUNT_NAME"]
        else:
            raise ConfigError(f"Azure url {redact_url(url)!r} needs an account: give token={{'account_name': ..., "
                              f"'account_key' | 'sas_token': ...}} or a connection_string")
    fs = cached(("azure", freeze(kwargs)), lambda: _bounded()(skip_instance_cache=True, **no_listings_cache(kwargs)))
    return fs, root


def _connection_string(endpoint: str, kwargs: dict) -> str:
    """A connection string that points the blob client at ``endpoint`` (Azurite, a private endpoint)."""
    if "://" not in endpoint:
        endpoint = f"http://{endpoint}"
    parts = [f"BlobEndpoint={endpoint.rstrip('/')}"]
    if kwargs.get("account_name"):
        parts.append(f"AccountName={kwargs['account_name']}")
    if kwargs.get("account_key"):
        parts.append(f"AccountKey={kwargs['account_key']}")
    elif kwargs.get("sas_token"):
        parts.append(f"SharedAccessSignature={str(kwargs['sas_token']).lstrip('?')}")
    return ";".join(parts) + ";"


_CLASS = None


def _bounded():
    """AzureBlobFileSystem with bounded retries, and ranged reads that never send a suffix range."""
    global _CLASS
    if _CLASS is None:
        import adlfs
        from azure.storage.blob.aio import BlobServiceClient, ExponentialRetry

        class BoundedAzureBlobFileSystem(adlfs.AzureBlobFileSystem):
            def __init__(self, *args, hubfs_attempts: int = RETRIES, **kwargs):
                self.hubfs_attempts = hubfs_attempts  # do_connect runs inside __init__
                super().__init__(*args, **kwargs)

            def do_connect(self):
                # the SDK's default retry sleeps 15 s, then 45 s, ... on a dead server
                policy = ExponentialRetry(initial_backoff=0.5, increment_base=2, random_jitter_range=0.5,
                                          retry_total=self.hubfs_attempts - 1)
                common = {"retry_policy": policy, "connection_timeout": self._timeout_kwargs["connection_timeout"],
                          "read_timeout": self._timeout_kwargs["read_timeout"]}
                if self.connection_string is not None:
                    self.service_client = BlobServiceClient.from_connection_string(self.connection_string,
                                                                                  **common)
                    return
                if self.account_name is None:
                    raise ValueError("an Azure account_name or connection_string is needed")
                account_url = getattr(self, "account_host", None)
                account_url = f"https://{account_url}" if account_url else \
                    f"https://{self.account_name}.blob.core.windows.net"
                credential = self.credential or self.account_key
                if credential is None and self.sas_token is not None:
                    account_url += self.sas_token if self.sas_token.startswith("?") else f"?{self.sas_token}"
                if credential is not None:
                    common["credential"] = credential
                self.service_client = BlobServiceClient(account_url=account_url, **common)

            async def _cat_file(self, path, start=None, end=None, **kwargs):
                # adlfs sends a negative start as an invalid suffix header: make ranges absolute
                if (start is not None and start < 0) or (end is not None and end < 0):
                    size = (await self._info(path))["size"]
                    if start is not None and start < 0:
                        start = max(size + start, 0)
                    if end is not None and end < 0:
                        end = max(size + end, 0)
                if end is not None and (start or 0) >= end:
                    await self._info(path)  # still FileNotFoundError for a missing blob
                    return b""
                return await super()._cat_file(path, start=start, end=end, **kwargs)

        _CLASS = BoundedAzureBlobFileSystem
    return _CLASS


class AzureStore(FsspecStore):
    remote = True

    def create(self, path: str, data: bytes) -> None:
        self.fs.pipe_file(path, data, overwrite=False)  # If-None-Match: *

    def token_of(self, key: str, info: dict) -> str | None:
        md5 = (info.get("content_settings") or {}).get("content_md5")  # set for single-request uploads
        if md5:
            return "md5:" + bytes(md5).hex()
        etag = info.get("etag")  # changes with every write of this blob, but says nothing across blobs
        return f"etag:{key}:{etag.strip(chr(34))}" if etag else None


STORE = AzureStore
