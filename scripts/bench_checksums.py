#!/usr/bin/env python3
"""Benchmark: the cost of crc32c verification, beside the same runs on arrays written without it.

    .venv/bin/python scripts/bench_checksums.py [--n 10000] [--reads 2000] [--repeat 5] [--quick]

One process, the same MNIST-like samples (28x28 uint8 image + label) stored twice on local disk per
layout: with zarr's crc32c codec (what hubfs writes) and without (what it wrote before checksums; set
through ``hubfs.dataset.arrays.CHECKSUM_NEW_ARRAYS``). The image is stored as PNG samples (sample
layout) and as lz4 chunks (chunked layout). For each it times, alternating the two formats ``--repeat``
times and keeping each one's best (the run least disturbed by other work; a median of a few
ms-long runs still swung ±15% here):
  - write: every sample assigned one at a time, then flush
  - bulk: ds["image", 0:n].compute() on a freshly opened dataset
  - random: single-sample reads of image + label at random indices on a freshly opened dataset
and prints each ratio (with crc / without; 1.00 = free). Nothing here asserts a timing.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hubfs  # noqa: E402
from hubfs.dataset import arrays  # noqa: E402
from hubfs.schema import ClassLabel, Image  # noqa: E402


def make(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    images = np.zeros((n, 28, 28), "uint8")
    for i in range(n):  # a blob per sample: PNG-compressible like digits, not all zeros
        y, x = rng.integers(4, 24, 2)
        images[i, max(0, y - 4):y + 4, max(0, x - 3):x + 3] = rng.integers(100, 255)
    return images, rng.integers(0, 10, n)


def write(path: str, compressor: str, images: np.ndarray, labels: np.ndarray, crc: bool) -> float:
    shutil.rmtree(path, ignore_errors=True)
    arrays.CHECKSUM_NEW_ARRAYS = crc
    try:
        t = time.perf_counter()
        ds = hubfs.Dataset(path, mode="w", shape=(len(images),),
                           schema={"image": Image((28, 28), compressor=compressor),
                                   "label": ClassLabel(num_classes=10)})
        for i in range(len(images)):
            ds["image", i] = images[i]
            ds["label", i] = int(labels[i])
        ds.close()
        return time.perf_counter() - t
    finally:
        arrays.CHECKSUM_NEW_ARRAYS = True


def bulk(path: str, n: int) -> float:
    with hubfs.Dataset(path, mode="r") as ds:
        t = time.perf_counter()
        ds["image", 0:n].compute()
        return time.perf_counter() - t


def random_reads(path: str, order: np.ndarray) -> float:
    with hubfs.Dataset(path, mode="r") as ds:
        t = time.perf_counter()
        for i in order:
            ds["image", int(i)].compute()
            ds["label", int(i)].compute()
        return (time.perf_counter() - t) / len(order)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--reads", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="n=500, 200 reads, 3 repeats")
    args = ap.parse_args()
    if args.quick:
        args.n, args.reads, args.repeat = 500, 200, 3
    images, labels = make(args.n)
    order = np.random.default_rng(3).integers(0, args.n, args.reads)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hubfs-bench-crc-") as tmp:
        for compressor in ("png", "lz4"):
            times: dict[tuple[str, bool], list[float]] = {}
            for _ in range(args.repeat):
                for crc in (True, False):  # alternate, so drift on a shared machine hits both alike
                    path = f"{tmp}/{compressor}-{crc}"
                    times.setdefault(("write", crc), []).append(write(path, compressor, images, labels, crc))
                    times.setdefault(("bulk", crc), []).append(bulk(path, args.n))
                    times.setdefault(("random", crc), []).append(random_reads(path, order))
            for what, unit, scale in (("write", "samples/s", None), ("bulk", "samples/s", None),
                                      ("random", "µs/sample", 1e6)):
                on, off = (min(times[(what, c)]) for c in (True, False))
                fig = (lambda v: f"{v * scale:.1f}") if scale else (lambda v: f"{args.n / v:,.0f}")
                rows.append((f"{what} ({compressor})", fig(on), fig(off), unit, on / off))
    print(f"crc32c verification cost: {args.n} samples, {args.reads} random reads, best of {args.repeat}")
    print("| run | with crc32c | without | unit | time ratio (with / without) |")
    print("|---|---:|---:|---|---:|")
    for name, on, off, unit, ratio in rows:
        print(f"| {name} | {on} | {off} | {unit} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
