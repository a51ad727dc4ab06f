"""to_tensorflow. TensorFlow only in this file."""
from __future__ import annotations

import pytest

from feed_helpers import N  # the ``ds`` fixture (conftest.py) holds N samples

tf = pytest.importorskip("tensorflow")


def test_to_tensorflow(ds):
    tds = ds.to_tensorflow()
    items = list(tds.as_numpy_iterator())
    assert len(items) == N
    assert items[3]["label"] == 3 and items[3]["meta"]["id"] == 3 and items[3]["name"] == b"n3"
    assert (items[299]["image"] == ds["image", 299].compute()).all()
    shaped = ds[10:20].to_tensorflow(include_shapes=True, key_list=["image"])
    assert shaped.element_spec["image"].shape == (4, 4, 1)
    batch = next(iter(shaped.batch(10)))
    assert tuple(batch["image"].shape) == (10, 4, 4, 1)
    assert tf.reduce_all(batch["image"][0] == ds["image", 10].compute())
