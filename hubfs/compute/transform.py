"""``hubfs.transform``: Hub 1.x's decorator and the lazy ``Transform`` it makes.

``@transform(schema, scheduler="single", workers=1)`` turns a function of one sample (plus keyword
arguments) returning a dict, or a list of dicts (one-to-many), into a ``TransformFunction``; calling that
on a dataset, a view, a list or another transform (chaining) gives a ``Transform``. Nothing is computed
until ``store(url)`` or indexing.

How ``store`` writes, correct whatever the scheduler: the source is cut into ranges of
``sample_per_shard`` samples; each range is one task, run anywhere, that writes the samples it makes to a
part dataset of its own beside the destination (``<url>.hubfs-tmp-<id>/<n>``), so no two workers ever write
the same object. When every task has finished, the destination is created and the parts are appended to
it in source order, their stored bytes copied as they are, and one ``flush`` commits it (length and schema
last). A task that raises or a worker that dies stops the run before the destination is touched, and the
parts are deleted; a coordinator killed mid-commit leaves a dataset whose committed length is 0 or the
old one, never a partial one that opens as complete.
"""
from __future__ import annotations

import copy
import math
import uuid
from typing import Any, Callable, Iterable

from hubfs.dataset import namespace
from hubfs.dataset.dataset import Dataset
from hubfs.dataset.stores import open_store
from hubfs.errors import SchemaError
from hubfs.compute import schedulers
from hubfs.compute.task import Chain, Task, apply_chain, lookup, source_sample

DEFAULT_SAMPLES_PER_TASK = 256


class TransformFunction:
    """A function decorated by ``@hubfs.transform``; ``f(source, **kwargs)`` returns a ``Transform``."""

    def __init__(self, func: Callable, schema: dict, scheduler: str, workers: int):
        if scheduler not in schedulers.SCHEDULERS:
            raise ValueError(f"scheduler must be one of {', '.join(schedulers.SCHEDULERS)}, not {scheduler!r}")
        if int(workers) < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.func, self.schema, self.scheduler, self.workers = func, schema, scheduler, int(workers)
        self.__name__ = getattr(func, "__name__", "transform")
        self.__qualname__ = getattr(func, "__qualname__", self.__name__)
        self.__module__ = getattr(func, "__module__", None)
        self.__doc__ = getattr(func, "__doc__", None)

    def __call__(self, source: Any, **kwargs: Any) -> "Transform":
        return Transform(self, source, kwargs)

    def apply(self, sample: Any, **kwargs: Any) -> Any:
        return self.func(sample, **kwargs)

    def __reduce__(self) -> tuple:
        # By name when the decorated function is reachable as a module attribute (the usual case: the
        # name now holds this object, so pickle could not find the bare function); else by value.
        if self.__module__ and "<locals>" not in self.__qualname__:
            try:
                if lookup(self.__module__, self.__qualname__) is self:
                    return (lookup, (self.__module__, self.__qualname__))
            except (ImportError, AttributeError):
                pass
        return (TransformFunction, (self.func, self.schema, self.scheduler, self.workers))


def transform(schema: dict, scheduler: str = "single", workers: int = 1) -> Callable[[Callable], TransformFunction]:
    """Hub's decorator: ``@transform(schema={...}, scheduler="processed", workers=2)``."""
    def wrap(func: Callable) -> TransformFunction:
        return TransformFunction(func, schema, scheduler, workers)
    return wrap


class Transform:
    """A lazy transform of ``source`` (a dataset, view, list, iterable or another Transform)."""

    def __init__(self, fn: TransformFunction, source: Any, kwargs: dict):
        if isinstance(source, str) or not isinstance(source, Iterable) and not hasattr(source, "__getitem__"):
            raise TypeError(f"a transform takes a dataset, a view, a list or another transform, not {type(source).__name__}")
        self.schema = fn.schema
        self.scheduler, self.workers = fn.scheduler, fn.workers
        if isinstance(source, Transform):  # chaining: one pass applies every function in turn
            self.base, self.chain = source.base, source.chain + [(fn.apply, kwargs)]
        else:
            if not hasattr(source, "__len__") or not hasattr(source, "__getitem__"):
                source = list(source)
            self.base, self.chain = source, [(fn.apply, kwargs)]

    def __len__(self) -> int:
        return len(self.base)

    @property
    def shape(self) -> tuple:
        return (len(self),)

    def _tasks(self, part_root: str, token: Any, per_task: int) -> list[Task]:
        tasks = []
        is_dataset = hasattr(self.base, "keys") and hasattr(self.base, "flush")
        if is_dataset:
            self.base.flush()  # workers reopen it read-only and must see what was written here
        for n, start in enumerate(range(0, len(self.base), per_task)):
            stop = min(start + per_task, len(self.base))
            t = Task(self.chain, self.schema, start, stop, f"{part_root}/{n:06d}", token)
            if is_dataset:
                t.source = self.base
            else:
                t.items = [self.base[i] for i in range(start, stop)]
            tasks.append(t)
        return tasks

    def store(self, url: str, token: Any = None, length: int | None = None, ds: Any = None,
              progressbar: bool = True, sample_per_shard: int | None = None, public: bool = True,
              scheduler: str | None = None, workers: int | None = None) -> Dataset:
        """Compute every sample and write them as a new dataset at ``url`` (see the module docstring)."""
        from tqdm import tqdm

        if ds is not None:  # Hub's store(ds=...): these functions over another source
            other = copy.copy(self)
            other.base = ds if hasattr(ds, "__len__") and hasattr(ds, "__getitem__") else list(ds)
            return other.store(url, token, progressbar=progressbar, sample_per_shard=sample_per_shard,
                               scheduler=scheduler, workers=workers)
        scheduler = scheduler or self.scheduler
        workers = workers or self.workers
        run = schedulers.RUNNERS.get(scheduler)
        if run is None:
            raise ValueError(f"scheduler must be one of {', '.join(schedulers.SCHEDULERS)}, not {scheduler!r}")
        n = len(self.base)
        per_task = int(sample_per_shard) if sample_per_shard else max(1, min(DEFAULT_SAMPLES_PER_TASK, math.ceil(n / (4 * workers)) or 1))
        target, token = namespace.resolve(url, token)
        part_root = f"{target.rstrip('/')}.hubfs-tmp-{uuid.uuid4().hex[:12]}"
        tasks = self._tasks(part_root, token, per_task)
        try:
            with tqdm(total=n, desc=f"transform ({scheduler})", unit="sample", disable=not progressbar or n < 2) as bar:
                run(tasks, workers, lambda t: bar.update(t.stop - t.start))
            out = Dataset(target, mode="w", shape=(0,), schema=self.schema, token=token)
            try:
                for t in tasks:
                    with Dataset(t.part_url, mode="r", token=token) as part:
                        out.extend_from(part)
                out.flush()
            except BaseException:
                out.close()
                raise
            return out
        finally:
            store = open_store(part_root, token)
            try:
                store.delete_prefix("")
            finally:
                store.close()

    def __getitem__(self, item: Any) -> Any:
        """Compute only the source samples ``item`` selects (into memory) and index the result."""
        sub = item[0] if isinstance(item, tuple) else item
        rest = item[1:] if isinstance(item, tuple) else ()
        if isinstance(sub, str):
            return self[:][item]
        indices = range(len(self))[sub]
        scalar = not isinstance(indices, range)
        picked = [indices] if scalar else list(indices)
        samples = [s for i in picked for s in apply_chain(self.chain, source_sample(self.base, i), i)]
        out = Dataset(f"memory://hubfs-transform-{uuid.uuid4().hex}", mode="w", shape=(0,), schema=self.schema)
        out.extend(samples)
        if not rest:
            return out[0] if scalar else out[:]
        return out[(0,) + rest] if scalar else out[(slice(None),) + rest]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]
