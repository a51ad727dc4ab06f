"""Fixtures for the mount tests: a small dataset with every kind of file (``fuse_helpers.sample_dataset``,
also the one doc/SEMANTICS.md's examples run on), and real mounts that are always taken down (unmount,
else kill the server and detach), with /proc/mounts checked clean at the end."""
from __future__ import annotations

import os
import subprocess

import pytest
from mounts import Mounter

from fuse_helpers import IN_CI, fuse_available, sample_dataset


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
