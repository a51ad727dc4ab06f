"""The writer of test_model.py: one dataset driven by JSON commands, in this process or as a child.

``python model_writer.py URL TOKEN_JSON CACHE`` reads one JSON command per line on stdin and answers one
JSON line on stdout (``{"ok": result}`` or ``{"error": "..."}``). The parent kills it with SIGKILL to
simulate a crash. ``Session`` is the same writer in the test's own process (the memory store cannot be
shared with a child).
"""
from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

import hubfs
from hubfs.schema import Tensor, Text

KINDS = {  # one tensor type of each layout
    "int": lambda: Tensor((3,), "int32", chunks=4),  # chunked
    "dyn": lambda: Tensor((None,), "int16", max_shape=(8,), chunks=4),  # sample layout, dynamic shape
    "text": lambda: Text(max_shape=(12,), chunks=4),  # sample layout, text
}
EMPTY = {"int": [0, 0, 0], "dyn": [], "text": ""}  # what a sample without a value reads as


def plain(value: Any) -> Any:
    """A read value as JSON would carry it."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class Session:
    """A writable dataset at ``url`` (cache of ``cache`` bytes) and the commands that change it."""

    def __init__(self, url: str, token: Any, cache: int):
        self.url, self.token, self.cache = url, token, cache
        self.ds: hubfs.Dataset | None = None
        self.kinds: dict[str, str] = {}

    def handle(self, cmd: dict) -> Any:
        op = cmd["op"]
        if op == "create":
            self.kinds = dict(cmd["kinds"])
            schema = {t: KINDS[k]() for t, k in self.kinds.items()}
            self.ds = hubfs.Dataset(self.url, mode="w", shape=(cmd["length"],), schema=schema, token=self.token,
                                    cache=self.cache)
        elif op == "open":
            self.ds = hubfs.Dataset(self.url, mode="r+", token=self.token, cache=self.cache)
            self.kinds = dict(cmd["kinds"])
        elif op == "write":
            value = cmd["value"]
            self.ds[cmd["tensor"], cmd["index"]] = value if isinstance(value, str) else np.asarray(
                value, "int32" if self.kinds[cmd["tensor"]] == "int" else "int16")
        elif op == "resize":
            self.ds.resize_shape(cmd["length"])
        elif op == "add":
            self.ds.add_tensor(cmd["tensor"], KINDS[cmd["kind"]]())
            self.kinds[cmd["tensor"]] = cmd["kind"]
        elif op == "flush":
            self.ds.flush()
        elif op == "reopen":
            self.ds.close()
            self.ds = hubfs.Dataset(self.url, mode="r+", token=self.token, cache=self.cache)
        elif op == "read":
            return read_all(self.ds)
        elif op == "close":
            self.ds.close()
        else:
            raise ValueError(f"unknown command {op!r}")
        return None


def read_all(ds: hubfs.Dataset) -> dict:
    """{"length": n, "tensors": {tensor: [value of each sample]}} of an open dataset."""
    n = len(ds)
    return {"length": n, "tensors": {t: [plain(v) for v in ds[t, 0:n].compute()] if n else []
                                     for t in ds.keys}}


def main(url: str, token: Any, cache: int) -> None:
    session = Session(url, token, cache)
    for line in sys.stdin:
        try:
            answer = {"ok": session.handle(json.loads(line))}
        except Exception as exc:  # the parent decides whether it was expected
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]))
