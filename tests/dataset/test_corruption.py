"""Corrupted stores: every read is the exact value written or a CorruptionError naming the tensor, the
sample or chunk and the object; corrupt metadata is one clear error; readers never write anything.

Bytes are flipped, and objects truncated, on a local folder with plain file I/O (not through the engine),
at seeded offsets of every stored chunk, shard and shard index of each layout.
"""
from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest
import zarr

import hubfs
from hubfs.dataset import arrays
from hubfs.errors import CorruptionError, NotADatasetError
from hubfs.schema import Audio, Image, Tensor, Text

N = 24
LAYOUTS = {  # tensor type, value of sample i
    "chunked": (Tensor((8,), "float32", chunks=8, compressor="lz4"),
                lambda i: np.linspace(i, i + 1, 8, dtype="float32")),
    "png": (Image((6, 7, 3), compressor="png", chunks=8),
            lambda i: np.random.default_rng(i).integers(0, 255, (6, 7, 3), dtype="uint8")),
    "text": (Text(max_shape=(60,), chunks=8), lambda i: f"sample {i} — ünïcode ✓" * (i % 2 + 1)),
    "audio": (Audio((None,), "int16", chunks=8),
              lambda i: np.random.default_rng(100 + i).integers(-3000, 3000, 50 + i, dtype="int16")),
}


def write(path: str, layout: str) -> None:
    t, value = LAYOUTS[layout]
    with hubfs.Dataset(path, mode="w", shape=(N,), schema={"x": t}) as ds:
        for i in range(N):
            if i != 5:  # one sample without a value
                ds["x", i] = value(i)


def same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return np.asarray(a).shape == np.asarray(b).shape and np.array_equal(a, b)


def read_all(path: str) -> list:
    """Every sample, read one at a time and as one range, each as its value or the CorruptionError."""
    out = []
    ds = hubfs.Dataset(path, mode="r")
    try:
        for i in range(N):
            try:
                out.append((ds.has_value("x", i), ds["x", i].compute()))
            except CorruptionError as exc:
                out.append(exc)
        try:
            out.append(("range", ds["x", 0:N].compute()))
        except CorruptionError as exc:
            out.append(exc)
    finally:
        ds.close()
    return out


def data_objects(path: str) -> list[str]:
    """Stored chunks and shards (not metadata, not the lock)."""
    found = []
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, path)
            if "/c/" in rel:
                found.append(rel)
    return sorted(found)


def snapshot(path: str) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                out[os.path.relpath(os.path.join(dirpath, name), path)] = f.read()
    return out


def check(path: str, good: list, what: str) -> int:
    """Assert each read is the good value or a CorruptionError naming the tensor and an object; returns
    how many reads raised."""
    before = snapshot(path)
    got = read_all(path)
    assert snapshot(path) == before, f"{what}: a reader wrote to the store"
    errors = 0
    for n, (g, r) in enumerate(zip(good, got)):
        if isinstance(r, CorruptionError):
            errors += 1
            assert "tensor 'x'" in str(r) and r.key and r.key in str(r), f"{what}: unclear error {r}"
            continue
        assert r[0] == g[0], f"{what}: read {n} changed has_value"
        if r[0] == "range":
            assert len(r[1]) == len(g[1]) and all(same(a, b) for a, b in zip(r[1], g[1])), f"{what}: wrong range"
        else:
            assert same(r[1], g[1]), f"{what}: sample {n} read back a different value"
    return errors


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_flipped_byte_is_the_value_or_a_corruption_error(tmp_path, layout):
    path = str(tmp_path / "ds")
    write(path, layout)
    good = read_all(path)
    assert not any(isinstance(r, CorruptionError) for r in good)
    rng = random.Random(f"flips-{layout}")
    objects = data_objects(path)
    assert len(objects) >= 3  # several chunks or shards (and the present mask of the chunked layout)
    for rel in objects:
        full = os.path.join(path, rel)
        with open(full, "rb") as f:
            original = f.read()
        size = len(original)
        offsets = {0, 1, size // 2, size - 5, size - 4, size - 1} | {rng.randrange(size) for _ in range(30)}
        for off in sorted(o for o in offsets if 0 <= o < size):
            flipped = bytearray(original)
            flipped[off] ^= 1 << rng.randrange(8)
            with open(full, "wb") as f:
                f.write(flipped)
            errors = check(path, good, f"{rel} byte {off} of {size}")
            # Every byte is covered by a crc32c (an inner chunk's, a chunk's or the shard index's) that
            # some read checks: a flip is always found.
            assert errors, f"{rel} byte {off} of {size}: the flip went unnoticed"
        for cut in (size - 1, size - 4, size // 2, 3):
            with open(full, "wb") as f:
                f.write(original[:cut])
            assert check(path, good, f"{rel} cut to {cut} bytes"), f"{rel} cut to {cut}: unnoticed"
        with open(full, "wb") as f:
            f.write(original)
    assert check(path, good, "restored") == 0


def test_a_corrupt_sample_names_tensor_sample_and_object(tmp_path):
    path = str(tmp_path / "ds")
    write(path, "png")
    shard = "x/data/c/1"  # samples 8..15
    full = os.path.join(path, shard)
    data = bytearray(open(full, "rb").read())
    data[20] ^= 0x40  # inside the first inner chunk: sample 8
    open(full, "wb").write(bytes(data))
    with hubfs.Dataset(path, mode="r") as ds:
        with pytest.raises(CorruptionError) as err:
            ds["x", 8].compute()
        np.testing.assert_array_equal(ds["x", 9].compute(), LAYOUTS["png"][1](9))  # its neighbours read
        assert ds.read_stored("x", 10) is not None
    msg = str(err.value)
    assert "tensor 'x', sample 8" in msg and repr(shard) in msg and "crc32c" in msg
    assert err.value.key == shard and err.value.tensor == "x"
    assert isinstance(err.value, OSError)


def crc_in_codecs(path: str) -> bool:
    doc = json.loads(open(os.path.join(path, "x/data/zarr.json")).read())
    codecs = doc["codecs"]
    if codecs[0]["name"] == "sharding_indexed":
        codecs = codecs[0]["configuration"]["codecs"]  # (its index always has a crc32c)
    return any(c["name"] == "crc32c" for c in codecs)


def test_zarr_reads_the_checksummed_arrays_and_rejects_a_flip(tmp_path):
    for layout in ("chunked", "png"):
        path = str(tmp_path / layout)
        write(path, layout)
        assert crc_in_codecs(path)
        arr = zarr.open_group(path, mode="r")["x/data"]
        value = LAYOUTS[layout][1]
        if layout == "chunked":
            np.testing.assert_array_equal(arr[8:16], np.stack([value(i) for i in range(8, 16)]))
        else:
            assert arr[9:10][0][:4] == b"\x89PNG"
        full = os.path.join(path, "x/data/c/1" + ("/0" if layout == "chunked" else ""))
        data = bytearray(open(full, "rb").read())
        data[10] ^= 1
        open(full, "wb").write(bytes(data))
        with pytest.raises(Exception, match="checksum"):
            zarr.open_group(path, mode="r")["x/data"][8:10]


def test_datasets_written_before_checksums_keep_reading_and_growing(tmp_path, monkeypatch):
    path = str(tmp_path / "old")
    with monkeypatch.context() as m:  # the engine as it was: no crc32c in any codec chain
        m.setattr(arrays, "CHECKSUM_NEW_ARRAYS", False)
        for layout in ("chunked", "png"):
            write(f"{path}-{layout}", layout)
    for layout in ("chunked", "png"):
        p = f"{path}-{layout}"
        assert not crc_in_codecs(p)
        value = LAYOUTS[layout][1]
        with hubfs.Dataset(p) as ds:
            for i in (0, 7, 8, N - 1):
                np.testing.assert_array_equal(ds["x", i].compute(), value(i))
            ds.append_shape(1)
            ds["x", N] = value(N)
        assert not crc_in_codecs(p)  # an array keeps the codecs it was created with
        with hubfs.Dataset(p, mode="r") as ds:
            np.testing.assert_array_equal(ds["x", N].compute(), value(N))
            np.testing.assert_array_equal(ds["x", 3].compute(), value(3))
        np.testing.assert_array_equal(np.asarray(zarr.open_group(p, mode="r")["x/data"][0:1][0][:4]),
                                      np.asarray(b"\x89PNG"[:4]) if layout == "png" else value(0)[:4])


def _edit_root(path: str, edit) -> None:
    doc = json.loads(open(os.path.join(path, "zarr.json")).read())
    edit(doc["attributes"]["hubfs"])
    open(os.path.join(path, "zarr.json"), "w").write(json.dumps(doc))


@pytest.mark.parametrize("edit, reason", [
    (lambda a: a.pop("schema"), "holds no schema"),
    (lambda a: a.update(length="12x"), "length '12x'"),
    (lambda a: a.update(length=-1), "length -1"),
    (lambda a: a.update(schema={"x": {"kind": "NoSuchType"}}), "schema does not parse"),
    (lambda a: a.update(schema=[1]), "schema"),
])
def test_corrupt_root_metadata_is_one_clear_error(tmp_path, edit, reason):
    path = str(tmp_path / "ds")
    write(path, "chunked")
    _edit_root(path, edit)
    before = snapshot(path)
    for mode in ("r", "r+", None):
        with pytest.raises(CorruptionError) as err:
            hubfs.Dataset(path, mode=mode)
        assert "'zarr.json'" in str(err.value) and reason in str(err.value) and path in str(err.value)
    assert snapshot(path) == before


def test_a_root_that_is_not_json_is_left_untouched(tmp_path):
    path = str(tmp_path / "ds")
    write(path, "text")
    open(os.path.join(path, "zarr.json"), "wb").write(b'{"zarr_format": 3, "node_ty')
    before = snapshot(path)
    for mode in ("r", "a", "w"):
        with pytest.raises(NotADatasetError, match="zarr.json"):
            hubfs.Dataset(path, mode=mode, shape=(N,), schema={"x": Text()})
    assert snapshot(path) == before


@pytest.mark.parametrize("garbage", [b"\x00garbage", b'{"node_type": "group"}', b"[]",
                                     b'{"zarr_format": 3, "node_type": "array", "codecs": [], "data_type": "int8", '
                                     b'"chunk_grid": {"configuration": {"chunk_shape": [8]}}}'])
@pytest.mark.parametrize("layout", ["chunked", "png"])
def test_corrupt_array_metadata_names_the_object(tmp_path, layout, garbage):
    path = str(tmp_path / "ds")
    write(path, layout)
    open(os.path.join(path, "x/data/zarr.json"), "wb").write(garbage)
    before = snapshot(path)
    with hubfs.Dataset(path, mode="r") as ds:
        with pytest.raises(CorruptionError) as err:
            ds["x", 0].compute()
    assert "'x/data/zarr.json'" in str(err.value) and "array metadata" in str(err.value)
    assert snapshot(path) == before


def test_a_missing_array_metadata_object_is_named(tmp_path):
    path = str(tmp_path / "ds")
    write(path, "audio")
    os.unlink(os.path.join(path, "x/data/zarr.json"))
    with hubfs.Dataset(path, mode="r") as ds:
        with pytest.raises(CorruptionError, match=r"'x/data/zarr.json'.*missing"):
            ds["x", 1].compute()


@pytest.mark.parametrize("layout", ["chunked", "png", "text"])
def test_a_missing_chunk_or_shard_that_was_written_is_named_not_read_as_empty(tmp_path, layout, capfd):
    path = str(tmp_path / "ds")
    write(path, layout)
    value = LAYOUTS[layout][1]
    key = "x/data/c/1" + ("/0" if layout == "chunked" else "")  # samples 8..15
    os.unlink(os.path.join(path, key))
    before = snapshot(path)
    with hubfs.Dataset(path, mode="r") as ds:
        for read in (lambda: ds["x", 9].compute(), lambda: ds["x", 0:N].compute()):
            with pytest.raises(CorruptionError) as err:
                read()
            assert err.value.key == key and err.value.tensor == "x"
            msg = str(err.value)
            assert repr(key) in msg and "samples 8..15" in msg and "missing" in msg
        assert same(ds["x", 7].compute(), value(7)) and same(ds["x", 16].compute(), value(16))  # neighbours
    assert snapshot(path) == before  # readers repair nothing
    capfd.readouterr()
    with hubfs.Dataset(path, mode="r+") as ds:  # the writer's recovery reports it
        with pytest.raises(CorruptionError):
            ds["x", 8].compute()
        assert same(ds["x", 17].compute(), value(17))
    err = capfd.readouterr().err
    assert repr(key)[1:-1] in err and "missing" in err


@pytest.mark.parametrize("layout", ["chunked", "png"])
def test_chunks_never_written_read_as_empty_and_shrinking_unrecords_them(tmp_path, layout):
    path = str(tmp_path / "ds")
    t, value = LAYOUTS[layout]
    with hubfs.Dataset(path, mode="w", shape=(40,), schema={"x": t}) as ds:
        for i in range(8):
            ds["x", i] = value(i)
        ds.flush()
        ds["x", 30] = value(30)  # a chunk created without a change of length: recorded by the flush
    with hubfs.Dataset(path, mode="r") as ds:
        assert not ds.has_value("x", 20) and same(ds["x", 30].compute(), value(30))
    with hubfs.Dataset(path) as ds:
        ds.resize_shape(10)  # deletes the chunk of sample 30: no longer recorded
        ds.flush()
        ds.resize_shape(40)
    with hubfs.Dataset(path, mode="r") as ds:
        assert not ds.has_value("x", 30) and same(ds["x", 7].compute(), value(7))


def test_arrays_without_a_record_read_a_missing_chunk_as_before(tmp_path):
    path = str(tmp_path / "ds")
    write(path, "png")
    doc_path = os.path.join(path, "x/data/zarr.json")
    doc = json.loads(open(doc_path).read())
    doc["attributes"].pop("hubfs")  # as written before hubfs recorded its chunks
    open(doc_path, "w").write(json.dumps(doc))
    os.unlink(os.path.join(path, "x/data/c/1"))
    with hubfs.Dataset(path, mode="r") as ds:
        assert not ds.has_value("x", 9)
        assert same(ds["x", 16].compute(), LAYOUTS["png"][1](16))


@pytest.mark.parametrize("layout", ["chunked", "png"])
def test_a_write_into_a_missing_chunk_or_shard_fails_at_once_and_later_flushes_still_work(tmp_path, layout, capfd):
    """Writing a chunk or shard keeps its other samples, so a write into one that went missing cannot be
    flushed: it is refused when made (naming tensor, samples and object), and the rest of the work saves."""
    path = str(tmp_path / "ds")
    write(path, layout)
    value = LAYOUTS[layout][1]
    key = "x/data/c/1" + ("/0" if layout == "chunked" else "")  # samples 8..15
    os.unlink(os.path.join(path, key))
    with hubfs.Dataset(path, mode="r+") as ds:
        with pytest.raises(CorruptionError) as err:
            ds["x", 9] = value(100)
        assert err.value.key == key and "samples 8..15" in str(err.value)
        ds["x", 17] = value(117)  # another chunk or shard: written, and the flush works
        ds.flush()
        ds["x", 18] = value(118)
    capfd.readouterr()
    with hubfs.Dataset(path, mode="r") as ds:
        assert same(ds["x", 17].compute(), value(117)) and same(ds["x", 18].compute(), value(118))
        with pytest.raises(CorruptionError):
            ds["x", 9].compute()
