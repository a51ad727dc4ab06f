"""Url + token -> a synchronous fsspec file system and the dataset's root path inside it.

Url forms: local paths and ``file://``; ``memory://``; ``s3://bucket/path`` (AWS or any S3-compatible
server through ``endpoint_url``); ``gcs://`` / ``gs://``; ``az://container/path``, ``abfs://`` and
``https://ACCOUNT.blob.core.windows.net/container/path``.

``token`` is a dict, or a path to a JSON file holding one (for GCS also a service-account file, or
``"anon"``). Keys each backend understands are mapped to its options; any other key is passed on to the
fsspec backend as a storage option. With no token the backend's own environment and credential chain
apply. Every backend gets connect/read time-outs and a bounded number of retries, so a dead server is an
error within seconds, never a hang. File systems are cached per (kind, options, process): opening many
datasets on one store is cheap, and a forked child makes its own clients.

Token values are secrets: they never appear in an error message raised here.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, Callable
from urllib.parse import urlsplit

# gcsfs >= 2026.10 probes experimental bucket types on every call unless told not to before import;
# against an emulator each call then stalls 60 s.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import fsspec  # noqa: E402

from hubfs.errors import ConfigError  # noqa: E402

CONNECT_TIMEOUT = 5  # seconds to open a connection            (env HUBFS_CONNECT_TIMEOUT)
READ_TIMEOUT = 20  # seconds a request may wait for more bytes   (env HUBFS_READ_TIMEOUT)
RETRIES = 3  # attempts per request, the first included         (env HUBFS_RETRIES)

_LOCAL = ("file", "local")
_S3 = ("s3", "s3a")
_GCS = ("gcs", "gs")
_AZURE = ("az", "abfs", "abfss", "azure")
_AZURE_HOST = ".blob.core.windows.net"

# gcsfs logs a traceback for every failed request; hubfs reports the failure as StoreError instead.
logging.getLogger("gcsfs").addHandler(logging.NullHandler())

_cache: dict[tuple, fsspec.AbstractFileSystem] = {}
_cache_lock = threading.Lock()


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "file"


def is_remote(url: str) -> bool:
    """True for urls whose bytes live on a server (not a local folder, not memory)."""
    return _scheme(url) not in (*_LOCAL, "memory")


def filesystem_for(url: str, token: dict | str | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """Return a synchronous file system for ``url`` and the dataset's root path inside it."""
    scheme = _scheme(url)
    if scheme in _LOCAL:
        path = url.split("://", 1)[1] if "://" in url else url
        return _cached(("file",), lambda: fsspec.filesystem("file", auto_mkdir=True)), \
            os.path.abspath(os.path.expanduser(path))
    if scheme == "memory":
        return _cached(("memory",), lambda: fsspec.filesystem("memory")), "/" + url.split("://", 1)[1].strip("/")
    options = load_token(token)
    if scheme in _S3:
        return _s3(url, options)
    if scheme in _GCS:
        return _gcs(url, options)
    if scheme in _AZURE or (scheme in ("https", "http") and urlsplit(url).hostname
                            and urlsplit(url).hostname.endswith(_AZURE_HOST)):
        return _azure(url, options)
    raise ConfigError(f"unsupported url {_redact_url(url)!r}: use a local path, memory://, s3://, gcs://, "
                      f"gs://, az://, abfs:// or https://ACCOUNT.blob.core.windows.net/container/path")


def load_token(token: dict | str | None) -> dict:
    """The token as a dict of options: a dict as given, a JSON file's contents, ``"anon"`` as
    ``{"anon": True}``. Never echoes the contents in an error."""
    if token is None:
        return {}
    if isinstance(token, dict):
        return dict(token)
    if not isinstance(token, (str, os.PathLike)):
        raise ConfigError(f"token must be a dict or a path to a JSON credentials file, not {type(token).__name__}")
    token = os.fspath(token)
    if token == "anon":
        return {"anon": True}
    path = os.path.expanduser(token)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"token file {path!r} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"token file {path!r} is not a readable JSON file ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"token file {path!r} does not hold a JSON object")
    if doc.get("type") in ("service_account", "authorized_user", "external_account"):
        return {"token": path}  # Google credentials: gcsfs reads the file itself
    return doc


def limits() -> tuple[float, float, int]:
    """(connect time-out, read time-out, attempts), from the environment or the defaults."""
    def number(name: str, default: float) -> float:
        raw = os.environ.get(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, not {raw!r}") from None
        if value <= 0:
            raise ConfigError(f"{name} must be positive, not {raw!r}")
        return value

    return (number("HUBFS_CONNECT_TIMEOUT", CONNECT_TIMEOUT), number("HUBFS_READ_TIMEOUT", READ_TIMEOUT),
            max(1, int(number("HUBFS_RETRIES", RETRIES))))


def _cached(key: tuple, make: Callable[[], fsspec.AbstractFileSystem]) -> fsspec.AbstractFileSystem:
    key = (os.getpid(), *key)
    with _cache_lock:
        fs = _cache.get(key)
        if fs is None:
            fs = _cache[key] = make()
        return fs


def _freeze(value: Any) -> Any:
    """A hashable form of an options dict, for the cache key."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(_freeze(v) for v in value)
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def _split(url: str) -> str:
    """``bucket/path`` of a ``scheme://bucket/path`` url, without trailing slashes."""
    rest = url.split("://", 1)[1].strip("/")
    if not rest:
        raise ConfigError(f"url {_redact_url(url)!r} names no bucket or container")
    return rest


def _redact_url(url: str) -> str:
    """The url without a query string (SAS tokens travel there) or user info."""
    parts = urlsplit(url)
    if parts.query or parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return f"{parts.scheme}://{netloc}{parts.path}"
    return url


def _no_listings_cache(kwargs: dict) -> dict:
    """Another process (a mount, the writer) replaces objects: sizes from a cached listing would be stale
    and pair an old size with new bytes, so remote stores always ask the server (unless told otherwise)."""
    return {"use_listings_cache": False, **kwargs}


# -- S3 ----------------------------------------------------------------------------------------------
def _s3(url: str, options: dict) -> tuple[fsspec.AbstractFileSystem, str]:
    import s3fs  # noqa: F401  (an ImportError here says which extra to install)

    opts = dict(options)
    kwargs: dict[str, Any] = {}
    for ours, theirs in (("aws_access_key_id", "key"), ("aws_secret_access_key", "secret"),
                         ("aws_session_token", "token")):
        if ours in opts:
            kwargs[theirs] = opts.pop(ours)
    if "endpoint_url" in opts:
        endpoint = str(opts.pop("endpoint_url"))
        kwargs["endpoint_url"] = endpoint if "://" in endpoint else f"http://{endpoint}"  # MinIO "host:port"
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
    fs = _cached(("s3", _freeze(kwargs)), lambda: _make_s3(kwargs, attempts))
    return fs, _split(url)


def _make_s3(kwargs: dict, attempts: int) -> fsspec.AbstractFileSystem:
    import s3fs

    # skip_instance_cache: ours is the cache, keyed per process; fsspec's would share across kwargs copies
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **_no_listings_cache(kwargs))
    fs.retries = attempts  # s3fs's own retry loop around botocore's (5 by default)
    return fs


# -- GCS ---------------------------------------------------------------------------------------------
def _gcs(url: str, options: dict) -> tuple[fsspec.AbstractFileSystem, str]:
    import gcsfs  # noqa: F401

    opts = dict(options)
    kwargs: dict[str, Any] = {}
    if opts.get("type") in ("service_account", "authorized_user", "external_account"):
        endpoint = opts.pop("endpoint_url", None)
        kwargs["token"] = opts  # the dict is the credentials themselves
        opts = {"endpoint_url": endpoint} if endpoint else {}
    if opts.pop("anon", False):
        kwargs["token"] = "anon"
    if "token" in opts:
        kwargs["token"] = opts.pop("token")
    if "endpoint_url" in opts:
        endpoint = str(opts.pop("endpoint_url"))
        kwargs["endpoint_url"] = endpoint if "://" in endpoint else f"http://{endpoint}"
    kwargs.update(opts)
    lim = limits()
    fs = _cached(("gcs", lim, _freeze(kwargs)), lambda: _make_gcs(kwargs, lim))
    return fs, _split(url)


_GCS_CLASSES: dict[int, type] = {}


def _gcs_class(attempts: int) -> type:
    """GCSFileSystem with bounded retries (its own: 6 attempts, up to ~30 s of sleeping). gcsfs fixes the
    count when its class is defined, hence one subclass per count."""
    if attempts not in _GCS_CLASSES:
        import gcsfs
        from gcsfs.retry import retry_request

        class BoundedGCSFileSystem(gcsfs.GCSFileSystem):
            retries = attempts
            _request = retry_request(retries=attempts)(gcsfs.GCSFileSystem._request.__wrapped__)

        _GCS_CLASSES[attempts] = BoundedGCSFileSystem
    return _GCS_CLASSES[attempts]


def _make_gcs(kwargs: dict, lim: tuple[float, float, int]) -> fsspec.AbstractFileSystem:
    import aiohttp

    connect, read, attempts = lim
    kwargs = dict(kwargs)
    kwargs.setdefault("requests_timeout", aiohttp.ClientTimeout(
        total=None, connect=connect, sock_connect=connect, sock_read=read))
    return _gcs_class(attempts)(skip_instance_cache=True, **_no_listings_cache(kwargs))


# -- Azure -------------------------------------------------------------------------------------------
def _azure(url: str, options: dict) -> tuple[fsspec.AbstractFileSystem, str]:
    import adlfs  # noqa: F401

    opts = dict(options)
    scheme = _scheme(url)
    if scheme in ("https", "http"):  # https://ACCOUNT.blob.core.windows.net/container/path
        parts = urlsplit(url)
        opts.setdefault("account_name", parts.hostname.split(".", 1)[0])
        if parts.query and "sas_token" not in opts:  # a SAS url
            opts["sas_token"] = parts.query
        root = parts.path.strip("/")
    else:
        root = _split(url)
        container, _, rest = root.partition("/")
        if "@" in container:  # abfs://container@ACCOUNT.dfs.core.windows.net/path
            container, host = container.split("@", 1)
            opts.setdefault("account_name", host.split(".", 1)[0])
            root = f"{container}/{rest}".rstrip("/")
    if not root:
        raise ConfigError(f"url {_redact_url(url)!r} names no container")
    connect, read, attempts = limits()
    kwargs: dict[str, Any] = {"timeout": read, "connection_timeout": connect, "read_timeout": read,
                              "hubfs_attempts": attempts}
    for key in ("account_name", "account_key", "sas_token", "connection_string", "credential",
                "client_id", "client_secret", "tenant_id", "anon"):
        if key in opts:
            kwargs[key] = opts.pop(key)
    endpoint = opts.pop("endpoint_url", None)
    if endpoint:
        kwargs["connection_string"] = _azure_connection_string(str(endpoint), kwargs)
    kwargs.update(opts)
    if not any(kwargs.get(k) for k in ("account_name", "connection_string")):
        env = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if env:
            kwargs["connection_string"] = env
        elif os.environ.get("AZURE_STORAGE_ACCOUNT_NAME"):
            kwargs["account_name"] = os.environ["AZURE_STORAGE_ACCOUNT_NAME"]
        else:
            raise ConfigError(f"Azure url {_redact_url(url)!r} needs an account: give token={{'account_name': ..., "
                              f"'account_key' | 'sas_token': ...}} or a connection_string")
    fs = _cached(("azure", _freeze(kwargs)), lambda: _azure_class()(skip_instance_cache=True, **_no_listings_cache(kwargs)))
    return fs, root


def _azure_connection_string(endpoint: str, kwargs: dict) -> str:
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


_AZURE_CLASS = None


def _azure_class():
    """AzureBlobFileSystem with bounded retries, and ranged reads that never send a suffix range."""
    global _AZURE_CLASS
    if _AZURE_CLASS is None:
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

        _AZURE_CLASS = BoundedAzureBlobFileSystem
    return _AZURE_CLASS


# -- failures ----------------------------------------------------------------------------------------
PERMISSION_DENIED = "permission denied (check the credentials)"
_REASONS = (  # (class names anywhere in the exception's MRO or chain, what to tell the user)
    ({"ReadTimeoutError", "ConnectTimeoutError", "ServerTimeoutError", "ServiceResponseTimeoutError",
      "ServiceRequestTimeoutError", "FSTimeoutError", "TimeoutError"}, "timed out"),
    ({"EndpointConnectionError", "ClientConnectorError", "ServerDisconnectedError", "ClientOSError",
      "ServiceRequestError", "ServiceResponseError", "ConnectionError", "ConnectionClosedError"},
     "cannot reach the server"),
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


__all__ = ["filesystem_for", "is_remote", "load_token", "failure_reason"]
