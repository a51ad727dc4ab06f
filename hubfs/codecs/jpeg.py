"""JPEG: lossy, for photos stored as JPEG and served as ``.jpg`` files."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from hubfs.errors import CodecError

NAME = "jpeg"
EXTENSION = "jpg"
SIGNATURE = b"\xff\xd8\xff"  # SOI and the first marker's 0xFF
QUALITY = 90
LOSSY = True


def check(shape: tuple, dtype: np.dtype) -> str | None:
    """Why an array of this shape/dtype cannot be JPEG (None when it can)."""
    if len(shape) not in (2, 3):
        return f"JPEG needs shape (height, width) or (height, width, channels), not rank {len(shape)}"
    if np.dtype(dtype) != np.uint8:
        return f"JPEG holds uint8 pixels, not {np.dtype(dtype)}"
    if len(shape) == 3 and shape[2] not in (1, 3, None):
        return f"JPEG holds 1 or 3 channels, not {shape[2]}"
    return None


def encode(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    reason = check(array.shape, array.dtype)
    if reason:
        raise CodecError(reason)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(out, format="JPEG", quality=QUALITY)
    return out.getvalue()


def open_image(data: bytes, fmt: str) -> "Image.Image":
    """Pillow's decoded image of ``data`` in format ``fmt`` ("JPEG", "PNG"); CodecError when it is not one."""
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt])
        img.load()
    except Exception as exc:
        raise CodecError(f"not a valid {fmt}: {exc}") from exc
    return img


def decode(data: bytes) -> np.ndarray:
    img = open_image(data, "JPEG")
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    return np.asarray(img)
