"""Growing and shrinking datasets, and tensors added on the fly."""
from __future__ import annotations

import numpy as np
import pytest

from hubfs.errors import SchemaError, TensorNotFoundError
from hubfs.schema import ClassLabel, Image, Primitive, Tensor, Text


def img(i):
    return np.full((3, 3), i % 256, "uint8")


def schema(chunks=None):
    # small chunks/shards so that resizing crosses chunk and shard boundaries
    return {"image": Image((3, 3), chunks=chunks), "label": Primitive("int32", chunks=chunks),
            "dyn": Tensor((None,), "int16", max_shape=(8,), chunks=chunks), "text": Text(chunks=chunks)}


def fill(ds, start, stop):
    for i in range(start, stop):
        ds["image", i] = img(i)
        ds["label", i] = i
        ds["dyn", i] = np.arange(i % 7 + 1, dtype="int16")
        ds["text", i] = f"t{i}"


def check(ds, i):
    np.testing.assert_array_equal(ds["image", i].compute(), img(i))
    assert ds["label", i].compute() == i
    np.testing.assert_array_equal(ds["dyn", i].compute(), np.arange(i % 7 + 1))
    assert ds["text", i].compute() == f"t{i}"


def check_empty(ds, i):
    for key in ("image", "label", "dyn", "text"):
        assert not ds.has_value(key, i), (key, i)
    assert not ds["image", i].compute().any()
    assert ds["label", i].compute() == 0
    assert ds["dyn", i].compute().size == 0
    assert ds["text", i].compute() == ""


@pytest.mark.parametrize("chunks", [None, 4])
def test_resize_grow_then_shrink_then_regrow(url, open_ds, reopen, chunks):
    ds = open_ds(url, shape=(10,), schema=schema(chunks))
    fill(ds, 0, 10)
    ds.resize_shape(25)
    assert len(ds) == 25 and ds.shape == (25,)
    fill(ds, 20, 25)
    ds = reopen(ds)
    assert len(ds) == 25
    for i in list(range(10)) + list(range(20, 25)):
        check(ds, i)
    for i in range(10, 20):
        check_empty(ds, i)
    ds.resize_shape(7)  # inside a chunk of 4, and of a shard
    assert len(ds) == 7
    with pytest.raises(IndexError):
        ds["label", 7]
    for i in range(7):
        check(ds, i)
    ds.resize_shape(25)  # the samples beyond 7 are gone, not back
    for i in range(7, 25):
        check_empty(ds, i)
    ds = reopen(ds)
    assert len(ds) == 25
    for i in range(7):
        check(ds, i)
    for i in range(7, 25):
        check_empty(ds, i)


@pytest.mark.parametrize("chunks", [None, 4])
@pytest.mark.parametrize("shrink_to", [12, 6, 0])  # above, below and at the start of the committed length
def test_samples_never_committed_are_forgotten_by_a_shrink(url, open_ds, reopen, chunks, shrink_to):
    """Found by test_model.py: a shrink above the committed length forgot nothing, so growing again before
    a flush showed the samples it had cut off."""
    ds = open_ds(url, shape=(10,), schema=schema(chunks))
    fill(ds, 0, 10)
    ds.flush()
    ds.resize_shape(20)
    fill(ds, 10, 20)
    ds.resize_shape(shrink_to)
    ds.resize_shape(20)
    for i in range(max(shrink_to, 10), 20):
        check_empty(ds, i)
    for i in range(min(shrink_to, 10)):
        check(ds, i)
    ds = reopen(ds, mode="r")
    for i in range(max(shrink_to, 10), 20):
        check_empty(ds, i)


@pytest.mark.parametrize("chunks", [None, 4])
def test_shrink_persists_and_regrow_after_reopen_is_empty(url, open_ds, reopen, chunks):
    ds = open_ds(url, shape=(12,), schema=schema(chunks))
    fill(ds, 0, 12)
    ds.flush()
    ds.resize_shape((5,))
    ds = reopen(ds)
    assert len(ds) == 5
    for i in range(5):
        check(ds, i)
    ds.resize_shape(12)
    ds = reopen(ds, mode="r")
    for i in range(5, 12):
        check_empty(ds, i)


def test_resize_to_zero_and_back(url, open_ds, reopen):
    ds = open_ds(url, shape=(3,), schema=schema())
    fill(ds, 0, 3)
    ds.resize_shape(0)
    assert len(ds) == 0 and list(ds) == []
    ds = reopen(ds)
    assert len(ds) == 0
    ds.append_shape(2)
    check_empty(ds, 1)


def test_append_shape(url, open_ds, reopen):
    ds = open_ds(url, shape=(4,), schema=schema())
    fill(ds, 0, 4)
    ds.append_shape(3)
    assert len(ds) == 7
    check_empty(ds, 6)
    ds["label", 6] = 66
    ds = reopen(ds)
    assert len(ds) == 7 and ds["label", 6].compute() == 66
    check(ds, 3)
    check_empty(ds, 5)


def test_append_and_extend(url, open_ds, reopen):
    ds = open_ds(url, shape=(0,), schema=schema())
    ds.append({"image": img(0), "label": 0, "dyn": np.arange(1, dtype="int16"), "text": "t0"})
    ds.extend([{"image": img(i), "label": i, "dyn": np.arange(i % 7 + 1, dtype="int16"), "text": f"t{i}"}
               for i in range(1, 6)])
    ds.append({"label": 6})  # other tensors stay empty
    ds.extend(iter([{"label": 7}]))
    assert len(ds) == 8
    ds = reopen(ds)
    assert len(ds) == 8
    for i in range(1, 6):
        check(ds, i)
    assert ds["label", 6].compute() == 6 and not ds.has_value("image", 6)
    assert ds["label", 7].compute() == 7
    with pytest.raises(TensorNotFoundError):
        ds.append({"nope": 1})
    with pytest.raises(TypeError):
        ds.extend([1, 2])
    assert len(ds) == 8


def test_append_nested_sample(url, open_ds, reopen):
    ds = open_ds(url, shape=(0,), schema={"a": {"b": Primitive(), "c": Text()}})
    ds.append({"a": {"b": 3, "c": "drei"}})
    ds.append({"a/b": 4})
    ds = reopen(ds, mode="r")
    assert ds[0].compute() == {"a": {"b": 3, "c": "drei"}}
    assert ds["a/b", 1].compute() == 4


def test_add_tensor_on_existing_dataset(url, open_ds, reopen):
    ds = open_ds(url, shape=(5,), schema=schema())
    fill(ds, 0, 5)
    ds.add_tensor("extra", Primitive("float32"))
    ds.add_tensor("cls", ClassLabel(names=["a", "b"]))
    ds.add_tensor("group", {"x": Image((2, 2)), "y": Text()})
    assert ds.keys() == ["image", "label", "dyn", "text", "extra", "cls", "group/x", "group/y"]
    for i in range(5):
        assert not ds.has_value("extra", i) and ds["extra", i].compute() == 0
        assert not ds.has_value("group/x", i) and not ds["group/x", i].compute().any()
        assert ds["group/y", i].compute() == ""
    ds["extra", 2] = 2.5
    ds["group/y", 4] = "vier"
    ds = reopen(ds)
    assert ds.keys() == ["image", "label", "dyn", "text", "extra", "cls", "group/x", "group/y"]
    assert ds.schema["extra"] == Primitive("float32")
    assert ds.schema["group"]["x"] == Image((2, 2))
    assert not ds.has_value("extra", 0) and ds.has_value("extra", 2)
    assert ds["extra", 2].compute() == 2.5 and ds["group/y", 4].compute() == "vier"
    for i in range(5):
        check(ds, i)
    ds.append({"cls": "b", "extra": 1.0})
    assert reopen(ds, mode="r")["cls", 5].compute(label_name=True) == "b"


def test_add_tensor_that_clashes_is_a_schema_error(url, open_ds):
    ds = open_ds(url, shape=(2,), schema={"a": {"b": Primitive()}, "c": Primitive()})
    for name, t in [("c", Primitive()), ("a", Primitive()), ("a", {"b": Primitive()}), ("c", {"d": Primitive()})]:
        with pytest.raises(SchemaError):
            ds.add_tensor(name, t)
    assert ds.keys() == ["a/b", "c"]


def test_add_tensor_then_reopen_with_the_full_schema(url, open_ds, reopen):
    ds = open_ds(url, shape=(2,), schema={"a": Primitive()})
    ds.add_tensor("b", Text())
    ds.close()
    ds = open_ds(url, shape=(2,), schema={"a": Primitive(), "b": Text()})
    assert ds.keys() == ["a", "b"]
    ds.close()
    with pytest.raises(SchemaError):
        open_ds(url, mode="r", shape=(2,), schema={"a": Primitive()})
