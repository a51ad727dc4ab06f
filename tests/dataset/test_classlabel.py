"""ClassLabel: ints or names in, ints or names out, and out-of-range labels named precisely."""
from __future__ import annotations

import numpy as np
import pytest

from hubfs.errors import ClassLabelValueError, SampleError
from hubfs.schema import ClassLabel, Primitive

NAMES = ["cat", "dog", "emu", "gnu"]


@pytest.fixture
def ds(url, open_ds):
    return open_ds(url, shape=(6,), schema={"label": ClassLabel(names=NAMES), "n": ClassLabel(num_classes=10),
                                            "p": Primitive()})


def test_write_ints_or_names(ds, reopen):
    ds["label", 0] = "dog"
    ds["label", 1] = 3
    ds["label", 2] = np.int64(2)
    ds["label", 3:5] = ["cat", 1]
    ds["label", 5] = np.array("gnu")
    for d in (ds, reopen(ds, mode="r")):
        np.testing.assert_array_equal(d["label", 0:6].compute(), [1, 3, 2, 0, 1, 3])
        assert d["label", 0].compute() == 1


def test_compute_label_name(ds, reopen):
    ds["label", 0:4] = ["gnu", "emu", "dog", "cat"]
    ds["n", 0] = 7
    for d in (ds, reopen(ds, mode="r")):
        assert d["label", 0].compute(label_name=True) == "gnu"
        assert d["label", 0:4].compute(label_name=True) == ["gnu", "emu", "dog", "cat"]
        assert d["label", [3, 0]].compute(label_name=True) == ["cat", "gnu"]
        assert d[1]["label"].compute(label_name=True) == "emu"
        assert d["n", 0].compute(label_name=True) == "7"  # no names: the number as a name


def test_sample_compute_label_name_converts_only_class_labels(ds, reopen):
    ds["label", 0] = "gnu"
    ds["n", 0] = 7
    ds["p", 0] = 42
    for d in (ds, reopen(ds, mode="r")):
        sample = d[0].compute(label_name=True)
        assert sample["label"] == "gnu" and sample["n"] == "7" and sample["p"] == 42
        assert [s["label"] for s in d[0:2].compute(label_name=True)] == ["gnu", "cat"]


def test_label_name_on_another_type_is_ignored(ds):
    ds["p", 0] = 42
    assert ds["p", 0].compute(label_name=True) == 42  # Hub ignores label_name on other tensors


@pytest.mark.parametrize("key,value,words", [
    ("n", 10, ["0..9", "10"]),
    ("n", -1, ["0..9", "-1"]),
    ("label", 4, ["0..3", "cat"]),
    ("label", "zebra", ["zebra", "0..3", "dog"]),
    ("label", -2, ["0..3"]),
])
def test_out_of_range_names_range_tensor_and_index(ds, reopen, key, value, words):
    ds[key, 3] = 1
    with pytest.raises(ClassLabelValueError) as err:
        ds[key, 3] = value
    message = str(err.value)
    assert f"tensor {key!r}" in message and "index 3" in message, message
    for word in words:
        assert word in message, message
    assert isinstance(err.value, SampleError) and isinstance(err.value, ValueError)
    assert reopen(ds, mode="r")[key, 3].compute() == 1


def test_out_of_range_in_a_batch_changes_nothing(ds, reopen):
    ds["n", 0:3] = [1, 2, 3]
    with pytest.raises(ClassLabelValueError) as err:
        ds["n", 0:3] = [4, 5, 11]
    assert "index 2" in str(err.value)
    with pytest.raises(ClassLabelValueError):
        ds.append({"n": 12})
    assert len(ds) == 6
    np.testing.assert_array_equal(reopen(ds, mode="r")["n", 0:3].compute(), [1, 2, 3])


@pytest.mark.parametrize("value", [2.5, "3", True, None, [1]])
def test_non_label_values_are_errors(ds, value):
    with pytest.raises(ClassLabelValueError) as err:
        ds["n", 4] = value
    assert "tensor 'n', index 4" in str(err.value)
    assert not ds.has_value("n", 4)
