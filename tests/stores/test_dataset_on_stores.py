"""One suite of dataset behaviours, run on every store: memory, local, S3 (moto, rclone), GCS, Azure.

Each test gets a fresh url (``store_url``): create, write, flush, reopen, grow, add tensors, dynamic
shapes, modes, overwrite, delete, copy, and zarr-python reading what the engine wrote.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import hubfs
from hubfs.dataset.stores import filesystem_for
from hubfs.errors import DatasetNotFoundError, ReadOnlyError
from hubfs.schema import ClassLabel, Image, Primitive, Tensor, Text


def schema():
    return {"image": Image((28, 28)), "label": ClassLabel(num_classes=10)}


def image(i: int) -> np.ndarray:
    return (np.arange(28 * 28, dtype="uint16").reshape(28, 28) * (i + 1) % 251).astype("uint8")


@pytest.fixture
def opened():
    """``opened(url, token, **kwargs)`` opens a dataset, closed at teardown even when a test fails."""
    datasets: list[hubfs.Dataset] = []

    def _open(url, token, **kwargs):
        ds = hubfs.Dataset(url, token=token, **kwargs)
        datasets.append(ds)
        return ds

    yield _open
    for ds in reversed(datasets):
        try:
            ds.close()
        except Exception:
            pass


def make(opened, url, token, n=12):
    ds = opened(url, token, shape=(n,), schema=schema())
    for i in range(n):
        ds["image", i] = image(i)
        ds["label", i] = i % 10
    return ds


def test_create_write_flush_reopen(store_url, opened):
    url, token = store_url
    ds = make(opened, url, token)
    ds.flush()
    ds.close()
    ds = opened(url, token, mode="r")
    assert len(ds) == 12 and ds.keys() == ["image", "label"]
    for i in range(12):
        np.testing.assert_array_equal(ds["image", i].compute(), image(i))
    assert list(ds["label", 0:12].compute()) == [i % 10 for i in range(12)]
    np.testing.assert_array_equal(ds["image", 3:6].compute(), np.stack([image(i) for i in range(3, 6)]))


def test_iterating_in_order_reads_every_sample(store_url, opened):
    url, token = store_url
    make(opened, url, token, n=30).close()
    ds = opened(url, token, mode="r", cache=1 << 14)  # a small cache: the scan goes to the store
    seen = [(int(sample["label"].compute()), sample["image"].compute()) for sample in ds]
    assert [label for label, _ in seen] == [i % 10 for i in range(30)]
    for i, (_, img) in enumerate(seen):
        np.testing.assert_array_equal(img, image(i))


def test_flushed_samples_are_visible_to_a_second_reader(store_url, opened):
    url, token = store_url
    ds = make(opened, url, token)
    ds.flush()
    reader = opened(url, token, mode="r")
    np.testing.assert_array_equal(reader["image", 11].compute(), image(11))
    assert reader["label", 11].compute() == 1


def test_grow_with_append_shape_resize_append_and_extend(store_url, opened):
    url, token = store_url
    ds = make(opened, url, token, n=4)
    ds.flush()
    ds.append_shape(2)
    ds["label", 5] = 9
    ds.resize_shape(8)
    ds.append({"image": image(8), "label": 8})
    ds.extend([{"image": image(9), "label": 1}, {"label": 2}])
    ds.close()
    ds = opened(url, token, mode="r")
    assert len(ds) == 11
    assert [int(ds["label", i].compute()) for i in (5, 8, 9, 10)] == [9, 8, 1, 2]
    np.testing.assert_array_equal(ds["image", 9].compute(), image(9))
    np.testing.assert_array_equal(ds["image", 4].compute(), np.zeros((28, 28), "uint8"))


def test_shrink_then_reopen(store_url, opened):
    url, token = store_url
    ds = make(opened, url, token, n=10)
    ds.flush()
    ds.resize_shape(3)
    ds.close()
    ds = opened(url, token, mode="r")
    assert len(ds) == 3
    np.testing.assert_array_equal(ds["image", 2].compute(), image(2))


def test_add_tensor_on_an_existing_dataset(store_url, opened):
    url, token = store_url
    make(opened, url, token, n=5).close()
    ds = opened(url, token, mode="r+")
    ds.add_tensor("caption", Text(shape=(None,), max_shape=(64,)))
    ds.add_tensor("meta", {"score": Primitive("float32")})
    ds["caption", 2] = "ein Bild — ünïcode ✓"
    ds["meta/score", 4] = 0.5
    ds.close()
    ds = opened(url, token, mode="r")
    assert set(ds.keys()) == {"image", "label", "caption", "meta/score"}
    assert ds["caption", 2].compute() == "ein Bild — ünïcode ✓"
    assert not ds.has_value("caption", 0)
    assert float(ds["meta/score", 4].compute()) == 0.5
    np.testing.assert_array_equal(ds["image", 4].compute(), image(4))


def test_dynamic_shapes_grow_and_shrink(store_url, opened):
    url, token = store_url
    ds = opened(url, token, shape=(3,), schema={"img": Image(shape=(None, None), max_shape=(64, 64))})
    ds["img", 0] = np.full((10, 20), 7, "uint8")
    ds["img", 1] = np.full((64, 64), 9, "uint8")
    ds.flush()
    ds["img", 1] = np.full((5, 5), 3, "uint8")  # smaller than before
    ds.close()
    ds = opened(url, token, mode="r")
    assert ds["img", 0].compute().shape == (10, 20)
    np.testing.assert_array_equal(ds["img", 1].compute(), np.full((5, 5), 3, "uint8"))


def test_chunked_numeric_tensor_over_many_samples(store_url, opened):
    url, token = store_url
    ds = opened(url, token, shape=(300,), schema={"x": Tensor((4,), dtype="float32")})
    data = np.arange(1200, dtype="float32").reshape(300, 4)
    ds["x", 0:300] = data
    ds.close()
    ds = opened(url, token, mode="r")
    np.testing.assert_array_equal(ds["x", 0:300].compute(), data)
    np.testing.assert_array_equal(ds["x", 257].compute(), data[257])


def test_read_only_and_missing(store_url, opened):
    url, token = store_url
    with pytest.raises(DatasetNotFoundError):
        hubfs.Dataset(url, mode="r", token=token)
    make(opened, url, token, n=2).close()
    ds = opened(url, token, mode="r")
    with pytest.raises(ReadOnlyError):
        ds["label", 0] = 1


def test_overwrite_with_mode_w(store_url, opened):
    url, token = store_url
    make(opened, url, token, n=6).close()
    ds = opened(url, token, mode="w", shape=(2,), schema={"t": Text(shape=(None,), max_shape=(10,))})
    ds["t", 1] = "new"
    ds.close()
    ds = opened(url, token, mode="r")
    assert len(ds) == 2 and ds.keys() == ["t"] and ds["t", 1].compute() == "new"


def test_stored_png_bytes_are_served_as_stored(store_url, opened):
    url, token = store_url
    ds = opened(url, token, mode="w", shape=(3,), schema={"image": Image((28, 28), compressor="png")})
    for i in range(3):
        ds["image", i] = image(i)
    ds.flush()
    png = ds.read_stored("image", 1)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    ds.write_stored("image", 2, png)
    ds.close()
    ds = opened(url, token, mode="r")
    np.testing.assert_array_equal(ds["image", 2].compute(), image(1))


def test_copy_between_stores_and_delete(store_url, opened, tmp_path):
    url, token = store_url
    src = make(opened, url, token, n=4)
    src.flush()
    out = src.store(str(tmp_path / "stored"))
    np.testing.assert_array_equal(out["image", 3].compute(), image(3))
    out.close()
    src.delete()
    fs, root = filesystem_for(url, token)
    assert [p for p in fs.find(root)] == []
    with pytest.raises(DatasetNotFoundError):
        hubfs.Dataset(url, mode="r", token=token)


def test_zarr_python_reads_what_the_engine_wrote(store_url, opened):
    url, token = store_url
    make(opened, url, token, n=5).close()
    import zarr
    from zarr.storage import FsspecStore

    fs, root = filesystem_for(url, token)
    if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)) or url.startswith("memory"):
        group = zarr.open_group(url if "://" in url else root, mode="r")
    else:
        from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

        # the sync file system hubfs uses, so no second client (and no unclosed session) is made
        group = zarr.open_group(FsspecStore(AsyncFileSystemWrapper(fs, asynchronous=True), path=root, read_only=True), mode="r")
    attrs = group.attrs.asdict()["hubfs"]
    assert attrs["length"] == 5
    assert {"image", "label"} <= set(dict(group.members(max_depth=0)))
    assert json.dumps(attrs)  # plain JSON
    assert group["label/data"][0:5].tolist() == [0, 1, 2, 3, 4]  # zarr reads the engine's chunks


REWRITE_IN_ANOTHER_PROCESS = """
import json, sys
import numpy as np
import hubfs
url, token = json.loads(sys.argv[1])
with hubfs.Dataset(url, mode="r+", token=token) as ds:
    ds["image", 0] = np.full((40, 30), 201, "uint8")   # another size: the shard changes length
"""


def test_a_reader_sees_what_another_process_wrote(store_url):
    """Nothing this process cached about the store (listings, sizes) hides another process's writes."""
    import subprocess
    import sys

    url, token = store_url
    if url.startswith("memory://"):
        pytest.skip("memory:// lives in one process")
    with hubfs.Dataset(url, shape=(3,), schema={"image": Image((None, None), max_shape=(64, 64))}, token=token) as ds:
        for i in range(3):
            ds["image", i] = np.full((10, 10), 80 + i, "uint8")
    with hubfs.Dataset(url, mode="r", token=token) as ds:  # this process has now listed and read the store
        assert ds["image", 0].compute()[0, 0] == 80
    out = subprocess.run([sys.executable, "-c", REWRITE_IN_ANOTHER_PROCESS, json.dumps([url, token])],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    with hubfs.Dataset(url, mode="r", token=token) as ds:
        np.testing.assert_array_equal(ds["image", 0].compute(), np.full((40, 30), 201))
        np.testing.assert_array_equal(ds["image", 2].compute(), np.full((10, 10), 82))
