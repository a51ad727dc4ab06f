"""The file interface the mount uses: images as stored (PNG/JPEG bytes), written as-is after validation."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from hubfs.errors import SampleError
from hubfs.schema import Image, Tensor, Text


def png(array) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(np.asarray(array, "uint8")).save(out, format="PNG")
    return out.getvalue()


def jpeg(array) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(np.asarray(array, "uint8")).save(out, format="JPEG", quality=95)
    return out.getvalue()


@pytest.fixture
def ds(url, open_ds):
    return open_ds(url, shape=(4,), schema={"p": Image((None, None, 3), max_shape=(8, 8, 3)),
                                            "j": Image((8, 8, 3), compressor="jpeg"),
                                            "t": Tensor((2,)), "s": Text()})


def test_read_stored_is_the_file(ds, reopen):
    value = np.random.default_rng(0).integers(0, 255, (5, 6, 3), dtype="uint8")
    ds["p", 1] = value
    ds["j", 1] = np.full((8, 8, 3), 100, "uint8")
    ds["t", 1] = [1, 2]
    for d in (ds, reopen(ds, mode="r")):
        data = d.read_stored("p", 1)
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and d.stored_nbytes("p", 1) == len(data)
        np.testing.assert_array_equal(np.asarray(PILImage.open(io.BytesIO(data))), value)
        data = d.read_stored("j", 1)
        assert data[:2] == b"\xff\xd8" and d.stored_nbytes("j", 1) == len(data)
        assert d.read_stored("p", 0) is None and d.stored_nbytes("p", 0) is None
        assert d.read_stored("t", 1) is None and d.read_stored("s", 1) is None


def test_write_stored_keeps_the_bytes(ds, reopen):
    data = png(np.full((5, 6, 3), 7))
    ds.write_stored("p", 2, data)
    photo = jpeg(np.full((8, 8, 3), 50))
    ds.write_stored("j", 2, photo)
    for d in (ds, reopen(ds, mode="r")):
        assert d.read_stored("p", 2) == data
        assert d.read_stored("j", 2) == photo
        np.testing.assert_array_equal(d["p", 2].compute(), np.full((5, 6, 3), 7))
        assert d["p", 2].shape == (5, 6, 3)
        assert abs(int(d["j", 2].compute().mean()) - 50) <= 2


@pytest.mark.parametrize("key,data,words", [
    ("p", b"garbage", ["PNG"]),
    ("p", png(np.zeros((9, 9, 3)))[:30], ["PNG"]),
    ("p", png(np.zeros((9, 9, 3))), ["max_shape"]),
    ("p", png(np.zeros((4, 4))), ["(4, 4, 1)"]),
    ("p", jpeg(np.zeros((4, 4, 3))), ["PNG"]),
    ("j", png(np.zeros((8, 8, 3))), ["JPEG"]),
    ("j", jpeg(np.zeros((7, 8, 3))), ["(8, 8, 3)"]),
    ("t", png(np.zeros((2, 2, 3))), ["files"]),
])
def test_write_stored_validates(ds, reopen, key, data, words):
    ds.write_stored("p", 3, png(np.ones((2, 2, 3))))
    with pytest.raises(SampleError) as err:
        ds.write_stored(key, 3, data)
    assert f"tensor {key!r}, index 3" in str(err.value)
    for word in words:
        assert word in str(err.value)
    d = reopen(ds, mode="r")
    np.testing.assert_array_equal(d["p", 3].compute(), np.ones((2, 2, 3)))
    assert not d.has_value("j", 3) and not d.has_value("t", 3)
