"""Crash safety: kill -9 a writer at random moments, round after round; every flushed sample stays intact.
On a local folder and on the S3 server (moto)."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import hubfs
from hubfs.dataset import lock
from hubfs.dataset.stores import open_store

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from crash_writer import sample  # noqa: E402

WRITER = os.path.join(HERE, "crash_writer.py")
ROUNDS = 6


class Writer:
    """One run of crash_writer.py, read line by line."""

    def __init__(self, path: str, batch: int, cache: int, log, token=None):
        self.proc = subprocess.Popen([sys.executable, WRITER, path, str(batch), str(cache), json.dumps(token)],
                                     stdout=subprocess.PIPE, stderr=log, text=True)
        self.flushed = 0
        self.flushes = 0
        self.last_flush_seconds = 0.05
        self._flushing_at = None
        self.in_flush = False
        line = self.proc.stdout.readline()
        assert line.startswith("open "), f"the writer did not open the dataset: {line!r} (see {log.name})"
        self.opened = int(line.split()[1])

    def next_line(self) -> str:
        line = self.proc.stdout.readline()
        assert line, f"the writer died on its own (exit {self.proc.wait()})"
        self._note(line)
        return line.strip()

    def _note(self, line: str) -> None:
        self.in_flush = line.startswith("flushing")
        if line.startswith("flushing"):
            self._flushing_at = time.monotonic()
        elif line.startswith("flushed "):
            self.flushed = int(line.split()[1])
            self.flushes += 1
            if self._flushing_at is not None:
                self.last_flush_seconds = time.monotonic() - self._flushing_at

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        for line in self.proc.stdout.read().splitlines():  # reports printed before the kill still count
            self._note(line)
        self.proc.stdout.close()


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.cloud)])
def where(request, tmp_path):
    """``(url, token)`` of a fresh dataset on a local folder or on the S3 server (moto)."""
    if request.param == "local":
        return str(tmp_path / "ds"), None
    return request.getfixturevalue("remote_store")


def verify(path: str, flushed: int, token=None) -> int:
    ds = hubfs.Dataset(path, mode="r", token=token)
    n = len(ds)
    assert n >= flushed, f"{flushed} samples were flushed, the dataset has {n}"
    images = ds["image", 0:n].compute()
    labels = ds["label", 0:n].compute()
    dyns = ds["dyn", 0:n].compute()
    texts = ds["text", 0:n].compute()
    for i in range(n):  # every committed sample, not only the reported ones
        want = sample(i)
        assert ds.has_value("image", i), i
        np.testing.assert_array_equal(images[i], want["image"], err_msg=f"image {i}")
        assert labels[i] == want["label"], i
        np.testing.assert_array_equal(dyns[i], want["dyn"], err_msg=f"dyn {i}")
        assert texts[i] == want["text"], i
    ds.close()
    return n


@pytest.mark.parametrize("scenario", ["anywhere", "mid-flush"])
def test_kill_9_keeps_every_flushed_sample(tmp_path, where, scenario):
    path, token = where
    rng = random.Random(f"hubfs-crash-{scenario}")
    flushed = 0
    killed_in_flush = 0
    with open(tmp_path / "writer.log", "w") as log:
        rounds = ROUNDS if token is None else ROUNDS - 2  # (a round on the S3 server takes ~10 s)
        for rnd in range(rounds):
            cache = rng.choice([16 * 1024, 256 * 1024, 64 << 20])
            # flushes to the S3 server take longer: fewer samples per flush still put kills inside them
            big = [300, 500] if token is None else [40, 70]
            batch = rng.choice([5, 13, 37]) if scenario == "anywhere" else rng.choice(big)
            writer = Writer(path, batch, cache, log, token)
            assert writer.opened >= flushed, f"round {rnd}: opened with {writer.opened} < {flushed} flushed"
            target = rng.randint(1, 3)
            if scenario == "anywhere":
                while writer.flushes < target:
                    writer.next_line()
                time.sleep(rng.uniform(0, 3 * writer.last_flush_seconds))  # during extend, eviction or flush
            else:
                seen = 0
                while seen < target:
                    if writer.next_line() == "flushing":
                        seen += 1
                time.sleep(rng.uniform(0, 0.9 * writer.last_flush_seconds))  # inside that flush
            writer.kill()
            killed_in_flush += writer.in_flush
            assert lock.holder(open_store(path, token))["pid"] == writer.proc.pid  # left behind by the dead writer
            flushed = max(flushed, writer.flushed)
            n = verify(path, flushed, token)
            flushed = max(flushed, n)
    if scenario == "mid-flush":
        assert killed_in_flush >= rounds // 2, f"only {killed_in_flush} of {rounds} kills landed inside a flush"
    print(f"{scenario}: {killed_in_flush} of {rounds} kills inside a flush, {flushed} samples")
    ds = hubfs.Dataset(path, mode="r+", token=token)  # the last dead writer's lock is stale too
    assert len(ds) >= flushed
    ds.close()


SHRINK_THEN_DIE = """\
import os, signal, sys
sys.path.insert(0, {here!r})
import hubfs
from crash_writer import sample, schema
ds = hubfs.Dataset({path!r}, mode="w", shape=(0,), schema=schema(), token={token!r})
ds.extend(sample(i) for i in range(100))
ds.flush()
ds.{op}
os.kill(os.getpid(), signal.SIGKILL)  # before the shrink is flushed
"""


@pytest.mark.parametrize("op", ["resize_shape(10)", "resize_shape(0)"])
def test_kill_9_after_an_unflushed_shrink_keeps_every_flushed_sample(where, op):
    path, token = where
    code = SHRINK_THEN_DIE.format(here=HERE, path=path, op=op, token=token)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert verify(path, 100, token) == 100


OVERWRITE_THEN_DIE = """\
import os, signal
import numpy as np
import hubfs
from hubfs.schema import Tensor
path = {path!r}
shard = os.path.join(path, "dyn/data/c/0")
ds = hubfs.Dataset(path, shape=(200,), schema={{"dyn": Tensor((None, None), "uint8", max_shape=(64, 64), chunks=4)}},
                   cache=64 * 1024)
for i in range(200):
    ds["dyn", i] = np.full((32, 32), i % 250, "uint8")
ds.flush()
before = open(shard, "rb").read()
ds["dyn", 0] = np.full((2, 2), 77, "uint8")  # a flushed sample takes another shape, unflushed
ds["dyn", 0].compute()
for i in range(4, 200):  # reads fill the cache and evict the dirty entries one by one
    ds["dyn", i].compute()
    ds.has_value("dyn", 0)
    if open(shard, "rb").read() != before:
        break  # the write-back reached the disk: die right after it
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kill_9_between_shape_and_data_write_backs_leaves_old_or_new_value(tmp_path):
    path = str(tmp_path / "ds")
    proc = subprocess.run([sys.executable, "-c", OVERWRITE_THEN_DIE.format(path=path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    ds = hubfs.Dataset(path, mode="r")
    value = ds["dyn", 0].compute()
    assert (value.shape, int(value.flat[0])) in (((32, 32), 0), ((2, 2), 77))
    for i in range(1, 200):
        np.testing.assert_array_equal(ds["dyn", i].compute(), np.full((32, 32), i % 250))
    ds.close()


def test_values_a_crash_left_past_the_length_without_their_marks_do_not_come_back(tmp_path, capfd):
    """A writer evicted a data chunk holding samples past the committed length, and died before the mask
    chunk that marks them was written: its recovery clears them, so growing the dataset shows empty samples."""
    from hubfs.codecs import registry
    from hubfs.dataset import layout
    from hubfs.schema import Tensor

    path = str(tmp_path / "ds")
    with hubfs.Dataset(path, mode="w", shape=(10,), schema={"x": Tensor((2,), "int32", chunks=8)}) as ds:
        ds["x", 0:10] = np.arange(20, dtype="int32").reshape(10, 2)
    # Chunk 1 (samples 8..15) as the dead writer left it: samples 12 and 13 written, the mask not.
    chunk = np.zeros((8, 2), "int32")
    chunk[:2] = [[16, 17], [18, 19]]
    chunk[4:6] = 99
    key = os.path.join(path, "x", "data", "c", "1", "0")
    with open(key, "wb") as f:
        f.write(layout.with_crc(registry.get("lz4").encode_chunk(chunk)))
    capfd.readouterr()
    with hubfs.Dataset(path, mode="r+") as ds:
        assert "past the committed length 10" in capfd.readouterr().err
        ds.resize_shape(16)
        assert ds["x", 12].compute().tolist() == [0, 0] and not ds.has_value("x", 12)
        assert ds["x", 9].compute().tolist() == [18, 19]
    with hubfs.Dataset(path, mode="r") as ds:
        assert ds["x", 13].compute().tolist() == [0, 0] and ds["x", 8].compute().tolist() == [16, 17]
