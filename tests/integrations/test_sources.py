"""from_path: image-class folders and CSV folders."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

import hubfs
from hubfs.errors import CodecError
from hubfs.schema import Text


def write_images(root, shapes):
    for cls, files in shapes.items():
        (root / cls).mkdir(parents=True)
        for n, (h, w) in enumerate(files):
            pixels = np.full((h, w, 3), 10 * n, np.uint8)
            PILImage.fromarray(pixels).save(root / cls / f"img{n}.png")
    (root / "notes.txt").write_text("not an image")


def test_from_path_image_classes_fixed_shape(tmp_path):
    write_images(tmp_path / "data" / "photos", {"Dogs": [(6, 5)] * 3, "cats": [(6, 5)] * 2})
    ds = hubfs.Dataset.from_path(str(tmp_path / "data")).store(str(tmp_path / "out"))
    assert len(ds) == 5
    assert ds.schema["image"].shape == (6, 5, 3)
    assert ds.schema["label"].names == ["cats", "dogs"]
    assert ds["label"].compute().tolist() == [0, 0, 1, 1, 1]
    assert ds["image", 3].compute()[0, 0, 0] == 10


def test_from_path_mixed_shapes_are_dynamic_with_the_max(tmp_path):
    write_images(tmp_path / "root", {"a": [(4, 4), (7, 3)], "b": [(2, 9)]})
    ds = hubfs.Dataset.from_path(str(tmp_path / "root"), scheduler="processed", workers=2).store(str(tmp_path / "out"))
    t = ds.schema["image"]
    assert t.shape == (None, None, 3) and t.max_shape == (7, 9, 3)
    assert [ds["image", i].compute().shape for i in range(3)] == [(4, 4, 3), (7, 3, 3), (2, 9, 3)]


def test_a_file_that_does_not_decode_is_named(tmp_path):
    write_images(tmp_path / "root", {"a": [(4, 4)], "b": [(4, 4)]})
    (tmp_path / "root" / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(CodecError, match="broken.png"):
        hubfs.Dataset.from_path(str(tmp_path / "root"))


def test_from_path_csv_folder(tmp_path):
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "a.csv").write_text("id,score,city\n1,0.5,Paris\n2,1.5,Rome\n")
    (tmp_path / "csv" / "b.csv").write_text("id,score,city\n3,2.0,Oslo\n")
    ds = hubfs.Dataset.from_path(str(tmp_path / "csv")).store(str(tmp_path / "out"))
    assert len(ds) == 3
    assert ds["id"].compute().tolist() == [1, 2, 3] and ds["id"].compute().dtype == np.int64
    assert ds["score"].compute().tolist() == [0.5, 1.5, 2.0]
    assert isinstance(ds.schema["city"], Text) and ds["city", 2].compute() == "Oslo"
    assert ds["Filename", 2].compute() == "b.csv"
