"""The one write-back cache stays bounded while a dataset several times larger is written and read."""
from __future__ import annotations

import numpy as np
import pytest

from hubfs.schema import ClassLabel, Image, Tensor, Text

CAPACITY = 256 * 1024
N = 240
SHAPE = (48, 48, 3)  # 6.9 KB raw; noise does not compress, so ~1.7 MB of PNGs: 6-7x the cache


def noise(i):
    return np.random.default_rng(i).integers(0, 255, SHAPE, dtype="uint8")


def vec(i):
    return np.arange(64, dtype="float64") + i


# one entry: a decoded sample plus its encoded bytes, or a decoded chunk of the chunked tensors
ONE_ENTRY = 2 * int(np.prod(SHAPE)) + 4096


def schema():
    return {"image": Image(SHAPE), "dyn": Tensor((None,), "float64", max_shape=(64,)),
            "vec": Tensor((64,), "float64"), "label": ClassLabel(num_classes=7), "text": Text()}


class Watch:
    """Records the peak of ``cache.nbytes`` after every operation."""

    def __init__(self, ds):
        self.ds, self.peak = ds, 0

    def __call__(self):
        self.peak = max(self.peak, self.ds.cache.nbytes)
        assert self.ds.cache.nbytes <= CAPACITY + ONE_ENTRY, self.ds.cache.nbytes


def check_all(ds, watch, order):
    for i in order:
        np.testing.assert_array_equal(ds["image", i].compute(), noise(i))
        watch()
        np.testing.assert_array_equal(ds["dyn", i].compute(), vec(i)[: i % 64 + 1])
        np.testing.assert_array_equal(ds["vec", i].compute(), vec(i))
        assert ds["label", i].compute() == i % 7
        assert ds["text", i].compute() == f"text {i} ✓" * (i % 5 + 1)
        watch()


def test_cache_bounded_while_writing_and_reading_a_larger_dataset(url, open_ds, files):
    ds = open_ds(url, shape=(N,), schema=schema(), cache=CAPACITY)
    assert ds.cache.capacity == CAPACITY
    watch = Watch(ds)
    for i in range(N):
        ds["image", i] = noise(i)
        watch()
        ds["dyn", i] = vec(i)[: i % 64 + 1]
        ds["vec", i] = vec(i)
        ds["label", i] = i % 7
        ds["text", i] = f"text {i} ✓" * (i % 5 + 1)
        watch()
    assert any(k.startswith("image/data/c/") for k in files(url))  # evicted dirty shards were written back
    check_all(ds, watch, range(N))  # read back before flush: evicted writes came back from the store
    ds.flush()
    watch()
    ds.close()
    for rnd in range(2):
        ds = open_ds(url, mode="r", cache=CAPACITY)
        watch = Watch(ds)
        order = np.random.default_rng(rnd).permutation(N) if rnd else range(N)
        check_all(ds, watch, order)
        got = ds["image", 0:N].compute()
        assert got.shape == (N,) + SHAPE
        watch()
        ds.close()


def test_overwrites_through_a_small_cache_keep_the_last_value(url, open_ds):
    ds = open_ds(url, shape=(N,), schema=schema(), cache=CAPACITY)
    watch = Watch(ds)
    for rnd in range(3):
        for i in np.random.default_rng(rnd).permutation(N)[: N // 2]:
            ds["image", int(i)] = noise(int(i) + 1000 * rnd)
            ds["label", int(i)] = (int(i) + rnd) % 7
            watch()
    expected = {}
    for rnd in range(3):
        for i in np.random.default_rng(rnd).permutation(N)[: N // 2]:
            expected[int(i)] = rnd
    ds.close()
    ds = open_ds(url, mode="r", cache=CAPACITY)
    for i in range(N):
        if i in expected:
            np.testing.assert_array_equal(ds["image", i].compute(), noise(i + 1000 * expected[i]))
            assert ds["label", i].compute() == (i + expected[i]) % 7
        else:
            assert not ds.has_value("image", i)


def test_small_cache_does_not_multiply_the_bytes_written(url, open_ds, monkeypatch):
    ds = open_ds(url, shape=(N,), schema=schema(), cache=CAPACITY)
    written = []
    put = ds._s.store.put
    monkeypatch.setattr(ds._s.store, "put", lambda key, data: (written.append(len(data)), put(key, data))[1])
    for i in range(N):
        ds["image", i] = noise(i)
        ds["dyn", i] = vec(i)[: i % 64 + 1]
        ds["vec", i] = vec(i)
        ds["label", i] = i % 7
        ds["text", i] = f"text {i} ✓" * (i % 5 + 1)
    ds.flush()
    raw = N * (int(np.prod(SHAPE)) + 64 * 8 * 2 + 8 + 60)
    assert sum(written) <= 10 * raw, (sum(written), len(written), raw)


@pytest.mark.parametrize("capacity", [0, 1])
def test_tiny_caches_still_work(url, open_ds, capacity):
    ds = open_ds(url, shape=(20,), schema=schema(), cache=capacity)
    for i in range(20):
        ds["image", i] = noise(i)
        ds["label", i] = i % 7
    for i in range(20):
        np.testing.assert_array_equal(ds["image", i].compute(), noise(i))
    ds.close()
    ds = open_ds(url, mode="r", cache=capacity)
    np.testing.assert_array_equal(ds["label", 0:20].compute(), np.arange(20) % 7)
    np.testing.assert_array_equal(ds["image", 19].compute(), noise(19))


def test_the_version_changes_with_every_entry_added_replaced_or_dropped_only():
    from hubfs.dataset.cache import Cache

    cache = Cache(100)
    seen = [cache.version]

    def changed() -> bool:
        seen.append(cache.version)
        return seen[-1] != seen[-2]

    cache.put("a", 1, 40)
    assert changed()
    cache.get("a"), cache.get("missing"), cache.is_dirty("a")
    assert not changed()
    cache.put("a", 2, 40, writeback=lambda v: None)  # replaced
    assert changed()
    cache.flush(), cache.mark_clean("a")  # the same value, clean now: still valid for who holds it
    assert not changed()
    cache.put("b", 3, 40)
    cache.put("c", 4, 40)  # evicts "a"
    assert changed() and cache.get("a") is None
    cache.discard("b")
    assert changed()
    cache.clear()
    assert changed()


def test_a_scan_sees_edits_shrinks_and_refreshes_of_the_chunk_it_is_reading(tmp_path):
    import os
    import subprocess
    import sys

    import hubfs

    url = str(tmp_path / "ds")
    schema = {"x": Tensor((4,), "int32", chunks=8)}
    with hubfs.Dataset(url, mode="w", shape=(16,), schema=schema) as ds:
        ds["x", 0:16] = np.arange(64, dtype="int32").reshape(16, 4)
        assert ds["x", 1].compute().tolist() == [4, 5, 6, 7]  # chunk 0 remembered
        ds["x", 2] = [9, 9, 9, 9]  # an edit of that chunk
        assert ds["x", 2].compute().tolist() == [9, 9, 9, 9]
        assert ds["x", 9].compute().tolist() == [36, 37, 38, 39]  # chunk 1 remembered
        ds.resize_shape(2)
        ds.resize_shape(16)  # samples 2.. were cut: they read empty, not as they were
        assert ds["x", 9].compute().tolist() == [0, 0, 0, 0]
        assert ds["x", 2].compute().tolist() == [0, 0, 0, 0] and ds["x", 1].compute().tolist() == [4, 5, 6, 7]
        ds["x", 3] = [3, 3, 3, 3]
    with hubfs.Dataset(url, mode="a", cache=200) as ds:  # room for one chunk (8 x 16 bytes) at a time
        assert ds["x", 3].compute().tolist() == [3, 3, 3, 3]  # chunk 0 remembered
        assert ds["x", 9].compute().tolist() == [0, 0, 0, 0]  # chunk 1 evicts chunk 0
        ds["x", 4] = [5, 5, 5, 5]  # chunk 0 loaded again: another array than the one remembered
        assert ds["x", 4].compute().tolist() == [5, 5, 5, 5]
    reader = hubfs.Dataset(url, mode="r")
    assert reader["x", 3].compute().tolist() == [3, 3, 3, 3]
    code = f"import hubfs\nwith hubfs.Dataset({url!r}, mode='a') as ds:\n    ds['x', 3] = [7, 7, 7, 7]\n"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env)
    reader.refresh()
    assert reader["x", 3].compute().tolist() == [7, 7, 7, 7]
    reader.close()
