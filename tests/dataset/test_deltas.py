"""Deltas of the chunked layout: a flush that changed few samples of a stored chunk writes only them.

Each test checks a property of doc/DESIGN.md's "Deltas": the bytes one edit writes (counted from the files
it changed, never from timings), readers in other processes (new value after a refresh, old or new while a
writer runs, never a mix), compaction (close, commit: plain zarr then reads the exact data), kill -9 at
any moment, shrinking, and corruption of a delta object.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import fsspec
import numpy as np
import pytest
import zarr

import hubfs
from hubfs.codecs import registry
from hubfs.dataset import arrays, layout
from hubfs.dataset.versions import diff, open_versions
from hubfs.errors import CorruptionError
from hubfs.schema import Image, Tensor

N = 256  # 4 chunks of 64
PER = 64
SHAPE = (16, 16)
SCHEMA = {"x": Tensor(SHAPE, "int32", chunks=PER)}
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def encode_chunk(array: np.ndarray, compressor: str) -> bytes:
    """``array`` as a chunk of it is stored by ``compressor`` (what one sample costs alone)."""
    return registry.get(compressor).encode_chunk(array)


def pattern(j: int) -> np.ndarray:
    """Sample ``j``'s base pattern: random enough that a chunk of them is many times one sample's delta."""
    return np.random.default_rng(j).integers(0, 1 << 20, SHAPE, dtype="int32")


def value(j: int, k: int) -> np.ndarray:
    """Sample ``j`` at step ``k``: its pattern plus ``k`` everywhere (a read tells its step, and whether
    it is whole: every element must say the same step)."""
    return pattern(j) + np.int32(k)


def step_of(j: int, got: np.ndarray) -> int:
    diff = np.asarray(got, dtype=np.int64) - pattern(j)
    assert (diff == diff.flat[0]).all(), f"sample {j} is a mix of values: steps {sorted(set(diff.flat))[:5]}"
    return int(diff.flat[0])


def build(url: str, n: int = N, token=None) -> None:
    ds = hubfs.Dataset(url, mode="w", shape=(n,), schema=SCHEMA, token=token)
    ds["x", 0:n] = np.stack([value(j, 0) for j in range(n)])
    ds.close()


def root_attrs(url: str) -> dict:
    fs, root = fsspec.core.url_to_fs(url)
    return json.loads(fs.cat_file(f"{root.rstrip('/')}/zarr.json"))["attributes"]["hubfs"]


def delta_keys(files, url: str) -> list[str]:
    return sorted(k for k in files(url) if f"/{layout.DELTA_DIR}/" in k)


def run_python(code: str, timeout: int = 120) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def snapshot(path: str) -> dict[str, tuple[int, int, int]]:
    out = {}
    for d, _, names in os.walk(path):
        for name in names:
            st = os.stat(os.path.join(d, name))
            out[os.path.relpath(os.path.join(d, name), path)] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def changed_data_bytes(before: dict, after: dict) -> dict[str, int]:
    """Files written between two snapshots, less the metadata (zarr.json documents, the writer lock)."""
    return {k: v[0] for k, v in after.items() if before.get(k) != v
            and not k.endswith(layout.ZARR_JSON) and not k.endswith(".lock")}


# -- one edit ------------------------------------------------------------------------------------------
def test_edit_flush_writes_a_delta_and_a_new_process_reads_the_new_value(url, files, open_ds):
    build(url)
    ds = open_ds(url, mode="r+")
    chunk_before = files(url)["x/data/c/1/0/0"]
    ds["x", 70] = value(70, 5)
    ds.flush()
    assert files(url)["x/data/c/1/0/0"] == chunk_before  # the chunk was not rewritten
    assert len(delta_keys(files, url)) == 1
    attrs = root_attrs(url)
    assert attrs["format"] == 2 and list(attrs["deltas"]["x/data"]) == ["1"]
    assert "x/present" not in attrs["deltas"]  # the present mark did not change
    if url.startswith("memory://"):
        return  # another process has its own memory store
    out = run_python(f"import hubfs; ds = hubfs.Dataset({url!r}, mode='r'); "
                     f"print(ds['x', 70].compute().tolist()); print(ds['x', 0:{N}].compute().sum())")
    lines = out.splitlines()
    assert np.array_equal(np.array(json.loads(lines[0])), value(70, 5))
    assert int(lines[1]) == int(sum(value(j, 5 if j == 70 else 0).sum() for j in range(N)))
    # plain zarr reads the last compacted state until the writer compacts (on close)
    assert np.array_equal(zarr.open_group(url, mode="r")["x/data"][70], value(70, 0))


def test_on_s3_deltas_are_read_by_a_new_process_and_compacted_on_close(remote_store):
    url, token = remote_store
    build(url, token=token)
    ds = hubfs.Dataset(url, mode="r+", token=token)
    for k, j in enumerate((1, 2, 3, 70), start=1):  # chunk 0 gets three segments: fetched in parallel
        ds["x", j] = value(j, k)
        ds.flush()
    out = run_python(f"import sys, json; sys.path.insert(0, {HERE!r})\nimport hubfs\nfrom test_deltas import step_of\n"
                     f"r = hubfs.Dataset({url!r}, mode='r', token=json.loads({json.dumps(json.dumps(token))}))\n"
                     f"print([step_of(j, r['x', j].compute()) for j in (0, 1, 2, 3, 70)])\n")
    assert out.split("\n")[0] == "[0, 1, 2, 3, 4]"
    ds.close()
    fs, root = fsspec.core.url_to_fs(url, **{"key": token["aws_access_key_id"],
                                             "secret": token["aws_secret_access_key"],
                                             "client_kwargs": {"endpoint_url": token["endpoint_url"]}})
    assert not [k for k in fs.find(root) if f"/{layout.DELTA_DIR}/" in k]
    r = hubfs.Dataset(url, mode="r", token=token)
    assert [step_of(j, r["x", j].compute()) for j in (0, 1, 2, 3, 70)] == [0, 1, 2, 3, 4]
    r.close()


def test_one_edited_sample_writes_at_most_4x_its_encoded_size(tmp_path):
    """The issue's target, on MNIST-like images with the getting-started schema and its defaults."""
    path = str(tmp_path / "mnist")
    rng = np.random.default_rng(3)
    n = 1024
    images = np.zeros((n, 28, 28), "uint8")
    for j in range(n):  # a stroke-like blob per image: compresses as digits do, not as noise
        y, x = rng.integers(6, 22, 2)
        images[j, y - 5:y + 5, x - 3:x + 3] = rng.integers(100, 255, (10, 6))
    ds = hubfs.Dataset(path, mode="w", shape=(n,), schema={"image": Image((28, 28))})
    ds["image", 0:n] = images
    ds.close()
    ds = hubfs.Dataset(path, mode="r+")
    chunk_len = ds.tensor_type("image").chunks
    before = snapshot(path)
    ds["image", n // 2] = images[3]
    ds.flush()
    written = changed_data_bytes(before, snapshot(path))
    share = sum(size for rel, (size, _, _) in snapshot(os.path.join(path, "image")).items()
                if not rel.endswith(layout.ZARR_JSON)) / n
    encoded = len(encode_chunk(images[3:4], "lz4"))
    assert list(written) == [k for k in written if "/d/" in k] and len(written) == 1, written
    assert sum(written.values()) <= 4 * share, (written, share)
    assert sum(written.values()) <= 4 * encoded, (written, encoded)
    chunk_bytes = os.path.getsize(os.path.join(path, "image/data/c", str(n // 2 // chunk_len), "0/0"))
    assert sum(written.values()) * 20 < chunk_bytes  # the whole chunk would have been this
    ds.close()
    assert np.array_equal(zarr.open_group(path, mode="r")["image/data"][n // 2], images[3])


def test_many_changed_samples_of_a_chunk_rewrite_it_whole(url, files, open_ds):
    build(url)
    ds = open_ds(url, mode="r+")
    for j in range(0, PER // 2):
        ds["x", j] = value(j, 1)
    ds.flush()
    assert delta_keys(files, url) == [] and "deltas" not in root_attrs(url)
    assert root_attrs(url)["format"] == 1


def test_a_chunk_s_deltas_are_merged_past_the_count_and_compacted_past_the_fraction(url, files, open_ds):
    build(url)
    ds = open_ds(url, mode="r+")
    steps = range(1, 5 * arrays.DELTA_MAX_COUNT)
    counts = []
    for k in steps:  # a new sample of chunk 0 each time
        ds["x", k % PER] = value(k % PER, k)
        ds.flush()
        record = root_attrs(url).get("deltas", {}).get("x/data", {}).get("0", "")
        counts.append(len(record.split()) - 1 if record else 0)
        assert len(delta_keys(files, url)) == counts[-1]  # dropped delta objects are deleted
        stored = len(files(url)["x/data/c/0/0/0"])
        live = sum(int(ref.split(":")[2]) for ref in record.split()[1:])
        assert live * arrays.DELTA_MAX_FRACTION <= stored
    assert max(counts) == arrays.DELTA_MAX_COUNT
    merges = [i for i in range(1, len(counts)) if counts[i - 1] == arrays.DELTA_MAX_COUNT and counts[i] == 1]
    compactions = [i for i in range(1, len(counts)) if counts[i] == 0]
    assert merges and compactions, counts
    for k in steps:
        assert step_of(k % PER, ds["x", k % PER].compute()) == k
    reader = run_python(f"import sys; sys.path.insert(0, {HERE!r})\nimport hubfs\nfrom test_deltas import step_of\n"
                        f"r = hubfs.Dataset({url!r}, mode='r')\n"
                        f"print([step_of(j, r['x', j].compute()) for j in range(1, {len(steps) + 1})])\n"
                        ) if not url.startswith("memory://") else str(list(steps))
    assert reader.strip() == str(list(steps))


def test_one_delta_object_per_flush_for_many_chunks(url, files, open_ds):
    build(url)
    ds = open_ds(url, mode="r+")
    for j in (1, 65, 130, 200):
        ds["x", j] = value(j, 2)
    ds.flush()
    assert len(delta_keys(files, url)) == 1
    assert sorted(root_attrs(url)["deltas"]["x/data"]) == ["0", "1", "2", "3"]
    ds2 = hubfs.Dataset(url, mode="r")  # the same process shares the state: reads through it
    assert [step_of(j, ds2["x", j].compute()) for j in (1, 65, 130, 200, 3)] == [2, 2, 2, 2, 0]


def test_evicted_chunks_write_deltas_that_the_next_flush_commits(url, files, open_ds):
    build(url)
    ds = open_ds(url, mode="r+", cache=96 << 10)  # holds one decoded chunk (64 KiB) at a time
    for k in range(1, 7):  # alternating chunks: each write evicts the other, dirty, chunk
        ds["x", (k % 2) * PER + k] = value((k % 2) * PER + k, k)
    assert delta_keys(files, url) and "deltas" not in root_attrs(url)  # written, not yet committed
    ds.flush()
    assert sorted(root_attrs(url)["deltas"]["x/data"]) == ["0", "1"]
    got = [step_of((k % 2) * PER + k, ds["x", (k % 2) * PER + k].compute()) for k in range(1, 7)]
    assert got == list(range(1, 7))


def test_past_the_chunk_limit_further_chunks_are_written_whole(url, files, open_ds, monkeypatch):
    monkeypatch.setattr(arrays, "DELTA_MAX_CHUNKS", 2)
    build(url)
    ds = open_ds(url, mode="r+")
    before = files(url)
    for j in (1, 65, 130):
        ds["x", j] = value(j, 1)
    ds.flush()
    after = files(url)
    assert sorted(root_attrs(url)["deltas"]["x/data"]) == ["0", "1"]
    assert after["x/data/c/2/0/0"] != before["x/data/c/2/0/0"]  # the third chunk was rewritten
    assert after["x/data/c/0/0/0"] == before["x/data/c/0/0/0"]
    assert [step_of(j, ds["x", j].compute()) for j in (1, 65, 130)] == [1, 1, 1]


# -- compaction --------------------------------------------------------------------------------------
def test_close_compacts_and_zarr_reads_the_exact_data(url, files):
    build(url)
    ds = hubfs.Dataset(url, mode="r+")
    want = np.stack([value(j, 0) for j in range(N)])
    for k, j in enumerate((3, 64, 65, 190, 255, 3)):
        ds["x", j] = want[j] = value(j, k + 1)
        ds.flush()
    assert delta_keys(files, url)
    ds.close()
    assert delta_keys(files, url) == []
    attrs = root_attrs(url)
    assert attrs["format"] == 1  # the document of datasets written before deltas, nothing more
    assert sorted(attrs) == ["format", "generation", "length", "meta_information", "schema"]
    g = zarr.open_group(url, mode="r")
    np.testing.assert_array_equal(g["x/data"][:], want)
    np.testing.assert_array_equal(g["x/present"][:], np.ones(N, "uint8"))
    ds = hubfs.Dataset(url, mode="r")
    np.testing.assert_array_equal(ds["x", 0:N].compute(), want)


def test_interpreter_exit_compacts_like_close(local_url, files):
    build(local_url)
    run_python(f"import numpy as np, hubfs\nds = hubfs.Dataset({local_url!r}, mode='r+')\n"
               f"ds['x', 9] = np.full({SHAPE}, 7, 'int32')\nds.flush()\n")  # never closed
    assert delta_keys(files, local_url) == [] and "deltas" not in root_attrs(local_url)
    assert (zarr.open_group(local_url, mode="r")["x/data"][9] == 7).all()


# -- readers in other processes ---------------------------------------------------------------------------
EDIT_LOOP = """\
import sys, time
sys.path.insert(0, {here!r})
import hubfs
from test_deltas import value
ds = hubfs.Dataset({path!r}, mode="r+", cache={cache})
k = 0
deadline = time.monotonic() + {seconds}
while time.monotonic() < deadline or {forever}:
    k += 1
    j = {samples}[k % {m}]
    ds["x", j] = value(j, k)
    print("flushing", k, flush=True)
    ds.flush()
    print("flushed", k, flush=True)
    if {reopen_every} and k % {reopen_every} == 0:
        print("closing", k, flush=True)
        ds.close()  # compaction
        ds = hubfs.Dataset({path!r}, mode="r+", cache={cache})
        print("reopened", k, flush=True)
ds.close()
print("done", k, flush=True)
"""

SAMPLES = [0, 1, 2, 3, 5, 70]  # five in chunk 0, one in chunk 1


def edit_loop(path: str, seconds: float = 4.0, cache: int = 64 << 20, reopen_every: int = 0,
              forever: bool = False) -> subprocess.Popen:
    code = EDIT_LOOP.format(here=HERE, path=path, cache=cache, seconds=seconds, forever=forever,
                            samples=SAMPLES, m=len(SAMPLES), reopen_every=reopen_every)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def test_a_reader_beside_a_writer_sees_old_or_new_never_a_mix(local_url):
    build(local_url)
    writer = edit_loop(local_url, seconds=4.0, reopen_every=25)
    reader = hubfs.Dataset(local_url, mode="r", cache=1 << 20)  # small: chunks are re-read from the store
    last = {j: 0 for j in SAMPLES}
    reads = refreshes = 0
    try:
        while writer.poll() is None:
            reader.refresh()
            refreshes += 1
            block = reader["x", 0:PER].compute()
            for j in SAMPLES:
                got = step_of(j, block[j] if j < PER else reader["x", j].compute())
                assert got >= last[j], f"sample {j} went back from step {last[j]} to {got}"
                assert got == 0 or SAMPLES[got % len(SAMPLES)] == j, f"sample {j} holds step {got}, not its own"
                last[j] = got
                reads += 1
            for j in (4, 6, 63, 64, 100):  # samples nobody edits stay as they were
                assert step_of(j, reader["x", j].compute()) == 0
    finally:
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    steps = int(out.split()[-1])
    assert steps > 20 and refreshes > 5, (steps, refreshes)
    assert any(v > 0 for v in last.values())
    reader.refresh()
    for j in SAMPLES:
        assert step_of(j, reader["x", j].compute()) == max(k for k in range(1, steps + 1)
                                                         if SAMPLES[k % len(SAMPLES)] == j)
    print(f"{reads} reads over {refreshes} refreshes beside {steps} flushes")


def test_a_reader_that_does_not_refresh_keeps_its_view_or_sees_newer(local_url, open_ds):
    build(local_url)
    ds = open_ds(local_url, mode="r+")
    ds["x", 1] = value(1, 1)
    ds.flush()
    code = (f"import sys; sys.path.insert(0, {HERE!r})\nimport hubfs\nfrom test_deltas import step_of\n"
            f"r = hubfs.Dataset({local_url!r}, mode='r', cache=0)\n"  # keeps only the chunk read last
            f"def read():\n    r['x', 200].compute()\n    return step_of(1, r['x', 1].compute())\n"  # chunk 0 re-read
            f"print(read(), flush=True)\ninput()\n"
            f"print(read(), r.stale(), flush=True)\ninput()\n"
            f"print(read(), flush=True)\nr.refresh()\nprint(read())\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().split() == ["1"]
    ds["x", 1] = value(1, 2)  # a second delta: the reader's root does not know it yet
    ds.flush()
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().split() == ["1", "False"]  # its view; values alone do not make it stale
    ds.close()  # compaction: chunk rewritten, both delta objects deleted under the reader
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert out.split() == ["2", "2"], err  # the compacted chunk holds the newest value


# -- crashes -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", ["flushes", "compactions"])
def test_kill_9_leaves_old_or_new_value_of_every_sample(tmp_path, scenario):
    path = str(tmp_path / "ds")
    build(path)
    rng = random.Random(f"hubfs-deltas-{scenario}")
    base = {j: 0 for j in SAMPLES}  # each sample's step when the round started
    m = len(SAMPLES)
    for rnd in range(5):
        cache = rng.choice([8 << 10, 64 << 10, 64 << 20])  # small caches evict chunks between flushes
        writer = edit_loop(path, cache=cache, reopen_every=3 if scenario == "compactions" else 0, forever=True)
        flushed, target = 0, rng.randint(2, 12)
        while flushed < target:
            line = writer.stdout.readline()
            assert line, writer.stderr.read()
            if line.startswith("flushed"):
                flushed = int(line.split()[1])
        time.sleep(rng.uniform(0, 0.02))  # inside an edit, a flush, or a close's compaction
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        for line in writer.stdout.read().splitlines():  # printed before the kill: committed too
            if line.startswith("flushed"):
                flushed = max(flushed, int(line.split()[1]))
        writer.stdout.close()
        writer.stderr.close()
        # The round's writer set sample SAMPLES[k % m] to step k, k = 1, 2, ...; steps up to ``flushed``
        # are committed, step flushed + 1 was in flight.
        ds = hubfs.Dataset(path, mode="r")
        block = ds["x", 0:N].compute()
        ds.close()
        for j in range(N):
            got = step_of(j, block[j])
            if j not in SAMPLES:
                assert got == 0, j
                continue
            old = max([k for k in range(1, flushed + 1) if SAMPLES[k % m] == j], default=base[j])
            new = flushed + 1 if SAMPLES[(flushed + 1) % m] == j else old
            assert got in (old, new), f"round {rnd}: sample {j} holds step {got}, not {old} or {new}"
            base[j] = got
    ds = hubfs.Dataset(path, mode="r+")  # takes the dead writer's lock, sweeps its uncommitted deltas
    ds.close()
    # (a put the kill interrupted may leave the local store's temp file: never a key, not a delta)
    assert not [k for k in snapshot(path) if f"/{layout.DELTA_DIR}/" in k and not k.endswith(".tmp")]
    g = zarr.open_group(path, mode="r")
    np.testing.assert_array_equal(g["x/data"][:], np.stack([value(j, base.get(j, 0)) for j in range(N)]))


def test_a_delta_written_but_not_committed_is_ignored(local_url, files):
    build(local_url)
    code = (f"import os, signal, numpy as np, hubfs\nds = hubfs.Dataset({local_url!r}, mode='r+')\n"
            f"put = ds._s.store.put\n"
            f"def put_then_die(key, data):\n    put(key, data)\n"
            f"    if '/d/' in key:\n        os.kill(os.getpid(), signal.SIGKILL)  # before the root is written\n"
            f"ds._s.store.put = put_then_die\n"
            f"ds['x', 5] = np.full({SHAPE}, 9, 'int32')\nds.flush()\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(delta_keys(files, local_url)) == 1 and "deltas" not in root_attrs(local_url)
    ds = hubfs.Dataset(local_url, mode="r")
    assert step_of(5, ds["x", 5].compute()) == 0
    ds.close()
    ds = hubfs.Dataset(local_url, mode="r+")  # the next writer deletes the orphan
    assert delta_keys(files, local_url) == []
    ds.close()


PAUSED_READER = """\
import sys
sys.path.insert(0, {here!r})
import hubfs
from test_deltas import step_of
r = hubfs.Dataset({path!r}, mode="r")
store = r._s.store
get = store.get
paused = []
def get_then_wait(key, start=None, end=None):
    out = get(key, start, end)
    if key == "x/data/c/0/0/0" and not paused:
        paused.append(key)
        print("paused", flush=True)
        input()  # the writer deletes the deltas this reader's root records meanwhile
    return out
store.get = get_then_wait
print([step_of(j, r["x", j].compute()) for j in range(12)], flush=True)
"""


@pytest.mark.parametrize("writer_does", ["compaction", "merge"])
def test_a_reader_whose_deltas_were_deleted_under_it_reads_the_current_ones(local_url, open_ds, writer_does):
    build(local_url)
    ds = open_ds(local_url, mode="r+")
    for k in range(1, arrays.DELTA_MAX_COUNT + 1):  # chunk 0: as many segments as it may have
        ds["x", k] = value(k, k)
        ds.flush()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", PAUSED_READER.format(here=HERE, path=local_url)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout.readline().strip() == "paused"  # it read the chunk, not yet its deltas
    k = arrays.DELTA_MAX_COUNT + 1
    ds["x", k] = value(k, k)
    ds.flush()  # one more segment: the eight are merged into one, their objects deleted
    if writer_does == "compaction":
        ds.close()  # chunk 0 rewritten with the deltas folded in; every delta object deleted
    out, err = proc.communicate("\n", timeout=60)
    assert proc.returncode == 0, err
    assert out.split("\n")[0] == str([0] + list(range(1, k + 1)) + [0, 0])


def test_bytes_the_store_is_given_for_one_edit(url, open_ds):
    """Counted at the store (what an object store would be sent), on every kind of store."""
    build(url)
    ds = open_ds(url, mode="r+")
    sent: dict[str, int] = {}
    put = ds._s.store.put
    ds._s.store.put = lambda key, data: (sent.__setitem__(key, sent.get(key, 0) + len(data)), put(key, data))[1]
    ds["x", 130] = value(130, 1)
    ds.flush()
    data = {k: n for k, n in sent.items() if not k.endswith(layout.ZARR_JSON) and not k.endswith(".lock")}
    one = len(encode_chunk(value(130, 1)[None], "lz4"))
    assert len(data) == 1 and sum(data.values()) <= 4 * one, (sent, one)
    assert sum(sent.values()) - sum(data.values()) < 2048  # the root document and the lock's renewal
    ds._s.store.put = put


# -- shrinking ---------------------------------------------------------------------------------------------------
def test_shrink_drops_the_deltas_of_removed_samples(url, files, open_ds):
    build(url)
    ds = open_ds(url, mode="r+")
    for j in (10, 100, 140, 200, 250):
        ds["x", j] = value(j, 3)
    ds.flush()
    assert sorted(root_attrs(url)["deltas"]["x/data"]) == ["0", "1", "2", "3"]
    ds.resize_shape(120)  # cuts chunk 1 (100 stays, its deltas go with the rewrite), removes chunks 2, 3
    ds.flush()
    attrs = root_attrs(url)
    assert attrs["length"] == 120
    assert sorted(attrs.get("deltas", {}).get("x/data", {})) == ["0"]
    assert len(delta_keys(files, url)) == 1  # the flush's one object: chunk 0's segment is still live
    assert not [k for k in files(url) if k.startswith("x/data/c/2") or k.startswith("x/data/c/3")]
    ds.resize_shape(N)  # regrown samples are empty
    assert step_of(100, ds["x", 100].compute()) == 3 and step_of(10, ds["x", 10].compute()) == 3
    assert not ds.has_value("x", 140) and not ds["x", 140].compute().any()
    assert not ds.has_value("x", 250) and not ds["x", 250].compute().any()
    ds.close()
    assert delta_keys(files, url) == []
    if not url.startswith("memory://"):
        g = zarr.open_group(url, mode="r")
        assert g["x/data"].shape[0] == N and not g["x/data"][120:].any()
        np.testing.assert_array_equal(g["x/data"][100], value(100, 3))


# -- versions --------------------------------------------------------------------------------------------------
def test_a_commit_after_edits_records_compacted_chunks_only(local_url, files):
    build(local_url)
    ds = hubfs.Dataset(local_url, mode="r+")
    first = ds.commit("base")
    ds["x", 66] = value(66, 4)
    ds.flush()
    live = diff(local_url, first, "master")  # a head with live deltas against a commit
    assert live["changed"] == {"x": list(range(64, 128))}
    second = ds.commit("edit")
    assert delta_keys(files, local_url) == [] and "deltas" not in root_attrs(local_url)
    record = open_versions(local_url).commit(second)
    assert not [k for k in record.manifest if f"/{layout.DELTA_DIR}/" in k]
    changed_objects = [k for k, (holder, _) in record.manifest.items() if holder == second and "/c/" in k]
    assert changed_objects == ["x/data/c/1/0/0"]  # the present mark did not change: one chunk copied
    assert diff(local_url, first, second)["changed"] == {"x": list(range(64, 128))}
    ds["x", 66] = value(66, 5)
    ds.flush()
    ds.close()
    old = hubfs.Dataset(local_url, mode="r", version=first)
    assert step_of(66, old["x", 66].compute()) == 0
    mid = hubfs.Dataset(local_url, mode="r", version=second)
    assert step_of(66, mid["x", 66].compute()) == 4
    head = hubfs.Dataset(local_url, mode="r")
    assert step_of(66, head["x", 66].compute()) == 5
    for d in (old, mid, head):
        d.close()


def test_a_branch_created_from_a_head_with_deltas_starts_compacted(local_url, files):
    build(local_url)
    ds = hubfs.Dataset(local_url, mode="r+")
    ds["x", 7] = value(7, 6)
    ds.flush()
    ds.checkout("side", create=True)
    assert not [k for k in files(local_url) if f"/{layout.DELTA_DIR}/" in k]
    assert step_of(7, ds["x", 7].compute()) == 6
    ds.close()


# -- damage -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["flipped byte", "missing object"])
def test_a_damaged_or_missing_live_delta_is_a_corruption_error_naming_it(url, files, put_file, open_ds, damage):
    build(url)
    ds = open_ds(url, mode="r+")
    ds["x", 70] = value(70, 1)
    ds.flush()
    (key,) = delta_keys(files, url)
    good = files(url)[key]
    if damage == "flipped byte":
        data = bytearray(good)
        data[len(data) // 2] ^= 0x40
        put_file(url, key, bytes(data))
    else:
        fs, root = fsspec.core.url_to_fs(url)
        fs.rm(f"{root.rstrip('/')}/{key}")
    ds.cache.clear()  # what a new reader would read
    with pytest.raises(CorruptionError) as info:
        ds["x", 70].compute()
    assert info.value.key == key and info.value.tensor == "x"
    assert step_of(3, ds["x", 3].compute()) == 0  # other chunks read on
    put_file(url, key, good)


def test_delta_records_that_do_not_parse_are_a_corruption_error(local_url):
    build(local_url)
    path = os.path.join(local_url, "zarr.json")
    doc = json.loads(open(path).read())
    doc["attributes"]["hubfs"]["deltas"] = {"x/data": {"0": "12 not-a-name:0:5"}}
    doc["attributes"]["hubfs"]["format"] = 2
    open(path, "w").write(json.dumps(doc))
    with pytest.raises(CorruptionError):
        hubfs.Dataset(local_url, mode="r")


def test_layout_segments_round_trip_and_check_their_crc():
    payload = encode_chunk(np.arange(3 * 4, dtype="int32").reshape(3, 4), "lz4")
    seg = layout.encode_delta([1, 5, 9], payload)
    offsets, body = layout.decode_delta(seg, 16)
    assert offsets == [1, 5, 9] and bytes(body) == payload
    with pytest.raises(ValueError):
        layout.decode_delta(seg[:-1] + bytes([seg[-1] ^ 1]), 16)
    with pytest.raises(ValueError):
        layout.decode_delta(seg, 8)  # offset 9 lies outside a chunk of 8
    records = {3: (12345, [("0123456789abcdef", 0, 40), ("fedcba9876543210", 40, 8)])}
    assert layout.parse_delta_records(layout.format_delta_records(records)) == records
