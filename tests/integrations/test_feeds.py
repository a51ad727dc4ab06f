"""to_pytorch in real DataLoaders with worker processes, and to_tensorflow."""
from __future__ import annotations

import numpy as np
import pytest

import hubfs
from hubfs.schema import ClassLabel, Image, Tensor, Text

SCHEMA = {"image": Image((4, 4, 1), "uint8"), "label": ClassLabel(num_classes=10), "meta": {"id": Tensor((), "uint16")},
          "name": Text((None,), max_shape=(10,))}
N = 300


@pytest.fixture
def ds(tmp_path):
    ds = hubfs.Dataset(str(tmp_path / "ds"), mode="w", shape=(N,), schema=SCHEMA)
    ds["image"] = (np.arange(N * 16) % 251).astype("uint8").reshape(N, 4, 4, 1)
    ds["label"] = np.arange(N) % 10
    ds["meta/id"] = np.arange(N).astype("uint16")
    for i in range(N):
        ds["name", i] = f"n{i}"
    ds.flush()
    return ds


def test_dataloader_with_worker_processes_reads_every_sample_once_in_order(ds):
    torch = pytest.importorskip("torch")
    feed = ds.to_pytorch()
    loader = torch.utils.data.DataLoader(feed, batch_size=32, num_workers=2)
    ids, names = [], []
    for batch in loader:
        assert batch["image"].dtype == torch.uint8 and batch["image"].shape[1:] == (4, 4, 1)
        assert batch["meta"]["id"].dtype == torch.int32  # uint16 widened, as Hub did
        assert (batch["label"] == batch["meta"]["id"] % 10).all()
        ids.extend(batch["meta"]["id"].tolist())
        names.extend(batch["name"])
    assert ids == list(range(N))
    assert names == [f"n{i}" for i in range(N)]
    assert feed[7]["image"].numpy().tolist() == ds["image", 7].compute().tolist()


def test_to_pytorch_arguments(ds):
    torch = pytest.importorskip("torch")
    feed = ds.to_pytorch(output_type=tuple, key_list=["/label", "meta/id"], indexes=[5, 6, 9],
                         transform=lambda s: {"label": s["label"] * 2, "meta": s["meta"]})
    assert len(feed) == 3
    label, meta = feed[2]
    assert label.item() == 18 and meta["id"].item() == 9
    view_feed = ds[100:110].to_pytorch(key_list=["label"], inplace=False)
    batch = next(iter(torch.utils.data.DataLoader(view_feed, batch_size=10, num_workers=1)))
    assert batch["label"].tolist() == [i % 10 for i in range(100, 110)]
    with pytest.raises(KeyError):
        ds.to_pytorch(key_list=["nope"])


def test_to_tensorflow(ds):
    tf = pytest.importorskip("tensorflow")
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
