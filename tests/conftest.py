"""Fixtures shared by every test: real object-store servers on 127.0.0.1 and fresh dataset urls on them.

Servers (moto, rclone, fake-gcs, Azurite) start on first use, once per session, on free ports, with
their logs in a temp folder, and are stopped by pid at the end. Under CI (``CI=true``) a server that does
not start fails the tests that need it; elsewhere those tests are skipped with the reason.

Every test also gets its own hubfs config file (``HUBFS_CONFIG``) and no ``HUBFS_ROOT``, so nothing
reads or writes the developer's ``~/.hubfs``.
"""
from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import servers  # noqa: E402  (tests/servers.py)
from servers import unavailable  # noqa: E402

BUCKET = "hubfs-test"
STORE_IDS = ["memory", "local", "s3-moto", "s3-rclone", "gcs", "azure"]


class ServerPool:
    """Starts each kind of server once, on first use, with the test bucket made."""

    def __init__(self, logdir: str):
        self.logdir = logdir
        self.running: dict[str, servers.Server] = {}
        self.failed: dict[str, str] = {}

    def get(self, kind: str) -> servers.Server:
        if kind in self.failed:
            unavailable(self.failed[kind])
        if kind not in self.running:
            server = servers.KINDS[kind](tempfile.mkdtemp(prefix=f"{kind}-", dir=self.logdir))
            try:
                server.start()
                server.make_bucket(BUCKET)
            except Exception as exc:
                server.stop()
                self.failed[kind] = f"{kind} server unavailable: {exc}"
                unavailable(self.failed[kind])
            self.running[kind] = server
        return self.running[kind]

    def stop(self) -> None:
        for server in self.running.values():
            server.stop()
        self.running.clear()


@pytest.fixture(scope="session")
def server_pool():
    logdir = tempfile.mkdtemp(prefix="hubfs-servers-")
    pool = ServerPool(logdir)
    yield pool
    pool.stop()


@pytest.fixture(autouse=True, scope="module")
def _stop_transform_workers():
    """The ``processed`` scheduler keeps its worker processes between transforms: stop them after each module."""
    yield
    from hubfs.compute.schedulers import close_pools

    close_pools()


@pytest.fixture(autouse=True)
def _private_config(tmp_path_factory, monkeypatch):
    """A config file of the test's own, and no root from the environment."""
    home = tmp_path_factory.mktemp("hubfs-home")
    monkeypatch.setenv("HUBFS_CONFIG", str(home / "config"))
    monkeypatch.delenv("HUBFS_ROOT", raising=False)


def _remove(url: str, token) -> None:
    from hubfs.dataset.stores import filesystem_for

    try:
        fs, root = filesystem_for(url, token)
        if fs.exists(root):
            fs.rm(root, recursive=True)
    except Exception:
        pass  # a test that killed its server leaves its objects; the server's data dies with it


def fresh_url(kind: str, pool: ServerPool, tmp_path: Path) -> tuple[str, object]:
    """A url where nothing exists yet, on a store of ``kind``, and its token."""
    name = f"ds-{uuid.uuid4().hex[:12]}"
    if kind == "memory":
        return f"memory://hubfs-test/{name}", None
    if kind == "local":
        return str(tmp_path / name), None
    server = pool.get(kind)
    return server.url(f"{BUCKET}/{name}"), server.token()


@pytest.fixture(params=[pytest.param(k, marks=[pytest.mark.cloud] if k not in ("memory", "local") else [])
                        for k in STORE_IDS])
def store_url(request, server_pool, tmp_path):
    """``(url, token)``: a fresh, empty dataset url on each kind of store."""
    url, token = fresh_url(request.param, server_pool, tmp_path)
    yield url, token
    if request.param != "local":
        _remove(url, token)


@pytest.fixture
def remote_store(server_pool, tmp_path):
    """``(url, token)`` of a fresh dataset url on the S3 server (moto), for mount tests."""
    url, token = fresh_url("s3-moto", server_pool, tmp_path)
    yield url, token
    _remove(url, token)


@pytest.fixture
def store_server(server_pool):
    """``store_server(kind)`` -> the running ``servers.Server`` of that kind (s3-moto, s3-rclone, gcs, azure)."""
    return server_pool.get
