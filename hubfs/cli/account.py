"""``hubfs login | logout | register | config``: the user name, the namespace root and its credentials.

``login`` keeps the user name and the root's credentials in the config file (mode 0600); ``-p SECRET``
means, by the root's kind:

- S3 (AWS, MinIO): the secret access key, with ``-u`` as the access key id; or ``KEY_ID:SECRET``;
- GCS: a service-account file, or ``anon``;
- Azure: an account key, a SAS token (``?sv=...``) or a connection string; the account is the one in
  the root url (``https://ACCOUNT.blob.core.windows.net/...``), else ``-u``;
- any store: a JSON object, or the path of a JSON credentials file, taken as the token itself.

``-p -`` reads the secret from standard input. Secrets are never printed.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from urllib.parse import urlsplit

from hubfs.dataset import namespace
from hubfs.dataset.stores import filesystem_for, is_remote, load_token
from hubfs.errors import ConfigError, StoreError

USER_MARKER = ".hubfs-user.json"


def register(sub: "argparse._SubParsersAction") -> None:
    """Add this module's sub-commands to the ``hubfs`` parser."""
    p = sub.add_parser("login", help="keep the user name and the root's credentials",
                       description="Keep the user name and the credentials of the namespace root "
                                   "(user/ds urls live under it). Prompts for what is missing.")
    p.add_argument("-u", "--user", help="user name (for S3 also the access key id unless -p is ID:SECRET)")
    p.add_argument("-p", "--password", metavar="SECRET", help="the root's secret; '-' reads standard input")
    p.add_argument("--root", help="namespace root url, e.g. s3://bucket/prefix (default: the configured one)")
    p.add_argument("--endpoint", help="server url of an S3-compatible, GCS or Azure endpoint")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("logout", help="forget the user name and every stored credential")
    p.set_defaults(func=cmd_logout)

    p = sub.add_parser("register", help="create the user's namespace on the root")
    p.add_argument("-u", "--user", help="user name (default: the logged-in one)")
    p.set_defaults(func=cmd_register)

    p = sub.add_parser("config", help="show or change settings: root, user, endpoint")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    csub.required = True
    s = csub.add_parser("set", help="set KEY to VALUE")
    s.add_argument("key", choices=namespace.SETTINGS)
    s.add_argument("value")
    s.set_defaults(func=cmd_config_set)
    g = csub.add_parser("get", help="print KEY (or every setting, secrets masked)")
    g.add_argument("key", nargs="?", choices=namespace.SETTINGS)
    g.set_defaults(func=cmd_config_get)


# -- login -------------------------------------------------------------------------------------------
def _prompt(label: str, default: str | None = None) -> str:
    shown = f"{label} [{default}]: " if default else f"{label}: "
    try:
        value = input(shown).strip()
    except EOFError:
        value = ""
    return value or (default or "")


def _read_secret(arg: str | None, label: str) -> str:
    if arg == "-":
        return sys.stdin.readline().rstrip("\r\n")
    if arg is not None:
        return arg
    if sys.stdin.isatty():
        return getpass.getpass(f"{label} (hidden): ")
    return sys.stdin.readline().rstrip("\r\n")


def token_from_secret(root: str, user: str, secret: str, endpoint: str | None) -> dict:
    """The token a login with ``secret`` means for a root of that kind."""
    token: dict = {}
    secret = secret.strip()
    if secret.startswith("{"):
        try:
            token = json.loads(secret)
        except ValueError:
            raise ConfigError("the secret looks like JSON but does not parse") from None
        if not isinstance(token, dict):
            raise ConfigError("a JSON secret must be an object")
    elif secret and os.path.isfile(os.path.expanduser(secret)):
        token = load_token(secret)
        if "token" in token and isinstance(token["token"], str) and os.path.isfile(token["token"]):
            with open(token["token"], encoding="utf-8") as f:  # keep the contents, not a path that may move
                token = json.load(f)
    elif secret:
        scheme = root.split("://", 1)[0].lower() if "://" in root else "file"
        if scheme in ("s3", "s3a"):
            key_id, sep, rest = secret.partition(":")
            token = {"aws_access_key_id": key_id, "aws_secret_access_key": rest} if sep else \
                {"aws_access_key_id": user, "aws_secret_access_key": secret}
        elif scheme in ("gcs", "gs"):
            if secret != "anon":
                raise ConfigError("for a GCS root the secret is a service-account file or 'anon'")
            token = {"token": "anon"}
        elif scheme in ("az", "abfs", "abfss", "azure", "https"):
            host = urlsplit(root).hostname or "" if scheme == "https" else ""
            account = host.split(".", 1)[0] if host else user
            if "AccountName=" in secret or "BlobEndpoint=" in secret:
                token = {"connection_string": secret}
            elif secret.startswith("?") or "sig=" in secret:
                token = {"account_name": account, "sas_token": secret}
            else:
                token = {"account_name": account, "account_key": secret}
        else:
            raise ConfigError(f"a root of kind {scheme!r} takes no secret")
    if endpoint:
        token["endpoint_url"] = endpoint
    return token


def cmd_login(args: argparse.Namespace) -> int:
    config = namespace.load_config()
    root = namespace._normal_root(args.root) if args.root else namespace.root(config)
    default_user = config.get("user") or getpass.getuser()
    if args.user:
        user = args.user
    elif args.password == "-":  # standard input carries the secret: no prompt may read it first
        user = default_user
    else:
        user = _prompt("user name", default_user)
    if not user:
        raise ConfigError("a user name is needed")
    if is_remote(root):
        secret = _read_secret(args.password, f"secret for {root}")
    else:  # a local root needs no credentials; `-p` is accepted (the seed's `hub login -u -p`) and unused
        secret = ""
        if args.password == "-":
            sys.stdin.readline()
    token = token_from_secret(root, user, secret, args.endpoint)
    config["user"] = user
    if args.root:
        config["root"] = root
    creds = dict(config.get("credentials") or {})
    if token:
        creds[root] = token
    else:
        creds.pop(root, None)
    config["credentials"] = creds
    path = namespace.save_config(config)
    if token:
        print(f"logged in as {user}; root {root}; credentials kept in {path}")
    else:
        print(f"logged in as {user}; root {root}" + (" (no stored credentials: the environment's apply)"
                                                      if is_remote(root) else ""))
    problem = _check_root(root, token or None)
    if problem:
        print(f"warning: the root is not reachable with these credentials: {problem}", file=sys.stderr)
    return 0


def _check_root(root: str, token: dict | None) -> str | None:
    """None when the root answers a listing; else a short reason without secrets."""
    if not is_remote(root):
        return None
    try:
        fs, path = filesystem_for(root, token)
        fs.exists(path)
    except ConfigError as exc:
        return str(exc)
    except Exception as exc:  # backend messages can echo credentials: only the kind of failure
        return type(exc).__name__
    return None


# -- logout, register, config --------------------------------------------------------------------------
def cmd_logout(args: argparse.Namespace) -> int:
    config = namespace.load_config()
    had = bool(config.pop("user", None)) | bool(config.pop("credentials", None))
    if had or os.path.exists(namespace.config_path()):
        namespace.save_config(config)
    print("logged out; stored credentials removed" if had else "not logged in")
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    config = namespace.load_config()
    user = args.user or config.get("user") or _prompt("user name", getpass.getuser())
    if not namespace.is_name(f"{user}/x"):
        raise ConfigError(f"user name {user!r} may hold only letters, digits, '_', '.' and '-'")
    root = namespace.root(config)
    url, token = namespace.resolve(f"{root}/{user}")
    try:
        fs, path = filesystem_for(url, token)
        if not is_remote(url) or url.startswith("memory://"):
            fs.makedirs(path, exist_ok=True)
        elif not fs.exists(path.split("/", 1)[0]):
            fs.mkdir(path.split("/", 1)[0])  # the bucket or container
        marker = f"{path}/{USER_MARKER}"
        if not fs.exists(marker):
            fs.pipe_file(marker, json.dumps({"user": user, "created": time.time()}).encode())
    except ConfigError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot create the namespace {url}: {type(exc).__name__}") from exc
    if not config.get("user"):
        config["user"] = user
        namespace.save_config(config)
    print(f"namespace {user} ready at {url}; datasets named {user}/NAME live there")
    return 0


def cmd_config_set(args: argparse.Namespace) -> int:
    config = namespace.load_config()
    if args.key == "root":
        config["root"] = namespace._normal_root(args.value)
    elif args.key == "user":
        config["user"] = args.value
    elif args.key == "endpoint":
        root = namespace.root(config)
        creds = dict(config.get("credentials") or {})
        creds[root] = {**creds.get(root, {}), "endpoint_url": args.value}
        config["credentials"] = creds
    namespace.save_config(config)
    return 0


def cmd_config_get(args: argparse.Namespace) -> int:
    config = namespace.load_config()
    root = namespace.root(config)
    values = {"root": root, "user": config.get("user"),
              "endpoint": (namespace.credentials(root, config) or {}).get("endpoint_url")}
    if args.key:
        if values[args.key] is None:
            return 1
        print(values[args.key])
        return 0
    for key in namespace.SETTINGS:
        print(f"{key} = {values[key] if values[key] is not None else ''}")
    creds = namespace.credentials(root, config)
    print(f"credentials = {json.dumps(namespace.redact(creds)) if creds else ''}")
    print(f"config file = {namespace.config_path()}")
    return 0
