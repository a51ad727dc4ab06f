"""The store contract (hubfs/dataset/stores/base.py), run on every store against its real server.

``StoreContract`` is reusable: a subclass gives a ``store`` fixture (a fresh, empty store) and
``conditional_writes`` (False for servers that ignore If-None-Match: only the racing-creators test is
skipped for them), and inherits every test.
"""
from __future__ import annotations

import threading

import pytest

from hubfs.dataset.stores import Store, open_store
from hubfs.errors import StoreError


class StoreContract:
    conditional_writes = True

    def test_a_missing_key_is_none_everywhere(self, store: Store):
        assert store.get("k") is None and store.get("k", 0, 4) is None and store.get("k", 2) is None
        assert store.size("k") is None and not store.exists("k") and store.list() == []
        store.delete("k")  # deleting what is not there is not an error
        with pytest.raises(StoreError, match="does not exist"):
            store.get_range("k", 0, 1)

    def test_put_then_get_and_replace(self, store: Store):
        store.put("a/b", b"first value")
        assert store.get("a/b") == b"first value" and store.size("a/b") == 11 and store.exists("a/b")
        store.put("a/b", b"2nd")
        assert store.get("a/b") == b"2nd" and store.size("a/b") == 3
        store.put("empty", b"")
        assert store.get("empty") == b"" and store.size("empty") == 0 and store.exists("empty")

    def test_a_prefix_of_keys_is_not_an_object(self, store: Store):
        store.put("t/data/c/0", b"abc")
        for prefix in ("t", "t/data", "t/data/c"):
            assert store.get(prefix) is None and store.get(prefix, 0, 2) is None
            assert store.size(prefix) is None and not store.exists(prefix)
            store.delete(prefix)  # not an object: its children stay
        assert store.get("t/data/c/0") == b"abc"
        assert store.list("t") == store.list("t/") == store.list("t/data") == ["t/data/c/0"]
        assert store.list("t/da") == [] and store.list("t/data/c/0") == []  # folder-like prefixes only

    def test_ranges_slice_like_python(self, store: Store):
        store.put("k", b"0123456789")
        assert store.get("k", 2, 5) == b"234"
        assert store.get("k", 7) == b"789" and store.get("k", 0) == b"0123456789"
        assert store.get("k", None, 3) == b"012"
        assert store.get("k", 8, 100) == b"89"  # cut at the end
        assert store.get("k", 10, 20) == b"" and store.get("k", 50, 60) == b"" and store.get("k", 50) == b""
        assert store.get("k", 4, 4) == b"" and store.get("k", 6, 2) == b""
        assert store.get_range("k", 1, 4) == b"123" and store.get_range("k", 0, 10) == b"0123456789"
        with pytest.raises(StoreError, match="ends 2 bytes early"):
            store.get_range("k", 8, 12)
        with pytest.raises(ValueError):
            store.get("k", -3)

    def test_copy_makes_an_independent_object(self, store: Store):
        store.put("src/a", b"version one")
        store.copy("src/a", "dst/deep/a")
        assert store.get("dst/deep/a") == b"version one" and store.list("dst") == ["dst/deep/a"]
        store.put("src/a", b"version two")  # the copy keeps the bytes it was made from
        assert store.get("dst/deep/a") == b"version one" and store.get("src/a") == b"version two"
        store.copy("src/a", "dst/deep/a")  # replaces, like put
        assert store.get("dst/deep/a") == b"version two"
        with pytest.raises(StoreError, match="copy"):
            store.copy("missing", "dst/x")
        assert not store.exists("dst/x")

    def test_tokens_change_with_the_bytes_and_match_across_keys(self, store: Store):
        store.put("t/a", b"alpha")
        store.put("t/b", b"beta")
        store.put("other", b"x")
        before = store.tokens("t")
        assert sorted(before) == ["t/a", "t/b"] and before["t/a"] != before["t/b"]
        assert store.tokens("t") == before  # listing again reads the same identities
        store.put("t/a", b"ALPHA")
        after = store.tokens("t")
        assert after["t/a"] != before["t/a"] and after["t/b"] == before["t/b"]
        store.copy("t/b", "u/b")  # a copy may keep the token (same bytes) or get a new one
        assert store.tokens("u") and store.get("u/b") == b"beta"
        assert store.tokens("nothing/here") == {}

    def test_put_if_absent_creates_once(self, store: Store):
        assert store.put_if_absent("lock", b"mine")
        assert not store.put_if_absent("lock", b"theirs")
        assert store.get("lock") == b"mine"
        store.delete("lock")
        assert store.put_if_absent("lock", b"again") and store.get("lock") == b"again"

    def test_concurrent_put_if_absent_has_one_winner(self, store: Store):
        if not self.conditional_writes:
            pytest.skip("this server ignores If-None-Match: *, so racing creators can both win")
        for round_ in range(3):
            key = f"race/{round_}"
            wins: list[bytes] = []
            barrier = threading.Barrier(6)

            def race(me: bytes) -> None:
                barrier.wait()
                if store.put_if_absent(key, me):
                    wins.append(me)

            threads = [threading.Thread(target=race, args=(f"writer-{i}".encode() * 50,)) for i in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(wins) == 1, f"round {round_}: {len(wins)} winners"
            assert store.get(key) == wins[0]

    def test_a_reader_sees_the_old_or_the_new_bytes_never_a_mix(self, store: Store):
        values = [bytes([65 + i]) * (1000 + 997 * i) for i in range(4)]
        store.put("obj", values[0])
        stop = threading.Event()
        seen: list[bytes | None] = []

        def read() -> None:
            while not stop.is_set():
                seen.append(store.get("obj"))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for i in range(12):
                store.put("obj", values[i % 4])
        finally:
            stop.set()
            reader.join()
        assert seen and all(v in values for v in seen)

    def test_listing_follows_writes_and_deletes(self, store: Store):
        keys = sorted(["zarr.json", "a/zarr.json", "a/c/0", "a/c/1", "ab/c/0", "b/deep/er/key"])
        for k in keys:
            store.put(k, k.encode())
        assert store.list() == store.list("") == keys
        assert store.list("a") == ["a/c/0", "a/c/1", "a/zarr.json"]
        store.delete("a/c/0")
        assert "a/c/0" not in store.list() and store.list("a/c") == ["a/c/1"]
        store.delete_prefix("a")
        assert store.list() == ["ab/c/0", "b/deep/er/key", "zarr.json"]
        assert store.get("ab/c/0") == b"ab/c/0"  # a sibling sharing the name's start stays
        store.delete_prefix("")
        assert store.list() == []

    def test_puts_inside_a_batch_are_read_at_once_and_a_failed_batch_still_raises(self, store: Store):
        with store.batch():
            for k in range(5):
                store.put(f"b/{k}", b"v%d" % k)
            assert store.get("b/3") == b"v3" and store.list("b") == [f"b/{k}" for k in range(5)]
            with store.batch():  # nested: the outer one ends it
                store.put("b/5", b"v5")
        assert [store.get(f"b/{k}") for k in range(6)] == [b"v%d" % k for k in range(6)]
        with pytest.raises(KeyError):
            with store.batch():
                store.put("c", b"kept")
                raise KeyError("the caller's error, not the store's")
        assert store.get("c") == b"kept"


class TestEveryStore(StoreContract):
    @pytest.fixture
    def store(self, store_url, request):
        if "rclone" in request.node.callspec.id:
            self.conditional_writes = False  # rclone serve s3 overwrites despite If-None-Match: *
        store = open_store(*store_url)
        yield store
        store.close()


def test_local_delete_prefix_clears_temp_files_a_killed_writer_left(tmp_path):
    """A put interrupted by a kill leaves ``<key>.<12 hex>.tmp``; deleting the prefix removes it and the
    emptied folders (a transform's part datasets after a worker died); other prefixes keep theirs."""
    store = open_store(str(tmp_path / "parts"))
    store.put("0/image/data/c/0", b"x")
    orphan = tmp_path / "parts" / "1" / "label" / "zarr.json.0123456789ab.tmp"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"half")
    kept = tmp_path / "parts" / "2" / "k.abcdefabcdef.tmp"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"another writer's")
    store.delete_prefix("1")
    assert not orphan.parent.parent.exists() and kept.exists()
    store.delete_prefix("")
    assert not (tmp_path / "parts").exists()
    store.close()


@pytest.mark.parametrize("puts,others_dirty", [(1, 0), (3, 0), (4, 0), (40, 0), (40, 1 << 30)])
def test_a_local_batch_syncs_once_for_many_puts_and_each_file_for_few(tmp_path, monkeypatch, puts, others_dirty):
    """Inside ``batch`` no put fsyncs; at its end one syncfs of the file system makes many puts durable,
    and fewer than SYNCFS_MIN_PUTS, or a batch beside much dirty data of others (which syncfs would wait
    for too), are fsync'd one by one."""
    import os

    from hubfs.dataset.stores import local

    monkeypatch.setattr(local, "dirty_bytes", lambda: others_dirty + 100 * puts)

    store = open_store(str(tmp_path / "s"))
    calls = {"fsync": 0, "syncfs": 0}
    real_fsync = os.fsync
    monkeypatch.setattr(local.os, "fsync", lambda fd: calls.__setitem__("fsync", calls["fsync"] + 1) or real_fsync(fd))
    if local._SYNCFS is None:
        pytest.skip("no syncfs on this system")
    real_syncfs = local._SYNCFS
    monkeypatch.setattr(local, "_SYNCFS", lambda fd: calls.__setitem__("syncfs", calls["syncfs"] + 1) or real_syncfs(fd))
    with store.batch():
        for k in range(puts):
            store.put(f"c/{k}", b"x" * 100)
        store.delete("c/0")  # deleted again inside the batch: nothing to sync, no error
        assert calls == {"fsync": 0, "syncfs": 0}
    many = puts >= local.SYNCFS_MIN_PUTS and others_dirty <= local.SYNCFS_MAX_OTHER_DIRTY
    assert calls == {"fsync": 0 if many else puts - 1, "syncfs": 1 if many else 0}
    store.put("d", b"y")  # outside a batch: fsync'd before it returns
    assert calls["fsync"] == (0 if many else puts - 1) + 1
    store.close()
