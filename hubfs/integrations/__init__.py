"""Data in and out: PyTorch and TensorFlow feeds, and sources (TFDS, tf.data, torch datasets, folders).

Every heavy library is imported inside the function that needs it, never at import time. Hub's methods
(``ds.to_pytorch()``, ``Dataset.from_tfds(...)``, ...) are attached to ``Dataset`` and ``DatasetView`` by
``hubfs/__init__.py``, so the engine in ``hubfs/dataset`` never imports this package.
"""
from __future__ import annotations

import importlib
from typing import Any

from hubfs.errors import ModuleNotInstalledError


def need(module: str, extra: str) -> Any:
    """Import ``module`` or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModuleNotInstalledError(f"{module} is not installed: pip install 'hubfs[{extra}]'") from exc


def dataset_and_indexes(ds: Any, indexes: Any) -> tuple[Any, list[int]]:
    """(the Dataset, the sample indices) of a Dataset or a view, narrowed by ``indexes`` (Hub's argument)."""
    base = ds.dataset if hasattr(ds, "dataset") else ds
    own = ds.indexes
    own = [own] if isinstance(own, int) else list(own)
    if indexes is None:
        return base, own
    picked = [indexes] if isinstance(indexes, int) else list(indexes)
    return base, [own[i] for i in picked]


def select_keys(ds: Any, keys: list[str] | None) -> list[str]:
    """Flat tensor keys to feed: ``keys`` (Hub wrote them as ``/a/b``) or all, each checked."""
    from hubfs.errors import TensorNotFoundError

    known = list(ds.keys())
    if keys is None:
        return known
    out = [k.strip("/") for k in keys]
    for k in out:
        if k not in known:
            raise TensorNotFoundError(f"no tensor {k!r} in {ds.url}; tensors: {', '.join(known)}")
    return out


def read_columns(ds: Any, keys: list[str], indices: list[int]) -> dict[str, list]:
    """Each tensor's values of samples ``indices`` as a list (the engine reads consecutive runs as ranges)."""
    return {key: list(ds.read_many(key, indices)) for key in keys}


def attach(dataset_cls: type, view_cls: type) -> None:
    """Give ``Dataset`` and ``DatasetView`` Hub's integration methods (torch, tensorflow load when called)."""
    from hubfs.integrations import pytorch, sources, tensorflow

    for cls in (dataset_cls, view_cls):
        cls.to_pytorch = pytorch.to_pytorch
        cls.to_tensorflow = tensorflow.to_tensorflow
    for name in ("from_pytorch", "from_tensorflow", "from_tfds", "from_path"):
        setattr(dataset_cls, name, staticmethod(getattr(sources, name)))
