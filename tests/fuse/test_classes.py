"""The class-folder layout (`hubfs mount --layout classes`) through real mounts: ImageFolder-style discovery,
the same bytes as the sample layout, cp/shutil.copy append, mv relabels, bad content EINVAL, read-only EROFS,
splits, and one-line errors for --image/--label."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess

import numpy as np
import pytest

import hubfs
from hubfs.codecs import png
from hubfs.fuse.classes import ClassView
from hubfs.fuse.view import View

from fuse_helpers import NAMES, hubfs_cli, sample_dataset

pytestmark = pytest.mark.fuse

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
LAYOUT = {"image": "image"}  # the sample dataset has two Image tensors: image and photo


def image_folder(root: str) -> tuple[list[str], list[tuple[str, int]]]:
    """torchvision.datasets.ImageFolder's discovery, exactly (find_classes + make_dataset, torchvision 0.2x):
    sorted class folders, then each one walked in sorted order for files with an image extension."""
    classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {root}.")
    class_to_idx = {name: i for i, name in enumerate(classes)}
    instances, found = [], set()
    for target_class in sorted(class_to_idx):
        target_dir = os.path.join(root, target_class)
        for folder, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                if fname.lower().endswith(IMG_EXTENSIONS):
                    instances.append((os.path.join(folder, fname), class_to_idx[target_class]))
                    found.add(target_class)
    empty = set(class_to_idx) - found
    if empty:
        raise FileNotFoundError(f"Found no valid file for the classes {', '.join(sorted(empty))}.")
    return classes, instances


def read(url: str, key: str, i: int):
    ds = hubfs.Dataset(url, mode="r")
    try:
        return ds[key, i].compute()
    finally:
        ds.close()


def length(url: str) -> int:
    ds = hubfs.Dataset(url, mode="r")
    try:
        return len(ds)
    finally:
        ds.close()


def test_image_folder_reads_every_sample_with_its_class(mounter, tmp_path):
    url = str(tmp_path / "ds")
    sample_dataset(url, n=7)
    ds = hubfs.Dataset(url, mode="r+")
    ds.append_shape(1)  # sample 7: an image but no label -> not shown
    ds["image", 7] = np.full((28, 28, 1), 77, np.uint8)
    ds.close()
    classes_mnt = mounter(url, read_only=True, name="classes", layout=LAYOUT)
    samples_mnt = mounter(url, read_only=True, name="samples")
    classes, instances = image_folder(classes_mnt)
    assert classes == sorted(NAMES)
    assert sorted(os.listdir(classes_mnt)) == sorted(NAMES)  # .hubfs is not listed: it would be a class
    assert os.path.isfile(f"{classes_mnt}/.hubfs/info.json")
    shown = {int(os.path.basename(path).split(".")[0]): classes[c] for path, c in instances}
    assert shown == {i: NAMES[i % 3] for i in range(7)}
    for path, _ in instances:
        i = os.path.basename(path).split(".")[0]
        with open(path, "rb") as a, open(f"{samples_mnt}/{i}/image.png", "rb") as b:
            assert a.read() == b.read()
        assert os.stat(path).st_size == os.stat(f"{samples_mnt}/{i}/image.png").st_size
    assert not os.path.exists(f"{classes_mnt}/zero/1.png")  # sample 1 is a "one"
    assert not os.path.exists(f"{classes_mnt}/zero/7.png")


def test_copying_into_a_class_folder_appends(mounter, url, tmp_path):
    mnt = mounter(url, layout=LAYOUT)
    new = np.full((28, 28, 1), 200, np.uint8)
    src = tmp_path / "new.png"
    src.write_bytes(png.encode(new))
    out = subprocess.run(["cp", "-p", str(src), f"{mnt}/two/cat.png"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    shutil.copy(src, f"{mnt}/one/")  # copyfile, then chmod of the name it wrote
    assert sorted(os.listdir(f"{mnt}/two")) == ["2.png", "4.png"]
    assert sorted(os.listdir(f"{mnt}/one")) == ["1.png", "5.png"]
    os.stat(f"{mnt}/two/cat.png")  # the name the tool wrote stays reachable (not listed)
    with open(f"{mnt}/two/cat.png", "rb") as alias, open(f"{mnt}/two/4.png", "rb") as listed:
        assert alias.read() == listed.read()  # the sample's file, as the mount serves it
    assert png.decode(open(f"{mnt}/two/4.png", "rb").read()).reshape(new.shape).tolist() == new.tolist()
    classes, instances = image_folder(mnt)
    assert len(instances) == 6
    hubfs_cli("unmount", mnt)
    assert length(url) == 6
    assert [int(read(url, "label", i)) for i in (4, 5)] == [2, 1]
    assert (read(url, "image", 4) == new).all() and (read(url, "image", 5) == new).all()


def test_moving_between_class_folders_relabels(mounter, url):
    mnt = mounter(url, layout=LAYOUT)
    out = subprocess.run(["mv", f"{mnt}/zero/0.png", f"{mnt}/two/"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    os.rename(f"{mnt}/one/1.png", f"{mnt}/zero/anything.png")
    assert sorted(os.listdir(f"{mnt}/two")) == ["0.png", "2.png"]
    assert sorted(os.listdir(f"{mnt}/zero")) == ["1.png", "3.png"]
    assert "one" not in os.listdir(mnt)  # no sample left in it: an empty class folder is not listed
    assert os.listdir(f"{mnt}/one") == []  # but it is there, to copy into
    with pytest.raises(PermissionError):  # onto another sample: samples cannot be removed
        os.rename(f"{mnt}/two/0.png", f"{mnt}/zero/3.png")
    with pytest.raises(PermissionError):
        os.unlink(f"{mnt}/two/0.png")
    hubfs_cli("unmount", mnt)
    assert [int(read(url, "label", i)) for i in range(4)] == [2, 0, 2, 0]
    assert length(url) == 4


def test_content_that_does_not_decode_is_einval_and_stores_nothing(mounter, url):
    mnt = mounter(url, layout=LAYOUT)
    out = subprocess.run(["dd", f"of={mnt}/one/junk.png", "status=none"], input=b"not a png", capture_output=True)
    assert b"Invalid argument" in out.stderr and out.returncode != 0
    assert sorted(os.listdir(f"{mnt}/one")) == ["1.png"]
    fd = os.open(f"{mnt}/one/wrong.png", os.O_WRONLY | os.O_CREAT)
    os.write(fd, png.encode(np.zeros((5, 5, 3), np.uint8)))  # a PNG of another shape
    for call in (os.fsync, os.close):  # fsync fails whenever the close would
        with pytest.raises(OSError) as exc:
            call(fd)
        assert exc.value.errno == errno.EINVAL
    assert sorted(os.listdir(f"{mnt}/one")) == ["1.png"]
    hubfs_cli("unmount", mnt)
    assert length(url) == 4


def test_read_only_class_mount_refuses_every_change(mounter, url, tmp_path):
    mnt = mounter(url, read_only=True, layout=LAYOUT)
    src = tmp_path / "x.png"
    src.write_bytes(open(f"{mnt}/zero/0.png", "rb").read())
    for args in (["cp", str(src), f"{mnt}/zero/x.png"], ["mv", f"{mnt}/zero/0.png", f"{mnt}/one/"],
                 ["rm", f"{mnt}/zero/0.png"], ["mkdir", f"{mnt}/four"]):
        out = subprocess.run(args, capture_output=True, text=True)
        assert "Read-only file system" in out.stderr, args


def test_split_at_adds_train_and_val(mounter, tmp_path):
    url = str(tmp_path / "ds")
    sample_dataset(url, n=6)
    mnt = mounter(url, layout={**LAYOUT, "split_at": 4})
    assert sorted(os.listdir(mnt)) == ["train", "val"]
    _, train = image_folder(f"{mnt}/train")
    _, val = image_folder(f"{mnt}/val")
    assert sorted(os.path.basename(p) for p, _ in train) == [f"{i}.png" for i in range(4)]
    assert sorted(os.path.basename(p) for p, _ in val) == ["4.png", "5.png"]
    data = open(f"{mnt}/train/zero/0.png", "rb").read()
    out = subprocess.run(["cp", "/dev/stdin", f"{mnt}/train/zero/n.png"], input=data, capture_output=True)
    assert b"Operation not permitted" in out.stderr  # new samples take the next index: val/
    subprocess.run(["cp", "/dev/stdin", f"{mnt}/val/zero/n.png"], input=data, check=True)
    assert "6.png" in os.listdir(f"{mnt}/val/zero")


def test_split_by_tensor(mounter, tmp_path):
    url = str(tmp_path / "ds")
    ds = hubfs.Dataset(url, mode="w", shape=(4,), schema={
        "image": hubfs.schema.Image((4, 4, 1), "uint8"), "label": hubfs.schema.ClassLabel(num_classes=2),
        "split": hubfs.schema.Text(max_shape=(8,))})
    for i in range(4):
        ds["image", i] = np.full((4, 4, 1), i, np.uint8)
        ds["label", i] = i % 2
        ds["split", i] = "train" if i < 3 else "test"
    ds.close()
    mnt = mounter(url, layout={"split": "split"})
    assert sorted(os.listdir(mnt)) == ["test", "train"]
    assert sorted(os.listdir(f"{mnt}/train")) == ["0", "1"] and os.listdir(f"{mnt}/test") == ["1"]
    os.rename(f"{mnt}/train/0/0.png", f"{mnt}/test/1/0.png")
    assert sorted(os.listdir(f"{mnt}/test/1")) == ["0.png", "3.png"]
    hubfs_cli("unmount", mnt)
    assert (read(url, "split", 0), int(read(url, "label", 0))) == ("test", 1)


def test_bad_image_or_label_is_one_clear_line(url, tmp_path):
    mp = tmp_path / "mp"
    mp.mkdir()
    for args, words in (([], "--image KEY: Image tensors: image, photo"),
                        (["--image", "nope"], "--image 'nope': no such tensor"),
                        (["--image", "image", "--label", "image"], "'image' is of type Image, not ClassLabel"),
                        (["--image", "emb"], "'emb' is served as .npy")):
        out = hubfs_cli("mount", url, str(mp), "--layout", "classes", *args, check=False)
        assert out.returncode == 1 and words in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1
    out = hubfs_cli("mount", url, str(mp), "--label", "label", check=False)
    assert out.returncode == 1 and "need --layout classes" in out.stderr


def test_listing_a_class_folder_reads_no_image(url, monkeypatch):
    """Without FUSE: the class index is built once, and listing or stat'ing files encodes nothing."""
    ds = hubfs.Dataset(url, mode="r")
    try:
        view = ClassView(View(ds), image="image")
        monkeypatch.setattr(View, "file_bytes", lambda *a: pytest.fail("an image was read"))
        monkeypatch.setattr(type(ds), "read_many", lambda *a: pytest.fail("labels were read again"))
        names = [name for name, attrs, _ in view.listdir("/zero")]
        assert names == [".", "..", "0.png", "3.png"]
        assert view.stat("/zero/3.png")["st_size"] > 0
    finally:
        ds.close()


def test_a_read_only_class_mount_follows_a_writer_on_refresh(mounter, url):
    mnt = mounter(url, read_only=True, layout=LAYOUT)
    assert sorted(os.listdir(f"{mnt}/one")) == ["1.png"]
    ds = hubfs.Dataset(url, mode="r+")  # another process's writer: the mount holds no lock
    ds.append({"image": np.full((28, 28, 1), 9, np.uint8), "label": 1})
    ds["label", 0] = 1
    ds.flush()
    ds.close()
    hubfs_cli("refresh", mnt)
    assert sorted(os.listdir(f"{mnt}/one")) == ["0.png", "1.png", "4.png"]
    assert sorted(os.listdir(f"{mnt}/zero")) == ["3.png"]
    assert not os.path.exists(f"{mnt}/zero/0.png")


def test_rsync_and_mv_from_outside_add_one_sample_each(mounter, url, tmp_path):
    mnt = mounter(url, layout=LAYOUT)
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(png.encode(np.full((28, 28, 1), 5, np.uint8)))
    (tmp_path / "b.png").write_bytes(png.encode(np.full((28, 28, 1), 6, np.uint8)))
    out = subprocess.run(["rsync", "-a", f"{src}/", f"{mnt}/one/"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # a temporary name, closed (the sample), then renamed: an alias
    out = subprocess.run(["mv", str(tmp_path / "b.png"), f"{mnt}/zero/"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # across file systems: copy, chmod/chown/utimens, unlink the source
    assert sorted(os.listdir(f"{mnt}/one")) == ["1.png", "4.png"]
    assert sorted(os.listdir(f"{mnt}/zero")) == ["0.png", "3.png", "5.png"]
    hubfs_cli("unmount", mnt)
    assert length(url) == 6
    assert [int(read(url, "label", i)) for i in (4, 5)] == [1, 0]
    assert int(read(url, "image", 4)[0, 0, 0]) == 5 and int(read(url, "image", 5)[0, 0, 0]) == 6
