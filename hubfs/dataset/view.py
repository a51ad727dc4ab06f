"""Views: what indexing a dataset returns, and what ``compute()`` gives back (Hub 1.x's rules).

``ds["image", 5]`` -> TensorView of one sample; ``ds["label", 100:110]`` -> TensorView of a range;
``ds[5]`` / ``ds[3:15]`` -> DatasetView; views index further (``ds[3:15][4:9]["image", 1]``) and assign.
``compute()``: a fixed-shape range -> one ndarray; a dynamic or text range -> a list; one sample -> its
value (Text -> str); a DatasetView -> a dict (nested like the schema) of those.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from hubfs.dataset.schema import ClassLabel, nest
from hubfs.errors import IndexOutOfRangeError, SampleError, TensorNotFoundError

if TYPE_CHECKING:
    from hubfs.dataset.dataset import Dataset

Indices = "range | list[int]"


def split_subscript(item: Any) -> tuple[str | None, Any, tuple]:
    """(tensor key or None, sample index or None, extra per-sample subscripts) of a subscript."""
    if isinstance(item, str):
        return item, None, ()
    if not isinstance(item, tuple):
        return None, item, ()
    key = None
    rest = list(item)
    for pos in (0, 1):
        if pos < len(rest) and isinstance(rest[pos], str):
            key = rest.pop(pos)
            break
    if any(isinstance(x, str) for x in rest):
        raise TypeError(f"subscript {item!r} names more than one tensor")
    if not rest:
        return key, None, ()
    return key, rest[0], tuple(rest[1:])


def select(indices: Any, idx: Any, what: str = "dataset") -> tuple[Any, bool]:
    """Apply a sample subscript to absolute ``indices``: (new indices, is one sample)."""
    n = len(indices)
    if isinstance(idx, (int, np.integer)) and not isinstance(idx, bool):
        i = int(idx)
        if i < -n or i >= n:
            raise IndexOutOfRangeError(f"{what}, index {i}: out of range for {n} samples")
        return indices[i], True
    if isinstance(idx, slice):
        return indices[idx], False
    if isinstance(idx, (list, np.ndarray)):
        arr = np.asarray(idx)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise IndexOutOfRangeError(f"{what}: a boolean mask of shape {arr.shape} for {n} samples")
            return [indices[int(j)] for j in np.flatnonzero(arr)], False
        out = []
        for j in arr.tolist():
            if j < -n or j >= n:
                raise IndexOutOfRangeError(f"{what}, index {j}: out of range for {n} samples")
            out.append(indices[j])
        return out, False
    raise TypeError(f"{what}: cannot index samples with {type(idx).__name__}")


class TensorView:
    """One tensor over one sample (``scalar``) or a set of samples."""

    __slots__ = ("ds", "key", "indices", "scalar", "extra")

    def __init__(self, ds: "Dataset", key: str, indices: Any, scalar: bool, extra: tuple = ()):
        self.ds, self.key, self.indices, self.scalar, self.extra = ds, key, indices, scalar, extra

    def compute(self, label_name: bool = False) -> Any:
        ds, key = self.ds, self.key
        if self.scalar:
            value = ds._read(key, self.indices)
            if self.extra:
                value = value[self.extra if len(self.extra) > 1 else self.extra[0]]
            return ds._label_names(key, value) if label_name else value
        idx = self.indices
        if isinstance(idx, range) and idx.step == 1:
            values = ds._read_range(key, idx.start, idx.stop)
        else:
            values = [ds._read(key, i) for i in idx]
            t = ds.tensor_type(key)
            if not (t.is_dynamic or t.is_text):
                values = np.stack(values) if values else np.zeros((0,) + t.shape, t.dtype)
        if self.extra:
            sub = self.extra if len(self.extra) > 1 else self.extra[0]
            values = values[(slice(None),) + tuple(self.extra)] if isinstance(values, np.ndarray) else [v[sub] for v in values]
        return ds._label_names(key, values) if label_name else values

    numpy = compute

    def __array__(self, dtype=None, copy=None):
        value = np.asarray(self.compute())
        return value.astype(dtype) if dtype is not None else value

    def __len__(self) -> int:
        if self.scalar:
            raise TypeError(f"tensor {self.key!r}: one sample has no len(); use .shape")
        return len(self.indices)

    def __iter__(self) -> Iterator["TensorView"]:
        if self.scalar:
            raise TypeError(f"tensor {self.key!r}: cannot iterate one sample")
        for i in self.indices:
            yield TensorView(self.ds, self.key, i, True)

    def __getitem__(self, idx: Any) -> "TensorView":
        if self.scalar:
            return TensorView(self.ds, self.key, self.indices, True, self.extra + (idx if isinstance(idx, tuple) else (idx,)))
        if isinstance(idx, tuple):
            idx, extra = idx[0], idx[1:]
        else:
            extra = ()
        sel, scalar = select(self.indices, idx, f"tensor {self.key!r}")
        return TensorView(self.ds, self.key, sel, scalar, extra)

    def __setitem__(self, idx: Any, value: Any) -> None:
        self[idx]._assign(value)

    def _assign(self, value: Any) -> None:
        if self.extra:
            raise TypeError(f"tensor {self.key!r}: assign whole samples, not parts of one")
        if self.scalar:
            self.ds._write_many([(self.key, self.indices, value)])
            return
        values = list(value) if not isinstance(value, np.ndarray) else value
        if len(values) != len(self.indices):
            raise SampleError(self.key, f"{_describe(self.indices)}",
                              f"{len(values)} values given for {len(self.indices)} samples")
        self.ds._write_many([(self.key, i, v) for i, v in zip(self.indices, values)])

    @property
    def shape(self) -> tuple:
        t = self.ds.tensor_type(self.key)
        if self.scalar:
            return self.ds._engine(self.key).sample_shape(self.indices)
        return (len(self.indices),) + tuple(t.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.ds.tensor_type(self.key).dtype

    def __repr__(self) -> str:
        return f"TensorView({self.key!r}, {_describe(self.indices)})"


class DatasetView:
    """Some samples of a dataset, over all tensors (or those under ``prefix``)."""

    def __init__(self, ds: "Dataset", indices: Any, scalar: bool = False, prefix: str = ""):
        self.ds, self.indices, self.scalar, self.prefix = ds, indices, scalar, prefix

    def keys(self) -> list[str]:
        """Tensor keys of this view, relative to its prefix."""
        n = len(self.prefix)
        return [k[n:] for k in self.ds._schema if k.startswith(self.prefix)]

    def _resolve(self, key: str) -> tuple[str, bool]:
        """(full key, is a leaf tensor) of a key relative to this view."""
        full = self.prefix + key.strip("/")
        if full in self.ds._schema:
            return full, True
        if any(k.startswith(full + "/") for k in self.ds._schema):
            return full + "/", False
        raise TensorNotFoundError(f"no tensor {full!r}; tensors are {list(self.ds._schema)}")

    def __len__(self) -> int:
        if self.scalar:
            return len(self.keys())
        return len(self.indices)

    def __iter__(self) -> Iterator["DatasetView"]:
        if self.scalar:
            yield from self.keys()
            return
        for i in self.indices:
            yield DatasetView(self.ds, i, True, self.prefix)

    def __getitem__(self, item: Any) -> "TensorView | DatasetView":
        key, idx, extra = split_subscript(item)
        full, leaf = self._resolve(key) if key is not None else (self.prefix, False)
        if self.scalar:
            if idx is not None:
                raise TypeError("a single sample takes a tensor name, not a sample index")
            indices, scalar = self.indices, True
        elif idx is None:
            indices, scalar = self.indices, False
        else:
            indices, scalar = select(self.indices, idx, f"tensor {full!r}" if leaf else "dataset")
        if key is None:
            return DatasetView(self.ds, indices, scalar, self.prefix)
        if leaf:
            return TensorView(self.ds, full, indices, scalar, extra)
        return DatasetView(self.ds, indices, scalar, full)

    def __setitem__(self, item: Any, value: Any) -> None:
        self[item]._assign(value)

    def _assign(self, value: Any) -> None:
        """Assign a dict of tensor -> value (one sample) or tensor -> values (a range)."""
        if not isinstance(value, dict):
            raise TypeError("assign a dict of tensor names to values to a sample or a range of samples")
        flat = _flatten_values(value)
        writes = []
        for key, v in flat.items():
            full, leaf = self._resolve(key)
            if not leaf:
                raise TensorNotFoundError(f"{full!r} is a group of tensors, not a tensor")
            if self.scalar:
                writes.append((full, self.indices, v))
            else:
                if len(v) != len(self.indices):
                    raise SampleError(full, _describe(self.indices), f"{len(v)} values given for {len(self.indices)} samples")
                writes.extend((full, i, x) for i, x in zip(self.indices, v))
        self.ds._write_many(writes)

    def compute(self, label_name: bool = False) -> dict:
        out = {}
        for k in self.keys():
            key = self.prefix + k
            names = label_name and isinstance(self.ds.tensor_type(key), ClassLabel)  # others as they are
            out[k] = TensorView(self.ds, key, self.indices, self.scalar).compute(names)
        return nest(out)

    numpy = compute

    @property
    def shape(self) -> tuple:
        return () if self.scalar else (len(self.indices),)

    def filter(self, fn) -> "DatasetView":
        """The samples of this view for which ``fn(sample_view)`` is true."""
        if self.scalar:
            raise TypeError("filter a range of samples, not one sample")
        kept = [i for i in self.indices if fn(DatasetView(self.ds, i, True, self.prefix))]
        return DatasetView(self.ds, kept, False, self.prefix)

    def store(self, url: str, token: Any = None, **kwargs: Any) -> "Dataset":
        """Write these samples as a new dataset at ``url``."""
        return self.ds._store_samples(self.indices if not self.scalar else [self.indices], url, token, **kwargs)

    def __repr__(self) -> str:
        return f"DatasetView({self.ds.url!r}, {_describe(self.indices)})"


def _flatten_values(value: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in value.items():
        if isinstance(v, dict):
            out.update(_flatten_values(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _describe(indices: Any) -> str:
    if isinstance(indices, range):
        return f"{indices.start}:{indices.stop}" + (f":{indices.step}" if indices.step != 1 else "")
    if isinstance(indices, Sequence) and not isinstance(indices, str) and len(indices) > 6:
        return f"[{indices[0]}, {indices[1]}, ..., {indices[-1]}] ({len(indices)} samples)"
    return str(indices)
