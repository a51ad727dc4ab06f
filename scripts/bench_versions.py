#!/usr/bin/env python3
"""Benchmark: versions (commit, checkout, reading an old version), hubfs beside Hub 1.3.5, in one run.

    .venv/bin/python scripts/bench_versions.py [--n 100000] [--quick] [--no-hub] [--out DIR]

On an MNIST-like dataset (Image((28, 28)) + ClassLabel(num_classes=10), each library's defaults, local
disk; data from scripts/bench_dataset.py's make_digits), each system in a fresh subprocess:
  commit 0     the first commit of the filled dataset
  commit 1     after changing 1 sample's image (ds["image", i] = a); commit() (it flushes)
  commit 1%    after changing 1% of the samples' images (random indices, one at a time); commit()
For each: bytes written = the sizes of files that are new or changed between a listing taken before the
change and one taken after the commit, counted once per inode (so a hard link to an existing file counts
0 bytes; a file rewritten in place or replaced counts its whole size); the process's write(2) bytes
(/proc/self/io wchar) as a cross-check; seconds of commit() alone (hubfs: flush + copy-on-write + record;
Hub: flush, its chunks having been written by the edits) and of edit + commit (the fair comparison); and the changed chunks' size = the same new/changed files less metadata documents and version
records. hubfs only: checkout times (Dataset(url@old) open; ds.checkout(branch) switch) and warm
random-read p50 of ds["image", i].compute() at the first commit and at the head.
Ratios are against the baselines measured in the same run. Nothing asserts a timing: this only prints.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dataset import HUB_PYTHON, MARK, _commit, _files, _is_metadata, _wchar, ensure_data, load_data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHANGE_FRACTION = 0.01
READS = 2000
# Targets of issue 12.
BYTES_VS_CHANGED = 2.0
ONE_SAMPLE_COMMIT_MS = 100.0
OLD_READ_VS_HEAD = 1.2


def _written(before: dict, after: dict) -> tuple[int, int, int]:
    """(bytes written, changed data bytes, files) between two listings of ``_files``: each inode once;
    new or changed (size or mtime) inodes only. Data = not metadata, not under .hubfs (version records
    and hard links of the working tree's files)."""
    old = {v[2]: v[:2] for v in before.values()}
    seen, total, data, count = set(), 0, 0, 0
    for rel, (size, mtime, ino) in sorted(after.items(), key=lambda kv: kv[0].startswith(".hubfs")):
        if ino in seen or old.get(ino) == (size, mtime):
            continue
        seen.add(ino)
        total += size
        count += 1
        if not _is_metadata(rel) and not rel.startswith(".hubfs") and "version.pkl" not in rel:
            data += size
    return total, data, count


def _measure(path: str, step) -> dict:
    before, w0 = _files(path), _wchar()
    t0 = time.perf_counter()
    secs = step()
    whole = time.perf_counter() - t0
    wchar = _wchar() - w0
    total, data, count = _written(before, _files(path))
    return {"bytes": total, "changed_bytes": data, "files": count, "wchar": wchar, "seconds": secs, "edit_and_commit_s": whole}


def worker(system: str, path: str, data: str, seed: int) -> dict:
    if system == "hub":
        import hub as lib
        import hub.api.versioning
        import hub.schema as schema
        # Hub's commit asks its web backend for the user's name (no network here): the anonymous name it
        # would get; this touches no storage.
        hub.api.versioning.get_user_name = lambda: "public"
    else:
        import hubfs as lib
        import hubfs.schema as schema
    images, labels = load_data(data)
    n = len(images)
    kw = {"mode": "w", "shape": (n,), "schema": {"image": schema.Image((28, 28)), "label": schema.ClassLabel(num_classes=10)}}
    ds = lib.Dataset(path, **kw)
    step = 16 << 20
    for s in range(0, n, step // images[0].nbytes):
        e = min(n, s + step // images[0].nbytes)
        ds["image", s:e] = images[s:e]
        ds["label", s:e] = labels[s:e]
    ds.flush()
    rng = np.random.default_rng(seed)
    out, ids = {}, []

    def commit(msg):
        def run():
            t0 = time.perf_counter()
            ids.append(ds.commit(msg))
            return time.perf_counter() - t0
        return run

    out["commit0"] = _measure(path, commit("first"))
    changes = {"commit1": [int(rng.integers(n))],
               "commit1pct": rng.choice(n, max(1, int(n * CHANGE_FRACTION)), replace=False).tolist()}
    for name, idx in changes.items():
        def edit_commit(idx=idx, name=name):
            for i in idx:
                ds["image", i] = images[(i + 1) % n]
            return commit(name)()
        out[name] = _measure(path, edit_commit)
    head = images.copy()
    for idx in changes.values():
        for i in idx:
            head[i] = images[(i + 1) % n]
    if system == "hub":
        ds.close()
        return out
    # checkout: the first commit opened directly, then this object switched to it and back to master
    t0 = time.perf_counter()
    old = lib.Dataset(f"{path}@{ids[0]}", mode="r")
    out["open_old_ms"] = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    ds.checkout(ids[0])
    out["checkout_commit_ms"] = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    ds.checkout("master")
    out["checkout_branch_ms"] = (time.perf_counter() - t0) * 1e3
    ds.close()
    cur = lib.Dataset(path, mode="r")
    order = rng.choice(n, min(n, READS), replace=False).tolist()
    bad = 0
    for name, d, ref in (("head", cur, head), ("old", old, images), ("head2", cur, head), ("old2", old, images)):
        for i in order:  # warm-up pass
            bad += not np.array_equal(d["image", i].compute(), ref[i])
        times = []
        for _ in range(3):
            for i in rng.permutation(order).tolist():
                t0 = time.perf_counter_ns()
                d["image", i].compute()
                times.append(time.perf_counter_ns() - t0)
        out.setdefault("read_p50_us", {})[name] = float(np.percentile(times, 50)) / 1e3
    out["read_mismatches"] = bad
    out["record_bytes"] = os.path.getsize(os.path.join(path, ".hubfs/versions/commits", ids[1] + ".json"))
    old.close()
    cur.close()
    return out


def run(system: str, path: str, data: str, python: str, seed: int, log: Path) -> dict:
    env = dict(os.environ)
    if system == "hub":
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = str(ROOT)
    cmd = [python, __file__, "--worker", system, "--path", path, "--data", data, "--seed", str(seed)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=os.path.dirname(path))
    log.write_text(f"$ {' '.join(cmd)}\nexit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return {"error": " | ".join((p.stderr.strip() or "no output").splitlines()[-3:]) + f" (log: {log})"}


def _ratio(a, b) -> str:
    return "not measured" if a is None or not b else f"{a / b:.3g}x"


def report(r: dict, n: int, meta: str) -> str:
    h, hub = r.get("hubfs", {}), r.get("hub", {})
    lines = [meta, f"{n:,} samples, Image((28, 28)) + ClassLabel(num_classes=10), local disk, each library's defaults", "",
             "| step | hubfs bytes written | hubfs wchar | changed chunks | written/changed | hubfs commit s "
             "| hubfs edit+commit s | Hub bytes written | Hub commit s | Hub edit+commit s | bytes hubfs/Hub "
             "| commit s hubfs/Hub | edit+commit s hubfs/Hub |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, label in (("commit0", "first commit"), ("commit1", "1 sample changed"), ("commit1pct", "1% changed")):
        a, b = h.get(key, {}), hub.get(key, {})
        if not a or "bytes" not in a:
            lines.append(f"| {label} | not measured |")
            continue
        lines.append(f"| {label} | {a['bytes']:,} | {a['wchar']:,} | {a['changed_bytes']:,} | "
                     f"{_ratio(a['bytes'], a['changed_bytes'])} | {a['seconds']:.4f} | {a['edit_and_commit_s']:.4f} | "
                     + (f"{b['bytes']:,} | {b['seconds']:.4f} | {b['edit_and_commit_s']:.4f} | " if "bytes" in b
                        else "- | - | - | ")
                     + f"{_ratio(a['bytes'], b.get('bytes'))} | {_ratio(a['seconds'], b.get('seconds'))} | "
                     f"{_ratio(a['edit_and_commit_s'], b.get('edit_and_commit_s'))} |")
    if "open_old_ms" in h:
        p = h["read_p50_us"]
        old, head = min(p["old"], p["old2"]), min(p["head"], p["head2"])
        lines += ["", f"hubfs commit record (manifest of every object): {h['record_bytes']:,} bytes",
                  f"checkout: Dataset(url@first) open {h['open_old_ms']:.1f} ms; ds.checkout(first commit) "
                  f"{h['checkout_commit_ms']:.1f} ms; ds.checkout('master') {h['checkout_branch_ms']:.1f} ms",
                  f"warm random read p50 of image: old version {old:.2f} us, head {head:.2f} us "
                  f"(best of two alternating rounds each), {h['read_mismatches']} wrong values"]
    lines += ["", "Targets (issue 12):"]

    def judge(text, value, limit):
        state = "n/a" if value is None else "met" if value <= limit else "MISSED"
        lines.append(f"  [{state}] {text}: " + ("not measured" if value is None else f"{value:.3g} (limit {limit:g})"))

    for key, label in (("commit1", "1 sample"), ("commit1pct", "1%")):
        a = h.get(key, {})
        judge(f"{label}: bytes written / changed chunks' size <= {BYTES_VS_CHANGED:g}",
              a["bytes"] / a["changed_bytes"] if a.get("changed_bytes") else None, BYTES_VS_CHANGED)
    judge(f"1-sample commit <= {ONE_SAMPLE_COMMIT_MS:g} ms", h["commit1"]["seconds"] * 1e3 if "commit1" in h else None,
          ONE_SAMPLE_COMMIT_MS)
    if "read_p50_us" in h:
        judge(f"old-version read p50 <= {OLD_READ_VS_HEAD:g}x head's", old / head, OLD_READ_VS_HEAD)
    for s, res in r.items():
        if "error" in res:
            lines.append(f"Problem: {s}: {res['error']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100000, help="samples (default 100000)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 2,000 samples")
    ap.add_argument("--no-hub", action="store_true", help="leave Hub 1.3.5 out")
    ap.add_argument("--hub-python", default=str(HUB_PYTHON), help="python of the Hub 1.3.5 venv")
    ap.add_argument("--out", default=str(ROOT / ".bench" / "versions"))
    ap.add_argument("--worker", choices=("hubfs", "hub"), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=12, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        sys.stdout.write(MARK + json.dumps(worker(args.worker, args.path, args.data, args.seed)) + "\n")
        return
    n = 2000 if args.quick else args.n
    out = Path(args.out).resolve()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    data = out / f"data-mnist-{n}"
    ensure_data(data, "mnist", n)
    systems = ["hubfs"] + ([] if args.no_hub or not os.access(args.hub_python, os.X_OK) else ["hub"])
    load0, t0, results = os.getloadavg()[0], time.perf_counter(), {}
    for s in systems:
        path = out / f"{s}-{n}"
        shutil.rmtree(path, ignore_errors=True)
        print(f"{s} ...", file=sys.stderr, flush=True)
        results[s] = run(s, str(path), str(data), args.hub_python if s == "hub" else sys.executable, 12,
                         out / "logs" / f"{s}.log")
        shutil.rmtree(path, ignore_errors=True)
    meta = (f"hubfs versions benchmark, commit {_commit()}; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, run took {time.perf_counter() - t0:.0f} s, load "
            f"average {load0:.1f} at its start and {os.getloadavg()[0]:.1f} at its end (shared machine)"
            + ("" if "hub" in systems else "; Hub 1.3.5 not run: its ratios are \"not measured\""))
    text = report(results, n, meta)
    print(text)
    (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
