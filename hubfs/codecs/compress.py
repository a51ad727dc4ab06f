"""General-purpose byte compressors (lz4, zstd, none) for samples and chunks."""
from __future__ import annotations

from numcodecs import LZ4, Blosc, Zstd

from hubfs.errors import CodecError

_CODECS = {"lz4": LZ4(acceleration=1), "zstd": Zstd(level=1)}
NAMES = ("lz4", "zstd", None)
_BLOSC = Blosc()


def compress(data: bytes | memoryview, name: str | None) -> bytes:
    if name is None:
        return bytes(data)
    return bytes(_CODECS[name].encode(data))


def decompress(data: bytes | memoryview, name: str | None) -> bytes:
    if name is None:
        return bytes(data)
    try:
        return bytes(_CODECS[name].decode(data))
    except Exception as exc:
        raise CodecError(f"corrupt {name} data: {exc}") from exc


def encode_chunk(array, name: str | None) -> bytes:
    """A zarr v3 chunk's bytes: little-endian C-order, then blosc-lz4 ('lz4') or zstd, as zarr writes them."""
    import numpy as np

    array = np.ascontiguousarray(array)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    if name == "lz4":
        shuffle = Blosc.SHUFFLE if array.dtype.itemsize > 1 else Blosc.NOSHUFFLE
        return bytes(Blosc(cname="lz4", clevel=5, shuffle=shuffle).encode(array))
    if name == "zstd":
        return bytes(_CODECS["zstd"].encode(array))
    return array.tobytes()


def decode_chunk(data: bytes, name: str | None) -> bytes:
    """Inverse of ``encode_chunk``: the raw little-endian bytes."""
    try:
        if name == "lz4":
            return bytes(_BLOSC.decode(data))
        if name == "zstd":
            return bytes(_CODECS["zstd"].decode(data))
    except Exception as exc:
        raise CodecError(f"corrupt {name} chunk: {exc}") from exc
    return bytes(data)
