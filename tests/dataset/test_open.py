"""Opening datasets: the seed example, reopening, modes, foreign folders, read-only writes."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hubfs
from hubfs.dataset import lock
from hubfs.dataset.stores import open_store
from hubfs.errors import (DatasetNotFoundError, NotADatasetError, ReadOnlyError, SchemaError)
from hubfs.schema import ClassLabel, Image, Primitive, Text

SEED = textwrap.dedent("""\
    import numpy as np
    import hubfs
    from hubfs.schema import ClassLabel, Image
    my_schema = {"image": Image((28, 28)), "label": ClassLabel(num_classes=10)}
    ds = hubfs.Dataset("./data/examples/new_api_intro", shape=(1000,), schema=my_schema)
    for i in range(len(ds)):
        ds["image", i] = np.ones((28, 28), dtype="uint8")
        ds["label", i] = 3
    print(ds["image", 5].compute())
    print(ds["label", 100:110].compute())
    ds.close()
""")


def seed_output() -> str:
    return f"{np.ones((28, 28), dtype='uint8')}\n{np.full(10, 3, dtype='int64')}\n"


def test_seed_example_runs_as_written_and_prints_what_it_should(tmp_path):
    script = tmp_path / "seed.py"
    script.write_text(SEED)
    for run in range(2):  # the second run reopens the dataset the first one made
        out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout == seed_output(), f"run {run}"
        assert "[3 3 3 3 3 3 3 3 3 3]" in out.stdout
    ds = hubfs.Dataset(str(tmp_path / "data/examples/new_api_intro"), mode="r")
    assert len(ds) == 1000
    assert ds["label", 999].compute() == 3
    np.testing.assert_array_equal(ds["image", 0].compute(), np.ones((28, 28), "uint8"))
    ds.close()


def seed_schema():
    return {"image": Image((28, 28)), "label": ClassLabel(num_classes=10)}


def make(open_ds, url, n=10, **kwargs):
    ds = open_ds(url, shape=(n,), schema=seed_schema(), **kwargs)
    for i in range(n):
        ds["image", i] = np.full((28, 28), i, "uint8")
        ds["label", i] = i % 10
    ds.flush()
    return ds


def test_seed_example_in_process(url, open_ds):
    ds = open_ds(url, shape=(1000,), schema=seed_schema())
    for i in range(len(ds)):
        ds["image", i] = np.ones((28, 28), dtype="uint8")
        ds["label", i] = 3
    img = ds["image", 5].compute()
    assert isinstance(img, np.ndarray) and img.shape == (28, 28) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, np.ones((28, 28)))
    labels = ds["label", 100:110].compute()
    assert isinstance(labels, np.ndarray)
    np.testing.assert_array_equal(labels, [3] * 10)
    ds.close()


def test_reopen_with_same_shape_and_schema(url, open_ds):
    make(open_ds, url).close()
    ds = open_ds(url, shape=(10,), schema=seed_schema())
    assert ds.mode == "r+" and not ds.read_only
    assert len(ds) == 10
    np.testing.assert_array_equal(ds["image", 7].compute(), np.full((28, 28), 7))
    np.testing.assert_array_equal(ds["label", 0:10].compute(), np.arange(10) % 10)


def test_reopen_with_another_shape_says_what_differs(url, open_ds):
    make(open_ds, url).close()
    with pytest.raises(SchemaError) as err:
        open_ds(url, shape=(20,), schema=seed_schema())
    assert "(10,)" in str(err.value) and "(20,)" in str(err.value)
    ds = open_ds(url, mode="r")  # nothing changed
    assert len(ds) == 10
    assert ds["label", 3].compute() == 3


@pytest.mark.parametrize("schema,words", [
    ({"image": Image((32, 32)), "label": ClassLabel(num_classes=10)}, ["'image'", "32"]),
    ({"image": Image((28, 28)), "label": ClassLabel(num_classes=5)}, ["'label'", "num_classes"]),
    ({"image": Image((28, 28))}, ["label", "not in the given schema"]),
    ({"image": Image((28, 28)), "label": ClassLabel(num_classes=10), "extra": Primitive()}, ["extra", "not stored"]),
])
def test_reopen_with_another_schema_says_what_differs(url, open_ds, schema, words):
    make(open_ds, url).close()
    with pytest.raises(SchemaError) as err:
        open_ds(url, shape=(10,), schema=schema)
    for word in words:
        assert word in str(err.value)
    assert open_ds(url, mode="r")["label", 4].compute() == 4


@pytest.mark.parametrize("kwargs", [{"shape": (20,)}, {"schema": {"label": ClassLabel(num_classes=3)}}])
def test_failed_open_releases_the_writer_lock(url, open_ds, files, kwargs):
    """A caller that keeps the exception (a traceback holds the half-built Dataset) must not keep the lock."""
    make(open_ds, url).close()
    with pytest.raises(SchemaError) as err:
        open_ds(url, **kwargs)
    assert err.value is not None
    assert lock.holder(open_store(url, None)) is None
    ds = open_ds(url, mode="r+")
    assert ds["label", 4].compute() == 4


@pytest.mark.parametrize("mode", [None, "a", "w", "r+"])
def test_folder_that_is_not_a_dataset_is_an_error_and_untouched(url, open_ds, files, put_file, mode):
    put_file(url, "notes.txt", b"precious")
    put_file(url, "sub/data.bin", b"\x00\x01")
    before = files(url)
    with pytest.raises((NotADatasetError, DatasetNotFoundError)) as err:
        open_ds(url, mode=mode, shape=(3,), schema=seed_schema())
    if mode != "r+":  # r+ never creates: "no dataset here" is the right answer too
        assert isinstance(err.value, NotADatasetError)
        assert "not empty" in str(err.value) or "not a hubfs dataset" in str(err.value)
    assert files(url) == before


@pytest.mark.parametrize("mode", [None, "a", "w"])
def test_zarr_group_that_is_not_a_hubfs_dataset_is_untouched(url, open_ds, files, put_file, mode):
    put_file(url, "zarr.json", b'{"zarr_format": 3, "node_type": "group", "attributes": {}}')
    put_file(url, "arr/zarr.json", b'{"zarr_format": 3, "node_type": "array"}')
    before = files(url)
    with pytest.raises(NotADatasetError):
        open_ds(url, mode=mode, shape=(3,), schema=seed_schema())
    assert files(url) == before


def test_mode_r_and_r_plus_need_an_existing_dataset(url, open_ds, files):
    for mode in ("r", "r+"):
        with pytest.raises(DatasetNotFoundError) as err:
            open_ds(url, mode=mode)
        assert isinstance(err.value, FileNotFoundError)
    assert files(url) == {}


@pytest.mark.parametrize("mode", [None, "a", "w"])
def test_creating_needs_shape_and_schema(url, open_ds, mode):
    with pytest.raises(SchemaError):
        open_ds(url, mode=mode, schema=seed_schema())
    with pytest.raises(SchemaError):
        open_ds(url, mode=mode, shape=(3,))
    ds = open_ds(url, mode=mode, shape=(3,), schema=seed_schema())  # no lock left by the failures
    assert len(ds) == 3


def test_bad_mode_and_bad_shape(url, open_ds):
    with pytest.raises(ValueError):
        open_ds(url, mode="x", shape=(3,), schema=seed_schema())
    with pytest.raises(SchemaError):
        open_ds(url, shape=(3, 4), schema=seed_schema())
    with pytest.raises(SchemaError):
        open_ds(url, shape=(-1,), schema=seed_schema())


@pytest.mark.parametrize("mode", ["a", "a+", None])
def test_append_modes_create_then_open_read_write(url, open_ds, mode):
    ds = open_ds(url, mode=mode, shape=(4,), schema=seed_schema())
    assert not ds.read_only
    ds["label", 1] = 7
    ds.close()
    ds = open_ds(url, mode=mode)
    assert not ds.read_only and len(ds) == 4
    assert ds["label", 1].compute() == 7
    ds["label", 2] = 8
    ds.close()
    assert open_ds(url, mode="r")["label", 2].compute() == 8


def test_mode_none_on_existing_dataset_is_read_write(url, open_ds):
    make(open_ds, url).close()
    ds = open_ds(url)
    assert not ds.read_only
    ds["label", 0] = 9
    ds.close()
    assert open_ds(url, mode="r")["label", 0].compute() == 9


@pytest.mark.parametrize("mode", ["w", "w+"])
def test_mode_w_overwrites_with_a_new_shape_and_schema(url, open_ds, files, mode):
    make(open_ds, url).close()
    ds = open_ds(url, mode=mode, shape=(3,), schema={"text": Text()})
    assert len(ds) == 3 and ds.keys() == ["text"]
    ds["text", 0] = "new"
    ds.close()
    ds = open_ds(url, mode="r")
    assert ds.keys() == ["text"] and len(ds) == 3
    assert ds["text", 0].compute() == "new"
    assert not any(k.startswith(("image/", "label/")) for k in files(url))


def test_writes_on_mode_r_are_read_only_errors(url, open_ds):
    make(open_ds, url).close()
    ds = open_ds(url, mode="r")
    assert ds.read_only
    attempts = [
        lambda: ds.__setitem__(("label", 1), 2),
        lambda: ds.__setitem__(("image", 1), np.zeros((28, 28), "uint8")),
        lambda: ds[1].__setitem__("label", 2),
        lambda: ds["label", 0:2].__setitem__(slice(None), [1, 2]),
        lambda: ds.__setitem__(2, {"label": 1}),
        lambda: ds.append({"label": 1}),
        lambda: ds.extend([{"label": 1}]),
        lambda: ds.resize_shape(20),
        lambda: ds.append_shape(1),
        lambda: ds.add_tensor("new", Primitive()),
        lambda: ds.clear("label", 1),
        lambda: ds.delete(),
        lambda: ds.rename("elsewhere"),
    ]
    for attempt in attempts:
        with pytest.raises(ReadOnlyError) as err:
            attempt()
        assert isinstance(err.value, hubfs.ReadModeException)
        assert isinstance(err.value, PermissionError)
    ds.flush()  # a no-op, not an error
    assert len(ds) == 10 and ds.keys() == ["image", "label"]
    assert ds["label", 1].compute() == 1


def test_read_mode_exception_is_the_read_only_error():
    assert hubfs.ReadModeException is ReadOnlyError


def test_reader_does_not_see_the_writer_lock_and_sees_flushed_data(url, open_ds):
    writer = make(open_ds, url)
    reader = open_ds(url, mode="r")
    assert reader["label", 5].compute() == 5
    writer["label", 5] = 0
    writer.close()
    assert open_ds(url, mode="r")["label", 5].compute() == 0


def test_meta_information_persists(url, open_ds):
    meta = {"description": "digits ✓", "license": "CC0", "n": 3}
    ds = open_ds(url, shape=(2,), schema=seed_schema(), meta_information=meta)
    assert ds.meta_information == meta
    ds.close()
    assert open_ds(url, mode="r").meta_information == meta


def test_mode_w_without_shape_or_schema_deletes_nothing(url, open_ds, files):
    make(open_ds, url).close()
    before = files(url)
    with pytest.raises(SchemaError):
        open_ds(url, mode="w")
    assert files(url) == before
    assert open_ds(url, mode="r")["label", 3].compute() == 3


@pytest.mark.parametrize("mode", [None, "a", "w", "r"])
def test_url_that_is_a_file_is_an_error_and_untouched(tmp_path, open_ds, mode):
    from hubfs.errors import HubfsError

    path = tmp_path / "file.txt"
    path.write_bytes(b"precious")
    with pytest.raises(HubfsError) as err:
        open_ds(str(path), mode=mode, shape=(3,), schema=seed_schema())
    assert "file.txt" in str(err.value)
    assert path.read_bytes() == b"precious" and sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]
