"""from_tensorflow: a real tf.data.Dataset -> a stored dataset. TensorFlow only in this file."""
from __future__ import annotations

import numpy as np
import pytest

import hubfs
from hubfs.schema import Text

tf = pytest.importorskip("tensorflow")


def test_from_tensorflow_dicts(tmp_path):
    src = tf.data.Dataset.from_tensor_slices({"a": [1, 2, 3], "b": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
                                              "nested": {"s": ["x", "yy", "zzz"]}})
    ds = hubfs.Dataset.from_tensorflow(src).store(str(tmp_path / "out"))
    assert ds["a"].compute().tolist() == [1, 2, 3] and ds["a"].compute().dtype == np.int32
    assert ds.schema["b"].shape == (2,) and ds["b", 2].compute().tolist() == [5.0, 6.0]
    assert isinstance(ds.schema["nested"]["s"], Text) and ds["nested/s", 2].compute() == "zzz"


def test_from_tensorflow_plain_tensors_ragged_shapes_and_threads(tmp_path):
    plain = hubfs.Dataset.from_tensorflow(tf.data.Dataset.range(4), scheduler="threaded", workers=2)
    assert plain.store(str(tmp_path / "plain"), sample_per_shard=1)["data"].compute().tolist() == [0, 1, 2, 3]
    ragged = tf.data.Dataset.range(1, 4).map(lambda n: tf.ones((n, 2), tf.uint8))
    ds = hubfs.Dataset.from_tensorflow(ragged).store(str(tmp_path / "ragged"))
    assert ds.schema["data"].shape == (None, 2) and ds.schema["data"].max_shape == (3, 2)
    assert [ds["data", i].compute().shape for i in range(3)] == [(1, 2), (2, 2), (3, 2)]


def test_round_trip_through_to_tensorflow(tmp_path):
    src = tf.data.Dataset.from_tensor_slices({"b": np.arange(12, dtype=np.float32).reshape(6, 2)})
    ds = hubfs.Dataset.from_tensorflow(src).store(str(tmp_path / "out"))
    back = hubfs.Dataset.from_tensorflow(ds.to_tensorflow()).store(str(tmp_path / "back"))
    assert back["b"].compute().tolist() == ds["b"].compute().tolist()
