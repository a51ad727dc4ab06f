"""Transforms (Hub 1.x's ``hubfs.transform``) on every scheduler, with real threads, spawned processes and a
real dask LocalCluster; failures leave the destination as it was."""
from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import numpy as np
import pytest

import hubfs
from hubfs.dataset.lock import is_lock_key
from hubfs.errors import SampleError, TransformError, WorkerError
from hubfs.schema import ClassLabel, Image, Tensor, Text

SCHEMA = {"image": Image((8, 8, 3), "uint8"), "label": ClassLabel(num_classes=10), "name": Text((None,), max_shape=(20,))}
OUT = {"image": Image((8, 8, 3), "uint8"), "label": ClassLabel(num_classes=10), "name": Text((None,), max_shape=(20,)),
       "mean": Tensor((), "float64")}


@hubfs.transform(schema=OUT)
def brighten(sample, amount=1):
    image = np.minimum(sample["image"].astype(int) + amount, 255).astype("uint8")
    return {"image": image, "label": sample["label"], "name": sample["name"] + "!", "mean": float(image.mean())}


@hubfs.transform(schema={"x": Tensor((), "int64")})
def twice(n):
    return [{"x": n}, {"x": -n}]


@hubfs.transform(schema={"x": Tensor((), "int64")})
def plus_one(sample):
    return {"x": sample["x"] + 1}


@hubfs.transform(schema={"x": Tensor((), "int64")})
def fails_at_seven(n):
    if n == 7:
        raise ZeroDivisionError("seven")
    return {"x": n}


@hubfs.transform(schema={"x": Tensor((2,), "int64")})
def bad_shape_at_five(n):
    return {"x": np.zeros(3 if n == 5 else 2, "int64")}


@hubfs.transform(schema={"x": Tensor((), "int64")}, scheduler="processed", workers=2)
def killed_at_nine(n):
    if n == 9:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"x": n}


def make_source(path: Path, n: int = 40) -> hubfs.Dataset:
    ds = hubfs.Dataset(str(path), mode="w", shape=(n,), schema=SCHEMA)
    rng = np.random.default_rng(0)
    for i in range(n):
        ds["image", i] = rng.integers(0, 255, (8, 8, 3), dtype="uint8")
        ds["label", i] = i % 10
        ds["name", i] = f"s{i}"
    ds.flush()
    return ds


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not is_lock_key(str(p.relative_to(folder)))}


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if "hubfs-tmp" in p.name]


def test_one_to_one_from_a_dataset(tmp_path):
    src = make_source(tmp_path / "src")
    out = brighten(src, amount=3).store(str(tmp_path / "out"))
    assert len(out) == 40
    want = np.minimum(src["image", 4].compute().astype(int) + 3, 255)
    assert (out["image", 4].compute() == want).all()
    assert out["name", 4].compute() == "s4!" and out["label", 4].compute() == 4
    reopened = hubfs.Dataset(str(tmp_path / "out"), mode="r")
    assert len(reopened) == 40 and reopened["mean", 39].compute() == pytest.approx(out["image", 39].compute().mean())
    assert leftovers(tmp_path) == []


def test_views_lists_chaining_one_to_many_and_lazy_indexing(tmp_path):
    src = make_source(tmp_path / "src")
    view = src[10:20]
    out = brighten(view).store(str(tmp_path / "view"))
    assert len(out) == 10 and out["name", 0].compute() == "s10!"
    many = twice(list(range(5)))
    assert len(many) == 5  # the source's length, as in Hub
    stored = many.store(str(tmp_path / "many"), sample_per_shard=2)
    assert stored["x"].compute().tolist() == [0, 0, 1, -1, 2, -2, 3, -3, 4, -4]
    chained = plus_one(twice(range(3)))
    assert chained.store(str(tmp_path / "chain"))["x"].compute().tolist() == [1, 1, 2, 0, 3, -1]
    lazy = brighten(src, amount=2)
    assert lazy[5, "name"].compute() == "s5!"
    assert [v["name"] for v in lazy[1:3].compute()] == ["s1!", "s2!"]
    assert not (tmp_path / "never").exists()


def test_every_scheduler_writes_the_same_bytes(tmp_path):
    src = make_source(tmp_path / "src", n=50)
    digests = {}
    for scheduler in ("single", "threaded", "processed", "dask"):
        dest = tmp_path / scheduler
        brighten(src).store(str(dest), sample_per_shard=8, scheduler=scheduler, workers=2)
        digests[scheduler] = digest(dest)
    assert digests["single"]
    assert all(d == digests["single"] for d in digests.values())
    assert leftovers(tmp_path) == []


def test_dask_uses_the_current_client(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        out = twice(list(range(30))).store(str(tmp_path / "out"), sample_per_shard=4, scheduler="dask")
        assert out["x"].compute().tolist() == [v for n in range(30) for v in (n, -n)]
        assert len(client.scheduler_info()["workers"]) == 2  # the cluster we made, not a new one


@pytest.mark.parametrize("scheduler", ["single", "processed", "dask"])
def test_a_raising_function_names_the_sample_and_leaves_the_destination(tmp_path, scheduler):
    dest = tmp_path / "dest"
    old = hubfs.Dataset(str(dest), mode="w", shape=(3,), schema={"x": Tensor((), "int64")})
    old["x"] = np.array([5, 6, 7])
    old.close()
    before = digest(dest)
    with pytest.raises(TransformError) as info:
        fails_at_seven(list(range(20))).store(str(dest), sample_per_shard=4, scheduler=scheduler, workers=2)
    assert info.value.index == 7 and "ZeroDivisionError" in str(info.value)
    assert digest(dest) == before
    assert hubfs.Dataset(str(dest), mode="r")["x"].compute().tolist() == [5, 6, 7]
    assert leftovers(tmp_path) == []


def test_a_sample_that_does_not_fit_names_tensor_and_source_index(tmp_path):
    with pytest.raises(SampleError) as info:
        bad_shape_at_five(list(range(10))).store(str(tmp_path / "dest"), sample_per_shard=3, scheduler="processed", workers=2)
    assert info.value.tensor == "x" and "source sample 5" in str(info.value)
    assert not (tmp_path / "dest").exists()
    assert leftovers(tmp_path) == []


def test_a_killed_worker_leaves_no_dataset(tmp_path):
    with pytest.raises(WorkerError):
        killed_at_nine(list(range(24))).store(str(tmp_path / "dest"), sample_per_shard=4)
    assert not (tmp_path / "dest").exists()
    assert leftovers(tmp_path) == []


@hubfs.transform(schema={"x": Tensor((), "int64"), "pid": Tensor((), "int64")})
def tagged_with_pid(sample):
    return {"x": sample["x"], "pid": os.getpid()}


def test_processed_keeps_its_workers_between_stores_and_reads_the_source_anew(tmp_path):
    src = hubfs.Dataset(str(tmp_path / "src"), mode="w", shape=(12,), schema={"x": Tensor((), "int64")})
    src["x"] = np.arange(12)
    src.flush()
    first = tagged_with_pid(src).store(str(tmp_path / "a"), sample_per_shard=2, scheduler="processed", workers=2)
    src["x"] = np.arange(12) * 10  # the workers' earlier reads of the source must not be served again
    src.flush()
    second = tagged_with_pid(src).store(str(tmp_path / "b"), sample_per_shard=2, scheduler="processed", workers=2)
    assert first["x"].compute().tolist() == list(range(12))
    assert second["x"].compute().tolist() == [10 * i for i in range(12)]
    pids_a, pids_b = set(first["pid"].compute().tolist()), set(second["pid"].compute().tolist())
    assert os.getpid() not in pids_a | pids_b and len(pids_a | pids_b) <= 2  # the same two processes served both
    assert leftovers(tmp_path) == []


def test_after_a_worker_was_killed_the_next_processed_store_works(tmp_path):
    with pytest.raises(WorkerError):
        killed_at_nine(list(range(24))).store(str(tmp_path / "dest"), sample_per_shard=4)
    out = twice(list(range(6))).store(str(tmp_path / "again"), sample_per_shard=2, scheduler="processed", workers=2)
    assert out["x"].compute().tolist() == [v for n in range(6) for v in (n, -n)]
    assert leftovers(tmp_path) == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="scheduler"):
        hubfs.transform(schema=OUT, scheduler="spark")(lambda s: s)
    with pytest.raises(TypeError):
        brighten(5)


def test_processed_and_dask_take_functions_pickle_cannot_find_by_name(tmp_path):
    offset = 100

    @hubfs.transform(schema={"x": Tensor((), "int64")})
    def shifted(n):  # a closure in a test's locals, as in a notebook: cloudpickle sends it by value
        return {"x": n + offset}

    for scheduler in ("processed", "dask"):
        out = shifted(list(range(6))).store(str(tmp_path / scheduler), scheduler=scheduler, workers=2, sample_per_shard=2)
        assert out["x"].compute().tolist() == [100, 101, 102, 103, 104, 105]
