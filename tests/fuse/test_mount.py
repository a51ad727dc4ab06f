"""Real mounts used with real tools: ls, stat, cp -r, tar, find, PIL, numpy.load; writes by cp, by Python
open/write/fsync and by mkdir; refusals with their errnos; kill -9 and recovery; readers beside a writer."""
from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import tarfile
import tempfile
import threading
import time

import numpy as np
import pytest
from PIL import Image

import hubfs
from hubfs.fuse.mount import log_of as _log_of, mounted

from fuse_helpers import PYTHON, hubfs_cli, sample_dataset

pytestmark = pytest.mark.fuse


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, **kwargs)


def png_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def log_of(mnt: str) -> str:
    return _log_of(mnt)


def expect_errno(code: int, fn, *args):
    with pytest.raises(OSError) as exc:
        fn(*args)
    assert exc.value.errno == code, f"{fn.__name__}{args}: {exc.value}"


# -- reading -------------------------------------------------------------------------------------------
def test_ls_shows_samples_and_files(mnt):
    assert run("ls", mnt).stdout.split() == ["0", "1", "2", "3"]
    assert sorted(os.listdir(mnt)) == [".hubfs", "0", "1", "2", "3"]
    assert run("ls", f"{mnt}/0").stdout.split() == ["emb.npy", "image.png", "label.txt", "meta", "photo.jpg"]
    long = run("ls", "-l", f"{mnt}/1").stdout
    assert "audio.wav" in long and "photo.jpg" not in long


def test_stat_sizes_match_the_bytes_read(mnt):
    for dirpath, dirs, files in os.walk(mnt):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                assert len(f.read()) == os.stat(path).st_size, path
    st = os.stat(f"{mnt}/0/image.png")
    assert st.st_blksize >= 1 << 20 and st.st_mtime > 0
    assert os.statvfs(mnt).f_namemax == 255


def test_cp_r_out_of_the_mount_copies_every_file(mnt, tmp_path):
    assert run("cp", "-r", f"{mnt}/.", str(tmp_path / "copy")).returncode == 0
    copied = sorted(os.path.relpath(os.path.join(d, f), tmp_path / "copy")
                    for d, _, fs in os.walk(tmp_path / "copy") for f in fs)
    assert "1/audio.wav" in copied and "0/meta/text.txt" in copied and ".hubfs/schema.json" in copied
    for rel in copied:
        with open(os.path.join(mnt, rel), "rb") as a, open(tmp_path / "copy" / rel, "rb") as b:
            assert a.read() == b.read(), rel


def test_tar_and_find(mnt, tmp_path):
    out = run("tar", "-cf", str(tmp_path / "d.tar"), "-C", mnt, ".")
    assert out.returncode == 0, out.stderr  # tar complains when a size changes while it reads
    with tarfile.open(tmp_path / "d.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile(members["./0/label.txt"]).read() == b"zero\n"
    found = run("find", mnt, "-name", "*.png").stdout.split()
    assert sorted(found) == [f"{mnt}/{i}/image.png" for i in range(4)]
    assert run("find", mnt, "-type", "f", "-path", "*/meta/*").stdout.split() == [
        f"{mnt}/0/meta/text.txt", f"{mnt}/0/meta/box.json", f"{mnt}/2/meta/outline.json"]


def test_files_open_with_ordinary_libraries(mnt):
    img = Image.open(f"{mnt}/2/image.png")
    assert img.size == (28, 28) and np.asarray(img).max() == 20
    assert Image.open(f"{mnt}/0/photo.jpg").format == "JPEG"
    assert np.load(f"{mnt}/1/emb.npy").tolist() == [1.0, 1.5, -1.0]
    assert json.load(open(f"{mnt}/2/meta/outline.json")) == [[0, 0], [5, 0], [5, 5]]
    assert open(f"{mnt}/0/meta/text.txt", encoding="utf-8").read() == "héllo wörld"
    assert [open(f"{mnt}/{i}/label.txt").read() for i in range(4)] == ["zero\n", "one\n", "two\n", "zero\n"]
    import wave
    with wave.open(f"{mnt}/1/audio.wav") as w:
        assert (w.getframerate(), w.getnframes(), w.getsampwidth()) == (8000, 800, 2)
    schema = json.load(open(f"{mnt}/.hubfs/schema.json"))
    assert schema["meta"]["box"]["type"] == "BBox"
    assert json.load(open(f"{mnt}/.hubfs/info.json"))["length"] == 4


# -- writing -------------------------------------------------------------------------------------------
def test_cp_replaces_an_image(mnt, url, mounter, tmp_path):
    new = np.full((28, 28), 77, np.uint8)
    (tmp_path / "my.png").write_bytes(png_bytes(new))
    assert run("cp", str(tmp_path / "my.png"), f"{mnt}/1/image.png").returncode == 0
    served = open(f"{mnt}/1/image.png", "rb").read()  # pixels in chunks: served as an uncompressed PNG
    assert np.asarray(Image.open(io.BytesIO(served))).tolist() == new.tolist()
    assert os.stat(f"{mnt}/1/image.png").st_size == len(served)
    hubfs_cli("unmount", mnt)
    ds = hubfs.Dataset(url, mode="r")
    assert ds["image", 1].compute()[:, :, 0].tolist() == new.tolist()
    ds.close()


def test_an_image_written_into_chunks_is_a_delta_until_unmount(mounter, tmp_path):
    """MNIST-like digits (lz4 chunks of 256): a replaced image.png is flushed (fsync) as a small delta
    beside its chunk; readers see it at once, plain zarr after the unmount compacts it."""
    import zarr
    from hubfs.schema import Image as ImageType

    url, n = str(tmp_path / "digits"), 512
    rng = np.random.default_rng(5)
    images = np.zeros((n, 28, 28), np.uint8)
    for j in range(n):
        y, x = rng.integers(6, 22, 2)
        images[j, y - 5:y + 5, x - 3:x + 3] = rng.integers(100, 255, (10, 6))
    ds = hubfs.Dataset(url, mode="w", shape=(n,), schema={"image": ImageType((28, 28))})
    ds["image", 0:n] = images
    ds.close()
    chunk = os.path.join(url, "image/data/c/0/0/0")
    before = open(chunk, "rb").read()
    mnt = mounter(url)
    with open(f"{mnt}/7/image.png", "wb") as f:
        f.write(png_bytes(images[300]))
        f.flush()
        os.fsync(f.fileno())  # the dataset is flushed
    assert open(chunk, "rb").read() == before  # not rewritten: the flush wrote a delta
    deltas = os.path.join(url, "image/data/d")
    assert len(os.listdir(deltas)) == 1 and os.path.getsize(os.path.join(deltas, os.listdir(deltas)[0])) < 1024
    reader = hubfs.Dataset(url, mode="r")
    assert np.array_equal(reader["image", 7].compute(), images[300])
    reader.close()
    assert np.array_equal(zarr.open_group(url, mode="r")["image/data"][7], images[7])  # the last compaction's
    hubfs_cli("unmount", mnt)
    assert not os.path.isdir(deltas) or os.listdir(deltas) == []
    assert np.array_equal(zarr.open_group(url, mode="r")["image/data"][7], images[300])


def test_python_open_write_fsync_is_durable_before_unmount(mnt, url):
    with open(f"{mnt}/2/label.txt", "w") as f:
        f.write("one\n")
        f.flush()
        os.fsync(f.fileno())
        reader = hubfs.Dataset(url, mode="r")  # another process's view of the store
        assert int(reader["label", 2].compute()) == 1
        reader.close()
    assert open(f"{mnt}/2/label.txt").read() == "one\n"


def test_echo_into_label_by_integer_shows_the_class_name(mnt):
    assert run("sh", "-c", f"echo 2 > {mnt}/0/label.txt").returncode == 0
    assert open(f"{mnt}/0/label.txt").read() == "two\n"
    assert os.stat(f"{mnt}/0/label.txt").st_size == 4


def test_mkdir_appends_a_sample_and_cp_writes_its_files(mnt, url, tmp_path):
    os.mkdir(f"{mnt}/4")
    assert "4" in os.listdir(mnt) and os.listdir(f"{mnt}/4") == ["meta"]
    (tmp_path / "a.png").write_bytes(png_bytes(np.full((28, 28), 5, np.uint8)))
    assert run("cp", str(tmp_path / "a.png"), f"{mnt}/4/image.png").returncode == 0
    with open(f"{mnt}/4/meta/text.txt", "w") as f:
        f.write("appended")
    assert json.load(open(f"{mnt}/.hubfs/info.json"))["length"] == 5
    expect_errno(errno.EPERM, os.mkdir, f"{mnt}/9")
    expect_errno(errno.EEXIST, os.mkdir, f"{mnt}/4")
    hubfs_cli("unmount", mnt)
    ds = hubfs.Dataset(url, mode="r")
    assert len(ds) == 5 and ds["meta/text", 4].compute() == "appended" and ds.has_value("image", 4)
    assert not ds.has_value("label", 4)
    ds.close()


def test_rm_clears_a_tensor(mnt, url):
    os.unlink(f"{mnt}/0/meta/box.json")
    assert "box.json" not in os.listdir(f"{mnt}/0/meta")
    expect_errno(errno.ENOENT, os.stat, f"{mnt}/0/meta/box.json")
    hubfs_cli("unmount", mnt)
    ds = hubfs.Dataset(url, mode="r")
    assert not ds.has_value("meta/box", 0)
    ds.close()


@pytest.mark.parametrize("path,content", [
    ("0/image.png", b"not a png"),
    ("0/label.txt", b"seven\n"),
    ("0/meta/text.txt", b"\xff\xfe"),
    ("0/emb.npy", b"garbage"),
])
def test_bad_writes_fail_with_einval_and_keep_the_old_value(mnt, path, content):
    before = open(f"{mnt}/{path}", "rb").read()
    f = open(f"{mnt}/{path}", "wb")
    f.write(content)
    expect_errno(errno.EINVAL, f.close)
    assert open(f"{mnt}/{path}", "rb").read() == before
    fd = os.open(f"{mnt}/{path}", os.O_WRONLY | os.O_TRUNC)
    os.write(fd, content)
    expect_errno(errno.EINVAL, os.fsync, fd)
    expect_errno(errno.EINVAL, os.close, fd)
    assert open(f"{mnt}/{path}", "rb").read() == before


def test_a_png_of_another_shape_is_refused(mnt, tmp_path):
    (tmp_path / "big.png").write_bytes(png_bytes(np.zeros((40, 40), np.uint8)))
    out = run("cp", str(tmp_path / "big.png"), f"{mnt}/3/image.png")
    assert out.returncode != 0 and "Invalid argument" in out.stderr
    assert Image.open(f"{mnt}/3/image.png").size == (28, 28)


def test_names_and_operations_outside_the_view_are_refused(mnt):
    expect_errno(errno.EPERM, open, f"{mnt}/notes.txt", "w")  # files live in sample folders only
    expect_errno(errno.ENOENT, open, f"{mnt}/7/image.png", "w")
    expect_errno(errno.EPERM, os.rename, f"{mnt}/0", f"{mnt}/5")
    expect_errno(errno.EPERM, os.link, f"{mnt}/0/label.txt", f"{mnt}/0/x.txt")
    expect_errno(errno.EPERM, os.symlink, "label.txt", f"{mnt}/0/l.txt")
    expect_errno(errno.ENOTEMPTY, os.rmdir, f"{mnt}/0/meta")
    expect_errno(errno.EPERM, os.rmdir, f"{mnt}/.hubfs")
    expect_errno(errno.EACCES, open, f"{mnt}/.hubfs/info.json", "w")
    os.utime(f"{mnt}/0/label.txt")  # touch is accepted and ignored


def test_read_only_mount_refuses_writes_with_erofs(mounter, url):
    mnt = mounter(url, read_only=True)
    assert "ro" in open("/proc/mounts").read().split(f" {mnt} ")[1].split()[1].split(",")
    before = open(f"{mnt}/0/label.txt").read()
    expect_errno(errno.EROFS, open, f"{mnt}/0/label.txt", "w")
    expect_errno(errno.EROFS, os.mkdir, f"{mnt}/4")
    expect_errno(errno.EROFS, os.unlink, f"{mnt}/0/label.txt")
    expect_errno(errno.EROFS, open, f"{mnt}/3/meta/text.txt", "w")
    assert open(f"{mnt}/0/label.txt").read() == before
    assert Image.open(f"{mnt}/0/image.png").size == (28, 28)
    with open(f"{mnt}/0/label.txt", "rb") as f:
        os.fsync(f.fileno())  # nothing to make durable, and no error


# -- life cycle ----------------------------------------------------------------------------------------
def test_cli_mount_info_unmount(url, mounter, tmp_path):
    mp = tmp_path / "cli"
    mp.mkdir()
    out = hubfs_cli("mount", url, str(mp))
    assert "mounted" in out.stdout and mounted(str(mp)) == "fuse.hubfs"
    try:
        assert sorted(os.listdir(mp)) == [".hubfs", "0", "1", "2", "3"]
        assert hubfs_cli("mount", url, str(mp), check=False).returncode == 1  # already mounted
    finally:
        hubfs_cli("unmount", str(mp))
    assert mounted(str(mp)) is None and os.listdir(mp) == []
    info = hubfs_cli("info", url).stdout
    assert "4 samples" in info and "meta/text.txt" in info
    doc = json.loads(hubfs_cli("info", "--json", url).stdout)
    assert doc["length"] == 4 and doc["tensors"]["photo"]["file"] == "photo.jpg"
    assert doc["tensors"]["label"]["dtype"] == "int64"
    assert hubfs_cli("unmount", str(mp), check=False).returncode == 1  # nothing mounted


def test_kill_9_then_unmount_leaves_a_clean_mountpoint_and_fsynced_writes(mounter, url):
    mnt = mounter(url)
    with open(f"{mnt}/1/label.txt", "w") as f:
        f.write("two")
        f.flush()
        os.fsync(f.fileno())
    os.mkdir(f"{mnt}/4")
    fd = os.open(f"{mnt}/4/meta/text.txt", os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"kept")
    os.fsync(fd)
    os.close(fd)
    os.kill(mounter.pid(mnt), signal.SIGKILL)
    time.sleep(0.2)
    hubfs_cli("unmount", mnt)
    assert mounted(mnt) is None and os.listdir(mnt) == []
    ds = hubfs.Dataset(url, mode="r+")  # the dead server's writer lock is stale
    assert int(ds["label", 1].compute()) == 2 and len(ds) == 5 and ds["meta/text", 4].compute() == "kept"
    ds.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_flush_and_unmount(mounter, url, sig):
    mnt = mounter(url)
    with open(f"{mnt}/3/label.txt", "w") as f:
        f.write("one")  # committed at close, durable only through the clean unmount
    pid = mounter.pid(mnt)
    os.kill(pid, sig)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, open(log_of(mnt)).read()[-2000:]
    assert mounted(mnt) is None
    ds = hubfs.Dataset(url, mode="r")
    assert int(ds["label", 3].compute()) == 1
    ds.close()


def test_mount_clears_a_stale_mount_first(mounter, url):
    mnt = mounter(url)
    os.kill(mounter.pid(mnt), signal.SIGKILL)
    time.sleep(0.2)
    mounter.mounts.clear()
    mounter(url)  # same mountpoint
    assert sorted(os.listdir(mnt))[:2] == [".hubfs", "0"]


# -- readers beside a writer ---------------------------------------------------------------------------
# The rule (doc/SEMANTICS.md, Caching): an open after a writer's close reads that value whole; an open while a
# writer has the file open reads the last committed value whole; a reader that had the file open when a
# writer rewrote it in place may see, as on a local disk, old bytes, new bytes and zeros (never other bytes);
# a temp-then-rename leaves readers that had the file open on the old value, whole.
READER = """
import sys, time, numpy as np
old, new, paths, seconds = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), sys.argv[3:-1], float(sys.argv[-1])
n = max(len(old), len(new))
o, w = (np.frombuffer(v.ljust(n, b"\\0"), np.uint8) for v in (old, new))
end, seen = time.time() + seconds, set()
while time.time() < end:
    for p in paths:
        data = open(p, "rb").read()
        d = np.frombuffer(data, np.uint8)
        if len(d) > n or ((d != 0) & (d != o[:len(d)]) & (d != w[:len(d)])).any():
            print("FOREIGN BYTES", p, len(data)); sys.exit(1)
        seen.add(data == new)
print("ok", sorted(seen))
"""


def _big_images(tmp_path, n: int) -> tuple[str, bytes, bytes]:
    url = str(tmp_path / "big")
    rng = np.random.default_rng(1)
    old_img = rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)
    new_img = old_img.copy()
    new_img[:60] = 7
    old, new = png_bytes(old_img), png_bytes(new_img)
    assert len(old) > 64 * 1024 and len(new) != len(old)  # many pages, several FUSE reads; sizes differ
    ds = hubfs.Dataset(url, mode="w", shape=(n,), schema={"image": hubfs.schema.Image((160, 160, 3), "uint8",
                                                                                   compressor="png")})
    for i in range(n):
        ds.write_stored("image", i, old)
    ds.close()
    return url, old, new


def test_readers_beside_an_in_place_writer_follow_the_rule(mounter, tmp_path):
    url, old, new = _big_images(tmp_path, 4)
    mnt = mounter(url)
    (tmp_path / "old.png").write_bytes(old)
    (tmp_path / "new.png").write_bytes(new)
    paths = [f"{mnt}/{i}/image.png" for i in range(4)]
    seconds = 3.0
    readers = [subprocess.Popen([PYTHON, "-c", READER, str(tmp_path / "old.png"), str(tmp_path / "new.png"), *paths,
                                 str(seconds)], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    wrong: list[str] = []

    def read_in_thread():  # pages of every value pass through the kernel's cache meanwhile
        end = time.time() + seconds
        while time.time() < end:
            for p in paths:
                open(p, "rb").read()

    threads = [threading.Thread(target=read_in_thread) for _ in range(2)]
    for t in threads:
        t.start()
    end, writes, committed = time.time() + seconds, 0, dict.fromkeys(paths, old)
    while time.time() < end:
        for p in paths:
            before = committed[p]
            value = committed[p] = new if before == old else old
            with open(p, "wb") as f:
                f.write(value[:5000])
                f.flush()
                with open(p, "rb") as r:  # opened while the writer has it open: the committed value, whole
                    if r.read() != before:
                        wrong.append(f"{p}: opened beside the writer, not the committed value")
                f.write(value[5000:])
            for _ in range(2):
                if open(p, "rb").read() != value:  # opened after the close: the new value, whole
                    wrong.append(f"{p}: opened after the close, not the value written")
                if os.stat(p).st_size != len(value):
                    wrong.append(f"{p}: stat after the close, not the size written")
            writes += 1
    for t in threads:
        t.join()
    outs = [r.communicate(timeout=60)[0] for r in readers]
    assert not wrong, wrong[:5]
    assert all(r.returncode == 0 for r in readers), outs
    assert writes > 8


def test_a_temp_then_rename_leaves_open_readers_on_the_old_value(mounter, tmp_path):
    url, old, new = _big_images(tmp_path, 1)
    mnt = mounter(url)
    target = f"{mnt}/0/image.png"
    for _ in range(3):
        with open(target, "rb") as reader:
            head = reader.read(4096)  # part of the old value, in the page cache now
            with tempfile.NamedTemporaryFile(dir=f"{mnt}/0", delete=False) as tmp:
                tmp.write(new)
            os.replace(tmp.name, target)
            assert open(target, "rb").read() == new  # a new open: the new value
            assert head + reader.read() == old  # the reader that had it open: the old value, whole
        old, new = new, old


def test_ftruncate_reaches_the_open_handle(mnt):
    with open(f"{mnt}/0/label.txt", "r+b") as f:
        f.write(b"one")
        f.truncate()  # "onee\n" -> "one"
    assert open(f"{mnt}/0/label.txt").read() == "one\n"


def test_mount_fails_clearly_when_the_dataset_cannot_be_served(mounter, url, tmp_path):
    from hubfs.errors import MountError

    with pytest.raises(MountError, match="no dataset"):
        mounter(str(tmp_path / "missing"))
    writer = hubfs.Dataset(url, mode="r+")  # holds the writer lock
    try:
        with pytest.raises(MountError, match="open for writing"):
            mounter(url, name="locked")
        assert mounted(str(tmp_path / "locked")) is None
        mnt = mounter(url, read_only=True, name="ro")  # readers need no lock
        assert open(f"{mnt}/0/label.txt").read() == "zero\n"
    finally:
        writer.close()


def test_read_only_mount_serves_large_files_whole(mounter, tmp_path):
    """Read-only mounts open without handles (reads by path, pages kept): large files still read exactly."""
    url = str(tmp_path / "large")
    ds = hubfs.Dataset(url, mode="w", shape=(2,), schema={"image": hubfs.schema.Image((1100, 1100, 3), "uint8")})
    rng = np.random.default_rng(2)
    for i in range(2):
        ds["image", i] = rng.integers(0, 256, (1100, 1100, 3), dtype=np.uint8)
    stored = [ds.read_stored("image", i) for i in range(2)]
    ds.close()
    assert len(stored[0]) > 3 << 20
    mnt = mounter(url, read_only=True)
    for _ in range(2):  # cold, then from the page cache
        for i in range(2):
            assert open(f"{mnt}/{i}/image.png", "rb").read() == stored[i]
            with open(f"{mnt}/{i}/image.png", "rb") as f:
                f.seek(1 << 20)
                assert f.read(1000) == stored[i][1 << 20:(1 << 20) + 1000]
    assert json.load(open(f"{mnt}/.hubfs/info.json"))["read_only"] is True


def test_foreground_mount_stops_on_hubfs_unmount(url, tmp_path, mounter):
    mp = tmp_path / "fg"
    mp.mkdir()
    proc = subprocess.Popen([PYTHON, "-m", "hubfs", "mount", "--foreground", "--cache", "4M", url, str(mp)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        while mounted(str(mp)) is None and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert mounted(str(mp)) == "fuse.hubfs", proc.stdout.read() if proc.poll() is not None else ""
        with open(f"{mp}/0/label.txt", "w") as f:
            f.write("two")
        hubfs_cli("unmount", str(mp))
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            subprocess.run(["fusermount3", "-uz", str(mp)], capture_output=True)
    assert mounted(str(mp)) is None
    ds = hubfs.Dataset(url, mode="r")
    assert int(ds["label", 0].compute()) == 2
    ds.close()


@pytest.mark.cloud
def test_mount_a_dataset_on_s3(mounter, remote_store, tmp_path):
    """The server process opens the store itself (fresh process, its own clients), token passed privately."""
    url, token = remote_store
    sample_dataset(url, token=token)
    mnt = mounter(url, token=token)
    assert open(f"{mnt}/2/label.txt").read() == "two\n"
    with open(f"{mnt}/1/label.txt", "w") as f:
        f.write("zero")
        f.flush()
        os.fsync(f.fileno())
    pid = mounter.pid(mnt)
    assert json.dumps(token) not in open(f"/proc/{pid}/cmdline").read() if token else True
    ds = hubfs.Dataset(url, mode="r", token=token)
    assert int(ds["label", 1].compute()) == 0
    ds.close()


def test_append_mode_appends(mnt):
    with open(f"{mnt}/0/meta/text.txt", "a", encoding="utf-8") as f:
        f.write(" again")
    assert open(f"{mnt}/0/meta/text.txt", encoding="utf-8").read() == "héllo wörld again"
    assert run("sh", "-c", f"printf '!' >> {mnt}/0/meta/text.txt").returncode == 0
    assert open(f"{mnt}/0/meta/text.txt", encoding="utf-8").read() == "héllo wörld again!"


def test_listings_and_stats_follow_changes(mnt):
    """Names and attributes are cached for minutes; every change made through the mount shows at once."""
    assert sorted(os.listdir(f"{mnt}/3/meta")) == [] and sorted(os.listdir(mnt))[-1] == "3"
    size = os.stat(f"{mnt}/3/label.txt").st_size
    with open(f"{mnt}/3/label.txt", "w") as f:
        f.write("2")  # shown as "two\n": the size the kernel saw written is not the file's
    assert os.stat(f"{mnt}/3/label.txt").st_size == 4 != size
    f = open(f"{mnt}/3/meta/box.json", "w")
    f.write("[1, 2]")  # wrong shape: the created file never gets a value
    expect_errno(errno.EINVAL, f.close)
    assert os.listdir(f"{mnt}/3/meta") == []
    expect_errno(errno.ENOENT, os.stat, f"{mnt}/3/meta/box.json")
    with open(f"{mnt}/3/meta/box.json", "w") as f:
        f.write("[1, 2, 3, 4]")
    assert os.listdir(f"{mnt}/3/meta") == ["box.json"]
    os.mkdir(f"{mnt}/4")
    assert "4" in os.listdir(mnt)
    os.unlink(f"{mnt}/3/meta/box.json")
    assert os.listdir(f"{mnt}/3/meta") == []
