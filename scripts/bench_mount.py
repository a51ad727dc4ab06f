#!/usr/bin/env python
"""The mount against a native folder and ratarmount, measured in one run.

Builds a 10k-sample MNIST-like dataset (28x28 PNG + label), writes the same files to a native folder and
into a tar, mounts hubfs (writable, and --read-only) and the tar (ratarmount, installed from PyPI into this
venv if missing), then times: reading every small file (unbuffered, and again with Python's default
buffered open), `ls -lR`, `ls -l` of the root, and the throughput of reading large images (1024x1024x3
PNGs, also in all three forms). Every figure is the median of the passes after the first (warm: the
data is in each system's caches). The first pass is cold: each form is mounted anew (a new process) right
after the OS page cache was dropped (echo 3 > /proc/sys/vm/drop_caches, as root; where that is refused
the output says "NOT cold"). ratarmount's index is built before any timing.
Targets (issue 7) are printed as met/MISSED.

ratarmount runs at its best documented settings for repeated reads of an unchanging archive: `-o
kernel_cache` (the kernel keeps file pages across opens) and long attribute, entry and negative-lookup
timeouts (RATARMOUNT_FUSE_OPTIONS). Install it with the bench extra: `pip install '.[bench]'`.

    .venv/bin/python scripts/bench_mount.py [--samples 10000] [--large 48] [--passes 3] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import contextlib
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_dataset import drop_page_cache  # noqa: E402

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


def read_all(root: str, rel: list[str], buffering: int = 0) -> int:
    """Every file read whole. Unbuffered by default; buffering=-1 is Python's default open (PIL's,
    numpy.load's), which also asks isatty: an ioctl that FUSE forwards to the server on every open."""
    total = 0
    for r in rel:
        with open(os.path.join(root, r), "rb", buffering=buffering) as f:
            total += len(f.read())
    return total


def ls(args: list[str]) -> None:
    subprocess.run(["ls", *args], stdout=subprocess.DEVNULL, check=True)


@contextlib.contextmanager
def served(form: str, work: str, tag: str, ds: str, native: str, tar: str):
    """The folder of one form of a data set, mounted now (a new process) and unmounted after."""
    if form == "native":
        yield native
        return
    mp = os.path.join(work, f"mnt-{tag}-{form}")
    os.makedirs(mp, exist_ok=True)
    if form == "ratarmount":
        t0 = time.perf_counter()
        subprocess.run([ratarmount_bin(), "-o", RATARMOUNT_FUSE_OPTIONS, "--index-folders",
                        os.path.join(work, "idx"), tar, mp], check=True, stdout=subprocess.DEVNULL)
        print(f"  ratarmount mounted {os.path.basename(tar)} in {time.perf_counter() - t0:.1f} s", flush=True)
    else:
        mount(ds, mp, read_only=form == "hubfs-ro")
    try:
        yield mp
    finally:
        if form == "ratarmount":
            subprocess.run(["fusermount3", "-u", mp], check=False)
        else:
            unmount(mp)


FORMS = ("native", "hubfs", "hubfs-ro", "ratarmount")


def measure(paths: dict[str, str], work: str, tag: str, passes: int, metrics) -> tuple[dict, str | None]:
    """Each form in turn, mounted anew after the OS page cache was dropped, so that the first pass is cold
    (new process, no cached pages; ratarmount's index was built before). Returns form -> metric -> (first,
    warm median), and why the cache could not be dropped (None when it was)."""
    results, refused = {}, None
    for form in FORMS:
        refused = drop_page_cache() or refused
        with served(form, work, tag, paths[f"{tag}_ds"], paths[f"{tag}_native"], paths[f"{tag}.tar"]) as root:
            results[form] = {name: timed_passes(lambda: fn(root), passes) for name, fn in metrics}
    return results, refused


def index_tars(paths: dict[str, str], work: str) -> None:
    """Let ratarmount build its indexes before any timing (its first mount of a tar reads all of it)."""
    for tag in ("small", "large"):
        with served("ratarmount", work, tag, "", "", paths[f"{tag}.tar"]):
            pass


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
    index_tars(paths, work)
    small_rel = files_under(paths["small_native"])
    large_rel = files_under(paths["large_native"])
    nbytes = sum(os.path.getsize(os.path.join(paths["large_native"], r)) for r in large_rel)
    results, refused = measure(paths, work, "small", args.passes, [
        ("read every small file", lambda root: read_all(root, small_rel)),
        ("small files, buffered", lambda root: read_all(root, small_rel, -1)),
        ("ls -lR", lambda root: ls(["-lR", root])),
        ("ls -l root", lambda root: ls(["-l", root]))])
    large, refused_large = measure(paths, work, "large", args.passes, [
        ("read large images", lambda root: read_all(root, large_rel))])
    refused = refused or refused_large
    for form in FORMS:
        results[form].update(large[form])
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)

    n_files = 2 * args.samples
    first = ("cold: each form mounted anew after the OS page cache was dropped" if refused is None else
             f"NOT cold, warm OS cache (the page cache could not be dropped: {refused})")
    print(f"\n{n_files} small files ({args.samples} samples), {args.large} large PNGs ({nbytes / 1e6:.0f} MB); "
          f"first pass ({first}) / warm median of {args.passes - 1}; ratarmount -o {RATARMOUNT_FUSE_OPTIONS}; "
          f"load average {os.getloadavg()[0]:.1f}")
    names = list(results)
    print(f"{'':24}" + "".join(f"{n:>24}" for n in names))
    for metric in results["native"]:
        cells = []
        for n in names:
            first, warm = results[n][metric]
            if metric in ("read every small file", "small files, buffered"):
                cells.append(f"{n_files / first:>9,.0f} /{n_files / warm:>8,.0f} f/s")
            elif metric == "read large images":
                cells.append(f"{nbytes / first / 1e6:>9,.0f} /{nbytes / warm / 1e6:>8,.0f} MB/s")
            else:
                cells.append(f"{first:>9.3f} /{warm:>8.3f} s  ")
        print(f"{metric:<24}" + "".join(f"{c:>24}" for c in cells))

    def throughput_ratio(a: str, b: str, metric: str, pass_: int) -> float:
        return results[b][metric][pass_] / results[a][metric][pass_]  # time of b / time of a

    def judge(what: str, value: float, limit: float, higher: bool) -> None:
        ok = value >= limit if higher else value <= limit
        print(f"  [{'met' if ok else 'MISSED'}] {what}: {value:.2f}x (target {'>=' if higher else '<='} {limit:g}x)")

    small = "read every small file"
    print("\ntargets (warm = median of the later passes; first = the first pass):")
    for hub, native_limit in (("hubfs", 2.0), ("hubfs-ro", 1.5)):
        judge(f"{hub} warm small files, throughput / ratarmount's", throughput_ratio(hub, "ratarmount", small, 1), 2.5, True)
        judge(f"{hub} warm small files, time / native's", 1 / throughput_ratio(hub, "native", small, 1), native_limit, False)
        judge(f"{hub} first-pass small files, throughput / ratarmount's", throughput_ratio(hub, "ratarmount", small, 0),
              2.5, True)
        judge(f"{hub} warm ls -lR, time / native's", 1 / throughput_ratio(hub, "native", "ls -lR", 1), 3.0, False)
    for hub in ("hubfs", "hubfs-ro"):
        print(f"  {hub} (no target): small files with Python's buffered open (its isatty ioctl reaches the "
              f"server on every open; both passes warm) {1 / throughput_ratio(hub, 'native', 'small files, buffered', 1):.2f}x "
              f"native's time, {throughput_ratio(hub, 'ratarmount', 'small files, buffered', 1):.2f}x ratarmount's throughput")
        print(f"  {hub} (no target): ls -l root {1 / throughput_ratio(hub, 'native', 'ls -l root', 1):.2f}x native's time; "
              f"large images {throughput_ratio(hub, 'ratarmount', 'read large images', 1):.2f}x ratarmount's, "
              f"{throughput_ratio(hub, 'native', 'read large images', 1):.2f}x native's throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
