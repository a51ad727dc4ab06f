"""Pure encoders and decoders of samples and files; nothing here knows about datasets.

Sample codecs turn one array into the bytes stored for it and back: ``png``/``jpeg`` (images, stored
exactly as a file would hold them), ``lz4``/``zstd``/``None`` (the array's C-order bytes, compressed or
not); each is one object in ``registry``, looked up by the name a schema gives. File codecs (text, npy,
json, wav) live beside them, one module each.
"""
from __future__ import annotations

import json as _json  # not "json": hubfs.codecs.json is a submodule of this package
import struct

import numpy as np

from hubfs.codecs import jpeg, png, registry
from hubfs.errors import CodecError

registry.register(registry.ImageCodec(png))
registry.register(registry.ImageCodec(jpeg))


def encode_sample(array: np.ndarray, compressor: str | None) -> bytes:
    """The bytes stored for one sample; they carry its shape, so data and shape change in one write.

    Images become PNG/JPEG files. Everything else (and empty images, which PNG cannot hold) is a header
    of rank and dims (``<B`` + ``<I`` each) followed by the C-order little-endian bytes, compressed.
    """
    array = np.asarray(array)
    codec = registry.get(compressor)
    if codec.is_image and array.size:
        return codec.encode(array)
    header = struct.pack(f"<B{array.ndim}I", array.ndim, *array.shape)
    if array.dtype.kind == "O":
        body = _encode_objects(array)
    else:
        body = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    if not body:
        return header
    return header + codec.compress(body)


def decode_image(data: bytes, codec: str, ndim: int) -> np.ndarray:
    """A PNG/JPEG file (of image codec ``codec``) as an array of ``ndim`` dimensions: a grey image gets
    its channel axis back when the tensor is (height, width, 1). Pixels keep the file's dtype."""
    array = registry.get(codec).decode(data)
    if array.ndim == ndim - 1:
        array = array[..., None]
    if array.ndim != ndim:
        raise CodecError(f"the image has {array.ndim} dimensions, the tensor {ndim}")
    return array


def decode_sample(data: bytes, compressor: str | None, dtype: np.dtype, ndim: int) -> np.ndarray:
    """One sample back from its stored bytes, as ``dtype`` with ``ndim`` dimensions."""
    dtype = np.dtype(dtype)
    codec = registry.get(compressor)
    if codec.is_image and data.startswith(registry.image_signatures()):
        array = decode_image(data, compressor, ndim)
        return array if array.dtype == dtype else array.astype(dtype)
    if not data or data[0] != ndim or len(data) < 1 + 4 * ndim:
        raise CodecError(f"sample header does not describe a {ndim}-dimensional array")
    shape = struct.unpack_from(f"<{ndim}I", data, 1)
    body = data[1 + 4 * ndim:]
    raw = codec.decompress(body) if body else b""
    if dtype.kind == "O":
        return _decode_objects(raw, shape)
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise CodecError(f"sample holds {len(raw)} bytes, expected {expected} for shape {shape} of {dtype}")
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(shape)


def _encode_objects(array: np.ndarray) -> bytes:
    """An object array's items as a JSON list (str, numbers, bools, None and lists of them)."""
    try:
        return _json.dumps([_plain(v) for v in array.reshape(-1).tolist()], ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise CodecError(f"object samples hold str, numbers, bools, None and lists of them: {exc}") from None


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, str):
        value.encode("utf-8")  # a lone surrogate fails here, not in the store
    return value


def _decode_objects(raw: bytes, shape: tuple) -> np.ndarray:
    try:
        items = _json.loads(raw.decode("utf-8")) if raw else []
    except (UnicodeDecodeError, ValueError) as exc:
        raise CodecError(f"object sample is not valid JSON: {exc}") from None
    out = np.empty(len(items), dtype=object)
    for j, item in enumerate(items):
        out[j] = item
    if out.size != int(np.prod(shape)):
        raise CodecError(f"object sample holds {out.size} items, expected {int(np.prod(shape))} for shape {shape}")
    return out.reshape(shape)
