#!/usr/bin/env python
"""Issue 3's benchmark: the hubfs mount against a native folder and ratarmount, measured in one run.

Builds a 10k-sample MNIST-like dataset (28x28 PNG + label), writes the same files to a native folder and
into a tar, mounts hubfs (writable, and --read-only) and the tar (ratarmount, installed from PyPI into this
venv if missing), then times: reading every small file, `ls -lR`, `ls -l` of the root, and the throughput of
reading large images (1024x1024x3 PNGs, also in all three forms). Every figure is the median of the passes
after the first (warm: the data is in each system's caches); the first pass is printed too. The first pass
is not cold: each form's files were just written or listed, so the OS page cache holds them.

ratarmount runs at its best documented settings for repeated reads of an unchanging archive: `-o
kernel_cache` (the kernel keeps file pages across opens) and long attribute, entry and negative-lookup
timeouts (RATARMOUNT_FUSE_OPTIONS). Install it with the bench extra: `pip install '.[bench]'`.

    .venv/bin/python scripts/bench_mount.py [--samples 10000] [--large 48] [--passes 3] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import hubfs  # noqa: E402
from hubfs.fuse.mount import mount, unmount  # noqa: E402
from hubfs.fuse.view import View  # noqa: E402
from hubfs.schema import ClassLabel, Image  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)
# The archive never changes while mounted: let the kernel cache pages, attributes and lookups for a day.
BENCH_EXTRA = "ratarmount>=1.0"  # pyproject.toml's bench extra
RATARMOUNT_FUSE_OPTIONS = "kernel_cache,attr_timeout=86400,entry_timeout=86400,negative_timeout=86400"


def ratarmount_bin() -> str:
    exe = os.path.join(VENV_BIN, "ratarmount")
    if not os.path.exists(exe):
        print("installing ratarmount (the bench extra) from PyPI into this venv ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", BENCH_EXTRA], check=True)
    return exe


def digits(n: int, rng: np.random.Generator) -> np.ndarray:
    """MNIST-like images: dark background, a few bright strokes (PNGs of a few hundred bytes)."""
    imgs = np.zeros((n, 28, 28, 1), np.uint8)
    for k in range(n):
        for _ in range(3):
            r, c = rng.integers(4, 24, 2)
            imgs[k, r - 3:r + 3, c - 1:c + 2, 0] = rng.integers(128, 256)
    return imgs


def build(work: str, n: int, n_large: int) -> dict[str, str]:
    rng = np.random.default_rng(0)
    paths = {k: os.path.join(work, k) for k in ("small_ds", "small_native", "small.tar",
                                                  "large_ds", "large_native", "large.tar")}
    t0 = time.perf_counter()
    ds = hubfs.Dataset(paths["small_ds"], mode="w", shape=(0,),
                       schema={"image": Image((28, 28, 1), "uint8"), "label": ClassLabel(num_classes=10)})
    imgs, labels = digits(n, rng), rng.integers(0, 10, n)
    for start in range(0, n, 1000):
        ds.extend({"image": imgs[i], "label": int(labels[i])} for i in range(start, min(n, start + 1000)))
    ds.flush()
    yy, xx = np.mgrid[0:1024, 0:1024]
    large = hubfs.Dataset(paths["large_ds"], mode="w", shape=(0,), schema={"image": Image((1024, 1024, 3), "uint8")})
    for k in range(n_large):
        smooth = np.stack([(xx + 7 * k) % 256, (yy + 3 * k) % 256, (xx + yy) % 256], -1)
        large.append({"image": (smooth + rng.integers(0, 24, smooth.shape)).astype(np.uint8)})
    large.flush()
    print(f"built datasets ({n} small samples, {n_large} large images) in {time.perf_counter() - t0:.1f} s", flush=True)
    for name, d in (("small", ds), ("large", large)):
        view, native = View(d), paths[f"{name}_native"]
        for i in range(len(d)):
            os.makedirs(os.path.join(native, str(i)), exist_ok=True)
            for key in d.keys():
                with open(os.path.join(native, view.path_of(key, i).lstrip("/")), "wb") as f:
                    f.write(view.file_bytes(key, i))
        with tarfile.open(paths[f"{name}.tar"], "w") as tar:
            for entry in sorted(os.listdir(native), key=int):
                tar.add(os.path.join(native, entry), arcname=entry)
        d.close()
    return paths


def files_under(root: str) -> list[str]:
    out = []
    for dirpath, _, names in os.walk(root):
        out += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
    return sorted(out)


def timed_passes(fn, passes: int) -> tuple[float, float]:
    """(first pass, median of the later passes) in seconds."""
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times[0], statistics.median(times[1:]) if len(times) > 1 else times[0]


def read_all(root: str, rel: list[str]) -> int:
    total = 0
    for r in rel:
        with open(os.path.join(root, r), "rb", buffering=0) as f:
            total += len(f.read())
    return total


def ls(args: list[str]) -> None:
    subprocess.run(["ls", *args], stdout=subprocess.DEVNULL, check=True)


class Mounts:
    """The mounted forms of one data set: name -> folder; unmounts everything on exit."""

    def __init__(self, work: str, tag: str, ds: str, native: str, tar: str):
        self.work, self.tag, self.done = work, tag, []
        self.roots = {"native": native}
        for name, ro in (("hubfs", False), ("hubfs-ro", True)):
            mp = self._mountpoint(name)
            mount(ds, mp, read_only=ro)
            self.done.append(("hubfs", mp))
            self.roots[name] = mp
        mp = self._mountpoint("ratarmount")
        t0 = time.perf_counter()
        subprocess.run([ratarmount_bin(), "-o", RATARMOUNT_FUSE_OPTIONS, "--index-folders",
                        os.path.join(self.work, "idx"), tar, mp], check=True, stdout=subprocess.DEVNULL)
        print(f"  ratarmount indexed and mounted {os.path.basename(tar)} in {time.perf_counter() - t0:.1f} s", flush=True)
        self.done.append(("ratarmount", mp))
        self.roots["ratarmount"] = mp

    def _mountpoint(self, name: str) -> str:
        mp = os.path.join(self.work, f"mnt-{self.tag}-{name}")
        os.makedirs(mp, exist_ok=True)
        return mp

    def close(self) -> None:
        for kind, mp in reversed(self.done):
            if kind == "hubfs":
                unmount(mp)
            else:
                subprocess.run(["fusermount3", "-u", mp], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--large", type=int, default=48)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--workdir", help="keep the data here (default: a temporary folder, removed)")
    args = parser.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="hubfs-bench-")
    os.makedirs(os.path.join(work, "idx"), exist_ok=True)
    ratarmount_bin()
    paths = build(work, args.samples, args.large)
    results: dict[str, dict[str, tuple[float, float]]] = {}
    small = Mounts(work, "small", paths["small_ds"], paths["small_native"], paths["small.tar"])
    try:
        rel = files_under(small.roots["native"])
        for name, root in small.roots.items():
            r = results.setdefault(name, {})
            r["read every small file"] = timed_passes(lambda: read_all(root, rel), args.passes)
            r["ls -lR"] = timed_passes(lambda: ls(["-lR", root]), args.passes)
            r["ls -l root"] = timed_passes(lambda: ls(["-l", root]), args.passes)
    finally:
        small.close()
    large = Mounts(work, "large", paths["large_ds"], paths["large_native"], paths["large.tar"])
    try:
        rel = files_under(large.roots["native"])
        nbytes = sum(os.path.getsize(os.path.join(large.roots["native"], r)) for r in rel)
        for name, root in large.roots.items():
            results[name]["read large images"] = timed_passes(lambda: read_all(root, rel), args.passes)
    finally:
        large.close()
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)

    n_files = 2 * args.samples
    print(f"\n{n_files} small files ({args.samples} samples), {args.large} large PNGs ({nbytes / 1e6:.0f} MB); "
          f"first pass / warm median of {args.passes - 1}; ratarmount -o {RATARMOUNT_FUSE_OPTIONS}")
    names = list(results)
    print(f"{'':24}" + "".join(f"{n:>24}" for n in names))
    for metric in results["native"]:
        cells = []
        for n in names:
            first, warm = results[n][metric]
            if metric == "read every small file":
                cells.append(f"{n_files / first:>9,.0f} /{n_files / warm:>8,.0f} f/s")
            elif metric == "read large images":
                cells.append(f"{nbytes / first / 1e6:>9,.0f} /{nbytes / warm / 1e6:>8,.0f} MB/s")
            else:
                cells.append(f"{first:>9.3f} /{warm:>8.3f} s  ")
        print(f"{metric:<24}" + "".join(f"{c:>24}" for c in cells))

    def ratio(a: str, b: str, metric: str) -> float:
        return results[b][metric][1] / results[a][metric][1]  # time of b / time of a = throughput a / b

    print("\nratios (warm):")
    for hub in ("hubfs", "hubfs-ro"):
        print(f"  {hub}: read every small file {ratio(hub, 'ratarmount', 'read every small file'):.2f}x ratarmount's "
              f"throughput (target >= 2.5), {1 / ratio(hub, 'native', 'read every small file'):.2f}x native's time "
              f"(target <= 4); ls -l root {1 / ratio(hub, 'native', 'ls -l root'):.2f}x native's time (target <= 2); "
              f"ls -lR {1 / ratio(hub, 'native', 'ls -lR'):.2f}x native's time; large images "
              f"{ratio(hub, 'ratarmount', 'read large images'):.2f}x ratarmount's, "
              f"{ratio(hub, 'native', 'read large images'):.2f}x native's throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
