"""Helpers of the mount tests (a module of its own: every test folder's conftest is named ``conftest``)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np

import hubfs
from hubfs.schema import Audio, BBox, ClassLabel, Image, Polygon, Tensor, Text

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PYTHON = sys.executable
NAMES = ["zero", "one", "two"]


def sample_dataset(url: str, n: int = 4, token=None) -> None:
    """n samples: images (lz4 chunks, served as PNG) 0..n-1, labels, text/box/polygon on some, audio on sample 1, photo (JPEG) on 0."""
    schema = {"image": Image((28, 28, 1), "uint8"), "label": ClassLabel(names=NAMES),
              "meta": {"text": Text(max_shape=(64,)), "box": BBox(), "outline": Polygon()},
              "audio": Audio(sample_rate=8000, dtype="int16"), "emb": Tensor((3,), "float32"),
              "photo": Image((16, 16, 3), "uint8", compressor="jpeg")}
    ds = hubfs.Dataset(url, mode="w", shape=(n,), schema=schema, token=token)
    for i in range(n):
        ds["image", i] = np.full((28, 28, 1), 10 * i, np.uint8)
        ds["label", i] = i % 3
        ds["emb", i] = np.array([i, i + 0.5, -i], np.float32)
    ds["meta/text", 0] = "héllo wörld"
    ds["meta/box", 0] = np.array([1.5, 2, 10, 20])
    ds["meta/outline", 2] = np.array([[0, 0], [5, 0], [5, 5]], np.int32)
    ds["audio", 1] = (np.sin(np.arange(800) / 5) * 1000).astype(np.int16)
    ds["photo", 0] = np.full((16, 16, 3), 128, np.uint8)
    ds.close()


def fuse_available() -> str | None:
    """Why real mounts cannot run here, or None."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed (Debian package fuse3)"
    return None


def hubfs_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `hubfs` command (as `python -m hubfs`)."""
    proc = subprocess.run([PYTHON, "-m", "hubfs", *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"hubfs {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc
