"""Whole-dataset operations: flush, close, with, delete, copy, rename, filter, store, meta_information."""
from __future__ import annotations

import numpy as np
import pytest

import hubfs
from hubfs.errors import DatasetClosedError, DatasetNotFoundError, NotADatasetError, ReadOnlyError
from hubfs.schema import ClassLabel, Image, Tensor, Text

N = 12
META = {"description": "twelve ✓", "citation": "none"}


def schema():
    return {"image": Image((5, 5, 3)), "label": ClassLabel(names=["even", "odd"]), "meta": {"name": Text()}}


def img(i):
    return np.full((5, 5, 3), (i * 20) % 256, "uint8")


def fill(ds):
    for i in range(len(ds)):
        ds[i] = {"image": img(i), "label": i % 2, "meta": {"name": f"n{i}"}}


@pytest.fixture
def ds(url, open_ds):
    ds = open_ds(url, shape=(N,), schema=schema(), meta_information=META)
    fill(ds)
    return ds


def assert_sample(ds, j, i):
    """Sample ``j`` of ``ds`` holds what sample ``i`` of the original held."""
    np.testing.assert_array_equal(ds["image", j].compute(), img(i))
    assert ds["label", j].compute() == i % 2
    assert ds["meta/name", j].compute() == f"n{i}"


def test_a_reader_in_the_same_process_sees_unflushed_writes(ds, open_ds):
    ds.flush()
    ds["label", 0] = 1
    ds["meta/name", 0] = "changed"
    reader = open_ds(ds.url, mode="r")
    assert reader["label", 0].compute() == 1 and reader["meta/name", 0].compute() == "changed"
    with pytest.raises(ReadOnlyError):
        reader["label", 0] = 2


def test_close_writes_and_keeps_reads_working(ds, open_ds):
    ds.close()
    ds.close()  # twice is fine
    assert_sample(ds, 3, 3)
    with pytest.raises(DatasetClosedError):
        ds["label", 0] = 1
    with pytest.raises(DatasetClosedError):
        ds.append({"label": 1})
    other = open_ds(ds.url, mode="r+")  # the lock was released
    assert_sample(other, 11, 11)


def test_with_statement_closes(url, open_ds):
    with hubfs.Dataset(url, shape=(N,), schema=schema()) as ds:
        fill(ds)
    with pytest.raises(DatasetClosedError):
        ds["label", 0] = 1
    with hubfs.Dataset(url, mode="r+") as again:
        for i in range(N):
            assert_sample(again, i, i)


def test_with_statement_closes_on_error(url, open_ds):
    with pytest.raises(RuntimeError):
        with hubfs.Dataset(url, shape=(N,), schema=schema()) as ds:
            ds["label", 3] = 1
            raise RuntimeError("boom")
    again = open_ds(url, mode="r+")
    assert again["label", 3].compute() == 1


def test_delete(ds, open_ds, files):
    ds.flush()
    ds.delete()
    assert files(ds.url) == {}
    with pytest.raises(DatasetNotFoundError):
        open_ds(ds.url, mode="r")
    new = open_ds(ds.url, shape=(2,), schema={"t": Text()})
    assert len(new) == 2 and new.keys() == ["t"]


def test_copy(ds, other_url, open_ds):
    ds["label", 0] = 1  # unflushed: copy includes it
    copy = ds.copy(other_url)
    try:
        assert copy.url == other_url and len(copy) == N and not copy.read_only
        assert copy["label", 0].compute() == 1
        for i in range(1, N):
            assert_sample(copy, i, i)
        assert copy.meta_information == META
        copy["label", 5] = 0
    finally:
        copy.close()
    assert ds["label", 5].compute() == 1  # the original is its own
    ds["label", 6] = 1
    ds.close()
    again = open_ds(other_url, mode="r")
    assert again["label", 5].compute() == 0 and again["label", 6].compute() == 0


def test_copy_progress_counts_samples(tmp_path, capsys):
    src = hubfs.Dataset(str(tmp_path / "a"), mode="w", shape=(3000,), schema={"x": Tensor((4,), "int32"), "t": Text()})
    src["x"] = np.arange(12000, dtype="int32").reshape(3000, 4)
    src["t", 2999] = "last"
    copy = src.copy(str(tmp_path / "b"), progress=True)
    err = capsys.readouterr().err
    assert "3000/3000" in err and "sample" in err and "object" not in err
    assert copy["x", 2999].compute().tolist() == [11996, 11997, 11998, 11999] and copy["t", 2999].compute() == "last"
    copy.close()
    src.close()


def test_copy_to_a_non_empty_place_is_refused(ds, other_url, open_ds, put_file, files):
    put_file(other_url, "keep.txt", b"mine")
    with pytest.raises(NotADatasetError):
        ds.copy(other_url)
    assert files(other_url) == {"keep.txt": b"mine"}
    assert_sample(ds, 2, 2)


def test_rename_sets_the_name_as_in_hub(ds, open_ds):
    assert ds.name is None
    assert ds.rename("pets") is None
    assert ds.name == "pets"
    ds.close()
    assert open_ds(ds.url, mode="r").name == "pets"
    assert_sample(open_ds(ds.url, mode="r"), 3, 3)


def test_move(ds, open_ds, files):
    old = ds.url
    moved = ds.move("renamed")
    try:
        assert moved.url.rstrip("/").endswith("/renamed")
        assert moved.url.rsplit("/", 1)[0] == old.rsplit("/", 1)[0]
        for i in range(N):
            assert_sample(moved, i, i)
        assert moved.meta_information == META
    finally:
        moved.close()
    assert files(old) == {}
    with pytest.raises(DatasetNotFoundError):
        open_ds(old, mode="r")
    assert open_ds(moved.url, mode="r")["meta/name", 4].compute() == "n4"
    with pytest.raises(ValueError):
        open_ds(moved.url, mode="r+").move("a/b")


def test_filter_gives_a_view(ds):
    odd = ds.filter(lambda s: s["label"].compute() == 1)
    assert isinstance(odd, hubfs.DatasetView)
    assert len(odd) == N // 2
    np.testing.assert_array_equal(odd["label"].compute(), [1] * (N // 2))
    assert odd["meta/name"].compute() == [f"n{i}" for i in range(1, N, 2)]
    np.testing.assert_array_equal(odd["image", 2].compute(), img(5))
    assert [s["meta/name"].compute() for s in odd] == [f"n{i}" for i in range(1, N, 2)]
    again = odd.filter(lambda s: s["meta/name"].compute() in ("n3", "n7"))
    assert again["meta/name"].compute() == ["n3", "n7"]
    assert len(ds[2:6].filter(lambda s: s["label"].compute(label_name=True) == "even")) == 2
    odd["label", 0] = 0  # a view writes through to the dataset
    assert ds["label", 1].compute() == 0
    assert len(ds.filter(lambda s: False)) == 0


def test_store_a_dataset(ds, other_url, open_ds):
    ds.clear("meta/name", 4)
    out = ds.store(other_url)
    try:
        assert len(out) == N and out.keys() == ds.keys()
        assert out.meta_information == META
        for i in range(N):
            np.testing.assert_array_equal(out["image", i].compute(), img(i))
        assert not out.has_value("meta/name", 4)
    finally:
        out.close()
    again = open_ds(other_url, mode="r")
    assert again.schema["label"] == ClassLabel(names=["even", "odd"])
    assert again["meta/name", 5].compute() == "n5" and again.meta_information == META


def test_store_a_view(ds, other_url, open_ds):
    view = ds.filter(lambda s: s["label"].compute() == 0)[1:4]
    out = view.store(other_url)
    out.close()
    out = open_ds(other_url, mode="r")
    assert len(out) == 3
    for j, i in enumerate([2, 4, 6]):
        assert_sample(out, j, i)
    assert out.meta_information == META


def test_store_a_slice_to_a_local_folder(ds, tmp_path, open_ds):
    out = ds[3:7].store(str(tmp_path / "slice"))
    out.close()
    out = open_ds(str(tmp_path / "slice"), mode="r")
    assert len(out) == 4
    for j in range(4):
        assert_sample(out, j, j + 3)


def test_meta_information_survives_reopen_and_writes(ds, reopen):
    ds["label", 0] = 1
    ds.resize_shape(N + 1)
    d = reopen(ds)
    assert d.meta_information == META
    d.add_tensor("extra", Text())
    assert reopen(d, mode="r").meta_information == META


def test_clear_removes_a_value(ds, reopen):
    ds.clear("image", 3)
    ds.clear("label", 3)
    assert not ds.has_value("image", 3) and not ds.has_value("label", 3)
    d = reopen(ds, mode="r")
    assert not d.has_value("image", 3) and not d["image", 3].compute().any()
    assert d.has_value("image", 4)
    assert_sample(d, 4, 4)


def test_interpreter_exit_flushes_an_open_dataset(local_url, open_ds):
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, hubfs\n"
        "from hubfs.schema import Image, Primitive\n"
        "ds = hubfs.Dataset(sys.argv[1], shape=(3,), schema={'image': Image((4, 4)), 'x': Primitive()})\n"
        "ds['image', 1] = np.full((4, 4), 5, 'uint8')\n"
        "ds['x', 2] = 7\n"
        "ds.append({'x': 8})\n"  # no flush, no close
    )
    proc = subprocess.run([sys.executable, "-c", code, local_url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ds = open_ds(local_url, mode="r+")  # and the lock was released
    assert len(ds) == 4
    np.testing.assert_array_equal(ds["image", 1].compute(), np.full((4, 4), 5))
    assert ds["x", 2].compute() == 7 and ds["x", 3].compute() == 8


def test_dropping_an_open_dataset_flushes_it(url, open_ds):
    import gc

    ds = hubfs.Dataset(url, shape=(3,), schema=schema())
    ds["meta/name", 2] = "kept"
    ds.append({"label": "odd"})
    del ds
    gc.collect()
    again = open_ds(url, mode="r+")
    assert len(again) == 4 and again["meta/name", 2].compute() == "kept"
    assert again["label", 3].compute(label_name=True) == "odd"
