#!/usr/bin/env python
"""Transform throughput on every scheduler, measured in one run: the same CPU-bound transform (decode a
256x256 JPEG photo, resize it to 128x128 with Lanczos, sharpen it, re-encode it as JPEG) over the same
source dataset, stored with ``single``, ``threaded``, ``processed`` and ``dask`` (a LocalCluster of
processes). ``processed`` keeps its worker processes between transforms, as dask keeps its cluster: for
both, the workers are started and warmed up (a first small transform: each worker imports hubfs and Pillow
once) before the timing, and that start-up is printed apart. ``--repeat`` runs keep each scheduler's best. Each run's output is checked to be
byte-identical to ``single``'s. Ratios are against ``single`` in this same run. Hub 1.3.5 runs the same
transform (``hub.transform``) on its ``single`` and ``processed`` schedulers in its own venv when
``--hub-python`` exists (scripts/setup_hub135.sh builds .bench/hub135); Hub 1.3.5 stores no JPEG, so its
images are in its default lz4, cheaper to decode and encode than JPEG: the comparison favours Hub.

    .venv/bin/python scripts/bench_transform.py [--n 2000] [--workers 2] [--repeat 1] [--workdir DIR]
                                                [--hub-python PATH | --no-hub]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import hubfs  # noqa: E402
from hubfs.schema import ClassLabel, Image  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SIZE, OUT = 256, 128
SOURCE_SCHEMA = {"image": Image((SIZE, SIZE, 3), "uint8", compressor="jpeg"), "label": ClassLabel(num_classes=10)}
OUT_SCHEMA = {"image": Image((OUT, OUT, 3), "uint8", compressor="jpeg"), "label": ClassLabel(num_classes=10)}


@hubfs.transform(schema=OUT_SCHEMA)
def resize(sample: dict) -> dict:
    from PIL import Image as PILImage, ImageFilter

    img = PILImage.fromarray(sample["image"]).resize((OUT, OUT), PILImage.LANCZOS)
    img = img.filter(ImageFilter.UnsharpMask(radius=2, percent=120))
    return {"image": np.asarray(img), "label": sample["label"]}


# Run by Hub 1.3.5's venv: argv = photos.npy, workdir, workers; prints one JSON line of seconds per scheduler.
# Hub 1.3.5 stores no JPEG (LZ4, PNG, ZSTD only): its images are its default lz4, which costs less to
# decode and encode than JPEG, so the comparison favours Hub.
HUB_WORKER = r"""
import json, os, sys, time
import numpy as np
import hub
from hub.schema import ClassLabel, Image
from PIL import Image as PILImage, ImageFilter

photos, work, workers = np.load(sys.argv[1]), sys.argv[2], int(sys.argv[3])
n, size, out = len(photos), photos.shape[1], %(out)d
src = hub.Dataset(os.path.join(work, "hub-src"), mode="w", shape=(n,), schema={
    "image": Image((size, size, 3), "uint8"), "label": ClassLabel(num_classes=10)})
for i in range(n):
    src["image", i] = photos[i]
    src["label", i] = i %% 10
src.flush()
schema = {"image": Image((out, out, 3), "uint8"), "label": ClassLabel(num_classes=10)}
result = {}
for scheduler in ("single", "processed"):
    @hub.transform(schema=schema, scheduler=scheduler, workers=1 if scheduler == "single" else workers)
    def resize(sample):
        img = PILImage.fromarray(sample["image"]).resize((out, out), PILImage.LANCZOS)
        img = img.filter(ImageFilter.UnsharpMask(radius=2, percent=120))
        return {"image": np.asarray(img), "label": sample["label"]}
    t0 = time.perf_counter()
    done = resize(src).store(os.path.join(work, "hub-" + scheduler), progressbar=False)
    result[scheduler] = time.perf_counter() - t0
    assert len(done) == n and done["image", n - 1].compute().shape == (out, out, 3)
print(json.dumps(result))
""" % {"out": OUT}


def run_hub(hub_python: str, images: np.ndarray, work: str, workers: int) -> dict[str, float]:
    """Hub 1.3.5's seconds per scheduler on the same photos, or {} (with the reason printed)."""
    path = os.path.join(work, "photos.npy")
    np.save(path, images)
    p = subprocess.run([hub_python, "-c", HUB_WORKER, path, work, str(workers)], capture_output=True, text=True,
                       cwd=work, timeout=3600)
    if p.returncode != 0:
        print(f"Hub 1.3.5 failed: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}")
        return {}
    return json.loads(p.stdout.strip().splitlines()[-1])


def photos(n: int, rng: np.random.Generator) -> np.ndarray:
    """Photo-like images: smooth colour gradients, a few shapes and noise (JPEGs of ~15-25 KB)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    out = np.empty((n, SIZE, SIZE, 3), np.uint8)
    for k in range(n):
        a, b, c = rng.random(3)
        img = np.stack([255 * (a * x + (1 - a) * y), 255 * (b * y + (1 - b) * (1 - x)), 255 * c * (x * y)], -1)
        for _ in range(3):
            cy, cx, r = rng.integers(30, 226), rng.integers(30, 226), rng.integers(10, 40)
            img[(y * SIZE - cy) ** 2 + (x * SIZE - cx) ** 2 < r * r] = rng.integers(0, 256, 3)
        img += rng.normal(0, 8, img.shape)
        out[k] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def make_source(path: str, images: np.ndarray) -> hubfs.Dataset:
    n = len(images)
    ds = hubfs.Dataset(path, mode="w", shape=(n,), schema=SOURCE_SCHEMA)
    for start in range(0, n, 250):
        ds["image", start:start + 250] = images[start:start + 250]
    ds["label"] = np.arange(n) % 10
    ds.flush()
    return ds


def timed_store(src: hubfs.Dataset, url: str, scheduler: str, workers: int) -> tuple[float, hubfs.Dataset]:
    shutil.rmtree(url, ignore_errors=True)
    t0 = time.perf_counter()
    out = resize(src).store(url, scheduler=scheduler, workers=workers, progressbar=False)
    return time.perf_counter() - t0, out


def same_bytes(a: hubfs.Dataset, b: hubfs.Dataset) -> bool:
    return len(a) == len(b) and all(a.read_stored("image", i) == b.read_stored("image", i) for i in range(len(a))) \
        and a["label"].compute().tolist() == b["label"].compute().tolist()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000, help="source photos (default 2000)")
    p.add_argument("--workers", type=int, default=2, help="workers of the parallel schedulers (default 2)")
    p.add_argument("--repeat", type=int, default=1, help="runs per scheduler; the best is kept (default 1)")
    p.add_argument("--workdir", help="where the datasets go (default: a temporary folder, removed after)")
    p.add_argument("--hub-python", default=os.path.join(ROOT, ".bench", "hub135", "bin", "python"),
                   help="Hub 1.3.5's venv python (default .bench/hub135/bin/python)")
    p.add_argument("--no-hub", action="store_true", help="do not run Hub 1.3.5")
    args = p.parse_args()
    from distributed import Client, LocalCluster

    work = args.workdir or tempfile.mkdtemp(prefix="hubfs-bench-transform-")
    os.makedirs(work, exist_ok=True)
    try:
        t0 = time.perf_counter()
        images = photos(args.n, np.random.default_rng(0))
        src = make_source(os.path.join(work, "src"), images)
        print(f"source: {args.n} JPEG photos {SIZE}x{SIZE} ({time.perf_counter() - t0:.1f} s to make); "
              f"transform: decode, Lanczos resize to {OUT}x{OUT}, unsharp mask, JPEG encode; "
              f"{args.workers} workers; cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}", flush=True)
        results: dict[str, float] = {}
        reference = None
        problems = []
        for scheduler in ("single", "threaded", "processed", "dask"):
            cluster = client = None
            if scheduler in ("processed", "dask"):
                # Both parallel schedulers start their worker processes before the timing, and each worker
                # imports hubfs and Pillow on its first task: a first small transform does both, printed apart.
                t0 = time.perf_counter()
                if scheduler == "dask":
                    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
                    client = Client(cluster)
                resize(src[0:2 * args.workers]).store(os.path.join(work, f"warm-up-{scheduler}"), scheduler=scheduler,
                                                      workers=args.workers, sample_per_shard=1,
                                                      progressbar=False).close()
                what = "pool of" if scheduler == "processed" else "LocalCluster of"
                print(f"{scheduler} {what} {args.workers} processes started and warmed up in "
                      f"{time.perf_counter() - t0:.1f} s (not in its figure)", flush=True)
            try:
                best = None
                for r in range(args.repeat):
                    seconds, out = timed_store(src, os.path.join(work, f"{scheduler}-{r}"), scheduler, args.workers)
                    best = seconds if best is None else min(best, seconds)
                    if reference is None:
                        reference = out
                    elif not same_bytes(reference, out):
                        problems.append(f"{scheduler} wrote other bytes than single")
                    if out is not reference:
                        out.close()
                results[scheduler] = best
                print(f"  {scheduler:<9} {best:7.2f} s", flush=True)
            finally:
                if client is not None:
                    client.close()
                    cluster.close()
        hub: dict[str, float] = {}
        if args.no_hub:
            print("Hub 1.3.5: not run (--no-hub)")
        elif not os.path.exists(args.hub_python):
            print(f"Hub 1.3.5: not run, no {args.hub_python} (scripts/setup_hub135.sh builds it)")
        else:
            hub = run_hub(args.hub_python, images, work, args.workers)
            for scheduler, seconds in hub.items():
                print(f"  Hub 1.3.5 {scheduler:<9} {seconds:7.2f} s", flush=True)
        base = args.n / results["single"]
        hub_base = args.n / hub["single"] if hub else None
        print()
        print("| scheduler | workers | samples/s | × single | Hub 1.3.5 samples/s | × Hub single | × Hub same scheduler |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for scheduler, seconds in results.items():
            rate = args.n / seconds
            workers = 1 if scheduler == "single" else args.workers
            own = hub.get(scheduler)
            cells = [f"{args.n / own:,.0f}" if own else "", f"{rate / hub_base:.2f}" if hub_base else "",
                     f"{rate * own / args.n:.2f}" if own else ""]
            print(f"| {scheduler} | {workers} | {rate:,.0f} | {rate / base:.2f} | " + " | ".join(cells) + " |")
        print()
        print(f"load average at the end: {os.getloadavg()[0]:.2f} (other work on the machine takes cores from the "
              f"parallel schedulers)")
        if problems:
            print("Problems: " + "; ".join(problems))
            return 1
        print("every scheduler wrote the same bytes as single")
        return 0
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
