"""A store that dies mid-read: a clear StoreError within seconds, nothing corrupted, and recovery once
the server is back. rclone keeps its objects on disk, so the same server comes back with the same data."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import hubfs
from hubfs.dataset.stores import open_store
from hubfs.errors import ReadOnlyError, StoreError
from hubfs.schema import ClassLabel, Image, Tensor

import servers

N = 40
DEADLINE = 90.0  # seconds after which a failing call counts as hung (bounded retries and time-outs end far sooner)


@pytest.fixture
def killable():
    """A dedicated rclone S3 server this test may kill and restart (the shared ones stay up)."""
    server = servers.started(servers.RcloneServer, "hubfs-kill")
    yield server
    server.stop()


def image(i: int) -> np.ndarray:
    return np.full((28, 28), i, "uint8")


def write_dataset(url: str, token: dict) -> None:
    ds = hubfs.Dataset(url, shape=(N,), schema={"image": Image((28, 28)), "label": ClassLabel(num_classes=50)},
                       token=token)
    for i in range(N):
        ds["image", i] = image(i)
        ds["label", i] = i
    ds.close()


def test_a_store_killed_mid_read_is_a_store_error_then_recovers(killable):
    url, token = killable.url("hubfs-kill/ds"), killable.token()
    write_dataset(url, token)
    ds = hubfs.Dataset(url, mode="r", token=token, cache=1 << 16)  # small cache: reads go to the store
    outcome: dict = {"read": 0, "error": None}
    killed = threading.Event()

    def reader():
        i = 0
        while True:
            try:
                ds.cache.clear()
                np.testing.assert_array_equal(ds["image", i % N].compute(), image(i % N))
                outcome["read"] += 1
            except StoreError as exc:
                outcome["error"], outcome["at"] = exc, time.monotonic()
                return
            except Exception as exc:  # anything else is a wrong kind of error
                outcome["error"], outcome["at"] = exc, time.monotonic()
                return
            i += 1
            if killed.is_set() and time.monotonic() - outcome["killed_at"] > DEADLINE:
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(0.3)
    assert outcome["read"] > 0 and outcome["error"] is None
    killable.kill()
    outcome["killed_at"] = time.monotonic()
    killed.set()
    thread.join(DEADLINE + 5)
    assert not thread.is_alive(), "a read waited on a dead store"
    error = outcome["error"]
    assert isinstance(error, StoreError), f"expected StoreError, got {type(error).__name__}: {error}"
    assert isinstance(error, OSError)
    assert url in str(error) and token["aws_secret_access_key"] not in str(error)
    assert outcome["at"] - outcome["killed_at"] < DEADLINE

    killable.start()  # same port, same data folder
    for i in range(N):  # the same Dataset object reads again: the mount's case
        np.testing.assert_array_equal(ds["image", i].compute(), image(i))
    ds.close()
    ds = hubfs.Dataset(url, mode="r", token=token)
    assert [int(v) for v in ds["label", 0:N].compute()] == list(range(N))
    ds.close()


def test_writes_to_a_dead_store_fail_cleanly_and_leave_the_dataset_intact(killable):
    url, token = killable.url("hubfs-kill/w"), killable.token()
    write_dataset(url, token)
    ds = hubfs.Dataset(url, mode="r+", token=token)
    ds["label", 3] = 33
    ds["image", 5].compute()  # its chunk is cached: the write below needs no read of the dead store
    ds.flush()
    killable.kill()
    ds["label", 4] = 44
    ds["image", 5] = image(55)
    start = time.monotonic()
    with pytest.raises(StoreError):
        ds.flush()
    assert time.monotonic() - start < DEADLINE
    killable.start()
    ds.flush()  # the dirty samples are still there to write
    ds.close()
    ds = hubfs.Dataset(url, mode="r", token=token)
    assert [int(ds["label", i].compute()) for i in (3, 4)] == [33, 44]
    np.testing.assert_array_equal(ds["image", 5].compute(), image(55))
    np.testing.assert_array_equal(ds["image", 6].compute(), image(6))
    ds.close()


def test_every_store_call_on_a_dead_server_is_a_store_error_not_a_hang(killable):
    store = open_store(killable.url("hubfs-kill/s"), killable.token())
    store.put("k", b"v")
    killable.kill()
    for call in (lambda: store.get("k"), lambda: store.get_range("k", 0, 1), lambda: store.size("k"),
                 lambda: store.list(""), lambda: store.put("k2", b"x")):
        start = time.monotonic()
        with pytest.raises(StoreError):
            call()
        assert time.monotonic() - start < DEADLINE
    killable.start()
    assert store.get("k") == b"v"


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_a_server_that_accepts_and_never_answers_times_out(kind, monkeypatch):
    monkeypatch.setenv("HUBFS_READ_TIMEOUT", "1")
    monkeypatch.setenv("HUBFS_RETRIES", "2")
    silent = servers.SilentServer()
    try:
        url, token = {
            "s3": ("s3://bucket/ds", {"aws_access_key_id": "k", "aws_secret_access_key": "s",
                                      "endpoint_url": silent.endpoint}),
            "gcs": ("gcs://bucket/ds", {"token": "anon", "endpoint_url": silent.endpoint}),
            "azure": ("az://container/ds", {"account_name": servers.AZURITE_ACCOUNT,
                                            "account_key": servers.AZURITE_KEY,
                                            "endpoint_url": f"{silent.endpoint}/{servers.AZURITE_ACCOUNT}"}),
        }[kind]
        store = open_store(url, token)
        start = time.monotonic()
        with pytest.raises(StoreError):
            store.get("zarr.json")
        assert time.monotonic() - start < DEADLINE, "the call hung instead of timing out"
    finally:
        silent.close()


def test_failure_reasons_say_what_went_wrong_without_the_message(killable):
    from hubfs.dataset.stores import failure_reason, filesystem_for

    fs, root = filesystem_for(killable.url("hubfs-kill/r"), killable.token())
    with pytest.raises(FileNotFoundError) as missing:
        fs.cat_file(f"{root}/absent")
    assert "not found" in failure_reason(missing.value)
    killable.kill()
    with pytest.raises(Exception) as down:
        fs.cat_file(f"{root}/absent")
    assert failure_reason(down.value) == "cannot reach the server"
    assert failure_reason(TimeoutError()) == "timed out"
    assert failure_reason(ValueError("SECRET")) == "ValueError"


def test_a_missing_bucket_is_a_store_error_not_read_only(remote_store):
    """Only a store that refuses writes makes a dataset read-only; a missing bucket is a store failure."""
    url, token = remote_store
    bucket_and_path = url.split("://", 1)[1]
    missing = "s3://no-such-bucket-" + bucket_and_path.split("/", 1)[0][-8:] + "/ds"
    with pytest.raises(StoreError) as err:
        hubfs.Dataset(missing, shape=(1,), schema={"x": Tensor((2,), "int32")}, token=token)
    assert not isinstance(err.value, ReadOnlyError)
    assert "not found" in str(err.value)
