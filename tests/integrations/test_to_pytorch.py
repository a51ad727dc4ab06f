"""to_pytorch in real DataLoaders with worker processes. torch only in this file."""
from __future__ import annotations

import pytest

from feed_helpers import N  # the ``ds`` fixture (conftest.py) holds N samples

torch = pytest.importorskip("torch")


def test_dataloader_with_worker_processes_reads_every_sample_once_in_order(ds):
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


