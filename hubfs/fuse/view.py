"""The mount's file system, without FUSE: paths <-> (tensor key, sample index), listings, stats, handles.

    /                      one folder per sample, named by its decimal index (no padding: the names of
                           existing samples never change while the dataset grows), and ``.hubfs/``
    /.hubfs/schema.json    the schema; /.hubfs/info.json: url, length, version, tensors and their files;
                           /.hubfs/versions.json: the dataset's branches and commits
    /<i>/<tensor>.<ext>    one file per tensor the sample has a value for; nested keys are sub-folders

Everything here is plain Python over the engine interface of doc/DESIGN.md, so it is tested against a
``Dataset`` without mounting. Errors are hubfs errors (bad content, read-only, store failures) or
``OSError``s carrying the errno for what the view itself refuses (a name that does not exist, an operation
that makes no sense here); ``ops.py`` turns both into errnos through one table.
"""
from __future__ import annotations

import errno
import itertools
import json
import os
import stat
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from hubfs.codecs import png
from hubfs.dataset.schema import nest
from hubfs.errors import CodecError, SampleError
from hubfs.fuse.formats import FileFormat

META_DIR = ".hubfs"
BLOCK_SIZE = 1 << 20  # st_blksize: tools read and copy in 1 MiB blocks
ENCODED_CACHE_BYTES = 32 << 20  # encoded .txt/.npy/.json/.wav files kept between stat and open
RECENT_FILES, RECENT_BYTES = 8, 64 << 20  # files read by path (no handle) kept whole, so a large file's
                                          # 1 MiB reads fetch and encode it once
SCRATCH_BYTES = 1 << 30  # all scratch files together (temp files of sed -i, rsync, atomic saves): ENOSPC past it
REFRESH_INTERVAL = 2.0  # seconds between a read-only mount's checks for another process's new length or schema
RECENT_ERRORS = 200  # refusals kept for .hubfs/errors.log
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
DIR_MODE = stat.S_IFDIR | 0o755
FILE_MODE = stat.S_IFREG | 0o644


def _error(code: int, message: str) -> OSError:
    return OSError(code, f"{os.strerror(code)}: {message}")


# -- what a path names -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    """A resolved path: ``kind`` is root, meta, meta_file, sample, group, file or scratch (a file of any
    other name in a sample folder, which lives in the mount only; ``key`` is then its path)."""

    kind: str
    index: int = -1
    key: str = ""  # tensor key (file), key prefix (group), file name (meta_file)
    size: int | None = field(default=None, compare=False)  # a file's View.committed_size, when resolved

    @property
    def is_dir(self) -> bool:
        return self.kind in ("root", "meta", "sample", "group")


class Handle:
    """An open file: its encoded bytes (a snapshot taken at open), and whether they await a commit."""

    __slots__ = ("fh", "node", "path", "data", "writable", "append", "dirty", "written")

    def __init__(self, fh: int, node: Node, path: str, data: bytes | bytearray, writable: bool, append: bool):
        self.fh = fh
        self.node = node
        self.path = path
        self.data = bytearray(data) if writable else data
        self.writable = writable
        self.append = append
        self.dirty = False  # the bytes differ from what the dataset holds
        self.written = False  # write() or ftruncate() since open: close commits (else the last release)


@dataclass
class Scratch:
    """A file of a name outside the schema in a sample folder (a temporary file of an editor, sed -i, rsync,
    or an atomic save): held in memory, never in the dataset; renaming it onto a schema file commits it."""

    data: bytearray
    mtime: float


class View:
    """The folder view of ``ds``. Not thread-safe: the FUSE loop serves one up-call at a time."""

    def __init__(self, ds: Any, clock: Callable[[], float] = time.time, commit: Any = None):
        """``commit``: the version record ``ds`` was opened at (``hubfs.fuse.mount.open_dataset`` says), or
        None when it is at the head of its branch."""
        self.ds = ds
        self.at_commit = commit
        self._versions: Any = None  # hubfs.dataset.versions.Versions of the dataset, opened when first asked
        self.clock = clock
        self.read_only = bool(ds.read_only)
        self.mounted_at = clock()
        self.uid, self.gid = os.getuid(), os.getgid()
        self.formats = {key: FileFormat(key, ds.tensor_type(key)) for key in ds.keys()}
        # Folder tree of a sample: key prefix -> {name: Node kind, key}; "" is the sample folder itself.
        self.tree: dict[str, dict[str, tuple[str, str]]] = {"": {}}
        for key, fmt in self.formats.items():
            parts = key.split("/")
            for depth in range(len(parts) - 1):
                parent, name = "/".join(parts[:depth]), parts[depth]
                prefix = "/".join(parts[:depth + 1])
                self.tree.setdefault(parent, {})[name] = ("group", prefix)
                self.tree.setdefault(prefix, {})
            self.tree["/".join(parts[:-1])][f"{parts[-1]}.{fmt.ext}"] = ("file", key)
        self.handles: dict[int, Handle] = {}
        self._fhs = itertools.count(1)
        self._encoded: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._encoded_bytes = 0
        self._recent: OrderedDict[str, bytes] = OrderedDict()
        self.mtimes: dict[tuple[str, int], float] = {}  # samples changed through the view
        self.scratch: dict[str, Scratch] = {}  # path -> a file outside the schema, kept in the mount only
        self.errors: deque[str] = deque(maxlen=RECENT_ERRORS)  # recent refusals, for .hubfs/errors.log
        self.log_path: str | None = None  # the server's log, named in .hubfs/status.json
        self.refresh_requested = False  # set by `hubfs refresh` (a signal); honoured at the next up-call
        self.generation = 0  # counts refreshes: a layout over this view rebuilds what it derived from the dataset
        self._next_check = time.monotonic() + REFRESH_INTERVAL
        self.on_change: Callable[[str], None] = lambda path: None  # set by the mount to invalidate caches

    # -- readers beside a writer ----------------------------------------------------------------------
    def poll(self) -> None:
        """On a read-only mount, called before each up-call: refresh when asked to, or when the dataset's
        length or schema changed (checked at most every REFRESH_INTERVAL seconds)."""
        if not self.read_only or self.handles:
            return
        now = time.monotonic()
        if not self.refresh_requested and now < self._next_check:
            return
        self._next_check = now + REFRESH_INTERVAL
        if self.refresh_requested or self.ds.stale():
            self.refresh()

    def refresh(self) -> None:
        """Serve what the store holds now: re-read the dataset, drop every cached file, and have the kernel
        drop its pages and attributes of every file (a reader sees the old file or the new one, whole)."""
        self.refresh_requested = False
        self.generation += 1
        old = len(self.ds)
        self.ds.refresh()
        self._encoded.clear()
        self._encoded_bytes = 0
        self._recent.clear()
        self.mounted_at = self.clock()  # new times: tools that compare mtimes see a change
        for i in range(max(old, len(self.ds))):
            for key in self.formats:
                self.on_change(self.path_of(key, i))
        self.on_change(f"/{META_DIR}/info.json")
        self.on_change("/")

    # -- paths ---------------------------------------------------------------------------------------
    def resolve(self, path: str) -> Node:
        """The node ``path`` names; ENOENT when it names nothing, a file of a tensor the sample has no
        value for included."""
        parts = [p for p in path.split("/") if p]
        if not parts:
            return Node("root")
        head, rest = parts[0], parts[1:]
        if head == META_DIR:
            if not rest:
                return Node("meta")
            if len(rest) == 1 and rest[0] in self._meta_files():
                return Node("meta_file", key=rest[0])
            raise _error(errno.ENOENT, path)
        index = self.sample_index(head)
        if index is None:
            raise _error(errno.ENOENT, f"{path}: no sample {head!r}; samples are 0..{len(self.ds) - 1}")
        prefix = ""
        for depth, name in enumerate(rest):
            kind, key = self.tree.get(prefix, {}).get(name, (None, ""))
            if kind == "group":
                prefix = key
                continue
            if kind == "file" and depth == len(rest) - 1:
                size = self.committed_size(key, index)
                if size is not None or self._pending(key, index) is not None:
                    return Node("file", index, key, size)
            elif kind is None and depth == len(rest) - 1:
                spath = "/" + "/".join(parts)
                if spath in self.scratch:
                    return Node("scratch", index, spath)
            raise _error(errno.ENOENT, path)
        return Node("group", index, prefix) if prefix else Node("sample", index)

    def sample_index(self, name: str) -> int | None:
        """The index a root entry names: canonical decimal (no sign, no leading zeros) below the length."""
        if not (name.isascii() and name.isdigit()) or (len(name) > 1 and name[0] == "0"):
            return None
        i = int(name)
        return i if i < len(self.ds) else None

    def path_of(self, key: str, index: int) -> str:
        parts = key.split("/")
        return "/" + "/".join([str(index)] + parts[:-1] + [f"{parts[-1]}.{self.formats[key].ext}"])

    def exists(self, key: str, index: int) -> bool:
        """The sample has a file for ``key``: it has a value, or a file was created and is still open."""
        return self.ds.has_value(key, index) or self._pending(key, index) is not None

    def _pending(self, key: str, index: int, dirty: bool = True) -> Handle | None:
        """The newest writable handle of a file (whose buffer differs from what the dataset holds)."""
        found = None
        for h in self.handles.values():
            if h.writable and (h.dirty or not dirty) and h.node.key == key and h.node.index == index:
                found = h
        return found

    # -- metadata files ------------------------------------------------------------------------------
    def _meta_files(self) -> dict[str, Callable[[], bytes]]:
        return {"schema.json": self._schema_json, "info.json": self._info_json, "status.json": self._status_json,
                "errors.log": self._errors_log, "versions.json": self._versions_json}

    def _status_json(self) -> bytes:
        return (json.dumps(self.status(), indent=2, default=str) + "\n").encode()

    def _errors_log(self) -> bytes:
        return "".join(line + "\n" for line in self.errors).encode()

    def note_error(self, message: str) -> None:
        """Keep a refusal where a user looks: .hubfs/errors.log (the newest RECENT_ERRORS of them)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.clock()))
        self.errors.append(f"{stamp} {message}")

    def status(self) -> dict:
        """What .hubfs/status.json holds (``hubfs status`` prints it): dataset, mode, version, pending writes."""
        from hubfs import __version__

        writing = [h for h in self.handles.values() if h.writable and h.node.kind == "file"]
        return {
            "url": str(getattr(self.ds, "url", "")),
            "mode": "read-only" if self.read_only else "writable",
            "hubfs_version": __version__,
            "version": self.version(),
            "length": len(self.ds),
            "open_for_writing": sorted({h.path for h in writing}),
            "uncommitted": sorted({h.path for h in writing if h.dirty}),
            "scratch_files": sorted(self.scratch),
            "errors": len(self.errors),
            "log": self.log_path,
        }

    @property
    def versions(self) -> Any:
        """The version records of the dataset (``hubfs.dataset.versions.Versions``), read fresh on each use."""
        if self._versions is None:
            from hubfs.dataset.versions import open_versions

            self._versions = open_versions(self.ds.url, self.ds.token)
        return self._versions

    def version(self) -> dict:
        """The version served: its branch, its id (the commit's, or the head's: the id the branch's next
        commit gets), whether it is a branch head, and the parent commit (with the record at a commit)."""
        from hubfs.dataset.versions import describe

        if self.at_commit is not None:
            return describe(self.at_commit, None)
        b = self.versions.branch(self.ds.branch)
        if b is None:  # deleted under the mount
            return {"branch": self.ds.branch, "commit": None, "at_head": True, "parent": None}
        doc = describe(None, b)
        doc["commit"] = doc["commit"] or None  # a dataset never versioned has no head id yet
        return doc

    def versions_doc(self) -> dict:
        """What .hubfs/versions.json holds: the version served, every branch (head id, newest commit) and
        every commit of the dataset, newest first (a damaged record is left out; reading it names it)."""
        v = self.versions
        branches = {}
        for name in v.branches():
            b = v.branch(name)
            branches[name] = {"head": b.head or None, "parent": b.parent}
        commits = [record.info() for record in reversed(v.all_commits())]
        return {"serving": self.version(), "branches": branches, "commits": commits}

    def _versions_json(self) -> bytes:
        return (json.dumps(self.versions_doc(), indent=2, default=str) + "\n").encode()

    def close(self) -> None:
        """Close the store the version records were read through (the dataset is its owner's to close)."""
        if self._versions is not None:
            self._versions.store.close()
            self._versions = None

    def _schema_json(self) -> bytes:
        nested = nest({key: fmt.type.to_json() for key, fmt in self.formats.items()})
        return (json.dumps(nested, indent=2) + "\n").encode()

    def _info_json(self) -> bytes:
        return (json.dumps(self.info(), indent=2, default=str) + "\n").encode()

    def info(self) -> dict:
        """What .hubfs/info.json holds: url, length, and each tensor's type and file name."""
        return {
            "url": str(getattr(self.ds, "url", "")),
            "length": len(self.ds),
            "read_only": self.read_only,
            "version": self.version(),
            "tensors": {key: {"type": fmt.type.kind, "file": self.path_of(key, 0).split("/", 2)[2],
                              "served_as_stored": fmt.stored} for key, fmt in self.formats.items()},
            "meta_information": getattr(self.ds, "meta_information", {}) or {},
        }

    # -- file bytes ----------------------------------------------------------------------------------
    def file_bytes(self, key: str, index: int) -> bytes:
        """The encoded file of sample ``index`` of ``key``: PNG/JPEG as stored, else the file codec's."""
        fmt = self.formats[key]
        if fmt.stored:
            return self.ds.read_stored(key, index) or b""
        ckey = (key, index)
        data = self._encoded.get(ckey)
        if data is not None:
            self._encoded.move_to_end(ckey)
            return data
        data = fmt.encode(self.ds[key, index].compute())
        self._encoded[ckey] = data
        self._encoded_bytes += len(data)
        while self._encoded_bytes > ENCODED_CACHE_BYTES and len(self._encoded) > 1:
            self._encoded_bytes -= len(self._encoded.popitem(last=False)[1])
        return data

    def committed_size(self, key: str, index: int) -> int | None:
        """The committed file's size when one index lookup tells it (a file served as stored, or an
        uncompressed PNG of a fixed shape), -1 when the sample has a value whose file must be made to be
        measured, None when it has no value: the one lookup a stat or a listing entry costs."""
        fmt = self.formats[key]
        if fmt.stored:
            n = self.ds.stored_nbytes(key, index)
            if n is not None:
                return n
        if not self.ds.has_value(key, index):
            return None
        if fmt.stored:
            return 0
        if fmt.is_png and not fmt.type.is_dynamic:  # known from the shape: no pixels read
            return png.uncompressed_size(tuple(fmt.type.shape), fmt.type.dtype) if all(fmt.type.shape) else 0
        return -1

    def file_size(self, key: str, index: int) -> int:
        """Size of the committed file; of a created file's buffer until its first commit."""
        size = self.committed_size(key, index)
        if size is None:
            pending = self._pending(key, index)
            return 0 if pending is None else len(pending.data)
        return self._measured(key, index, size)

    def _measured(self, key: str, index: int, size: int) -> int:
        """``size`` from committed_size, the file made and measured when that could not tell it."""
        if size >= 0:
            return size
        fmt = self.formats[key]
        if fmt.is_png:  # a dynamic shape: known from the shape, no PNG made
            shape = self.ds.sample_shape(key, index)
            return png.uncompressed_size(shape, fmt.type.dtype) if all(shape) else 0
        return len(self.file_bytes(key, index))

    def _forget(self, key: str, index: int) -> None:
        data = self._encoded.pop((key, index), None)
        if data is not None:
            self._encoded_bytes -= len(data)

    # -- stat and listings ---------------------------------------------------------------------------
    def dir_attrs(self, subdirs: int, mtime: float | None = None) -> dict:
        t = int(1e9 * (self.mounted_at if mtime is None else mtime))  # times in ns
        return {"st_mode": DIR_MODE, "st_nlink": 2 + subdirs, "st_size": 0, "st_uid": self.uid,
                "st_gid": self.gid, "st_atime": t, "st_mtime": t, "st_ctime": t, "st_blksize": BLOCK_SIZE}

    def file_attrs(self, size: int, mtime: float | None = None) -> dict:
        t = int(1e9 * (self.mounted_at if mtime is None else mtime))  # times in ns
        return {"st_mode": FILE_MODE if not self.read_only else FILE_MODE & ~0o222, "st_nlink": 1,
                "st_size": size, "st_uid": self.uid, "st_gid": self.gid, "st_atime": t, "st_mtime": t,
                "st_ctime": t, "st_blksize": BLOCK_SIZE, "st_blocks": (size + 511) // 512}

    def _groups_in(self, prefix: str) -> int:
        return sum(1 for kind, _ in self.tree.get(prefix, {}).values() if kind == "group")

    def stat(self, path: str, fh: int | None = None) -> dict:
        """Attributes of ``path``; through an open handle (fstat), the size of the handle's bytes."""
        h = self.handles.get(fh) if fh is not None else None
        if h is not None:
            return self.file_attrs(len(h.data), self.mtimes.get((h.node.key, h.node.index)))
        return self.stat_node(self.resolve(path))

    def stat_node(self, node: Node) -> dict:
        if node.kind == "root":
            return self.dir_attrs(len(self.ds) + 1)
        if node.kind == "meta":
            return self.dir_attrs(0)
        if node.kind == "meta_file":
            return self.file_attrs(len(self._meta_files()[node.key]()))
        if node.kind in ("sample", "group"):
            return self.dir_attrs(self._groups_in(node.key))
        if node.kind == "scratch":
            sc = self.scratch[node.key]
            return self.file_attrs(len(sc.data), sc.mtime)
        size = self.file_size(node.key, node.index) if node.size is None else \
            self._measured(node.key, node.index, node.size)
        return self.file_attrs(size, self.mtimes.get((node.key, node.index)))

    def listdir(self, path: str, offset: int = 0) -> Iterator[tuple[str, dict, int]]:
        """(name, stat attributes, next offset) of the entries of a folder from ``offset`` on (0 = the start)."""
        node = self.resolve(path)
        if not node.is_dir:
            raise _error(errno.ENOTDIR, path)
        entries: list[tuple[str, Callable[[], dict]]] = [(".", lambda: self.stat_node(node)),
                                                         ("..", lambda: self.dir_attrs(0))]
        if node.kind == "root":
            return self._list_root(entries, offset)
        if node.kind == "meta":
            entries += [(name, lambda name=name: self.stat_node(Node("meta_file", key=name)))
                        for name in self._meta_files()]
        else:
            for name, (kind, key) in self.tree[node.key].items():
                if kind == "group":
                    entries.append((name, lambda key=key: self.dir_attrs(self._groups_in(key))))
                else:
                    size = self.committed_size(key, node.index)
                    if size is not None:
                        entries.append((name, lambda key=key, size=size: self.file_attrs(
                            self._measured(key, node.index, size), self.mtimes.get((key, node.index)))))
                    elif self._pending(key, node.index) is not None:
                        entries.append((name, lambda key=key: self.stat_node(Node("file", node.index, key))))
            folder = self._folder_path(node) + "/"
            for spath in self.scratch:
                if spath.startswith(folder) and "/" not in spath[len(folder):]:
                    entries.append((spath[len(folder):], lambda spath=spath: self.stat_node(Node("scratch", node.index, spath))))
        return ((name, attrs(), n + 1) for n, (name, attrs) in enumerate(entries) if n >= offset)

    def _folder_path(self, node: Node) -> str:
        """The path of a sample or nested-key folder."""
        return f"/{node.index}" + (f"/{node.key}" if node.kind == "group" else "")

    def _list_root(self, head: list, offset: int) -> Iterator[tuple[str, dict, int]]:
        head = head + [(META_DIR, lambda: self.dir_attrs(0))]
        for n in range(offset, len(head)):
            yield head[n][0], head[n][1](), n + 1
        sample = self.dir_attrs(self._groups_in(""))  # every sample folder has the same attributes
        for i in range(max(0, offset - len(head)), len(self.ds)):
            yield str(i), dict(sample), len(head) + i + 1

    def statfs(self) -> dict:
        files = len(self.ds) * (len(self.formats) + 1)
        return {"f_bsize": BLOCK_SIZE, "f_frsize": 4096, "f_blocks": 0, "f_bfree": 0, "f_bavail": 0,
                "f_files": files, "f_ffree": 0, "f_favail": 0, "f_namemax": 255}

    # -- open files ----------------------------------------------------------------------------------
    def open(self, path: str, flags: int) -> Handle:
        writable = (flags & os.O_ACCMODE) != os.O_RDONLY
        try:
            node = self.resolve(path)
        except FileNotFoundError:
            if writable:  # the kernel still holds an entry for a file that lost its value (a failed create)
                return self.create(path, flags)  # and strips O_CREAT: opening it to write creates it again
            raise
        if node.is_dir:
            raise _error(errno.EISDIR, path)
        if writable:
            self._check_writable(node, path)
        if node.kind == "scratch":
            return self._open_scratch(node, path, flags)
        if node.kind == "meta_file":
            data = self._meta_files()[node.key]()
        elif writable and flags & os.O_TRUNC:
            data = b""
        elif self.ds.has_value(node.key, node.index):
            data = self.file_bytes(node.key, node.index)  # committed bytes, never another handle's unfinished ones
        else:
            data = b""  # a file created by a handle that has not committed yet
        handle = self.add_handle(node, path, data, writable, bool(flags & os.O_APPEND))
        handle.dirty = writable and bool(flags & os.O_TRUNC)
        return handle

    def add_handle(self, node: Node, path: str, data: bytes, writable: bool, append: bool = False) -> Handle:
        """Register a new open file (its write, read, truncate and stat then go through this view)."""
        handle = Handle(next(self._fhs), node, path, data, writable, append)
        self.handles[handle.fh] = handle
        return handle

    def create(self, path: str, flags: int = os.O_WRONLY) -> Handle:
        """Open a new file of a tensor the sample has no value for; an existing one opens as open() would."""
        parent, _, name = path.rstrip("/").rpartition("/")
        directory = self.resolve(parent or "/")  # ENOENT when the folder does not exist
        if directory.kind not in ("sample", "group"):
            raise _error(errno.EPERM, f"{path}: files are created only in sample folders")
        kind, key = self.tree[directory.key].get(name, (None, ""))
        if kind == "group":
            raise _error(errno.EISDIR, path)
        if kind is None:
            return self._create_scratch(directory, path, name, flags)
        node = Node("file", directory.index, key)
        self._check_writable(node, path)
        if self.ds.has_value(key, directory.index):  # the kernel sends create when it has no entry cached
            if flags & os.O_EXCL:
                raise _error(errno.EEXIST, path)
            return self.open(path, flags if flags & os.O_ACCMODE else flags | os.O_WRONLY)
        handle = self.add_handle(node, path, b"", True, bool(flags & os.O_APPEND))
        handle.dirty = True
        return handle

    def _create_scratch(self, directory: Node, path: str, name: str, flags: int) -> Handle:
        """A file outside the schema: it lives in the mount until removed, renamed onto a schema file, or
        unmounted (see doc/SEMANTICS.md, write-to-temp-then-rename)."""
        if self.read_only:
            raise _error(errno.EROFS, f"{path}: the mount is read-only")
        if not name or name in (".", "..") or "/" in name:
            raise _error(errno.EINVAL, path)
        spath = self._folder_path(directory) + "/" + name
        node = Node("scratch", directory.index, spath)
        if spath in self.scratch:
            if flags & os.O_EXCL:
                raise _error(errno.EEXIST, path)
            return self._open_scratch(node, path, flags if flags & os.O_ACCMODE else flags | os.O_WRONLY)
        self.scratch[spath] = Scratch(bytearray(), self.clock())
        return self._open_scratch(node, path, flags | os.O_WRONLY if not flags & os.O_ACCMODE else flags)

    def _open_scratch(self, node: Node, path: str, flags: int) -> Handle:
        sc = self.scratch[node.key]
        writable = (flags & os.O_ACCMODE) != os.O_RDONLY
        if writable and flags & os.O_TRUNC:
            del sc.data[:]
            sc.mtime = self.clock()
        handle = self.add_handle(node, path, b"", writable, bool(flags & os.O_APPEND))
        handle.data = sc.data  # one live file shared by its handles, as on a disk
        return handle

    def _check_writable(self, node: Node, path: str) -> None:
        if self.read_only:
            raise _error(errno.EROFS, f"{path}: the mount is read-only")
        if node.kind == "scratch":
            return
        if node.kind != "file":
            raise _error(errno.EACCES, f"{path}: {META_DIR}/ files are generated; they cannot be written")

    def handle(self, fh: int) -> Handle:
        try:
            return self.handles[fh]
        except KeyError:
            raise _error(errno.EBADF, f"file handle {fh}") from None

    def read(self, fh: int, size: int, offset: int) -> bytes:
        return bytes(self.handle(fh).data[offset:offset + size])

    def cacheable(self, path: str) -> bool:
        """A read-only open of ``path`` may read through the kernel's page cache, by path and without a
        handle: it names a schema file that no handle has open for writing (a writer's file, or a scratch
        file, changes under its readers: those get snapshots)."""
        node = self.resolve(path)
        return node.kind == "file" and self._pending(node.key, node.index, dirty=False) is None

    def read_path(self, path: str, size: int, offset: int) -> bytes:
        """A read without a handle (read-only mounts skip open; see cacheable): the file's current bytes."""
        data = self._recent.get(path)
        if data is None:
            node = self.resolve(path)
            if node.is_dir:
                raise _error(errno.EISDIR, path)
            data = self._meta_files()[node.key]() if node.kind == "meta_file" else self.file_bytes(node.key, node.index)
            self._recent[path] = data
            while len(self._recent) > 1 and (len(self._recent) > RECENT_FILES or
                                             sum(map(len, self._recent.values())) > RECENT_BYTES):
                self._recent.popitem(last=False)
        return data[offset:offset + size]

    def write(self, fh: int, data: bytes, offset: int) -> int:
        h = self.handle(fh)
        if not h.writable:
            raise _error(errno.EBADF, f"{h.path} is open read-only")
        if h.append:
            offset = len(h.data)
        self._check_size(h, offset + len(data))
        if offset > len(h.data):
            h.data.extend(bytes(offset - len(h.data)))
        h.data[offset:offset + len(data)] = data
        h.dirty = h.written = True
        return len(data)

    def _check_size(self, h: Handle, size: int) -> None:
        """EFBIG as soon as a file outgrows what its tensor can hold; ENOSPC past the scratch files' room."""
        if h.node.kind == "scratch":
            if size > len(h.data) and sum(len(sc.data) for sc in self.scratch.values()) + size - len(h.data) > SCRATCH_BYTES:
                raise _error(errno.ENOSPC, f"{h.path}: files outside the schema may hold {SCRATCH_BYTES} bytes in all")
            return
        limit = self.formats[h.node.key].max_bytes
        if limit is not None and size > limit:
            if h.fh:  # the handle's content can never be a value: nothing of it is committed at close
                h.dirty = h.written = False
                del h.data[:]
            raise _error(errno.EFBIG, f"{h.path}: {size} bytes is more than any value of {h.node.key!r} can take "
                                      f"({limit} bytes at most)")

    def truncate(self, path: str, length: int, fh: int | None = None) -> None:
        """Set a file's length: the given handle's buffer, else that of the newest handle open for writing
        on the file, else the file itself (committed at once)."""
        if fh is not None and fh in self.handles:
            h = self.handles[fh]
        else:
            node = self.resolve(path)
            if node.is_dir:
                raise _error(errno.EISDIR, path)
            self._check_writable(node, path)
            if node.kind == "scratch":
                h = Handle(0, node, path, b"", True, False)
                h.data = self.scratch[node.key].data
                self._resize(h, length)
                return
            h = self._pending(node.key, node.index, dirty=False)
            if h is None:
                temp = Handle(0, node, path, self.file_bytes(node.key, node.index), True, False)
                self._resize(temp, length)
                self.commit(temp)
                return
        if not h.writable:
            raise _error(errno.EBADF, f"{path} is open read-only")
        self._resize(h, length)

    def _resize(self, h: Handle, length: int) -> None:
        self._check_size(h, length)
        if h.node.kind == "scratch":
            self.scratch[h.node.key].mtime = self.clock()
        if length < len(h.data):
            del h.data[length:]
        else:
            h.data.extend(bytes(length - len(h.data)))
        h.dirty = h.written = True

    def commit(self, h: Handle) -> None:
        """Decode, validate and write a handle's bytes through the dataset (not yet durable)."""
        if h.node.kind == "scratch":
            h.dirty = False  # a scratch file's bytes are its own: nothing to commit
            return
        if not h.dirty:
            return
        key, index = h.node.key, h.node.index
        fmt = self.formats[key]
        if fmt.stored:
            try:
                self.ds.write_stored(key, index, bytes(h.data))
            except CodecError as exc:
                raise SampleError(key, index, str(exc)) from exc
        else:
            self.ds[key, index] = fmt.decode(bytes(h.data), index)
        h.dirty = False
        self._changed(key, index)

    def _changed(self, key: str, index: int) -> None:
        self._forget(key, index)
        self._recent.pop(self.path_of(key, index), None)
        self.mtimes[(key, index)] = self.clock()
        self.on_change(self.path_of(key, index))

    def flush(self, fh: int) -> None:
        """close(): commit a written handle; bad content fails the close with the old value kept.

        A handle only truncated by open(O_TRUNC) is not committed here: a shell's `> file` closes a dup of
        the descriptor before anything is written, and an empty label or image is no value. Its last
        release commits it instead (so `: > text.txt` still empties a text)."""
        h = self.handle(fh)
        if h.writable and h.written:
            self.commit(h)

    def fsync(self, fh: int) -> None:
        """Commit (also a handle only truncated by open: fsync fails whenever the commit would), then make
        everything written so far durable in the store."""
        h = self.handle(fh)
        if h.writable:
            self.commit(h)
        self.ds.flush()

    def release(self, fh: int) -> None:
        """The last close: forget the handle. Content that failed its commit at close is dropped here."""
        h = self.handles.pop(fh, None)
        if h is None or not h.writable or h.node.kind == "scratch":
            return
        try:
            if h.dirty and not h.written:
                self.commit(h)  # truncated by open and never written; an error here reaches only the log
        finally:
            if not self.ds.has_value(h.node.key, h.node.index):
                self.on_change(h.path)  # a created file that never got a value is gone

    # -- folders and removal -------------------------------------------------------------------------
    def mkdir(self, path: str) -> None:
        """``mkdir N`` with N the length appends an empty sample; other names are refused."""
        parent, _, name = path.rstrip("/").rpartition("/")
        if parent:
            try:
                self.resolve(path)
            except OSError:
                self.resolve(parent)
                raise _error(errno.EPERM, f"{path}: folders inside samples come from the schema") from None
            raise _error(errno.EEXIST, path)
        if name == META_DIR or self.sample_index(name) is not None:
            raise _error(errno.EEXIST, path)
        if self.read_only:
            raise _error(errno.EROFS, f"{path}: the mount is read-only")
        n = len(self.ds)
        if name != str(n):
            raise _error(errno.EPERM, f"{path}: only the next sample, {n}, can be created")
        self.ds.append_shape(1)
        self.on_change(f"/{META_DIR}/info.json")

    def unlink(self, path: str) -> None:
        """Removing a file clears that tensor's value for the sample."""
        node = self.resolve(path)
        if node.is_dir:
            raise _error(errno.EISDIR, path)
        if self.read_only:
            raise _error(errno.EROFS, f"{path}: the mount is read-only")
        if node.kind == "scratch":
            del self.scratch[node.key]
            self.on_change(node.key)
            return
        if node.kind != "file":
            raise _error(errno.EPERM, f"{path}: {META_DIR}/ files are generated; they cannot be removed")
        for h in self.handles.values():  # a created, never committed file just goes away
            if h.writable and h.node == node:
                h.dirty = False
        if self.ds.has_value(node.key, node.index):
            self.ds.clear(node.key, node.index)
        self._changed(node.key, node.index)

    def rmdir(self, path: str) -> None:
        """An empty sample or nested-key folder: succeeds and changes nothing (the folder stays: samples are
        indices), so that ``rm -r 3`` clears sample 3 and exits 0. A folder with files: ENOTEMPTY."""
        node = self.resolve(path)
        if not node.is_dir:
            raise _error(errno.ENOTDIR, path)
        if self.read_only:
            raise _error(errno.EROFS, f"{path}: the mount is read-only")
        if node.kind not in ("sample", "group"):
            raise _error(errno.EPERM, f"{path}: the root and {META_DIR}/ cannot be removed")
        folder = self._folder_path(node) + "/"
        prefix = node.key + "/" if node.kind == "group" else ""
        if any(spath.startswith(folder) for spath in self.scratch) or any(
                key.startswith(prefix) and self.exists(key, node.index) for key in self.formats):
            raise _error(errno.ENOTEMPTY, path)

    def rename(self, old: str, new: str, flags: int = 0) -> None:
        """Move a file within or between sample folders. Onto a schema file it commits the bytes exactly as
        a close of that file would (validated: EINVAL keeps the old value, and the source stays); onto any
        other name the bytes become a scratch file. A moved schema file loses its value at the source."""
        if self.read_only:
            raise _error(errno.EROFS, f"{old}: the mount is read-only")
        if flags & RENAME_EXCHANGE or flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE):
            raise _error(errno.EINVAL, f"rename {old} -> {new}: only plain and no-replace renames are supported")
        src = self.resolve(old)
        if src.is_dir:
            raise _error(errno.EPERM, f"{old}: folders are samples or come from the schema; they cannot be moved")
        if src.kind not in ("file", "scratch"):
            raise _error(errno.EPERM, f"{old}: {META_DIR}/ files cannot be moved")
        parent, _, name = new.rstrip("/").rpartition("/")
        directory = self.resolve(parent or "/")
        if directory.kind not in ("sample", "group"):
            raise _error(errno.EPERM, f"{new}: files live only in sample folders")
        kind, key = self.tree[directory.key].get(name, (None, ""))
        if kind == "group":
            raise _error(errno.EISDIR, new)
        dst = Node("file", directory.index, key) if kind == "file" else \
            Node("scratch", directory.index, self._folder_path(directory) + "/" + name)
        if dst == src:
            return
        taken = self.exists(dst.key, dst.index) if dst.kind == "file" else dst.key in self.scratch
        if flags & RENAME_NOREPLACE and taken:
            raise _error(errno.EEXIST, new)
        data = self.scratch[src.key].data if src.kind == "scratch" else self.file_bytes(src.key, src.index)
        if dst.kind == "file":
            h = Handle(0, dst, new, data, True, False)
            self._check_size(h, len(data))
            h.dirty = True
            self.commit(h)  # EINVAL here leaves both files as they were
        else:
            self.scratch[dst.key] = Scratch(bytearray(data), self.clock())
            self.on_change(dst.key)
        if src.kind == "scratch":
            del self.scratch[src.key]
            self.on_change(src.key)
        else:
            self.ds.clear(src.key, src.index)
            self._changed(src.key, src.index)

    def sync(self) -> None:
        """Commit every written handle that can be, then flush the dataset (unmount calls this)."""
        failed = None
        for h in list(self.handles.values()):
            if h.writable and h.dirty:
                try:
                    self.commit(h)
                except SampleError as exc:
                    failed = exc  # bad content never reaches the dataset; keep flushing the rest
        self.ds.flush()
        if failed is not None:
            raise failed
