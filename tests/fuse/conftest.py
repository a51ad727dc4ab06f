"""Fixtures for the mount tests: a small dataset with every kind of file, and real mounts that are always
taken down (unmount, else kill the server and detach), with /proc/mounts checked clean at the end.

``sample_dataset(url)`` builds the dataset doc/SEMANTICS.md's examples run on.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import hubfs
from hubfs.schema import Audio, BBox, ClassLabel, Image, Polygon, Tensor, Text

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PYTHON = sys.executable
NAMES = ["zero", "one", "two"]


def sample_dataset(url: str, n: int = 4) -> None:
    """n samples: images (PNG) 0..n-1, labels, text/box/polygon on some, audio on sample 1, photo (JPEG) on 0."""
    schema = {"image": Image((28, 28, 1), "uint8"), "label": ClassLabel(names=NAMES),
              "meta": {"text": Text(max_shape=(64,)), "box": BBox(), "outline": Polygon()},
              "audio": Audio(sample_rate=8000, dtype="int16"), "emb": Tensor((3,), "float32"),
              "photo": Image((16, 16, 3), "uint8", compressor="jpeg")}
    ds = hubfs.Dataset(url, mode="w", shape=(n,), schema=schema)
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


@pytest.fixture(scope="session", autouse=True)
def _state_dir(tmp_path_factory):
    """Mount records and server logs of this test run in a folder of its own."""
    os.environ["HUBFS_STATE_DIR"] = str(tmp_path_factory.mktemp("mount-state"))
    yield
    del os.environ["HUBFS_STATE_DIR"]


def _mounts_under(prefix: str) -> list[str]:
    with open("/proc/mounts") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(prefix)]


@pytest.fixture(scope="session")
def _no_leftover_mounts(tmp_path_factory):
    base = str(tmp_path_factory.getbasetemp())
    yield
    left = _mounts_under(base)
    for mp in left:
        subprocess.run(["fusermount3", "-uz", mp], capture_output=True)
    assert not left, f"tests left mounts behind: {left}"


@pytest.fixture
def url(tmp_path):
    """A fresh sample dataset in a local folder."""
    path = str(tmp_path / "ds")
    sample_dataset(path)
    return path


class Mounter:
    """Mounts datasets for one test; ``close`` takes every mount down whatever state it is in."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.mounts: list[tuple[str, int]] = []

    def __call__(self, url: str, read_only: bool = False, name: str = "mnt") -> str:
        from hubfs.fuse.mount import mount

        mp = self.tmp_path / name
        mp.mkdir(exist_ok=True)
        pid = mount(url, str(mp), read_only=read_only)
        self.mounts.append((str(mp), pid))
        return str(mp)

    def pid(self, mp: str) -> int:
        return dict(self.mounts)[mp]

    def close(self) -> None:
        from hubfs.fuse.mount import mounted, unmount

        for mp, pid in reversed(self.mounts):
            if mounted(mp) is not None:
                try:
                    unmount(mp, timeout=30)
                except Exception:
                    subprocess.run(["fusermount3", "-uz", mp], capture_output=True)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


@pytest.fixture
def mounter(tmp_path, _no_leftover_mounts):
    reason = fuse_available()
    if reason:
        if IN_CI:
            pytest.fail(f"CI needs FUSE: {reason}", pytrace=False)
        pytest.skip(reason)
    m = Mounter(tmp_path)
    yield m
    m.close()


@pytest.fixture
def mnt(mounter, url):
    """The sample dataset mounted writable."""
    return mounter(url)


def hubfs_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `hubfs` command (as `python -m hubfs`)."""
    proc = subprocess.run([PYTHON, "-m", "hubfs", *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"hubfs {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc
