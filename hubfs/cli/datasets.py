"""``hubfs copy | delete``: whole-dataset operations, with a progress bar on long copies."""
from __future__ import annotations

import argparse
import sys

from hubfs.cli.mount import _token


def register(sub: "argparse._SubParsersAction") -> None:
    """Add this module's sub-commands to the ``hubfs`` parser."""
    p = sub.add_parser("copy", help="copy a dataset to another url (any store to any store)")
    p.add_argument("src", help="dataset url or user/name")
    p.add_argument("dst", help="url or user/name where nothing is stored yet")
    p.add_argument("--token", metavar="FILE", help="JSON credentials file for the source store")
    p.add_argument("--dst-token", metavar="FILE", help="JSON credentials file for the destination store")
    p.set_defaults(func=cmd_copy)

    p = sub.add_parser("delete", help="delete a dataset from its store")
    p.add_argument("url")
    p.add_argument("--token", metavar="FILE", help="JSON credentials file for the store")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete)


def cmd_copy(args: argparse.Namespace) -> int:
    import hubfs

    with hubfs.Dataset(args.src, mode="r", token=_token(args.token)) as src:
        out = src.copy(args.dst, token=_token(args.dst_token), progress=True)
        print(f"copied {len(out)} samples to {out.url}")
        out.close()
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    import hubfs

    ds = hubfs.Dataset(args.url, mode="r+", token=_token(args.token))
    if not args.yes:
        if not sys.stdin.isatty():
            print("hubfs: error: refusing to delete without --yes (no terminal to ask)", file=sys.stderr)
            ds.close()
            return 2
        answer = input(f"delete {ds.url} ({len(ds)} samples)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            ds.close()
            return 1
    ds.delete()
    print(f"deleted {ds.url}")
    return 0
