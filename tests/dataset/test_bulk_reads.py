"""Bulk reads of the chunked layout: chunks a range covers whole are decompressed straight into the result,
the others come through the cache. Whatever state each chunk is in, a range reads what single reads read."""
from __future__ import annotations

import numpy as np
import pytest

import hubfs
from hubfs.dataset import arrays
from hubfs.schema import Tensor

PER = 16
N = 6 * PER
SHAPE = (8, 8)


def value(i: int, step: int = 0) -> np.ndarray:
    return np.random.default_rng(i).integers(0, 1 << 30, SHAPE, dtype="int32") + np.int32(step)


def singles(ds, start: int, stop: int) -> np.ndarray:
    return np.stack([ds["x", i].compute() for i in range(start, stop)])


@pytest.mark.parametrize("compressor", ["lz4", "zstd", None])
def test_a_range_over_chunks_in_every_state_reads_what_single_reads_read(store_url, compressor):
    url, token = store_url
    expected = np.zeros((N,) + SHAPE, "int32")
    with hubfs.Dataset(url, token=token, mode="w", shape=(N,),
                       schema={"x": Tensor(SHAPE, "int32", chunks=PER, compressor=compressor)}) as ds:
        for i in range(4 * PER):  # chunks 0-3 stored; 4 and 5 never written
            expected[i] = value(i)
        ds["x", 0:4 * PER] = expected[:4 * PER]
    with hubfs.Dataset(url, token=token, mode="a") as ds:
        ds["x", PER + 3] = expected[PER + 3] = value(PER + 3, 1)  # chunk 1: a delta once flushed
        ds.flush()
    with hubfs.Dataset(url, token=token, mode="a") as ds:
        assert ds["x", 2].compute().sum() == expected[2].sum()  # chunk 0: cached, clean
        ds["x", 2 * PER + 5] = expected[2 * PER + 5] = value(2 * PER + 5, 2)  # chunk 2: dirty, in the cache
        ds["x", 5 * PER + 1] = expected[5 * PER + 1] = value(5 * PER + 1, 3)  # chunk 5: new, dirty
        # chunk 3: stored, not cached, no deltas: decoded into the result
        for start, stop in [(0, N), (0, 4 * PER), (3, N - 2), (PER, 2 * PER), (3 * PER, 5 * PER), (7, 9)]:
            got = ds["x", start:stop].compute()
            np.testing.assert_array_equal(got, expected[start:stop])
            np.testing.assert_array_equal(got, singles(ds, start, stop))
        got[...] = 0  # the result is the caller's: the next read is unchanged
        np.testing.assert_array_equal(ds["x", 7:9].compute(), expected[7:9])
    with hubfs.Dataset(url, token=token, mode="r") as ds:  # everything stored, nothing cached
        np.testing.assert_array_equal(ds["x", 0:N].compute(), expected)
    with hubfs.Dataset(url, token=token, mode="a", cache=1024) as ds:  # too small to keep any chunk
        ds["x", 3 * PER + 2] = expected[3 * PER + 2] = value(3 * PER + 2, 4)
        ds.flush()  # chunk 3: a live delta over its stored bytes, not cached
        np.testing.assert_array_equal(ds["x", 0:N].compute(), expected)


def test_a_bulk_read_does_not_fill_the_cache_and_reads_each_chunk_once(tmp_path, monkeypatch):
    url = str(tmp_path / "ds")
    data = np.stack([value(i) for i in range(N)])
    with hubfs.Dataset(url, mode="w", shape=(N,), schema={"x": Tensor(SHAPE, "int32", chunks=PER)}) as ds:
        ds["x", 0:N] = data
    gets = []
    real = arrays.ChunkedArray.chunk
    monkeypatch.setattr(arrays.ChunkedArray, "chunk", lambda self, c: gets.append(c) or real(self, c))
    with hubfs.Dataset(url, mode="r") as ds:
        np.testing.assert_array_equal(ds["x", 0:N].compute(), data)
        assert gets == []  # every chunk covered whole: none went through the cache
        np.testing.assert_array_equal(ds["x", 1:N - 1].compute(), data[1:N - 1])
        assert gets == [0, N // PER - 1]  # the two edge chunks only


def test_a_local_bulk_read_splits_over_the_cores_and_reports_the_lowest_corrupt_chunk(tmp_path, monkeypatch):
    import threading

    from hubfs.dataset import threads
    from hubfs.errors import CorruptionError

    url = str(tmp_path / "ds")
    data = np.stack([value(i) for i in range(N)])
    with hubfs.Dataset(url, mode="w", shape=(N,), schema={"x": Tensor(SHAPE, "int32", chunks=PER)}) as ds:
        ds["x", 0:N] = data
    monkeypatch.setattr(arrays, "PARALLEL_READ_MIN_BYTES", 0)
    monkeypatch.setattr(threads, "CORES", 2)
    used = set()
    real = arrays.ChunkedArray._key
    monkeypatch.setattr(arrays.ChunkedArray, "_key",
                        lambda self, c: used.add(threading.current_thread().name) or real(self, c))
    with hubfs.Dataset(url, mode="r") as ds:
        np.testing.assert_array_equal(ds["x", 0:N].compute(), data)
    assert any(name.startswith("hubfs-decode") for name in used)
    for c in (2, 5):  # one chunk in each thread's slice: the lower one is reported
        path = tmp_path / "ds" / "x" / "data" / "c" / str(c) / "0" / "0"
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
    with hubfs.Dataset(url, mode="r") as ds:
        with pytest.raises(CorruptionError, match=r"chunk 2 \(samples 32\.\.47\).*c/2/0/0"):
            ds["x", 0:N].compute()
