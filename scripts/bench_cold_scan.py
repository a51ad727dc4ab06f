#!/usr/bin/env python
"""Issue 4's benchmark: a cold scan of a dataset on a local S3 server, through the mount vs s3fs directly.

Starts an S3 server on 127.0.0.1 (moto by default, or rclone), writes an MNIST-like dataset there (28x28
PNG + label per sample), then, each pass from cold (a fresh mount process, a fresh s3fs client):

- mount: mounts the dataset read-only and reads every file of every sample in order (what a training
  loop over the folder does);
- mount, local: the same, for the same dataset in a local folder (what the mount costs without S3);
- s3fs, files: the same files (the bytes the mount shows) stored as one S3 object each, fetched one
  after the other with a plain ``s3fs.S3FileSystem``: the usual way to keep a folder of samples on S3
  (on the first ``--file-samples`` samples only: one GET per file is slow, and the rate is what counts);
- s3fs, objects: every object the dataset is made of (its shards and chunks), fetched the same way: the
  bytes a scan needs, with no file boundaries at all (a floor no per-file reader can reach).

Prints the median rate of each in samples/s and the ratios mount rate / s3fs rate (1.0 = the mount is as
fast as fetching directly; the target is >= 0.8 against the files).

Cold: each pass's readers are new processes (mount) or clients (s3fs), and the OS page cache is dropped
before each of them (echo 3 > /proc/sys/vm/drop_caches, as root). Where that is refused the output says
"warm OS cache". The S3 server keeps its objects in its own memory (moto) or files (rclone) either way:
cold here means the reader's side, not the server's.

    .venv/bin/python scripts/bench_cold_scan.py [--samples 10000] [--file-samples 1000] [--passes 3]
                                                [--server moto|rclone]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)

import hubfs  # noqa: E402
import servers  # noqa: E402  (tests/servers.py: the same servers the tests use)
from bench_dataset import drop_page_cache  # noqa: E402
from hubfs.dataset.stores import filesystem_for  # noqa: E402
from hubfs.schema import ClassLabel, Image  # noqa: E402


def digits(n: int, rng: np.random.Generator) -> np.ndarray:
    """MNIST-like images: dark background, a few bright strokes."""
    imgs = np.zeros((n, 28, 28), np.uint8)
    for k in range(n):
        for _ in range(3):
            r, c = rng.integers(4, 24, 2)
            imgs[k, r - 3:r + 3, c - 1:c + 2] = rng.integers(128, 256)
    return imgs


def build(url: str, token: dict, n: int) -> None:
    rng = np.random.default_rng(0)
    imgs, labels = digits(n, rng), rng.integers(0, 10, n)
    t0 = time.perf_counter()
    ds = hubfs.Dataset(url, mode="w", shape=(0,), token=token,
                       schema={"image": Image((28, 28)), "label": ClassLabel(num_classes=10)})
    for start in range(0, n, 1000):
        ds.extend({"image": imgs[i], "label": int(labels[i])} for i in range(start, min(n, start + 1000)))
    ds.close()
    print(f"wrote {n} samples to {url} in {time.perf_counter() - t0:.1f} s", flush=True)


def scan_mount(url: str, token: dict, workdir: str, k: int) -> tuple[float, int, int]:
    """Seconds to read every file of every sample through a fresh mount; files and bytes read."""
    from hubfs.fuse.mount import mount, unmount

    mp = os.path.join(workdir, f"mnt{k}")
    os.makedirs(mp)
    mount(url, mp, read_only=True, token=token)
    try:
        t0 = time.perf_counter()
        files = nbytes = 0
        samples = sorted((e.name for e in os.scandir(mp) if e.name.isdigit()), key=int)
        for name in samples:
            for entry in os.scandir(os.path.join(mp, name)):
                if entry.is_file():
                    with open(entry.path, "rb") as f:
                        nbytes += len(f.read())
                    files += 1
        return time.perf_counter() - t0, files, nbytes
    finally:
        unmount(mp)


def plain_s3fs(token: dict):
    import s3fs

    return s3fs.S3FileSystem(key=token["aws_access_key_id"], secret=token["aws_secret_access_key"],
                             endpoint_url=token["endpoint_url"], skip_instance_cache=True)


def upload_files(url: str, token: dict, files_url: str, n: int) -> None:
    """Store each file the mount shows for the first ``n`` samples as its own object under ``files_url``."""
    from hubfs.fuse.view import View

    t0 = time.perf_counter()
    _, root = filesystem_for(files_url, token)
    ds = hubfs.Dataset(url, mode="r", token=token)
    view = View(ds)
    objects = {f"{root}{view.path_of(key, i)}": view.file_bytes(key, i)
               for i in range(min(n, len(ds))) for key in ds.keys() if ds.has_value(key, i)}
    ds.close()
    fs = plain_s3fs(token)
    paths = list(objects)
    for start in range(0, len(paths), 500):
        fs.pipe({p: objects[p] for p in paths[start:start + 500]})
    print(f"uploaded the {len(objects)} files as objects in {time.perf_counter() - t0:.1f} s", flush=True)


def scan_s3fs(url: str, token: dict) -> tuple[float, int, int]:
    """Seconds to list and fetch every object under ``url``, one after the other, with a fresh, plain s3fs
    client; objects and bytes."""
    _, root = filesystem_for(url, token)
    fs = plain_s3fs(token)
    t0 = time.perf_counter()
    paths = [p for p in fs.find(root) if not p.endswith(".lock")]
    nbytes = sum(len(fs.cat_file(p)) for p in paths)
    return time.perf_counter() - t0, len(paths), nbytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--file-samples", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--server", choices=["moto", "rclone"], default="moto")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="hubfs-bench-cold-")
    os.environ.setdefault("HUBFS_STATE_DIR", os.path.join(workdir, "state"))
    cls = servers.MotoServer if args.server == "moto" else servers.RcloneServer
    server = cls(os.path.join(workdir, args.server)).start()
    try:
        server.make_bucket("bench")
        url, token = server.url("bench/mnist"), server.token()
        build(url, token, args.samples)
        files_url = server.url("bench/mnist-files")
        n_files = min(args.file_samples, args.samples)
        upload_files(url, token, files_url, n_files)
        local = os.path.join(workdir, "local-mnist")
        build(local, None, args.samples)
        runs: dict[str, list] = {"mount": [], "local": [], "files": [], "objects": []}
        refused = None

        def cold(fn, *a):
            nonlocal refused
            refused = refused or drop_page_cache()
            return fn(*a)

        for k in range(args.passes):
            runs["objects"].append(cold(scan_s3fs, url, token))
            runs["files"].append(cold(scan_s3fs, files_url, token))
            runs["mount"].append(cold(scan_mount, url, token, workdir, k))
            runs["local"].append(cold(scan_mount, local, None, workdir, args.passes + k))
            print(f"pass {k + 1}: " + ", ".join(f"{name} {r[-1][0]:.2f} s ({r[-1][1]} reads, {r[-1][2] / 1e6:.1f} MB)"
                                                for name, r in runs.items()), flush=True)
        count = {"mount": args.samples, "local": args.samples, "files": n_files, "objects": args.samples}
        rate = {name: statistics.median(count[name] / r[0] for r in rs) for name, rs in runs.items()}
        state = ("cold: new readers, OS page cache dropped before each" if refused is None else
                 f"new readers, warm OS cache (the page cache could not be dropped: {refused})")
        print(f"\nscan (image.png + label.txt per sample) on {args.server} (S3 on 127.0.0.1), {state}, "
              f"median of {args.passes} passes:")
        for name, label in (("mount", "mount of the dataset on S3"), ("local", "mount of a local copy"),
                            ("files", "s3fs, the files as objects"), ("objects", "s3fs, the dataset's objects")):
            print(f"  {label:<30}: {rate[name]:9.0f} samples/s  ({count[name]} samples)")
        print(f"  ratio mount / s3fs files      : {rate['mount'] / rate['files']:9.2f}   (target >= 0.8)")
        print(f"  ratio mount / s3fs objects    : {rate['mount'] / rate['objects']:9.2f}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
