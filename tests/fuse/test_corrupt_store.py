"""A read-only mount of a store with corrupted bytes: the damaged files answer EIO (never other bytes, never
EINVAL, which means bad input), their neighbours read as stored, and the error log names the object."""
from __future__ import annotations

import errno
import os

import pytest

import numpy as np

import hubfs
from hubfs.schema import ClassLabel, Image, Tensor


def _flip(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x10]))


def test_a_read_only_mount_answers_eio_for_corrupt_samples_and_chunks(tmp_path, mounter):
    url = str(tmp_path / "ds")
    schema = {"image": Image((28, 28, 1), compressor="png"), "emb": Tensor((3,), "float32", compressor="lz4"),
              "label": ClassLabel(num_classes=3)}
    with hubfs.Dataset(url, mode="w", shape=(4,), schema=schema) as ds:
        for i in range(4):
            ds["image", i] = np.random.default_rng(i).integers(0, 255, (28, 28, 1), dtype="uint8")
            ds["emb", i] = [i, i + 0.5, -i]
            ds["label", i] = i % 3
        png2, png1 = ds.read_stored("image", 2), ds.read_stored("image", 1)
    shard = os.path.join(url, "image/data/c/0")
    with open(shard, "rb") as f:
        at = f.read().find(png2)
    assert at > 0
    _flip(shard, at + len(png2) // 2)  # inside sample 2's PNG bytes
    _flip(os.path.join(url, "emb/data/c/0/0"), 12)  # the chunk of every emb sample
    mnt = mounter(url, read_only=True)
    for name in ("2/image.png", "0/emb.npy", "3/emb.npy"):
        with pytest.raises(OSError) as err:
            with open(os.path.join(mnt, name), "rb") as f:
                f.read()
        assert err.value.errno == errno.EIO, name
    with open(os.path.join(mnt, "1", "image.png"), "rb") as f:
        assert f.read() == png1
    with open(os.path.join(mnt, "0", "label.txt")) as f:
        assert f.read().strip()
    with open(os.path.join(mnt, ".hubfs", "errors.log")) as f:
        log = f.read()
    assert "'image/data/c/0'" in log and "sample 2" in log and "'emb/data/c/0/0'" in log
