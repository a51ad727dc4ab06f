#!/usr/bin/env python3
"""Benchmark: hubfs beside plain zarr 3 (two layouts) and Hub 1.3.5, on the same data, in one run.

    .venv/bin/python scripts/bench_dataset.py [--full] [--quick] [--hub] [--out DIR]
                                              [--datasets mnist-10k,photos-2k,...] [--systems ...]

Datasets (each with its getting-started schema and the library's defaults):
  mnist-10k, mnist-100k  Image((28, 28)) + ClassLabel(num_classes=10): MNIST-like digits
  photos-2k              Image((256, 256, 3)) + ClassLabel: photo-like uint8 (smooth gradients and blobs
                         plus sensor noise, so compression ratios are those of photos, not of noise or flat
                         colour)
The default run is mnist-10k and photos-2k without Hub (a few minutes); --full adds mnist-100k and
Hub 1.3.5 (scripts/setup_hub135.sh builds its venv in .bench/hub135); --hub adds Hub alone.

Systems:
  hubfs      the schema with its defaults
  zarr-bulk  plain zarr 3, chunks of ~1 MiB (zarr's documented default codecs): its layout for bulk
             reads and scans
  zarr-one   plain zarr 3, one sample per chunk: its layout for random single-sample reads
  hub        Hub 1.3.5, the schema with its defaults

Each measurement runs in a fresh subprocess that prints one JSON result (this file is that subprocess too,
with --worker; it imports only numpy and the library measured, so it runs in Hub's old venv):
  write  one-at-a-time writes (ds["image", i] = a; ds["label", i] = l; ...; flush), on the first N
         samples where a system is slow (Hub, zarr); the rest is filled by slices, untimed
  read   random single-sample reads (image + label) of samples never read before in a new process
         started right after the OS page cache was dropped (echo 3 > /proc/sys/vm/drop_caches; when that
         is refused the figure is labelled "warm OS cache"), then the same samples again ("warm": p50
         and p99 of 3 more passes)
  bulk   ds["image", 0:n].compute() on a freshly opened dataset (files in the OS cache), median
  scan   every sample in order (hubfs, Hub: `for s in ds: s["image"].compute(); s["label"].compute()`
         with cache=64 MiB; zarr: chunk by chunk, then each row), with the process's RSS before the scan
         and its peak during it
  edit   one sample's image replaced in an existing dataset, then flush: the bytes the process wrote
         (write(2) calls, /proc/self/io wchar), split into metadata (zarr.json and the like) and data;
         then 100 more edits of random samples, each flushed (bytes per edit, metadata included), and
         what close() writes after them (hubfs: the compaction of its deltas)
All values read are compared with the source data. Ratios are against baselines measured in the same run;
a baseline that was not run prints "not measured". Nothing here asserts a timing: a benchmark only prints.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HUB_PYTHON = ROOT / ".bench" / "hub135" / "bin" / "python"
MARK = "BENCH_RESULT "
SYSTEMS = ("hubfs", "zarr-bulk", "zarr-one", "hub")
LABELS = {"hubfs": "hubfs", "zarr-bulk": "zarr bulk", "zarr-one": "zarr 1/chunk", "hub": "hub 1.3.5"}
MiB = 1 << 20
SCAN_CACHE = 64 * MiB
SLOW_READERS = ("zarr-bulk", "zarr-one", "hub")  # ms per read: fewer reads (--slow-reads)
# zarr 1/chunk writes two files per sample (~5 ms each here): not run past this many samples (see --help)
ZARR_ONE_MAX_N = 20000

# Targets of issue 10.
BULK_VS_HUB = 1.0
BULK_VS_ZARR = 0.70
SCAN_VS_ZARR = 0.50
WARM_P50_US = 20.0
COLD_VS_ZARR_ONE = 2.0
EDIT_VS_SAMPLE = 4.0
WRITE_VS_HUB = 30.0
# The scan's RSS may grow by the cache plus this much; judged where the raw data is >= 4x the cache.
RSS_SLACK = 32 * MiB

SHAPES = {"mnist": (28, 28), "photos": (256, 256, 3)}


# --------------------------------------------------------------------------------------------------
# Data.

def make_digits(n: int, seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-like digits: each class has its own strokes (quadratic curves); every sample is its class'
    strokes under a random rotation, scale, shift and wobble, drawn with anti-aliased edges."""
    rng = np.random.default_rng(seed)
    templates = [[rng.uniform(4, 24, (3, 2)) for _ in range(int(rng.integers(2, 4)))] for _ in range(10)]
    labels = rng.integers(0, 10, n).astype(np.int64)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    t = np.linspace(0, 1, 20, dtype=np.float32)[:, None]
    images = np.empty((n, 28, 28), np.uint8)
    for k in range(n):
        a, s = rng.normal(0, 0.2), rng.uniform(0.8, 1.1)
        rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        shift = rng.normal(0, 1.2, 2)
        pts = []
        for c in templates[labels[k]]:
            c = (c - 14) @ rot.T + 14 + shift + rng.normal(0, 0.8, (3, 2))
            pts.append((1 - t) ** 2 * c[0] + 2 * (1 - t) * t * c[1] + t ** 2 * c[2])
        p = np.concatenate(pts).astype(np.float32)
        d = np.sqrt(((yy[None] - p[:, 0, None, None]) ** 2 + (xx[None] - p[:, 1, None, None]) ** 2).min(0))
        half_width, peak = rng.uniform(1.0, 1.8), rng.uniform(200, 255)
        images[k] = (np.clip(half_width + 0.5 - d, 0, 1) * peak).astype(np.uint8)
    return images, labels


def make_photos(n: int, out: np.ndarray, seed: int = 4321) -> np.ndarray:
    """Photo-like 256x256 RGB into ``out``: a lit gradient, a few soft coloured blobs and a low-frequency
    texture, plus sensor noise (sigma ~3 levels). Returns the labels."""
    rng = np.random.default_rng(seed)
    yy, xx = (np.mgrid[0:256, 0:256].astype(np.float32) / 255.0)
    for k in range(n):
        base = rng.uniform(30, 200, 3).astype(np.float32)
        g = rng.uniform(-60, 60, (2, 3)).astype(np.float32)
        img = base + xx[..., None] * g[0] + yy[..., None] * g[1]
        for _ in range(int(rng.integers(2, 5))):
            cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
            img += blob[..., None] * rng.uniform(-90, 90, 3).astype(np.float32)
        fy, fx, ph = rng.uniform(2, 9), rng.uniform(2, 9), rng.uniform(0, 6.3)
        img += (np.sin(fy * 6.28 * yy + ph) * np.cos(fx * 6.28 * xx))[..., None] * rng.uniform(4, 14)
        img += rng.normal(0, 3.0, img.shape).astype(np.float32)
        out[k] = np.clip(img, 0, 255).astype(np.uint8)
    return rng.integers(0, 10, n).astype(np.int64)


def ensure_data(data: Path, kind: str, n: int) -> None:
    if (data / "labels.npy").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    print(f"making {n} {kind} samples ...", file=sys.stderr, flush=True)
    if kind == "mnist":
        images, labels = make_digits(n)
        np.save(data / "images.npy", images)
    else:
        images = np.lib.format.open_memmap(data / "images.npy", mode="w+", dtype=np.uint8, shape=(n, *SHAPES[kind]))
        labels = make_photos(n, images)
        images.flush()
        del images
    np.save(data / "labels.npy", labels)


def load_data(data_dir: str, mmap: bool = False) -> tuple[np.ndarray, np.ndarray]:
    return (np.load(os.path.join(data_dir, "images.npy"), mmap_mode="r" if mmap else None),
            np.load(os.path.join(data_dir, "labels.npy")))


def parse_dataset(name: str) -> tuple[str, int]:
    kind, _, size = name.partition("-")
    if kind not in SHAPES or not size:
        raise SystemExit(f"unknown dataset {name!r}: expected mnist-N or photos-N (N like 10k or 2000)")
    return kind, int(float(size[:-1]) * 1000) if size.endswith("k") else int(size)


# --------------------------------------------------------------------------------------------------
# One adapter per system, each written the way its users write it. Imports are lazy: a worker imports
# only its own library.

def _label_schema(lib):
    return lib.schema.ClassLabel(num_classes=10)


class HubfsAdapter:
    def __init__(self) -> None:  # import before any timing
        import hubfs
        import hubfs.schema
        self.lib = hubfs

    def create(self, path: str, n: int, shape: tuple) -> None:
        schema = {"image": self.lib.schema.Image(shape), "label": _label_schema(self.lib)}
        self.ds = self.lib.Dataset(path, mode="w", shape=(n,), schema=schema)

    def write(self, i: int, image: np.ndarray, label: int) -> None:
        self.ds["image", i] = image
        self.ds["label", i] = label

    def fill(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        self.ds["image", start:start + len(images)] = images
        self.ds["label", start:start + len(labels)] = labels

    def flush(self) -> None:
        self.ds.flush()

    def open(self, path: str, cache: int | None = None, mode: str = "r") -> None:
        kw = {} if cache is None else {"cache": cache}
        self.ds = self.lib.Dataset(path, mode=mode, **kw)

    def read(self, i: int):
        return self.ds["image", i].compute(), self.ds["label", i].compute()

    def bulk(self, n: int) -> np.ndarray:
        return self.ds["image", 0:n].compute()

    def scan(self, limit: int) -> int:
        count = 0
        for sample in self.ds:
            if count >= limit:
                break
            sample["image"].compute()
            sample["label"].compute()
            count += 1
        return count

    def edit(self, i: int, image: np.ndarray) -> None:
        self.ds["image", i] = image
        self.ds.flush()

    def sample_nbytes(self, path: str, i: int) -> tuple[int | None, str]:
        """The edited sample's own stored bytes where its layout stores it alone."""
        n = getattr(self.ds, "stored_nbytes", lambda *a: None)("image", i)
        return n, "its stored bytes"

    def close(self) -> None:
        self.ds.close()


class HubAdapter(HubfsAdapter):
    """Hub 1.3.5: the same API (hubfs answers to it), its own package."""

    def __init__(self) -> None:
        import hub
        import hub.schema
        self.lib = hub

    def open(self, path: str, cache: int | None = None, mode: str = "r") -> None:
        # Hub has a memory cache and a storage cache (256 MiB by default): both get the bound.
        kw = {} if cache is None else {"cache": cache, "storage_cache": cache}
        self.ds = self.lib.Dataset(path, mode=mode, **kw)

    def sample_nbytes(self, path: str, i: int) -> tuple[int | None, str]:
        return None, ""


class ZarrAdapter:
    """Plain zarr 3: a group with an image array and a label array, zarr's default codecs (zstd)."""
    one_per_chunk = False

    def __init__(self) -> None:
        import zarr
        self.zarr = zarr

    def _image_chunk(self, n: int, shape: tuple) -> int:
        if self.one_per_chunk:
            return 1
        per = MiB / int(np.prod(shape))  # ~1 MiB chunks, a power of two samples each
        return int(min(n, max(1, 2 ** round(np.log2(per)))))

    def create(self, path: str, n: int, shape: tuple) -> None:
        g = self.zarr.open_group(path, mode="w")
        self.img = g.create_array("image", shape=(n, *shape), chunks=(self._image_chunk(n, shape), *shape),
                                  dtype="uint8")
        self.lbl = g.create_array("label", shape=(n,), chunks=(1 if self.one_per_chunk else n,), dtype="int64")

    def write(self, i: int, image: np.ndarray, label: int) -> None:
        self.img[i] = image
        self.lbl[i] = label

    def fill(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        self.img[start:start + len(images)] = images
        self.lbl[start:start + len(labels)] = labels

    def flush(self) -> None:
        pass  # zarr writes through

    def open(self, path: str, cache: int | None = None, mode: str = "r") -> None:
        g = self.zarr.open_group(path, mode=mode)
        self.img, self.lbl = g["image"], g["label"]

    def read(self, i: int):
        return self.img[i], self.lbl[i]

    def bulk(self, n: int) -> np.ndarray:
        return self.img[0:n]

    def scan(self, limit: int) -> int:
        # zarr has no cache: the ordinary scan reads chunk by chunk, then walks the rows.
        n, step = min(limit, self.img.shape[0]), self.img.chunks[0]
        lstep = self.lbl.chunks[0]
        count, lbls, lstart = 0, None, -1
        for start in range(0, n, step):
            imgs = self.img[start:min(n, start + step)]
            for j in range(len(imgs)):
                k = start + j
                if k // lstep != lstart:
                    lstart = k // lstep
                    lbls = self.lbl[lstart * lstep:min(n, (lstart + 1) * lstep)]
                imgs[j], lbls[k - lstart * lstep]
                count += 1
        return count

    def edit(self, i: int, image: np.ndarray) -> None:
        self.img[i] = image

    def sample_nbytes(self, path: str, i: int) -> tuple[int | None, str]:
        if not self.one_per_chunk:
            return None, ""
        chunk = Path(path, "image", "c", str(i), *("0" * (self.img.ndim - 1)))
        return (chunk.stat().st_size if chunk.exists() else None), "its chunk"

    def close(self) -> None:
        pass


class ZarrOneAdapter(ZarrAdapter):
    one_per_chunk = True


ADAPTERS = {"hubfs": HubfsAdapter, "zarr-bulk": ZarrAdapter, "zarr-one": ZarrOneAdapter, "hub": HubAdapter}


# --------------------------------------------------------------------------------------------------
# Worker phases: each runs in a fresh process and returns a JSON-able dict.

def _pcts(values_ns: list[int]) -> dict:
    a = np.asarray(values_ns, dtype=np.float64) / 1e3
    return {"p50_us": float(np.percentile(a, 50)), "p99_us": float(np.percentile(a, 99)),
            "mean_us": float(a.mean()), "count": int(a.size)}


def _files(path: str) -> dict[str, tuple[int, int, int]]:
    """Every file under ``path``: relative name -> (size, mtime_ns, inode)."""
    out = {}
    for dirpath, _, files in os.walk(path):
        for f in files:
            full = os.path.join(dirpath, f)
            try:
                st = os.stat(full)
            except OSError:
                continue
            out[os.path.relpath(full, path)] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def _dir_bytes(path: str) -> int:
    return sum(v[0] for v in _files(path).values())


def _tensor_data_bytes(path: str, tensor: str) -> int:
    return sum(size for rel, (size, _, _) in _files(os.path.join(path, tensor)).items() if not _is_metadata(rel))


def _is_metadata(rel: str) -> bool:
    name = os.path.basename(rel)
    return name.endswith(".json") or name in (".zarray", ".zattrs", ".zgroup", "version.pkl") or name.endswith(".lock")


def phase_write(ad, args) -> dict:
    images, labels = load_data(args.data)
    n = len(images)
    timed = min(n, args.timed_n or n)
    clock = time.perf_counter
    ad.create(args.path, n, images.shape[1:])
    t0 = clock()
    for i in range(timed):
        ad.write(i, images[i], int(labels[i]))
    t1 = clock()
    ad.flush()
    t2 = clock()
    step = max(1, (16 * MiB) // images[0].nbytes)
    for start in range(timed, n, step):  # the rest by slices, untimed
        ad.fill(start, images[start:start + step], labels[start:start + step])
    ad.close()
    t3 = clock()
    return {"timed_n": timed, "n": n, "write_s": t1 - t0, "flush_s": t2 - t1,
            "rate": timed / (t2 - t0), "fill_close_s": t3 - t2, "stored_bytes": _dir_bytes(args.path),
            "image_bytes": _tensor_data_bytes(args.path, "image")}


def phase_read(ad, args) -> dict:
    images, labels = load_data(args.data, mmap=True)
    n = len(images)
    k = min(n, args.reads)
    idx = np.random.default_rng(7).permutation(n)[:k].tolist()
    clock = time.perf_counter_ns
    t0 = clock()
    ad.open(args.path)
    open_ns = clock() - t0
    bad = 0

    def one_pass(order):  # timed reads first, then the check (the source is read after the clock)
        nonlocal bad
        times, got = [], []
        for i in order:
            a = clock()
            v = ad.read(i)
            times.append(clock() - a)
            got.append(v)
        for i, (img, lbl) in zip(order, got):
            bad += not (np.array_equal(img, images[i]) and int(lbl) == int(labels[i]))
        return times

    cold = one_pass(idx)          # first touch of each sample in this new process
    warm = []
    rng = np.random.default_rng(8)
    for _ in range(3):
        warm += one_pass(rng.permutation(idx).tolist())
    ad.close()
    return {"open_ms": open_ns / 1e6, "cold": _pcts(cold), "warm": _pcts(warm), "mismatches": bad}


def phase_bulk(ad, args) -> dict:
    images, _ = load_data(args.data, mmap=True)
    n = len(images)
    times, bad = [], 0
    for _ in range(args.repeat):
        ad.open(args.path)          # a fresh dataset object each time: no warm engine cache
        t0 = time.perf_counter()
        out = ad.bulk(n)
        times.append(time.perf_counter() - t0)
        bad += not np.array_equal(np.asarray(out), images)
        del out
        ad.close()
    med = float(np.median(times))
    return {"seconds": med, "runs": times, "rate": n / med, "mb_s": images.nbytes / med / 1e6,
            "mismatches": bad}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _reset_peak_rss() -> bool:
    """Make the kernel's peak-RSS mark (VmHWM) the current RSS, so it measures from here on. ru_maxrss
    cannot: it carries over the parent's peak across fork and exec."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5\n")
        return True
    except OSError:
        return False


def phase_scan(ad, args) -> dict:
    # Nothing but the library is loaded here: the RSS is the scan's.
    ad.open(args.path, cache=args.cache)
    reset = _reset_peak_rss()
    before = _status_kib("VmRSS") * 1024
    t0 = time.perf_counter()
    count = ad.scan(args.limit or 1 << 62)
    secs = time.perf_counter() - t0
    peak = _status_kib("VmHWM") * 1024
    ad.close()
    return {"samples": count, "seconds": secs, "rate": count / secs, "cache": args.cache,
            "rss_before_scan": before, "peak_rss": peak, "peak_is_the_scans": reset,
            "rss_growth": peak - before}


def _wchar() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("wchar:"))


def phase_edit(ad, args) -> dict:
    images, _ = load_data(args.data, mmap=True)
    n = len(images)
    i = n // 2
    new = np.ascontiguousarray(images[(i + 1) % n])
    ad.open(args.path, mode="r+" if not isinstance(ad, HubAdapter) else "a")
    files_before = _files(args.path)
    w0 = _wchar()
    t0 = time.perf_counter()
    ad.edit(i, new)
    secs = time.perf_counter() - t0
    written = _wchar() - w0
    files_after = _files(args.path)
    sample, how = ad.sample_nbytes(args.path, i)
    # Then many edits, one sample each (random samples), each flushed: what the edits cost on average,
    # compactions included (hubfs: a chunk is rewritten when its deltas outgrow their limits).
    rng = np.random.default_rng(11)
    picks = rng.integers(0, n, args.edits).tolist()
    w1 = _wchar()
    for j in picks:
        ad.edit(j, np.ascontiguousarray(images[(j + 7) % n]))
    repeated = _wchar() - w1
    w2 = _wchar()
    ad.close()
    closing = _wchar() - w2
    changed = {rel: v[0] for rel, v in files_after.items() if files_before.get(rel) != v}
    meta = sum(s for rel, s in changed.items() if _is_metadata(rel))
    data_files = sum(s for rel, s in changed.items() if not _is_metadata(rel))
    if sample is None:  # the sample shares its chunk: its share of the tensor's stored bytes
        sample, how = _tensor_data_bytes(args.path, "image") / n, "its share of the tensor's stored bytes"
    ad.open(args.path)
    want = {i: new, **{j: images[(j + 7) % n] for j in picks}}  # the last value each sample was given
    ok = all(np.array_equal(np.asarray(ad.read(j)[0]), v) for j, v in want.items())
    ad.close()
    return {"index": i, "seconds": secs, "wchar": written, "metadata_bytes": meta,
            "data_bytes": max(0, written - meta), "close_wchar": closing,
            "repeat_edits": len(picks), "repeat_wchar_per_edit": repeated / max(1, len(picks)), "changed_files": len(changed), "changed_data_file_bytes": data_files,
            "sample_bytes": sample, "sample_bytes_is": how, "mismatches": int(not ok)}


PHASES = {"write": phase_write, "read": phase_read, "bulk": phase_bulk, "scan": phase_scan, "edit": phase_edit}


def worker(args) -> None:
    result = PHASES[args.phase](ADAPTERS[args.worker](), args)
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------------
# The orchestrator.

def drop_page_cache() -> str | None:
    """Drop the OS page cache; None when done, else why not."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"


def run_phase(system: str, phase: str, path: str, data: str, python: str, log_dir: Path, timeout: int,
              **extra) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", system, "--phase", phase,
           "--path", path, "--data", data]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    env = dict(os.environ)
    if system == "hub":
        env.pop("PYTHONPATH", None)  # Hub's venv sees nothing of this repository
    else:
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONHASHSEED", "0")
    log = log_dir / f"{Path(path).name}-{phase}.log"
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                           cwd=os.path.dirname(path))
    except subprocess.TimeoutExpired as exc:
        log.write_text(f"$ {' '.join(cmd)}\ntimed out after {timeout} s\n{exc.stderr or ''}")
        return {"error": f"timed out after {timeout} s (log: {log})"}
    log.write_text(f"$ {' '.join(cmd)}\nexit {p.returncode} after {time.perf_counter() - t0:.1f} s\n"
                   f"--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    how = f"killed by signal {-p.returncode}" if p.returncode < 0 else f"exit {p.returncode}"
    tail = " | ".join((p.stderr.strip() or p.stdout.strip() or "no output at all").splitlines()[-3:])
    return {"error": f"{how}: {tail} (log: {log})"}


def _get(res, *keys):
    for k in keys:
        if not isinstance(res, dict) or k not in res:
            return None
        res = res[k]
    return res


def _fmt(v, digits=3) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if v == 0:
        return "0"
    mag = abs(v)
    if mag >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{max(0, digits - 1 - int(np.floor(np.log10(mag))))}f}"


def _ratio(a, b) -> str:
    return "not measured" if a is None or b is None or b == 0 else f"{a / b:.3g}x"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])] + [row[c].rjust(widths[c]) for c in range(2, len(row))]
        lines.append("| " + " | ".join(cells) + " |")
        if j == 0:
            lines.append("|" + "|".join("-" * (w + 2) if c < 2 else "-" * (w + 1) + ":" for c, w in enumerate(widths)) + "|")
    return lines


def report_dataset(name: str, r: dict, meta: dict, zarr_one_from: str | None = None, zarr_one: dict | None = None
                   ) -> tuple[list[str], list[tuple[bool | None, str]]]:
    """One dataset's table and its targets; ``zarr_one``: the zarr 1/chunk results of ``zarr_one_from``
    (the same kind of samples) when this dataset has none."""
    cold = "cold" if meta["cold"] else "new process, warm OS cache"
    rows = [
        ("write one-at-a-time", ("write", "rate"), "samples/s"),
        (f"read p50, {cold}", ("read", "cold", "p50_us"), "us"),
        (f"read p99, {cold}", ("read", "cold", "p99_us"), "us"),
        ("read p50, warm", ("read", "warm", "p50_us"), "us"),
        ("read p99, warm", ("read", "warm", "p99_us"), "us"),
        ("open dataset", ("read", "open_ms"), "ms"),
        ("bulk image[0:n].compute()", ("bulk", "rate"), "samples/s"),
        ("scan in order", ("scan", "rate"), "samples/s"),
        ("  RSS before the scan", ("scan", "rss_before_scan"), "MiB"),
        ("  RSS growth in the scan", ("scan", "rss_growth"), "MiB"),
        ("edit 1 sample + flush: written", ("edit", "wchar"), "bytes"),
        ("  of which metadata", ("edit", "metadata_bytes"), "bytes"),
        ("  the sample's encoded size", ("edit", "sample_bytes"), "bytes"),
        ("edit 100 random samples, 1 flush each", ("edit", "repeat_wchar_per_edit"), "bytes/edit"),
        ("  then close (hubfs: compaction)", ("edit", "close_wchar"), "bytes"),
        ("stored size", ("write", "stored_bytes"), "MiB"),
    ]
    systems = [s for s in SYSTEMS if s in r]
    header = ["metric", "unit"] + [LABELS[s] for s in systems] + (["hubfs/hub"] if "hub" in r else [])
    table = [header]
    for label, path, unit in rows:
        vals = {}
        for s in systems:
            v = _get(r[s], *path)
            vals[s] = v / MiB if v is not None and unit == "MiB" else v
        row = [label, unit] + [_fmt(vals[s]) for s in systems]
        if "hub" in r:
            row.append(_ratio(vals.get("hubfs"), vals["hub"]) if "hubfs" in r else "-")
        table.append(row)
    kind, n = meta["datasets"][name]
    out = [f"## {name}: {n:,} samples, Image({SHAPES[kind]}) + ClassLabel(num_classes=10), "
           f"raw {meta['raw'][name] / MiB:.1f} MiB, {meta['reads'][name]} random reads per pass"
           + (f" (zarr and Hub: {meta['slow_reads'][name]})" if meta['slow_reads'][name] < meta['reads'][name] else ""),
           ""]
    out += _table(table)
    notes = []
    for s in systems:
        w = _get(r[s], "write")
        if w and w.get("timed_n") not in (None, w.get("n")):
            notes.append(f"{LABELS[s]}'s one-at-a-time write is timed on its first {w['timed_n']:,} samples.")
        sc = _get(r[s], "scan")
        if isinstance(sc, dict) and "samples" in sc and sc["samples"] < n:
            notes.append(f"{LABELS[s]}'s scan is timed on its first {sc['samples']:,} samples.")
    if zarr_one_from:
        notes.append(f"zarr 1/chunk is not run past {ZARR_ONE_MAX_N:,} samples (two files per sample, ~5 ms "
                     f"each to write here): its cold read in the targets is the one measured on {zarr_one_from} in "
                     f"this run (a read of one sample's own file does not depend on how many there are).")
    for s in systems:
        if _get(r[s], "scan", "peak_is_the_scans") is False:
            notes.append(f"{LABELS[s]}: /proc/self/clear_refs refused: its scan's peak RSS is the process's.")
    how = {s: _get(r[s], "edit", "sample_bytes_is") for s in systems}
    notes.append("The sample's encoded size is " + "; ".join(f"{LABELS[s]}: {h}" for s, h in how.items() if h) + ".")
    out += [""] + notes

    h, zb, zo, hub = (r.get(s, {}) for s in SYSTEMS)
    zo = zarr_one if zarr_one_from else zo
    targets: list[tuple[bool | None, str]] = []

    def judge(what: str, value, limit, higher: bool, fmt: str = "{:.3g}", unit: str = "") -> None:
        if value is None or limit is None:
            targets.append((None, f"{name}: {what}: not measured"))
            return
        ok = value >= limit if higher else value <= limit
        targets.append((ok, f"{name}: {what}: {fmt.format(value)}{unit} (limit {fmt.format(limit)}{unit})"))

    hb = _get(h, "bulk", "rate")
    judge(f"bulk >= {BULK_VS_HUB:g}x Hub 1.3.5", None if hb is None or not _get(hub, "bulk", "rate") else
          hb / _get(hub, "bulk", "rate"), BULK_VS_HUB, True, unit="x")
    zbest = max([v for v in (_get(zb, "bulk", "rate"), _get(zo, "bulk", "rate")) if v] or [0]) or None
    judge(f"bulk >= {BULK_VS_ZARR:.0%} of zarr's best layout", None if hb is None or zbest is None else hb / zbest,
          BULK_VS_ZARR, True, "{:.0%}")
    hs, zs = _get(h, "scan", "rate"), _get(zb, "scan", "rate")
    judge(f"scan >= {SCAN_VS_ZARR:.0%} of zarr's chunk scan", None if hs is None or not zs else hs / zs,
          SCAN_VS_ZARR, True, "{:.0%}")
    judge(f"warm read p50 <= {WARM_P50_US:g} us", _get(h, "read", "warm", "p50_us"), WARM_P50_US, False,
          "{:.3g}", " us")
    hc, zc = _get(h, "read", "cold", "p50_us"), _get(zo, "read", "cold", "p50_us")
    judge(f"{cold} read p50 within {COLD_VS_ZARR_ONE:g}x of zarr 1/chunk"
          + (f" (of {zarr_one_from})" if zarr_one_from else ""), None if hc is None or not zc else hc / zc,
          COLD_VS_ZARR_ONE, False, unit="x")
    data, sample = _get(h, "edit", "data_bytes"), _get(h, "edit", "sample_bytes")
    judge(f"edit + flush: data bytes written <= {EDIT_VS_SAMPLE:g}x the sample's encoded size",
          None if data is None or not sample else data / sample, EDIT_VS_SAMPLE, False, "{:.3g}", "x")
    hw, bw = _get(h, "write", "rate"), _get(hub, "write", "rate")
    judge(f"one-at-a-time write >= {WRITE_VS_HUB:g}x Hub 1.3.5", None if hw is None or not bw else hw / bw,
          WRITE_VS_HUB, True, unit="x")
    growth = _get(h, "scan", "rss_growth")
    if meta["raw"][name] >= 4 * SCAN_CACHE:
        judge(f"scan with cache=64 MiB over {meta['raw'][name] / SCAN_CACHE:.1f}x that data: RSS growth <= "
              f"cache + {RSS_SLACK // MiB} MiB", None if growth is None else growth / MiB,
              (SCAN_CACHE + RSS_SLACK) / MiB, False, "{:.0f}", " MiB")
    return out, targets


def build_report(results: dict, meta: dict) -> tuple[str, list[tuple[bool | None, str]]]:
    out = [f"hubfs benchmark, {meta['host']}", f"commit {meta['commit']}",
           "cold = a new process after the OS page cache was dropped" if meta["cold"] else
           f"the OS page cache was not dropped ({meta['cold_note']}): first reads are a new process "
           f"with a warm OS cache", ""]
    if meta.get("hub_note"):
        out += [meta["hub_note"], ""]
    targets = []
    for name, (kind, _) in meta["datasets"].items():
        ref = None
        if "zarr-one" not in results[name]:
            ref = next((other for other, (k, _) in meta["datasets"].items()
                        if k == kind and "read" in results[other].get("zarr-one", {})), None)
        lines, t = report_dataset(name, results[name], meta, ref, ref and results[ref]["zarr-one"])
        out += lines + [""]
        targets += t
    out += ["Rates: higher is better; latencies, bytes, RSS and size: lower is better. A read = image + label.",
            "Bulk and scan run with the files in the OS cache; scans with cache=64 MiB (zarr has no cache).",
            "Edit: bytes the process wrote (write(2) calls) for one changed image and the flush; data = that less",
            "the metadata files rewritten; then 100 edits of random samples, a flush each (bytes per edit, all",
            "included), and what close() wrote after them.", "", "Targets (issue 10):"]
    for ok, text in targets:
        out.append(f"  [{'met' if ok else 'MISSED' if ok is False else 'n/a'}] {text}")
    problems = [f"{name} {s} {ph}: {res['error']}" for name, rs in results.items() for s, phases in rs.items()
                for ph, res in phases.items() if isinstance(res, dict) and "error" in res]
    problems += [f"{name} {s} {ph}: {res['mismatches']} values read back wrong" for name, rs in results.items()
                 for s, phases in rs.items() for ph, res in phases.items()
                 if isinstance(res, dict) and res.get("mismatches")]
    if problems:
        out += ["", "Problems:"] + [f"  {p}" for p in problems]
    return "\n".join(out), targets


def _commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "hubfs"],
                               capture_output=True, text=True).stdout.strip()
        return head[:100] + (" (hubfs/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="add mnist-100k and Hub 1.3.5")
    ap.add_argument("--hub", action="store_true", help="add Hub 1.3.5")
    ap.add_argument("--no-hub", action="store_true", help="leave Hub 1.3.5 out, also with --full")
    ap.add_argument("--warm-os-cache", action="store_true",
                    help="never drop the OS page cache (then no figure is called cold)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: mnist-500 and photos-50, few reads")
    ap.add_argument("--datasets", help="comma-separated, e.g. mnist-10k,photos-2k,mnist-100k")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    ap.add_argument("--out", default=str(ROOT / ".bench" / "out"), help="working folder and results")
    ap.add_argument("--reads", type=int, default=2000, help="random reads per pass (photos: a quarter)")
    ap.add_argument("--slow-reads", type=int, default=500,
                    help="random reads per pass of zarr and Hub (ms each; default 500)")
    ap.add_argument("--hub-python", default=str(HUB_PYTHON), help="python of the Hub 1.3.5 venv")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per measurement (default 1800)")
    ap.add_argument("--phases", default=",".join(PHASES),
                    help="comma-separated subset of " + ",".join(PHASES) + " (write always runs: it builds the "
                         "dataset; e.g. --phases edit,bulk,scan)")
    # worker mode
    ap.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    ap.add_argument("--phase", choices=tuple(PHASES), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--timed-n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=5, help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--edits", type=int, default=100, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    names = (args.datasets.split(",") if args.datasets else
             ["mnist-500", "photos-50"] if args.quick else
             ["mnist-10k", "photos-2k"] + (["mnist-100k"] if args.full else []))
    datasets = {name: parse_dataset(name) for name in names}
    systems = [s for s in args.systems.split(",") if s in SYSTEMS]
    hub_note = None
    if "hub" in systems and (args.no_hub or not (args.full or args.hub)):
        systems.remove("hub")
        hub_note = ("Hub 1.3.5 not run (" + ("--no-hub" if args.no_hub else "pass --full or --hub")
                    + "): every ratio to Hub is \"not measured\".")
    elif "hub" in systems and not os.access(args.hub_python, os.X_OK):
        systems.remove("hub")
        hub_note = f"Hub 1.3.5 could not run: no {args.hub_python} (scripts/setup_hub135.sh builds it)."
    reads_base = min(args.reads, 100) if args.quick else args.reads

    out = Path(args.out).resolve()
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    cold_note = "--warm-os-cache" if args.warm_os_cache else drop_page_cache()
    python = {s: (args.hub_python if s == "hub" else sys.executable) for s in SYSTEMS}
    results: dict[str, dict] = {}
    raw, reads, slow_reads = {}, {}, {}
    started, load_start = time.perf_counter(), os.getloadavg()[0]
    for name, (kind, n) in datasets.items():
        data = out / f"data-{name}"
        ensure_data(data, kind, n)
        raw[name] = n * (int(np.prod(SHAPES[kind])) + 8)
        photos = kind == "photos"
        sample_nbytes = int(np.prod(SHAPES[kind]))
        # Warm reads are of samples in the engine's cache: the read set fits in half the default 64 MiB.
        reads[name] = min(n, reads_base, (SCAN_CACHE // 2) // sample_nbytes)
        slow_reads[name] = min(reads[name], args.slow_reads)
        results[name] = {}
        for s in systems:
            if s == "zarr-one" and n > ZARR_ONE_MAX_N:
                continue
            res = results[name][s] = {}
            path = str(out / f"{s}-{name}")
            shutil.rmtree(path, ignore_errors=True)
            slow = {"hub": 100 if photos else 1000, "zarr-bulk": 100 if photos else 500,
                    "zarr-one": 200 if photos else 2000}.get(s, 0)
            nreads = min(reads[name], args.slow_reads) if s in SLOW_READERS else reads[name]
            plan = [("write", {"timed_n": slow}), ("read", {"reads": nreads})]
            if s != "zarr-one":  # its layout is for random reads; bulk and scan are zarr-bulk's
                plan += [("bulk", {"repeat": 3 if n * np.prod(SHAPES[kind]) > 64 * MiB else 5}),
                         ("scan", {"cache": SCAN_CACHE, "limit": (200 if photos else 1000) if s == "hub" else 0})]
            plan.append(("edit", {}))
            wanted = set(args.phases.split(",")) | {"write"}
            plan = [(phase, extra) for phase, extra in plan if phase in wanted]
            for phase, extra in plan:
                t0 = time.perf_counter()
                print(f"{name} {s}: {phase} ...", end="", file=sys.stderr, flush=True)
                if phase == "read" and cold_note is None:
                    cold_note = "--warm-os-cache" if args.warm_os_cache else drop_page_cache()
                res[phase] = run_phase(s, phase, path, str(data), python[s], logs, args.timeout, **extra)
                print(f" {time.perf_counter() - t0:.1f} s" + (f"  {res[phase]['error']}" if "error" in res[phase] else ""),
                      file=sys.stderr, flush=True)
                if phase == "write" and "error" in res[phase]:
                    break
            shutil.rmtree(path, ignore_errors=True) if n >= 100000 else None

    host = (f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / (1 << 30):.0f} GiB, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, run took {time.perf_counter() - started:.0f} s, "
            f"load average {load_start:.1f} at its start and {os.getloadavg()[0]:.1f} at its end "
            f"(the machine is shared: rates scale with it)")
    meta = {"datasets": datasets, "raw": raw, "reads": reads, "slow_reads": slow_reads, "host": host,
            "commit": _commit(), "cold": cold_note is None, "cold_note": cold_note, "hub_note": hub_note,
            "argv": sys.argv[1:]}
    report, _ = build_report(results, meta)
    print(report)
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    (out / "results.txt").write_text(report + "\n")


if __name__ == "__main__":
    main()
