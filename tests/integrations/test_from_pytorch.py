"""from_pytorch: a real torch Dataset (map-style and iterable) -> a stored dataset. torch only in this file."""
from __future__ import annotations

import numpy as np
import pytest

import hubfs
from hubfs.errors import SampleError
from hubfs.schema import Tensor, Text

torch = pytest.importorskip("torch")


class Squares(torch.utils.data.Dataset):
    """Sample i: a vector of i + 1 values i, a nested scalar and a name. Like many torch datasets it raises
    no IndexError past its length (Python's fallback iteration over __getitem__ would never stop), so
    reading past it fails here, at once."""

    def __len__(self):
        return 6

    def __getitem__(self, i):
        assert i < 6, f"read past the length: {i}"
        return {"x": torch.full((i + 1,), i), "y": {"z": torch.tensor(float(i))}, "name": f"s{i}"}


class Counter(torch.utils.data.IterableDataset):
    """An iterable dataset that knows its length (so only its __iter__ reads it)."""

    def __iter__(self):
        return iter(torch.arange(5, dtype=torch.int16))

    def __len__(self):
        return 5


def test_from_pytorch_map_style_nested_and_dynamic(tmp_path):
    ds = hubfs.Dataset.from_pytorch(Squares()).store(str(tmp_path / "out"))
    assert len(ds) == 6
    assert ds.schema["x"].shape == (None,) and ds.schema["x"].max_shape == (6,)
    assert ds["x", 3].compute().tolist() == [3, 3, 3, 3]
    assert ds["x", 0].compute().dtype == np.int64
    assert isinstance(ds.schema["y"]["z"], Tensor) and ds["y/z", 5].compute() == 5.0
    assert isinstance(ds.schema["name"], Text) and ds["name", 2].compute() == "s2"


def test_from_pytorch_iterable_and_processed_scheduler(tmp_path):
    t = hubfs.Dataset.from_pytorch(Counter(), scheduler="processed", workers=2)
    ds = t.store(str(tmp_path / "out"), sample_per_shard=2)
    assert ds["data"].compute().tolist() == [0, 1, 2, 3, 4] and ds["data"].compute().dtype == np.int16


def test_from_pytorch_tuples_are_numbered(tmp_path):
    pairs = torch.utils.data.TensorDataset(torch.arange(4).reshape(4, 1).float(), torch.arange(4))
    ds = hubfs.Dataset.from_pytorch(pairs).store(str(tmp_path / "out"))
    assert sorted(ds.keys()) == ["data_0", "data_1"]
    assert ds["data_0", 3].compute().tolist() == [3.0] and ds["data_1"].compute().tolist() == [0, 1, 2, 3]


def test_round_trip_through_to_pytorch(tmp_path):
    src = hubfs.Dataset.from_pytorch(Squares()).store(str(tmp_path / "a"))
    back = hubfs.Dataset.from_pytorch(src.to_pytorch()).store(str(tmp_path / "b"))
    for i in range(6):
        assert back["x", i].compute().tolist() == src["x", i].compute().tolist()
        assert back["name", i].compute() == src["name", i].compute()


def test_a_sample_that_does_not_fit_names_tensor_and_index(tmp_path):
    t = hubfs.Dataset.from_pytorch(Squares())
    t.schema = {"x": Tensor((None,), "int64", max_shape=(3,)), "y": {"z": Tensor((), "float32")},
                "name": Text((None,), max_shape=(5,))}
    with pytest.raises(SampleError, match=r"'x'.*source sample 3"):
        t.store(str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
