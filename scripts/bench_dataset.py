#!/usr/bin/env python3
"""Benchmark: hubfs beside plain zarr 3 and Hub 1.3.5 on MNIST-like samples (28x28 uint8 image + label).

    .venv/bin/python scripts/bench_dataset.py [--n 10000] [--quick] [--out DIR] [--no-hub]

Prints, in one run, for each system on the same data:
  1. one-at-a-time write throughput (ds["image", i] = a; ds["label", i] = l; ...; flush)
  2. random single-sample read latency p50/p99 (image + label), cold (fresh process and dataset, page
     cache as is, first touch of each sample) and cached (the same samples read again)
  3. bulk ds["image", 0:n].compute() throughput
  4. peak RSS while scanning every sample of a dataset 4x larger than the cache (cache= bytes)
then the issue's targets, each marked met or missed. Hub 1.3.5 runs when scripts/setup_hub135.sh has
built .bench/hub135. Every measurement runs in a fresh subprocess that prints one JSON result; this
file is also that subprocess (--worker), and it imports only numpy and the library measured, so it
runs in Hub's old venv too. Nothing here asserts a timing: a benchmark only prints.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HUB_PYTHON = ROOT / ".bench" / "hub135" / "bin" / "python"
MARK = "BENCH_RESULT "
SYSTEMS = ("hubfs", "zarr", "hub", "hubfs-lz4")
MiB = 1 << 20

# Targets from issue 2.
CACHED_P50_US = 20.0
BULK_VS_ZARR = 0.70
VS_HUB = 30.0
RSS_SLACK = 200 * MiB


# --------------------------------------------------------------------------------------------------
# Data: MNIST-like digits. Each class has its own strokes (quadratic curves); every sample is its class'
# strokes under a random rotation, scale, shift and wobble, drawn with anti-aliased edges.

def make_data(n: int, seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
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


def load_data(data_dir: str) -> tuple[np.ndarray, np.ndarray]:
    return np.load(os.path.join(data_dir, "images.npy")), np.load(os.path.join(data_dir, "labels.npy"))


# --------------------------------------------------------------------------------------------------
# One adapter per system, each written the way its users write it. Imports are lazy: a worker imports
# only its own library.

class HubfsAdapter:
    compressor: str | None = None  # None: Image's default (PNG, one per sample)

    def __init__(self) -> None:  # import before any timing
        import hubfs
        import hubfs.schema
        self.lib = hubfs

    def create(self, path: str, n: int) -> None:
        kw = {} if self.compressor is None else {"compressor": self.compressor}
        schema = {"image": self.lib.schema.Image((28, 28), **kw), "label": self.lib.schema.ClassLabel(num_classes=10)}
        self.ds = self.lib.Dataset(path, mode="w", shape=(n,), schema=schema)

    def write(self, i: int, image: np.ndarray, label: int) -> None:
        self.ds["image", i] = image
        self.ds["label", i] = label

    def fill(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        self.ds["image", start:start + len(images)] = images
        self.ds["label", start:start + len(labels)] = labels

    def flush(self) -> None:
        self.ds.flush()

    def open(self, path: str, cache: int | None = None) -> None:
        kw = {} if cache is None else {"cache": cache}
        self.ds = self.lib.Dataset(path, mode="r", **kw)

    def read(self, i: int):
        return self.ds["image", i].compute(), self.ds["label", i].compute()

    def read_image(self, i: int):
        return self.ds["image", i].compute()

    def bulk(self, n: int) -> np.ndarray:
        return self.ds["image", 0:n].compute()

    def scan(self) -> int:
        count = 0
        for sample in self.ds:
            sample["image"].compute()
            sample["label"].compute()
            count += 1
        return count

    def close(self) -> None:
        self.ds.close()


class HubfsLz4Adapter(HubfsAdapter):
    """For context: hubfs with Image((28, 28), compressor="lz4"), Hub 1.x's default (chunked layout)."""
    compressor = "lz4"


class HubAdapter(HubfsAdapter):
    """Hub 1.3.5: the same API (hubfs answers to it), its own package and modes."""

    def __init__(self) -> None:
        import hub
        import hub.schema
        self.lib = hub

    def open(self, path: str, cache: int | None = None) -> None:
        # Hub has a memory cache and a storage cache (256 MiB by default): both get the bound.
        kw = {} if cache is None else {"cache": cache, "storage_cache": cache}
        self.ds = self.lib.Dataset(path, mode="r", **kw)


class ZarrAdapter:
    """Plain zarr 3: a group with an image array chunked ~1 MiB (1024 samples) and a label array."""

    def __init__(self) -> None:
        import zarr
        self.zarr = zarr

    def create(self, path: str, n: int) -> None:
        g = self.zarr.open_group(path, mode="w")
        self.img = g.create_array("image", shape=(n, 28, 28), chunks=(min(n, 1024), 28, 28), dtype="uint8")
        self.lbl = g.create_array("label", shape=(n,), chunks=(n,), dtype="int64")

    def write(self, i: int, image: np.ndarray, label: int) -> None:
        self.img[i] = image
        self.lbl[i] = label

    def fill(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        self.img[start:start + len(images)] = images
        self.lbl[start:start + len(labels)] = labels

    def flush(self) -> None:
        pass  # zarr writes through

    def open(self, path: str, cache: int | None = None) -> None:
        g = self.zarr.open_group(path, mode="r")
        self.img, self.lbl = g["image"], g["label"]

    def read(self, i: int):
        return self.img[i], self.lbl[i]

    def read_image(self, i: int):
        return self.img[i]

    def bulk(self, n: int) -> np.ndarray:
        return self.img[0:n]

    def scan(self) -> int:
        # zarr has no cache: the ordinary scan reads chunk by chunk, then walks the rows.
        n, step = self.img.shape[0], self.img.chunks[0]
        count = 0
        for start in range(0, n, step):
            imgs, lbls = self.img[start:start + step], self.lbl[start:start + step]
            for j in range(len(imgs)):
                imgs[j], lbls[j]
                count += 1
        return count

    def close(self) -> None:
        pass


ADAPTERS = {"hubfs": HubfsAdapter, "zarr": ZarrAdapter, "hub": HubAdapter, "hubfs-lz4": HubfsLz4Adapter}


# --------------------------------------------------------------------------------------------------
# Worker phases: each runs in a fresh process and returns a JSON-able dict.

def _pcts(values_ns: list[int]) -> dict:
    a = np.asarray(values_ns, dtype=np.float64) / 1e3
    return {"p50_us": float(np.percentile(a, 50)), "p99_us": float(np.percentile(a, 99)),
            "mean_us": float(a.mean()), "count": int(a.size)}


def _dir_bytes(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


def phase_write(ad, args) -> dict:
    images, labels = load_data(args.data)
    n = len(images)
    timed = min(n, args.timed_n or n)
    clock = time.perf_counter
    ad.create(args.path, n)
    t0 = clock()
    for i in range(timed):
        ad.write(i, images[i], int(labels[i]))
    t1 = clock()
    ad.flush()
    t2 = clock()
    # Samples past the timed part (Hub only, which is slow) are filled by slices, untimed.
    for start in range(timed, n, 1000):
        ad.fill(start, images[start:start + 1000], labels[start:start + 1000])
    ad.close()
    t3 = clock()
    return {"timed_n": timed, "n": n, "write_s": t1 - t0, "flush_s": t2 - t1,
            "rate": timed / (t2 - t0), "close_s": t3 - t2, "stored_bytes": _dir_bytes(args.path)}


def phase_read(ad, args) -> dict:
    images, labels = load_data(args.data)
    n = len(images)
    k = min(n, args.reads)
    idx = np.random.default_rng(7).permutation(n)[:k].tolist()
    clock = time.perf_counter_ns
    t0 = clock()
    ad.open(args.path)
    open_ns = clock() - t0
    bad = 0

    def one_pass(order):
        nonlocal bad
        sample, image = [], []
        for i in order:
            a = clock()
            img, lbl = ad.read(i)
            b = clock()
            sample.append(b - a)
            if not (np.array_equal(img, images[i]) and int(lbl) == int(labels[i])):
                bad += 1
        for i in order:  # image tensor alone, for the detail
            a = clock()
            ad.read_image(i)
            image.append(clock() - a)
        return sample, image

    cold, _ = one_pass(idx)          # first touch of each sample in this process
    cached, cached_img = [], []
    rng = np.random.default_rng(8)
    for _ in range(3):
        s, im = one_pass(rng.permutation(idx).tolist())
        cached += s
        cached_img += im
    ad.close()
    return {"open_ms": open_ns / 1e6, "cold": _pcts(cold), "cached": _pcts(cached),
            "cached_image": _pcts(cached_img), "mismatches": bad}


def phase_bulk(ad, args) -> dict:
    images, _ = load_data(args.data)
    n = len(images)
    times, bad = [], 0
    for _ in range(5):
        ad.open(args.path)          # a fresh dataset object each time: no warm engine cache
        t0 = time.perf_counter()
        out = ad.bulk(n)
        times.append(time.perf_counter() - t0)
        bad += not np.array_equal(np.asarray(out), images)
        ad.close()
    med = float(np.median(times))
    return {"seconds": med, "runs": times, "rate": n / med, "mb_s": images.nbytes / med / 1e6,
            "mismatches": bad}


def _rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def phase_scan(ad, args) -> dict:
    ad.open(args.path, cache=args.cache)
    before = _rss_now()
    t0 = time.perf_counter()
    count = ad.scan()
    secs = time.perf_counter() - t0
    ad.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"samples": count, "seconds": secs, "rate": count / secs, "cache": args.cache,
            "rss_before_scan": before, "peak_rss": peak}


PHASES = {"write": phase_write, "read": phase_read, "bulk": phase_bulk, "scan": phase_scan}


def worker(args) -> None:
    result = PHASES[args.phase](ADAPTERS[args.worker](), args)
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------------
# The orchestrator.

def run_phase(system: str, phase: str, path: str, data: str, python: str, **extra) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", system, "--phase", phase,
           "--path", path, "--data", data]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONHASHSEED", "0")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600, cwd=os.path.dirname(path))
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 3600 s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
    return {"error": f"exit {p.returncode}: {tail}"}


def _get(res: dict, *keys):
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
    return "-" if a is None or b is None or b == 0 else f"{a / b:.3g}x"


def build_report(results: dict, meta: dict) -> tuple[str, list[tuple[bool | None, str]]]:
    r = results
    rows = [  # (label, getter path, unit, higher is better)
        ("write one-at-a-time", ("write", "rate"), "samples/s"),
        ("read cold p50", ("read", "cold", "p50_us"), "us"),
        ("read cold p99", ("read", "cold", "p99_us"), "us"),
        ("read cached p50", ("read", "cached", "p50_us"), "us"),
        ("read cached p99", ("read", "cached", "p99_us"), "us"),
        ("  image only, cached p50", ("read", "cached_image", "p50_us"), "us"),
        ("open dataset", ("read", "open_ms"), "ms"),
        ("bulk image[0:n].compute()", ("bulk", "rate"), "samples/s"),
        ("scan peak RSS", ("scan", "peak_rss"), "MiB"),
        ("  RSS before the scan", ("scan", "rss_before_scan"), "MiB"),
        ("scan throughput", ("scan", "rate"), "samples/s"),
        ("  with the default cache", ("scan_default", "rate"), "samples/s"),
        ("stored size", ("write", "stored_bytes"), "MiB"),
    ]
    header = ["metric", "unit", "hubfs", "zarr", "hub 1.3.5", "hubfs/zarr", "hubfs/hub", "hubfs lz4*"]
    table = [header]
    for label, path, unit in rows:
        vals = {}
        for s in SYSTEMS:
            v = _get(r.get(s, {}), *path)
            if v is not None and unit == "MiB":
                v = v / MiB
            vals[s] = v
        table.append([label, unit] + [_fmt(vals[s]) if s in r else "n/a" for s in SYSTEMS[:3]]
                     + [_ratio(vals["hubfs"], vals["zarr"]), _ratio(vals["hubfs"], vals["hub"])]
                     + [_fmt(vals["hubfs-lz4"]) if "hubfs-lz4" in r else "n/a"])
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    lines = []
    for j, row in enumerate(table):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])] + [row[c].rjust(widths[c]) for c in range(2, len(row))]
        lines.append("| " + " | ".join(cells) + " |")
        if j == 0:
            lines.append("|" + "|".join("-" * (w + 2) if c < 2 else "-" * (w + 1) + ":" for c, w in enumerate(widths)) + "|")

    errors = [f"{s} {ph}: {res['error']}" for s in SYSTEMS for ph, res in r.get(s, {}).items()
              if isinstance(res, dict) and "error" in res]
    bad = [f"{s} {ph}: {res['mismatches']} samples read back wrong" for s in SYSTEMS
           for ph, res in r.get(s, {}).items() if isinstance(res, dict) and res.get("mismatches")]

    # Targets.
    targets: list[tuple[bool | None, str]] = []
    h, z, hub = r.get("hubfs", {}), r.get("zarr", {}), r.get("hub")
    p50 = _get(h, "read", "cached", "p50_us")
    targets.append((None if p50 is None else p50 <= CACHED_P50_US,
                    f"cached read p50 <= {CACHED_P50_US:g} us: {_fmt(p50)} us"
                    + ("" if p50 is None or p50 <= CACHED_P50_US else f" ({p50 / CACHED_P50_US:.2g}x the target)")))
    hb, zb = _get(h, "bulk", "rate"), _get(z, "bulk", "rate")
    if hb is not None and zb:
        share = hb / zb
        targets.append((share >= BULK_VS_ZARR, f"bulk >= {BULK_VS_ZARR:.0%} of zarr: {share:.0%}"
                        + ("" if share >= BULK_VS_ZARR else f" (short by {BULK_VS_ZARR - share:.0%} of zarr)")))
    else:
        targets.append((None, f"bulk >= {BULK_VS_ZARR:.0%} of zarr: not measured"))
    hw = _get(h, "write", "rate")
    if hub is not None:
        for what, hv, mv, better in (
                ("write one-at-a-time", _get(hub, "write", "rate"), hw, "rate"),
                ("cold read p50", _get(hub, "read", "cold", "p50_us"), _get(h, "read", "cold", "p50_us"), "lat"),
                ("cached read p50", _get(hub, "read", "cached", "p50_us"), p50, "lat"),
                ("cached image-only read p50", _get(hub, "read", "cached_image", "p50_us"),
                 _get(h, "read", "cached_image", "p50_us"), "lat")):
            if hv is None or mv is None:
                targets.append((None, f"{what} >= {VS_HUB:g}x Hub 1.3.5: not measured"))
                continue
            x = mv / hv if better == "rate" else hv / mv
            targets.append((x >= VS_HUB, f"{what} >= {VS_HUB:g}x Hub 1.3.5: {x:.3g}x"
                            + ("" if x >= VS_HUB else f" (short by {VS_HUB / x:.2g}x)")))
    else:
        ref = "" if hw is None else f"; against the issue's ~31 samples/s and ~2 ms reads: " \
            f"write {hw / 31:.3g}x, cached read {2000 / p50:.3g}x" if p50 else ""
        targets.append((None, f"one-at-a-time write and read >= {VS_HUB:g}x Hub 1.3.5: Hub not run{ref}"))
    peak, cache = _get(h, "scan", "peak_rss"), meta.get("cache")
    if peak is not None and cache is not None:
        limit = cache + RSS_SLACK
        targets.append((peak <= limit, f"scan peak RSS <= cache + 200 MiB ({limit / MiB:.0f} MiB): {peak / MiB:.0f} MiB"
                        + ("" if peak <= limit else f" (over by {(peak - limit) / MiB:.0f} MiB)")))
    else:
        targets.append((None, "scan peak RSS <= cache + 200 MiB: not measured"))

    out = [f"hubfs benchmark: n={meta['n']} MNIST-like samples (28x28 uint8 + label), "
           f"{meta['reads']} random reads, scan cache {meta['cache'] / MiB:.2f} MiB "
           f"(dataset raw {meta['raw_bytes'] / MiB:.2f} MiB, smallest stored {meta['min_stored'] / MiB:.2f} MiB)",
           f"{meta['host']}", ""]
    out += lines
    out += ["", "Rates: higher is better; latencies, RSS and size: lower is better. Read = image + label."]
    if "hub" in r and _get(hub, "write", "timed_n") not in (None, meta["n"]):
        out.append(f"Hub's one-at-a-time write is timed on its first {_get(hub, 'write', 'timed_n')} samples "
                   f"(the rest written by slices, untimed).")
    out.append("zarr scans chunk by chunk (it has no cache); hubfs and Hub iterate samples with cache= set.")
    if "hubfs-lz4" in r:
        out.append("* hubfs lz4: the same data with Image((28, 28), compressor=\"lz4\") (Hub 1.x's default; chunked")
        out.append("  layout) instead of the default PNG per sample; for context, not judged against the targets.")
    if meta.get("hub_note"):
        out.append(meta["hub_note"])
    out += ["", "Targets (issue 2):"]
    for ok, text in targets:
        out.append(f"  [{'met' if ok else 'MISSED' if ok is False else 'n/a'}] {text}")
    if errors or bad:
        out += ["", "Problems:"] + [f"  {e}" for e in errors + bad]
    return "\n".join(out), targets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000, help="samples (default 10000)")
    ap.add_argument("--quick", action="store_true", help="a small smoke run (n=300, 100 reads)")
    ap.add_argument("--out", default=str(ROOT / ".bench" / "out"), help="working folder and results")
    ap.add_argument("--reads", type=int, default=2000, help="random samples read per pass (default 2000)")
    ap.add_argument("--no-hub", action="store_true", help="leave Hub 1.3.5 out even when installed")
    ap.add_argument("--hub-python", default=str(HUB_PYTHON), help="python of the Hub 1.3.5 venv")
    ap.add_argument("--hub-write-n", type=int, default=2000,
                    help="Hub writes ~30 samples/s: time its first N one-at-a-time writes (default 2000)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    # worker mode
    ap.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    ap.add_argument("--phase", choices=tuple(PHASES), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--timed-n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    if args.quick:
        args.n, args.reads = min(args.n, 300), min(args.reads, 100)
    n, reads = args.n, min(args.reads, args.n)
    systems = [s for s in args.systems.split(",") if s in SYSTEMS]
    hub_note = None
    if "hub" in systems:
        if args.no_hub:
            systems.remove("hub")
        elif not os.access(args.hub_python, os.X_OK):
            systems.remove("hub")
            hub_note = f"Hub 1.3.5 not run: no {args.hub_python} (scripts/setup_hub135.sh builds it)."

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"data-{n}"
    if not (data / "labels.npy").exists():
        data.mkdir(exist_ok=True)
        print(f"making {n} MNIST-like samples ...", file=sys.stderr)
        images, labels = make_data(n)
        np.save(data / "images.npy", images)
        np.save(data / "labels.npy", labels)
    raw_bytes = n * (28 * 28 + 8)
    python = {"hubfs": sys.executable, "zarr": sys.executable, "hub": args.hub_python, "hubfs-lz4": sys.executable}

    results: dict[str, dict] = {s: {} for s in systems}
    paths = {s: str(out / f"{s}-{n}") for s in systems}
    for s in systems:
        shutil.rmtree(paths[s], ignore_errors=True)
        timed = args.hub_write_n if s == "hub" else n
        for phase in ("write", "read", "bulk"):
            print(f"{s}: {phase} ...", file=sys.stderr, flush=True)
            extra = {"timed_n": timed} if phase == "write" else {"reads": reads} if phase == "read" else {}
            results[s][phase] = run_phase(s, phase, paths[s], str(data), python[s], **extra)
            if phase == "write" and "error" in results[s][phase]:
                break

    stored = [res["write"]["stored_bytes"] for res in results.values() if "stored_bytes" in res.get("write", {})]
    min_stored = min(stored + [raw_bytes])
    cache = max(min_stored // 4, 64 * 1024)
    for s in systems:
        if "error" not in results[s].get("write", {"error": 1}):
            print(f"{s}: scan ...", file=sys.stderr, flush=True)
            results[s]["scan"] = run_phase(s, "scan", paths[s], str(data), python[s], cache=cache)
    if "scan" in results.get("hubfs", {}):
        # For context: the same scan when the cache is not the bottleneck (64 MiB holds it all).
        results["hubfs"]["scan_default"] = run_phase("hubfs", "scan", paths["hubfs"], str(data), python["hubfs"])

    host = f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    meta = {"n": n, "reads": reads, "cache": cache, "raw_bytes": raw_bytes, "min_stored": min_stored,
            "host": host, "hub_note": hub_note}
    report, targets = build_report(results, meta)
    print(report)
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    (out / "results.txt").write_text(report + "\n")


if __name__ == "__main__":
    main()
