"""One tensor of a dataset: values in and out, validated, through its arrays and the dataset cache.

A tensor is a zarr group ``<key>/`` with ``data`` (chunked or sample layout, see doc/DESIGN.md) and, in
the chunked layout, a ``present`` mask. In the sample layout each sample's bytes carry its shape, so a
sample's data and shape always change together. Every error names the tensor and the index; a value is
fully validated and encoded before anything is changed.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from hubfs.codecs import decode_image, decode_sample, encode_sample, registry
from hubfs.dataset.arrays import ChunkedArray, SampleArray
from hubfs.dataset.cache import Cache
from hubfs.dataset.schema import ClassLabel, Tensor
from hubfs.dataset.stores import Store
from hubfs.dataset import layout, threads
from hubfs.errors import ClassLabelValueError, CodecError, CorruptionError, SampleError, SampleShapeError, WrongShape


# Bulk reads of per-sample codecs decode on threads (zlib, Pillow and lz4 release the GIL), one contiguous
# slice per core, when the stored bytes are many enough to repay the hand-off (doc/DESIGN.md, "Parallel decode and bulk reads").
PARALLEL_DECODE_MIN_BYTES = 256 << 10
PARALLEL_DECODE_MIN_SAMPLE_BYTES = 16 << 10  # smaller samples decode mostly under the GIL: threads lose


class TensorEngine:
    """Reads and writes the samples of tensor ``key`` of type ``schema``."""

    def __init__(self, key: str, schema: Tensor, store: Store, cache: Cache):
        self.key = key
        self.type = schema
        self.codec = schema.codec
        self.cache = cache
        self.chunked = schema.layout == "chunked"
        n = schema.samples_per_chunk()
        self.present: ChunkedArray | None = None
        if self.chunked:
            self.data = ChunkedArray(store, cache, f"{key}/data", schema.dtype, schema.shape, n, self.codec)
            self.present = ChunkedArray(store, cache, f"{key}/present", np.dtype("uint8"), (),
                                        schema.present_chunks or n, registry.get(layout.MASK_CODEC))
        else:
            self.data = SampleArray(store, cache, f"{key}/data", n)
        self._cache_decoded = not self.codec.lossy  # lossy: the stored value differs from the written

    # -- metadata ----------------------------------------------------------------------------------
    def docs_dirty(self) -> bool:
        """True when chunks were created since the arrays' zarr.json were written (they record them)."""
        return self.data.doc_dirty or (self.present is not None and self.present.doc_dirty)

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
            value = self.data.get(i)
            return value if type(value) is not np.ndarray else value.copy()  # a numpy scalar is immutable
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
        values = self._decode_many(start, self.data.get_range(start, stop))
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
        if not self.codec.is_image:
            return None
        data = self.data.get(i)
        return data if data else None

    def stored_nbytes(self, i: int) -> int | None:
        """Size of ``read_stored(i)`` without reading the sample, or None."""
        if not self.codec.is_image:
            return None
        n = self.data.nbytes(i)
        return n if n else None

    def _decode(self, i: int, data: bytes | None) -> Any:
        if data is None:
            return self.type.empty_value()
        try:
            if self.type.is_text:
                return self.codec.decompress(data).decode("utf-8") if data else ""
            return decode_sample(data, self.type.compressor, self.type.dtype, self.type.ndim)
        except (CodecError, UnicodeDecodeError) as exc:
            raise self.data.corrupt(f"sample {i}", self.data.key_of(i), f"does not decode: {exc}") from exc

    def _decode_many(self, start: int, stored: list) -> list:
        """``_decode`` of samples ``start, start + 1, ...``: on the decode threads, a slice each, when the
        bytes are many and the samples large (see PARALLEL_DECODE_MIN_BYTES); else here."""
        serial = not threads.PARALLEL or threads.CORES < 2 or len(stored) < 2 * threads.CORES
        if not serial:
            nbytes = sum(len(d) for d in stored if d)
            serial = nbytes < PARALLEL_DECODE_MIN_BYTES or nbytes < PARALLEL_DECODE_MIN_SAMPLE_BYTES * len(stored)
        if serial:
            return [self._decode(i, data) for i, data in enumerate(stored, start)]
        return threads.in_slices(len(stored), lambda lo, hi: [self._decode(start + j, stored[j]) for j in range(lo, hi)])

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
        if self.chunked:  # a write loads its chunk (raising for a lost one) before it changes anything
            return value, None
        self.data.check_writable(i)
        try:
            if self.type.is_text:
                data = self.codec.compress(value.encode("utf-8")) if value else b""
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
        if not self.codec.is_image:
            raise SampleError(self.key, i, f"stores {self.codec.label} samples, not files")
        try:
            decoded = decode_image(bytes(data), self.type.compressor, self.type.ndim)
        except CodecError as exc:
            raise SampleError(self.key, i, str(exc)) from None
        if decoded.dtype != self.type.dtype:
            raise SampleError(self.key, i, f"image holds {decoded.dtype} pixels, the tensor {self.type.dtype}")
        value = self.coerce(i, decoded)
        self.data.check_writable(i)
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

    def clear_beyond(self, length: int) -> list[str]:
        """Remove what a crash may have left past the committed ``length``: values in the edge chunk and
        whole chunks or shards beyond it (written by eviction before the length that covers them).
        Returns what it found: those objects, and objects the arrays record as written that are missing."""
        found = []
        for arr in (self.data, self.present):
            if arr is not None:
                per = arr.chunk_len
                last = -(-length // per) - 1
                present = arr.chunk_numbers()
                found += [f"{key} is missing (its array records it as written; its samples raise "
                          f"CorruptionError)" for key in arr.missing_chunks(present)]
                for c in present:
                    if c > last:
                        found.append(f"{arr.key_of(c * per)} was left past the committed length {length} "
                                     f"by a writer that stopped before committing: removed")
                        arr.truncate(c * per, (c + 1) * per)
        try:
            if self.chunked:
                # Zero the edge chunks' tails past the length, where anything is left there: marked values
                # and values whose marks never reached the store (the data chunk evicted, the mask's not).
                for arr in (self.data, self.present):
                    c, o = divmod(length, arr.chunk_len)
                    if o and arr.chunk(c)[o:].any():
                        found.append(f"{arr.key_of(length)} held values past the committed length {length} "
                                     f"(a writer stopped before committing): cleared")
                        arr.truncate(length, (c + 1) * arr.chunk_len)
            else:
                for i in range(length, -(-length // self.data.shard_len) * self.data.shard_len):
                    if self.has_value(i):
                        self.clear(i)
        except CorruptionError:
            pass  # the edge chunk is missing (reported above): nothing of it is left to clear
        return found

    def truncate(self, length: int, old_length: int) -> None:
        for arr in (self.data, self.present):
            if arr is not None:
                arr.truncate(length, old_length)
        self.cache.discard_where(lambda k: k[0] == "s" and k[1] == self.key and k[2] >= length)
