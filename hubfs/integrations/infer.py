"""Schema types inferred from sample values (Hub's importers sampled the data for shapes and max shapes)."""
from __future__ import annotations

from typing import Any

import numpy as np

from hubfs.dataset.schema import Tensor, Text
from hubfs.errors import SchemaError


def shape_of(shapes: list[tuple]) -> tuple[tuple, tuple | None]:
    """(shape, max_shape) covering ``shapes``: the shape when all are equal, else dynamic dims and the max."""
    ranks = {len(s) for s in shapes}
    if len(ranks) != 1:
        raise SchemaError(f"samples have different numbers of dimensions: {sorted(ranks)}")
    if len(set(shapes)) == 1:
        return shapes[0], None
    top = tuple(int(max(d)) for d in zip(*shapes))
    return tuple(None if len({s[k] for s in shapes}) > 1 else top[k] for k in range(len(top))), top


def tensor_for(key: str, values: list) -> Tensor:
    """A Text or Tensor type that holds every one of ``values`` (one tensor's values over the samples)."""
    if not values:
        raise SchemaError(f"tensor {key!r}: no samples to infer its type from")
    if all(isinstance(v, str) for v in values):
        return Text(shape=(None,), max_shape=(max(1, max(len(v) for v in values)),))
    arrays = [np.asarray(v) for v in values]
    if any(a.dtype.kind in "OSU" for a in arrays):
        raise SchemaError(f"tensor {key!r}: values of type {type(values[0]).__name__} are neither numbers nor text")
    dtype = np.result_type(*{a.dtype for a in arrays})
    shape, max_shape = shape_of([a.shape for a in arrays])
    return Tensor(shape=shape, dtype=dtype, max_shape=max_shape)


def flat_items(sample: dict, prefix: str = "") -> dict[str, Any]:
    """{"a/b": value} of a nested sample dict; a "/" inside a key becomes "_" (as Hub's importers did)."""
    out: dict[str, Any] = {}
    for k, v in sample.items():
        key = prefix + str(k).replace("/", "_")
        if isinstance(v, dict):
            out.update(flat_items(v, key + "/"))
        else:
            out[key] = v
    return out


def schema_for(samples: list[dict], known: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
    """Flat schema of flat sample dicts (keys ``a/b``, as ``flat_items`` makes them); ``known`` types win
    over inferred ones. A key missing from some sample is a SchemaError naming it."""
    known = known or {}
    keys = list(samples[0]) if samples else []
    for i, s in enumerate(samples):
        if s.keys() != set(keys):
            raise SchemaError(f"source sample {i} has tensors {sorted(s)}, sample 0 has {sorted(keys)}")
    return {k: known[k] if k in known else tensor_for(k, [s[k] for s in samples]) for k in keys}
