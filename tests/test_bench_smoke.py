"""The benchmark runs end to end on small datasets and prints its tables (timings are not checked)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_quick_runs_and_prints_table(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_dataset.py"), "--quick", "--no-hub",
                        "--warm-os-cache", "--out", str(tmp_path)], capture_output=True, text=True, timeout=280)
    assert p.returncode == 0, p.stderr[-2000:]
    out = p.stdout
    for row in ("## mnist-500", "## photos-50", "| metric", "write one-at-a-time",
                "read p50, new process, warm OS cache", "read p50, warm", "bulk image[0:n].compute()",
                "RSS growth in the scan", "edit 1 sample + flush: written", "Targets (issue 10):",
                "one-at-a-time write >= 30x Hub 1.3.5: not measured", "Hub 1.3.5 not run (--no-hub)"):
        assert row in out, out
    assert "cold" not in out.split("Targets")[0], out  # never called cold
    assert "Problems:" not in out, out  # no phase failed and every value read back as written
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    for name in ("mnist-500", "photos-50"):
        for system in ("hubfs", "zarr-bulk", "zarr-one"):
            edit = results[name][system]["edit"]
            assert edit["wchar"] > 0 and edit["mismatches"] == 0, edit


def test_bench_transform_runs_every_scheduler_and_checks_their_bytes(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_transform.py"), "--n", "12", "--no-hub",
                        "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=280)
    assert p.returncode == 0, p.stderr[-2000:]
    for row in ("| single | 1 |", "| threaded | 2 |", "| processed | 2 |", "| dask | 2 |",
                "every scheduler wrote the same bytes as single"):
        assert row in p.stdout, p.stdout


def test_bench_checksums_quick_runs_and_prints_its_ratios():
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_checksums.py"), "--quick"],
                       capture_output=True, text=True, timeout=280)
    assert p.returncode == 0, p.stderr[-2000:]
    for row in ("write (png)", "bulk (png)", "random (png)", "write (lz4)", "bulk (lz4)", "random (lz4)"):
        assert f"| {row} |" in p.stdout, p.stdout


def test_bench_feeds_runs_its_loaders_and_the_import(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_feeds.py"), "--n", "300", "--no-hub",
                        "--no-deeplake", "--warm-os-cache", "--workdir", str(tmp_path)],
                       capture_output=True, text=True, timeout=280)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in p.stdout.splitlines() if line.startswith("| ")}
    for name in ("hubfs to_pytorch (warm OS cache)", "native folder (PIL) (warm OS cache)", "hubfs from_path"):
        cells = rows[name].strip("| ").split(" | ")
        assert all(float(c.replace(",", "")) > 0 for c in cells[1:3]), p.stdout  # measured, not "not run"
    assert "Deep Lake 4 | not run (--no-deeplake)" in p.stdout and "Hub 1.3.5 from_path | not run (--no-hub)" in p.stdout
