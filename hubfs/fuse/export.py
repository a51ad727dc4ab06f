"""``hubfs export``: write a dataset's sample files to an ordinary folder, laid out as its mount shows them.

The layout is the mount's (``View``, doc/SEMANTICS.md): one folder per sample named by its index, one file
per tensor the sample has a value for (PNG/JPEG as stored, the rest in their file codec's format), a
folder per nested key, and ``.hubfs/schema.json`` and ``.hubfs/info.json``. The files a mount has only
while it runs (``.hubfs/status.json``, ``.hubfs/errors.log``) and the dataset-wide ``.hubfs/versions.json``
are not written.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hubfs.errors import NotADatasetError
from hubfs.fuse.view import META_DIR, View

EXPORTED_META = ("schema.json", "info.json")


@dataclass
class Exported:
    samples: int
    files: int
    nbytes: int


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def export(ds: Any, folder: str, progress: bool = False, commit: Any = None) -> Exported:
    """Write every sample of ``ds`` under ``folder`` (created; it must be empty if it exists); ``commit``: the
    version record ``ds`` is at (``hubfs.fuse.mount.open_dataset``), named in info.json."""
    from tqdm import tqdm

    if os.path.exists(folder) and (not os.path.isdir(folder) or os.listdir(folder)):
        raise NotADatasetError(f"{folder} is not an empty folder; export writes only to an empty one")
    view = View(ds, commit=commit)
    os.makedirs(os.path.join(folder, META_DIR), exist_ok=True)
    files = nbytes = 0
    for name in EXPORTED_META:
        path = f"/{META_DIR}/{name}"
        data = view.read_path(path, view.stat(path)["st_size"], 0)
        _write(os.path.join(folder, META_DIR, name), data)
        files, nbytes = files + 1, nbytes + len(data)
    view.close()
    folders = sorted(view.tree)  # "" (the sample folder) and every nested-key folder
    for i in tqdm(range(len(ds)), desc="export", unit="sample", disable=not progress):
        for prefix in folders:
            os.makedirs(os.path.join(folder, str(i), prefix), exist_ok=True)
        for key in view.formats:
            if ds.has_value(key, i):
                data = view.file_bytes(key, i)
                _write(os.path.join(folder, view.path_of(key, i).lstrip("/")), data)
                files, nbytes = files + 1, nbytes + len(data)
    return Exported(len(ds), files, nbytes)
