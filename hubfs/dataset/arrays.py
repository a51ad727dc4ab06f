"""The two kinds of zarr v3 arrays the engine reads and writes itself, through the dataset cache.

``ChunkedArray``: a regular array chunked along the sample axis only; read by whole chunks (with their live
deltas applied), written by whole chunks or, when few samples of a stored chunk changed, as a delta.
``SampleArray``: a sharded variable-length bytes array with one sample per inner chunk; a sample read is a
cached shard-index lookup plus one ranged read, writes collect per shard and are written as whole shards.
Both skip zarr-python's per-call costs (150-950 µs per read, doc/DESIGN.md) while the bytes stay standard.

Checksums: an array created now has zarr's ``crc32c`` codec last in its (inner) codec chain, and every chunk
and sample read is checked against it; an array written before has none, and its zarr.json says so (read
once, on first use). A mismatch, or bytes that do not parse, is a ``CorruptionError`` naming the tensor,
the sample or chunk and the object's key: never a value. Readers never write to repair anything.
"""
from __future__ import annotations

import uuid
from concurrent.futures import Future
from typing import Any, Callable

import numpy as np

from hubfs.codecs.registry import Codec
from hubfs.dataset import layout
from hubfs.dataset.cache import Cache
from hubfs.dataset.stores import Store
from hubfs.dataset import threads
from hubfs.errors import CodecError, CorruptionError, StoreError


CHECKSUM_NEW_ARRAYS = True  # False writes new arrays as hubfs did before checksums (benchmarks, tests)


class _Array:
    """What both kinds share: where the array is, and whether its chunks carry a crc32c."""

    data_type = ""

    def __init__(self, store: Store, cache: Cache, path: str, chunk_len: int):
        self.store, self.cache, self.path = store, cache, path
        self.chunk_len = int(chunk_len)
        self.tensor = path.rsplit("/", 1)[0]
        self._crc: bool | None = None  # unknown until the array's zarr.json is read (or created)
        # The chunks the array's zarr.json records as written (None: an array from before the record),
        # with the ones this process wrote since its zarr.json was last written; and that document's length.
        self._written: set[int] | None = None
        self._doc_length = 0
        self.doc_dirty = False  # chunks were created since the zarr.json was written

    def checksummed(self, creating: bool = False) -> bool:
        """Whether this array's chunks end with a crc32c: new arrays (``creating``: no zarr.json yet) do;
        an existing array as its zarr.json says."""
        if self._crc is None:
            raw = self._read_doc(creating)
            try:
                if raw is None:
                    self._crc, self._written = CHECKSUM_NEW_ARRAYS, set()
                else:
                    self._crc = layout.array_checksummed(raw, self.data_type, self.chunk_len)
                    self._doc_length, self._written = layout.array_record(raw)
            except CodecError as exc:
                raise self.corrupt("array metadata", self._doc_key, str(exc)) from exc
        return self._crc

    @property
    def _doc_key(self) -> str:
        return f"{self.path}/{layout.ZARR_JSON}"

    def _read_doc(self, creating: bool = False) -> bytes | None:
        raw = self.store.get(self._doc_key)
        if raw is None and not creating:
            raise self.corrupt("array metadata", self._doc_key, "the object is missing")
        return raw

    def _record_doc(self, length: int, make) -> bytes:
        """The array's zarr.json for ``length`` samples (``make(attributes)`` builds it), recording the
        chunks written so far; the record is then clean."""
        self.checksummed(creating=True)
        self._doc_length, self.doc_dirty = length, False
        attrs = {} if self._written is None else {"hubfs": {"chunks": layout.chunk_runs(self._written)}}
        return make(attrs)

    def _created(self, c: int) -> None:
        """Chunk ``c`` was just written: the next zarr.json records it."""
        if self._written is not None and c not in self._written:
            self._written.add(c)
            self.doc_dirty = True

    def _deleting(self, chunks) -> None:
        """Chunks about to be deleted: the zarr.json stops recording them first (so it never records a
        chunk that is gone, even if this process dies right after)."""
        self.checksummed(creating=True)
        if self._written is not None and self._written.intersection(chunks):
            self._written.difference_update(chunks)
            self.store.put(self._doc_key, self.doc(self._doc_length))

    def _missing(self, c: int, what: str) -> None:
        """Chunk ``c``'s object is not in the store: CorruptionError if it was written (this process wrote
        it, or the zarr.json, read again now, records it), else it simply has no values yet."""
        self.checksummed()
        if self._written is None or c not in self._written:
            return
        if not self.doc_dirty:  # the record came from the store: another process may have moved on since
            raw = self._read_doc()
            try:
                self._doc_length, self._written = layout.array_record(raw)
            except CodecError as exc:
                raise self.corrupt("array metadata", self._doc_key, str(exc)) from exc
            if self._written is None or c not in self._written:
                return
        raise self.corrupt(what, self._key(c), "the object is missing, but the array's zarr.json records "
                                              "it as written")

    def missing_chunks(self, present: list[int]) -> list[str]:
        """Keys of the chunks the array records as written that are not among ``present`` (the store's)."""
        self.checksummed(creating=True)
        return [self._key(c) for c in sorted((self._written or set()) - set(present))]

    def corrupt(self, what: str, key: str, reason: str) -> CorruptionError:
        return CorruptionError(f"tensor {self.tensor!r}, {what}: stored object {key!r} at {self.store.url} is "
                               f"corrupt ({reason})", key=key, tensor=self.tensor, index=what)

    def key_of(self, i: int) -> str:
        """The key of the object (chunk or shard) that holds sample ``i``."""
        return self._key(i // self.chunk_len)

    def _key(self, c: int) -> str:
        raise NotImplementedError

    def doc(self, length: int) -> bytes:
        raise NotImplementedError

    def chunk_numbers(self) -> list[int]:
        """Numbers of the chunks (shards) present in the store."""
        return _chunk_numbers(self.store, self.path)

    def samples(self, c: int) -> str:
        return f"samples {c * self.chunk_len}..{(c + 1) * self.chunk_len - 1}"


# Deltas (doc/DESIGN.md, "Deltas"): a flush that changed few samples of a stored chunk writes them to a
# delta object instead of rewriting the chunk, while the chunk's live deltas stay small beside it.
DELTA_MAX_FRACTION = 4  # a chunk's live deltas stay within 1/4 of its stored bytes, else it is rewritten
DELTA_MAX_COUNT = 8  # live delta segments per chunk (one ranged read each when the chunk is read); the
# flush that would pass it writes one segment of every sample changed since the chunk was written instead
DELTA_MAX_CHUNKS = 64  # chunks of one array with live deltas (their records are in every root write)
PARALLEL_READ_MIN_BYTES = 4 << 20  # a local bulk read of chunks splits over the cores from this size
_LOAD_ATTEMPTS = 4  # reads of a chunk whose deltas a writer keeps deleting under a reader


class _Deltas:
    """A chunk's live deltas: the identity of the stored chunk they apply to, their segments, and the
    offsets of the samples they hold (None until their segments were read in this process)."""

    __slots__ = ("base", "refs", "nbytes", "offsets")

    def __init__(self, base: int, refs: list | None = None):
        self.base = base
        self.refs: list[layout.DeltaRef] = list(refs or [])
        self.nbytes = sum(r[2] for r in self.refs)
        self.offsets: set[int] | None = None if self.refs else set()


class ChunkedArray(_Array):
    """Array ``path`` of shape (N, *item_shape), chunks of ``chunk_len`` samples, cached decoded.

    A chunk is read as its stored bytes with its live deltas applied over them, in order; a flush (or an
    eviction) writes a dirty chunk whole, or only its changed samples as a delta when that is much smaller.
    """

    def __init__(self, store: Store, cache: Cache, path: str, dtype: np.dtype, item_shape: tuple,
                 chunk_len: int, codec: Codec):
        super().__init__(store, cache, path, chunk_len)
        self.dtype = np.dtype(dtype)
        self.data_type = str(self.dtype)
        self.item_shape = tuple(item_shape)
        self.codec = codec
        self._sample_nbytes = self.dtype.itemsize * int(np.prod(self.item_shape, dtype=np.int64))
        self._nbytes = chunk_len * self._sample_nbytes
        self.deltas: dict[int, _Deltas] = {}  # chunk -> live deltas (committed, and this writer's since)
        self._bases: dict[int, tuple[int, int]] = {}  # chunk -> (identity, stored bytes) as last read or written
        self._changed: dict[int, set[int]] = {}  # chunk -> offsets changed since it was last written
        self._whole: set[int] = set()  # chunks whose next write must be whole (truncated: drop their deltas)
        self._garbage: set[str] = set()  # delta objects no record refers to any more: deleted after a commit
        self._compacting = False
        self._last: tuple[int, int, Any] = (-1, -1, None)  # (chunk, cache version, its array): see get
        # Set by the dataset: the delta records of this array in the stored root as it is now, or None
        # when this process is the writer (readers re-read them when a writer deleted deltas under them).
        self.records_source: Callable[[], Any] | None = None

    def doc(self, length: int) -> bytes:
        return self._record_doc(length, lambda attrs: layout.chunked_array_doc(
            (length,) + self.item_shape, self.dtype, (self.chunk_len,) + self.item_shape, self.codec,
            self.checksummed(creating=True), attrs))

    def _key(self, chunk: int) -> str:
        return layout.chunk_key(self.path, chunk, 1 + len(self.item_shape))

    def _ckey(self, chunk: int) -> tuple:
        return ("c", self.path, chunk)

    def chunk(self, c: int) -> np.ndarray:
        """Decoded chunk ``c`` (zeros where never written) with its live deltas applied, cached; writable,
        owned by the cache."""
        ckey = ("c", self.path, c)  # = _ckey(c), inline: the hot path of scans
        arr = self.cache.get(ckey)
        if arr is None:
            arr = self._load(c)
            self.cache.put(ckey, arr, arr.nbytes + 100)
        return arr

    def _load(self, c: int) -> np.ndarray:
        key = self._key(c)
        for attempt in range(_LOAD_ATTEMPTS):
            data = self.store.get(key)
            if data is None:
                self._missing(c, f"chunk {c} ({self.samples(c)})")
                self._bases.pop(c, None)
                return np.zeros((self.chunk_len,) + self.item_shape, self.dtype)
            arr = self._frombuffer(self._decode(c, data), self.chunk_len)
            base = layout.chunk_base(data, self.checksummed())
            self._bases[c] = (base, len(data))
            rec = self.deltas.get(c)
            if rec is None or rec.base != base:
                return arr  # no deltas, or deltas of a chunk since rewritten with them folded in
            segments = self._fetch(rec.refs)
            if all(seg is not None and len(seg) == ref[2] for seg, ref in zip(segments, rec.refs)):
                rec.offsets = set()
                for seg, ref in zip(segments, rec.refs):
                    rec.offsets.update(self._apply(c, arr, seg, ref))
                return arr
            # A writer compacted the chunk (rewritten, deltas deleted) or merged its deltas (older ones
            # deleted) since this reader's root was read: the chunk is read again with the records the
            # stored root holds now. A writer's own records are the truth: for it, this is corruption.
            if attempt == _LOAD_ATTEMPTS - 1 or self.records_source is None or not self._reread_records(c):
                gone = next(ref for seg, ref in zip(segments, rec.refs) if seg is None or len(seg) != ref[2])
                raise self.corrupt(f"chunk {c} ({self.samples(c)})", layout.delta_key(self.path, gone[0]),
                                   "a live delta object is missing or shorter than its record")
            self.store.forget(key)
        raise AssertionError("unreachable")

    def _reread_records(self, c: int) -> bool:
        """Take chunk ``c``'s records from the stored root (through ``records_source``); False when there
        is nothing to re-read (a writer's own records)."""
        doc = self.records_source()
        if doc is None:
            return False
        try:
            fresh = layout.parse_delta_records(doc).get(c)
        except CodecError as exc:
            raise self.corrupt(f"chunk {c} ({self.samples(c)})", layout.ZARR_JSON, str(exc)) from exc
        if fresh is None:
            self.deltas.pop(c, None)
        else:
            self.deltas[c] = _Deltas(*fresh)
        return True

    def _frombuffer(self, raw: bytearray, n: int) -> np.ndarray:
        return np.frombuffer(raw, dtype=self.dtype.newbyteorder("<")).reshape((n,) + self.item_shape)

    def _fetch(self, refs: list) -> list[bytes | None]:
        """The bytes of each delta segment (None where its object is gone); in parallel on object stores."""
        def one(ref):
            return self.store.get(layout.delta_key(self.path, ref[0]), ref[1], ref[1] + ref[2])

        if self.store.remote and len(refs) > 1:
            return list(threads.FETCHERS.get().map(one, refs))
        return [one(ref) for ref in refs]

    def _apply(self, c: int, arr: np.ndarray, segment: bytes, ref: tuple) -> list[int]:
        """Write a segment's samples into decoded chunk ``arr``; returns their offsets."""
        key = layout.delta_key(self.path, ref[0])
        try:
            offsets, payload = layout.decode_delta(segment, self.chunk_len)
            raw = self.codec.decode_chunk(payload, len(offsets) * self._sample_nbytes)
        except CodecError as exc:
            raise self.corrupt(f"chunk {c} ({self.samples(c)}), delta at {ref[1]}", key, str(exc)) from exc
        arr[offsets] = self._frombuffer(raw, len(offsets))
        return offsets

    def _decode(self, c: int, data: bytes, out: memoryview | None = None) -> bytearray | None:
        """Chunk ``c``'s raw bytes from its stored bytes (``layout.decode_chunk``): into ``out``, or into the
        buffer the cache keeps (one copy); a failure is a CorruptionError naming the chunk."""
        try:
            return layout.decode_chunk(data, self.codec, self.checksummed(), self._nbytes, out)
        except CodecError as exc:
            raise self.corrupt(f"chunk {c} ({self.samples(c)})", self._key(c), str(exc)) from exc

    def get(self, i: int) -> np.ndarray:
        """Sample ``i`` (a view into its cached chunk). The chunk last used is remembered while the cache
        is unchanged: a scan reads it sample by sample without a cache lookup each."""
        c, o = divmod(i, self.chunk_len)
        last_c, version, arr = self._last
        if c == last_c and version == self.cache.version:
            return arr[o]
        arr = self.chunk(c)
        self._last = (c, self.cache.version, arr)
        return arr[o]

    def get_range(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) as one new array. Chunks the range covers whole, that are neither cached
        nor under deltas, are decompressed straight into the result (one copy out of the store, none
        through the cache), on the decode threads when they are many; the others come from ``chunk``."""
        out = np.empty((max(0, stop - start),) + self.item_shape, self.dtype.newbyteorder("<"))
        direct: list[tuple[int, np.ndarray]] = []
        i = start
        while i < stop:
            c, o = divmod(i, self.chunk_len)
            n = min(self.chunk_len - o, stop - i)
            dest = out[i - start:i - start + n]
            arr = self.cache.get(self._ckey(c))
            if arr is None and n == self.chunk_len and c not in self.deltas:
                direct.append((c, dest))
            else:
                dest[...] = (self.chunk(c) if arr is None else arr)[o:o + n]
            i += n
        if direct:
            self._read_into(direct)
        return out

    def _read_into(self, direct: list[tuple[int, np.ndarray]]) -> None:
        """Each chunk ``c`` of ``direct`` decoded into its ``dest``; zeros where it was never written."""
        self.checksummed()  # read once, here, before any thread needs it

        def read(lo: int, hi: int) -> list[int]:
            absent = []
            for c, dest in direct[lo:hi]:
                data = self.store.get(self._key(c))
                if data is None:
                    absent.append(c)
                    continue
                self._decode(c, data, memoryview(dest).cast("B"))
            return absent

        # Object-store requests wait on the network: four at a time. From a local store the work is memory
        # copies (page cache, decompression) and crc: one slice per core once there is enough of it.
        if self.store.remote:
            parallel, pool = len(direct) > 1, threads.FETCHERS
        else:
            parallel = (threads.PARALLEL and threads.CORES > 1 and len(direct) >= 2 * threads.CORES
                        and len(direct) * self._nbytes >= PARALLEL_READ_MIN_BYTES)
            pool = threads.DECODERS
        absent = threads.in_slices(len(direct), read, pool) if parallel else read(0, len(direct))
        if absent:
            dests = dict(direct)
            for c in absent:
                self._missing(c, f"chunk {c} ({self.samples(c)})")
                dests[c][...] = 0

    def set(self, i: int, value) -> None:
        c, o = divmod(i, self.chunk_len)
        arr = self.chunk(c)
        if not self.cache.is_dirty(self._ckey(c)) and np.all(arr[o] == value):
            return  # unchanged: nothing to write (a rewritten label, the present mark of an edited sample)
        arr[o] = value
        self._changed.setdefault(c, set()).add(o)
        self._dirty(c, arr)

    def _dirty(self, c: int, arr: np.ndarray) -> None:
        self.cache.put(self._ckey(c), arr, arr.nbytes + 100, writeback=lambda a, c=c: self._write_back(c, a))

    # -- writing chunks and deltas -----------------------------------------------------------------
    def _write_back(self, c: int, arr: np.ndarray) -> None:
        """The cache writes chunk ``c`` (flush or eviction): as a delta when one fits, else whole."""
        segment = self._delta_segment(c, arr)
        if segment is None:
            self._write_whole(c, arr)
        else:
            self._put_deltas({c: segment})

    def _delta_segment(self, c: int, arr: np.ndarray, planned: int = 0) -> tuple[bytes, bool] | None:
        """Chunk ``c``'s changed samples as a delta segment, and whether it replaces the chunk's live
        segments (a merge: every sample changed since the chunk was written, when another segment would
        pass DELTA_MAX_COUNT); None when the chunk is to be written whole: not stored yet, truncated, too
        much of it changed, or its deltas would outgrow DELTA_MAX_FRACTION of it or DELTA_MAX_CHUNKS
        (``planned``: chunks without deltas yet that the same flush gives a segment already)."""
        changed, known = self._changed.get(c), self._bases.get(c)
        if self._compacting or not changed or known is None or c in self._whole:
            return None
        base, stored = known
        rec = self.deltas.get(c)
        if rec is not None and rec.base != base:
            rec = None  # recorded against a chunk since rewritten: they start again
        if rec is None and sum(1 for k in self.deltas if k != c) + planned >= DELTA_MAX_CHUNKS:
            return None
        merge = rec is not None and len(rec.refs) >= DELTA_MAX_COUNT
        if merge and rec.offsets is None:
            return None  # which samples the live segments hold is not known here: compact instead
        offsets = sorted(changed | rec.offsets) if merge else sorted(changed)
        if len(offsets) * DELTA_MAX_FRACTION > self.chunk_len:
            return None
        segment = layout.encode_delta(offsets, self.codec.encode_chunk(arr[offsets]))
        if ((rec.nbytes if rec and not merge else 0) + len(segment)) * DELTA_MAX_FRACTION > stored:
            return None
        return segment, merge

    def _put_deltas(self, segments: dict[int, tuple[bytes, bool]]) -> None:
        """Write one new delta object holding ``segments`` (chunk -> (segment, replaces the live ones)) and
        record them (live in this process at once, for other readers once the next root is committed)."""
        name = uuid.uuid4().hex[:16]
        refs, offset = {}, 0
        for c in sorted(segments):
            refs[c] = (name, offset, len(segments[c][0]))
            offset += len(segments[c][0])
        self.store.put(layout.delta_key(self.path, name), b"".join(segments[c][0] for c in sorted(segments)))
        for c, ref in refs.items():
            base = self._bases[c][0]
            rec = self.deltas.get(c)
            if rec is None or rec.base != base or segments[c][1]:
                if rec is not None:
                    self._garbage.update(r[0] for r in rec.refs)
                offsets = rec.offsets if rec is not None and rec.base == base else set()
                rec = self.deltas[c] = _Deltas(base)
                rec.offsets = set(offsets or ())
            rec.refs.append(ref)
            rec.nbytes += ref[2]
            if rec.offsets is not None:
                rec.offsets.update(self._changed.get(c, ()))
            self._changed.pop(c, None)

    def _write_whole(self, c: int, arr: np.ndarray) -> None:
        """Write chunk ``c`` whole (its deltas folded in: they are no longer live)."""
        data = self.codec.encode_chunk(arr)
        checksummed = self.checksummed(creating=True)
        if checksummed:
            data = layout.with_crc(data)
        self.store.put(self._key(c), data)
        self._created(c)
        self._bases[c] = (layout.chunk_base(data, checksummed), len(data))
        self._changed.pop(c, None)
        self._whole.discard(c)
        self._drop_deltas(c)

    def _drop_deltas(self, c: int) -> None:
        rec = self.deltas.pop(c, None)
        if rec is not None:
            self._garbage.update(r[0] for r in rec.refs)

    def stage_deltas(self) -> None:
        """Before the cache is flushed: every dirty chunk whose changes fit a delta goes into one new delta
        object (one object per array per flush, however many chunks changed)."""
        segments, planned = {}, 0
        for c in list(self._changed):
            if self.cache.is_dirty(self._ckey(c)):
                segment = self._delta_segment(c, self.cache.get(self._ckey(c)), planned)
                if segment is not None:
                    segments[c] = segment
                    planned += c not in self.deltas
        if segments:
            self._put_deltas(segments)
            for c in segments:
                self.cache.mark_clean(self._ckey(c))

    def compact(self) -> None:
        """Write every chunk with live deltas or unwritten changes whole, its deltas folded in, so that no
        delta is live afterwards (writes made meanwhile, by evictions, are whole too)."""
        self._compacting = True
        try:
            for c in sorted(set(self.deltas) | set(self._changed) | self._whole):
                if not self.cache.is_dirty(self._ckey(c)) and c not in self.deltas:
                    self._changed.pop(c, None)
                    self._whole.discard(c)
                    continue
                self._write_whole(c, self.chunk(c))
                self.cache.mark_clean(self._ckey(c))
        finally:
            self._compacting = False

    def delta_records(self) -> dict[str, str]:
        """The live deltas as the root document records them."""
        return layout.format_delta_records({c: (r.base, r.refs) for c, r in self.deltas.items()})

    def load_delta_records(self, doc) -> None:
        """Take the live deltas the committed root document records (CodecError when they do not parse)."""
        self.deltas = {c: _Deltas(base, refs) for c, (base, refs) in layout.parse_delta_records(doc).items()}

    def collect_garbage(self) -> None:
        """After a root document that no longer refers to them was committed: delete dropped delta objects."""
        live = {r[0] for rec in self.deltas.values() for r in rec.refs}
        for name in sorted(self._garbage - live):
            self.store.delete(layout.delta_key(self.path, name))
        self._garbage.clear()

    def sweep_deltas(self) -> None:
        """Delete delta objects no record refers to (a writer killed before its flush committed them);
        called by a writer that has just opened the dataset."""
        keep = self._garbage | {r[0] for rec in self.deltas.values() for r in rec.refs}
        for key in self.store.list(f"{self.path}/{layout.DELTA_DIR}"):
            name = layout.delta_name(self.path, key)
            if name is not None and name not in keep:
                self.store.delete(key)

    def truncate(self, length: int, old_length: int) -> None:
        """Forget samples at ``length`` and beyond: zero the tail of the edge chunk (written whole, so its
        deltas go), delete later chunks and their deltas."""
        c, o = divmod(length, self.chunk_len)
        if o:
            arr = self.chunk(c)
            arr[o:] = 0
            self._whole.add(c)
            self._dirty(c, arr)
            c += 1
        last = (old_length - 1) // self.chunk_len if old_length else -1
        self._deleting(range(c, last + 1))
        for k in sorted(set(range(c, last + 1)) | {k for k in self.deltas if k >= c}):
            self.cache.discard(self._ckey(k))
            self.store.delete(self._key(k))
            self._bases.pop(k, None)
            self._changed.pop(k, None)
            self._drop_deltas(k)


class SampleArray(_Array):
    """Sharded variable-length bytes array ``path``: shard ``s`` holds samples [s*S, (s+1)*S)."""

    data_type = "variable_length_bytes"

    def __init__(self, store: Store, cache: Cache, path: str, shard_len: int):
        super().__init__(store, cache, path, shard_len)
        self.shard_len = self.chunk_len
        self._index_nbytes = layout.shard_index_nbytes(self.shard_len)
        self._last_read = -2
        # Object stores: while a scan runs in order, the next shard is fetched in the background.
        self._read_ahead = store.remote
        self._prefetching: dict[int, Future] = {}

    def doc(self, length: int) -> bytes:
        return self._record_doc(length, lambda attrs: layout.sample_array_doc(
            length, self.shard_len, self.checksummed(creating=True), attrs))

    def _key(self, s: int) -> str:
        return layout.chunk_key(self.path, s, 1)

    def _index_of(self, s: int, tail: bytes, size: int) -> np.ndarray:
        try:
            return layout.decode_shard_index(tail, self.shard_len, size)
        except CodecError as exc:
            raise self.corrupt(f"shard {s} index ({self.samples(s)})", self._key(s), str(exc)) from exc

    def _payload(self, i: int, chunk: bytes | memoryview) -> bytes:
        """Sample ``i``'s bytes from its inner chunk, crc32c checked."""
        try:
            return layout.vlen_payload(chunk, self.checksummed())
        except CodecError as exc:
            raise self.corrupt(f"sample {i}", self.key_of(i), str(exc)) from exc

    def index(self, s: int) -> np.ndarray:
        """(S, 2) [offset, nbytes] of shard ``s``; all EMPTY when the shard does not exist."""
        ikey = ("i", self.path, s)
        idx = self.cache.get(ikey)
        if idx is None and s in self._prefetching:
            idx = self._take_prefetched(s)
        if idx is None:
            key = self._key(s)
            size = self.store.size(key)
            if size is None:
                self._missing(s, f"shard {s} ({self.samples(s)})")
                idx = np.full((self.shard_len, 2), layout.EMPTY, dtype="<u8")
            elif size < self._index_nbytes:
                raise self.corrupt(f"shard {s} index ({self.samples(s)})", key,
                                   f"the object is {size} bytes, shorter than its index")
            else:
                idx = self._index_of(s, self.store.get_range(key, size - self._index_nbytes, size), size)
            self.cache.put(ikey, idx, idx.nbytes + 100)
        return idx

    def _pending(self, s: int) -> dict | None:
        return self.cache.get(("w", self.path, s))

    def _retrying(self, shards: range, read):
        """Run ``read``; if it finds a shard changed under it (another process replaced the object since
        its index was cached: bad checksum, short read, misplaced element), re-read the index once."""
        try:
            return read()
        except StoreError:  # CorruptionError too
            for s in shards:
                if self.cache.is_dirty(("w", self.path, s)):
                    raise  # our own unflushed writes: nothing stale to re-read
                for kind in ("i", "b"):
                    self.cache.discard((kind, self.path, s))
                self.store.forget(self._key(s))
            return read()

    def get(self, i: int) -> bytes | None:
        """The stored bytes of sample ``i``, or None when it has none."""
        s = i // self.shard_len
        return self._retrying(range(s, s + 1), lambda: self._get(i))

    def _get(self, i: int) -> bytes | None:
        s, o = divmod(i, self.shard_len)
        pending = self._pending(s)
        if pending is not None and o in pending:
            return pending[o]
        idx = self.index(s)
        off, n = int(idx[o, 0]), int(idx[o, 1])
        if off == layout.EMPTY:
            return None
        sequential = i == self._last_read + 1 and o > 0
        self._last_read = i
        for attempt in (0, 1):
            window = self.cache.get(("b", self.path, s))
            if window is not None:
                base, buf = window
                if off >= base and off + n <= base + len(buf):
                    return self._payload(i, memoryview(buf)[off - base:off - base + n])
            if attempt or not sequential:
                break
            # A scan in order: read the next window of the shard at once (read-ahead) instead of each sample.
            self._fetch_window(s, idx, off, n)
        return self._payload(i, self.store.get_range(self._key(s), off, off + n))

    def _window_bytes(self) -> int:
        """Read-ahead window: a fraction of the cache, so a window never pushes out the one before."""
        return int(min(8 << 20, max(64 << 10, self.cache.capacity // 8)))

    def _fetch_window(self, s: int, idx: np.ndarray, off: int, n: int) -> None:
        present = idx[:, 0] != layout.EMPTY
        end = int((idx[present, 0] + idx[present, 1]).max())
        hi = min(end, max(off + n, off + self._window_bytes()))
        buf = self.store.get_range(self._key(s), off, hi)
        self.cache.put(("b", self.path, s), (off, buf), len(buf) + 100)
        if self._read_ahead and s + 1 not in self._prefetching and self.cache.get(("i", self.path, s + 1)) is None:
            self._prefetching[s + 1] = threads.FETCHERS.get().submit(self.store.get, self._key(s + 1))

    def _take_prefetched(self, s: int) -> np.ndarray | None:
        """Use a shard fetched in the background: cache its index and bytes (None if it failed)."""
        try:
            data = self._prefetching.pop(s).result()
        except Exception:
            return None  # the foreground read will retry and report the failure
        if data is None or len(data) < self._index_nbytes:
            return None  # the foreground read reports a shard shorter than its index
        idx = self._index_of(s, data[-self._index_nbytes:], len(data))
        self.cache.put(("i", self.path, s), idx, idx.nbytes + 100)
        if len(data) <= 4 * self._window_bytes():
            self.cache.put(("b", self.path, s), (0, data), len(data) + 100)
        return idx

    def get_range(self, start: int, stop: int) -> list[bytes | None]:
        """Stored bytes of samples [start, stop): one read per shard touched."""
        shards = range(start // self.shard_len, (stop - 1) // self.shard_len + 1) if stop > start else range(0)
        return self._retrying(shards, lambda: self._get_range(start, stop))

    def _get_range(self, start: int, stop: int) -> list[bytes | None]:
        out: list[bytes | None] = []
        i = start
        while i < stop:
            s, o = divmod(i, self.shard_len)
            n = min(self.shard_len - o, stop - i)
            pending = self._pending(s) or {}
            idx = self.index(s)
            want = [j for j in range(o, o + n) if j not in pending and idx[j, 0] != layout.EMPTY]
            span = None
            if want:
                rows = idx[want]
                lo = int(rows[:, 0].min())
                hi = int((rows[:, 0] + rows[:, 1]).max())
                span = (lo, self.store.get_range(self._key(s), lo, hi))
            for j in range(o, o + n):
                if j in pending:
                    out.append(pending[j])
                elif idx[j, 0] == layout.EMPTY:
                    out.append(None)
                else:
                    off, size = int(idx[j, 0]) - span[0], int(idx[j, 1])
                    out.append(self._payload(s * self.shard_len + j, memoryview(span[1])[off:off + size]))
            i += n
        return out

    def nbytes(self, i: int) -> int | None:
        """Size of sample ``i``'s stored bytes without reading them."""
        s, o = divmod(i, self.shard_len)
        pending = self._pending(s)
        if pending is not None and o in pending:
            data = pending[o]
            return None if data is None else len(data)
        off, n = self.index(s)[o]
        return None if int(off) == layout.EMPTY else int(n) - 8 - layout.CRC_NBYTES * self.checksummed()

    def check_writable(self, i: int) -> None:
        """CorruptionError now, before anything changes, when sample ``i``'s shard is one this array wrote
        and it is missing or its index unreadable: writing the shard keeps its other samples, so a write
        into it would otherwise fail every later flush."""
        self.index(i // self.shard_len)

    def set(self, i: int, data: bytes | None) -> None:
        """Set (or with None, remove) sample ``i``; written with its shard on flush or eviction."""
        s, o = divmod(i, self.shard_len)
        wkey = ("w", self.path, s)
        pending = self.cache.get(wkey)
        if pending is None:
            pending = _Pending()
        if o in pending:
            pending.nbytes -= _pending_cost(pending[o])
        pending[o] = data
        pending.nbytes += _pending_cost(data)
        self.cache.put(wkey, pending, pending.nbytes, writeback=lambda p, s=s: self._write_shard(s, p))

    def _write_shard(self, s: int, pending: dict) -> None:
        idx = self.index(s)
        samples: list[bytes | None] = [None] * self.shard_len
        keep = [j for j in range(self.shard_len) if idx[j, 0] != layout.EMPTY and j not in pending]
        if keep:
            data = self.store.get(self._key(s))
            if data is None:
                raise FileNotFoundError(self._key(s))
            view = memoryview(data)
            for j in keep:
                off, n = int(idx[j, 0]), int(idx[j, 1])
                samples[j] = self._payload(s * self.shard_len + j, view[off:off + n])
        for j, value in pending.items():
            samples[j] = value
        key = self._key(s)
        self.cache.discard(("b", self.path, s))
        self._prefetching.pop(s, None)
        if all(v is None for v in samples):
            self._deleting([s])
            self.store.delete(key)
            new_idx = np.full((self.shard_len, 2), layout.EMPTY, dtype="<u8")
        else:
            shard = layout.encode_shard(samples, self.checksummed(creating=True))
            self.store.put(key, shard)
            self._created(s)
            new_idx = layout.decode_shard_index(shard[-self._index_nbytes:], self.shard_len).copy()
        self.cache.put(("i", self.path, s), new_idx, new_idx.nbytes + 100)
        # The pending writes are now in the shard: forget them so reads use the fresh index.
        self.cache.discard(("w", self.path, s))


    def truncate(self, length: int, old_length: int) -> None:
        """Forget samples at ``length`` and beyond."""
        s, o = divmod(length, self.shard_len)
        if o:
            for j in range(length, min(old_length, (s + 1) * self.shard_len)):
                self.set(j, None)
            s += 1
        last = (old_length - 1) // self.shard_len if old_length else -1
        self._deleting(range(s, last + 1))
        for k in range(s, last + 1):
            for kind in ("w", "i", "b"):
                self.cache.discard((kind, self.path, k))
            self.store.delete(self._key(k))


class _Pending(dict):
    """A shard's writes not yet in the store (inner index -> bytes, None = removed), with their size kept
    as they come (summing on every write made one-at-a-time writes quadratic in the shard length)."""

    nbytes = 0


def _pending_cost(data: bytes | None) -> int:
    return 64 + (len(data) + 64 if data is not None else 0)


def _chunk_numbers(store: Store, path: str) -> list[int]:
    out = set()
    prefix = f"{path}/c/"
    for key in store.list(prefix):
        rest = key[len(prefix):] if key.startswith(prefix) else key.split("/c/", 1)[-1]
        head = rest.split("/", 1)[0]
        if head.isdigit():
            out.add(int(head))
    return sorted(out)
