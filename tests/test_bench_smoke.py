"""The benchmark runs end to end on a small dataset and prints its table (timings are not checked)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_quick_runs_and_prints_table(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_dataset.py"), "--quick", "--no-hub",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=280)
    assert p.returncode == 0, p.stderr[-2000:]
    out = p.stdout
    for row in ("| metric", "write one-at-a-time", "read cold p50", "read cached p50",
                "bulk image[0:n].compute()", "scan peak RSS", "Targets (issue 2):"):
        assert row in out, out
    assert "Problems:" not in out, out  # no phase failed and every sample read back as written
    assert (tmp_path / "results.json").exists()
