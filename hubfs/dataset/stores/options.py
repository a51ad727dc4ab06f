"""What every backend shares: url schemes, tokens (dicts, JSON and AWS credentials files), time-outs and
retries, and the per-process cache of file systems.

``token`` is a dict, or a path to a file holding one: a JSON object (for GCS also a service-account file),
or an AWS shared-credentials file (the INI format of ``~/.aws/credentials``; the profile named by
``AWS_PROFILE``, else ``default``, else the only one; ``endpoint_url`` and ``region`` read as well), or
``"anon"``. A file that parses as neither is a ``ConfigError``. Token values are secrets: they never
appear in an error message raised here.
"""
from __future__ import annotations

import configparser
import json
import os
import threading
from typing import Any, Callable
from urllib.parse import urlsplit

import fsspec

from hubfs.errors import ConfigError

CONNECT_TIMEOUT = 5  # seconds to open a connection            (env HUBFS_CONNECT_TIMEOUT)
READ_TIMEOUT = 20  # seconds a request may wait for more bytes   (env HUBFS_READ_TIMEOUT)
RETRIES = 3  # attempts per request, the first included         (env HUBFS_RETRIES)

LOCAL = ("file", "local")
S3 = ("s3", "s3a")
GCS = ("gcs", "gs")
AZURE = ("az", "abfs", "abfss", "azure")
AZURE_HOST = ".blob.core.windows.net"
GOOGLE_CREDENTIALS = ("service_account", "authorized_user", "external_account")
_AWS_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "endpoint_url", "region")

_cache: dict[tuple, fsspec.AbstractFileSystem] = {}
_cache_lock = threading.Lock()


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "file"


def is_remote(url: str) -> bool:
    """True for urls whose bytes live on a server (not a local folder, not memory)."""
    return scheme(url) not in (*LOCAL, "memory")


def load_token(token: dict | str | os.PathLike | None) -> dict:
    """The token as a dict of options: a dict as given, a JSON or AWS credentials file's contents,
    ``"anon"`` as ``{"anon": True}``. Never echoes the contents in an error."""
    if token is None:
        return {}
    if isinstance(token, dict):
        return dict(token)
    if not isinstance(token, (str, os.PathLike)):
        raise ConfigError(f"token must be a dict or a path to a credentials file, not {type(token).__name__}")
    token = os.fspath(token)
    if token == "anon":
        return {"anon": True}
    path = os.path.expanduser(token)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(f"token file {path!r} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"token file {path!r} is not readable ({type(exc).__name__})") from None
    try:
        doc = json.loads(text)
    except ValueError:
        return _aws_credentials(path, text)
    if not isinstance(doc, dict):
        raise ConfigError(f"token file {path!r} does not hold a JSON object")
    if doc.get("type") in GOOGLE_CREDENTIALS:
        return {"token": path}  # Google credentials: gcsfs reads the file itself
    return doc


def _aws_credentials(path: str, text: str) -> dict:
    """One profile of an AWS shared-credentials (INI) file as a token dict."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        parser = None
    if parser is None or not parser.sections():
        raise ConfigError(f"token file {path!r} is neither a JSON object nor an AWS credentials file")
    wanted = os.environ.get("AWS_PROFILE")
    sections = parser.sections()
    name = wanted if wanted in sections else "default" if "default" in sections else \
        sections[0] if len(sections) == 1 else None
    if name is None:
        raise ConfigError(f"token file {path!r} has profiles {sections}: set AWS_PROFILE to pick one")
    section = parser[name]
    out = {key: section[key] for key in _AWS_KEYS if section.get(key)}
    if "region" not in out and section.get("region_name"):
        out["region"] = section["region_name"]
    if "aws_access_key_id" not in out or "aws_secret_access_key" not in out:
        raise ConfigError(f"token file {path!r}: profile [{name}] needs aws_access_key_id and aws_secret_access_key")
    return out


def number(name: str, default: float) -> float:
    """The positive number in environment variable ``name``, else ``default``; ConfigError if malformed."""
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


def limits() -> tuple[float, float, int]:
    """(connect time-out, read time-out, attempts), from the environment or the defaults."""
    return (number("HUBFS_CONNECT_TIMEOUT", CONNECT_TIMEOUT), number("HUBFS_READ_TIMEOUT", READ_TIMEOUT),
            max(1, int(number("HUBFS_RETRIES", RETRIES))))


def cached(key: tuple, make: Callable[[], fsspec.AbstractFileSystem]) -> fsspec.AbstractFileSystem:
    """One file system per (kind, options, process): opening many datasets on one store is cheap, and a
    forked child makes its own clients."""
    key = (os.getpid(), *key)
    with _cache_lock:
        fs = _cache.get(key)
        if fs is None:
            fs = _cache[key] = make()
        return fs


def freeze(value: Any) -> Any:
    """A hashable form of an options dict, for the cache key."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(freeze(v) for v in value)
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def split(url: str) -> str:
    """``bucket/path`` of a ``scheme://bucket/path`` url, without trailing slashes."""
    rest = url.split("://", 1)[1].strip("/")
    if not rest:
        raise ConfigError(f"url {redact_url(url)!r} names no bucket or container")
    return rest


def redact_url(url: str) -> str:
    """The url without a query string (SAS tokens travel there) or user info."""
    parts = urlsplit(url)
    if parts.query or parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return f"{parts.scheme}://{netloc}{parts.path}"
    return url


def endpoint(value: Any) -> str:
    """An endpoint url; a bare ``host:port`` (MinIO style) is taken as http."""
    value = str(value)
    return value if "://" in value else f"http://{value}"


def no_listings_cache(kwargs: dict) -> dict:
    """Another process (a mount, the writer) replaces objects: sizes from a cached listing would be stale
    and pair an old size with new bytes, so remote stores always ask the server (unless told otherwise)."""
    return {"use_listings_cache": False, **kwargs}
