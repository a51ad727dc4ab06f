"""PNG: lossless, the stored and the served form of images, masks and segmentations."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from hubfs.errors import CodecError

NAME = "png"
EXTENSION = "png"


def check(shape: tuple, dtype: np.dtype) -> str | None:
    """Why an array of this shape/dtype cannot be PNG (None when it can). ``None`` dims are allowed."""
    dtype = np.dtype(dtype)
    channels = shape[2] if len(shape) == 3 else 1
    if len(shape) not in (2, 3):
        return f"PNG needs shape (height, width) or (height, width, channels), not rank {len(shape)}"
    if dtype == np.uint8:
        if channels is not None and channels not in (1, 2, 3, 4):
            return f"PNG holds 1 to 4 channels, not {channels}"
    elif dtype in (np.dtype(np.uint16), np.dtype(bool)):
        if channels not in (1, None) and channels != 1:
            return f"PNG holds {dtype} images with one channel only"
    else:
        return f"PNG holds uint8, uint16 or bool pixels, not {dtype}"
    return None


def encode(array: np.ndarray) -> bytes:
    """Encode a 2-D or 3-D (H, W, C) array as PNG bytes."""
    array = np.asarray(array)
    reason = check(array.shape, array.dtype)
    if reason:
        raise CodecError(reason)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype == bool:
        img = Image.fromarray(array.astype(np.uint8) * 255, mode="L").convert("1")
    elif array.dtype == np.uint16:
        img = Image.frombuffer("I;16", (array.shape[1], array.shape[0]), np.ascontiguousarray(array).astype("<u2").tobytes(), "raw", "I;16", 0, 1)
    else:
        img = Image.fromarray(np.ascontiguousarray(array))
    out = io.BytesIO()
    img.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def decode(data: bytes) -> np.ndarray:
    """Decode PNG bytes to (H, W) or (H, W, C); bool for 1-bit, uint16 for 16-bit images."""
    try:
        img = Image.open(io.BytesIO(data), formats=["PNG"])
        img.load()
    except Exception as exc:
        raise CodecError(f"not a valid PNG: {exc}") from exc
    if img.mode == "1":
        return np.asarray(img, dtype=bool)
    if img.mode in ("I;16", "I;16B", "I"):
        return np.asarray(img).astype(np.uint16)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    return np.asarray(img)


def size(data: bytes) -> tuple[int, int]:
    """(height, width) from the PNG header, without decoding pixels."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n":
        raise CodecError("not a valid PNG: bad signature")
    return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")
