"""Fixtures for the engine tests: every test that takes ``url`` runs on memory:// and on a local folder.

``open_ds`` opens a dataset and closes it at teardown, so a failing test never leaves a writer lock
behind for the next one; ``reopen`` closes a dataset and opens it again (what a new process would see).
"""
from __future__ import annotations

import uuid

import fsspec
import pytest

import hubfs


@pytest.fixture(params=["memory", "local"])
def url(request, tmp_path):
    """A url where no dataset exists yet."""
    if request.param == "memory":
        root = f"hubfs-test-{uuid.uuid4().hex}"
        yield f"memory://{root}/ds"
        fs = fsspec.filesystem("memory")
        if fs.exists(f"/{root}"):
            fs.rm(f"/{root}", recursive=True)
    else:
        yield str(tmp_path / "ds")


@pytest.fixture
def other_url(url, tmp_path):
    """A second fresh url on the same kind of store as ``url``."""
    if url.startswith("memory://"):
        return url.rsplit("/", 1)[0] + "/other"
    return str(tmp_path / "other")


@pytest.fixture
def local_url(tmp_path):
    return str(tmp_path / "ds")


def _files(url: str) -> dict[str, bytes]:
    """Every object under ``url`` (relative key -> bytes), read with plain fsspec, not the engine."""
    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    if not fs.exists(root):
        return {}
    return {p[len(root) + 1:]: fs.cat_file(p) for p in fs.find(root)}


def _put_file(url: str, key: str, data: bytes) -> None:
    """Write an object under ``url`` with plain fsspec (a foreign file the engine did not write)."""
    fs, root = fsspec.core.url_to_fs(url)
    path = f"{root.rstrip('/')}/{key}"
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, data)


@pytest.fixture
def files():
    """``files(url)`` -> {key: bytes} of everything stored under ``url``."""
    return _files


@pytest.fixture
def put_file():
    """``put_file(url, key, data)`` writes a foreign object under ``url``."""
    return _put_file


@pytest.fixture
def open_ds():
    """``open_ds(url, **kwargs)`` -> Dataset, closed at teardown."""
    opened: list[hubfs.Dataset] = []

    def _open(url: str, **kwargs) -> hubfs.Dataset:
        ds = hubfs.Dataset(url, **kwargs)
        opened.append(ds)
        return ds

    yield _open
    for ds in reversed(opened):
        try:
            ds.close()
        except Exception:
            pass


@pytest.fixture
def reopen(open_ds):
    """``reopen(ds, **kwargs)``: close ``ds`` and open its url again (mode "r+" unless given)."""

    def _reopen(ds: hubfs.Dataset, **kwargs) -> hubfs.Dataset:
        ds.close()
        kwargs.setdefault("mode", "r+")
        return open_ds(ds.url, **kwargs)

    return _reopen
