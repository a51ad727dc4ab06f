"""Where transform tasks run: ``single`` (here), ``threaded``, ``processed`` (spawned processes) and
``dask`` (dask.distributed: the current Client when there is one, else a LocalCluster of processes).
Each scheduler is ``run(tasks, workers, done)``: runs ``task.run`` on every task, calls ``done(task)`` as
each finishes, and returns the tasks' results in task order.

``processed`` keeps its pool of worker processes between transforms, as Hub 1.x's pathos pools did: a
spawned worker costs about a second of imports, paid once per process and worker count, not per
``store``. A pool whose worker died is discarded; ``close_pools()`` (also run at exit) stops them all.
"""
from __future__ import annotations

import atexit
import multiprocessing
import threading
from concurrent.futures import FIRST_EXCEPTION, Executor, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from hubfs.errors import ModuleNotInstalledError, WorkerError
from hubfs.compute import task as task_mod
from hubfs.compute.task import Task

Done = Callable[[Task], None]
SCHEDULERS = ("single", "threaded", "processed", "dask", "ray")


def run_single(tasks: list[Task], workers: int, done: Done) -> list[int]:
    results = []
    for t in tasks:
        results.append(task_mod.run(t))
        done(t)
    return results


def _run_pool(pool: Executor, tasks: list[Task], done: Done, func: Callable = task_mod.run,
              pack: Callable = lambda t: t) -> list[int]:
    """Run ``func(pack(task))`` for every task on ``pool``; the first failure cancels the rest. Returns
    (or raises) only when no task of this run is still running: the caller then deletes their parts."""
    futures = {pool.submit(func, pack(t)): t for t in tasks}
    pending = set(futures)
    try:
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for f in finished:
                f.result()  # the first failure stops the run
                done(futures[f])
    except BaseException:
        for f in pending:
            f.cancel()
        wait(pending)  # tasks already running finish writing their parts before those are deleted
        raise
    return [f.result() for f in futures]


def run_threaded(tasks: list[Task], workers: int, done: Done) -> list[int]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return _run_pool(pool, tasks, done)


def run_pickled(blob: bytes) -> int:
    """``task.run`` of a task sent as cloudpickle bytes (see ``run_processed``)."""
    import pickle

    return task_mod.run(pickle.loads(blob))


_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """This process's pool of ``workers`` spawned worker processes, started on first use."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            # spawn, not fork: this process has threads (fsspec's event loop, the cache) that fork would not copy
            pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers,
                                                         mp_context=multiprocessing.get_context("spawn"))
        return pool


def _discard_pool(workers: int, pool: ProcessPoolExecutor) -> None:
    with _POOLS_LOCK:
        if _POOLS.get(workers) is pool:
            del _POOLS[workers]
    pool.shutdown(wait=True, cancel_futures=True)


def close_pools() -> None:
    """Stop every worker process the ``processed`` scheduler keeps (they are started again when needed)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.items())
        _POOLS.clear()
    for _, pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(close_pools)


def run_processed(tasks: list[Task], workers: int, done: Done) -> list[int]:
    pool = _process_pool(workers)
    try:
        import cloudpickle  # comes with dask
    except ImportError:
        func, pack = task_mod.run, (lambda t: t)
    else:  # functions pickle cannot find by name (a notebook's, exec's, locals) travel by value, as to dask
        func, pack = run_pickled, cloudpickle.dumps
    try:
        return _run_pool(pool, tasks, done, func, pack)
    except BrokenProcessPool as exc:
        _discard_pool(workers, pool)
        raise WorkerError(f"a transform worker process died before finishing its samples: {exc}") from exc


def run_dask(tasks: list[Task], workers: int, done: Done) -> list[int]:
    try:
        from distributed import Client, LocalCluster, as_completed, default_client
    except ImportError as exc:
        raise ModuleNotInstalledError("the 'dask' scheduler needs dask.distributed: pip install 'hubfs[dask]'") from exc
    try:
        client, own = default_client(), None
    except ValueError:  # no current Client: start a cluster of `workers` processes for this transform
        own = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(own)
    try:
        futures = client.map(task_mod.run, tasks, pure=False)
        by_key = {f.key: t for f, t in zip(futures, tasks)}
        try:
            for f in as_completed(futures):
                f.result()
                done(by_key[f.key])
        except BaseException:
            client.cancel(futures)
            raise
        return client.gather(futures)
    finally:
        if own is not None:
            client.close()
            own.close()


RUNNERS = {"single": run_single, "threaded": run_threaded, "processed": run_processed,
           "dask": run_dask, "ray": run_dask}
