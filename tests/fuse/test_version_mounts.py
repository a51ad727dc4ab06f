"""Mounting a version: ``hubfs mount URL@COMMIT`` is read-only (EROFS), ``URL@BRANCH`` serves the branch's head
(writable, or read-only and following a writer); ``.hubfs/info.json`` and ``.hubfs/versions.json`` name it."""
from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest

import hubfs
from hubfs.fuse.mount import mounted

from fuse_helpers import hubfs_cli


def expect_errno(code, fn, *args):
    with pytest.raises(OSError) as err:
        fn(*args)
    assert err.value.errno == code, err.value


def read(path):
    with open(path) as f:
        return f.read()


@pytest.fixture
def versioned(url):
    """The sample dataset with two commits on master and a branch 'exp' off the first; returns the ids."""
    ds = hubfs.Dataset(url, mode="r+")
    first = ds.commit("four samples")
    ds["label", 0] = 2
    ds.append({"label": 1, "emb": np.array([9, 9, 9], np.float32)})
    second = ds.commit("label 0 is two, a fifth sample")
    ds.checkout(first)
    ds.checkout("exp", create=True)
    ds["label", 1] = 0
    exp = ds.commit("exp: label 1 is zero")
    ds.close()
    return {"first": first, "second": second, "exp": exp}


def test_a_commit_mounts_read_only_and_reads_as_it_was(mounter, url, versioned):
    mnt = mounter(f"{url}@{versioned['first']}")  # asked writable: a commit is served read-only anyway
    assert "ro" in open("/proc/mounts").read().split(f" {mnt} ")[1].split()[1].split(",")
    assert sorted(os.listdir(mnt)) == [".hubfs", "0", "1", "2", "3"]
    assert read(f"{mnt}/0/label.txt") == "zero\n" and read(f"{mnt}/1/label.txt") == "one\n"
    expect_errno(errno.EROFS, open, f"{mnt}/0/label.txt", "w")
    expect_errno(errno.EROFS, os.mkdir, f"{mnt}/4")
    expect_errno(errno.EROFS, os.unlink, f"{mnt}/0/label.txt")
    expect_errno(errno.EROFS, os.rename, f"{mnt}/0/label.txt", f"{mnt}/0/x.txt")
    info = json.loads(read(f"{mnt}/.hubfs/info.json"))
    assert info["read_only"] is True and info["length"] == 4
    assert info["version"]["commit"] == versioned["first"] and info["version"]["branch"] == "master"
    assert info["version"]["at_head"] is False and info["version"]["message"] == "four samples"
    with hubfs.Dataset(url, mode="r+") as ds:  # the dataset moves on; the mount stays at its commit
        ds["label", 2] = 0
        ds.commit("later")
    assert read(f"{mnt}/0/label.txt") == "zero\n" and read(f"{mnt}/2/label.txt") == "two\n"
    assert json.loads(hubfs_cli("status", "--json", mnt).stdout)["version"]["commit"] == versioned["first"]


def test_versions_json_lists_every_commit_and_branch(mounter, url, versioned):
    mnt = mounter(f"{url}@exp", read_only=True)
    doc = json.loads(read(f"{mnt}/.hubfs/versions.json"))
    ids = [c["commit"] for c in doc["commits"]]
    assert set(ids) == set(versioned.values()) and ids[0] == versioned["exp"]  # newest first
    by_id = {c["commit"]: c for c in doc["commits"]}
    assert by_id[versioned["second"]]["parent"] == versioned["first"] and by_id[versioned["first"]]["parent"] is None
    assert by_id[versioned["exp"]]["branch"] == "exp" and by_id[versioned["second"]]["length"] == 5
    assert by_id[versioned["first"]]["message"] == "four samples" and by_id[versioned["first"]]["time"] > 0
    assert sorted(doc["branches"]) == ["exp", "master"]
    assert doc["branches"]["exp"]["parent"] == versioned["exp"]
    assert doc["serving"]["branch"] == "exp" and doc["serving"]["at_head"] is True
    with hubfs.Dataset(url, mode="r+") as ds:  # a read-only mount's kernel cache keeps files: refresh shows it
        third = ds.commit("third")
    hubfs_cli("refresh", mnt)
    doc = json.loads(read(f"{mnt}/.hubfs/versions.json"))
    assert doc["commits"][0]["commit"] == third and doc["branches"]["master"]["parent"] == third
    assert ".hubfs" in os.listdir(mnt) and "versions.json" in os.listdir(f"{mnt}/.hubfs")


def test_a_branch_head_mounts_writable_and_writes_go_to_that_branch(mounter, url, versioned):
    mnt = mounter(f"{url}@exp")
    assert "rw" in open("/proc/mounts").read().split(f" {mnt} ")[1].split()[1].split(",")
    assert read(f"{mnt}/1/label.txt") == "zero\n" and sorted(os.listdir(mnt))[-1] == "3"
    info = json.loads(read(f"{mnt}/.hubfs/info.json"))["version"]
    assert info["branch"] == "exp" and info["at_head"] is True and info["parent"] == versioned["exp"]
    with open(f"{mnt}/2/label.txt", "w") as f:
        f.write("zero")
    os.mkdir(f"{mnt}/4")
    with open(f"{mnt}/4/label.txt", "w") as f:
        f.write("one")
    hubfs_cli("unmount", mnt)
    assert mounted(mnt) is None
    with hubfs.Dataset(url, mode="r", version="exp") as ds:
        assert len(ds) == 5 and ds["label", 0:5].compute().tolist() == [0, 0, 0, 0, 1]
    with hubfs.Dataset(url, mode="r") as ds:  # master as it was
        assert len(ds) == 5 and ds["label", 0:4].compute().tolist() == [2, 1, 2, 0]
    with hubfs.Dataset(url, mode="r", version=versioned["exp"]) as ds:  # and exp's commit too
        assert len(ds) == 4 and ds["label", 2].compute() == 2


def test_a_read_only_mount_of_a_branch_head_follows_its_writer(mounter, url, versioned):
    mnt = mounter(f"{url}@exp", read_only=True)
    assert read(f"{mnt}/1/label.txt") == "zero\n" and "4" not in os.listdir(mnt)
    with hubfs.Dataset(url, mode="r+", version="exp") as ds:
        ds["label", 1] = 2
        ds.append({"label": 1})
    hubfs_cli("refresh", mnt)
    assert read(f"{mnt}/1/label.txt") == "two\n" and read(f"{mnt}/4/label.txt") == "one\n"
    assert read(f"{mnt}/0/label.txt") == "zero\n"
    with hubfs.Dataset(url, mode="r+", version="exp") as ds:  # a commit on the branch: still its head
        committed = ds.commit("five on exp")
    hubfs_cli("refresh", mnt)
    version = json.loads(read(f"{mnt}/.hubfs/info.json"))["version"]
    assert version["at_head"] is True and version["parent"] == committed


def test_cli_mount_at_a_commit_then_at_an_unknown_address(url, versioned, tmp_path, mounter):
    mp = tmp_path / "cli"
    mp.mkdir()
    out = hubfs_cli("mount", f"{url}@{versioned['second']}", str(mp))
    try:
        assert mounted(str(mp)) == "fuse.hubfs" and read(f"{mp}/0/label.txt") == "two\n"
        assert sorted(os.listdir(mp))[-1] == "4"
        status = hubfs_cli("status", str(mp)).stdout
        assert f"commit {versioned['second']} of branch master (read-only)" in status
    finally:
        hubfs_cli("unmount", str(mp))
    assert "mounted" in out.stdout and mounted(str(mp)) is None
    for address in ("nobranch", "0" * 40):
        out = hubfs_cli("mount", f"{url}@{address}", str(mp), check=False)
        assert out.returncode == 1 and f"no branch or commit {address!r}" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and mounted(str(mp)) is None and os.listdir(mp) == []
    out = hubfs_cli("info", f"{url}@nobranch", check=False)
    assert out.returncode == 1 and "no branch or commit 'nobranch'" in out.stderr


def test_export_of_a_commit_names_it(url, versioned, tmp_path):
    hubfs_cli("export", f"{url}@{versioned['first']}", str(tmp_path / "out"))
    info = json.loads((tmp_path / "out" / ".hubfs" / "info.json").read_text())
    assert info["length"] == 4 and info["version"]["commit"] == versioned["first"]
    assert (tmp_path / "out" / "0" / "label.txt").read_text() == "zero\n"
    assert sorted(os.listdir(tmp_path / "out")) == [".hubfs", "0", "1", "2", "3"]
