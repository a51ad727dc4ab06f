"""Hub 1.3.5's dataset and view API as its documentation and docstrings describe it, run against hubfs.

Written from Hub's documented behaviour (``hub/api/dataset.py``, ``datasetview.py``, ``tensorview.py``
at tag 1.3.5): each test is a small Hub 1.x program with ``hub`` renamed to ``hubfs``.
"""
from __future__ import annotations

import gc
import multiprocessing
import pickle
import subprocess
import sys
import uuid

import numpy as np
import pytest

import hubfs
from hubfs import exceptions
from hubfs.schema import ClassLabel, Image, Primitive, Tensor, Text


@pytest.fixture
def url(tmp_path):
    return str(tmp_path / f"ds-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def opened():
    """Datasets to close at teardown."""
    out: list = []
    yield out
    for ds in reversed(out):
        try:
            ds.close()
        except Exception:
            pass


def make(url, opened, n=4, **kwargs):
    schema = {"image": Image((2, 2)), "label": ClassLabel(num_classes=5), "loss": Primitive("float32"),
              "vec": Tensor((3,), "float32"), "text": Text(max_shape=(20,)),
              "nested": {"a": Tensor((4,), "int32"), "b": Primitive("int64")}}
    ds = hubfs.Dataset(url, shape=(n,), schema=schema, mode="w", **kwargs)
    opened.append(ds)
    return ds


# -- casting by value ----------------------------------------------------------------------------
def test_values_that_convert_exactly_are_accepted(url, opened):
    ds = make(url, opened)
    ds["image", 0] = np.ones((2, 2))                 # float64 of whole numbers into uint8
    ds["vec", 0] = [1, 2, 3]                         # Python ints into float32
    ds["loss", 0] = 2                                # int into float32
    ds["nested/b", 0] = 7.0                          # whole float into int64
    ds["vec", 1] = np.array([0.1, 0.2, 0.3])         # float64 rounds to float32
    assert ds["image", 0].compute().dtype == np.uint8
    np.testing.assert_array_equal(ds["image", 0].compute(), np.ones((2, 2), "uint8"))
    np.testing.assert_array_equal(ds["vec", 0].compute(), [1, 2, 3])
    assert ds["nested/b", 0].compute() == 7


@pytest.mark.parametrize("key,value,shown", [
    ("image", np.full((2, 2), 300), "300"),
    ("image", np.array([[1, 1.5], [1, 1]]), "1.5"),
    ("vec", [1, 2, 1e300], "1e+300"),
    ("nested/b", 2.5, "2.5"),
])
def test_values_that_would_change_are_refused_naming_tensor_index_and_value(url, opened, key, value, shown):
    ds = make(url, opened)
    with pytest.raises(ValueError) as err:
        ds[key, 1] = value
    text = str(err.value)
    assert repr(key) in text and "index 1" in text and shown in text, text
    assert not ds.has_value(key, 1)


# -- subscripts ------------------------------------------------------------------------------------
def test_tensor_names_anywhere_in_the_subscript(url, opened):
    ds = make(url, opened)
    ds["nested", 1, "b"] = 11
    ds[2]["nested/a"] = [1, 2, 3, 4]
    assert ds["nested", 1, "b"].compute() == 11
    assert ds["nested/b", 1].compute() == 11
    assert ds[1]["nested", "b"].compute() == 11
    assert ds[2]["nested/a", 2].compute() == 3          # a one-sample view: the number indexes the sample
    np.testing.assert_array_equal(ds["nested", "a", 2, 1:3].compute(), [2, 3])


def test_partial_reads_and_writes_of_a_sample(url, opened):
    ds = make(url, opened)
    ds["image", 0] = np.zeros((2, 2), "uint8")
    ds["image", 0, 0:1] = np.full((1, 2), 9)
    ds["image", 0, 1, 1] = 4
    np.testing.assert_array_equal(ds["image", 0].compute(), [[9, 9], [0, 4]])
    np.testing.assert_array_equal(ds["image", 0, 1].compute(), [0, 4])
    assert ds["image", 0, 1, 1].compute() == 4
    assert ds["image"][0][1].compute().tolist() == [0, 4]
    ds.close()
    again = hubfs.Dataset(url, mode="r")
    opened.append(again)
    np.testing.assert_array_equal(again["image", 0].compute(), [[9, 9], [0, 4]])


def test_string_subscripts_that_name_no_tensor_are_key_errors(url, opened):
    ds = make(url, opened)
    with pytest.raises(KeyError):
        ds["nope"]
    with pytest.raises(KeyError):
        ds["label", 0, "nope"]
    with pytest.raises(TypeError):
        ds["label", 1.5]


# -- compute(), iteration, broadcasting, indexes --------------------------------------------------
def test_compute_of_a_dataset_and_of_views_is_per_sample_dicts(url, opened):
    ds = make(url, opened)
    for i in range(4):
        ds["label", i] = i
        ds["text", i] = f"t{i}"
    everything = ds.compute()
    assert len(everything) == 4 and everything[1]["label"] == 1 and everything[3]["text"] == "t3"
    assert everything[0]["nested"]["a"].shape == (4,)
    assert ds[1:3].compute()[0]["label"] == 1
    assert ds[2].compute()["text"] == "t2"
    assert [s["label"] for s in ds.compute(label_name=True)] == ["0", "1", "2", "3"]
    assert ds.numpy()[2]["label"] == 2


def test_iteration(url, opened):
    ds = make(url, opened)
    ds["label"] = [0, 1, 2, 3]
    assert [s["label"].compute() for s in ds] == [0, 1, 2, 3]
    assert [t.compute() for t in ds["label"]] == [0, 1, 2, 3]
    assert [t.compute() for t in ds["label", 1:3]] == [1, 2]
    one = ds["label", 2]
    assert [t.compute() for t in one] == [2]            # a one-sample view yields itself, as in Hub
    assert [s["label"].compute() for s in ds[1]] == [1]
    assert len(ds[1]) == 1 and len(ds[1:3]) == 2


def test_a_scalar_broadcasts_over_a_range_and_a_whole_tensor(url, opened):
    ds = make(url, opened)
    ds["loss"] = 1.21
    np.testing.assert_allclose(ds["loss"].compute(), np.full(4, 1.21, "float32"))
    ds["label", 1:3] = 4
    assert ds["label"].compute().tolist() == [0, 4, 4, 0]
    ds["vec", 0:2] = [7, 8, 9]                           # one sample's value for each of the range
    np.testing.assert_array_equal(ds["vec", 0:2].compute(), [[7, 8, 9], [7, 8, 9]])
    ds["text", 0:4] = "same"
    assert ds["text"].compute() == ["same"] * 4


def test_indexes(url, opened):
    ds = make(url, opened, n=6)
    assert ds.indexes == [0, 1, 2, 3, 4, 5]
    assert ds[1:4].indexes == [1, 2, 3]
    assert ds[2].indexes == 2
    assert ds[1:5][1:3].indexes == [2, 3]
    assert ds["label", 2:4].indexes == [2, 3] and ds["label", 3].indexes == 3
    assert ds.filter(lambda s: s.indexes % 2 == 0).indexes == [0, 2, 4]


# -- arguments and names --------------------------------------------------------------------------
def test_name_and_hub_keyword_arguments(url, opened):
    schema = {"label": ClassLabel(num_classes=3)}
    ds = hubfs.Dataset(url, shape=(3,), schema=schema, mode="w", name="my data", public=False,
                       storage_cache=1 << 20, lock_cache=False, lazy=True, cache=1 << 22)
    opened.append(ds)
    assert ds.name == "my data"
    ds["label", 0] = 2
    ds.close()
    again = hubfs.load(url)
    opened.append(again)
    assert again.name == "my data" and again["label", 0].compute() == 2
    assert list(again.keys) == ["label"] and again.keys() == ["label"]


def test_lazy_off_returns_values(url, opened):
    ds = make(url, opened)
    ds["label", 1] = 3
    ds.disable_lazy()
    assert ds["label", 1] == 3
    assert ds[1]["label"] == 3
    np.testing.assert_array_equal(ds["label", 0:2], [0, 3])
    ds.enable_lazy()
    assert isinstance(ds["label", 1], hubfs.TensorView)
    eager = hubfs.Dataset(url, lazy=False)
    opened.append(eager)
    assert eager["label", 1] == 3


def test_meta_information_edited_after_creation_persists(url, opened):
    ds = make(url, opened, meta_information={"source": "camera"})
    ds.meta_information["license"] = "CC0"
    ds.meta_information["source"] = "phone"
    ds.close()
    again = hubfs.Dataset(url, mode="r")
    opened.append(again)
    assert again.meta_information == {"source": "phone", "license": "CC0"}


# -- reopening, dropping, pickling ---------------------------------------------------------------
def test_opening_a_url_again_in_one_process(url, opened):
    ds = make(url, opened)
    ds["label", 0] = 1
    again = hubfs.Dataset(url)
    opened.append(again)
    assert again["label", 0].compute() == 1
    again["label", 1] = 2
    assert ds["label", 1].compute() == 2
    with pytest.raises(exceptions.SchemaMismatchException):
        hubfs.Dataset(url, schema={"other": Primitive("int32")})
    recreated = make(url, opened)                            # mode="w" again, as a re-run notebook cell does
    assert recreated["label", 0].compute() == 0


def test_a_dropped_dataset_does_not_keep_other_writers_out(url, opened):
    gc.disable()  # the lock must be released without the garbage collector
    try:
        ds = make(url, [])
        ds["label", 2] = 4
        view = ds[1:3]
        del ds, view
        code = ("import hubfs, sys; ds = hubfs.Dataset(sys.argv[1], mode='r+'); "
                "print(ds['label', 2].compute()); ds.close()")
        out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "4"
    finally:
        gc.enable()


def _label_of(view) -> int:
    return int(view["label"].compute())


def _sum_labels(ds) -> int:
    return int(sum(ds["label", i].compute() for i in range(len(ds))))


@pytest.mark.parametrize("start", ["spawn", "fork"])
def test_datasets_and_views_pickle_into_worker_processes(url, opened, start):
    ds = make(url, opened, n=6)
    ds["label"] = [0, 1, 2, 3, 4, 0]                         # not flushed: pickling flushes
    with multiprocessing.get_context(start).Pool(2) as pool:
        assert pool.map(_label_of, [ds[i] for i in range(6)]) == [0, 1, 2, 3, 4, 0]
        assert pool.apply(_sum_labels, (ds,)) == 10
        assert pool.apply(_sum_labels, (ds[1:3],)) == 3
    copy = pickle.loads(pickle.dumps(ds["label", 2:5]))
    assert copy.compute().tolist() == [2, 3, 4]


# -- engine bugs ------------------------------------------------------------------------------------
def test_a_write_owns_its_value(url, opened):
    ds = make(url, opened)
    buf = np.full((2, 2), 5, "uint8")
    ds["image", 0] = buf
    buf[:] = 9
    np.testing.assert_array_equal(ds["image", 0].compute(), np.full((2, 2), 5))
    out = ds["image", 0].compute()
    out[:] = 1
    np.testing.assert_array_equal(ds["image", 0].compute(), np.full((2, 2), 5))


def test_reads_after_delete_raise(url, opened):
    ds = make(url, opened)
    ds["label", 0] = 1
    view = ds["label", 0]
    assert ds.delete() is True
    with pytest.raises(exceptions.HubDatasetNotFoundException):
        view.compute()
    with pytest.raises(FileNotFoundError):
        ds["label", 0].compute()
    with pytest.raises(exceptions.HubDatasetNotFoundException):
        hubfs.Dataset(url, mode="r")


# -- Hub's exception names ----------------------------------------------------------------------------
def test_hub_exception_names_catch_what_hub_raised(url, opened):
    ds = make(url, opened)
    ds.close()
    reader = hubfs.Dataset(url, mode="r")
    opened.append(reader)
    with pytest.raises(exceptions.ReadModeException):
        reader["label", 0] = 1
    with pytest.raises(exceptions.ShapeArgumentNotFoundException):
        hubfs.Dataset(url + "-new", schema={"x": Primitive("int32")})
    with pytest.raises(exceptions.SchemaArgumentNotFoundException):
        hubfs.Dataset(url + "-new2", shape=(2,))
    with pytest.raises(exceptions.ShapeLengthException):
        hubfs.Dataset(url + "-new3", shape=(2, 2), schema={"x": Primitive("int32")})
    with pytest.raises(TypeError):                   # Hub: a different stored shape is a TypeError
        hubfs.Dataset(url, shape=(9,))
    with pytest.raises(exceptions.ClassLabelValueError):
        hubfs.Dataset(url, mode="r+")["label", 0] = 7
    with pytest.raises(exceptions.ValueShapeError):
        hubfs.Dataset(url, mode="r+")["image", 0] = np.zeros((3, 3), "uint8")
    with pytest.raises(ValueError):
        hubfs.Dataset(url, mode="r+")["image", 0] = np.zeros((3, 3), "uint8")
    with pytest.raises(exceptions.HubDatasetNotFoundException):
        hubfs.Dataset(url + "-missing", mode="r")
    with pytest.raises(exceptions.OutOfBoundsError):
        reader["label", 99]
    assert issubclass(exceptions.ReadModeException, exceptions.HubException)


def test_store_copies_jpeg_samples_without_losing_quality(tmp_path, opened):
    rng = np.random.default_rng(1)
    photo = (np.add.outer(np.arange(32), np.arange(32))[..., None] * [3, 2, 1] % 256).astype("uint8")
    photo = np.clip(photo.astype(int) + rng.integers(-20, 20, photo.shape), 0, 255).astype("uint8")
    schema = {"image": Image((32, 32, 3), compressor="jpeg"), "label": ClassLabel(num_classes=2)}
    ds = hubfs.Dataset(str(tmp_path / "g0"), shape=(2,), schema=schema, mode="w")
    opened.append(ds)
    ds["image", 0] = photo
    ds["label", 0] = 1
    first = ds["image", 0].compute()
    stored = ds.read_stored("image", 0)
    for generation in range(1, 4):
        ds = ds.store(str(tmp_path / f"g{generation}"))
        opened.append(ds)
        assert ds.read_stored("image", 0) == stored            # the same bytes, not a re-encoding
        np.testing.assert_array_equal(ds["image", 0].compute(), first)
        assert ds["label", 0].compute() == 1 and not ds.has_value("image", 1)
    view_copy = ds[0:1].store(str(tmp_path / "view"))
    opened.append(view_copy)
    assert view_copy.read_stored("image", 0) == stored and len(view_copy) == 1
