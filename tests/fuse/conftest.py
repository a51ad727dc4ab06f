"""Fixtures for the mount tests: a small dataset with every kind of file (``fuse_helpers.sample_dataset``,
also the one doc/SEMANTICS.md's examples run on), and real mounts that are always taken down (unmount,
else kill the server and detach), with /proc/mounts checked clean at the end."""
from __future__ import annotations

import os
import signal
import subprocess

import pytest

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


class Mounter:
    """Mounts datasets for one test; ``close`` takes every mount down whatever state it is in."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.mounts: list[tuple[str, int]] = []

    def __call__(self, url: str, read_only: bool = False, name: str = "mnt", token=None) -> str:
        from hubfs.fuse.mount import mount

        mp = self.tmp_path / name
        mp.mkdir(exist_ok=True)
        pid = mount(url, str(mp), read_only=read_only, token=token)
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
