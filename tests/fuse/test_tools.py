"""Everyday tools writing through a real writable mount: cp -p, cp -a, install, tar x, rsync -a, sed -i,
shutil.copy2/copytree, os.replace from a temporary file, mmap; rm -r of a sample; fsync, EFBIG, the
refusals log and `hubfs status`; one-line CLI errors."""
from __future__ import annotations

import errno
import json
import mmap
import os
import shutil
import subprocess
import tarfile
import tempfile

import numpy as np
import pytest

import hubfs

from fuse_helpers import hubfs_cli, sample_dataset

pytestmark = pytest.mark.fuse


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, **kwargs)


def labels(url: str) -> list[int]:
    ds = hubfs.Dataset(url, mode="r")
    try:
        return [int(ds["label", i].compute()) for i in range(len(ds))]
    finally:
        ds.close()


def entries(folder: str) -> list[str]:
    return sorted(os.listdir(folder))


SAMPLE0 = ["emb.npy", "image.png", "label.txt", "meta", "photo.jpg"]


def test_copy_tools_that_keep_modes_and_owners(mnt, tmp_path):
    src = tmp_path / "two.txt"
    src.write_text("two\n")
    os.chmod(src, 0o600)
    for tool in (["cp", "-p"], ["cp", "-a"], ["install", "-m", "0644"]):
        target = f"{mnt}/0/label.txt"
        assert open(target).read() != "two\n" or run("sh", "-c", f"echo 0 > {target}").returncode == 0
        out = run(*tool, str(src), target)
        assert out.returncode == 0, (tool, out.stderr)
        assert open(target).read() == "two\n", tool
    os.chmod(f"{mnt}/1/label.txt", 0o600)  # accepted, changes nothing: modes are the mount's
    assert os.stat(f"{mnt}/1/label.txt").st_mode & 0o777 == 0o644
    os.chown(f"{mnt}/1/label.txt", os.getuid(), os.getgid())
    shutil.copy(src, f"{mnt}/1/label.txt")
    shutil.copy2(src, f"{mnt}/2/label.txt")
    assert [open(f"{mnt}/{i}/label.txt").read() for i in (1, 2)] == ["two\n", "two\n"]
    shutil.copytree(f"{mnt}/0", tmp_path / "copy0")  # copystat on every file and folder
    assert entries(tmp_path / "copy0") == SAMPLE0
    shutil.copytree(tmp_path / "copy0", f"{mnt}/3", dirs_exist_ok=True)  # and back into another sample
    assert open(f"{mnt}/3/photo.jpg", "rb").read() == open(f"{mnt}/0/photo.jpg", "rb").read()
    assert entries(f"{mnt}/3") == SAMPLE0


def test_tar_x_and_cp_a_of_whole_samples_into_the_mount(mnt, url, tmp_path):
    assert run("cp", "-a", f"{mnt}/0", str(tmp_path / "s0")).returncode == 0
    (tmp_path / "s0" / "label.txt").write_text("one\n")
    with tarfile.open(tmp_path / "s.tar", "w") as tar:
        tar.add(tmp_path / "s0", arcname="2")
    out = run("tar", "-xf", str(tmp_path / "s.tar"), "-C", mnt)
    assert out.returncode == 0, out.stderr
    assert entries(f"{mnt}/2") == SAMPLE0 and open(f"{mnt}/2/label.txt").read() == "one\n"
    assert open(f"{mnt}/2/meta/text.txt", encoding="utf-8").read() == "héllo wörld"
    (tmp_path / "s0" / "label.txt").write_text("two\n")
    out = run("cp", "-a", f"{tmp_path}/s0/.", f"{mnt}/3/")
    assert out.returncode == 0, out.stderr
    hubfs_cli("unmount", mnt)
    assert labels(url) == [0, 1, 1, 2]


def test_temp_file_then_rename_commits_like_a_close(mnt, url, tmp_path):
    assert run("sed", "-i", "s/one/two/", f"{mnt}/1/label.txt").returncode == 0
    assert open(f"{mnt}/1/label.txt").read() == "two\n"
    (tmp_path / "zero.txt").write_text("zero\n")
    out = run("rsync", "-a", str(tmp_path / "zero.txt"), f"{mnt}/2/label.txt")
    assert out.returncode == 0, out.stderr
    with tempfile.NamedTemporaryFile("w", dir=f"{mnt}/3", delete=False) as f:
        f.write("one\n")
    assert os.path.basename(f.name) in os.listdir(f"{mnt}/3")  # a scratch file, in the mount only
    os.replace(f.name, f"{mnt}/3/label.txt")
    assert open(f"{mnt}/3/label.txt").read() == "one\n"
    assert os.stat(f"{mnt}/3/label.txt").st_size == 4
    for i in range(4):  # no residue of sed's, rsync's or tempfile's temporary files
        assert set(entries(f"{mnt}/{i}")) <= set(SAMPLE0) | {"audio.wav"}, i
    # bad content: EINVAL, the old value stays, so does the temporary file (the tool removes it)
    with open(f"{mnt}/3/new.tmp", "w") as f:
        f.write("seven\n")
    with pytest.raises(OSError) as exc:
        os.replace(f"{mnt}/3/new.tmp", f"{mnt}/3/label.txt")
    assert exc.value.errno == errno.EINVAL
    assert open(f"{mnt}/3/label.txt").read() == "one\n" and open(f"{mnt}/3/new.tmp").read() == "seven\n"
    os.unlink(f"{mnt}/3/new.tmp")
    # a file that never gets a schema name stays a scratch file: never a value, gone after unmount
    with open(f"{mnt}/0/notes.txt", "w") as f:
        f.write("hello")
    assert open(f"{mnt}/0/notes.txt").read() == "hello"
    hubfs_cli("unmount", mnt)
    assert labels(url) == [0, 2, 0, 1]


def test_moving_a_file_between_samples_moves_its_value(mnt):
    os.rename(f"{mnt}/0/meta/box.json", f"{mnt}/1/meta/box.json")
    assert "box.json" not in os.listdir(f"{mnt}/0/meta")
    assert json.load(open(f"{mnt}/1/meta/box.json")) == [1.5, 2.0, 10.0, 20.0]
    os.rename(f"{mnt}/1/label.txt", f"{mnt}/1/label.txt.bak")  # a backup: the value becomes a scratch file
    assert "label.txt" not in os.listdir(f"{mnt}/1") and open(f"{mnt}/1/label.txt.bak").read() == "one\n"
    os.rename(f"{mnt}/1/label.txt.bak", f"{mnt}/1/label.txt")
    assert open(f"{mnt}/1/label.txt").read() == "one\n"
    with pytest.raises(OSError) as exc:
        os.rename(f"{mnt}/1", f"{mnt}/9")
    assert exc.value.errno == errno.EPERM


def test_rm_r_of_a_sample_clears_it_and_succeeds(mnt, url):
    out = run("rm", "-r", f"{mnt}/2")
    assert out.returncode == 0, out.stderr
    assert entries(f"{mnt}/2") == ["meta"] and os.listdir(f"{mnt}/2/meta") == []
    with pytest.raises(OSError) as exc:
        os.rmdir(f"{mnt}/1")
    assert exc.value.errno == errno.ENOTEMPTY
    os.rmdir(f"{mnt}/3/meta")  # empty: succeeds, the folder stays (it comes from the schema)
    assert os.path.isdir(f"{mnt}/3/meta")
    hubfs_cli("unmount", mnt)
    ds = hubfs.Dataset(url, mode="r")
    assert len(ds) == 4 and not any(ds.has_value(key, 2) for key in ds.keys())
    ds.close()


def test_fsync_fails_whenever_the_commit_would(mnt):
    fd = os.open(f"{mnt}/0/label.txt", os.O_WRONLY | os.O_TRUNC)  # no bytes: an empty label is no value
    try:
        with pytest.raises(OSError) as exc:
            os.fsync(fd)
        assert exc.value.errno == errno.EINVAL
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    assert open(f"{mnt}/0/label.txt").read() == "zero\n"
    with open(f"{mnt}/1/label.txt", "w") as f:
        f.write("elephant\n")
        f.flush()
        with pytest.raises(OSError) as exc:
            os.fsync(f.fileno())
        assert exc.value.errno == errno.EINVAL
        f.seek(0)
        f.truncate()
        f.write("two\n")
    assert open(f"{mnt}/1/label.txt").read() == "two\n"


def test_a_file_that_outgrows_its_tensor_fails_with_efbig_at_once(mnt):
    chunk = b"x" * (1 << 16)
    written = 0
    with pytest.raises(OSError) as exc:
        with open(f"{mnt}/0/meta/text.txt", "wb", buffering=0) as f:  # Text(max_shape=(64,))
            for _ in range(1 << 14):  # up to 1 GiB, refused after the first few KiB
                written += f.write(chunk)
    assert exc.value.errno == errno.EFBIG and written < 1 << 20
    assert open(f"{mnt}/0/meta/text.txt", encoding="utf-8").read() == "héllo wörld"


def test_refusals_are_kept_in_the_mount_and_in_hubfs_status(mnt):
    assert run("sh", "-c", f"echo elephant > {mnt}/0/label.txt").returncode == 0  # the shell ignores close
    log = open(f"{mnt}/.hubfs/errors.log").read()
    assert "label.txt" in log and "elephant" in log and "EINVAL" in log
    with open(f"{mnt}/1/label.txt", "w") as f:
        f.write("one")
        status = json.loads(hubfs_cli("status", mnt, "--json").stdout)
        assert status["uncommitted"] == ["/1/label.txt"]
    assert status["mode"] == "writable" and status["length"] == 4 and status["hubfs_version"] == hubfs.__version__
    assert os.path.isfile(status["log"])
    text = hubfs_cli("status", mnt).stdout
    assert "writable" in text and "elephant" in text


def test_mmap_on_a_writable_mount_and_on_a_read_only_one(mnt, mounter, tmp_path):
    # Reads go through the page cache on both (doc/SEMANTICS.md): shared and private mappings work, and a
    # mapping made after a change maps the new value.
    assert np.load(f"{mnt}/1/emb.npy", mmap_mode="r").tolist() == [1.0, 1.5, -1.0]
    assert np.load(f"{mnt}/1/emb.npy", mmap_mode="c").tolist() == [1.0, 1.5, -1.0]
    with open(f"{mnt}/2/image.png", "rb") as f, mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE,
                                                        prot=mmap.PROT_READ) as m:
        assert m[:4] == b"\x89PNG"
    np.save(f"{mnt}/1/emb.npy", np.array([2.0, 4.0, 8.0], np.float32))
    assert np.load(f"{mnt}/1/emb.npy", mmap_mode="r").tolist() == [2.0, 4.0, 8.0]
    sample_dataset(str(tmp_path / "ro-ds"))
    ro = mounter(str(tmp_path / "ro-ds"), read_only=True, name="ro")
    assert np.load(f"{ro}/1/emb.npy", mmap_mode="r").tolist() == [1.0, 1.5, -1.0]


def test_cached_reads_follow_every_change(mnt):
    before = open(f"{mnt}/2/label.txt").read()  # now in the page cache
    assert before == "two\n"
    with tempfile.NamedTemporaryFile("w", dir=f"{mnt}/2", delete=False) as f:
        f.write("0\n")  # 2 bytes: committed as "zero\n", 5
    os.replace(f.name, f"{mnt}/2/label.txt")
    for _ in range(3):
        assert open(f"{mnt}/2/label.txt").read() == "zero\n"
    assert run("sh", "-c", f"echo 1 > {mnt}/2/label.txt").returncode == 0
    assert open(f"{mnt}/2/label.txt").read() == "one\n"


def test_cli_errors_are_one_line_with_exit_code_1(url, tmp_path, mounter):
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    cases = [(str(tmp_path / "missing-ds"), str(tmp_path / "empty"), "missing-ds"),
             (url, str(tmp_path / "nowhere"), "does not exist"),
             (url, str(tmp_path / "full"), "not empty")]
    for ds, mp, words in cases:
        out = hubfs_cli("mount", ds, mp, check=False)
        assert out.returncode == 1, out
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in out.stderr, out.stderr
    assert os.listdir(tmp_path / "full") == ["keep.txt"]
    out = hubfs_cli("status", str(tmp_path / "empty"), check=False)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
