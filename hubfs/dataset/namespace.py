"""``user/ds`` names -> urls under the configured root, and the config file that holds root and login.

The root is ``HUBFS_ROOT``, else the config file's ``root``, else the local folder ``~/.hubfs/datasets``,
so ``username/dataset`` urls work with no cloud at all. The config file (``HUBFS_CONFIG``, else
``~/.hubfs/config``) is JSON, created with mode 0600 and replaced atomically:

    {"root": "s3://bucket/prefix", "user": "alice",
     "credentials": {"s3://bucket/prefix": {"aws_access_key_id": "...", "endpoint_url": "..."}}}

Credentials are kept per root and used as the token for urls under that root when the caller gives none.
They are secrets: nothing here puts them in a message, and ``redact`` masks them for display.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any

from hubfs.errors import ConfigError

DEFAULT_ROOT = "~/.hubfs/datasets"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*/[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Token keys whose values are not secret; every other value is masked by ``redact``.
PUBLIC_KEYS = frozenset({"endpoint_url", "region", "region_name", "account_name", "project", "anon",
                         "aws_access_key_id", "type", "client_email", "client_id", "tenant_id"})
SETTINGS = ("root", "user", "endpoint")  # what `hubfs config set/get` may touch


# -- the config file ---------------------------------------------------------------------------------
def config_path() -> str:
    return os.path.expanduser(os.environ.get("HUBFS_CONFIG") or "~/.hubfs/config")


def load_config() -> dict:
    """The config file's contents ({} when there is none)."""
    path = config_path()
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"config file {path} is not readable JSON ({type(exc).__name__}); "
                          f"fix or remove it") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"config file {path} does not hold a JSON object; fix or remove it")
    return doc


def save_config(doc: dict) -> str:
    """Write the config atomically, mode 0600 from the first byte; returns its path."""
    path = config_path()
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config.", dir=folder)  # mkstemp creates with 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


# -- the root and its credentials --------------------------------------------------------------------
def _normal_root(root: str) -> str:
    root = root.strip()
    if "://" not in root:
        root = os.path.abspath(os.path.expanduser(root))
    return root.rstrip("/") or "/"


def root(config: dict | None = None) -> str:
    """The namespace root: ``HUBFS_ROOT``, else the config's ``root``, else ``~/.hubfs/datasets``."""
    if os.environ.get("HUBFS_ROOT"):
        return _normal_root(os.environ["HUBFS_ROOT"])
    config = load_config() if config is None else config
    return _normal_root(config.get("root") or DEFAULT_ROOT)


default_root = root  # the name of the minimal version


def credentials(for_root: str | None = None, config: dict | None = None) -> dict | None:
    """The stored token for ``for_root`` (the current root by default), or None."""
    config = load_config() if config is None else config
    key = _normal_root(for_root) if for_root else root(config)
    token = (config.get("credentials") or {}).get(key)
    return dict(token) if token else None


def is_name(url: str) -> bool:
    """True when ``url`` is a ``user/dataset`` name rather than a path or url."""
    return ("://" not in url and not url.startswith((".", "/", "~")) and bool(_NAME.match(url))
            and not os.path.exists(url))


def resolve(url: str, token: Any = None) -> tuple[str, Any]:
    """(url, token) with a ``user/ds`` name turned into ``<root>/user/ds``.

    When no token is given and the url lies under the configured root, the root's stored credentials
    are the token.
    """
    if not isinstance(url, str):
        url = os.fspath(url)
    config = load_config()
    base = root(config)
    if is_name(url):
        url = f"{base.rstrip('/')}/{url}"
    if token is None and (url == base or url.startswith(base.rstrip("/") + "/")):
        token = credentials(base, config)
    return _sas_out_of_url(url, token)


def _sas_out_of_url(url: str, token: Any) -> tuple[str, Any]:
    """An Azure SAS url (``https://ACCOUNT.blob.core.windows.net/c/p?sv=...&sig=...``) keeps its secret in
    the query: move it into the token so the dataset's url (shown in reprs, logs, mounts) holds none."""
    if not url.lower().startswith(("https://", "http://")) or "?" not in url:
        return url, token
    from hubfs.dataset.stores import load_token

    bare, _, query = url.partition("?")
    token = load_token(token)
    token.setdefault("sas_token", query)
    return bare, token


def datasets(where: str | None = None, token: Any = None) -> list[tuple[str, int]]:
    """(``user/ds`` name, length) of every dataset of a namespace, sorted: ``where`` is None (the configured
    root), a user name (that user's datasets under the root) or a root's url or path."""
    from hubfs.dataset.stores import filesystem_for
    from hubfs.errors import StoreError

    if where is None or ("://" not in where and "/" not in where and not os.path.exists(where)):
        base, pattern = root(), f"{where}/*" if where else "*/*"
    else:
        base, pattern = _normal_root(where), "*/*"
    url, token = resolve(base, token)
    try:
        fs, path = filesystem_for(url, token)
        docs = sorted(fs.glob(f"{path.rstrip('/')}/{pattern}/zarr.json"))
        found = []
        for doc in docs:
            meta = json.loads(fs.cat_file(doc)).get("attributes", {}).get("hubfs")
            if isinstance(meta, dict) and "length" in meta:
                found.append(("/".join(doc.rsplit("/", 3)[1:3]), int(meta["length"])))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot list the datasets under {url}: {type(exc).__name__}: {exc}") from exc
    return found


def user(config: dict | None = None) -> str | None:
    config = load_config() if config is None else config
    return config.get("user") or None


# -- display -----------------------------------------------------------------------------------------
def redact(token: Any) -> Any:
    """A copy of ``token`` safe to print: secret values masked, public ones (endpoint, account) kept."""
    if token is None:
        return None
    if isinstance(token, dict):
        return {k: (redact(v) if isinstance(v, dict) else v if k in PUBLIC_KEYS else "***")
                for k, v in token.items()}
    if isinstance(token, str) and token == "anon":
        return token
    if isinstance(token, (str, os.PathLike)):
        return f"<credentials file {os.fspath(token)}>"
    return "***"


__all__ = ["resolve", "root", "datasets", "credentials", "is_name", "load_config", "save_config", "config_path",
           "redact", "user", "SETTINGS"]
