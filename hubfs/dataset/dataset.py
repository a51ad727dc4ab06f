"""``hubfs.Dataset``: named, schema-typed tensors over N samples, stored as a zarr v3 group.

Opening resolves the url (``user/ds`` names live under the configured root), takes the writer lock when
writing, and reads the root group's attributes. All reads and writes go through one bounded write-back
cache (``cache`` bytes); ``flush()`` writes data first, then array metadata, then the root attributes
(length, schema), so a process killed at any instant leaves a dataset whose committed samples are intact.
"""
from __future__ import annotations

import atexit
import json
import threading
import weakref
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from hubfs.dataset import layout, namespace
from hubfs.dataset import schema as schema_mod
from hubfs.dataset.cache import Cache
from hubfs.dataset.lock import LOCK_KEY, WriterLock
from hubfs.dataset.schema import ClassLabel, Tensor
from hubfs.dataset.storage import Store, open_store
from hubfs.dataset.tensor import TensorEngine
from hubfs.dataset.view import DatasetView, TensorView
from hubfs.errors import (DatasetClosedError, DatasetNotFoundError, IndexOutOfRangeError, NotADatasetError,
                          ReadOnlyError, SchemaError, StoreError, TensorNotFoundError)

DEFAULT_CACHE = 1 << 26  # 64 MiB, Hub 1.x's default
FORMAT = 1
MODES = ("r", "r+", "a", "a+", "w", "w+", None)
_OPEN: "weakref.WeakSet[Dataset]" = weakref.WeakSet()


class Dataset:
    """A dataset at ``url``. See the README for the API; Hub 1.x code runs with ``hub`` -> ``hubfs``."""

    def __init__(self, url: str, mode: str | None = None, shape: Any = None, schema: dict | None = None,
                 token: dict | str | None = None, cache: int = DEFAULT_CACHE,
                 meta_information: dict | None = None, name: str | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of 'r', 'r+', 'a', 'w' or None, not {mode!r}")
        mode = {"a+": "a", "w+": "w"}.get(mode, mode)
        self.url, self._token = namespace.resolve(url, token)
        self._store: Store = open_store(self.url, self._token)
        self.cache = Cache(cache)
        self._lock = threading.RLock()
        self._writer = WriterLock(self._store, self)
        self._closed = False
        self._shrunk_to: int | None = None  # lowest length since the last flush, when below the committed
        self._tensors: dict[str, TensorEngine] = {}
        self._schema: dict[str, Tensor] = {}
        length = _parse_length(shape)
        flat = schema_mod.flatten(schema) if schema is not None else None

        attrs = self._read_attrs()
        exists = attrs is not None
        if mode is None:
            mode = "a" if not exists else "r+"
            if exists and not self._try_lock():
                mode = "r"
        if mode in ("r", "r+") and not exists:
            raise DatasetNotFoundError(f"no dataset at {self.url}")
        creating = mode == "w" or (mode == "a" and not exists)
        if creating and (length is None or flat is None):
            self._writer.release()
            raise SchemaError("creating a dataset needs shape=(n,) and schema={...}")
        if mode != "r" and not self._writer.held:
            self._take_lock()
        try:
            if creating:
                if exists:
                    self._wipe()
                elif not self._is_empty():
                    raise NotADatasetError(f"{self.url} is not empty and holds no hubfs dataset; it was left untouched")
                self._create(length, flat, meta_information or {}, name)
            else:
                self._load(attrs, length, flat)
        except BaseException:
            self._writer.release()  # a failed open must not keep other writers out
            raise
        self.mode = mode
        self.read_only = mode == "r"
        _OPEN.add(self)

    # -- opening -----------------------------------------------------------------------------------
    def _read_attrs(self) -> dict | None:
        raw = self._store.get(layout.ZARR_JSON)
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

    def _is_empty(self) -> bool:
        return all(k == LOCK_KEY for k in self._store.list(""))

    def _try_lock(self) -> bool:
        """Take the writer lock; False when the store refuses writes (then the dataset opens read-only)."""
        try:
            self._writer.acquire()
        except StoreError as exc:
            if exc.denied:
                return False
            raise
        return True

    def _take_lock(self) -> None:
        if not self._try_lock():
            raise ReadOnlyError(f"{self.url} cannot be written: the store refuses writes")

    def _wipe(self) -> None:
        for key in self._store.list(""):
            if key != LOCK_KEY:
                self._store.delete(key)

    def _create(self, length: int, flat: dict[str, Tensor], meta: dict, name: str | None) -> None:
        self._schema = {k: t.with_chunks(self.cache.capacity) for k, t in flat.items()}
        self._length = self._committed = length
        self.meta_information = dict(meta)
        if name:
            self.meta_information.setdefault("name", name)
        for key, t in self._schema.items():
            self._tensors[key] = TensorEngine(key, t, self._store, self.cache)
            self._write_tensor_docs(key)
        self._write_root()

    def _load(self, attrs: dict, length: int | None, flat: dict[str, Tensor] | None) -> None:
        if attrs.get("format", 0) > FORMAT:
            raise NotADatasetError(f"{self.url} was written by a newer hubfs (format {attrs['format']})")
        self._schema = schema_mod.from_json(attrs["schema"])
        self._length = self._committed = int(attrs["length"])
        self.meta_information = attrs.get("meta_information", {})
        if flat is not None:
            diff = schema_mod.describe_difference(self._schema, flat)
            if diff:
                raise SchemaError(f"dataset at {self.url} has another schema: {diff}")
        if length is not None and length != self._length:
            raise SchemaError(f"dataset at {self.url} has shape ({self._length},), not ({length},); "
                              f"use resize_shape() to change it, or mode='w' to overwrite")
        for key, t in self._schema.items():
            self._tensors[key] = TensorEngine(key, t, self._store, self.cache)
        if self._writer.held:
            # A writer killed earlier may have left samples past the committed length: clear them, so
            # growing the dataset later shows empty samples, not leftovers.
            for engine in self._tensors.values():
                engine.clear_beyond(self._length)
            self.cache.flush()

    def _write_tensor_docs(self, key: str) -> None:
        parts = key.split("/")
        for n in range(1, len(parts) + 1):
            group = "/".join(parts[:n])
            if not self._store.exists(f"{group}/{layout.ZARR_JSON}"):
                self._store.put(f"{group}/{layout.ZARR_JSON}", layout.group_doc({}))
        for k, doc in self._tensors[key].array_docs(self._length).items():
            self._store.put(k, doc)

    def _write_root(self) -> None:
        attrs = {"hubfs": {"format": FORMAT, "length": self._length, "schema": schema_mod.to_json(self._schema),
                           "meta_information": self.meta_information}}
        self._store.put(layout.ZARR_JSON, layout.group_doc(attrs))

    # -- basic facts -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._length

    @property
    def shape(self) -> tuple[int]:
        return (self._length,)

    @property
    def schema(self) -> dict:
        """The schema as a nested dict of schema types."""
        return schema_mod.nest(self._schema)

    def keys(self) -> list[str]:
        """Flat tensor keys; nested schema keys are joined with '/'."""
        return list(self._schema)

    def tensor_type(self, key: str) -> Tensor:
        try:
            return self._schema[key]
        except KeyError:
            raise TensorNotFoundError(f"no tensor {key!r} in {self.url}; tensors are {list(self._schema)}") from None

    def _engine(self, key: str) -> TensorEngine:
        try:
            return self._tensors[key]
        except KeyError:
            raise TensorNotFoundError(f"no tensor {key!r} in {self.url}; tensors are {list(self._schema)}") from None

    def _index(self, key: str, i: int) -> int:
        n = self._length
        j = int(i)
        if j < 0:
            j += n
        if not 0 <= j < n:
            raise IndexOutOfRangeError(f"tensor {key!r}, index {int(i)}: out of range for {n} samples")
        return j

    def __repr__(self) -> str:
        return f"Dataset({self.url!r}, mode={self.mode!r}, shape={self.shape}, tensors={self.keys()})"

    # -- indexing ----------------------------------------------------------------------------------
    def __getitem__(self, item: Any) -> TensorView | DatasetView:
        if type(item) is tuple and len(item) == 2 and type(item[0]) is str and type(item[1]) is int and item[0] in self._schema:
            return TensorView(self, item[0], self._index(item[0], item[1]), True)  # the hot path
        return DatasetView(self, range(self._length))[item]

    def __setitem__(self, item: Any, value: Any) -> None:
        if type(item) is tuple and len(item) == 2 and type(item[0]) is str and type(item[1]) is int and item[0] in self._schema:
            self._write_many([(item[0], self._index(item[0], item[1]), value)])
            return
        DatasetView(self, range(self._length))[item] = value

    def __iter__(self) -> Iterator[DatasetView]:
        for i in range(self._length):
            yield DatasetView(self, i, True)

    def compute(self, label_name: bool = False) -> dict:
        return DatasetView(self, range(self._length)).compute(label_name)

    numpy = compute

    def filter(self, fn: Callable[[DatasetView], bool]) -> DatasetView:
        """A view of the samples for which ``fn(sample)`` is true."""
        return DatasetView(self, range(self._length)).filter(fn)

    # -- sample access (used by views and the mount) -----------------------------------------------
    def _read(self, key: str, i: int) -> Any:
        with self._lock:
            return self._engine(key).read(i)

    def _read_range(self, key: str, start: int, stop: int) -> Any:
        with self._lock:
            return self._engine(key).read_range(start, stop)

    def _label_names(self, key: str, value: Any) -> Any:
        """Class names for a ClassLabel's values."""
        t = self.tensor_type(key)
        if not isinstance(t, ClassLabel):
            raise TypeError(f"tensor {key!r} is a {t.kind}, not a ClassLabel: it has no label names")
        if isinstance(value, np.ndarray) and value.ndim:
            return [t.int2str(v) for v in value.tolist()]
        return t.int2str(int(value))

    def _writable(self) -> None:
        if self._closed:
            raise DatasetClosedError(f"dataset at {self.url} is closed; open it again to write")
        if self.read_only:
            raise ReadOnlyError(f"dataset at {self.url} is open read-only (mode='r')")

    def _write_many(self, writes: list[tuple[str, int, Any]]) -> None:
        """Validate every write first, then apply them all: a bad value changes nothing."""
        self._writable()
        with self._lock:
            prepared = []
            for key, i, value in writes:
                engine = self._engine(key)
                prepared.append((engine, i, engine.prepare(i, value)))
            for engine, i, p in prepared:
                engine.put(i, p)

    def has_value(self, key: str, i: int) -> bool:
        """True when sample ``i`` has been given a value for tensor ``key``."""
        with self._lock:
            return self._engine(key).has_value(self._index(key, i))

    def sample_shape(self, key: str, i: int) -> tuple:
        with self._lock:
            return self._engine(key).sample_shape(self._index(key, i))

    def read_stored(self, key: str, i: int) -> bytes | None:
        """Sample ``i`` of ``key`` as stored, when that is a file (PNG/JPEG); else None."""
        with self._lock:
            return self._engine(key).read_stored(self._index(key, i))

    def stored_nbytes(self, key: str, i: int) -> int | None:
        """Size of ``read_stored(key, i)`` without reading the sample."""
        with self._lock:
            return self._engine(key).stored_nbytes(self._index(key, i))

    def write_stored(self, key: str, i: int, data: bytes) -> None:
        """Store file bytes in the tensor's stored format (PNG/JPEG) as they are, after validating them."""
        self._writable()
        with self._lock:
            self._engine(key).write_stored(self._index(key, i), data)

    def clear(self, key: str, i: int) -> None:
        """Remove sample ``i``'s value for ``key``."""
        self._writable()
        with self._lock:
            self._engine(key).clear(self._index(key, i))

    # -- growing -----------------------------------------------------------------------------------
    def resize_shape(self, size: int | tuple) -> None:
        """Set the number of samples; shrinking forgets the samples beyond."""
        self._writable()
        n = _parse_length(size)
        with self._lock:
            if n > self._length and self._shrunk_to is not None:
                self.flush()  # commit the pending shrink first, so the regrown samples start empty
            if n < self._length and n < self._committed:
                # Deleting data waits for flush(), which commits the new length before deleting.
                self._shrunk_to = n if self._shrunk_to is None else min(n, self._shrunk_to)
            self._length = n

    def append_shape(self, size: int | tuple) -> None:
        """Add ``size`` empty samples at the end."""
        self.resize_shape(self._length + _parse_length(size))

    def append(self, sample: dict) -> None:
        """Add one sample (a dict of tensor -> value) at the end."""
        self.extend([sample])

    def extend(self, samples: Iterable[dict]) -> None:
        """Add samples at the end; if any value is bad, no sample is added."""
        self._writable()
        samples = list(samples)
        with self._lock:
            start = self._length
            writes = []
            for j, sample in enumerate(samples):
                if not isinstance(sample, dict):
                    raise TypeError(f"append a dict of tensor names to values, not {type(sample).__name__}")
                view = DatasetView(self, start + j, True)
                for key, value in _flat_items(sample):
                    full, leaf = view._resolve(key)
                    if not leaf:
                        raise TensorNotFoundError(f"{full!r} is a group of tensors, not a tensor")
                    writes.append((full, start + j, value))
            self._length = start + len(samples)
            try:
                self._write_many(writes)
            except BaseException:
                self._length = start
                raise

    def add_tensor(self, name: str, schema_type: Tensor | dict) -> None:
        """Add a tensor (or a nested dict of them) to an existing dataset; earlier samples read as empty."""
        self._writable()
        flat = schema_mod.flatten({name: schema_type} if not isinstance(name, dict) else name)
        with self._lock:
            clash = [k for k in flat if k in self._schema or any(s.startswith(k + "/") or k.startswith(s + "/") for s in self._schema)]
            if clash:
                raise SchemaError(f"tensor {clash[0]!r} already exists or clashes with a stored tensor")
            self.flush()
            for key, t in flat.items():
                t = self._schema[key] = t.with_chunks(self.cache.capacity)
                self._tensors[key] = TensorEngine(key, t, self._store, self.cache)
                self._write_tensor_docs(key)
            self._write_root()

    # -- durability --------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything cached to the store: data, then array metadata, then length and schema."""
        if self.read_only or self._closed:
            return
        with self._lock:
            self.cache.flush()
            if self._length != self._committed:
                if self._shrunk_to is not None:
                    # The new length first: from then on the data past it is invisible, then delete it.
                    self._write_root()
                    for engine in self._tensors.values():
                        engine.truncate(self._shrunk_to, self._committed)
                    self.cache.flush()
                for engine in self._tensors.values():
                    for key, doc in engine.array_docs(self._length).items():
                        self._store.put(key, doc)
                self._write_root()
                self._committed = self._length
                self._shrunk_to = None
            if self._store.remote:
                self._writer.refresh()  # the heartbeat that keeps other hosts from taking the lock

    commit = flush

    def refresh(self) -> None:
        """Re-read length, schema and data written since opening by the writer (read-only datasets)."""
        if not self.read_only:
            return
        with self._lock:
            attrs = self._read_attrs()
            if attrs is None:
                raise DatasetNotFoundError(f"no dataset at {self.url} any more")
            self.cache.clear()
            self._store.close()
            self._tensors.clear()
            self._load(attrs, None, None)

    def close(self) -> None:
        """Flush and release the writer lock; later reads still work, writes raise DatasetClosedError."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self.read_only = True
            self._writer.release()
            self._store.close()
            _OPEN.discard(self)

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass

    # -- whole-dataset operations ------------------------------------------------------------------
    def delete(self) -> None:
        """Delete the dataset from its store."""
        self._writable()
        with self._lock:
            self.cache.clear()
            self._wipe()
            self._closed = True
            self.read_only = True
            self._writer.release()
            self._store.delete_prefix("")
            _OPEN.discard(self)

    def copy(self, dst: str, token: Any = None, progress: bool = False) -> "Dataset":
        """Copy every stored object to ``dst`` (which must hold no dataset) and open the copy."""
        from tqdm import tqdm

        self.flush()
        target, target_token = namespace.resolve(dst, token)
        out = open_store(target, target_token)
        if not all(k == LOCK_KEY for k in out.list("")):
            raise NotADatasetError(f"{target} is not empty; copy() writes only to an empty place")
        with self._lock:
            keys = [k for k in self._store.list("") if k != LOCK_KEY and k != layout.ZARR_JSON]
            keys.append(layout.ZARR_JSON)  # root last: the copy is a dataset only when complete
            for key in tqdm(keys, desc="copy", unit="object", disable=not progress):
                data = self._store.get(key)
                if data is not None:
                    out.put(key, data)
        out.close()
        return Dataset(target, mode="r+", token=target_token, cache=self.cache.capacity)

    def rename(self, name: str) -> "Dataset":
        """Move the dataset to ``name`` beside it (same parent folder or prefix); returns the moved dataset."""
        if "/" in name.strip("/"):
            raise ValueError("rename() takes a new last path component, not a path")
        parent = self.url.rstrip("/").rsplit("/", 1)[0]
        moved = self.copy(f"{parent}/{name}", self._token)
        self.delete()
        return moved

    def store(self, url: str, token: Any = None, **kwargs: Any) -> "Dataset":
        """Write this dataset to a new ``url`` and return it."""
        return self._store_samples(range(self._length), url, token, **kwargs)

    def _store_samples(self, indices: Any, url: str, token: Any, **kwargs: Any) -> "Dataset":
        from tqdm import tqdm

        indices = list(indices)
        out = Dataset(url, mode="w", shape=(len(indices),), schema=self.schema, token=token,
                      meta_information=self.meta_information, **kwargs)
        batch = 256
        for start in tqdm(range(0, len(indices), batch), desc="store", unit="batch", disable=len(indices) < 4 * batch):
            with self._lock:
                writes = [(key, start + j, engine.read(i))
                          for key, engine in self._tensors.items()
                          for j, i in enumerate(indices[start:start + batch]) if engine.has_value(i)]
            out._write_many(writes)
        out.flush()
        return out


def _parse_length(shape: Any) -> int | None:
    if shape is None:
        return None
    if isinstance(shape, (tuple, list)):
        if len(shape) != 1:
            raise SchemaError(f"a dataset's shape is (n,), one dimension, not {tuple(shape)}")
        shape = shape[0]
    n = int(shape)
    if n < 0:
        raise SchemaError(f"a dataset cannot have {n} samples")
    return n


def _flat_items(sample: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in sample.items():
        if isinstance(v, dict):
            yield from _flat_items(v, f"{prefix}{k}/")
        else:
            yield f"{prefix}{k}", v


@atexit.register
def _flush_open_datasets() -> None:
    """Interpreter exit flushes every open dataset (the write-back cache must not drop writes)."""
    for ds in list(_OPEN):
        try:
            ds.close()
        except Exception as exc:  # report, keep closing the others
            import sys

            print(f"hubfs: could not flush {ds.url} at exit: {exc}", file=sys.stderr)
