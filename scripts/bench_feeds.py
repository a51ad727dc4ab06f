#!/usr/bin/env python
"""Data in and out, measured in one run: a PyTorch feed, and an image-folder import.

1. **Feed.** ``ds.to_pytorch()`` in a ``torch.utils.data.DataLoader`` with 2 worker processes over N
   MNIST-like samples (the getting-started schema, defaults), beside the same samples read with a plain
   PyTorch ``Dataset`` from a native folder of the very files the mount shows (``hubfs export``: one
   ``image.png`` and one ``label.txt`` per sample; PIL decodes the PNG), and beside Deep Lake 4
   (``deeplake`` from PyPI, in its own venv ``.bench/deeplake4``: scripts/setup_deeplake4.sh) over the same arrays.
   Every loader runs in a new process with the same batch size and worker count; epoch 1 runs after the
   page cache was dropped where that works ("cold"; else it says "warm OS cache"), epoch 2 right after it.
   Every loader's labels are checked against the source.
2. **Import.** ``Dataset.from_path(folder).store(url)`` of an image-class folder tree (``root/<class>/<i>.png``,
   N RGB images) in images/s, beside Hub 1.3.5's ``from_path`` of the same tree in its own venv
   (scripts/setup_hub135.sh builds ``.bench/hub135``).

    .venv/bin/python scripts/bench_feeds.py [--n 10000] [--batch 128] [--workers 2] [--workdir DIR]
                                            [--no-hub] [--no-deeplake] [--warm-os-cache]
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
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_dataset import drop_page_cache, make_digits  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HUB_PYTHON = ROOT / ".bench" / "hub135" / "bin" / "python"
DEEPLAKE_PYTHON = ROOT / ".bench" / "deeplake4" / "bin" / "python"
MARK = "BENCH_RESULT "
CLASSES = ["airplane", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck", "zebra"]
IMPORT_SHAPE = (32, 32, 3)


# -- loaders, each run in a new process (``--loader NAME``) ---------------------------------------------
def epochs(loader, labels_of, expected: np.ndarray) -> dict:
    """Seconds of two epochs over ``loader``; checks every label against ``expected``, in order."""
    out = {}
    for name in ("epoch1", "epoch2"):
        seen = []
        t0 = time.perf_counter()
        for batch in loader:
            seen.append(labels_of(batch))
        out[name] = time.perf_counter() - t0
        got = np.concatenate(seen)
        if not np.array_equal(got, expected):
            raise SystemExit(f"{name}: the loader returned other labels than the source's")
    return out


def load_hubfs(path: str, args: argparse.Namespace, expected: np.ndarray) -> dict:
    import torch

    import hubfs

    ds = hubfs.Dataset(path, mode="r")
    loader = torch.utils.data.DataLoader(ds.to_pytorch(), batch_size=args.batch, num_workers=args.workers)
    return epochs(loader, lambda b: b["label"].numpy().ravel(), expected)


class FolderDataset:
    """The plain PyTorch way to read a folder of sample folders: list once, open and decode per item."""

    def __init__(self, root: str):
        self.root = root
        self.names = sorted((n for n in os.listdir(root) if n.isdigit()), key=int)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> dict:
        import torch
        from PIL import Image

        folder = os.path.join(self.root, self.names[i])
        with Image.open(os.path.join(folder, "image.png")) as img:
            image = torch.from_numpy(np.asarray(img).copy())
        with open(os.path.join(folder, "label.txt")) as f:
            label = int(f.read().strip())
        return {"image": image, "label": label}


def load_native(path: str, args: argparse.Namespace, expected: np.ndarray) -> dict:
    import torch

    loader = torch.utils.data.DataLoader(FolderDataset(path), batch_size=args.batch, num_workers=args.workers)
    return epochs(loader, lambda b: b["label"].numpy().ravel(), expected)


DEEPLAKE_WORKER = r"""
import json, sys, time
import numpy as np
import deeplake, torch
path, data, batch, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if sys.argv[5] == "make":
    images, labels = np.load(data + "/images.npy"), np.load(data + "/labels.npy")
    ds = deeplake.create(path)
    ds.add_column("image", deeplake.types.Array(deeplake.types.UInt8(), shape=[28, 28]))
    ds.add_column("label", deeplake.types.Int64())
    for s in range(0, len(images), 1000):
        ds.append({"image": images[s:s + 1000], "label": labels[s:s + 1000]})
    ds.commit()
    print("BENCH_RESULT {}")
    sys.exit(0)
expected = np.load(data + "/labels.npy")
ds = deeplake.open_read_only(path)
loader = torch.utils.data.DataLoader(ds.pytorch(), batch_size=batch, num_workers=workers)
out = {}
for name in ("epoch1", "epoch2"):
    seen = []
    t0 = time.perf_counter()
    for b in loader:
        seen.append(np.asarray(b["label"]).ravel())
    out[name] = time.perf_counter() - t0
    assert np.array_equal(np.concatenate(seen), expected), "deeplake returned other labels"
out["version"] = deeplake.__version__
print("BENCH_RESULT " + json.dumps(out))
"""


def run_loader(name: str, path: str, data: str, args: argparse.Namespace) -> dict:
    """One loader in a new process, after dropping the page cache; its epoch seconds, or why not."""
    cold = "--warm-os-cache" if args.warm_os_cache else drop_page_cache()
    if name == "deeplake":
        cmd = [str(DEEPLAKE_PYTHON), "-c", DEEPLAKE_WORKER, path, data, str(args.batch), str(args.workers), "read"]
    else:
        cmd = [sys.executable, __file__, "--loader", name, path, "--data", data, "--batch", str(args.batch),
               "--workers", str(args.workers)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    result = _result(p)
    if isinstance(result, dict):
        result["cold"] = cold is None
    return result


def _result(p: subprocess.CompletedProcess) -> dict | str:
    for line in p.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    lines = (p.stderr or p.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {p.returncode}"


# -- the image-folder import --------------------------------------------------------------------------
def make_tree(root: str, n: int) -> None:
    """``root/<class>/<i>.png``: n RGB images of IMPORT_SHAPE (gradients, a disc and noise), 10 classes."""
    from PIL import Image

    rng = np.random.default_rng(7)
    h, w, _ = IMPORT_SHAPE
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) / h
    for c in CLASSES:
        os.makedirs(os.path.join(root, c), exist_ok=True)
    for i in range(n):
        a, b = rng.random(2)
        img = np.stack([255 * (a * x + (1 - a) * y), 255 * (b * y), 255 * x * y], -1)
        cy, cx, r = rng.integers(4, 28), rng.integers(4, 28), rng.integers(3, 9)
        img[(y * h - cy) ** 2 + (x * w - cx) ** 2 < r * r] = rng.integers(0, 256, 3)
        img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(os.path.join(root, CLASSES[i % 10], f"{i:06d}.png"))


HUB_IMPORT = r"""
import json, sys, time
import hub
t0 = time.perf_counter()
ds = hub.Dataset.from_path(sys.argv[1]).store(sys.argv[2])
seconds = time.perf_counter() - t0
assert len(ds) == int(sys.argv[3]), len(ds)
print("BENCH_RESULT " + json.dumps({"seconds": seconds}))
"""


def import_hubfs(tree: str, url: str, n: int) -> dict:
    import hubfs

    t0 = time.perf_counter()
    ds = hubfs.Dataset.from_path(tree).store(url, progressbar=False)
    seconds = time.perf_counter() - t0
    assert len(ds) == n and ds["image", 0].compute().shape == IMPORT_SHAPE
    ds.close()
    return {"seconds": seconds}


# -- the report ---------------------------------------------------------------------------------------
def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10000, help="samples (default 10000)")
    p.add_argument("--batch", type=int, default=128, help="DataLoader batch size (default 128)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (default 2)")
    p.add_argument("--workdir", help="where the data goes (default: a temporary folder, removed after)")
    p.add_argument("--no-hub", action="store_true", help="do not run Hub 1.3.5")
    p.add_argument("--no-deeplake", action="store_true", help="do not run Deep Lake 4")
    p.add_argument("--warm-os-cache", action="store_true", help="do not drop the page cache (nothing is called cold)")
    p.add_argument("--loader", help=argparse.SUPPRESS)
    p.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.loader:  # a child: one loader, one JSON line
        expected = np.load(os.path.join(args.data, "labels.npy"))
        result = {"hubfs": load_hubfs, "native": load_native}[args.loader](args.path, args, expected)
        print(MARK + json.dumps(result), flush=True)
        return 0

    import hubfs
    from hubfs.fuse.export import export
    from hubfs.schema import ClassLabel, Image

    work = args.workdir or tempfile.mkdtemp(prefix="hubfs-bench-feeds-")
    os.makedirs(work, exist_ok=True)
    try:
        t0 = time.perf_counter()
        images, labels = make_digits(args.n)
        data = os.path.join(work, "data")
        os.makedirs(data, exist_ok=True)
        np.save(os.path.join(data, "images.npy"), images)
        np.save(os.path.join(data, "labels.npy"), labels)
        ds = hubfs.Dataset(os.path.join(work, "hubfs"), mode="w", shape=(args.n,),
                           schema={"image": Image((28, 28), "uint8"), "label": ClassLabel(num_classes=10)})
        ds["image"] = images
        ds["label"] = labels
        ds.flush()
        native = os.path.join(work, "native")
        export(ds, native)
        ds.close()
        print(f"{args.n} MNIST-like samples ({time.perf_counter() - t0:.1f} s to make); batch {args.batch}, "
              f"{args.workers} DataLoader workers; cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}",
              flush=True)
        feeds: dict[str, dict | str] = {"hubfs to_pytorch": run_loader("hubfs", os.path.join(work, "hubfs"), data, args),
                                        "native folder (PIL)": run_loader("native", native, data, args)}
        if args.no_deeplake:
            feeds["Deep Lake 4"] = "not run (--no-deeplake)"
        elif not DEEPLAKE_PYTHON.exists():
            feeds["Deep Lake 4"] = f"not run: no {DEEPLAKE_PYTHON.relative_to(ROOT)} (scripts/setup_deeplake4.sh builds it)"
        else:
            made = subprocess.run([str(DEEPLAKE_PYTHON), "-c", DEEPLAKE_WORKER, os.path.join(work, "deeplake"), data,
                                   str(args.batch), str(args.workers), "make"], capture_output=True, text=True,
                                  timeout=3600)
            res = _result(made)
            feeds["Deep Lake 4"] = (run_loader("deeplake", os.path.join(work, "deeplake"), data, args)
                                    if isinstance(res, dict) else f"failed to write: {res}")

        tree = os.path.join(work, "tree")
        make_tree(tree, args.n)
        if not args.warm_os_cache:
            drop_page_cache()
        imports: dict[str, dict | str] = {"hubfs from_path": import_hubfs(tree, os.path.join(work, "imported"), args.n)}
        if args.no_hub:
            imports["Hub 1.3.5 from_path"] = "not run (--no-hub)"
        elif not HUB_PYTHON.exists():
            imports["Hub 1.3.5 from_path"] = f"not run: no {HUB_PYTHON.relative_to(ROOT)} (scripts/setup_hub135.sh)"
        else:
            if not args.warm_os_cache:
                drop_page_cache()
            hub = subprocess.run([str(HUB_PYTHON), "-c", HUB_IMPORT, tree, os.path.join(work, "hub-imported"),
                                  str(args.n)], capture_output=True, text=True, timeout=3600, cwd=work)
            res = _result(hub)
            imports["Hub 1.3.5 from_path"] = res if isinstance(res, dict) else f"failed: {res}"

        base = feeds["native folder (PIL)"]
        print()
        print(f"| feed ({args.n} samples, DataLoader, {args.workers} workers) | epoch 1 samples/s | epoch 2 samples/s "
              f"| × native, epoch 1 | × native, epoch 2 |")
        print("|---|---:|---:|---:|---:|")
        for name, r in feeds.items():
            if not isinstance(r, dict):
                print(f"| {name} | {r} | | | |")
                continue
            ratios = [f"{base[e] / r[e]:.2f}" if isinstance(base, dict) else "not measured" for e in ("epoch1", "epoch2")]
            tag = "" if r.get("cold") else " (warm OS cache)"
            print(f"| {name}{tag} | {rate(args.n, r['epoch1'])} | {rate(args.n, r['epoch2'])} | {ratios[0]} | {ratios[1]} |")
        hub_import = imports["Hub 1.3.5 from_path"]
        print()
        print(f"| import of a {args.n}-image class tree ({'×'.join(map(str, IMPORT_SHAPE))} PNG) | seconds | images/s "
              f"| × Hub 1.3.5 |")
        print("|---|---:|---:|---:|")
        for name, r in imports.items():
            if not isinstance(r, dict):
                print(f"| {name} | {r} | | |")
                continue
            ratio = f"{hub_import['seconds'] / r['seconds']:.2f}" if isinstance(hub_import, dict) else "not measured"
            print(f"| {name} | {r['seconds']:.2f} | {rate(args.n, r['seconds'])} | {ratio} |")
        print()
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        return 0
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
