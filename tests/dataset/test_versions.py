"""Versions: Hub 1.3's commit/checkout/log/branches, copy-on-write commits, isolation and crash safety."""
from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr

import hubfs
from hubfs.dataset import versions
from hubfs.dataset.stores import open_store
from hubfs.errors import AddressNotFound, CorruptionError, ReadOnlyError
from hubfs.schema import Image, Tensor, Text

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import version_writer  # noqa: E402

SCHEMA = {"x": Tensor((3,), "int32", chunks=4), "img": Image((None, None, 3), "uint8", max_shape=(8, 8, 3)),
          "t": Text(max_shape=(20,))}


def make(url, token=None, n=10):
    ds = hubfs.Dataset(url, mode="w", shape=(n,), schema=SCHEMA, token=token)
    for i in range(n):
        ds["x", i] = [i, i, i]
        ds["t", i] = f"s{i}"
    return ds


def objects_of(root, commit_id):
    folder = os.path.join(root, versions.OBJECTS, commit_id)
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def test_commit_checkout_branches_and_log_on_every_store(store_url, capsys):
    url, token = store_url
    ds = make(url, token)
    head = ds.commit_id
    c1 = ds.commit("first")
    assert c1 == head and ds.commit_id != c1  # Hub: commit returns the sealed id, the head moves on
    ds["x", 1] = [7, 7, 7]
    ds.append({"x": [9, 9, 9], "t": "new"})
    c2 = ds.commit("second")
    ds["x", 2] = [5, 5, 5]  # uncommitted
    ds.flush()

    old = hubfs.Dataset(url, mode="r", token=token, version=c1)
    assert len(old) == 10 and old["x", 1].compute().tolist() == [1, 1, 1] and old["t", 9].compute() == "s9"
    with pytest.raises(ReadOnlyError):
        old.commit("no")
    assert ds["x", 2].compute().tolist() == [5, 5, 5] and len(ds) == 11
    assert [r.id for r in ds.history()] == [c2, c1] and [r.message for r in ds.history()] == ["second", "first"]
    ds.log()
    out = capsys.readouterr().out
    assert "Current Branch: master" in out and out.index(c2) < out.index(c1) and '"second"' in out

    assert ds.checkout("dev", create=True) == ds.commit_id and ds.branch == "dev"
    assert ds["x", 2].compute().tolist() == [5, 5, 5]  # a branch starts from the current state, as in Hub
    ds["x", 3] = [8, 8, 8]
    ds.add_tensor("extra", Tensor((), "float32"))
    ds["extra", 0] = 1.5
    c3 = ds.commit("on dev")
    assert sorted(ds.branches) == ["dev", "master"]
    ds.checkout("master")
    assert ds["x", 3].compute().tolist() == [3, 3, 3] and "extra" not in ds.keys
    ds.checkout(c3)
    assert ds["extra", 0].compute() == 1.5 and ds["x", 3].compute().tolist() == [8, 8, 8]
    ds.checkout(c1)
    assert len(ds) == 10 and ds["x", 1].compute().tolist() == [1, 1, 1]
    ds.close()
    dev = hubfs.Dataset(f"{url}@dev", mode="r", token=token) if "://" not in url or url.startswith("memory") \
        else hubfs.Dataset(url, mode="r", token=token, version="dev")
    assert dev["extra", 0].compute() == 1.5 and [r.id for r in dev.history()][:1] == [c3]


def test_a_commit_copies_only_what_changed(tmp_path):
    url = str(tmp_path / "ds")
    ds = make(url, n=40)
    c1 = ds.commit("all")
    first = objects_of(url, c1)
    assert "x/data/c/0/0" in first and "zarr.json" in first
    ds["x", 17] = [1, 2, 3]  # chunk 4 of x (4 samples per chunk)
    c2 = ds.commit("one sample")
    assert objects_of(url, c2) == ["x/data/c/4/0", "x/present/c/4", "zarr.json"] or \
        objects_of(url, c2) == ["x/data/c/4/0", "zarr.json"]
    c3 = ds.commit("nothing")
    assert objects_of(url, c3) == ["zarr.json"]  # the root document: small, always recorded
    # locally a copy is a hard link: the committed object is the very file the head had
    st_head = os.stat(os.path.join(url, "x/data/c/0/0"))
    assert st_head.st_nlink >= 2 and os.stat(os.path.join(url, versions.OBJECTS, c1, "x/data/c/0/0")).st_ino == st_head.st_ino
    assert hubfs.Dataset(url, mode="r", version=c1)["x", 17].compute().tolist() == [17, 17, 17]


def test_every_branch_head_is_a_standard_zarr_group(tmp_path):
    url = str(tmp_path / "ds")
    ds = make(url)
    ds.commit("base")
    ds.checkout("dev", create=True)
    ds["x", 0] = [4, 5, 6]
    ds.flush()
    tree = versions.Versions(open_store(url)).branch("dev").tree
    main = zarr.open_group(url, mode="r")
    with pytest.warns(UserWarning, match=".hubfs"):  # zarr says the versions folder is not zarr's
        assert "x" in dict(main.groups())
    assert main["x/data"][0].tolist() == [0, 0, 0]
    dev = zarr.open_group(os.path.join(url, tree), mode="r")
    assert dev["x/data"][0].tolist() == [4, 5, 6] and dev["x/data"].shape == (10, 3)


def test_writing_at_an_old_commit_checks_out_an_automatic_branch(tmp_path, capsys):
    url = str(tmp_path / "ds")
    ds = make(url)
    c1 = ds.commit("one")
    ds["x", 0] = [1, 1, 1]
    ds.commit("two")
    ds.checkout(c1)
    assert ds["x", 0].compute().tolist() == [0, 0, 0]
    ds["x", 5] = [6, 6, 6]
    assert ds.branch.startswith("auto-") and "automatically checking out to new branch" in capsys.readouterr().err
    assert ds["x", 0].compute().tolist() == [0, 0, 0] and ds["x", 5].compute().tolist() == [6, 6, 6]
    c3 = ds.commit("on auto")
    assert [r.id for r in ds.history()] == [c3, c1]  # the automatic branch grows from the old commit
    ds.checkout("master")
    assert ds["x", 5].compute().tolist() == [5, 5, 5] and ds["x", 0].compute().tolist() == [1, 1, 1]


def test_versions_of_growing_shrinking_and_added_tensors(tmp_path):
    url = str(tmp_path / "ds")
    ds = make(url, n=12)
    c1 = ds.commit("12")
    ds.resize_shape(5)
    c2 = ds.commit("5")
    ds.resize_shape(8)
    ds.add_tensor("y", Tensor((), "int64"))
    ds["y", 7] = 70
    c3 = ds.commit("8 and y")
    a, b, c = (hubfs.Dataset(url, mode="r", version=v) for v in (c1, c2, c3))
    assert (len(a), len(b), len(c)) == (12, 5, 8)
    assert a["x", 11].compute().tolist() == [11, 11, 11] and "y" not in a.keys
    assert c["x", 6].compute().tolist() == [0, 0, 0] and c["y", 7].compute() == 70  # regrown samples are empty
    d = versions.diff(url, c1, c3)
    assert d["length"] == [12, 8] and d["added"] == ["y"] and d["removed"] == []
    assert set(range(5, 12)) <= set(d["changed"]["x"]) and 0 not in d["changed"]["x"]


def test_diff_names_the_changed_samples_from_the_manifests(tmp_path):
    url = str(tmp_path / "ds")
    ds = make(url, n=40)
    c1 = ds.commit("a")
    ds["x", 21] = [0, 0, 1]
    ds["img", 3] = np.ones((2, 2, 3), "uint8")
    c2 = ds.commit("b")
    d = versions.diff(url, c1, c2)
    assert d["length"] == [40, 40] and d["added"] == d["removed"] == []
    assert d["changed"]["x"] == [20, 21, 22, 23]  # the chunk holding sample 21 (4 samples per chunk)
    assert 3 in d["changed"]["img"] and "t" not in d["changed"]
    assert versions.diff(url, c2, c2)["changed"] == {}
    ds["t", 39] = "late"
    ds.flush()
    assert 39 in versions.diff(url, c2, "master")["changed"]["t"]  # a working head against a commit


def test_read_only_opens_read_any_version_and_refuse_to_make_one(tmp_path):
    url = str(tmp_path / "ds")
    ds = make(url)
    c1 = ds.commit("one")
    ds.checkout("dev", create=True)
    ds.close()
    ro = hubfs.Dataset(url, mode="r")
    assert ro.branch == "master" and sorted(ro.branches) == ["dev", "master"]
    ro.checkout(c1)
    assert ro["x", 4].compute().tolist() == [4, 4, 4]
    ro.checkout("dev")
    assert ro.branch == "dev" and ro.read_only
    with pytest.raises(ReadOnlyError):
        ro.checkout("other", create=True)
    with pytest.raises(ReadOnlyError):
        ro.commit("x")
    with pytest.raises(ReadOnlyError):
        ro["x", 0] = [1, 1, 1]


def test_an_unknown_address_is_an_error_naming_it(tmp_path):
    url = str(tmp_path / "ds")
    make(url).commit("one")
    for opener in (lambda: hubfs.Dataset(f"{url}@nosuch", mode="r"), lambda: hubfs.Dataset(url, version="nosuch"),
                   lambda: hubfs.Dataset(url).checkout("nosuch")):
        with pytest.raises(AddressNotFound, match="'nosuch'") as err:
            opener()
        assert isinstance(err.value, KeyError) and isinstance(err.value, hubfs.exceptions.AddressNotFound)
    with pytest.raises(ValueError, match="branch name"):
        hubfs.Dataset(url).checkout("bad name!", create=True)


def test_a_damaged_version_record_is_named_and_the_others_still_read(tmp_path):
    url = str(tmp_path / "ds")
    ds = make(url)
    c1 = ds.commit("one")
    ds["x", 0] = [9, 9, 9]
    c2 = ds.commit("two")
    ds.close()
    record = os.path.join(url, versions.COMMITS, f"{c1}.json")
    with open(record, "r+b") as f:
        f.seek(10)
        f.write(b"\x00garbage")
    with pytest.raises(CorruptionError, match=f"{c1}.json"):
        hubfs.Dataset(url, mode="r", version=c1)
    assert hubfs.Dataset(url, mode="r", version=c2)["x", 0].compute().tolist() == [9, 9, 9]
    assert hubfs.Dataset(url, mode="r")["x", 0].compute().tolist() == [9, 9, 9]
    with open(record, "w") as f:
        json.dump({"commit": c1, "branch": "master", "time": 0, "length": 10, "manifest": {"x": 3}}, f)
    with pytest.raises(CorruptionError, match="damaged"):
        hubfs.Dataset(url, mode="r", version=c1)


def test_a_dataset_pickled_at_a_version_reopens_there(tmp_path):
    url = str(tmp_path / "ds")
    ds = make(url)
    c1 = ds.commit("one")
    ds["x", 0] = [3, 3, 3]
    ds.flush()
    at = hubfs.Dataset(url, mode="r", version=c1)
    again = pickle.loads(pickle.dumps(at))
    assert again.commit_id == c1 and again["x", 0].compute().tolist() == [0, 0, 0]


def test_a_reader_of_a_version_keeps_reading_it_while_another_process_commits(tmp_path):
    url = str(tmp_path / "ds")
    version_writer.make(url).close()
    base = hubfs.Dataset(url, mode="r+")
    c0 = base.commit("zeros")
    base.close()
    reader = hubfs.Dataset(url, mode="r", version=c0, cache=1 << 12)  # a tiny cache: reads hit the store
    writer = subprocess.Popen([sys.executable, os.path.join(HERE, "version_writer.py"), url, "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        commits = 0
        deadline = time.monotonic() + 60
        while commits < 20 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            assert line, f"the writer died: {writer.stderr.read()}"
            commits += line.startswith("committed")
            assert reader["x"].compute().tolist() == np.zeros((version_writer.N, 4), "int64").tolist()
        assert commits == 20
    finally:
        writer.kill()
        writer.wait(timeout=30)
        writer.stdout.close()
        writer.stderr.close()


@pytest.mark.parametrize("seed", range(4))
def test_a_writer_killed_during_commits_leaves_every_commit_and_the_dataset_intact(tmp_path, seed):
    url = str(tmp_path / "ds")
    version_writer.make(url).close()
    rng = random.Random(seed)
    done: dict[int, str] = {}
    rounds = 0
    for _ in range(3):
        writer = subprocess.Popen([sys.executable, os.path.join(HERE, "version_writer.py"), url, str(rounds)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        target = rounds + rng.randint(1, 6)
        while True:
            line = writer.stdout.readline().split()
            assert line, "the writer died on its own"
            if line[0] == "committed":
                done[int(line[1])] = line[2]
            if line[0] == "committing" and int(line[1]) >= target:
                time.sleep(rng.random() * 0.02)  # somewhere inside the commit, or just after it
                break
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        for rest in writer.stdout.read().splitlines():
            parts = rest.split()
            if parts and parts[0] == "committed":
                done[int(parts[1])] = parts[2]
        writer.stdout.close()
        hubfs.Dataset(url, mode="r").close()  # the dataset opens after every kill
        for r, commit_id in done.items():  # every reported commit reads exactly as it was
            at = hubfs.Dataset(url, mode="r", version=commit_id)
            assert at["x"].compute().tolist() == version_writer.expected(r + 1).tolist()
        rounds = max(done) + 1 if done else 0
        # the killed round may or may not have become a commit; the head holds its write either way
    last = hubfs.Dataset(url, mode="r+")
    extra = last.commit("after the crashes")
    assert hubfs.Dataset(url, mode="r", version=extra)["x"].compute().tolist() == last["x"].compute().tolist()
    assert set(done.values()) <= {r.id for r in last.history()}


def test_diff_reports_exactly_the_samples_whose_present_marks_changed(tmp_path):
    """A present mask's chunk holds thousands of marks: diff compares them, so a zero written to a sample
    that had no value (its data chunk unchanged, its mark set) is reported alone."""
    url = str(tmp_path / "ds")
    with hubfs.Dataset(url, mode="w", shape=(300,), schema={"x": Tensor((2,), "int32", chunks=100)}) as ds:
        ds["x", 0:150] = np.ones((150, 2), "int32")
        c1 = ds.commit("first")
        ds["x", 200] = [0, 0]  # data stays zeros: only the mark changes
        ds["x", 7] = [5, 5]
        c2 = ds.commit("second")
    changed = versions.diff(url, c1, c2)["changed"]["x"]
    assert 200 in changed and 7 in changed
    assert set(changed) <= set(range(0, 100)) | {200}  # 7's data chunk; of the mask, 200 alone
