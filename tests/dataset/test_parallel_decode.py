"""Bulk reads of per-sample codecs decode on threads: the same values as one thread, errors that name the
lowest failing sample, and pools that work in a forked child (a DataLoader worker)."""
from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

import hubfs
from hubfs.dataset import tensor as tensor_mod
from hubfs.dataset import threads
from hubfs.errors import CorruptionError
from hubfs.schema import Image

N = 32


SIDE = 160  # noise: ~77 KB per PNG, ~24 KB per JPEG, over PARALLEL_DECODE_MIN_SAMPLE_BYTES


def images(n: int = N, side: int = SIDE) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (n, side, side, 3), dtype=np.uint8)


def make(path: str, compressor: str, dynamic: bool = False, side: int = SIDE) -> np.ndarray:
    data = images(side=side)
    shape, max_shape = ((None, None, 3), (side, side, 3)) if dynamic else ((side, side, 3), None)
    ds = hubfs.Dataset(path, mode="w", shape=(N,), schema={"x": Image(shape, "uint8", max_shape=max_shape,
                                                                       compressor=compressor)})
    ds["x"] = data if not dynamic else list(data)
    ds.close()
    return data


@pytest.fixture
def threads_used(monkeypatch):
    """Names of the threads that decoded samples."""
    seen = set()
    real = tensor_mod.TensorEngine._decode

    def spy(self, i, data):
        import threading

        seen.add(threading.current_thread().name)
        return real(self, i, data)

    monkeypatch.setattr(tensor_mod.TensorEngine, "_decode", spy)
    return seen


@pytest.mark.parametrize("compressor,dynamic", [("png", False), ("jpeg", False), ("png", True)])
def test_a_bulk_read_decodes_on_threads_and_gives_what_one_thread_gives(tmp_path, compressor, dynamic, threads_used,
                                                                        monkeypatch):
    data = make(str(tmp_path / "ds"), compressor, dynamic)
    with hubfs.Dataset(str(tmp_path / "ds"), mode="r", cache=1 << 20) as ds:
        parallel = ds["x", 0:N].compute()
        assert any(name.startswith("hubfs-decode") for name in threads_used) == ((os.cpu_count() or 1) > 1)
        monkeypatch.setattr(threads, "PARALLEL", False)
        serial = ds["x", 0:N].compute()
    for a, b in zip(parallel, serial):
        np.testing.assert_array_equal(a, b)
    if compressor == "png":  # lossless: the values written
        for a, b in zip(parallel, data):
            np.testing.assert_array_equal(a, b)


def test_small_reads_stay_on_the_calling_thread(tmp_path, threads_used):
    make(str(tmp_path / "ds"), "png")
    with hubfs.Dataset(str(tmp_path / "ds"), mode="r") as ds:
        ds["x", 0:3].compute()
    assert not any(name.startswith("hubfs-decode") for name in threads_used)


def test_reads_of_small_samples_stay_on_the_calling_thread(tmp_path, threads_used):
    make(str(tmp_path / "ds"), "png", side=16)  # ~800 B a PNG: decoding is mostly under the GIL
    with hubfs.Dataset(str(tmp_path / "ds"), mode="r") as ds:
        ds["x", 0:N].compute()
    assert not any(name.startswith("hubfs-decode") for name in threads_used)


def test_a_corrupt_sample_in_a_parallel_read_is_named(tmp_path):
    path = str(tmp_path / "ds")
    make(path, "png")
    with hubfs.Dataset(path, mode="r") as ds:
        good = ds.read_stored("x", 20)
    # Corrupt sample 20's PNG body inside its shard (past the crc32c would be caught too: flip its pixels)
    shard = os.path.join(path, "x", "data", "c", "0")
    blob = bytearray(open(shard, "rb").read())
    at = blob.find(good)
    assert at >= 0
    blob[at + len(good) // 2] ^= 0xFF
    open(shard, "wb").write(bytes(blob))
    with hubfs.Dataset(path, mode="r") as ds:
        with pytest.raises(CorruptionError) as err:
            ds["x", 0:N].compute()
    assert "tensor 'x', sample 20" in str(err.value)


def _bulk_in_child(path: str, q) -> None:
    with hubfs.Dataset(path, mode="r") as ds:
        q.put(int(ds["x", 0:N].compute().sum()))


def test_a_forked_child_decodes_in_parallel_after_its_parent_did(tmp_path):
    path = str(tmp_path / "ds")
    make(path, "png")
    with hubfs.Dataset(path, mode="r") as ds:
        total = int(ds["x", 0:N].compute().sum())  # the parent's decode pool now has threads
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    child = ctx.Process(target=_bulk_in_child, args=(path, q))
    child.start()
    child.join(120)  # a pool inherited without its threads would hang here
    alive = child.is_alive()
    if alive:
        child.kill()
        child.join()
    assert not alive and child.exitcode == 0
    assert q.get(timeout=5) == total
