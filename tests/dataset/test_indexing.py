"""Indexing and assignment: Hub 1.x's subscripts, what compute() returns, len, iteration, keys, shape."""
from __future__ import annotations

import numpy as np
import pytest

from hubfs import DatasetView, TensorView
from hubfs.errors import IndexOutOfRangeError, SampleError, TensorNotFoundError
from hubfs.schema import ClassLabel, Image, Primitive, Tensor, Text

N = 20


def img(i):
    return np.full((4, 4), i, "uint8")


def dyn(i):
    return np.arange(i % 5 + 1, dtype="int64") + i


SCHEMA = {
    "image": Image((4, 4)),
    "label": ClassLabel(num_classes=N),
    "a": {"b": Primitive("int32")},
    "dyn": Tensor((None,), "int64", max_shape=(10,)),
    "text": Text(),
}


@pytest.fixture(params=["cached", "reopened"])
def ds(request, url, open_ds):
    """A filled dataset, read straight after writing or after close + reopen."""
    ds = open_ds(url, shape=(N,), schema=SCHEMA)
    for i in range(N):
        ds["image", i] = img(i)
        ds["label", i] = i
        ds["a/b", i] = 100 + i
        ds["dyn", i] = dyn(i)
        ds["text", i] = f"sample {i} ✓"
    if request.param == "reopened":
        ds.close()
        ds = open_ds(url, mode="r+")
    return ds


def test_one_sample_of_a_tensor(ds):
    got = ds["image", 5].compute()
    assert isinstance(got, np.ndarray) and got.shape == (4, 4) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, img(5))
    np.testing.assert_array_equal(ds["image", 5].numpy(), img(5))
    np.testing.assert_array_equal(np.asarray(ds["image", 5]), img(5))
    assert isinstance(ds["image", 5], TensorView)


def test_fixed_slice_is_one_array(ds):
    got = ds["image", 5:10].compute()
    assert isinstance(got, np.ndarray) and got.shape == (5, 4, 4)
    np.testing.assert_array_equal(got, np.stack([img(i) for i in range(5, 10)]))
    labels = ds["label", 100 % N:N].compute()
    assert isinstance(labels, np.ndarray)
    np.testing.assert_array_equal(labels, np.arange(0, N))
    np.testing.assert_array_equal(ds["label", 2:12:3].compute(), [2, 5, 8, 11])


def test_dynamic_slice_is_a_list_of_arrays(ds):
    got = ds["dyn", 3:8].compute()
    assert isinstance(got, list) and len(got) == 5
    for i, v in zip(range(3, 8), got):
        assert isinstance(v, np.ndarray)
        np.testing.assert_array_equal(v, dyn(i))
    got = ds["dyn", [9, 1]].compute()
    assert isinstance(got, list)
    np.testing.assert_array_equal(got[0], dyn(9))
    np.testing.assert_array_equal(got[1], dyn(1))


def test_text_is_str_and_text_slice_is_a_list_of_str(ds):
    assert ds["text", 3].compute() == "sample 3 ✓"
    assert ds["text", 3:6].compute() == [f"sample {i} ✓" for i in range(3, 6)]
    assert ds[4]["text"].compute() == "sample 4 ✓"


def test_sample_is_a_dict_nested_like_the_schema(ds):
    view = ds[5]
    assert isinstance(view, DatasetView)
    got = view.compute()
    assert set(got) == {"image", "label", "a", "dyn", "text"}
    np.testing.assert_array_equal(got["image"], img(5))
    assert got["label"] == 5 and got["a"] == {"b": 105} and got["text"] == "sample 5 ✓"
    np.testing.assert_array_equal(got["dyn"], dyn(5))
    assert ds[5].numpy()["a"]["b"] == 105


def test_range_of_samples_computes_to_an_array_of_sample_dicts(ds):
    got = ds[2:5].compute()
    assert isinstance(got, np.ndarray) and got.dtype == object and got.shape == (3,)
    for j, i in enumerate(range(2, 5)):
        np.testing.assert_array_equal(got[j]["image"], img(i))
        assert got[j]["a"]["b"] == 100 + i and got[j]["text"] == f"sample {i} ✓"
        np.testing.assert_array_equal(got[j]["dyn"], dyn(i))
    assert ds[[4, 2]].compute()[0]["label"] == 4


def test_sample_then_tensor(ds):
    np.testing.assert_array_equal(ds[5]["image"].compute(), img(5))
    assert ds[5]["a/b"].compute() == 105
    assert ds[5]["a"]["b"].compute() == 105


def test_view_of_a_view(ds):
    np.testing.assert_array_equal(ds[3:15][4:9]["image", 1].compute(), img(8))
    np.testing.assert_array_equal(ds[3:15][4:9]["image"].compute(), np.stack([img(i) for i in range(7, 12)]))
    assert ds[3:15][4:9][1]["label"].compute() == 8
    assert ds[3:15][-1]["label"].compute() == 14
    np.testing.assert_array_equal(ds[3:15]["label", 4:9][1:3].compute(), [8, 9])
    np.testing.assert_array_equal(ds["label", 3:15][4:9].compute(), [7, 8, 9, 10, 11])


def test_nested_keys(ds):
    for i in (0, 7, N - 1):
        assert ds["a/b", i].compute() == 100 + i
    np.testing.assert_array_equal(ds["a/b", 2:4].compute(), [102, 103])
    assert ds["a"].keys() == ["b"]
    assert ds["a", 3].compute() == {"b": 103}


def test_negative_indices(ds):
    np.testing.assert_array_equal(ds["image", -1].compute(), img(N - 1))
    np.testing.assert_array_equal(ds["label", -3:].compute(), [N - 3, N - 2, N - 1])
    assert ds[-2]["label"].compute() == N - 2
    assert ds["label", -N].compute() == 0
    np.testing.assert_array_equal(ds["label", [-1, 0, -5]].compute(), [N - 1, 0, N - 5])


def test_lists_and_numpy_indices(ds):
    got = ds["image", [1, 5, 7]].compute()
    assert isinstance(got, np.ndarray) and got.shape == (3, 4, 4)
    np.testing.assert_array_equal(got, np.stack([img(1), img(5), img(7)]))
    np.testing.assert_array_equal(ds["label", np.array([4, 2])].compute(), [4, 2])
    np.testing.assert_array_equal(ds["image", np.int64(6)].compute(), img(6))
    assert ds[np.int32(6)]["label"].compute() == 6
    assert ds[[2, 9]]["text"].compute() == ["sample 2 ✓", "sample 9 ✓"]


def test_subscripts_inside_a_sample(ds):
    np.testing.assert_array_equal(ds["image", 5, 0].compute(), img(5)[0])
    np.testing.assert_array_equal(ds["image", 2:4, 1:3].compute(), np.stack([img(2), img(3)])[:, 1:3])


def test_len_iteration_keys_shape(ds):
    assert len(ds) == N and ds.shape == (N,)
    assert ds.keys() == ["image", "label", "a/b", "dyn", "text"]
    assert [s["label"].compute() for s in ds] == list(range(N))
    view = ds[3:15]
    assert len(view) == 12 and view.shape == (12,)
    assert [s["a/b"].compute() for s in view] == list(range(103, 115))
    assert view.keys() == ds.keys()
    assert len(ds["image", 2:5]) == 3
    assert ds["image", 2:5].shape == (3, 4, 4)
    assert ds["image", 2].shape == (4, 4)
    assert ds["dyn", 7].shape == dyn(7).shape
    assert ds["label", 0:4].shape == (4,)
    assert [t.compute() for t in ds["label", 0:3]] == [0, 1, 2]
    assert len(ds[[1, 2, 3]]) == 3 and len(ds[::2]) == N // 2


def test_out_of_range_and_unknown_tensor_name_them(ds):
    with pytest.raises(IndexOutOfRangeError) as err:
        ds["image", N]
    assert "'image'" in str(err.value) and str(N) in str(err.value)
    assert isinstance(err.value, IndexError)
    with pytest.raises(IndexOutOfRangeError) as err:
        ds["label", -N - 1]
    assert "'label'" in str(err.value)
    with pytest.raises(IndexError):
        ds[N]
    with pytest.raises(IndexError):
        ds[2:5][3]
    with pytest.raises(IndexOutOfRangeError) as err:
        ds["label", [1, N + 4]]
    assert str(N + 4) in str(err.value)
    with pytest.raises(TensorNotFoundError) as err:
        ds["nope", 0]
    assert "nope" in str(err.value) and isinstance(err.value, KeyError)
    with pytest.raises(TensorNotFoundError):
        ds[0]["nope"]
    with pytest.raises(IndexOutOfRangeError) as err:
        ds["image", N] = img(0)
    assert "'image'" in str(err.value)


# -- assignment with the same subscripts ---------------------------------------------------------
def test_assign_one_and_a_slice(ds, reopen):
    ds["image", 5] = img(50)
    ds["image", 6:9] = np.stack([img(60), img(70), img(80)])
    ds["label", 10:13] = [1, 2, 3]
    ds["dyn", 0:2] = [np.arange(7), np.arange(1)]
    ds["text", 0:2] = ["zero", "один"]
    for d in (ds, reopen(ds, mode="r")):
        np.testing.assert_array_equal(d["image", 5].compute(), img(50))
        np.testing.assert_array_equal(d["image", 6:9].compute(), np.stack([img(60), img(70), img(80)]))
        np.testing.assert_array_equal(d["label", 9:14].compute(), [9, 1, 2, 3, 13])
        np.testing.assert_array_equal(d["dyn", 0].compute(), np.arange(7))
        assert d["text", 0:3].compute() == ["zero", "один", "sample 2 ✓"]
        np.testing.assert_array_equal(d["image", 4].compute(), img(4))


def test_assign_through_views(ds, reopen):
    ds[5]["image"] = img(55)
    ds[3:15][4:9]["image", 1] = img(88)
    ds[3:15][4:9]["label", 0:2] = [17, 18]
    ds["a/b", 3] = -3
    ds["a", 4]["b"] = -4
    ds[-1]["label"] = 0
    ds["image", -2] = img(99)
    ds["label", [2, 0]] = [12, 10]
    ds[11] = {"label": 1, "a": {"b": 7}, "text": "eleven"}
    ds[0:2] = {"a/b": [1000, 1001]}
    for d in (ds, reopen(ds, mode="r")):
        np.testing.assert_array_equal(d["image", 5].compute(), img(55))
        np.testing.assert_array_equal(d["image", 8].compute(), img(88))
        np.testing.assert_array_equal(d["label", 7:9].compute(), [17, 18])
        assert d["a/b", 3].compute() == -3 and d["a/b", 4].compute() == -4
        assert d["label", N - 1].compute() == 0
        np.testing.assert_array_equal(d["image", N - 2].compute(), img(99))
        assert d["label", 0].compute() == 10 and d["label", 2].compute() == 12
        assert d[11].compute()["text"] == "eleven" and d["a/b", 11].compute() == 7 and d["label", 11].compute() == 1
        np.testing.assert_array_equal(d["a/b", 0:2].compute(), [1000, 1001])
        np.testing.assert_array_equal(d["image", 9].compute(), img(9))


def test_assign_wrong_number_of_values_names_tensor_and_changes_nothing(ds):
    with pytest.raises(SampleError) as err:
        ds["label", 0:3] = [1, 2]
    assert "'label'" in str(err.value) and "0:3" in str(err.value)
    with pytest.raises(SampleError) as err:
        ds[0:3] = {"label": [1, 2, 3], "a/b": [1]}
    assert "'a/b'" in str(err.value)
    np.testing.assert_array_equal(ds["label", 0:3].compute(), [0, 1, 2])
    np.testing.assert_array_equal(ds["a/b", 0:3].compute(), [100, 101, 102])


def test_assign_to_a_part_of_a_sample(ds, reopen):
    ds["image", 5, 0] = np.zeros(4, "uint8")
    ds["image", 6, 1:3, 2] = 200
    ds["dyn", 4][0] = -1
    expect5, expect6, expect_dyn = img(5), img(6), dyn(4)
    expect5[0] = 0
    expect6[1:3, 2] = 200
    expect_dyn[0] = -1
    for d in (ds, reopen(ds, mode="r")):
        np.testing.assert_array_equal(d["image", 5].compute(), expect5)
        np.testing.assert_array_equal(d["image", 6].compute(), expect6)
        np.testing.assert_array_equal(d["dyn", 4].compute(), expect_dyn)
        np.testing.assert_array_equal(d["image", 6, 1:3].compute(), expect6[1:3])


def test_a_bad_part_of_a_sample_changes_nothing(ds):
    with pytest.raises(SampleError) as err:
        ds["image", 5, 0] = 300
    assert "'image'" in str(err.value) and "index 5" in str(err.value) and "300" in str(err.value)
    with pytest.raises(SampleError):
        ds["image", 5, 0] = np.zeros(7, "uint8")  # does not fit the row
    with pytest.raises(SampleError):
        ds["text", 1, 0] = "x"
    np.testing.assert_array_equal(ds["image", 5].compute(), img(5))


def test_boolean_masks_and_reversed_slices(ds):
    mask = np.zeros(N, bool)
    mask[[1, 4, 9]] = True
    np.testing.assert_array_equal(ds["label", mask].compute(), [1, 4, 9])
    assert ds[mask]["text"].compute() == ["sample 1 ✓", "sample 4 ✓", "sample 9 ✓"]
    np.testing.assert_array_equal(ds["label", ::-1].compute(), np.arange(N)[::-1])
    np.testing.assert_array_equal(ds["label", 18:12:-2].compute(), [18, 16, 14])
    with pytest.raises(IndexError):
        ds["label", np.ones(N + 1, bool)]
    ds["label", mask] = [0, 0, 0]
    np.testing.assert_array_equal(ds["label", 0:10].compute(), [0, 0, 2, 3, 0, 5, 6, 7, 8, 0])


def test_whole_tensor_and_whole_dataset(ds, reopen):
    np.testing.assert_array_equal(ds["label"].compute(), np.arange(N))
    np.testing.assert_array_equal(ds["image"][5].compute(), img(5))
    np.testing.assert_array_equal(ds["label"][2:5].compute(), [2, 3, 4])
    assert len(ds["label"]) == N
    ds["label"] = np.arange(N)[::-1]
    ds["a", 2] = {"b": -2}
    everything = reopen(ds, mode="r").compute()
    assert len(everything) == N
    assert [s["label"] for s in everything] == list(range(N))[::-1]
    assert everything[2]["a"]["b"] == -2 and everything[0]["text"] == "sample 0 ✓"


OUT_OF_RANGE = [
    pytest.param(lambda ds: ds["label", N + 5], N + 5, id="tensor-int"),
    pytest.param(lambda ds: ds["label"][N + 5], N + 5, id="tensor-then-int"),
    pytest.param(lambda ds: ds.__setitem__(("label", N + 5), 1), N + 5, id="assign-int"),
    pytest.param(lambda ds: ds["label", -N - 1], -N - 1, id="tensor-negative"),
    pytest.param(lambda ds: ds.has_value("label", -N - 1), -N - 1, id="has-value-negative"),
    pytest.param(lambda ds: ds["label", [0, N + 5]], N + 5, id="tensor-list"),
    pytest.param(lambda ds: ds[3:5]["label", 2], 2, id="view-then-tensor"),
    pytest.param(lambda ds: ds.__setitem__(("label", [0, N + 5]), [1, 2]), N + 5, id="assign-list"),
]


@pytest.mark.parametrize("op,index", OUT_OF_RANGE)
def test_out_of_range_messages_name_tensor_and_index(ds, op, index):
    with pytest.raises(IndexOutOfRangeError) as err:
        op(ds)
    assert "'label'" in str(err.value) and str(index) in str(err.value), str(err.value)
