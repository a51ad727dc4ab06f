"""JSON files of numeric arrays: BBox (``[x, y, w, h]``) and Polygon (``[[x, y], ...]``) samples."""
from __future__ import annotations

import json

import numpy as np

from hubfs.errors import CodecError

NAME = "json"
EXTENSION = "json"


def encode(array: np.ndarray) -> bytes:
    """The array as nested JSON lists, one line; floats keep every digit (``repr`` round-trips)."""
    return (json.dumps(np.asarray(array).tolist()) + "\n").encode("utf-8")


def decode(data: bytes) -> np.ndarray:
    """Nested JSON lists of numbers back to an array; CodecError for other JSON or ragged lists."""
    try:
        value = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CodecError(f"not valid JSON: {exc}") from None
    try:
        array = np.asarray(value)
    except ValueError as exc:  # ragged nesting
        raise CodecError(f"JSON is not a rectangular array of numbers: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise CodecError(f"JSON holds {type(value).__name__} {str(value)[:40]}, not numbers in lists")
    return array
