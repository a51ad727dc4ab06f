"""The compressors a schema can name, one object each, registered once.

A schema's ``compressor`` names one of them (``None`` is ``raw``). Two kinds:

- **image codecs** (``png``, ``jpeg``): a sample is stored as the file itself; the mount serves it as it is
  stored, under the codec's ``extension``. An image codec fits some shapes and dtypes only (``fits``).
  Samples it cannot hold (empty images) are stored raw.
- **byte compressors** (``lz4``, ``zstd``, ``raw``): a sample is its C-order bytes, compressed; a chunk of
  many samples (the chunked layout) is compressed as zarr v3 would with the codec's ``zarr_codecs``. Each
  compressor has one sample form and one chunk form, their parameters written here once: ``lz4`` samples
  are raw LZ4 blocks, ``lz4`` chunks blosc-lz4 (zarr's standard codec for it).

Layout, tensors, schema checks and the mount look codecs up here (``get``); none branches on names.
"""
from __future__ import annotations

import struct
from typing import Any

import numpy as np
from numcodecs import LZ4, Blosc, Zstd

from hubfs.errors import CodecError


class Codec:
    """One compressor: its name, what it fits, how samples and chunks are encoded and decoded."""

    name: str | None = None  # as a schema names it
    label: str = ""  # as messages name it
    is_image = False
    lossy = False  # a decoded sample may differ from the value encoded
    extension: str | None = None  # an image codec's file extension
    signature: bytes = b""  # an image codec's file signature

    def fits(self, shape: tuple, dtype: Any) -> str | None:
        """Why samples of this shape and dtype cannot be stored with it (None when they can)."""
        return None

    # byte form: a sample's bytes (also the raw fallback of image codecs)
    def compress(self, data: bytes | memoryview) -> bytes:
        return bytes(data)

    def decompress(self, data: bytes | memoryview) -> bytes:
        return bytes(data)

    # chunk form: a zarr v3 chunk of many samples
    def zarr_codecs(self, dtype: np.dtype) -> list[dict]:
        """The zarr v3 bytes-to-bytes codecs (metadata) that ``encode_chunk`` applies."""
        return []

    def encode_chunk(self, array: np.ndarray) -> bytes:
        """A chunk's stored bytes: little-endian C-order, compressed as ``zarr_codecs`` says."""
        return _little_endian(array).tobytes()

    def decode_chunk(self, data: bytes | memoryview, nbytes: int) -> bytearray:
        """A chunk's raw little-endian bytes, writable (the decoded chunk is cached and edited in place);
        CodecError unless they are ``nbytes`` long."""
        return _sized(bytearray(data), nbytes)

    def decode_chunk_into(self, data: bytes | memoryview, out: memoryview) -> None:
        """``decode_chunk`` into ``out`` (writable, contiguous bytes: a slice of a bulk read's result),
        CodecError unless the chunk is exactly ``len(out)`` bytes. Codecs that can decompress in place
        override this; the default copies once more."""
        out[:] = self.decode_chunk(data, len(out))


def _sized(raw: bytearray, nbytes: int) -> bytearray:
    if len(raw) != nbytes:
        raise CodecError(f"{len(raw)} bytes decoded, {nbytes} expected")
    return raw


def _little_endian(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    return array.astype(array.dtype.newbyteorder("<")) if array.dtype.byteorder == ">" else array


class _Raw(Codec):
    label = "raw"


class _Compressing(Codec):
    """A byte compressor whose sample form is one numcodecs codec (``_sample``)."""

    _sample: Any

    def compress(self, data: bytes | memoryview) -> bytes:
        return bytes(self._sample.encode(data))

    def decompress(self, data: bytes | memoryview) -> bytes:
        try:
            return bytes(self._sample.decode(data))
        except Exception as exc:
            raise CodecError(f"corrupt {self.label} data: {exc}") from exc


class _LZ4(_Compressing):
    name = label = "lz4"
    _sample = LZ4(acceleration=1)
    _blosc_decoder = Blosc()
    CHUNK = {"cname": "lz4", "clevel": 5}  # blosc's settings for chunks: encode_chunk and zarr_codecs

    @staticmethod
    def _shuffle(dtype: np.dtype) -> bool:
        return np.dtype(dtype).itemsize > 1

    def zarr_codecs(self, dtype: np.dtype) -> list[dict]:
        return [{"name": "blosc", "configuration": {"typesize": int(np.dtype(dtype).itemsize), **self.CHUNK,
                                                    "shuffle": "shuffle" if self._shuffle(dtype) else "noshuffle",
                                                    "blocksize": 0}}]

    def encode_chunk(self, array: np.ndarray) -> bytes:
        array = _little_endian(array)
        shuffle = Blosc.SHUFFLE if self._shuffle(array.dtype) else Blosc.NOSHUFFLE
        return bytes(Blosc(**self.CHUNK, shuffle=shuffle).encode(array))

    def decode_chunk(self, data: bytes | memoryview, nbytes: int) -> bytearray:
        out = bytearray(nbytes)
        self.decode_chunk_into(data, memoryview(out))
        return out

    def decode_chunk_into(self, data: bytes | memoryview, out: memoryview) -> None:
        # Decompressed straight into ``out``: the chunk's size is in the blosc header (bytes 4..8).
        if len(data) < 16:
            raise CodecError(f"corrupt lz4 chunk: {len(data)} bytes, shorter than a blosc header")
        size = struct.unpack_from("<I", data, 4)[0]
        if size != len(out):
            raise CodecError(f"{size} bytes decoded, {len(out)} expected")
        try:
            self._blosc_decoder.decode(data, out=out)
        except Exception as exc:
            raise CodecError(f"corrupt lz4 chunk: {exc}") from exc


class _Zstd(_Compressing):
    name = label = "zstd"
    LEVEL = 1
    _sample = Zstd(level=LEVEL)  # also the chunk form: zarr's zstd codec is the same frame format

    def zarr_codecs(self, dtype: np.dtype) -> list[dict]:
        return [{"name": "zstd", "configuration": {"level": self.LEVEL, "checksum": False}}]

    def encode_chunk(self, array: np.ndarray) -> bytes:
        return bytes(self._sample.encode(_little_endian(array)))

    def decode_chunk(self, data: bytes | memoryview, nbytes: int) -> bytearray:
        try:
            raw = self._sample.decode(data)
        except Exception as exc:
            raise CodecError(f"corrupt zstd chunk: {exc}") from exc
        return _sized(bytearray(raw), nbytes)


class ImageCodec(Codec):
    """An image file format as a sample codec (a module with NAME, EXTENSION, check, encode, decode)."""

    is_image = True

    def __init__(self, module: Any):
        self._module = module
        self.name = self.label = module.NAME
        self.extension = module.EXTENSION
        self.signature = module.SIGNATURE
        self.lossy = getattr(module, "LOSSY", False)

    def fits(self, shape: tuple, dtype: Any) -> str | None:
        return self._module.check(shape, dtype)

    def encode(self, array: np.ndarray) -> bytes:
        """The image file of ``array``."""
        return self._module.encode(array)

    def decode(self, data: bytes) -> np.ndarray:
        """The pixels of an image file, in the file's dtype and rank."""
        return self._module.decode(data)


_REGISTRY: dict[str | None, Codec] = {}
_SIGNATURES: tuple[bytes, ...] = ()  # of the image codecs; kept by register/unregister (read per sample)


def _registered() -> None:
    global _SIGNATURES
    _SIGNATURES = tuple(c.signature for c in image_codecs().values())


def register(codec: Codec) -> Codec:
    """Make ``codec`` nameable by schemas (its ``name``); returns it."""
    _REGISTRY[codec.name] = codec
    _registered()
    return codec


def unregister(name: str | None) -> None:
    """Forget the codec ``name`` (datasets that use it no longer open)."""
    _REGISTRY.pop(name, None)
    _registered()


def get(name: str | None) -> Codec:
    """The codec a schema's ``compressor`` names; CodecError for a name nothing registered."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise CodecError(f"unknown compressor {name!r}; choose one of {', '.join(map(str, names()))}") from None


def names() -> tuple[str | None, ...]:
    """Every name a schema may give as ``compressor``, images first."""
    return tuple(sorted(_REGISTRY, key=lambda n: (not _REGISTRY[n].is_image, n is None, str(n))))


def image_codecs() -> dict[str, Codec]:
    """The image codecs by name."""
    return {n: c for n, c in _REGISTRY.items() if c.is_image and n is not None}


def image_signatures() -> tuple[bytes, ...]:
    """The file signatures of every image codec (a sample of an image tensor that starts with none of
    them is stored raw: an empty image)."""
    return _SIGNATURES


def by_extension(extension: str) -> Codec | None:
    """The image codec whose files carry ``extension`` (None when none does)."""
    return next((c for c in _REGISTRY.values() if c.is_image and c.extension == extension), None)


RAW = register(_Raw())
register(_LZ4())
register(_Zstd())
