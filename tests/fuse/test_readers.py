"""Readers beside a writer: a --read-only mount and an API reader with a small cache stay whole while
another process rewrites, flushes and grows the dataset, and pick its flushes up (length and schema within
a few seconds by themselves; everything on `hubfs refresh` / ``Dataset.refresh()``)."""
from __future__ import annotations

import io
import os
import subprocess
import time

import numpy as np
import pytest
from PIL import Image as PILImage

import hubfs
from hubfs.fuse.mount import log_of
from hubfs.fuse.view import REFRESH_INTERVAL
from hubfs.schema import ClassLabel, Image

from fuse_helpers import PYTHON, hubfs_cli

pytestmark = pytest.mark.fuse

N = 120
WRITER = r"""
import sys, time, numpy as np, hubfs
ds = hubfs.Dataset(sys.argv[1], mode="r+")
rng = np.random.default_rng(0)
end, k = time.time() + float(sys.argv[2]), 0
while time.time() < end:
    for i in range(0, len(ds), 3):  # sizes change every round: noise, then flat images
        ds["image", i] = rng.integers(0, 256, (28, 28, 1), dtype=np.uint8) if k % 2 else np.full((28, 28, 1), 3, np.uint8)
        ds["label", i] = k % 10
    ds.flush()
    k += 1
ds["label", 0] = 7
ds.append({"image": np.zeros((28, 28, 1), np.uint8), "label": 4})
ds.close()
print(k)
"""


@pytest.fixture
def busy_url(tmp_path):
    url = str(tmp_path / "busy")
    ds = hubfs.Dataset(url, mode="w", shape=(N,), schema={"image": Image((28, 28, 1), "uint8"),
                                                          "label": ClassLabel(num_classes=10)})
    for i in range(N):
        ds["image", i] = np.full((28, 28, 1), i, np.uint8)
        ds["label", i] = i % 10
    ds.close()
    return url


def whole(path: str) -> None:
    data = open(path, "rb").read()
    if path.endswith(".png"):
        assert PILImage.open(io.BytesIO(data)).size == (28, 28), path
    else:
        assert int(data) in range(10), (path, data)


def test_read_only_mount_beside_a_writer_stays_whole_and_catches_up(mounter, busy_url):
    mnt = mounter(busy_url, read_only=True)
    writer = subprocess.Popen([PYTHON, "-c", WRITER, busy_url, "3"], stdout=subprocess.PIPE, text=True)
    reads = 0
    while writer.poll() is None:
        for i in range(N):
            for name in ("image.png", "label.txt"):
                whole(f"{mnt}/{i}/{name}")  # never EIO/EINVAL, never a torn file
                reads += 1
        assert len(os.listdir(f"{mnt}/5")) == 2
    assert writer.returncode == 0 and int(writer.stdout.read()) > 2 and reads > 0
    deadline = time.monotonic() + 10 * REFRESH_INTERVAL  # the new length shows by itself
    while str(N) not in os.listdir(mnt):
        assert time.monotonic() < deadline, "the read-only mount never saw the new length"
        time.sleep(0.2)
    found = subprocess.run(["find", mnt, "-type", "f", "-name", "label.txt"], capture_output=True, text=True)
    assert found.returncode == 0 and len(found.stdout.split()) == N + 1, found.stderr
    hubfs_cli("refresh", mnt)
    assert open(f"{mnt}/0/label.txt").read() == "7\n" and open(f"{mnt}/{N}/label.txt").read() == "4\n"
    for i in range(N + 1):
        whole(f"{mnt}/{i}/image.png")


def test_api_reader_with_a_small_cache_beside_a_writer(busy_url):
    reader = hubfs.Dataset(busy_url, mode="r", cache=1 << 16)
    writer = subprocess.Popen([PYTHON, "-c", WRITER, busy_url, "3"], stdout=subprocess.PIPE, text=True)
    try:
        while writer.poll() is None:
            for i in range(N):
                assert reader["image", i].compute().shape == (28, 28, 1)
                assert int(reader["label", i].compute()) in range(10)
        assert writer.returncode == 0
        assert reader.stale()
        reader.refresh()
        assert not reader.stale()
        assert len(reader) == N + 1 and int(reader["label", 0].compute()) == 7
    finally:
        reader.close()


@pytest.mark.parametrize("stop", ["SIGTERM", "umount"])
def test_stop_while_a_refresh_is_invalidating_exits_cleanly(mounter, tmp_path, stop):
    """A refresh queues kernel-cache invalidations for every sample; ending the mount (a signal, or an
    unmount from outside) while they are being sent must not race libfuse's teardown, which frees its path
    table before ``destroy`` (this was a segfault at exit)."""
    import signal

    url = str(tmp_path / "many")
    n = 3000
    ds = hubfs.Dataset(url, mode="w", shape=(n,), schema={"label": ClassLabel(num_classes=10)})
    ds["label", 0:n] = np.arange(n) % 10
    ds.close()
    for r in range(4):
        mnt = mounter(url, read_only=True)
        found = subprocess.run(["find", mnt, "-name", "label.txt"], capture_output=True, text=True)
        assert len(found.stdout.split()) == n  # the kernel now holds every path
        with hubfs.Dataset(url, mode="r+") as writer:
            writer["label", 0] = r % 10
        pid = mounter.pid(mnt)
        os.kill(pid, signal.SIGUSR1)  # what `hubfs refresh` sends: the next up-call refreshes
        os.statvfs(mnt)  # that up-call: thousands of invalidations queued
        if stop == "SIGTERM":
            os.kill(pid, signal.SIGTERM)
        else:
            subprocess.run(["umount", mnt], check=True)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, open(log_of(mnt)).read()[-2000:]
        mounter.mounts.clear()
        assert not os.path.ismount(mnt)
