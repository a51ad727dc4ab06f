"""Views: what indexing a dataset returns, and what ``compute()`` gives back (Hub 1.x's rules).

``ds["image", 5]`` -> TensorView of one sample; ``ds["label", 100:110]`` -> TensorView of a range;
``ds[5]`` / ``ds[3:15]`` -> DatasetView; views index further (``ds[3:15][4:9]["image", 1]``), take
subscripts inside a sample (``ds["image", 0, 0:2]``) and assign. ``compute()``: a fixed-shape range ->
one ndarray; a dynamic or text range -> a list; one sample -> its value (Text -> str); a one-sample
DatasetView -> a dict nested like the schema; a DatasetView of many samples -> an array of such dicts.

Views reach the dataset only through the engine interface in ``Source`` (every call takes the
dataset's lock); subscript parsing and key resolution live in ``indexing``.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol

import numpy as np

from hubfs.dataset import indexing
from hubfs.dataset.schema import ClassLabel, Tensor, label_names, nest
from hubfs.errors import SampleError, TensorNotFoundError

Write = tuple  # (key, sample index, inner subscript steps, value)


class Source(Protocol):
    """The engine interface views use (``hubfs.Dataset`` implements it); every call is locked."""

    url: str
    lazy: bool

    def __len__(self) -> int: ...
    def keys(self) -> list[str]: ...
    def tensor_type(self, key: str) -> Tensor: ...
    def has_tensor(self, key: str) -> bool: ...
    def read(self, key: str, i: int) -> Any: ...
    def read_many(self, key: str, indices: Any) -> Any: ...
    def sample_shape(self, key: str, i: int) -> tuple: ...
    def write_samples(self, writes: list[Write]) -> None: ...
    def store_samples(self, indices: list[int], url: str, token: Any = None, **kwargs: Any) -> Any: ...
    def flush(self) -> None: ...
    def resize_shape(self, size: int) -> None: ...


def _step(sub: indexing.Subscript) -> tuple:
    """The subscripts inside a sample of one subscript, as one numpy step (``[1:3, 2]`` is one step)."""
    return (indexing.inner_key(sub.inner),) if sub.inner else ()


class _Lazy:
    """Hub's ``lazy`` switch: with it off, indexing returns computed values instead of views."""

    __slots__ = ()
    lazy: bool

    def disable_lazy(self) -> None:
        self.lazy = False

    def enable_lazy(self) -> None:
        self.lazy = True

    def _maybe_compute(self, view: Any) -> Any:
        return view if self.lazy else view.compute()


class TensorView(_Lazy):
    """One tensor over one sample (``scalar``) or a list of samples, with subscripts inside a sample."""

    __slots__ = ("ds", "key", "_indices", "scalar", "inner", "lazy")

    def __init__(self, ds: Source, key: str, indices: Any, scalar: bool, inner: tuple = (), lazy: bool = True):
        self.ds, self.key, self._indices, self.scalar, self.inner, self.lazy = ds, key, indices, scalar, inner, lazy

    @property
    def indexes(self) -> int | list[int]:
        """The dataset's sample index (one sample) or indices (several), as Hub's views had them."""
        return self._indices if self.scalar else list(self._indices)

    def _apply_inner(self, value: Any, i: int) -> Any:
        for step in self.inner:
            try:
                value = value[step]
            except IndexError as exc:
                raise IndexError(f"tensor {self.key!r}, index {i}: {step!r} is out of range for a sample of "
                                 f"shape {np.shape(value)} ({exc})") from None
        return value

    def compute(self, label_name: bool = False) -> Any:
        ds, key = self.ds, self.key
        if self.scalar and not self.inner and not label_name:  # one whole sample: a scan's every call
            return ds.read(key, self._indices)
        t = ds.tensor_type(key)
        names = label_name and isinstance(t, ClassLabel)  # Hub ignores label_name on other tensors
        if self.scalar:
            value = self._apply_inner(ds.read(key, self._indices), self._indices)
            return label_names(t, value) if names else value
        values = ds.read_many(key, self._indices)
        if self.inner:
            if isinstance(values, np.ndarray):
                values = np.stack([self._apply_inner(v, i) for v, i in zip(values, self._indices)]) \
                    if len(values) else values
            else:
                values = [self._apply_inner(v, i) for v, i in zip(values, self._indices)]
        if names:
            return [label_names(t, v) for v in values]
        return values

    numpy = compute

    def __array__(self, dtype=None, copy=None):
        value = np.asarray(self.compute())
        return value.astype(dtype) if dtype is not None else value

    def __len__(self) -> int:
        if self.scalar:
            raise TypeError(f"tensor {self.key!r}: one sample has no len(); use .shape")
        return len(self._indices)

    def __iter__(self) -> Iterator["TensorView"]:
        """Samples of a range; a one-sample view yields itself once, as Hub's did."""
        if self.scalar:
            yield self
            return
        for i in self._indices:
            yield TensorView(self.ds, self.key, i, True, self.inner, self.lazy)

    def _sub(self, item: Any) -> "TensorView":
        sub = indexing.parse(item, one_sample=self.scalar)
        if sub.path:
            raise TensorNotFoundError(f"tensor {self.key!r} has no part {sub.path!r}: it is not a group of tensors")
        if self.scalar:
            return TensorView(self.ds, self.key, self._indices, True, self.inner + _step(sub), self.lazy)
        indices, scalar = (self._indices, False) if sub.index is None else \
            indexing.select(self._indices, sub.index, f"tensor {self.key!r}")
        return TensorView(self.ds, self.key, indices, scalar, self.inner + _step(sub), self.lazy)

    def __getitem__(self, item: Any) -> Any:
        return self._maybe_compute(self._sub(item))

    def __setitem__(self, item: Any, value: Any) -> None:
        self.ds.write_samples(self._sub(item).writes(value))

    def writes(self, value: Any) -> list[Write]:
        """The engine writes that assign ``value`` to this view (one value, or one per sample)."""
        if self.scalar:
            return [(self.key, self._indices, self.inner, value)]
        t = self.ds.tensor_type(self.key)
        ndim = None if self.inner or t.is_text else t.ndim
        what = f"tensor {self.key!r}, index {indexing.describe(self._indices)}"
        try:
            values = list(indexing.per_sample(value, len(self._indices), ndim, what))
        except ValueError as exc:
            raise SampleError(self.key, indexing.describe(self._indices), str(exc).split(": ", 2)[-1]) from None
        return [(self.key, i, self.inner, v) for i, v in zip(self._indices, values)]

    @property
    def shape(self) -> tuple:
        if self.inner:
            return np.shape(self.compute())
        if self.scalar:
            return self.ds.sample_shape(self.key, self._indices)
        return (len(self._indices),) + tuple(self.ds.tensor_type(self.key).shape)

    @property
    def dtype(self) -> Tensor:
        """The tensor's schema type (``ClassLabel(...)``, ``Image(...)``), as in Hub; its NumPy dtype is
        ``.dtype.dtype``."""
        return self.ds.tensor_type(self.key)

    def __repr__(self) -> str:
        inner = "".join(f"[{s!r}]" for s in self.inner)
        return f"TensorView({self.key!r}, {indexing.describe(self._indices)}{inner})"


class DatasetView(_Lazy):
    """Some samples of a dataset (one when ``scalar``), over all tensors or those under ``prefix``."""

    __slots__ = ("ds", "_indices", "scalar", "prefix", "lazy")

    def __init__(self, ds: Source, indices: Any, scalar: bool = False, prefix: str = "", lazy: bool = True):
        self.ds, self._indices, self.scalar, self.prefix, self.lazy = ds, indices, scalar, prefix, lazy

    @property
    def indexes(self) -> int | list[int]:
        return self._indices if self.scalar else list(self._indices)

    @property
    def dataset(self) -> Source:
        return self.ds

    @property
    def schema(self) -> dict:
        return nest({k: self.ds.tensor_type(self.prefix + k) for k in self.keys()})

    @property
    def keys(self) -> indexing.Keys:
        """Tensor keys of this view, relative to its prefix (``view.keys`` and ``view.keys()`` both work)."""
        return indexing.Keys(indexing.keys_below(self.ds.keys(), self.prefix))

    def __len__(self) -> int:
        return 1 if self.scalar else len(self._indices)

    def __iter__(self) -> Iterator["DatasetView"]:
        """Samples of a range; a one-sample view yields itself once, as Hub's did."""
        if self.scalar:
            yield self
            return
        for i in self._indices:
            yield DatasetView(self.ds, i, True, self.prefix, self.lazy)

    def _sub(self, item: Any) -> "TensorView | DatasetView":
        if type(item) is str:  # a tensor's name (sample["image"]: a scan's every call), without parsing
            full = self.prefix + (item.strip("/") if "/" in item else item)
            if self.ds.has_tensor(full):  # else a group, or nothing: the general path says which
                return TensorView(self.ds, full, self._indices, self.scalar, (), self.lazy)
        sub = indexing.parse(item, one_sample=self.scalar)
        if sub.index is None:
            indices, scalar = self._indices, self.scalar
        else:
            indices, scalar = indexing.select(self._indices, sub.index, f"tensor {sub.path!r}" if sub.path else "dataset")
        if sub.path is None:
            if sub.inner:
                raise ValueError("can't slice a dataset with several subscripts without a tensor name")
            return DatasetView(self.ds, indices, scalar, self.prefix, self.lazy)
        full, leaf = indexing.resolve(self.ds.keys(), self.prefix, sub.path)
        if leaf:
            return TensorView(self.ds, full, indices, scalar, _step(sub), self.lazy)
        if sub.inner:
            raise ValueError(f"{full!r} is a group of tensors: it takes no subscripts inside a sample")
        return DatasetView(self.ds, indices, scalar, full, self.lazy)

    def __getitem__(self, item: Any) -> Any:
        view = self._sub(item)
        if self.lazy or (type(view) is DatasetView and view.prefix == self.prefix):
            return view
        return view.compute()

    def __setitem__(self, item: Any, value: Any) -> None:
        self.ds.write_samples(self._sub(item).writes(value))

    def writes(self, value: Any) -> list[Write]:
        """The engine writes of a dict of tensor -> value (one sample) or tensor -> values (a range)."""
        if not isinstance(value, dict):
            raise TypeError("assign a dict of tensor names to values to a sample or a range of samples")
        out: list[Write] = []
        for key, v in indexing.flatten_values(value).items():
            full, leaf = indexing.resolve(self.ds.keys(), self.prefix, key)
            if not leaf:
                raise TensorNotFoundError(f"{full!r} is a group of tensors, not a tensor")
            out.extend(TensorView(self.ds, full, self._indices, self.scalar).writes(v))
        return out

    def compute(self, label_name: bool = False) -> dict | np.ndarray:
        """One sample: a dict nested like the schema. Several: an array of those dicts (Hub's form)."""
        columns = {k: TensorView(self.ds, self.prefix + k, self._indices, self.scalar).compute(label_name)
                   for k in self.keys()}
        if self.scalar:
            return nest(columns)
        out = np.empty(len(self._indices), dtype=object)
        for j in range(len(out)):
            out[j] = nest({k: v[j] for k, v in columns.items()})
        return out

    numpy = compute

    @property
    def shape(self) -> tuple:
        return () if self.scalar else (len(self._indices),)

    def filter(self, fn: Callable[["DatasetView"], bool]) -> "DatasetView":
        """The samples of this view for which ``fn(sample_view)`` is true."""
        indices = [self._indices] if self.scalar else self._indices
        kept = [i for i in indices if fn(DatasetView(self.ds, i, True, self.prefix, self.lazy))]
        return DatasetView(self.ds, kept, False, self.prefix, self.lazy)

    def store(self, url: str, token: Any = None, **kwargs: Any) -> Any:
        """Write these samples as a new dataset at ``url`` and return it."""
        return self.ds.store_samples([self._indices] if self.scalar else list(self._indices), url, token, **kwargs)

    def flush(self) -> None:
        self.ds.flush()

    commit = flush

    def resize_shape(self, size: int) -> None:
        """Resizes the dataset, not the view (as in Hub)."""
        self.ds.resize_shape(size)

    def __repr__(self) -> str:
        return f"DatasetView({self.ds.url!r}, {indexing.describe(self._indices)})"
