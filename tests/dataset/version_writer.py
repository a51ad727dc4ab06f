"""Child process of test_versions.py: changes samples and commits, forever, reporting on stdout.

``python version_writer.py PATH`` opens the dataset at PATH (made by ``make(path)``) for writing, then
repeats: set ``x[round % N]`` to ``value(round)``, print "committing <round>", commit, print
"committed <round> <id>". The parent kills it at random moments and checks every reported commit.
"""
from __future__ import annotations

import sys

import numpy as np

import hubfs
from hubfs.schema import Tensor

N = 64


def make(path: str) -> hubfs.Dataset:
    ds = hubfs.Dataset(path, mode="w", shape=(N,), schema={"x": Tensor((4,), "int64", chunks=8)})
    ds["x", 0:N] = np.zeros((N, 4), "int64")
    return ds


def value(r: int) -> np.ndarray:
    return np.full(4, r + 1, "int64")


def expected(rounds: int) -> np.ndarray:
    """``x`` after rounds 0 .. rounds-1."""
    out = np.zeros((N, 4), "int64")
    for r in range(rounds):
        out[r % N] = value(r)
    return out


def main(path: str, start: int) -> None:
    ds = hubfs.Dataset(path, mode="r+")
    r = start
    while True:
        ds["x", r % N] = value(r)
        print(f"committing {r}", flush=True)
        commit_id = ds.commit(f"round {r}")
        print(f"committed {r} {commit_id}", flush=True)
        r += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
