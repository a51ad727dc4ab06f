"""``hubfs log | commit | checkout | diff``: a dataset's versions from the command line (Hub 1.3's API).

A command line has no "current" version: each command names one with ``URL@ADDRESS`` (a branch name or a
commit id; the ``master`` branch when none is given), as ``hubfs mount URL@ADDRESS`` and
``hubfs.Dataset("URL@ADDRESS")`` do.
"""
from __future__ import annotations

import argparse
import json

from hubfs.cli import options
from hubfs.errors import VersionError

_AT = "dataset url or user/name; @BRANCH or @COMMIT names a version (default: the master branch)"


def register(sub: "argparse._SubParsersAction") -> None:
    """Add this module's sub-commands to the ``hubfs`` parser."""
    p = sub.add_parser("log", help="the commits behind a version, newest first",
                       description="Print the commits behind URL's version (the master branch's head, or "
                                   "URL@BRANCH / URL@COMMIT), newest first, as Hub's log() prints them.")
    p.add_argument("url", help=_AT)
    options.add_token(p, "the store")
    options.add_json(p, "print JSON: one object per commit")
    p.set_defaults(func=cmd_log)

    p = sub.add_parser("commit", help="save a branch's current state as a commit; prints its id",
                       description="Commit the working state of URL's branch (master, or URL@BRANCH): only "
                                   "objects changed since the branch's last commit are copied. Prints the "
                                   "commit id. Fails while another process writes the branch (a writable mount "
                                   "of it: unmount first).")
    p.add_argument("url", help="dataset url or user/name; @BRANCH commits another branch")
    p.add_argument("-m", "--message", default="", help="the commit message")
    options.add_token(p, "the store")
    p.set_defaults(func=cmd_commit)

    p = sub.add_parser("checkout", help="check that a version exists (or create a branch); prints its id",
                       description="Resolve ADDRESS (a branch name or a commit id) in the dataset at URL and "
                                   "print the id it stands for: a commit's id, or a branch head's working id. "
                                   "With --create an unknown ADDRESS becomes a new branch starting from URL's "
                                   "version (master, or URL@BRANCH / URL@COMMIT). Nothing else changes: a "
                                   "command line has no current version; read or mount one with URL@ADDRESS.")
    p.add_argument("url", help=_AT + "; where a new branch starts")
    p.add_argument("address", help="a branch name or a commit id")
    p.add_argument("--create", action="store_true", help="create the branch ADDRESS when there is none")
    options.add_token(p, "the store")
    p.set_defaults(func=cmd_checkout)

    p = sub.add_parser("diff", help="which samples of which tensors differ between two versions",
                       description="Compare versions A and B (branch names or commit ids) of the dataset at URL "
                                   "from their manifests, without reading sample data. A sample is listed when "
                                   "the chunk or shard holding it differs, so unchanged neighbours in a changed "
                                   "chunk are listed too.")
    p.add_argument("url", help="dataset url or user/name")
    p.add_argument("a", help="a branch name or a commit id")
    p.add_argument("b", help="a branch name or a commit id")
    options.add_token(p, "the store")
    p.add_argument("--json", action="store_true",
                   help='print JSON: {"length": [a, b], "added": [...], "removed": [...], "changed": {tensor: [i, ...]}}')
    p.set_defaults(func=cmd_diff)


def cmd_log(args: argparse.Namespace) -> int:
    import hubfs

    with hubfs.Dataset(args.url, mode="r", token=options.token_file(args.token)) as ds:
        if args.json:
            print(json.dumps([record.info() for record in ds.history()], indent=2))
        else:
            ds.log()
    return 0


def cmd_commit(args: argparse.Namespace) -> int:
    import hubfs
    from hubfs.dataset.dataset import split_address
    from hubfs.fuse.mount import resolve_address

    token = options.token_file(args.token)
    url, address = split_address(args.url)
    if address is not None and resolve_address(url, token, address).commit is not None:
        raise VersionError(f"{address} is a commit, which never changes: commit on a branch (URL@BRANCH)")
    with hubfs.Dataset(url, mode="r+", token=token, version=address) as ds:
        print(ds.commit(args.message))
    return 0


def cmd_checkout(args: argparse.Namespace) -> int:
    import hubfs
    from hubfs.dataset.dataset import split_address
    from hubfs.errors import AddressNotFound
    from hubfs.fuse.mount import resolve_address

    token = options.token_file(args.token)
    url, start = split_address(args.url)
    try:
        print(resolve_address(url, token, args.address).commit_id)
        return 0
    except AddressNotFound:
        if not args.create:
            raise
    with hubfs.Dataset(url, mode="r+", token=token, version=start) as ds:
        print(ds.checkout(args.address, create=True))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from hubfs.dataset.versions import diff

    found = diff(args.url, args.a, args.b, token=options.token_file(args.token))
    if args.json:
        print(json.dumps(found))
        return 0
    (la, lb), same = found["length"], True
    if la != lb:
        print(f"length: {la} -> {lb}")
        same = False
    for what in ("added", "removed"):
        if found[what]:
            print(f"{what} tensors: {', '.join(found[what])}")
            same = False
    for tensor, indices in found["changed"].items():
        print(f"{tensor}: {len(indices)} sample{'s' if len(indices) != 1 else ''} differ: {ranges(indices)}")
        same = False
    if same:
        print("no differences")
    return 0


def ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8'."""
    out: list[list[int]] = []
    for i in indices:
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in out)
