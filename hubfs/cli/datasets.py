"""``hubfs ls | copy | delete | ingest | export``: whole-dataset operations, with progress bars on stderr (shown
when it is a terminal, never with ``--quiet``)."""
from __future__ import annotations

import argparse
import sys

from hubfs.cli import options
from hubfs.compute.schedulers import SCHEDULERS


def _progress(args: argparse.Namespace) -> bool:
    """Show progress bars: on a terminal (stderr), unless --quiet."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def register(sub: "argparse._SubParsersAction") -> None:
    """Add this module's sub-commands to the ``hubfs`` parser."""
    p = sub.add_parser("ls", help="the datasets of the namespace (user/name and length)",
                       description="List the datasets under the namespace root: all of them, a USER's, or "
                                   "those under another ROOT (a folder or url).")
    p.add_argument("where", nargs="?", metavar="ROOT|USER", help="a user name or a root url (default: the root)")
    options.add_token(p, "the root's store")
    options.add_json(p)
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("copy", help="copy a dataset to another url (any store to any store)")
    p.add_argument("src", help="dataset url or user/name")
    p.add_argument("dst", help="url or user/name where nothing is stored yet")
    options.add_token(p, "the source store")
    options.add_token(p, "the destination store", "--dst-token")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_copy)

    p = sub.add_parser("delete", help="delete a dataset from its store")
    p.add_argument("url")
    options.add_token(p, "the store")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("ingest", help="make a dataset of an image-class folder, a CSV folder or a TFDS data set",
                       description="Make the dataset URL of SOURCE: a folder root/<class>/<image> (an image and "
                                   "a class label named by the folders), a folder of CSV files (one tensor per "
                                   "column), or tfds:NAME[:SPLIT] (a TensorFlow Datasets data set, e.g. "
                                   "tfds:mnist:test+train). Runs as a transform on the scheduler chosen.")
    p.add_argument("source", help="a folder, or tfds:NAME[:SPLIT]")
    p.add_argument("url", help="where to write the dataset: a folder, s3://..., or user/name")
    p.add_argument("--scheduler", default="single", choices=SCHEDULERS, help="where the work runs (default single)")
    p.add_argument("--workers", type=int, default=1, help="threads, processes or dask workers (default 1)")
    p.add_argument("--sample-per-shard", type=int, metavar="N", help="source samples per task")
    p.add_argument("--num", type=int, default=-1, help="tfds: at most this many samples (default all)")
    p.add_argument("--data-dir", metavar="DIR", help="tfds: where TFDS keeps prepared data sets")
    p.add_argument("--overwrite", action="store_true", help="replace a dataset already at URL")
    options.add_token(p, "the destination store")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("export", help="write a dataset's sample files to a folder, as its mount shows them",
                       description="Write every sample of URL under FOLDER as the mount lays it out: FOLDER/<i>/"
                                   "<tensor>.<ext> (images as stored, labels and text as .txt, boxes as .json, "
                                   "audio as .wav, the rest as .npy) and FOLDER/.hubfs/{schema,info}.json.")
    p.add_argument("url")
    p.add_argument("folder", help="a folder that does not exist yet or is empty")
    options.add_token(p, "the store")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_export)


def cmd_ls(args: argparse.Namespace) -> int:
    import json

    from hubfs.dataset import namespace

    found = namespace.datasets(args.where, options.token_file(args.token))
    if args.json:
        print(json.dumps([{"name": name, "length": length} for name, length in found]))
        return 0
    width = max([len(name) for name, _ in found] + [1])
    for name, length in found:
        print(f"{name:<{width}}  {length} samples")
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    import hubfs

    with hubfs.Dataset(args.src, mode="r", token=options.token_file(args.token)) as src:
        out = src.copy(args.dst, token=options.token_file(args.dst_token), progress=_progress(args))
        print(f"copied {len(out)} samples to {out.url}")
        out.close()
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    import hubfs

    ds = hubfs.Dataset(args.url, mode="r+", token=options.token_file(args.token))
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


def _source(args: argparse.Namespace) -> object:
    """The Transform that makes the dataset of ``args.source``."""
    import hubfs

    if args.source.startswith("tfds:"):
        name, _, split = args.source[len("tfds:"):].partition(":")
        return hubfs.Dataset.from_tfds(name, split=split or None, num=args.num, scheduler=args.scheduler,
                                       workers=args.workers, data_dir=args.data_dir)
    return hubfs.Dataset.from_path(args.source, scheduler=args.scheduler, workers=args.workers)


def cmd_ingest(args: argparse.Namespace) -> int:
    import hubfs
    from hubfs.errors import DatasetNotFoundError

    token = options.token_file(args.token)
    if not args.overwrite:
        try:
            hubfs.Dataset(args.url, mode="r", token=token).close()
        except DatasetNotFoundError:
            pass
        else:
            print(f"hubfs: error: a dataset is at {args.url} already (--overwrite replaces it)", file=sys.stderr)
            return 1
    out = _source(args).store(args.url, token=token, progressbar=_progress(args),
                              sample_per_shard=args.sample_per_shard)
    tensors = ", ".join(f"{k} {out.tensor_type(k)!r}" for k in out.keys())
    print(f"ingested {len(out)} samples into {out.url}: {tensors}")
    out.close()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from hubfs.dataset.dataset import split_address
    from hubfs.fuse.export import export
    from hubfs.fuse.mount import open_dataset

    url, version = split_address(args.url)
    ds, commit = open_dataset(url, True, None, options.token_file(args.token), version)
    with ds:
        done = export(ds, args.folder, progress=_progress(args), commit=commit)
    print(f"exported {done.samples} samples ({done.files} files, {done.nbytes} bytes) to {args.folder}")
    return 0
