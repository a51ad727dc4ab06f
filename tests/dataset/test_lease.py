"""The writer lock across hosts (a second host simulated with HUBFS_HOST): a heartbeat keeps an idle
writer's lease, a writer paused past its lease loses the lock to another host and can commit nothing, and
every commit is fenced by the root's generation number. On a local folder and on the S3 server (moto)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import hubfs
from hubfs.errors import LockedError
from hubfs.schema import Tensor

LEASE = "2"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WRITER = textwrap.dedent("""
    import json, sys
    import hubfs
    from hubfs.errors import LockedError
    url, token = sys.argv[1], json.loads(sys.argv[2])
    ds = hubfs.Dataset(url, token=token)
    ds["x", 0] = 10.0
    ds.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    ds["x", 1] = 11.0
    ds.append_shape(1)
    try:
        ds.flush()
        print("committed", flush=True)
    except LockedError as exc:
        print("refused", exc, flush=True)
    try:
        ds.close()
    except LockedError:
        pass
""")


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "ds"), None
    return request.getfixturevalue("remote_store")


def _create(url, token):
    with hubfs.Dataset(url, mode="w", shape=(3,), schema={"x": Tensor((), "float32")}, token=token) as ds:
        ds["x", 2] = 2.0


def _spawn(host: str, url: str, token, script: str = WRITER) -> subprocess.Popen:
    env = dict(os.environ, HUBFS_HOST=host, HUBFS_LOCK_LEASE=LEASE, PYTHONPATH=ROOT)
    return subprocess.Popen([sys.executable, "-c", script, url, json.dumps(token)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_writer_paused_past_its_lease_loses_the_lock_and_commits_nothing(where, monkeypatch):
    url, token = where
    _create(url, token)
    a = _spawn("host-a", url, token)
    try:
        assert a.stdout.readline().strip() == "ready", a.stderr.read()
        os.kill(a.pid, signal.SIGSTOP)
        monkeypatch.setenv("HUBFS_HOST", "host-b")
        monkeypatch.setenv("HUBFS_LOCK_LEASE", LEASE)
        time.sleep(float(LEASE) * 1.5)  # A's heartbeat is older than the lease: host B may take the lock
        b = hubfs.Dataset(url, token=token)
        b["x", 2] = 22.0
        b.flush()  # B's commit
        os.kill(a.pid, signal.SIGCONT)
        a.stdin.write("go\n")
        a.stdin.flush()
        out, err = a.communicate(timeout=60)
        assert out.startswith("refused"), (out, err)
        assert "lock" in out
        b["x", 0] = 30.0
        b.flush()  # B still holds the lock: A's close did not remove it
        b.close()
    finally:
        if a.poll() is None:
            os.kill(a.pid, signal.SIGCONT)
            a.kill()
            a.wait()
    with hubfs.Dataset(url, mode="r", token=token) as ds:
        assert len(ds) == 3  # A's append_shape was never committed
        np.testing.assert_array_equal(ds["x", 0:3].compute(), [30.0, 0.0, 22.0])  # A's x[1] = 11 is not there


def test_an_idle_writer_keeps_its_lease_through_the_heartbeat(where, monkeypatch):
    url, token = where
    _create(url, token)
    monkeypatch.setenv("HUBFS_HOST", "host-a")
    monkeypatch.setenv("HUBFS_LOCK_LEASE", LEASE)
    ds = hubfs.Dataset(url, token=token)
    try:
        time.sleep(float(LEASE) * 2)  # no flush meanwhile: only the heartbeat renews
        other = _spawn("host-b", url, token, "import json, sys, hubfs\n"
                       "try:\n    hubfs.Dataset(sys.argv[1], mode='r+', token=json.loads(sys.argv[2]))\n"
                       "    print('took it')\nexcept hubfs.errors.LockedError:\n    print('locked')\n")
        out, err = other.communicate(timeout=60)
        assert out.strip() == "locked", (out, err)
        ds["x", 0] = 5.0
        ds.flush()
    finally:
        ds.close()
    with hubfs.Dataset(url, mode="r", token=token) as ds:
        assert float(ds["x", 0].compute()) == 5.0


def test_a_commit_is_fenced_by_the_root_generation(where):
    url, token = where
    _create(url, token)
    ds = hubfs.Dataset(url, token=token)
    try:
        from hubfs.dataset.stores import open_store

        store = open_store(url, token)
        doc = json.loads(store.get("zarr.json"))
        generation = doc["attributes"]["hubfs"]["generation"]
        doc["attributes"]["hubfs"]["generation"] = generation + 1  # a commit this writer did not make
        newer = json.dumps(doc).encode()
        store.put("zarr.json", newer)
        ds.append_shape(1)
        with pytest.raises(LockedError, match="committed by another writer"):
            ds.flush()
        assert store.get("zarr.json") == newer  # the newer commit is not overwritten
    finally:
        try:
            ds.close()
        except LockedError:
            pass
