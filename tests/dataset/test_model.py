"""Model-based test: random sequences of write / resize / add_tensor / flush / reopen / kill against a
plain-dict model, checked after every step (hypothesis' ``RuleBasedStateMachine``).

On a local folder and on S3 (moto) the writer is a child process (tests/dataset/model_writer.py), so
"kill" is real: SIGKILL, then a new writer opens the dataset and the model keeps only what was committed
(a sample written since the last commit may also read as one of the values written since: the write-back
cache can have written it before the kill). After every commit a reader in this process checks the
committed state too. The memory store cannot be shared with a child: there the writer runs here and
nothing is killed. The budget is large on memory and local and small on S3.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import hubfs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from model_writer import EMPTY, KINDS, Session, read_all  # noqa: E402

WRITER = os.path.join(HERE, "model_writer.py")
MAX_LENGTH = 10
VALUES = {
    "int": st.lists(st.integers(-1000, 1000), min_size=3, max_size=3),
    "dyn": st.lists(st.integers(-300, 300), min_size=1, max_size=8),
    "text": st.text(alphabet="abcxyz ✓", min_size=1, max_size=12),
}


class Child:
    """model_writer.py in a child process: the same ``handle`` as ``Session``, and ``kill``."""

    def __init__(self, url: str, token, cache: int, log):
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.proc = subprocess.Popen([sys.executable, WRITER, url, json.dumps(token), str(cache)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)

    def handle(self, cmd: dict):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the writer died on its own (exit {self.proc.wait()})"
        answer = json.loads(line)
        if "error" in answer:
            raise AssertionError(f"{cmd['op']} failed in the writer: {answer['error']}")
        return answer["ok"]

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        self.proc.stdin.close()
        self.proc.stdout.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.handle({"op": "close"})
            finally:
                self.kill()


class DatasetModel(RuleBasedStateMachine):
    """The dataset against ``values``: {(tensor, index): [possible values]} (one, unless a kill made it
    ambiguous; what a sample reads then pins it), ``length`` and ``kinds``; ``committed`` is the same as of
    the last commit, ``since`` the values written after it."""

    new_place = None  # () -> (url, token, remove), set per store
    children = True  # the writer runs in a child process (and can be killed)
    kills_seen = 0

    @initialize(kind=st.sampled_from(sorted(KINDS)), length=st.integers(0, 6),
                cache=st.sampled_from([1024, 1 << 20]))
    def create(self, kind, length, cache):
        self.url, self.token, self.remove = type(self).new_place()
        self.cache = cache
        self.log = tempfile.TemporaryFile("w+")
        self.writer = self._writer()
        self.kinds = {"t0": kind}
        self.length, self.values = length, {}
        self.writer.handle({"op": "create", "kinds": self.kinds, "length": length})
        self.kills = 0
        self._committed()

    def _writer(self):
        if self.children:
            return Child(self.url, self.token, self.cache, self.log)
        return Session(self.url, self.token, self.cache)

    def _committed(self, check: bool = True) -> None:
        self.committed = (self.length, {k: list(v) for k, v in self.values.items()}, dict(self.kinds))
        self.since: dict[tuple, list] = {}
        self.pending_shrink = False
        if check and self.children:  # another process sees exactly the committed state
            with hubfs.Dataset(self.url, mode="r", token=self.token) as ds:
                self._compare(read_all(ds), "a reader of the committed state")

    def _compare(self, got: dict, who: str) -> None:
        assert got["length"] == self.length, f"{who}: length {got['length']}, model {self.length}"
        assert sorted(got["tensors"]) == sorted(self.kinds), who
        for t, samples in got["tensors"].items():
            for i, value in enumerate(samples):
                options = self.values.get((t, i), [EMPTY[self.kinds[t]]])
                assert value in options, f"{who}: {t}[{i}] = {value!r}, model {options!r}"
                self.values[t, i] = [value]

    @invariant()
    def reads_match_the_model(self):
        self._compare(self.writer.handle({"op": "read"}), "the writer")

    @precondition(lambda self: self.length > 0)
    @rule(data=st.data())
    def write(self, data):
        t = data.draw(st.sampled_from(sorted(self.kinds)), label="tensor")
        i = data.draw(st.integers(0, self.length - 1), label="index")
        value = data.draw(VALUES[self.kinds[t]], label="value")
        self.writer.handle({"op": "write", "tensor": t, "index": i, "value": value})
        self.values[t, i] = [value]
        self.since.setdefault((t, i), []).append(value)

    @rule(data=st.data())
    def resize(self, data):
        near = st.integers(max(0, self.length - 3), min(MAX_LENGTH, self.length + 3))
        n = data.draw(near | st.integers(0, MAX_LENGTH), label="length")
        if n > self.length and self.pending_shrink:
            self._committed(check=False)  # growing commits a pending shrink first
        if n < self.length and n < self.committed[0]:
            self.pending_shrink = True
        self.writer.handle({"op": "resize", "length": n})
        self.values = {k: v for k, v in self.values.items() if k[1] < n}
        self.length = n

    @precondition(lambda self: len(self.kinds) < 4)
    @rule(kind=st.sampled_from(sorted(KINDS)))
    def add_tensor(self, kind):
        name = f"t{len(self.kinds)}"
        self.writer.handle({"op": "add", "tensor": name, "kind": kind})
        self.kinds[name] = kind
        self._committed()  # add_tensor flushes, then commits the new schema

    @rule()
    def flush(self):
        self.writer.handle({"op": "flush"})
        self._committed()

    @rule()
    def reopen(self):
        self.writer.handle({"op": "reopen"})
        self._committed()

    @precondition(lambda self: self.children and self.kills < 2)
    @rule()
    def kill(self):
        self.writer.kill()
        self.kills += 1
        length, values, kinds = self.committed
        for (t, i), written in self.since.items():  # the cache may have written any of them before the kill
            if i < length and t in kinds:
                values[t, i] = values.get((t, i), [EMPTY[kinds[t]]]) + written
        self.length, self.values, self.kinds = length, values, dict(kinds)
        self.writer = self._writer()
        self.writer.handle({"op": "open", "kinds": self.kinds})  # takes over the dead writer's lock
        self._committed(check=False)
        self.reads_match_the_model()  # pins the ambiguous samples
        self._committed()

    def teardown(self):
        type(self).kills_seen += getattr(self, "kills", 0)
        writer = getattr(self, "writer", None)
        try:
            if writer is not None:
                writer.close() if self.children else writer.handle({"op": "close"})
        finally:
            if hasattr(self, "log"):
                self.log.close()
            if hasattr(self, "remove"):
                self.remove()


def _run(new_place, children: bool, examples: int, steps: int) -> None:
    machine = type("Machine", (DatasetModel,), {"new_place": staticmethod(new_place), "children": children})
    machine.TestCase.settings = settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                                         suppress_health_check=list(HealthCheck), derandomize=True,
                                         database=None)
    machine.TestCase().runTest()
    if children:
        assert machine.kills_seen, "no run killed its writer"


def test_memory_against_the_model():
    def place():
        root = f"hubfs-model-{uuid.uuid4().hex}"

        def remove():
            import fsspec
            fs = fsspec.filesystem("memory")
            if fs.exists(f"/{root}"):
                fs.rm(f"/{root}", recursive=True)
        return f"memory://{root}/ds", None, remove

    _run(place, children=False, examples=150, steps=25)


def test_local_against_the_model(tmp_path):
    def place():
        return str(tmp_path / uuid.uuid4().hex), None, lambda: None

    _run(place, children=True, examples=12, steps=15)


@pytest.mark.cloud
def test_s3_against_the_model(store_server):
    from hubfs.dataset.stores import filesystem_for

    server = store_server("s3-moto")

    def place():
        url, token = server.url(f"hubfs-test/model-{uuid.uuid4().hex[:12]}"), server.token()

        def remove():
            fs, root = filesystem_for(url, token)
            if fs.exists(root):
                fs.rm(root, recursive=True)
        return url, token, remove

    _run(place, children=True, examples=2, steps=10)
