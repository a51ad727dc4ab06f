"""The codec registry: every codec round-trips samples and chunks, zarr reads what its metadata says, and a
codec registered once (here gzip, which hubfs does not ship) works end to end without touching any
other module: schema checks, the engine's chunked layout, the metadata zarr reads, reopening."""
from __future__ import annotations

import numpy as np
import pytest
import zarr
from numcodecs import GZip

import hubfs
from hubfs.codecs import decode_sample, encode_sample, registry
from hubfs.errors import CodecError, SchemaError
from hubfs.schema import Image, Tensor

BYTE_CODECS = ["lz4", "zstd", None]


@pytest.mark.parametrize("name", BYTE_CODECS)
@pytest.mark.parametrize("dtype", ["uint8", "int16", ">i4", "float64"])
def test_byte_codecs_round_trip_samples_and_chunks(name, dtype):
    codec = registry.get(name)
    array = (np.arange(600).reshape(20, 30) % 251).astype(dtype)
    assert np.array_equal(decode_sample(encode_sample(array, name), name, array.dtype, 2), array)
    raw = codec.decode_chunk(codec.encode_chunk(array), array.nbytes)
    assert isinstance(raw, bytearray)  # writable: the engine edits cached chunks in place
    assert np.array_equal(np.frombuffer(raw, array.dtype.newbyteorder("<")).reshape(array.shape), array)


@pytest.mark.parametrize("name", BYTE_CODECS)
def test_a_chunk_of_another_size_or_garbage_is_a_codec_error(name):
    codec = registry.get(name)
    data = codec.encode_chunk(np.zeros(100, "uint8"))
    with pytest.raises(CodecError, match="100 bytes decoded, 64 expected"):
        codec.decode_chunk(data, 64)
    if name is not None:
        with pytest.raises(CodecError):
            codec.decode_chunk(b"\x02\x01" + bytes(data[2:8]) + b"garbage" * 3, 100)


def test_image_codecs_are_files_with_their_extensions():
    png, jpeg = registry.get("png"), registry.get("jpeg")
    assert (png.extension, jpeg.extension) == ("png", "jpg") and png.is_image and jpeg.is_image
    assert jpeg.lossy and not png.lossy
    assert registry.by_extension("jpg") is jpeg and registry.by_extension("npy") is None
    image = np.full((8, 8, 3), 200, np.uint8)
    assert png.encode(image).startswith(png.signature) and np.array_equal(png.decode(png.encode(image)), image)
    assert png.fits((8, 8, 5), np.uint8) and png.fits((8, 8, 3), np.uint8) is None


def test_unknown_compressors_are_refused_with_the_choices():
    with pytest.raises(CodecError, match="unknown compressor 'brotli'; choose one of .*png.*lz4"):
        registry.get("brotli")
    with pytest.raises(SchemaError, match="Tensor: unknown compressor 'brotli'"):
        Tensor((3,), "int32", compressor="brotli")
    with pytest.raises(SchemaError, match="does not fit"):
        Image((8, 8, 5), "uint8", compressor="png")


class _GzipCodec(registry.Codec):
    """A codec hubfs does not ship, defined here as a user would: one class, registered once."""

    name = label = "gzip"
    _gzip = GZip(level=1)

    def compress(self, data):
        return bytes(self._gzip.encode(data))

    def decompress(self, data):
        return bytes(self._gzip.decode(data))

    def zarr_codecs(self, dtype):
        return [{"name": "gzip", "configuration": {"level": 1}}]

    def encode_chunk(self, array):
        return bytes(self._gzip.encode(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"))))

    def decode_chunk(self, data, nbytes):
        raw = bytearray(self._gzip.decode(data))
        if len(raw) != nbytes:
            raise CodecError(f"{len(raw)} bytes decoded, {nbytes} expected")
        return raw


@pytest.fixture
def gzip_codec():
    codec = registry.register(_GzipCodec())
    yield codec
    registry.unregister("gzip")


def test_a_registered_codec_works_end_to_end_and_zarr_reads_its_chunks(gzip_codec, tmp_path):
    url = str(tmp_path / "ds")
    values = np.arange(50 * 6, dtype="int32").reshape(50, 6)
    ds = hubfs.Dataset(url, mode="w", shape=(50,), schema={"x": Tensor((6,), "int32", compressor="gzip"),
                                                           "t": hubfs.schema.Text(compressor="gzip")})
    ds["x", 0:50] = values
    ds["t", 3] = "héllo"
    ds.close()
    again = hubfs.Dataset(url, mode="r")
    assert np.array_equal(again["x", 0:50].compute(), values) and again["t", 3].compute() == "héllo"
    again.close()
    group = zarr.open_group(url, mode="r")
    assert np.array_equal(group["x/data"][:], values)  # zarr decodes the chunks by their metadata alone
