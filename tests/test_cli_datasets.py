"""`hubfs copy` and `hubfs delete`, run as a user runs them."""
import subprocess
import sys

import numpy as np

import hubfs
from hubfs.schema import ClassLabel, Image


def hubfs_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "hubfs", *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, **kw)


def make(path):
    with hubfs.Dataset(str(path), mode="w", shape=(3,), schema={"image": Image((4, 4)), "label": ClassLabel(num_classes=3)}) as ds:
        for i in range(3):
            ds["image", i] = np.full((4, 4), i, "uint8")
            ds["label", i] = i


def test_copy_makes_an_identical_dataset(tmp_path):
    make(tmp_path / "a")
    out = hubfs_cli("copy", str(tmp_path / "a"), str(tmp_path / "b"))
    assert out.returncode == 0, out.stderr
    assert "copied 3 samples" in out.stdout
    with hubfs.Dataset(str(tmp_path / "b"), mode="r") as ds:
        assert ds["label", 0:3].compute().tolist() == [0, 1, 2]
        np.testing.assert_array_equal(ds["image", 2].compute(), np.full((4, 4), 2))


def test_copy_refuses_a_destination_that_holds_something(tmp_path):
    make(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    out = hubfs_cli("copy", str(tmp_path / "a"), str(tmp_path / "b"))
    assert out.returncode == 1 and "not empty" in out.stderr
    assert (tmp_path / "b" / "keep.txt").read_text() == "mine"


def test_delete_needs_yes_without_a_terminal(tmp_path):
    make(tmp_path / "a")
    out = hubfs_cli("delete", str(tmp_path / "a"))
    assert out.returncode == 2 and "--yes" in out.stderr
    assert (tmp_path / "a" / "zarr.json").exists()
    out = hubfs_cli("delete", str(tmp_path / "a"), "--yes")
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())


def test_ls_lists_the_datasets_of_the_namespace(tmp_path, monkeypatch):
    root = tmp_path / "root"
    make(root / "alice" / "mnist")
    make(root / "alice" / "pets")
    make(root / "bob" / "cifar")
    (root / "bob" / "notes").mkdir()
    (root / "bob" / "notes" / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')  # not ours
    monkeypatch.setenv("HUBFS_ROOT", str(root))
    out = hubfs_cli("ls")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["alice/mnist  3 samples", "alice/pets   3 samples", "bob/cifar    3 samples"]
    assert hubfs_cli("ls", "bob").stdout == "bob/cifar  3 samples\n"
    monkeypatch.delenv("HUBFS_ROOT")
    out = hubfs_cli("ls", str(root), "--json")
    assert out.returncode == 0 and '"name": "alice/pets", "length": 3' in out.stdout
    assert hubfs_cli("ls", str(tmp_path / "nothing-here")).stdout == ""
