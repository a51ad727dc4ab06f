"""Options that many commands share, defined once: a store's credentials file, and JSON output."""
from __future__ import annotations

import argparse
import os

from hubfs.errors import ConfigError


def add_token(parser: argparse.ArgumentParser, store: str = "the store", flag: str = "--token") -> None:
    """``--token FILE``: the JSON credentials file of ``store`` (read with ``token_file``)."""
    parser.add_argument(flag, metavar="FILE", help=f"JSON credentials file for {store}")


def add_json(parser: argparse.ArgumentParser, what: str = "print JSON") -> None:
    parser.add_argument("--json", action="store_true", help=what)


def token_file(path: str | None) -> str | None:
    """The absolute path of a ``--token`` file (the store reads it), or None; ConfigError when missing."""
    if path is None:
        return None
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise ConfigError(f"token file {path!r} does not exist")
    return path
