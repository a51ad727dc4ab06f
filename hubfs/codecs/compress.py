"""General-purpose byte compressors (lz4, zstd, none) for samples and chunks."""
from __future__ import annotations

from numcodecs import LZ4, Zstd

from hubfs.errors import CodecError

_CODECS = {"lz4": LZ4(acceleration=1), "zstd": Zstd(level=1)}
NAMES = ("lz4", "zstd", None)


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
