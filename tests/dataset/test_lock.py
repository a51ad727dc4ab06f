"""One writer at a time: a second writer gets LockedError, a dead writer's lock is stale, readers always open."""
from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hubfs
from hubfs.dataset import lock
from hubfs.dataset.stores import open_store
from hubfs.errors import LockedError
from hubfs.schema import ClassLabel, Image

HOLDER = textwrap.dedent("""\
    import sys, time
    import hubfs
    ds = hubfs.Dataset(sys.argv[1], mode="r+")
    ds["label", 0] = 9  # unflushed: a killed holder never writes it
    print("holding", flush=True)
    time.sleep(120)
""")


def make(open_ds, url):
    ds = open_ds(url, shape=(4,), schema={"image": Image((2, 2)), "label": ClassLabel(num_classes=10)})
    for i in range(4):
        ds["label", i] = i
        ds["image", i] = np.full((2, 2), i, "uint8")
    ds.close()


@pytest.fixture
def holder(local_url, open_ds):
    """A child process holding the writer lock of a dataset at ``local_url``."""
    make(open_ds, local_url)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, local_url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


@pytest.mark.parametrize("mode", ["r+", "a", "w", None])
def test_second_writer_in_another_process_gets_locked_error(holder, local_url, open_ds, mode):
    with pytest.raises(LockedError) as err:
        open_ds(local_url, mode=mode, shape=(4,), schema={"image": Image((2, 2)), "label": ClassLabel(num_classes=10)})
    assert str(holder.pid) in str(err.value)
    assert isinstance(err.value, OSError)
    reader = open_ds(local_url, mode="r")  # mode="w" did not wipe anything
    assert reader["label", 3].compute() == 3


def test_readers_open_while_another_process_writes(holder, local_url, open_ds):
    readers = [open_ds(local_url, mode="r") for _ in range(3)]
    for r in readers:
        assert r.read_only
        np.testing.assert_array_equal(r["label", 0:4].compute(), [0, 1, 2, 3])


def test_lock_of_a_process_killed_with_sigkill_is_stale(holder, local_url, open_ds):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert lock.holder(open_store(local_url, None))["pid"] == holder.pid  # left behind by the dead writer
    ds = open_ds(local_url, mode="r+")
    assert not ds.read_only
    assert ds["label", 0].compute() == 0
    ds["label", 0] = 5
    ds.close()
    assert open_ds(local_url, mode="r")["label", 0].compute() == 5


def test_opening_again_in_the_same_process_shares_the_dataset(url, open_ds):
    make(open_ds, url)
    writer = open_ds(url, mode="r+")
    schema = {"image": Image((2, 2)), "label": ClassLabel(num_classes=10)}
    second = open_ds(url, mode="a", shape=(4,), schema=schema)
    third = open_ds(url)
    reader = open_ds(url, mode="r")
    assert reader["label", 2].compute() == 2
    writer["label", 2] = 7
    assert second["label", 2].compute() == 7 and reader["label", 2].compute() == 7  # one state, no flush
    third["label", 3] = 8
    writer.close()
    second.close()
    third.close()
    again = open_ds(url, mode="r+")
    assert again["label", 2].compute() == 7 and again["label", 3].compute() == 8


def test_lock_released_by_close_and_delete(url, open_ds, other_url):
    make(open_ds, url)
    first = open_ds(url, mode="r+")
    first.close()
    second = open_ds(url, mode="r+")
    second.delete()
    third = open_ds(url, shape=(1,), schema={"label": ClassLabel(num_classes=2)})
    assert len(third) == 1


def test_lock_of_a_garbage_collected_dataset_is_stale(url, open_ds, files):
    make(open_ds, url)
    ds = hubfs.Dataset(url, mode="r+")
    ds._closed = True  # as if __del__ could not run: the lock object stays in the store
    del ds
    gc.collect()
    assert lock.holder(open_store(url, None)) is not None
    again = open_ds(url, mode="r+")
    assert again["label", 1].compute() == 1


@pytest.mark.parametrize("cache", [0, 64 << 20])
def test_reader_keeps_reading_while_a_writer_rewrites_shards(url, open_ds, cache):
    make(open_ds, url)
    writer = open_ds(url, mode="r+")
    reader = open_ds(url, mode="r", cache=cache)
    assert reader["label", 1].compute() == 1
    np.testing.assert_array_equal(reader["image", 1].compute(), np.full((2, 2), 1))
    writer["image", 2] = np.full((2, 2), 200, "uint8")
    writer.append({"image": np.full((2, 2), 4, "uint8"), "label": 4})
    writer.flush()
    for i in (0, 1, 3):  # untouched samples read as before
        np.testing.assert_array_equal(reader["image", i].compute(), np.full((2, 2), i))
        assert reader["label", i].compute() == i
    assert reader["image", 2].compute()[0, 0] in (2, 200)  # old or new, never an error


def test_a_dataset_collected_while_another_thread_holds_the_states_lock_closes_later(local_url, open_ds):
    """The deadlock once seen in CI: a collection (there inside Thread.start() of the heartbeat) ran a
    dropped Dataset's __del__, which waited for the states lock held by the thread waiting for it."""
    import threading

    from hubfs.dataset import dataset as dataset_module
    from hubfs.dataset import finalize

    make(open_ds, local_url)
    ds = hubfs.Dataset(local_url, mode="r+")
    ds["label", 0] = 7  # unflushed: the deferred close must flush it
    cycle = [ds]
    cycle.append(cycle)  # only the collector frees it
    del ds
    held, go = threading.Event(), threading.Event()

    def hold_states_lock():
        with dataset_module._STATES_LOCK:
            held.set()
            go.wait(120)

    holder_thread = threading.Thread(target=hold_states_lock)
    holder_thread.start()
    assert held.wait(60)
    collected = threading.Event()

    def collect():
        gc.collect()
        collected.set()

    try:
        del cycle
        collector = threading.Thread(target=collect)
        collector.start()
        collector.join(60)
        assert collected.is_set(), "__del__ waited for the states lock inside a collection"
        assert lock.holder(open_store(local_url, None))["pid"] == os.getpid()  # not closed yet: deferred
    finally:
        go.set()
        holder_thread.join()
    assert finalize.settle(60)
    code = "import hubfs, sys; print(hubfs.Dataset(sys.argv[1], mode='r+')['label', 0].compute())"
    out = subprocess.run([sys.executable, "-c", code, local_url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "7"  # flushed and released by the reaper


def test_a_dataset_dropped_without_the_collector_closes_at_once(local_url, open_ds):
    make(open_ds, local_url)
    ds = hubfs.Dataset(local_url, mode="r+")
    ds["label", 1] = 8
    del ds
    assert lock.holder(open_store(local_url, None)) is None
    assert open_ds(local_url, mode="r")["label", 1].compute() == 8
