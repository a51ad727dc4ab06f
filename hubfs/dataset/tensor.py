"""One tensor of a dataset: values in and out, validated, through its arrays and the dataset cache.

A tensor is a zarr group ``<key>/`` with ``data`` (chunked or sample layout, see doc/DESIGN.md) and, in
the chunked layout, a ``present`` mask. In the sample layout each sample's bytes carry its shape, so a
sample's data and shape always change together. Every error names the tensor and the index; a value is
fully validated and encoded before anything is changed.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from hubfs.codecs import IMAGE_CODECS, decode_image, decode_sample, encode_sample
from hubfs.codecs.compress import compress, decompress
from hubfs.dataset.arrays import ChunkedArray, SampleArray
from hubfs.dataset.cache import Cache
from hubfs.dataset.schema import ClassLabel, Tensor
from hubfs.dataset.stores import Store
from hubfs.errors import ClassLabelValueError, CodecError, SampleError, SampleShapeError, WrongShape


class TensorEngine:
    """Reads and writes the samples of tensor ``key`` of type ``schema``."""

    def __init__(self, key: str, schema: Tensor, store: Store, cache: Cache):
        self.key = key
        self.type = schema
        self.cache = cache
        self.chunked = schema.layout == "chunked"
        n = schema.samples_per_chunk()
        self.present: ChunkedArray | None = None
        if self.chunked:
            self.data = ChunkedArray(store, cache, f"{key}/data", schema.dtype, schema.shape, n, schema.compressor)
            self.present = ChunkedArray(store, cache, f"{key}/present", np.dtype("uint8"), (), n, "lz4")
        else:
            self.data = SampleArray(store, cache, f"{key}/data", n)
        self._cache_decoded = schema.compressor != "jpeg"  # lossy: the stored value differs from the written

    # -- metadata ----------------------------------------------------------------------------------
    def array_docs(self, length: int) -> dict[str, bytes]:
        """zarr.json of each array of this tensor, for ``length`` samples."""
        docs = {f"{self.key}/data/zarr.json": self.data.doc(length)}
        if self.present is not None:
            docs[f"{self.present.path}/zarr.json"] = self.present.doc(length)
        return docs

    # -- deltas (chunked layout: doc/DESIGN.md, "Deltas") ---------------------------------------------
    def chunked_arrays(self) -> list[ChunkedArray]:
        """The arrays of this tensor that keep deltas (none in the sample layout)."""
        return [self.data, self.present] if self.chunked else []

    # -- reads -------------------------------------------------------------------------------------
    def has_value(self, i: int) -> bool:
        if self.chunked:
            return bool(self.present.get(i))
        return self.data.nbytes(i) is not None

    def read(self, i: int) -> Any:
        """The value of sample ``i`` (the empty value when it has none); the caller may modify it."""
        if self.chunked:
            return self.data.get(i).copy()
        ckey = ("s", self.key, i)
        value = self.cache.get(ckey)
        if value is None:
            value = self._decode(i, self.data.get(i))
            self._remember(ckey, value)
        return value if isinstance(value, str) else value.copy()

    def read_range(self, start: int, stop: int) -> list | np.ndarray:
        """Values of samples [start, stop): one array for fixed shapes, else a list."""
        if self.chunked:
            return self.data.get_range(start, stop)
        values = [self._decode(i, data) for i, data in zip(range(start, stop), self.data.get_range(start, stop))]
        if self.type.is_dynamic or self.type.is_text:
            return values
        if not values:
            return np.zeros((0,) + self.type.shape, self.type.dtype)
        return np.stack(values)

    def sample_shape(self, i: int) -> tuple:
        if not self.type.is_dynamic:
            return tuple(self.type.shape)
        value = self.read(i)
        return (len(value),) if isinstance(value, str) else value.shape

    def read_stored(self, i: int) -> bytes | None:
        """Stored bytes that already are a file of the tensor's file format (PNG/JPEG), else None."""
        if self.type.compressor not in IMAGE_CODECS:
            return None
        data = self.data.get(i)
        return data if data else None

    def stored_nbytes(self, i: int) -> int | None:
        """Size of ``read_stored(i)`` without reading the sample, or None."""
        if self.type.compressor not in IMAGE_CODECS:
            return None
        n = self.data.nbytes(i)
        return n if n else None

    def _decode(self, i: int, data: bytes | None) -> Any:
        if data is None:
            return self.type.empty_value()
        try:
            if self.type.is_text:
                return decompress(data, self.type.compressor).decode("utf-8") if data else ""
            return decode_sample(data, self.type.compressor, self.type.dtype, self.type.ndim)
        except (CodecError, UnicodeDecodeError) as exc:
            raise self.data.corrupt(f"sample {i}", self.data.key_of(i), f"does not decode: {exc}") from exc

    def _remember(self, ckey: tuple, value: Any) -> None:
        if self._cache_decoded:
            size = len(value) * 4 if isinstance(value, str) else value.nbytes
            self.cache.put(ckey, value, size + 120)

    # -- writes ------------------------------------------------------------------------------------
    def coerce(self, i: int, value: Any) -> Any:
        """``value`` as stored, or SampleError naming this tensor and index."""
        try:
            return self.type.coerce(value)
        except ValueError as exc:
            cls = SampleShapeError if isinstance(exc, WrongShape) else \
                ClassLabelValueError if isinstance(self.type, ClassLabel) else SampleError
            raise cls(self.key, i, str(exc)) from None

    def prepare(self, i: int, value: Any) -> tuple:
        """Validate and encode ``value`` for sample ``i`` without changing anything (SampleError if bad).

        The prepared value is the tensor's own: a caller that later changes its array changes nothing here.
        """
        given = value
        value = self.coerce(i, value)
        if isinstance(value, np.ndarray) and isinstance(given, np.ndarray) and np.may_share_memory(value, given):
            value = value.copy()
        if self.chunked:
            return value, None
        try:
            if self.type.is_text:
                data = compress(value.encode("utf-8"), self.type.compressor) if value else b""
            else:
                data = encode_sample(value, self.type.compressor)
        except CodecError as exc:
            raise SampleError(self.key, i, str(exc)) from None
        return value, data

    def put(self, i: int, prepared: tuple) -> None:
        """Buffer a prepared sample in the cache."""
        value, data = prepared
        if self.chunked:
            self.data.set(i, value)
            self.present.set(i, 1)
        else:
            self._store_sample(i, data, value)

    def write(self, i: int, value: Any) -> None:
        """Validate, encode and buffer sample ``i``; nothing changes when validation fails."""
        self.put(i, self.prepare(i, value))

    def write_stored(self, i: int, data: bytes) -> None:
        """Store file bytes in the tensor's stored format as they are, after checking they decode and fit."""
        if self.type.compressor not in IMAGE_CODECS:
            raise SampleError(self.key, i, f"stores {self.type.compressor or 'raw'} samples, not files")
        try:
            decoded = decode_image(bytes(data), self.type.compressor, self.type.ndim)
        except CodecError as exc:
            raise SampleError(self.key, i, str(exc)) from None
        if decoded.dtype != self.type.dtype:
            raise SampleError(self.key, i, f"image holds {decoded.dtype} pixels, the tensor {self.type.dtype}")
        value = self.coerce(i, decoded)
        self._store_sample(i, bytes(data), value)

    def _store_sample(self, i: int, data: bytes, value: Any) -> None:
        self.data.set(i, data)
        ckey = ("s", self.key, i)
        self.cache.discard(ckey)
        self._remember(ckey, value)

    def assign_part(self, i: int, current: Any, inner: tuple, value: Any) -> Any:
        """``current`` (sample ``i``'s value, owned by the caller) with ``value`` written at the subscripts
        ``inner`` (applied one after another, as reading them would); the value is cast by value first."""
        if self.type.is_text or not isinstance(current, np.ndarray):
            raise SampleError(self.key, i, "a text is assigned whole, not in parts")
        target = current
        for step in inner[:-1]:
            target = target[step]
            if not isinstance(target, np.ndarray) or not np.shares_memory(target, current):
                raise SampleError(self.key, i, f"cannot assign through the subscript {step!r} (it copies)")
        try:
            part = self.type.cast(np.asarray(value))
        except ValueError as exc:
            raise SampleError(self.key, i, str(exc)) from None
        try:
            target[inner[-1]] = part
        except (IndexError, ValueError) as exc:
            raise SampleError(self.key, i, f"cannot assign a value of shape {part.shape} at {inner!r} of a "
                                           f"sample of shape {current.shape}: {exc}") from None
        return current

    def copy_out(self, i: int) -> Any:
        """Sample ``i`` in the form ``copy_in`` of a tensor of the same type takes: its stored bytes
        (sample layout: no decoding, no re-encoding) or its value (chunked); None when it has no value."""
        if self.chunked:
            return self.data.get(i).copy() if self.present.get(i) else None
        return self.data.get(i)

    def copy_in(self, i: int, sample: Any) -> None:
        """Put what ``copy_out`` of a tensor of the same type gave."""
        if self.chunked:
            self.write(i, sample)
            return
        self.data.set(i, bytes(sample))
        self.cache.discard(("s", self.key, i))

    def clear(self, i: int) -> None:
        """Remove sample ``i``'s value: it reads as empty and has no file in the mount."""
        if self.chunked:
            self.data.set(i, 0)
            self.present.set(i, 0)
            return
        self.data.set(i, None)
        self.cache.discard(("s", self.key, i))

    def clear_beyond(self, length: int) -> None:
        """Remove what a crash may have left past the committed ``length``: values in the edge chunk and
        whole chunks or shards beyond it (written by eviction before the length that covers them)."""
        per = self.data.chunk_len if self.chunked else self.data.shard_len
        edge_end = -(-length // per) * per
        for i in range(length, edge_end):
            if self.has_value(i):
                self.clear(i)
        last = edge_end // per - 1
        for arr in (self.data, self.present):
            if arr is not None:
                for c in arr.chunk_numbers():
                    if c > last:
                        arr.truncate(c * per, (c + 1) * per)

    def truncate(self, length: int, old_length: int) -> None:
        for arr in (self.data, self.present):
            if arr is not None:
                arr.truncate(length, old_length)
        self.cache.discard_where(lambda k: k[0] == "s" and k[1] == self.key and k[2] >= length)
