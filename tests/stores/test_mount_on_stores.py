"""Mounts of datasets on object stores: read and write through the mount (S3 on both servers, GCS,
Azure), EIO while the S3 server is down, recovery when it is back, and the mount never stuck."""
from __future__ import annotations

import errno
import io
import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image as PILImage

import hubfs
from hubfs.schema import ClassLabel, Image, Text

import servers
from servers import unavailable
from mounts import Mounter

pytestmark = [pytest.mark.fuse, pytest.mark.cloud]
NAMES = ["cat", "dog", "eel"]
N = 6


def image(i: int) -> np.ndarray:
    return np.full((28, 28), 20 * i, np.uint8)


def make_dataset(url: str, token) -> None:
    ds = hubfs.Dataset(url, mode="w", shape=(N,), token=token,
                       schema={"image": Image((28, 28), compressor="png"), "label": ClassLabel(names=NAMES),
                               "caption": Text(max_shape=(64,))})
    for i in range(N):
        ds["image", i] = image(i)
        ds["label", i] = i % 3
    ds["caption", 1] = "on s3"
    ds.close()


@pytest.fixture
def mount_on(tmp_path, monkeypatch):
    """``mount_on(url, token)`` -> mountpoint; every mount is taken down at teardown."""
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        unavailable("FUSE is not available here (/dev/fuse, fusermount3)")
    monkeypatch.setenv("HUBFS_STATE_DIR", str(tmp_path / "state"))
    mounter = Mounter(tmp_path)

    def _mount(url: str, token, read_only: bool = False) -> str:
        return mounter(url, read_only=read_only, name=f"mnt{len(mounter.mounts)}", token=token)

    yield _mount
    mounter.close()


def png_of(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        return np.asarray(PILImage.open(io.BytesIO(f.read())))


@pytest.fixture(params=["s3-moto", "s3-rclone", "gcs", "azure"])
def cloud_url(request, store_server):
    """``(url, token)`` of a fresh dataset url on each kind of object store."""
    import uuid

    server = store_server(request.param)
    url, token = server.url(f"hubfs-test/mnt-{uuid.uuid4().hex[:8]}"), server.token()
    yield url, token
    from hubfs.dataset.stores import filesystem_for

    fs, root = filesystem_for(url, token)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_read_a_dataset_on_a_cloud_store_through_the_mount(cloud_url, mount_on):
    url, token = cloud_url
    make_dataset(url, token)
    mnt = mount_on(url, token, read_only=True)
    assert sorted(p for p in os.listdir(mnt) if not p.startswith(".")) == [str(i) for i in range(N)]
    for i in range(N):
        np.testing.assert_array_equal(png_of(f"{mnt}/{i}/image.png"), image(i))
        assert open(f"{mnt}/{i}/label.txt").read() == f"{NAMES[i % 3]}\n"
    assert open(f"{mnt}/1/caption.txt").read() == "on s3"
    ds = hubfs.Dataset(url, mode="r", token=token)
    assert open(f"{mnt}/2/image.png", "rb").read() == ds.read_stored("image", 2)  # served as stored
    ds.close()


def test_write_through_the_mount_lands_on_the_store(cloud_url, mount_on):
    url, token = cloud_url
    make_dataset(url, token)
    mnt = mount_on(url, token)
    with open(f"{mnt}/3/label.txt", "w") as f:
        f.write("eel\n")
        f.flush()
        os.fsync(f.fileno())
    new = np.full((28, 28), 201, np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(new).save(buf, format="PNG")
    with open(f"{mnt}/4/image.png", "wb") as f:
        f.write(buf.getvalue())
    from hubfs.fuse.mount import unmount

    unmount(mnt)
    ds = hubfs.Dataset(url, mode="r", token=token)
    assert ds["label", 3].compute(label_name=True) == "eel"
    np.testing.assert_array_equal(ds["image", 4].compute(), new)
    ds.close()


def test_the_mount_answers_eio_while_s3_is_down_and_recovers(mount_on, monkeypatch, tmp_path):
    monkeypatch.setenv("HUBFS_RETRIES", "2")  # the child inherits it: fail within seconds
    server = servers.started(servers.RcloneServer, "hubfs-mount", str(tmp_path / "rclone"))
    try:
        url, token = server.url("hubfs-mount/ds"), server.token()
        make_dataset(url, token)
        mnt = mount_on(url, token, read_only=True)
        assert open(f"{mnt}/0/label.txt").read() == "cat\n"
        server.kill()
        start = time.monotonic()
        failed = None
        for i in range(1, N):  # samples not read yet: they need the store
            try:
                open(f"{mnt}/{i}/image.png", "rb").read()
            except OSError as exc:
                failed = exc
                break
        assert failed is not None and failed.errno == errno.EIO, failed
        assert time.monotonic() - start < 60
        assert os.path.ismount(mnt)  # the mount stays up
        server.start()
        for i in range(N):
            np.testing.assert_array_equal(png_of(f"{mnt}/{i}/image.png"), image(i))
    finally:
        server.stop()


def test_the_remote_store_fixture_mounts(remote_store, mount_on):
    url, token = remote_store
    make_dataset(url, token)
    mnt = mount_on(url, token, read_only=True)
    assert open(f"{mnt}/5/label.txt").read() == "eel\n"
