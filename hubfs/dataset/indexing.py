"""Subscripts as Hub 1.x reads them, over the flat schema: pure functions, no I/O.

A subscript is a tuple of parts. Every string part is a tensor path component, wherever it stands
(``ds["label", 1, "a"]`` is ``ds["label/a", 1]``); the other parts are, in order, the sample index
(unless the view is one sample already) and then subscripts inside the sample (``ds["image", 0, 0:2]``).
Keys are resolved against the flat schema keys (``"a/b"``) relative to a view's prefix.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from hubfs.errors import IndexOutOfRangeError, TensorNotFoundError


class Subscript(NamedTuple):
    """A parsed subscript: tensor path (or None), sample index (or None), subscripts inside a sample."""

    path: str | None
    index: Any
    inner: tuple


def parse(item: Any, one_sample: bool = False) -> Subscript:
    """Split ``item`` into path, sample index and inner subscripts; ``one_sample`` views take no index."""
    parts = item if isinstance(item, tuple) else (item,)
    names = [p.strip("/") for p in parts if isinstance(p, str)]
    rest = [p for p in parts if not isinstance(p, str)]
    for p in rest:
        _check_part(p)
    path = "/".join(n for n in names if n) if names else None
    if one_sample or not rest:
        return Subscript(path, None, tuple(rest))
    return Subscript(path, rest[0], tuple(rest[1:]))


def _check_part(part: Any) -> None:
    if part is Ellipsis or part is None or isinstance(part, (slice, list, np.ndarray, range)):
        return
    if isinstance(part, (int, np.integer)):
        return
    raise TypeError(f"type {type(part).__name__} isn't supported in dataset slicing: {part!r}")


def resolve(keys: Iterable[str], prefix: str, path: str | None) -> tuple[str, bool]:
    """(full key, is a leaf tensor) of ``path`` below ``prefix``; a group's full key ends with '/'."""
    full = prefix + (path or "")
    if not full:
        return "", False
    keys = list(keys)
    if full.rstrip("/") in keys:
        return full.rstrip("/"), True
    group = full.rstrip("/") + "/"
    if any(k.startswith(group) for k in keys):
        return group, False
    raise TensorNotFoundError(f"no tensor {full.rstrip('/')!r}; tensors are {keys}")


def keys_below(keys: Iterable[str], prefix: str) -> list[str]:
    """Keys under ``prefix``, relative to it."""
    return [k[len(prefix):] for k in keys if k.startswith(prefix)]


def select(indices: Sequence[int], idx: Any, what: str) -> tuple[Any, bool]:
    """Apply a sample subscript to absolute ``indices``: (new indices, is one sample)."""
    n = len(indices)
    if isinstance(idx, (int, np.integer)) and not isinstance(idx, (bool, np.bool_)):
        i = int(idx)
        if i < -n or i >= n:
            raise IndexOutOfRangeError(f"{what}, index {i}: out of range for {n} samples")
        return indices[i], True
    if isinstance(idx, slice):
        return indices[idx], False
    if isinstance(idx, (list, np.ndarray, range)):
        arr = np.asarray(idx)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise IndexOutOfRangeError(f"{what}: a boolean mask of shape {arr.shape} for {n} samples")
            return [indices[int(j)] for j in np.flatnonzero(arr)], False
        if arr.size and arr.dtype.kind not in "iu":
            raise TypeError(f"{what}: sample indices must be integers, not {arr.dtype}")
        out = []
        for j in arr.astype(np.int64).reshape(-1).tolist():
            if j < -n or j >= n:
                raise IndexOutOfRangeError(f"{what}, index {j}: out of range for {n} samples")
            out.append(indices[j])
        return out, False
    if idx is Ellipsis:
        return indices, False
    raise TypeError(f"{what}: cannot index samples with {type(idx).__name__}")


def inner_key(inner: tuple) -> Any:
    """The numpy subscript of ``inner`` parts (one part alone, else a tuple)."""
    return inner[0] if len(inner) == 1 else tuple(inner)


def flatten_values(value: Mapping, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": v}} -> {"a/b": v}: a sample (or samples) given nested like the schema."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        if isinstance(v, Mapping):
            out.update(flatten_values(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{str(k).strip('/')}"] = v
    return out


def per_sample(value: Any, n: int, sample_ndim: int | None, what: str) -> Iterator[Any]:
    """Split ``value`` given for ``n`` samples into one value per sample, broadcasting Hub's way.

    A scalar (or a str) goes to every sample; so does an array with no more dimensions than one sample
    has (``sample_ndim``, None when samples are text or have no fixed rank); otherwise the first axis (or
    the list) must have ``n`` entries. ValueError (with ``what``) when the counts differ.
    """
    if isinstance(value, (str, bytes, dict)):
        return (value for _ in range(n))
    if isinstance(value, np.ndarray):
        if value.ndim == 0 or sample_ndim is not None and value.ndim <= sample_ndim:
            return (value for _ in range(n))
        if len(value) != n:
            raise ValueError(f"{what}: {len(value)} values given for {n} samples")
        return iter(value)
    if not isinstance(value, Iterable):
        return (value for _ in range(n))  # a scalar: every sample gets it
    values = list(value)
    if len(values) == n:
        return iter(values)
    if sample_ndim:
        try:
            arr = np.asarray(values)
        except ValueError:
            arr = None
        if arr is not None and arr.dtype != object and arr.ndim <= sample_ndim:
            return (arr for _ in range(n))
    raise ValueError(f"{what}: {len(values)} values given for {n} samples")


def describe(indices: Any) -> str:
    """Short text of sample indices for messages: ``3:9``, ``[1, 2]``, ``[0, 1, ..., 99] (100 samples)``."""
    if isinstance(indices, range):
        return f"{indices.start}:{indices.stop}" + (f":{indices.step}" if indices.step != 1 else "")
    if isinstance(indices, Sequence) and not isinstance(indices, str) and len(indices) > 6:
        return f"[{indices[0]}, {indices[1]}, ..., {indices[-1]}] ({len(indices)} samples)"
    return str(indices)


class Keys(list):
    """Flat tensor keys; also callable, so both Hub's ``ds.keys`` (a property) and ``ds.keys()`` work."""

    def __call__(self) -> "Keys":
        return self


def consecutive_runs(indices: list[int]) -> list[range]:
    """``indices`` cut, in their order, into ranges of consecutive increasing indices."""
    out: list[range] = []
    start = prev = None
    for i in indices:
        if start is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            out.append(range(start, prev + 1))
        start = prev = i
    if start is not None:
        out.append(range(start, prev + 1))
    return out
