"""One unit of transform work, run wherever a scheduler puts it (this process, a thread, a process, a
dask worker): compute the samples of a range of source samples and write them to a part dataset of
their own. Parts are private to the transform until its single commit (see ``transform.Transform.store``)."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from hubfs.dataset.dataset import Dataset
from hubfs.errors import SampleError, TransformError

Chain = list[tuple[Callable, dict]]


@dataclass
class Task:
    """Source samples ``start..stop`` (``items`` are those samples when the source is a list, else
    ``source`` is a dataset or view, pickled as such), written to a part dataset at ``part_url``."""
    chain: Chain
    schema: dict
    start: int
    stop: int
    part_url: str
    token: Any = None
    source: Any = None
    items: list | None = None


def lookup(module: str, qualname: str) -> Any:
    """The object named ``qualname`` in ``module`` (how transform functions travel between processes)."""
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def source_sample(source: Any, i: int) -> Any:
    """Sample ``i`` of a dataset or view as Hub gave it to a transform function (a dict), or of a sequence."""
    item = source[i]
    return item.compute() if hasattr(item, "compute") else item


def apply_chain(chain: Chain, item: Any, index: int) -> list[dict]:
    """The samples that the chained functions make of one source sample (a function may return a dict or
    a list of dicts); an exception in a function becomes a TransformError naming ``index``."""
    samples = [item]
    for func, kwargs in chain:
        out: list = []
        for sample in samples:
            try:
                result = func(sample, **kwargs)
            except Exception as exc:
                raise TransformError(index, f"{getattr(func, '__name__', func)} raised {type(exc).__name__}: {exc}") from exc
            out.extend(result if isinstance(result, (list, tuple)) else [result])
        samples = out
    for sample in samples:
        if not isinstance(sample, dict):
            raise TransformError(index, f"the function returned {type(sample).__name__}, not a dict of tensor values")
    return samples


def run(task: Task) -> int:
    """Compute the task's samples into its part dataset; returns how many samples it holds."""
    part = Dataset(task.part_url, mode="w", shape=(0,), schema=task.schema, token=task.token)
    try:
        for j in range(task.stop - task.start):
            index = task.start + j
            item = task.items[j] if task.items is not None else source_sample(task.source, index)
            samples = apply_chain(task.chain, item, index)
            first = len(part)
            try:
                part.extend(samples)
            except SampleError as exc:
                raise type(exc)(exc.tensor, f"{exc.index - first} of the output of source sample {index}", exc.reason) from exc
        part.flush()
        return len(part)
    finally:
        part.close()
