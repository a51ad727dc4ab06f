"""NumPy ``.npy`` files: any numeric tensor, exactly as ``numpy.save`` writes it."""
from __future__ import annotations

import io

import numpy as np

from hubfs.errors import CodecError

NAME = "npy"
EXTENSION = "npy"
MAGIC = b"\x93NUMPY"


def encode(array: np.ndarray) -> bytes:
    """The ``.npy`` file of ``array`` (C order, no pickles)."""
    out = io.BytesIO()
    np.save(out, np.asarray(array), allow_pickle=False)  # not ascontiguousarray: it makes 0-d arrays 1-d
    return out.getvalue()


def decode(data: bytes) -> np.ndarray:
    """An array from ``.npy`` bytes; CodecError for anything else, object arrays included."""
    if not bytes(data[:6]) == MAGIC:
        raise CodecError("not a valid .npy file: it does not start with the .npy magic bytes")
    try:
        return np.load(io.BytesIO(bytes(data)), allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, EOFError, OSError... for bad files
        raise CodecError(f"not a valid .npy file: {exc}") from None
