"""`hubfs export URL FOLDER` writes the files a mount shows: compared, file by file, with a real mount."""
from __future__ import annotations

import os
import subprocess
import sys

from fuse_helpers import PYTHON


def tree(root: str) -> dict[str, bytes | None]:
    """{relative path: bytes} of every file and {path: None} of every folder under ``root``."""
    out: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        for d in dirs:
            out[os.path.normpath(os.path.join(rel, d))] = None
        for f in files:
            with open(os.path.join(folder, f), "rb") as fh:
                out[os.path.normpath(os.path.join(rel, f))] = fh.read()
    return out


def test_export_writes_what_a_read_only_mount_serves(tmp_path, mounter, url):
    folder = str(tmp_path / "export")
    out = subprocess.run([PYTHON, "-m", "hubfs", "export", url, folder], capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("exported 4 samples") and "export" not in out.stderr  # no bar off a terminal
    served = tree(mounter(url, read_only=True))
    for mount_only in (".hubfs/status.json", ".hubfs/errors.log", ".hubfs/versions.json"):
        del served[mount_only]
    exported = tree(folder)
    assert sorted(exported) == sorted(served)
    assert exported == served
    assert exported["0/photo.jpg"][:2] == b"\xff\xd8" and exported["0/label.txt"] == b"zero\n"


def test_export_refuses_a_folder_that_holds_something(tmp_path, url):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    out = subprocess.run([sys.executable, "-m", "hubfs", "export", url, str(folder)], capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 1 and "not an empty folder" in out.stderr
    assert os.listdir(folder) == ["keep.txt"]
