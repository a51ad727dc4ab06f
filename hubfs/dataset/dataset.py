"""``hubfs.Dataset``: named, schema-typed tensors over N samples, stored as a zarr v3 group.

Opening resolves the url (``user/ds`` names live under the configured root), takes the writer lock when
writing, and reads the root group's attributes. All reads and writes go through one bounded write-back
cache (``cache`` bytes); ``flush()`` writes data first, then array metadata, then the root attributes
(length, schema), so a process killed at any instant leaves a dataset whose committed samples are intact.

Every ``Dataset`` object of one url in one process shares one ``_State`` (store, cache, lock, length,
schema): opening a url again while it is open works as in Hub and sees the same data, and the writer
lock is released when the last writing object is closed or dropped (no reference cycle keeps a dropped
object alive until the garbage collector runs). A pickled ``Dataset`` (or view) reopens read-only in the
process that unpickles it, after the pickling one has flushed.
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import threading
import weakref
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from hubfs.dataset import finalize, indexing, layout, namespace
from hubfs.dataset import schema as schema_mod
from hubfs.dataset.cache import Cache
from hubfs.dataset.indexing import Keys
from hubfs.dataset.lock import WriterLock, is_lock_key
from hubfs.dataset.schema import Tensor
from hubfs.dataset.stores import Store, open_store
from hubfs.dataset.tensor import TensorEngine
from hubfs.dataset.versions import (DEFAULT_BRANCH, Branch, Commit, CommitStore, Position, Versions,
                                    check_branch_name, new_id)
from hubfs.dataset.view import DatasetView, TensorView, Write
from hubfs.errors import (AddressNotFound, CodecError, CorruptionError, DatasetClosedError, DatasetNotFoundError,
                          IndexOutOfRangeError,
                          LockedError, MissingArgumentError, NotADatasetError, ReadOnlyError, SampleError, SchemaError,
                          SchemaMismatchError, VersionError,
                          ShapeLengthError, ShapeMismatchError, StoreError, TensorNotFoundError)

DEFAULT_CACHE = 1 << 26  # 64 MiB, Hub 1.x's default
FORMAT = 2  # the newest format this engine reads: 2 while deltas are live (the root records them), else 1
MODES = ("r", "r+", "a", "a+", "w", "w+", None)
_STATES: dict[str, "_State"] = {}  # url -> the open state of that dataset in this process
_STATES_LOCK = threading.RLock()


class _State:
    """What every open ``Dataset`` object of one url in this process shares."""

    def __init__(self, url: str, token: Any, cache: int, store: Store | None = None, key: str | None = None):
        self.url, self.token = url, token  # url: what messages name (``url@branch`` off the default branch)
        self.key = key or _state_key(url)
        self.pid = os.getpid()
        self.store: Store = store if store is not None else open_store(url, token)
        self.cache = Cache(cache)
        self.lock = threading.RLock()
        self.writer = WriterLock(self.store, self)
        self.handles = 0  # open Dataset objects
        self.writers = 0  # open Dataset objects that may write
        self.deleted = False
        self.shrunk_to: int | None = None  # lowest length since the last flush, when below the committed
        self.tensors: dict[str, TensorEngine] = {}
        self.schema: dict[str, Tensor] = {}
        self.length = self.committed = 0
        self.meta_information: dict = {}
        self.name: str | None = None
        self.root_written: bytes | None = None  # the root document as last written or read
        self.generation = 0  # commits of the root so far: the fence against a writer that lost its lock

    # -- the stored root ---------------------------------------------------------------------------
    def read_attrs(self) -> dict | None:
        raw = self.store.get(layout.ZARR_JSON)
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise NotADatasetError(f"{self.url} has an unreadable zarr.json; it was left untouched") from exc
        attrs = doc.get("attributes", {}).get("hubfs")
        if attrs is None:
            raise NotADatasetError(f"{self.url} is a zarr {doc.get('node_type', 'node')} but not a hubfs dataset; it was left untouched")
        return attrs

    def delta_arrays(self) -> list:
        """Every array that keeps deltas (the chunked layout's)."""
        return [arr for engine in self.tensors.values() for arr in engine.chunked_arrays()]

    def root_doc(self) -> bytes:
        deltas = {arr.path: arr.delta_records() for arr in self.delta_arrays() if arr.deltas}
        # Format 2 only while deltas are live: an engine that cannot apply them refuses the dataset rather
        # than reading stale values; a compacted dataset is format 1, as every dataset written before.
        attrs = {"format": FORMAT if deltas else 1, "length": self.length,
                 "schema": schema_mod.to_json(self.schema),
                 "meta_information": self.meta_information, "generation": self.generation}
        if self.name is not None:
            attrs["name"] = self.name
        if deltas:
            attrs["deltas"] = deltas
        return layout.group_doc({"hubfs": attrs})

    def write_root(self) -> None:
        """Commit: after checking this writer still holds the lock and the stored root is still the
        generation it last wrote or read (else LockedError, and nothing is committed)."""
        self.writer.verify()
        current = self.read_attrs()
        stored = current.get("generation", 0) if isinstance(current, dict) else None
        if current is not None and stored != self.generation:
            raise LockedError(f"dataset at {self.url} was committed by another writer (generation {stored}, "
                              f"this writer's is {self.generation}): this writer lost its lock; nothing was committed")
        self.generation += 1
        doc = self.root_doc()
        try:
            self.store.put(layout.ZARR_JSON, doc)
        except BaseException:
            self.generation -= 1
            raise
        self.root_written = doc

    def is_empty(self) -> bool:
        return all(is_lock_key(k) for k in self.store.list(""))

    def wipe(self) -> None:
        for key in self.store.list(""):
            if not is_lock_key(key):
                self.store.delete(key)

    # -- the writer lock ---------------------------------------------------------------------------
    def try_lock(self) -> bool:
        """Take the writer lock; False when the store refuses writes (then the dataset opens read-only)."""
        if self.writer.held:
            return True
        try:
            self.writer.acquire()
        except StoreError as exc:
            if exc.denied:
                return False
            raise
        return True

    def take_lock(self) -> None:
        if not self.try_lock():
            raise ReadOnlyError(f"{self.url} cannot be written: the store refuses writes")

    # -- creating and loading ----------------------------------------------------------------------
    def create(self, length: int, flat: dict[str, Tensor], meta: dict, name: str | None) -> None:
        self.cache.clear()
        self.tensors.clear()
        self.generation = 0
        self.schema = {k: t.with_chunks(self.cache.capacity) for k, t in flat.items()}
        self.length = self.committed = length
        self.shrunk_to = None
        self.meta_information = dict(meta)
        self.name = name
        for key, t in self.schema.items():
            self.tensors[key] = TensorEngine(key, t, self.store, self.cache)
            self.write_tensor_docs(key)
        self.write_root()

    def load(self, attrs: dict) -> None:
        def corrupt(reason: str) -> CorruptionError:
            return CorruptionError(f"dataset at {self.url}: stored object {layout.ZARR_JSON!r} is corrupt ({reason}); "
                                   f"nothing was changed", key=layout.ZARR_JSON)

        if not isinstance(attrs, dict):
            raise corrupt("its hubfs attributes are not an object")
        if not isinstance(attrs.get("format", 0), int):
            raise corrupt(f"format {attrs.get('format')!r} is not a number")
        if attrs.get("format", 0) > FORMAT:
            raise NotADatasetError(f"{self.url} was written by a newer hubfs (format {attrs['format']})")
        length, meta = attrs.get("length"), attrs.get("meta_information", {})
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise corrupt(f"length {length!r} is not a number of samples")
        if not isinstance(attrs.get("schema"), dict) or not isinstance(meta, dict):
            raise corrupt("it holds no schema" if "schema" not in attrs else "schema or meta_information is not an object")
        try:
            schema = schema_mod.from_json(attrs["schema"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise corrupt(f"its schema does not parse: {type(exc).__name__}: {exc}") from exc
        self.schema = schema
        self.length = self.committed = length
        generation = attrs.get("generation", 0)
        if not isinstance(generation, int) or generation < 0:
            raise corrupt(f"generation {generation!r} is not a number of commits")
        self.meta_information = meta
        self.name = attrs.get("name")
        self.generation = generation
        self.tensors = {key: TensorEngine(key, t, self.store, self.cache) for key, t in self.schema.items()}
        deltas = attrs.get("deltas", {})
        try:
            if not isinstance(deltas, dict):
                raise CodecError("the delta records are not an object")
            for arr in self.delta_arrays():
                arr.load_delta_records(deltas.get(arr.path, {}))
                arr.records_source = functools.partial(_stored_delta_records, weakref.ref(self), arr.path)
        except CodecError as exc:
            raise corrupt(str(exc)) from exc
        self.root_written = self.root_doc()

    def stored_delta_records(self, array: str) -> Any:
        """The delta records of ``array`` in the stored root as it is now (a reader whose deltas a writer
        merged or compacted away re-reads them); None in the writer, whose own records are the truth."""
        if self.writer.held:
            return None
        attrs = self.read_attrs()
        deltas = attrs.get("deltas") if isinstance(attrs, dict) else None
        return deltas.get(array, {}) if isinstance(deltas, dict) else {}

    def clear_leftovers(self) -> None:
        """A writer killed earlier may have left samples past the committed length: clear them, so growing
        the dataset later shows empty samples, not leftovers."""
        found = [f for engine in self.tensors.values() for f in engine.clear_beyond(self.length)]
        for arr in self.delta_arrays():
            arr.sweep_deltas()  # delta objects of a flush that never committed
        self.cache.flush()
        for finding in found:  # the writer's recovery says what it found
            print(f"hubfs: opening {self.url} for writing: {finding}", file=sys.stderr)

    def write_tensor_docs(self, key: str) -> None:
        parts = key.split("/")
        for n in range(1, len(parts) + 1):
            group = "/".join(parts[:n])
            if not self.store.exists(f"{group}/{layout.ZARR_JSON}"):
                self.store.put(f"{group}/{layout.ZARR_JSON}", layout.group_doc({}))
        for k, doc in self.tensors[key].array_docs(self.length).items():
            self.store.put(k, doc)

    def check_against(self, length: int | None, flat: dict[str, Tensor] | None) -> None:
        """The shape and schema given to open an existing dataset must be the stored ones."""
        if flat is not None:
            diff = schema_mod.describe_difference(self.schema, flat)
            if diff:
                raise SchemaMismatchError(f"dataset at {self.url} has another schema: {diff}")
        if length is not None and length != self.length:
            raise ShapeMismatchError(f"dataset at {self.url} has shape ({self.length},), not ({length},); "
                                     f"use resize_shape() to change it, or mode='w' to overwrite")

    # -- durability --------------------------------------------------------------------------------
    def flush(self, compact: bool = False) -> None:
        """Write everything cached: data (changed samples of stored chunks as deltas, or with ``compact``
        every chunk that has deltas whole), then array metadata, then length, schema, meta_information
        and the live deltas; then delete the delta objects that root no longer refers to."""
        with self.lock:
            if self.writer.held:
                self.writer.check()  # a writer whose lease lapsed writes nothing more
            arrays = self.delta_arrays()
            if compact and self.writer.held and any(arr.deltas for arr in arrays):
                # Compaction rewrites chunks this flush did not change: first make sure no other writer
                # took the lock over (a round trip; the root's write checks again, fenced).
                self.writer.verify()
            for arr in arrays:
                if compact:
                    arr.compact()
                else:
                    arr.stage_deltas()
            with self.store.batch():  # data and array metadata durable together, before the root
                self.cache.flush()
                if self.length == self.committed:  # chunks created since: their arrays' zarr.json record them
                    for engine in self.tensors.values():
                        if engine.docs_dirty():
                            for key, doc in engine.array_docs(self.length).items():
                                self.store.put(key, doc)
            if self.length != self.committed:
                if self.shrunk_to is not None:
                    # The new length first: from then on the data past it is invisible, then delete it.
                    self.write_root()
                    for engine in self.tensors.values():
                        engine.truncate(self.shrunk_to, self.committed)
                    self.cache.flush()
                with self.store.batch():
                    for engine in self.tensors.values():
                        for key, doc in engine.array_docs(self.length).items():
                            self.store.put(key, doc)
                self.write_root()
                self.committed = self.length
                self.shrunk_to = None
            elif self.root_doc() != self.root_written:  # meta_information, name or live deltas changed
                self.write_root()
            for arr in arrays:
                arr.collect_garbage()

    def close_now(self, writing: bool) -> bool:
        """Flush and release for a dropped Dataset object, if no other thread holds the locks that needs
        (this thread may: they are re-entrant); False, having done nothing, when one does."""
        if not _STATES_LOCK.acquire(blocking=False):
            return False
        try:
            if not self.lock.acquire(blocking=False):
                return False
            try:
                self.close_dropped(writing)
            finally:
                self.lock.release()
        finally:
            _STATES_LOCK.release()
        return True

    def close_dropped(self, writing: bool) -> None:
        """What ``Dataset.close`` does, for an object that is gone (so it cannot flush itself)."""
        if self.pid != os.getpid():
            return
        try:
            if writing and not self.deleted:
                self.flush()
        finally:
            self.release(writing)

    def release(self, writing: bool) -> None:
        """One Dataset object closed: the last writer releases the lock, the last object the store."""
        with _STATES_LOCK:
            self.handles -= 1
            if writing:
                self.writers -= 1
                if self.writers == 0:
                    self.writer.release()
            if self.handles == 0:
                self.store.close()
                if _STATES.get(self.key) is self:
                    del _STATES[self.key]


def _stored_delta_records(state: "weakref.ref[_State]", array: str) -> Any:
    """``records_source`` of an array: through a weak reference, so no cycle keeps a state (and its
    cache) alive after its last Dataset object is gone."""
    s = state()
    return None if s is None else s.stored_delta_records(array)


def _visible(root: bytes | None) -> Any:
    """What ``stale()`` compares of a root document: length, schema, meta_information, name (a flush that
    only recorded deltas is a change of values, picked up by ``refresh()``)."""
    try:
        attrs = json.loads(root)["attributes"]["hubfs"]
        return {k: v for k, v in attrs.items() if k not in ("deltas", "generation", "format")}
    except (TypeError, ValueError, KeyError):
        return root


def _state_key(url: str) -> str:
    if "://" in url:
        return url[len("file://"):] if url.startswith("file://") else url.rstrip("/")
    return os.path.realpath(url)


class Dataset:
    """A dataset at ``url``. See the README for the API; Hub 1.x code runs with ``hub`` -> ``hubfs``.

    ``public`` (Hub's cloud visibility) has no meaning here and is ignored; ``storage_cache`` and
    ``lock_cache`` are accepted for Hub's sake: hubfs has one cache of ``cache`` bytes and always
    serialises access to it. ``lazy=False`` makes indexing return computed values, as in Hub.
    """

    def __init__(self, url: str, mode: str | None = None, shape: Any = None, schema: dict | None = None,
                 token: dict | str | None = None, cache: int = DEFAULT_CACHE,
                 meta_information: dict | None = None, name: str | None = None,
                 storage_cache: int | None = None, lock_cache: bool = True, lazy: bool = True,
                 public: bool = True, version: str | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of 'r', 'r+', 'a', 'w' or None, not {mode!r}")
        mode = {"a+": "a", "w+": "w"}.get(mode, mode)
        self._closed = True  # until the open below succeeds
        self.lazy = bool(lazy)
        length = _parse_length(shape)
        flat = schema_mod.flatten(schema) if schema is not None else None
        url, address = split_address(url, version)
        url, token = namespace.resolve(url, token)
        self._url, self._cache_bytes = url, cache
        self._versions = Versions(open_store(url, token))
        at = self._versions.resolve(address) if address is not None else None
        if at is not None and mode == "w":
            raise VersionError(f"dataset at {url}: mode='w' would overwrite the whole dataset; open it without "
                               f"@{address} to do that")
        if at is not None and not at.tree and at.commit is None:
            at = None  # the default branch's head: the root itself
        self._pos = at
        self._enter(at, mode, token, length, flat, meta_information, name)

    def _enter(self, at: "Position | None", mode: str | None, token: Any, length: int | None = None,
               flat: dict | None = None, meta: dict | None = None, name: str | None = None) -> None:
        """Open (or join) the state of position ``at`` (None: the default branch's head, the root)."""
        url = self._url
        if at is None:
            state_url, key, store = url, _state_key(url), None
        elif at.commit is not None:
            state_url, key = f"{url}@{at.commit_id}", f"{_state_key(url)}@{at.commit_id}"
            store = CommitStore(self._versions.store, at.commit, state_url)
        else:
            state_url, key, store = f"{url}@{at.branch}", _state_key(f"{url}/{at.tree}"), None
        detached = at is not None and at.commit is not None
        self._detached = detached and mode != "r"  # writes there go to a new branch, as in Hub
        finalize.start_reaper()
        finalize.run_deferred()  # objects of this process dropped where they could not close: close them
        with _STATES_LOCK:
            state = _STATES.get(key)
            if state is None or state.pid != os.getpid() or state.deleted:
                state = _State(state_url, token, self._cache_bytes, store, key)
                if at is not None and at.tree:
                    state.store = open_store(f"{url}/{at.tree}", token)
            with state.lock:
                mode = self._open(state, "r" if detached else mode, length, flat, meta, name)
            state.handles += 1
            state.writers += mode != "r"
            _STATES[key] = state
        self._s = state
        self.mode = "r+" if self._detached else mode
        self.read_only = mode == "r"
        self._closed = False

    def _open(self, s: _State, mode: str | None, length: int | None, flat: dict | None,
              meta: dict | None, name: str | None) -> str:
        """Open or create the dataset in ``s`` for ``mode``; returns the mode it is open in."""
        if s.handles and s.schema:  # already open in this process
            exists = True
        else:
            attrs = s.read_attrs()
            exists = attrs is not None
        had_lock = s.writer.held
        if exists and mode != "w":  # what can be refused is refused before the lock (it writes lease objects)
            if not s.handles:
                s.load(attrs)
            s.check_against(length, flat)
        try:
            if mode is None:
                mode = "a" if not exists else ("r+" if s.try_lock() else "r")
            if mode in ("r", "r+") and not exists:
                raise DatasetNotFoundError(f"no dataset at {s.url}")
            creating = mode == "w" or (mode == "a" and not exists)
            if creating and length is None:
                raise MissingArgumentError("creating a dataset needs shape=(n,) (and schema={...})")
            if creating and flat is None:
                raise MissingArgumentError("creating a dataset needs schema={...} (and shape=(n,))")
            if creating and not exists and not s.is_empty():
                raise NotADatasetError(f"{s.url} is not empty and holds no hubfs dataset; it was left untouched")
            if mode != "r":
                s.take_lock()
            if creating:
                if exists:
                    s.wipe()
                elif not s.is_empty():
                    raise NotADatasetError(f"{s.url} is not empty and holds no hubfs dataset; it was left untouched")
                s.create(length, flat, meta or {}, name)
            elif mode != "r" and not had_lock:
                if not s.handles:
                    fresh = s.read_attrs()  # the root as of taking the lock (a writer may have committed since)
                    if fresh is None:
                        raise DatasetNotFoundError(f"no dataset at {s.url}")
                    if fresh != attrs:
                        s.load(fresh)
                        s.check_against(length, flat)
                s.clear_leftovers()
        except BaseException:
            if not had_lock and not s.writers:
                s.writer.release()  # a failed open must not keep other writers out
            raise
        return mode

    # -- basic facts -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The dataset's url (whatever version this object is at; see ``branch`` and ``commit_id``)."""
        return self._url

    @property
    def token(self) -> Any:
        return self._s.token

    @property
    def cache(self) -> Cache:
        return self._s.cache

    @property
    def name(self) -> str | None:
        """The name given at creation or by ``rename()`` (Hub's), else None."""
        return self._s.name

    @property
    def meta_information(self) -> dict:
        """Free-form dict stored with the dataset; edits in place are written on flush/close."""
        return self._s.meta_information

    @meta_information.setter
    def meta_information(self, value: dict) -> None:
        self._s.meta_information = dict(value)

    def __len__(self) -> int:
        return self._s.length

    @property
    def shape(self) -> tuple[int]:
        return (self._s.length,)

    @property
    def indexes(self) -> list[int]:
        return list(range(self._s.length))

    @property
    def schema(self) -> dict:
        """The schema as a nested dict of schema types."""
        return schema_mod.nest(self._s.schema)

    @property
    def keys(self) -> Keys:
        """Flat tensor keys; nested schema keys are joined with '/' (``ds.keys`` and ``ds.keys()`` both work)."""
        return Keys(self._s.schema)

    def tensor_type(self, key: str) -> Tensor:
        try:
            return self._s.schema[key]
        except KeyError:
            raise TensorNotFoundError(f"no tensor {key!r} in {self.url}; tensors are {list(self._s.schema)}") from None

    def has_tensor(self, key: str) -> bool:
        return key in self._s.schema

    def _engine(self, key: str) -> TensorEngine:
        try:
            return self._s.tensors[key]
        except KeyError:
            raise TensorNotFoundError(f"no tensor {key!r} in {self.url}; tensors are {list(self._s.schema)}") from None

    def _index(self, key: str, i: int) -> int:
        n = self._s.length
        j = int(i)
        if j < 0:
            j += n
        if not 0 <= j < n:
            raise IndexOutOfRangeError(f"tensor {key!r}, index {int(i)}: out of range for {n} samples")
        return j

    def _readable(self) -> None:
        if self._s.deleted:
            raise DatasetNotFoundError(f"dataset at {self.url} was deleted")

    def __repr__(self) -> str:
        return f"Dataset({self.url!r}, mode={self.mode!r}, shape={self.shape}, tensors={list(self.keys)})"

    # -- indexing ----------------------------------------------------------------------------------
    def _root(self) -> DatasetView:
        return DatasetView(self, range(self._s.length), False, "", self.lazy)

    def __getitem__(self, item: Any) -> Any:
        if type(item) is tuple and len(item) == 2 and type(item[0]) is str and type(item[1]) is int \
                and item[0] in self._s.schema:  # the hot path
            view = TensorView(self, item[0], self._index(item[0], item[1]), True, (), self.lazy)
            return view if self.lazy else view.compute()
        return self._root()[item]

    def __setitem__(self, item: Any, value: Any) -> None:
        if type(item) is tuple and len(item) == 2 and type(item[0]) is str and type(item[1]) is int \
                and item[0] in self._s.schema:
            self.write_samples([(item[0], item[1], (), value)])
            return
        self._root()[item] = value

    def __iter__(self) -> Iterator[DatasetView]:
        for i in range(self._s.length):
            yield DatasetView(self, i, True, "", self.lazy)

    def compute(self, label_name: bool = False) -> np.ndarray:
        """Every sample as a dict nested like the schema, in an array (Hub's form: ``ds.compute()[1]``)."""
        return self._root().compute(label_name)

    numpy = compute

    def filter(self, fn: Callable[[DatasetView], bool]) -> DatasetView:
        """A view of the samples for which ``fn(sample)`` is true."""
        return self._root().filter(fn)

    def disable_lazy(self) -> None:
        self.lazy = False

    def enable_lazy(self) -> None:
        self.lazy = True

    # -- the engine interface (views and the mount; every call takes the lock) ----------------------
    def read(self, key: str, i: int) -> Any:
        """The value of sample ``i`` of ``key`` (the caller owns it)."""
        s = self._s  # the hot path of single reads and scans: the checks of _readable/_engine/_index inline
        if s.deleted:
            self._readable()
        with s.lock:
            engine = s.tensors.get(key) or self._engine(key)
            value = engine.read(i if type(i) is int and 0 <= i < s.length else self._index(key, i))
        # one element reads as it (a numpy scalar, a str, an object), not as a 0-d array
        return value[()] if type(value) is np.ndarray and value.ndim == 0 else value

    def read_many(self, key: str, indices: Any) -> Any:
        """Values of samples ``indices`` (any order): one array for fixed shapes, else a list. Each run of
        consecutive indices is read as one range (one read per chunk or shard it touches)."""
        self._readable()
        with self._s.lock:
            engine = self._engine(key)
            if isinstance(indices, range) and indices.step == 1:
                return engine.read_range(indices.start, indices.stop)
            parts = [engine.read_range(run.start, run.stop) if len(run) > 1 else [engine.read(run.start)]
                     for run in indexing.consecutive_runs([self._index(key, i) for i in indices])]
        t = engine.type
        if t.is_dynamic or t.is_text:
            return [v for part in parts for v in part]
        arrays = [p if isinstance(p, np.ndarray) else np.stack(p) for p in parts]
        if not arrays:
            return np.zeros((0,) + t.shape, t.dtype)
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)

    def write_samples(self, writes: list[Write]) -> None:
        """Apply (key, index, inner subscripts, value) writes, each validated first: a bad one changes nothing.

        A write with inner subscripts (``ds["image", 0, 0:2] = v``) replaces that part of the sample.
        """
        self._writable()
        with self._s.lock:
            prepared = []
            partial: dict[tuple, Any] = {}
            for key, i, inner, value in writes:
                engine = self._engine(key)
                j = self._index(key, i)
                if inner:
                    current = partial.get((key, j))
                    value = partial[key, j] = engine.assign_part(
                        j, engine.read(j) if current is None else current, inner, value)
                prepared.append((engine, j, engine.prepare(j, value)))
            for engine, j, p in prepared:
                engine.put(j, p)

    def _writable(self) -> None:
        self._readable()
        if self._detached and not self._closed:
            self._auto_checkout()
        if self._closed:
            raise DatasetClosedError(f"dataset at {self.url} is closed; open it again to write")
        if self.read_only:
            raise ReadOnlyError(f"dataset at {self.url} is open read-only (mode='r')")

    def has_value(self, key: str, i: int) -> bool:
        """True when sample ``i`` has been given a value for tensor ``key``."""
        self._readable()
        with self._s.lock:
            return self._engine(key).has_value(self._index(key, i))

    def sample_shape(self, key: str, i: int) -> tuple:
        self._readable()
        with self._s.lock:
            return self._engine(key).sample_shape(self._index(key, i))

    def read_stored(self, key: str, i: int) -> bytes | None:
        """Sample ``i`` of ``key`` as stored, when that is a file (PNG/JPEG); else None."""
        self._readable()
        with self._s.lock:
            return self._engine(key).read_stored(self._index(key, i))

    def stored_nbytes(self, key: str, i: int) -> int | None:
        """Size of ``read_stored(key, i)`` without reading the sample."""
        self._readable()
        with self._s.lock:
            return self._engine(key).stored_nbytes(self._index(key, i))

    def write_stored(self, key: str, i: int, data: bytes) -> None:
        """Store file bytes in the tensor's stored format (PNG/JPEG) as they are, after validating them."""
        self._writable()
        with self._s.lock:
            self._engine(key).write_stored(self._index(key, i), data)

    def clear(self, key: str, i: int) -> None:
        """Remove sample ``i``'s value for ``key``."""
        self._writable()
        with self._s.lock:
            self._engine(key).clear(self._index(key, i))

    # -- growing -----------------------------------------------------------------------------------
    def resize_shape(self, size: int | tuple) -> None:
        """Set the number of samples; shrinking forgets the samples beyond."""
        self._writable()
        n = _parse_length(size)
        s = self._s
        with s.lock:
            if n > s.length and s.shrunk_to is not None:
                s.flush()  # commit the pending shrink first, so the regrown samples start empty
            if n < s.length and n < s.committed:
                # Deleting data waits for flush(), which commits the new length before deleting.
                s.shrunk_to = n if s.shrunk_to is None else min(n, s.shrunk_to)
            uncommitted = max(n, s.committed)
            if uncommitted < s.length:  # forget samples never committed now, or growing again shows them
                for engine in s.tensors.values():
                    engine.truncate(uncommitted, s.length)
            s.length = n

    def append_shape(self, size: int | tuple) -> None:
        """Add ``size`` empty samples at the end."""
        self.resize_shape(self._s.length + _parse_length(size))

    def append(self, sample: dict) -> None:
        """Add one sample (a dict of tensor -> value) at the end."""
        self.extend([sample])

    def extend(self, samples: Iterable[dict]) -> None:
        """Add samples at the end; if any value is bad, no sample is added."""
        self._writable()
        samples = list(samples)
        s = self._s
        with s.lock:
            start = s.length
            writes: list[Write] = []
            for j, sample in enumerate(samples):
                if not isinstance(sample, dict):
                    raise TypeError(f"append a dict of tensor names to values, not {type(sample).__name__}")
                writes.extend(DatasetView(self, start + j, True).writes(sample))
            s.length = start + len(samples)
            try:
                self.write_samples(writes)
            except BaseException:
                s.length = start
                raise

    def add_tensor(self, name: str, schema_type: Tensor | dict) -> None:
        """Add a tensor (or a nested dict of them) to an existing dataset; earlier samples read as empty."""
        self._writable()
        flat = schema_mod.flatten({name: schema_type} if not isinstance(name, dict) else name)
        s = self._s
        with s.lock:
            clash = [k for k in flat if k in s.schema or any(o.startswith(k + "/") or k.startswith(o + "/") for o in s.schema)]
            if clash:
                raise SchemaError(f"tensor {clash[0]!r} already exists or clashes with a stored tensor")
            self.flush()
            for key, t in flat.items():
                t = s.schema[key] = t.with_chunks(s.cache.capacity)
                s.tensors[key] = TensorEngine(key, t, s.store, s.cache)
                s.write_tensor_docs(key)
            s.write_root()

    # -- durability --------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything cached to the store: data, then array metadata, then length and schema."""
        self._flush()

    def _flush(self, compact: bool = False) -> None:
        if self.read_only or self._closed or self._s.deleted or self._s.pid != os.getpid():
            return
        self._s.flush(compact)

    save = flush

    # -- versions (Hub 1.3's API; hubfs/dataset/versions.py has the layout) ---------------------------
    @property
    def branch(self) -> str:
        """The branch this object is on (of the commit it is at, when at a commit)."""
        return self._pos.branch if self._pos is not None else DEFAULT_BRANCH

    @property
    def commit_id(self) -> str | None:
        """The id of the version this object is at: a commit, or the working head of its branch (the id
        its next ``commit()`` returns). None on a read-only dataset that has never been versioned."""
        if self._pos is not None:
            return self._pos.commit_id
        head = self._versions.branch(DEFAULT_BRANCH).head
        if not head and not self.read_only:
            head = self._versions.ensure_default().head
        return head or None

    @property
    def branches(self) -> list[str]:
        """Every branch's name (the default branch, ``master``, always)."""
        return self._versions.branches()

    def _head(self) -> "Branch":
        b = self._versions.ensure_default() if self.branch == DEFAULT_BRANCH else self._versions.branch(self.branch)
        if b is None:
            raise VersionError(f"dataset at {self.url}: branch {self.branch!r} is gone")
        return b

    def _top_groups(self) -> list[str]:
        return sorted({k.split("/", 1)[0] for k in self._s.schema})

    def commit(self, message: str = "") -> str:
        """Save the current state as a commit and return its id (Hub's ``commit``). Only objects changed
        since the branch's last commit are copied; at a commit that is not a branch head, this first
        checks out a new automatic branch, as Hub did."""
        self._writable()
        s = self._s
        with s.lock:
            s.flush(compact=True)  # versions hold standard chunks only: no commit records a delta
            b = self._head()
            commit_id = self._versions.seal(b, message, s.length, self._top_groups())
        if self._pos is not None:
            self._pos.commit_id = b.head
        return commit_id

    def checkout(self, address: str, create: bool = False) -> str:
        """Move this object to a branch's head or a commit (Hub's ``checkout``); with ``create=True`` an
        unknown name becomes a new branch starting from the current state. Returns the id now at."""
        self._readable()
        self.flush()
        try:
            at = self._versions.resolve(address)
        except AddressNotFound:
            if not create:
                raise
            if self.read_only and not self._detached:
                raise ReadOnlyError(f"dataset at {self.url} is open read-only: checkout cannot create branch "
                                    f"{address!r}") from None
            check_branch_name(address)
            here = self._pos if self._pos is not None else Position(DEFAULT_BRANCH, self._head().head, "", None)
            with self._s.lock:
                self._flush(compact=True)  # the new tree starts from standard chunks
                b = self._versions.create_branch(address, here, self._top_groups())
            at = Position(b.name, b.head, b.tree, None)
        mode = "r" if self.read_only and not self._detached else ("r+" if self.mode == "w" else self.mode)
        old, writing = self._s, not self.read_only
        self._enter(at if (at.tree or at.commit is not None) else None, mode, self._s.token)
        if old.pid == os.getpid():
            old.release(writing)  # the same state when checking out where it already is: counts stay
        self._pos = at if (at.tree or at.commit is not None) else None
        return self.commit_id

    def _auto_checkout(self) -> None:
        name = f"auto-{new_id()[:12]}"
        print(f"automatically checking out to new branch {name} as not at the head of branch {self.branch}",
              file=sys.stderr)
        self.checkout(name, create=True)

    def log(self) -> None:
        """Print the commits behind the current version, newest first (Hub's ``log``)."""
        print(f"\n Current Branch: {self.branch}\n")
        for record in self.history():
            print(f"{record}\n")

    def history(self) -> list["Commit"]:
        """The commits behind this version, newest first (what ``log`` prints)."""
        if self._pos is not None and self._pos.commit is not None:
            return self._versions.history(self._pos.commit.id)
        b = self._versions.branch(self.branch)
        return self._versions.history(b.parent if b else None)

    def refresh(self) -> None:
        """Re-read length, schema and data written since opening by another process (read-only datasets)."""
        s = self._s
        if not self.read_only or s.writers:
            return
        self._readable()
        with s.lock:
            attrs = s.read_attrs()
            if attrs is None:
                raise DatasetNotFoundError(f"no dataset at {self.url} any more")
            s.cache.clear()
            s.store.close()
            s.load(attrs)

    def stale(self) -> bool:
        """True when another process has flushed a new length, schema or meta_information since this object
        last read them (one small read of the root document); ``refresh()`` picks the change up."""
        self._readable()
        return _visible(self._s.store.get(layout.ZARR_JSON)) != _visible(self._s.root_written)

    def close(self) -> None:
        """Flush and release the writer lock; later reads still work, writes raise DatasetClosedError."""
        if self._closed:
            return
        writing = not self.read_only
        try:
            self._flush(compact=True)  # a closed dataset has no live deltas: plain zarr reads it exactly
        finally:
            self._closed = True
            self.read_only = True
            if self._s.pid == os.getpid():  # a forked child's copy must not touch the parent's lock
                self._s.release(writing)

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        """Close a dropped object, never waiting: inside a garbage collection (which can run in any thread
        at any allocation, even inside ``Thread.start()`` while its caller holds the states lock), or when
        another thread holds a lock the close needs, the close is deferred to hubfs/dataset/finalize.py's
        reaper thread (and the next open in this process runs it first)."""
        try:
            if getattr(self, "_closed", True):
                return
            s, writing = self._s, not self.read_only
            self._closed, self.read_only = True, True
            if s.pid != os.getpid():
                return  # a forked child's copy must not touch the parent's lock
            if finalize.in_collection() or not s.close_now(writing):
                finalize.defer(lambda: s.close_dropped(writing))
        except Exception:
            pass

    def __reduce__(self) -> tuple:
        """Pickled: flushed here, reopened read-only where unpickled (DataLoader workers, process pools)."""
        self.flush()
        at = None if self._pos is None else (self._pos.commit_id if self._pos.commit is not None else self._pos.branch)
        return (_reopen, (self.url, self.token, self._s.cache.capacity, self.lazy, at))

    # -- whole-dataset operations ------------------------------------------------------------------
    def delete(self) -> bool:
        """Delete the dataset from its store; every object of it in this process stops reading."""
        self._writable()
        s = self._s
        with s.lock:
            s.cache.clear()
            s.wipe()
            s.deleted = True
            s.writer.release()
            s.store.delete_prefix("")
            if s.store is not self._versions.store:  # at a branch or a commit: the whole dataset goes
                self._versions.store.delete_prefix("")
        self._closed = True
        self.read_only = True
        with _STATES_LOCK:
            if _STATES.get(s.key) is s:
                del _STATES[s.key]
        return True

    def copy(self, dst: str, token: Any = None, progress: bool = False, public: bool = True) -> "Dataset":
        """Copy every stored object to ``dst`` (which must hold no dataset) as it is, and open the copy."""
        from tqdm import tqdm

        self._readable()
        self.flush()
        target, target_token = namespace.resolve(dst, token)
        out = open_store(target, target_token)
        if not all(is_lock_key(k) for k in out.list("")):
            raise NotADatasetError(f"{target} is not empty; copy() writes only to an empty place")
        with self._s.lock:
            store, length = self._s.store, self._s.length
            metadata, chunks = _copy_order(store, list(self._s.tensors))
            with tqdm(total=length, desc="copy", unit="sample", disable=not progress) as bar:
                for key in metadata:
                    _copy_object(store, out, key)
                for n, (first, key) in enumerate(chunks):
                    _copy_object(store, out, key)
                    # every object of the samples before the next chunk's first sample is copied
                    bar.update(min(chunks[n + 1][0] if n + 1 < len(chunks) else length, length) - bar.n)
                _copy_object(store, out, layout.ZARR_JSON)  # root last: the copy is a dataset only when complete
        out.close()
        return Dataset(target, mode="r+", token=target_token, cache=self._s.cache.capacity)

    def rename(self, name: str) -> None:
        """Set the dataset's name (Hub's ``rename``: the data stays where it is; see ``move`` to move it)."""
        self._writable()
        self._s.name = str(name)
        self.flush()

    def move(self, name: str) -> "Dataset":
        """Move the dataset to ``name`` beside it (same parent folder or prefix); returns the moved dataset."""
        if "/" in name.strip("/"):
            raise ValueError("move() takes a new last path component, not a path")
        parent = self.url.rstrip("/").rsplit("/", 1)[0]
        moved = self.copy(f"{parent}/{name}", self.token)
        self.delete()
        return moved

    def store(self, url: str, token: Any = None, **kwargs: Any) -> "Dataset":
        """Write this dataset to a new ``url`` and return it."""
        return self.store_samples(list(range(self._s.length)), url, token, **kwargs)

    def store_samples(self, indices: list[int], url: str, token: Any = None, **kwargs: Any) -> "Dataset":
        """Write samples ``indices`` as a new dataset at ``url``; stored bytes are copied as they are where
        the tensor's codec is the same on both sides (so JPEG samples never lose quality on a copy)."""
        for hub_only in ("sample_per_shard", "public", "scheduler", "workers", "progressbar", "length"):
            kwargs.pop(hub_only, None)  # Hub's transform-based store took these; one pass here needs none
        self._readable()
        s = self._s
        out = Dataset(url, mode="w", shape=(len(indices),), schema=self.schema, token=token,
                      meta_information=s.meta_information, name=s.name, **kwargs)
        out._copy_samples(self, indices, 0, progress=len(indices) >= 1024)
        out.flush()
        return out

    def extend_from(self, other: "Dataset", progress: bool = False) -> None:
        """Append every sample of ``other`` (a dataset with the same schema), its stored bytes copied as
        they are (no decoding, no re-encoding). Nothing is committed until ``flush()``."""
        self._writable()
        other._readable()
        diff = schema_mod.describe_difference(self._s.schema, other._s.schema)
        if diff:
            raise SchemaMismatchError(f"cannot extend {self.url} from {other.url}: {diff}")
        start = self._s.length
        self.resize_shape(start + len(other))
        self._copy_samples(other, range(len(other)), start, progress)

    def _copy_samples(self, src: "Dataset", indices: Any, at: int, progress: bool) -> None:
        """Copy samples ``indices`` of ``src`` (same schema) to ``at``, ``at + 1``, ... here, in batches."""
        from tqdm import tqdm

        batch = 256
        for start in tqdm(range(0, len(indices), batch), desc="copy", unit="batch", disable=not progress):
            with src._s.lock:
                part = indices[start:start + batch]
                copies = [(key, at + start + j, engine.copy_out(src._index(key, i)))
                          for key, engine in src._s.tensors.items() for j, i in enumerate(part)]
            self._copy_in([c for c in copies if c[2] is not None])

    def _copy_in(self, copies: list[tuple[str, int, Any]]) -> None:
        """Put what ``copy_out`` gave for each (key, index) of a dataset with the same schema."""
        self._writable()
        with self._s.lock:
            for key, i, sample in copies:
                self._engine(key).copy_in(i, sample)


def _reopen(url: str, token: Any, cache: int, lazy: bool, version: str | None = None) -> Dataset:
    return Dataset(url, mode="r", token=token, cache=cache, lazy=lazy, version=version)


def split_address(url: str, version: str | None = None) -> tuple[str, str | None]:
    """``url@address`` -> (url, address); ``version=`` wins when both are given. An ``@`` followed by a
    path (``/a@b/c``) or by no name is part of the url."""
    if isinstance(url, str) and "@" in url:
        head, tail = url.rsplit("@", 1)
        if tail and "/" not in tail and ":" not in tail and head:
            url, version = head, version if version is not None else tail
    return url, version


def load(url: str, token: Any = None, **kwargs: Any) -> Dataset:
    """Open the dataset at ``url`` (Hub's ``hub.load``)."""
    return Dataset(url, token=token, **kwargs)


def _parse_length(shape: Any) -> int | None:
    if shape is None:
        return None
    if isinstance(shape, (tuple, list)):
        if len(shape) != 1:
            raise ShapeLengthError(f"a dataset's shape is (n,), one dimension, not {tuple(shape)}")
        shape = shape[0]
    if shape is None:
        return None
    if isinstance(shape, (bool, float)) or not isinstance(shape, (int, np.integer)):
        raise ShapeLengthError(f"a dataset's length is an int, not {shape!r}")
    n = int(shape)
    if n < 0:
        raise SchemaError(f"a dataset cannot have {n} samples")
    return n


@atexit.register
def _flush_open_datasets() -> None:
    """Interpreter exit flushes every dataset open for writing (the write-back cache must not drop writes)."""
    finalize.run_deferred()
    for state in list(_STATES.values()):
        if state.pid != os.getpid() or not state.writers or state.deleted:
            continue
        try:
            state.flush(compact=True)  # as close() would
        except Exception as exc:  # report, keep flushing the others
            import sys

            print(f"hubfs: could not flush {state.url} at exit: {exc}", file=sys.stderr)
        finally:
            state.writer.release()


def _copy_order(store: Store, tensors: list[str]) -> tuple[list[str], list[tuple[int, str]]]:
    """The objects ``copy`` writes: metadata and version objects first, then every chunk or shard as
    ``(first sample, key)`` in sample order (so progress counts samples); the root ``zarr.json`` is apart."""
    metadata, chunks = [], []
    per_chunk: dict[str, int | None] = {}
    for key in store.list(""):
        if is_lock_key(key) or key == layout.ZARR_JSON:
            continue
        tensor = layout.tensor_of(key, tensors)
        chunk = layout.sample_chunk(key, tensor) if tensor else None
        if chunk is not None:
            array, number = chunk
            if array not in per_chunk:
                per_chunk[array] = layout.samples_per_chunk(store.get(f"{array}/{layout.ZARR_JSON}"))
            if per_chunk[array] is not None:
                chunks.append((number * per_chunk[array], key))
                continue
        metadata.append(key)
    chunks.sort()
    return metadata, chunks


def _copy_object(src: Store, dst: Store, key: str) -> None:
    data = src.get(key)
    if data is not None:
        dst.put(key, data)
