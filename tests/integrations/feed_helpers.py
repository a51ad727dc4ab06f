"""The dataset the feed tests read (to_pytorch, to_tensorflow): images, labels, a nested uint16 id, names."""
from __future__ import annotations

import numpy as np

import hubfs
from hubfs.schema import ClassLabel, Image, Tensor, Text

SCHEMA = {"image": Image((4, 4, 1), "uint8"), "label": ClassLabel(num_classes=10), "meta": {"id": Tensor((), "uint16")},
          "name": Text((None,), max_shape=(10,))}
N = 300



def feed_dataset(path: str) -> hubfs.Dataset:
    ds = hubfs.Dataset(path, mode="w", shape=(N,), schema=SCHEMA)
    ds["image"] = (np.arange(N * 16) % 251).astype("uint8").reshape(N, 4, 4, 1)
    ds["label"] = np.arange(N) % 10
    ds["meta/id"] = np.arange(N).astype("uint16")
    for i in range(N):
        ds["name", i] = f"n{i}"
    ds.flush()
    return ds
