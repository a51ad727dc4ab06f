"""The bytes on the store: zarr v3 metadata documents, chunk keys and the sharding format.

Everything here is pure (no I/O) so that it can be checked against zarr-python in tests: the engine
writes what zarr would write and reads what zarr would read.
"""
from __future__ import annotations

import json
import struct
from typing import Iterable

import numpy as np
from crc32c import crc32c

from hubfs.codecs.registry import Codec
from hubfs.errors import CodecError

EMPTY = 0xFFFFFFFFFFFFFFFF  # shard index entry of an inner chunk that does not exist
ZARR_JSON = "zarr.json"
MASK_CODEC = "lz4"  # the codec of a chunked tensor's present mask
CRC32C = {"name": "crc32c"}  # zarr v3's standard checksum codec: the bytes, then their crc32c as <u4
CRC_NBYTES = 4
# The crc32c of any bytes followed by their own crc32c (little-endian) is this constant: a CRC's residue.
# Checking it costs one pass and no slice.
CRC32C_RESIDUE = 0x48674BC7
_VLEN_HEADER = struct.Struct("<II")  # a vlen-bytes chunk: element count, then each element's length


def group_doc(attributes: dict) -> bytes:
    return json.dumps({"zarr_format": 3, "node_type": "group", "attributes": attributes}, indent=1).encode()


def _array_doc(shape: tuple, data_type: str, chunk_shape: tuple, fill_value, codecs: list, attributes: dict) -> bytes:
    return json.dumps({
        "zarr_format": 3, "node_type": "array", "shape": list(shape), "data_type": data_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunk_shape)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_value, "codecs": codecs, "attributes": attributes, "storage_transformers": [],
    }, indent=1).encode()


def chunked_array_doc(shape: tuple, dtype: np.dtype, chunk_shape: tuple, codec: Codec,
                      checksum: bool = True, attributes: dict | None = None) -> bytes:
    """A regular numeric array whose chunks are compressed by ``codec`` (blosc-lz4, zstd, nothing: its
    ``zarr_codecs``), then (with ``checksum``) followed by their crc32c."""
    fill = False if dtype.kind == "b" else (0.0 if dtype.kind == "f" else 0)
    codecs = [{"name": "bytes", "configuration": {"endian": "little"}}] + codec.zarr_codecs(dtype)
    if dtype.itemsize == 1:
        codecs[0] = {"name": "bytes", "configuration": {}}
    return _array_doc(shape, str(dtype), chunk_shape, fill, codecs + [CRC32C] * checksum, attributes or {})


def sample_array_doc(length: int, shard_len: int, checksum: bool = True, attributes: dict | None = None) -> bytes:
    """A 1-D variable-length bytes array, sharded, one sample per inner chunk (one byte range each; with
    ``checksum`` each inner chunk ends with its crc32c)."""
    codecs = [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [1],
        "codecs": [{"name": "vlen-bytes", "configuration": {}}] + [CRC32C] * checksum,
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
        "index_location": "end"}}]
    return _array_doc((length,), "variable_length_bytes", (shard_len,), "", codecs, attributes or {})


def array_checksummed(raw: bytes, data_type: str, chunk_len: int) -> bool:
    """Whether the array whose zarr.json is ``raw`` has crc32c in its codec chain (inner chain when
    sharded); CodecError when the document is not such an array's (not JSON, another data type or chunk
    length, no codecs). Datasets written before checksums have none, and keep reading."""
    try:
        doc = json.loads(raw)
        codecs = doc["codecs"]
        chunk = doc["chunk_grid"]["configuration"]["chunk_shape"][0]
        kind = doc["data_type"]
        if codecs and codecs[0].get("name") == "sharding_indexed":
            codecs = codecs[0]["configuration"]["codecs"]
        names = [c["name"] for c in codecs]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise CodecError(f"array metadata does not parse ({type(exc).__name__}: {exc})") from None
    if doc.get("node_type") != "array" or kind != data_type or chunk != chunk_len:
        raise CodecError(f"array metadata describes a {doc.get('node_type')} of {kind!r} in chunks of {chunk}, "
                         f"not an array of {data_type!r} in chunks of {chunk_len}")
    return "crc32c" in names


def chunk_runs(numbers: Iterable[int]) -> list[list[int]]:
    """Chunk numbers as ``[first, last + 1]`` runs (what an array's zarr.json records it wrote)."""
    out: list[list[int]] = []
    for n in sorted(numbers):
        if out and out[-1][1] == n:
            out[-1][1] = n + 1
        else:
            out.append([n, n + 1])
    return out


def array_record(raw: bytes) -> tuple[int, set[int] | None]:
    """(length, the chunk numbers the array records as written, or None when it keeps no record: arrays
    written before hubfs recorded them) of an array's zarr.json; CodecError when it does not parse."""
    try:
        doc = json.loads(raw)
        length = int(doc["shape"][0])
        runs = (doc.get("attributes") or {}).get("hubfs", {}).get("chunks")
        written = None if runs is None else {n for a, b in runs for n in range(int(a), int(b))}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise CodecError(f"array metadata does not parse ({type(exc).__name__}: {exc})") from None
    return length, written


def with_crc(data: bytes) -> bytes:
    """``data`` followed by its crc32c, as zarr's crc32c codec encodes it."""
    return data + struct.pack("<I", crc32c(data))


def strip_crc(data: bytes | memoryview) -> memoryview:
    """The bytes before a trailing crc32c, after checking it (CodecError on a mismatch)."""
    view = memoryview(data)
    if len(view) < CRC_NBYTES or struct.unpack_from("<I", view, len(view) - CRC_NBYTES)[0] != crc32c(view[:-CRC_NBYTES]):
        raise CodecError("crc32c mismatch")
    return view[:-CRC_NBYTES]


def tensor_of(key: str, tensors: Iterable[str]) -> str | None:
    """The tensor whose group holds object ``key`` (the longest matching tensor key)."""
    best = None
    for t in tensors:
        if key.startswith(t + "/") and (best is None or len(t) > len(best)):
            best = t
    return best


def sample_chunk(key: str, tensor: str) -> tuple[str, int] | None:
    """``(array, chunk number along the sample axis)`` of a chunk or shard object in ``tensor``'s group,
    or None for any other object (metadata)."""
    rest = key[len(tensor) + 1:].split("/")
    if len(rest) < 3 or rest[1] != "c" or not rest[2].isdigit():
        return None
    return f"{tensor}/{rest[0]}", int(rest[2])


def samples_per_chunk(array_doc: bytes | None) -> int | None:
    """Samples per chunk (or shard) of an array, from its ``zarr.json``; None when it does not say."""
    try:
        return int(json.loads(array_doc)["chunk_grid"]["configuration"]["chunk_shape"][0])
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def decode_chunk(data: bytes | memoryview, codec: Codec, checksummed: bool, nbytes: int,
                 out: memoryview | None = None) -> bytearray | None:
    """A stored chunk's raw bytes: its crc32c checked when it has one, then decompressed, into ``out``
    when given (returning None) or a new writable buffer; CodecError when it fails or is not ``nbytes``."""
    if checksummed:
        data = strip_crc(data)
    if out is None:
        return codec.decode_chunk(data, nbytes)
    codec.decode_chunk_into(data, out)
    return None


def mask_chunk(data: bytes | None, array_doc: bytes | None, codec: Codec) -> np.ndarray | None:
    """The marks of one stored chunk of a one-byte-a-sample array (a tensor's present mask), decoded as its
    ``zarr.json`` says; None when it is missing or does not decode. Small enough to compare whole."""
    size = samples_per_chunk(array_doc)
    if data is None or size is None:
        return None
    try:
        raw = decode_chunk(data, codec, array_checksummed(array_doc, "uint8", size), size)
    except CodecError:
        return None
    return np.frombuffer(raw, dtype=np.uint8)


def chunk_key(array: str, chunk: int, ndim: int) -> str:
    """Key of chunk number ``chunk`` along the sample axis (other axes are one chunk)."""
    return f"{array}/c/{chunk}" + "/0" * (ndim - 1)


# -- sharding ------------------------------------------------------------------------------------
def shard_index_nbytes(shard_len: int) -> int:
    return 16 * shard_len + 4


def decode_shard_index(tail: bytes, shard_len: int, shard_nbytes: int | None = None) -> np.ndarray:
    """(shard_len, 2) uint64 [offset, nbytes] from the index at a shard's end; checks its crc32c and, given
    the shard's size, that every inner chunk lies inside the shard before the index."""
    if len(tail) != shard_index_nbytes(shard_len):
        raise CodecError(f"shard index is {len(tail)} bytes, not {shard_index_nbytes(shard_len)}")
    idx = np.frombuffer(strip_crc(tail), dtype="<u8").reshape(shard_len, 2)
    if shard_nbytes is not None:
        present = idx[:, 0] != EMPTY
        ends = idx[present, 0] + idx[present, 1]
        if (ends > shard_nbytes - len(tail)).any() or (idx[present, 0] > ends).any():
            raise CodecError("shard index points past the shard's data")
    return idx


def encode_shard(samples: list[bytes | None], checksum: bool = True) -> bytes:
    """A whole shard: each present sample as a vlen-bytes inner chunk (then, with ``checksum``, its
    crc32c), then the index and its crc32c."""
    parts = []
    index = np.full((len(samples), 2), EMPTY, dtype="<u8")
    offset = 0
    for i, data in enumerate(samples):
        if data is None:
            continue
        chunk = vlen_chunk(data)
        if checksum:
            chunk = with_crc(chunk)
        parts.append(chunk)
        index[i] = (offset, len(chunk))
        offset += len(chunk)
    body = index.tobytes()
    parts.append(body)
    parts.append(struct.pack("<I", crc32c(body)))
    return b"".join(parts)


def vlen_chunk(data: bytes) -> bytes:
    """numcodecs VLenBytes encoding of one element: item count, then length and bytes."""
    return struct.pack("<II", 1, len(data)) + data


def vlen_payload(chunk: bytes | memoryview, checksum: bool = False) -> bytes:
    """The element of a one-element vlen-bytes chunk (ending with its crc32c, checked, with ``checksum``).

    On every sample read: one memoryview, two precompiled unpacks and the crc, nothing more (tiny PNGs
    decode in a few µs, so per-call overhead is most of what checksums cost)."""
    view = memoryview(chunk)
    n = len(view)
    if checksum:
        n -= CRC_NBYTES
        if n < 0 or crc32c(view) != CRC32C_RESIDUE:  # = the crc of the bytes before matches, in one pass
            raise CodecError("crc32c mismatch")
    if n < 8:
        raise CodecError("inner chunk is too short")
    count, size = _VLEN_HEADER.unpack_from(view, 0)
    if count != 1 or size != n - 8:
        raise CodecError("inner chunk is not one vlen-bytes element")
    return bytes(view[8:n])


# -- deltas of the chunked layout (doc/DESIGN.md, "Deltas") --------------------------------------------
DELTA_DIR = "d"  # <array>/d/<name>: delta objects beside the array's chunks (zarr reads only <array>/c/...)
_DELTA_NAME_LEN = 16


def delta_key(array: str, name: str) -> str:
    """Key of delta object ``name`` of ``array``."""
    return f"{array}/{DELTA_DIR}/{name}"


def delta_name(array: str, key: str) -> str | None:
    """The name of the delta object ``key`` of ``array``, or None when ``key`` is no delta object."""
    prefix = f"{array}/{DELTA_DIR}/"
    name = key[len(prefix):] if key.startswith(prefix) else ""
    return name if _is_delta_name(name) else None


def _is_delta_name(name: str) -> bool:
    return len(name) == _DELTA_NAME_LEN and all(ch in "0123456789abcdef" for ch in name)


def chunk_base(data: bytes | memoryview, checksummed: bool) -> int:
    """The identity of a stored chunk that deltas are recorded against: its trailing crc32c (when its
    array is checksummed), else the crc32c of its bytes. Any rewrite of the chunk changes it."""
    if checksummed:
        return struct.unpack_from("<I", data, len(data) - CRC_NBYTES)[0] if len(data) >= CRC_NBYTES else 0
    return crc32c(data)


def encode_delta(offsets: list[int], payload: bytes) -> bytes:
    """One chunk's segment of a delta object: ``<I`` count, ``<I`` offset of each changed sample in the
    chunk (ascending), the samples' bytes encoded as the chunk's codecs encode a chunk of them, then the
    crc32c of all of it."""
    head = struct.pack(f"<{len(offsets) + 1}I", len(offsets), *offsets)
    return with_crc(head + payload)


def decode_delta(segment: bytes | memoryview, chunk_len: int) -> tuple[list[int], memoryview]:
    """(offsets, payload) of a segment, its crc32c checked (CodecError when it does not parse)."""
    body = strip_crc(segment)
    if len(body) < 4:
        raise CodecError("delta segment is too short")
    count = struct.unpack_from("<I", body, 0)[0]
    if count == 0 or len(body) < 4 * (count + 1):
        raise CodecError(f"delta segment announces {count} samples it does not hold")
    offsets = list(struct.unpack_from(f"<{count}I", body, 4))
    if any(o >= chunk_len for o in offsets) or offsets != sorted(set(offsets)):
        raise CodecError("delta segment's sample offsets are out of order or outside the chunk")
    return offsets, body[4 * (count + 1):]


DeltaRef = tuple  # (object name, offset, nbytes) of one segment


def format_delta_records(records: dict[int, tuple[int, list[DeltaRef]]]) -> dict[str, str]:
    """The root document's form of an array's live deltas: chunk number -> ``"<base> <name>:<offset>:
    <nbytes> ..."`` (one line per chunk however the document is indented), segments oldest first."""
    return {str(c): " ".join([str(base)] + [f"{n}:{o}:{k}" for n, o, k in refs])
            for c, (base, refs) in sorted(records.items())}


def parse_delta_records(doc) -> dict[int, tuple[int, list[DeltaRef]]]:
    """Inverse of ``format_delta_records`` (CodecError when it does not parse)."""
    if not isinstance(doc, dict):
        raise CodecError("delta records are not an object")
    out = {}
    for chunk, line in doc.items():
        try:
            base, *refs = str(line).split(" ")
            parsed = []
            for ref in refs:
                name, off, n = ref.split(":")
                if not _is_delta_name(name) or int(off) < 0 or int(n) <= 0:
                    raise ValueError(ref)
                parsed.append((name, int(off), int(n)))
            if not parsed or not str(chunk).isdigit():
                raise ValueError(chunk)
            out[int(chunk)] = (int(base), parsed)
        except ValueError as exc:
            raise CodecError(f"delta record of chunk {chunk!r} does not parse ({exc})") from None
    return out
