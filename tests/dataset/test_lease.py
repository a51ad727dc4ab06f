"""The writer lock across hosts (a second host simulated with HUBFS_HOST): a heartbeat keeps an idle
writer's lease, a writer paused past its lease loses the lock to another host and can commit nothing, and
every commit is fenced by the root's generation number; two writer processes on two hosts race for the
lock and exactly one wins. On a local folder and on the S3 (moto), GCS (fake-gcs-server) and Azure
(Azurite) servers; the protocol's own races run in one process on memory and local."""
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


CLOUDS = [pytest.param(k, marks=pytest.mark.cloud) for k in ("s3-moto", "gcs", "azure")]


def _cloud_url(request, kind: str):
    """A fresh dataset url on the test server of ``kind``, removed afterwards."""
    import uuid

    from hubfs.dataset.stores import filesystem_for

    server = request.getfixturevalue("server_pool").get(kind)
    url, token = server.url(f"hubfs-test/ds-{uuid.uuid4().hex[:12]}"), server.token()

    def remove():
        fs, root = filesystem_for(url, token)
        if fs.exists(root):
            fs.rm(root, recursive=True)

    request.addfinalizer(remove)
    return url, token


@pytest.fixture(params=["local"] + CLOUDS)
def where(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "ds"), None
    return _cloud_url(request, request.param)


@pytest.fixture(params=CLOUDS)
def cloud(request):
    return _cloud_url(request, request.param)


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


# -- the protocol itself: two locks of one store in this process, each on its own simulated host ---------

class _Owner:
    """Stands for the Dataset state a WriterLock belongs to."""


def _lock_on(store, name: str, monkeypatch, lease: str = "600"):
    from hubfs.dataset.lock import WriterLock

    monkeypatch.setenv("HUBFS_HOST", name)
    monkeypatch.setenv("HUBFS_LOCK_LEASE", lease)
    owner = _Owner()
    lock = WriterLock(store, owner)
    lock.acquire()
    lock._stop.set()  # no heartbeat: the test renews by hand (as a paused writer would, once woken)
    return lock, owner


def _lapse(store):
    """Make every lease object in ``store`` look older than its lease, as a long pause would."""
    from hubfs.dataset import lock

    for n in lock.numbers(store):
        info = json.loads(store.get(lock.lease_key(n)))
        info["heartbeat"] -= 3600
        store.put(lock.lease_key(n), json.dumps(info).encode())


@pytest.fixture
def lock_store(url):
    from hubfs.dataset.stores import open_store

    return open_store(url, None)


def test_a_paused_holders_renewal_cannot_take_the_lock_back(lock_store, monkeypatch):
    from hubfs.dataset import lock

    a, _a = _lock_on(lock_store, "host-a", monkeypatch)
    _lapse(lock_store)
    b, _b = _lock_on(lock_store, "host-b", monkeypatch)  # A's lease lapsed: B creates the next number
    assert b.number == a.number + 1
    a.renew()  # A wakes: its renewal wants the number B created
    assert a.lost and "taken by another writer" in a.lost
    with pytest.raises(LockedError):
        a.verify()
    assert lock.holder(lock_store)["token"] == b.token  # B's lease object is untouched
    b.verify()
    b.renew()
    assert lock.numbers(lock_store) == [b.number]  # the older objects are cleaned up
    a.release()  # a writer that lost never touches the lock
    assert lock.holder(lock_store)["token"] == b.token
    b.release()
    assert lock.holder(lock_store) is None


def test_a_number_recreated_after_clean_up_is_not_the_lock(lock_store, monkeypatch):
    from hubfs.dataset import lock

    a, _a = _lock_on(lock_store, "host-a", monkeypatch)
    _lapse(lock_store)
    b, _b = _lock_on(lock_store, "host-b", monkeypatch)
    b.renew()  # B moves on and deletes the number it took over with: A's next number is free again
    assert not lock_store.exists(lock.lease_key(a.number + 1))
    a.renew()  # A creates it, then sees B's newer one (and its own previous one gone)
    assert a.lost
    assert lock.numbers(lock_store) == [b.number]  # A removed what it created
    b.verify()


def test_a_taker_in_the_same_process_right_after_a_create_sees_a_live_holder(lock_store, monkeypatch):
    # The interleaving the racing test below hits now and then, made certain: writer W has just created its
    # lease object (and not yet returned from acquire) when another writer of this process looks at it.
    from hubfs.dataset.lock import WriterLock

    monkeypatch.setenv("HUBFS_HOST", "host-b")
    w_owner, t_owner = _Owner(), _Owner()
    w, t = WriterLock(lock_store, w_owner), WriterLock(lock_store, t_owner)
    real = lock_store.put_if_absent
    outcome = []

    def put_then_race(key, data):
        created = real(key, data)
        if created and not outcome:
            try:
                t.acquire()
                outcome.append("also took it")
            except LockedError:
                outcome.append("locked")
        return created

    monkeypatch.setattr(lock_store, "put_if_absent", put_then_race)
    w.acquire()
    monkeypatch.setattr(lock_store, "put_if_absent", real)
    assert outcome == ["locked"]
    w.verify()
    w.release()


def test_racing_takers_of_a_lapsed_lease_one_wins(lock_store, monkeypatch):
    import threading

    from hubfs.dataset.lock import WriterLock

    a, _a = _lock_on(lock_store, "host-a", monkeypatch)
    _lapse(lock_store)
    monkeypatch.setenv("HUBFS_HOST", "host-b")
    owners = [_Owner() for _ in range(8)]
    takers = [WriterLock(lock_store, o) for o in owners]
    start, results = threading.Barrier(len(takers)), []

    def take(t):
        start.wait()
        try:
            t.acquire()
            results.append("won")
        except LockedError:
            results.append("locked")

    threads = [threading.Thread(target=take, args=(t,)) for t in takers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["locked"] * 7 + ["won"]
    a.renew()
    assert a.lost
    for t in takers:
        t.release()


def test_a_released_lock_is_taken_at_once_and_numbers_only_grow(lock_store, monkeypatch):
    from hubfs.dataset import lock

    seen = []
    for host_name in ("host-a", "host-b", "host-a"):
        w, _o = _lock_on(lock_store, host_name, monkeypatch)
        seen.append(w.number)
        for _ in range(3):
            w.renew()
        assert lock.numbers(lock_store) == [w.number]
        w.release()
        assert len(lock.numbers(lock_store)) == 1 and lock.holder(lock_store) is None  # the release marker
    assert seen == sorted(seen) and len(set(seen)) == 3


RACER = textwrap.dedent("""
    import json, sys
    import hubfs
    from hubfs.errors import LockedError
    url, token = sys.argv[1], json.loads(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        ds = hubfs.Dataset(url, mode="r+", token=token)
    except LockedError:
        print("locked", flush=True)
        sys.exit(0)
    print("won", flush=True)
    sys.stdin.readline()  # hold the lock until the parent has seen both answers
    ds["x", 0] = float(sys.argv[3])
    ds.close()
    print("closed", flush=True)
""")


def _race(url, token) -> tuple[str, str]:
    """Two processes on hosts A and B open ``url`` for writing at one moment: their answers."""
    racers = []
    for name in ("host-a", "host-b"):
        env = dict(os.environ, HUBFS_HOST=name, HUBFS_LOCK_LEASE=LEASE, PYTHONPATH=ROOT)
        racers.append(subprocess.Popen([sys.executable, "-c", RACER, url, json.dumps(token), str(len(racers) + 40)],
                                       env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE))
    try:
        for r in racers:
            assert r.stdout.readline().strip() == "ready", r.stderr.read()
        for r in racers:
            r.stdin.write("go\n")
            r.stdin.flush()
        answers = [r.stdout.readline().strip() for r in racers]
        for r in racers:
            out, err = r.communicate("\n", timeout=120)
            assert r.returncode == 0, err
        return answers[0], answers[1]
    finally:
        for r in racers:
            if r.poll() is None:
                r.kill()
                r.wait()


def test_two_hosts_race_for_the_lock_and_exactly_one_wins(cloud):
    from hubfs.dataset import lock
    from hubfs.dataset.stores import open_store

    url, token = cloud
    _create(url, token)
    store = open_store(url, token)
    for round_ in ("released", "lapsed"):
        if round_ == "lapsed":  # a third host's lease, long lapsed: both racers try to take it over
            top = lock.numbers(store)[-1]
            store.put(lock.lease_key(top + 1), json.dumps({"host": "host-c", "pid": 1, "token": "c",
                                                           "heartbeat": time.time() - 3600, "lease": 2}).encode())
        answers = _race(url, token)
        assert sorted(answers) == ["locked", "won"], (round_, answers)
        assert lock.holder(store) is None  # the winner closed
        with hubfs.Dataset(url, mode="r", token=token) as ds:
            assert float(ds["x", 0].compute()) == 40.0 + answers.index("won")
        assert len(lock.numbers(store)) == 1  # the old numbers were cleaned up
