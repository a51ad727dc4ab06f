"""``hubfs mount | unmount | refresh | status | info``: serve a dataset as a folder of ordinary files, and describe one."""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

from hubfs.cli import options
from hubfs.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'64M', '1.5GiB', '1000' -> bytes (binary units)."""
    m = _SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 512M or 2G")
    value, unit = float(m.group(1)), m.group(2).lower()
    return int(value * 1024 ** ("kmgt".index(unit) + 1)) if unit else int(value)


def register(sub: "argparse._SubParsersAction") -> None:
    """Add this module's sub-commands to the ``hubfs`` parser."""
    p = sub.add_parser("mount", help="show a dataset as a folder of ordinary files",
                       description="Mount the dataset at URL on the folder MOUNTPOINT: one folder per sample, "
                                   "one file per tensor, or one folder per class with --layout classes (see doc/SEMANTICS.md). Returns once the mount is ready; "
                                   "a background process serves it until `hubfs unmount MOUNTPOINT`. URL@ADDRESS mounts "
                                   "a version: at a commit id the mount is read-only (writes fail with EROFS), at a branch "
                                   "name it serves that branch's head, writable unless --read-only.")
    p.add_argument("url", help="dataset url: a folder, s3://..., gcs://..., or user/name; @BRANCH or @COMMIT "
                               "for a version (default: the master branch)")
    p.add_argument("mountpoint", help="an existing folder")
    p.add_argument("--read-only", action="store_true",
                   help="refuse every write with EROFS; repeated reads come from the page cache (for training)")
    p.add_argument("--foreground", action="store_true", help="serve in this process until unmounted or ^C")
    p.add_argument("--cache", type=parse_size, metavar="SIZE", help="dataset cache size, e.g. 256M (default 64M)")
    options.add_token(p, "the store")
    p.add_argument("--layout", choices=("samples", "classes"), default="samples",
                   help="samples (default): <index>/<tensor>.<ext>; classes: <class>/<index>.<ext>, one folder per "
                        "class as torchvision's ImageFolder reads it")
    p.add_argument("--image", metavar="KEY", help="classes layout: the image tensor (default: the only Image)")
    p.add_argument("--label", metavar="KEY", help="classes layout: the label tensor (default: the only ClassLabel)")
    p.add_argument("--split", metavar="KEY", help="classes layout: a Text or ClassLabel tensor naming each "
                                                  "sample's split: <split>/<class>/<index>.<ext>")
    p.add_argument("--split-at", type=int, metavar="N", help="classes layout: train/ holds samples 0..N-1, val/ the rest")
    p.set_defaults(func=cmd_mount)

    p = sub.add_parser("unmount", help="flush and unmount (also clears a mount left by a killed process)")
    p.add_argument("mountpoint")
    p.set_defaults(func=cmd_unmount)

    p = sub.add_parser("refresh", help="make a --read-only mount serve what another process has flushed since")
    p.add_argument("mountpoint")
    p.set_defaults(func=cmd_refresh)

    p = sub.add_parser("status", help="what a mount serves: dataset, mode, version, pending writes, recent refusals")
    p.add_argument("mountpoint")
    options.add_json(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("info", help="describe a dataset: length, version, tensors, their files in a mount")
    p.add_argument("url", help="dataset url or user/name, @BRANCH or @COMMIT for a version")
    options.add_token(p, "the store")
    options.add_json(p)
    p.set_defaults(func=cmd_info)


def version_line(version: dict) -> str:
    """'branch master, head abc...' or 'commit abc... of branch b' (a version as info.json names it)."""
    if not version.get("at_head"):
        return f"commit {version['commit']} of branch {version['branch']} (read-only)"
    head = f", head {version['commit']}" if version.get("commit") else " (never committed)"
    return f"branch {version['branch']}{head}"


def cmd_mount(args: argparse.Namespace) -> int:
    from hubfs.fuse.mount import mount

    from hubfs.fuse.mount import log_of

    layout = None
    class_options = {"image": args.image, "label": args.label, "split": args.split, "split_at": args.split_at}
    if args.layout == "classes":
        layout = {k: v for k, v in class_options.items() if v is not None}
    elif any(v is not None for v in class_options.values()):
        raise ConfigError("--image, --label, --split and --split-at need --layout classes")
    pid = mount(args.url, args.mountpoint, read_only=args.read_only, cache=args.cache, token=options.token_file(args.token),
                foreground=args.foreground, layout=layout)
    if not args.foreground:
        print(f"mounted {args.url} on {args.mountpoint} (process {pid}); `hubfs unmount {args.mountpoint}` to stop")
        print(f"refused writes: {args.mountpoint}/.hubfs/errors.log, `hubfs status {args.mountpoint}`; "
              f"log: {log_of(args.mountpoint)}")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    from hubfs.fuse.mount import refresh

    refresh(args.mountpoint)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from hubfs.errors import MountError
    from hubfs.fuse.mount import canonical, mounted

    mp = canonical(args.mountpoint)
    if mounted(mp) != "fuse.hubfs":
        raise MountError(f"no hubfs mount at {mp}")
    try:
        with open(os.path.join(mp, ".hubfs", "status.json")) as f:
            status = json.load(f)
        with open(os.path.join(mp, ".hubfs", "errors.log"), errors="replace") as f:
            errors = f.read().splitlines()
    except OSError as exc:
        raise MountError(f"the mount at {mp} does not answer: {exc.strerror}") from None
    status["recent_errors"] = errors[-5:]
    if args.json:
        json.dump(status, sys.stdout, indent=2)
        print()
        return 0
    print(f"{mp}: {status['url']} ({status['length']} samples), {status['mode']}, hubfs {status['hubfs_version']}")
    print(f"  open for writing: {len(status['open_for_writing'])}, uncommitted: {len(status['uncommitted'])}, "
          f"scratch files: {len(status['scratch_files'])}")
    for path in status["uncommitted"]:
        print(f"    uncommitted {path}")
    print(f"  version: {version_line(status['version'])}")
    print(f"  refusals: {status['errors']} (in {mp}/.hubfs/errors.log); log: {status['log']}")
    for line in errors[-5:]:
        print(f"    {line}")
    return 0


def cmd_unmount(args: argparse.Namespace) -> int:
    from hubfs.fuse.mount import unmount

    unmount(args.mountpoint)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from hubfs.dataset.dataset import split_address
    from hubfs.fuse.mount import open_dataset
    from hubfs.fuse.view import View

    url, version = split_address(args.url)
    ds, commit = open_dataset(url, True, None, options.token_file(args.token), version)
    view = View(ds, commit=commit)
    try:
        info = view.info()
        for key, t in info["tensors"].items():
            schema = ds.tensor_type(key)
            t.update(shape=list(schema.shape), dtype=str(schema.dtype), max_shape=schema.max_shape,
                     compressor=schema.compressor)
    finally:
        view.close()
        ds.close()
    if args.json:
        json.dump(info, sys.stdout, indent=2, default=str)
        print()
        return 0
    print(f"{info['url']}: {info['length']} samples, {version_line(info['version'])}")
    width = max(len(k) for k in info["tensors"])
    for key, t in info["tensors"].items():
        shape = "(" + ", ".join(str(d) for d in t["shape"]) + (",)" if len(t["shape"]) == 1 else ")")
        print(f"  {key:<{width}}  {t['type']:<12} shape={shape} dtype={t['dtype']} "
              f"compressor={t['compressor']}  ->  <i>/{t['file']}")
    if info["meta_information"]:
        print(f"  meta_information: {json.dumps(info['meta_information'], default=str)}")
    return 0
