"""Pure encoders and decoders of samples and files; nothing here knows about datasets.

Sample codecs turn one array into the bytes stored for it and back:
``png``/``jpeg`` (images, stored exactly as a file would hold them), ``lz4``/``zstd``/``None`` (the array's
C-order bytes, compressed or not). File codecs (text, npy, json, wav) live beside them, one module each.
"""
from __future__ import annotations

import numpy as np

from hubfs.codecs import compress, jpeg, png
from hubfs.errors import CodecError

IMAGE_CODECS = {"png": png, "jpeg": jpeg}
SAMPLE_COMPRESSORS = ("png", "jpeg", "lz4", "zstd", None)


def encode_sample(array: np.ndarray, compressor: str | None) -> bytes:
    """The bytes stored for one sample."""
    if compressor in IMAGE_CODECS:
        if array.size == 0:
            return b""
        return IMAGE_CODECS[compressor].encode(array)
    return compress.compress(np.ascontiguousarray(array).data, compressor)


def decode_sample(data: bytes, compressor: str | None, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """One sample back from its stored bytes; ``shape`` is the sample's stored shape."""
    dtype = np.dtype(dtype)
    if compressor in IMAGE_CODECS:
        if not data:
            return np.zeros(shape, dtype)
        array = IMAGE_CODECS[compressor].decode(data)
        if array.dtype != dtype:
            array = array.astype(dtype)
        if array.shape != tuple(shape):
            if array.size != int(np.prod(shape)):
                raise CodecError(f"decoded image has shape {array.shape}, expected {tuple(shape)}")
            array = array.reshape(shape)
        return array
    raw = compress.decompress(data, compressor)
    if len(raw) != int(np.prod(shape)) * dtype.itemsize:
        raise CodecError(f"sample holds {len(raw)} bytes, expected shape {tuple(shape)} of {dtype}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)
