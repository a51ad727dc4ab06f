"""Dynamic shapes, and bad values: a SampleError naming tensor, index and reason, and nothing stored changes."""
from __future__ import annotations

import numpy as np
import pytest

from hubfs.errors import SampleError
from hubfs.schema import ClassLabel, Image, Mask, Primitive, Tensor, Text

SCHEMA = {
    "dyn": Tensor((None, None), "uint8", max_shape=(8, 8)),
    "img": Image((None, None, 3), max_shape=(16, 16, 3)),
    "fixed": Image((4, 4)),
    "num": Tensor((3,), "int16"),
    "mask": Mask((None, None, 1), max_shape=(6, 6, 1)),
    "text": Text(max_shape=(5,)),
    "label": ClassLabel(num_classes=3),
    "p": Primitive("uint8"),
}


def noise(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 255, shape, dtype="uint8")


@pytest.fixture
def ds(url, open_ds):
    ds = open_ds(url, shape=(6,), schema=SCHEMA)
    ds["dyn", 1] = noise((8, 8))
    ds["img", 1] = noise((16, 16, 3))
    ds["fixed", 1] = noise((4, 4))
    ds["num", 1] = [1, 2, 3]
    ds["mask", 1] = np.ones((6, 6, 1), bool)
    ds["text", 1] = "fünf!"
    ds["label", 1] = 2
    ds["p", 1] = 200
    ds.flush()
    return ds


def stored(ds):
    return {k: ds[k, 1].compute() for k in SCHEMA}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], str):
            assert a[k] == b[k], k
        else:
            assert np.shape(a[k]) == np.shape(b[k]), k
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)




@pytest.mark.parametrize("shape", [(1, 1), (8, 8), (3, 5), (8, 1), pytest.param((0, 4))])
def test_any_shape_within_max_shape(ds, reopen, shape):
    value = noise(shape, 1)
    ds["dyn", 2] = value
    for d in (ds, reopen(ds)):
        got = d["dyn", 2].compute()
        assert got.shape == shape
        np.testing.assert_array_equal(got, value)
        assert d["dyn", 2].shape == shape


@pytest.mark.parametrize("key,small", [("dyn", (2, 3)), ("img", (3, 2, 3)), ("mask", (1, 2, 1))])
def test_a_sample_can_shrink(ds, reopen, key, small):
    big = ds[key, 1].compute()
    assert big.shape != small
    value = np.ones(small, big.dtype)
    ds[key, 1] = value
    np.testing.assert_array_equal(ds[key, 1].compute(), value)
    ds.flush()
    for d in (ds, reopen(ds)):
        got = d[key, 1].compute()
        assert got.shape == small
        np.testing.assert_array_equal(got, value)
    # and it grows back
    d["dyn", 1] = noise((8, 8), 3)
    np.testing.assert_array_equal(reopen(d)["dyn", 1].compute(), noise((8, 8), 3))


BAD = [
    ("dyn", np.zeros((9, 2), "uint8"), ["max_shape"]),
    ("dyn", np.zeros((2, 9), "uint8"), ["max_shape"]),
    ("dyn", np.zeros((3,), "uint8"), ["dimensions"]),
    ("dyn", np.zeros((2, 2, 2), "uint8"), ["dimensions"]),
    ("dyn", np.full((2, 2), 0.5), ["float64", "uint8"]),
    ("dyn", np.full((2, 2), 300), ["uint8"]),
    ("dyn", np.full((2, 2), -1), ["uint8"]),
    ("img", np.zeros((17, 4, 3), "uint8"), ["max_shape"]),
    ("img", np.zeros((4, 4, 4), "uint8"), ["shape"]),
    ("img", np.zeros((4, 4), "uint8"), ["dimensions"]),
    ("img", np.full((4, 4, 3), 0.5, "float32"), ["float32", "0.5"]),
    ("fixed", np.zeros((5, 5), "uint8"), ["(4, 4)"]),
    ("fixed", np.zeros((4, 4), "int64") + 256, ["uint8"]),
    ("num", [1, 2], ["(3,)"]),
    ("num", [1, 2, 70000], ["int16"]),
    ("num", [1.5, 2, 3], ["int16"]),
    ("mask", np.zeros((7, 6, 1), bool), ["max_shape"]),
    ("mask", np.full((2, 2, 1), 2), ["bool"]),
    ("text", "sechs!", ["max_shape"]),
    ("text", 42, ["str"]),
    ("text", b"\xff\xfe", ["UTF-8"]),
    ("p", 256, ["uint8"]),
    ("p", 1.5, ["uint8"]),
    ("p", [1, 2], ["dimensions"]),
    ("label", 3, ["0..2"]),
    ("label", 1.0, ["int"]),
]


@pytest.mark.parametrize("key,value,words", BAD, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(BAD)])
def test_bad_value_names_tensor_and_index_and_changes_nothing(ds, reopen, key, value, words):
    before = stored(ds)
    with pytest.raises(SampleError) as err:
        ds[key, 1] = value
    message = str(err.value)
    assert f"tensor {key!r}" in message and "index 1" in message, message
    assert err.value.tensor == key and err.value.index == 1
    for word in words:
        assert word in message, message
    assert isinstance(err.value, ValueError)
    assert_same(stored(ds), before)
    ds.flush()
    assert_same(stored(ds), before)
    assert_same(stored(reopen(ds, mode="r")), before)


def test_bad_value_at_another_index_names_that_index(ds):
    with pytest.raises(SampleError) as err:
        ds["dyn", 4] = np.zeros((9, 9), "uint8")
    assert "tensor 'dyn', index 4" in str(err.value)
    assert not ds.has_value("dyn", 4)
    with pytest.raises(SampleError) as err:
        ds["dyn", -1] = np.zeros((9, 9), "uint8")
    assert "index 5" in str(err.value)
    with pytest.raises(SampleError) as err:
        ds["dyn", 2:5] = [np.zeros((2, 2), "uint8"), np.zeros((9, 9), "uint8"), np.zeros((2, 2), "uint8")]
    assert "index 3" in str(err.value)


def test_safe_casts_are_accepted(ds, reopen):
    ds["dyn", 2] = np.arange(6, dtype="int64").reshape(2, 3)  # ints that fit
    ds["num", 2] = np.array([1, -2, 3], "int8")
    ds["p", 2] = True
    ds["mask", 2] = np.array([[[0], [1]]])
    d = reopen(ds)
    assert d["dyn", 2].compute().dtype == np.uint8
    np.testing.assert_array_equal(d["dyn", 2].compute(), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(d["num", 2].compute(), [1, -2, 3])
    assert d["p", 2].compute() == 1
    np.testing.assert_array_equal(d["mask", 2].compute(), [[[False], [True]]])


def test_batch_with_one_bad_value_changes_nothing(ds, reopen):
    before = {k: ds[k, 0:6].compute() for k in ("dyn", "label", "num")}
    good = np.ones((2, 2), "uint8")
    with pytest.raises(SampleError):
        ds["dyn", 0:3] = [good, good, np.zeros((9, 9), "uint8")]
    with pytest.raises(SampleError):
        ds["dyn", [0, 2, 4]] = [good, np.zeros((1, 1, 1), "uint8"), good]
    with pytest.raises(SampleError) as err:
        ds[0:3] = {"dyn": [good, good, good], "label": [0, 1, 7]}
    assert "tensor 'label', index 2" in str(err.value)
    with pytest.raises(SampleError):
        ds[2] = {"num": [7, 7, 7], "text": "too long!"}
    for d in (ds, reopen(ds, mode="r")):
        after = {k: d[k, 0:6].compute() for k in ("dyn", "label", "num")}
        for a, b in zip(before["dyn"], after["dyn"]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(before["label"], after["label"])
        np.testing.assert_array_equal(before["num"], after["num"])
        assert not d.has_value("dyn", 0) and not d.has_value("num", 2)


def test_extend_with_one_bad_sample_adds_nothing(ds, reopen):
    good = {"dyn": np.ones((2, 2), "uint8"), "label": 1}
    with pytest.raises(SampleError) as err:
        ds.extend([good, good, {"dyn": np.ones((2, 2), "uint8"), "label": 9}])
    assert "tensor 'label', index 8" in str(err.value)
    assert len(ds) == 6
    with pytest.raises(SampleError):
        ds.append({"img": np.zeros((20, 20, 3), "uint8")})
    assert len(ds) == 6
    d = reopen(ds)
    assert len(d) == 6
    d.append(good)
    assert len(d) == 7 and d["label", 6].compute() == 1
