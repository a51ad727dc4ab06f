"""Child process of test_crash.py: appends samples and flushes, forever, reporting on stdout.

``python crash_writer.py PATH BATCH CACHE [TOKEN_JSON]`` opens (or creates) the dataset at PATH, then repeats: extend by
BATCH samples, print "flushing", flush, print "flushed <length>". The parent kills it with SIGKILL at a
random moment and checks that every sample of the reported lengths is intact. ``sample(i)`` is the value
of sample ``i``, shared with the parent.
"""
from __future__ import annotations

import json
import sys

import numpy as np

import hubfs
from hubfs.errors import DatasetNotFoundError
from hubfs.schema import ClassLabel, Image, Tensor, Text


def schema() -> dict:
    # small shards and chunks: a flush writes many objects, and new samples share shards with flushed ones
    return {"image": Image((16, 16, 3), chunks=8), "label": ClassLabel(num_classes=10, chunks=32),
            "dyn": Tensor((None,), "int32", max_shape=(40,), chunks=16), "text": Text(chunks=16)}


def sample(i: int) -> dict:
    rng = np.random.default_rng(i)
    return {"image": rng.integers(0, 255, (16, 16, 3), dtype="uint8"), "label": i % 10,
            "dyn": (np.arange(i % 40 + 1, dtype="int32") + i), "text": f"sample {i} ✓"}


def main(path: str, batch: int, cache: int, token=None) -> None:
    try:
        ds = hubfs.Dataset(path, mode="r+", cache=cache, token=token)
    except DatasetNotFoundError:
        ds = hubfs.Dataset(path, mode="w", shape=(0,), schema=schema(), cache=cache, token=token)
    print(f"open {len(ds)}", flush=True)
    while True:
        start = len(ds)
        ds.extend(sample(i) for i in range(start, start + batch))
        print("flushing", flush=True)
        ds.flush()
        print(f"flushed {len(ds)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]) if len(sys.argv) > 4 else None)
