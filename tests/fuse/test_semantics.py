"""doc/SEMANTICS.md's examples, run as written: each ``$ command`` in a ```console block runs in bash in
the mountpoint (stderr with stdout) and must print exactly the lines below it. Blocks run in order on one
writable mount of the sample dataset; ```console read-only blocks on a read-only mount of a fresh one, ```console
classes blocks on a writable class-folder mount (--layout classes --image image) of a fresh one."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from fuse_helpers import sample_dataset

pytestmark = pytest.mark.fuse

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "doc", "SEMANTICS.md")
BLOCK = re.compile(r"^```console( read-only| classes)?\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples(kind: str = "") -> list[tuple[str, str]]:
    """(command, expected output) pairs of the doc's blocks of one kind ("", "read-only", "classes"), in order."""
    pairs: list[tuple[str, str]] = []
    for block_kind, body in BLOCK.findall(open(DOC, encoding="utf-8").read()):
        if block_kind.strip() != kind:
            continue
        for line in body.splitlines():
            if line.startswith("$ "):
                pairs.append((line[2:], ""))
            else:
                cmd, out = pairs[-1]
                pairs[-1] = (cmd, out + line + "\n")
    return pairs


def run_examples(mnt: str, pairs: list[tuple[str, str]]) -> None:
    assert pairs
    for cmd, expected in pairs:
        proc = subprocess.run(["bash", "-c", cmd], cwd=mnt, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=60, env={**os.environ, "LC_ALL": "C.UTF-8"})
        assert proc.stdout == expected, f"$ {cmd}"


def test_examples_on_a_writable_mount(mnt):
    run_examples(mnt, examples())


def test_examples_on_a_read_only_mount(mounter, tmp_path):
    url = str(tmp_path / "ro-ds")
    sample_dataset(url)
    run_examples(mounter(url, read_only=True, name="ro"), examples("read-only"))


def test_examples_on_a_class_folder_mount(mounter, tmp_path):
    url = str(tmp_path / "classes-ds")
    sample_dataset(url)
    run_examples(mounter(url, name="classes", layout={"image": "image"}), examples("classes"))
