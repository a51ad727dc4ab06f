"""`hubfs log | commit | checkout | diff`, run as a user runs them."""
import json
import subprocess
import sys

import numpy as np
import pytest

import hubfs
from hubfs.cli.versions import ranges
from hubfs.schema import Tensor, Text


def hubfs_cli(*args):
    return subprocess.run([sys.executable, "-m", "hubfs", *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def ok(*args):
    out = hubfs_cli(*args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def make(path):
    with hubfs.Dataset(str(path), mode="w", shape=(10,), schema={"x": Tensor((3,), "int32", chunks=4),
                                                                 "t": Text(max_shape=(20,))}) as ds:
        for i in range(10):
            ds["x", i] = [i, i, i]


def test_commit_log_checkout_and_diff(tmp_path):
    url = str(tmp_path / "ds")
    make(url)
    first = ok("commit", url, "-m", "ten samples").strip()
    assert len(first) == 40 and int(first, 16) >= 0
    with hubfs.Dataset(url, mode="r+") as ds:
        ds["x", 5] = [0, 0, 0]
    second = ok("commit", url, "-m", "x 5 is zero").strip()
    log = ok("log", url)
    assert log.index(second) < log.index(first) and 'Message: "x 5 is zero"' in log and "Current Branch: master" in log
    records = json.loads(ok("log", "--json", url))
    assert [r["commit"] for r in records] == [second, first] and records[0]["parent"] == first
    assert [r["commit"] for r in json.loads(ok("log", "--json", f"{url}@{first}"))] == [first]

    assert ok("checkout", url, first).strip() == first
    head = ok("checkout", url, "master").strip()
    assert head not in (first, second) and len(head) == 40
    branch_head = ok("checkout", f"{url}@{first}", "exp", "--create").strip()
    assert ok("checkout", url, "exp").strip() == branch_head
    with hubfs.Dataset(url, mode="r+", version="exp") as ds:
        assert ds["x", 5].compute().tolist() == [5, 5, 5]
        ds.append({"x": [1, 1, 1], "t": "new"})
    assert ok("commit", f"{url}@exp", "-m", "on exp").strip() == branch_head

    assert ok("diff", url, first, second) == "x: 4 samples differ: 4-7\n"
    found = json.loads(ok("diff", "--json", url, first, second))
    assert found == {"length": [10, 10], "added": [], "removed": [], "changed": {"x": [4, 5, 6, 7]}}
    assert ok("diff", url, first, "exp").startswith("length: 10 -> 11\n")
    assert ok("diff", url, second, second) == "no differences\n"


def test_unknown_addresses_and_commits_that_cannot_be_made(tmp_path):
    url = str(tmp_path / "ds")
    make(url)
    first = ok("commit", url).strip()
    for args in (("checkout", url, "nope"), ("log", f"{url}@nope"), ("diff", url, first, "nope"),
                 ("commit", f"{url}@nope", "-m", "x")):
        out = hubfs_cli(*args)
        assert out.returncode == 1 and "no branch or commit 'nope'" in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    out = hubfs_cli("commit", f"{url}@{first}", "-m", "x")
    assert out.returncode == 1 and "is a commit" in out.stderr
    assert json.loads(ok("log", "--json", url))[0]["commit"] == first  # nothing was committed
    with hubfs.Dataset(url, mode="r+"):  # the writer lock is held: a commit from another process waits for none
        out = hubfs_cli("commit", url, "-m", "x")
    assert out.returncode == 1 and "hubfs: error:" in out.stderr and "Traceback" not in out.stderr
    assert hubfs_cli("checkout", url, "nope", "--create").returncode == 0
    assert np.array_equal(hubfs.Dataset(url, mode="r", version="nope")["x", 3].compute(), [3, 3, 3])


def test_ranges():
    assert ranges([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8" and ranges([]) == "" and ranges([3]) == "3"


def test_commit_on_a_read_only_store_fails_and_log_still_reads(tmp_path):
    """A read-only bind mount of the dataset's folder is a store that refuses writes (EROFS)."""
    url = tmp_path / "ds"
    make(url)
    first = ok("commit", str(url), "-m", "one").strip()
    ro = tmp_path / "ro"
    ro.mkdir()
    made = subprocess.run(["mount", "--bind", str(url), str(ro)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"a read-only bind mount needs root: {made.stderr.decode().strip()}")
    try:
        assert subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True).returncode == 0
        out = hubfs_cli("commit", str(ro), "-m", "two")
        assert out.returncode == 1 and "cannot be written: the store refuses writes" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
        assert [r["commit"] for r in json.loads(ok("log", "--json", str(ro)))] == [first]
        out = hubfs_cli("checkout", str(ro), "new", "--create")
        assert out.returncode == 1 and "refuses writes" in out.stderr
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)
