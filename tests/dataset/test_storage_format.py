"""The bytes on disk are standard zarr v3: plain zarr-python reads what the engine wrote (local stores)."""
from __future__ import annotations

import io
import struct
import json

import numpy as np
import pytest
import zarr

from hubfs.codecs import decode_sample
from PIL import Image as PILImage

from hubfs.schema import ClassLabel, Image, Primitive, Tensor, Text

N = 40


def img(i):
    rng = np.random.default_rng(i)
    return rng.integers(0, 255, (6, 7, 3), dtype="uint8")


@pytest.fixture
def path(local_url, open_ds):
    ds = open_ds(local_url, shape=(N,), schema={
        "image": Image((6, 7, 3)),  # small and fixed: lz4 chunks by default
        "pimage": Image((6, 7, 3), compressor="png"),
        "gray": Image((None, None), max_shape=(9, 9)),
        "label": ClassLabel(num_classes=10),
        "vec": Tensor((3,), "float32", compressor="zstd"),
        "raw": Tensor((2,), "int16", compressor=None),
        "dyn": Tensor((None, 2), "int32", max_shape=(5, 2)),
        "nested": {"x": Primitive("uint16"), "t": Text(compressor=None)},
    }, meta_information={"k": "v"})
    for i in range(N):
        ds["image", i] = img(i)
        ds["pimage", i] = img(i)
        ds["gray", i] = np.full((i % 9 + 1, 3), i, "uint8")
        ds["label", i] = i % 10
        ds["vec", i] = np.array([i, i / 2, -i], "float32")
        ds["raw", i] = [i, -i]
        ds["dyn", i] = np.full((i % 5 + 1, 2), i, "int32")
        ds["nested/x", i] = 1000 + i
    ds["nested/t", 3] = "drei ✓"
    ds.close()
    return local_url


def test_one_member_per_tensor_and_attributes(path):
    g = zarr.open_group(path, mode="r")
    assert sorted(name for name, _ in g.members()) == ["dyn", "gray", "image", "label", "nested", "pimage", "raw", "vec"]
    assert sorted(name for name, _ in g["nested"].members()) == ["t", "x"]
    attrs = g.attrs["hubfs"]
    assert attrs["length"] == N
    assert set(attrs["schema"]) == {"image", "pimage", "gray", "label", "vec", "raw", "dyn", "nested/x", "nested/t"}
    assert attrs["meta_information"] == {"k": "v"}


def test_zarr_reads_chunked_tensors(path):
    g = zarr.open_group(path, mode="r")
    label = g["label/data"]
    assert label.shape == (N,)
    np.testing.assert_array_equal(label[:], np.arange(N) % 10)
    np.testing.assert_array_equal(g["vec/data"][:], np.array([[i, i / 2, -i] for i in range(N)], "float32"))
    np.testing.assert_array_equal(g["raw/data"][:], np.array([[i, -i] for i in range(N)], "int16"))
    np.testing.assert_array_equal(g["nested/x/data"][:], 1000 + np.arange(N))
    np.testing.assert_array_equal(g["label/present"][:], np.ones(N))


def test_zarr_reads_default_images_as_chunked_pixels(path):
    g = zarr.open_group(path, mode="r")
    assert g["image/data"].shape == (N, 6, 7, 3)
    np.testing.assert_array_equal(g["image/data"][:], np.stack([img(i) for i in range(N)]))


def test_zarr_reads_png_bytes_of_images(path):
    g = zarr.open_group(path, mode="r")
    arr = g["pimage/data"]
    assert arr.shape == (N,)
    for i in (0, 1, 17, N - 1):
        data = arr[i:i + 1][0]
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        np.testing.assert_array_equal(np.asarray(PILImage.open(io.BytesIO(data))), img(i))
    gray = g["gray/data"]
    for i in (0, 8, 9, 39):  # a dynamic image's shape is its PNG's own
        data = gray[i:i + 1][0]
        np.testing.assert_array_equal(np.asarray(PILImage.open(io.BytesIO(data))), np.full((i % 9 + 1, 3), i))


def test_zarr_reads_dynamic_shapes_and_text(path):
    """A dynamic numeric sample is one element: a rank-and-dims header, then its lz4-compressed bytes."""
    g = zarr.open_group(path, mode="r")
    for i in range(N):
        data = g["dyn/data"][i:i + 1][0]
        assert data[0] == 2 and struct.unpack_from("<2I", data, 1) == (i % 5 + 1, 2)
        assert decode_sample(data, "lz4", "int32", 2).shape == (i % 5 + 1, 2)
    assert g["nested/t/data"][3:4][0] == "drei ✓".encode("utf-8")
    assert g["nested/t/data"][4:5][0] in (b"", None, "")  # no value


def test_resize_updates_every_array_shape(path, open_ds):
    ds = open_ds(path, mode="r+")
    ds.resize_shape(N + 5)
    ds.close()
    g = zarr.open_group(path, mode="r")
    for key in ("image/data", "label/data", "label/present", "dyn/data", "nested/x/data"):
        assert g[key].shape[0] == N + 5, key
    np.testing.assert_array_equal(g["label/data"][:N], np.arange(N) % 10)
    ds = open_ds(path, mode="r+")
    ds.resize_shape(N - 10)
    ds.close()
    g = zarr.open_group(path, mode="r")
    assert g.attrs["hubfs"]["length"] == N - 10
    assert g["label/data"].shape == (N - 10,)
    np.testing.assert_array_equal(g["label/data"][:], np.arange(N - 10) % 10)


def test_every_metadata_document_is_zarr_v3(path):
    import pathlib

    docs = list(pathlib.Path(path).rglob("zarr.json"))
    assert len(docs) >= 1 + 8
    for doc in docs:
        meta = json.loads(doc.read_text())
        assert meta["zarr_format"] == 3 and meta["node_type"] in ("group", "array")
    assert not list(pathlib.Path(path).rglob("*.tmp"))


def test_the_present_mask_is_chunked_coarser_than_large_samples_and_old_masks_keep_theirs(tmp_path, monkeypatch):
    """A new chunked tensor records ``present_chunks`` (at least 4096 marks a chunk, so one-photo chunks do
    not get a mask object each); a schema without it (written before) reads its mask in data chunks."""
    import hubfs

    url = str(tmp_path / "ds")
    photos = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype="uint8")
    with hubfs.Dataset(url, mode="w", shape=(6,), schema={"image": Image((64, 64, 3), chunks=1)}) as ds:
        ds["image", 0:5] = photos[:5]
    g = zarr.open_group(url, mode="r")
    assert g["image/data"].chunks == (1, 64, 64, 3) and g["image/present"].chunks == (4096,)
    assert sorted((tmp_path / "ds" / "image" / "present" / "c").iterdir()) == [tmp_path / "ds" / "image" / "present" / "c" / "0"]
    assert g["image/present"][:].tolist() == [1, 1, 1, 1, 1, 0]

    # The same dataset as an older hubfs wrote it: a mask chunked like its data, no present_chunks.
    from hubfs.dataset import schema as schema_mod

    old = str(tmp_path / "old")
    monkeypatch.setattr(schema_mod, "PRESENT_CHUNK_SAMPLES", 1)
    with hubfs.Dataset(old, mode="w", shape=(6,), schema={"image": Image((64, 64, 3), chunks=1)}) as ds:
        ds["image", 0:5] = photos[:5]
    monkeypatch.undo()
    root = tmp_path / "old" / "zarr.json"
    doc = json.loads(root.read_text())
    del doc["attributes"]["hubfs"]["schema"]["image"]["present_chunks"]
    root.write_text(json.dumps(doc))
    with hubfs.Dataset(old, mode="a") as ds:
        assert [ds.has_value("image", i) for i in range(6)] == [True] * 5 + [False]
        ds["image", 5] = photos[5]
        np.testing.assert_array_equal(ds["image", 0:6].compute(), photos)
    g = zarr.open_group(old, mode="r")
    assert g["image/present"].chunks == (1,) and g["image/present"][:].tolist() == [1] * 6
