"""The class-folder layout (``hubfs mount --layout classes``): one folder per class, one image file per sample.

    /[<split>/]<class>/<index>.<ext>   the image of sample <index>, whose label is <class>; ext png or jpg

so that torchvision's ``ImageFolder`` and every one-folder-per-class tool read a dataset directly. Class
folders are named by the ClassLabel's names (its integers when it has none); with a split (``--split KEY``:
a Text or ClassLabel tensor naming each sample's split; ``--split-at N``: indices below N are ``train``, the
rest ``val``) a split level comes first. ``.hubfs/`` is reachable but not listed (it would be a class).

``ClassView`` only maps names: the files are ``View``'s (same bytes, caches, handles, commits), reached
through its public methods. It keeps one index, built once per mount and updated by its own writes:
sample -> (split, class) and (split, class) -> sorted indices, so listing a class folder reads no image.
Writes: a new file in a class folder appends a sample at its close (image and label in one step; bad
content EINVAL, nothing stored); a rename between class folders relabels; samples cannot be removed (EPERM).
"""
from __future__ import annotations

import bisect
import errno
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from hubfs.errors import ConfigError
from hubfs.fuse.view import META_DIR, RENAME_EXCHANGE, RENAME_NOREPLACE, Handle, Node, View

SPLITS = ("train", "val")  # the folders of --split-at N: [0, N) and [N, end)
ALIASES = 4096  # names tools wrote new files under, kept reachable (not listed) for their chmod/utimens
IMAGE_FILES = ("png", "jpg")


def _error(code: int, message: str) -> OSError:
    return OSError(code, f"{os.strerror(code)}: {message}")


def _usable_name(name: str) -> bool:
    return bool(name) and name not in (".", "..", META_DIR) and "/" not in name and "\0" not in name


@dataclass(frozen=True)
class Place:
    """What a class-layout path names: kind is root, split, class, file (sample ``index``), new (a file
    being written that becomes a sample at close; ``path``) or meta (``.hubfs/``, served by ``View``)."""

    kind: str
    split: str = ""
    cls: int = -1
    index: int = -1
    path: str = ""

    @property
    def is_dir(self) -> bool:
        return self.kind in ("root", "split", "class")


def pick_tensor(view: View, key: str | None, kind: str, option: str) -> str:
    """The tensor ``option`` names, or the schema's only one of ``kind``; ConfigError naming the choices."""
    of_kind = [k for k in view.formats if view.formats[k].type.kind == kind]
    choices = f"{kind} tensors: {', '.join(of_kind)}" if of_kind else f"the schema has no {kind} tensor"
    if key is None:
        if len(of_kind) == 1:
            return of_kind[0]
        raise ConfigError(f"--layout classes needs {option} KEY: {choices}")
    if key not in view.formats:
        raise ConfigError(f"{option} {key!r}: no such tensor; {choices}")
    if kind == "ClassLabel" and view.formats[key].type.kind != kind:
        raise ConfigError(f"{option} {key!r} is of type {view.formats[key].type.kind}, not ClassLabel; {choices}")
    if kind == "Image" and view.formats[key].ext not in IMAGE_FILES:
        raise ConfigError(f"{option} {key!r} is served as .{view.formats[key].ext}, not as an image file; {choices}")
    return key


class ClassView:
    """``View`` under class-folder names (see the module docstring). Not thread-safe, as ``View``."""

    def __init__(self, view: View, image: str | None = None, label: str | None = None,
                 split: str | None = None, split_at: int | None = None):
        if split is not None and split_at is not None:
            raise ConfigError("give --split KEY or --split-at N, not both")
        self.view = view
        self.ds = view.ds
        self.image = pick_tensor(view, image, "Image", "--image")
        self.label = pick_tensor(view, label, "ClassLabel", "--label")
        self.ext = view.formats[self.image].ext
        self.names = list(view.formats[self.label].type.names)
        for name in self.names:
            if not _usable_name(name):
                raise ConfigError(f"--label {self.label!r}: class name {name!r} cannot be a folder name")
        self.class_ids = {name: i for i, name in enumerate(self.names)}
        self.split_key = split
        self.split_at = split_at
        self.split_names: list[str] | None = None  # --split KEY of a ClassLabel: its names
        if split is not None:
            if split not in view.formats or view.formats[split].type.kind not in ("Text", "ClassLabel"):
                kinds = [k for k in view.formats if view.formats[k].type.kind in ("Text", "ClassLabel")]
                raise ConfigError(f"--split {split!r}: not a Text or ClassLabel tensor; candidates: {', '.join(kinds)}")
            if view.formats[split].type.kind == "ClassLabel":
                self.split_names = list(view.formats[split].type.names)
        if split is not None and split in (self.image, self.label):
            raise ConfigError(f"--split {split!r} is the image or the label tensor")
        if split_at is not None and split_at < 0:
            raise ConfigError(f"--split-at {split_at}: must be 0 or more")
        self.on_change: Callable[[str], None] = lambda path: None  # set by the mount to invalidate caches
        view.on_change = self._view_changed
        self.new_files: dict[int, tuple[str, int]] = {}  # fh of a file being written -> its (split, class)
        self.landed: set[int] = set()  # fhs of new files that became samples and are still open
        self.aliases: OrderedDict[str, int] = OrderedDict()  # path a tool wrote a new file under -> index
        self._generation = view.generation
        self._index()

    # -- the index: sample -> (split, class), (split, class) -> sorted indices ------------------------------
    def _index(self) -> None:
        ds = self.ds
        n = len(ds)
        self.place: dict[int, tuple[str, int]] = {}
        self.members: dict[tuple[str, int], list[int]] = {}
        shown = [i for i in range(n) if ds.has_value(self.label, i) and ds.has_value(self.image, i)]
        labels = ds.read_many(self.label, shown) if shown else []
        splits = self._split_values(shown)
        for i, label, split in zip(shown, labels, splits):
            if split is not None and 0 <= int(label) < len(self.names):
                self._put(i, split, int(label))

    def _split_values(self, indices: list[int]) -> list[str | None]:
        if self.split_at is not None:
            return [SPLITS[i >= self.split_at] for i in indices]
        if self.split_key is None:
            return [""] * len(indices)
        have = [i for i in indices if self.ds.has_value(self.split_key, i)]
        values = dict(zip(have, self.ds.read_many(self.split_key, have) if have else []))
        out: list[str | None] = []
        for i in indices:
            v = values.get(i)
            if v is not None and self.split_names is not None:
                v = self.split_names[int(v)] if 0 <= int(v) < len(self.split_names) else None
            out.append(str(v) if v is not None and _usable_name(str(v)) else None)
        return out

    def _put(self, i: int, split: str, cls: int) -> None:
        self.place[i] = (split, cls)
        bisect.insort(self.members.setdefault((split, cls), []), i)

    def _take(self, i: int) -> None:
        where = self.place.pop(i)
        group = self.members[where]
        del group[bisect.bisect_left(group, i)]
        if not group:
            del self.members[where]

    def splits(self) -> list[str]:
        """The split folders: train and val (--split-at), the split tensor's values that samples have."""
        if self.split_at is not None:
            return list(SPLITS)
        if self.split_names is not None:
            return [s for s in self.split_names if any(k[0] == s for k in self.members)]
        return sorted({split for split, _ in self.members})

    def _has_splits(self) -> bool:
        return self.split_key is not None or self.split_at is not None

    def folder(self, split: str, cls: int) -> str:
        return (f"/{split}" if split else "") + f"/{self.names[cls]}"

    def path_of(self, i: int) -> str:
        split, cls = self.place[i]
        return f"{self.folder(split, cls)}/{i}.{self.ext}"

    def _view_changed(self, path: str) -> None:
        """The view changed a sample file: invalidate the class folder it is shown in."""
        head = path.strip("/").split("/", 1)[0]
        index = self.view.sample_index(head) if head else None
        self.on_change(self.path_of(index) if index in self.place else path if index is None else "/")

    # -- the View's state, as the mount sees it -------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self.view.read_only

    @property
    def handles(self) -> dict[int, Handle]:
        return self.view.handles

    @property
    def log_path(self) -> str | None:
        return self.view.log_path

    @log_path.setter
    def log_path(self, value: str | None) -> None:
        self.view.log_path = value

    @property
    def refresh_requested(self) -> bool:
        return self.view.refresh_requested

    @refresh_requested.setter
    def refresh_requested(self, value: bool) -> None:
        self.view.refresh_requested = value

    def note_error(self, message: str) -> None:
        self.view.note_error(message)

    def status(self) -> dict:
        return self.view.status()

    def poll(self) -> None:
        """As ``View.poll``; after a refresh the index is rebuilt and every class folder invalidated."""
        self.view.poll()
        if self.view.generation != self._generation:
            self._generation = self.view.generation
            before = set(self.members)
            self._index()
            for split, cls in before | set(self.members):
                self.on_change(self.folder(split, cls))
            self.on_change("/")

    # -- paths ---------------------------------------------------------------------------------------
    def resolve(self, path: str) -> Place:
        """What ``path`` names; ENOENT for anything else (a sample shown in another class included)."""
        parts = [p for p in path.split("/") if p]
        if not parts:
            return Place("root")
        if parts[0] == META_DIR:
            self.view.resolve(path)
            return Place("meta", path=path)
        split = ""
        if self._has_splits():
            split = parts.pop(0)
            if not (split in self.splits() or self.split_names is not None and split in self.split_names):
                raise _error(errno.ENOENT, f"{path}: no split {split!r}")
            if not parts:
                return Place("split", split)
        cls = self.class_ids.get(parts[0])
        if cls is None:
            raise _error(errno.ENOENT, f"{path}: no class {parts[0]!r}; classes are {self.names}")
        if len(parts) == 1:
            return Place("class", split, cls)
        if len(parts) == 2:
            stem, dot, ext = parts[1].rpartition(".")
            index = self.view.sample_index(stem) if dot and ext == self.ext else None
            if index is not None and self.place.get(index) == (split, cls):
                return Place("file", split, cls, index)
            fpath = self.folder(split, cls) + "/" + parts[1]
            if any(h.path == fpath for h in self._writing()):
                return Place("new", split, cls, path=fpath)
            index = self.aliases.get(fpath)
            if index is not None and self.place.get(index) == (split, cls):
                return Place("file", split, cls, index)
        raise _error(errno.ENOENT, path)

    def _writing(self) -> Iterator[Handle]:
        return (self.view.handles[fh] for fh in self.new_files)

    def _sample_path(self, place: Place) -> str:
        """The view's path of what ``place`` names: the sample's image file, or the .hubfs/ path."""
        return self.view.path_of(self.image, place.index) if place.kind == "file" else place.path

    def _new_handle(self, place: Place) -> Handle:
        return next(h for h in self._writing() if h.path == place.path)

    # -- stat and listings ---------------------------------------------------------------------------
    def stat(self, path: str, fh: int | None = None) -> dict:
        if fh is not None and fh in self.view.handles:
            return self.view.stat(path, fh)
        place = self.resolve(path)
        if place.kind == "root":
            return self.view.dir_attrs(len(self.splits()) if self._has_splits() else len(self._classes("")))
        if place.kind == "split":
            return self.view.dir_attrs(len(self._classes(place.split)))
        if place.kind == "class":
            return self.view.dir_attrs(0)
        if place.kind == "new":
            return self.view.stat(path, self._new_handle(place).fh)
        return self.view.stat(self._sample_path(place))

    def _classes(self, split: str) -> list[int]:
        """Classes with samples in ``split``, in label order (empty class folders are reachable, not listed)."""
        return sorted(cls for s, cls in self.members if s == split)

    def listdir(self, path: str, offset: int = 0) -> Iterator[tuple[str, dict, int]]:
        """(name, attributes, next offset) from ``offset`` on; a class folder's files cost no image read."""
        place = self.resolve(path)
        if place.kind == "meta":
            return self.view.listdir(path, offset)
        if not place.is_dir:
            raise _error(errno.ENOTDIR, path)
        here = self.stat(path)
        entries: list[tuple[str, Callable[[], dict]]] = [(".", lambda: here), ("..", lambda: self.view.dir_attrs(0))]
        if place.kind == "root" and self._has_splits():
            entries += [(s, lambda s=s: self.stat("/" + s)) for s in self.splits()]
        elif place.kind in ("root", "split"):
            entries += [(self.names[c], lambda: self.view.dir_attrs(0)) for c in self._classes(place.split)]
        else:
            indices = self.members.get((place.split, place.cls), [])
            entries += [(f"{i}.{self.ext}", lambda i=i: self.view.stat(self.view.path_of(self.image, i)))
                        for i in indices]
            folder = self.folder(place.split, place.cls) + "/"
            entries += [(h.path[len(folder):], lambda h=h: self.view.stat(h.path, h.fh))
                        for h in self._writing() if h.path.startswith(folder)]
        return ((name, attrs(), n + 1) for n, (name, attrs) in enumerate(entries) if n >= offset)

    def statfs(self) -> dict:
        return self.view.statfs()

    # -- files ---------------------------------------------------------------------------------------
    def open(self, path: str, flags: int) -> Handle:
        try:
            place = self.resolve(path)
        except FileNotFoundError:
            if (flags & os.O_ACCMODE) != os.O_RDONLY:  # the kernel still holds the name of a file that never
                return self.create(path, flags)  # became a sample, and strips O_CREAT: write it anew
            raise
        if place.is_dir:
            raise _error(errno.EISDIR, path)
        if place.kind == "new":
            raise _error(errno.EBUSY, f"{path}: still being written; it becomes a sample when closed")
        return self.view.open(self._sample_path(place), flags)

    def cacheable(self, path: str) -> bool:
        """Never: on a writable mount every open of the class view reads its own snapshot (direct I/O)."""
        return False

    def create(self, path: str, flags: int = os.O_WRONLY) -> Handle:
        """A new name in a class folder: a file that becomes a new sample of that class when closed."""
        parent, _, name = path.rstrip("/").rpartition("/")
        folder = self.resolve(parent or "/")
        if folder.kind == "meta":
            return self.view.create(path, flags)
        if folder.kind != "class":
            raise _error(errno.EROFS if self.read_only else errno.EPERM,
                         f"{path}: files are created only in class folders")
        try:
            self.resolve(path)
        except FileNotFoundError:
            pass
        else:
            if flags & os.O_EXCL:
                raise _error(errno.EEXIST, path)
            return self.open(path, flags if flags & os.O_ACCMODE else flags | os.O_WRONLY)
        if self.read_only:
            raise _error(errno.EROFS, f"{path}: the mount is read-only")
        if self.split_at is not None and folder.split != SPLITS[-1]:
            raise _error(errno.EPERM, f"{path}: a new sample takes the next index, which is in {SPLITS[-1]}/")
        if not _usable_name(name):
            raise _error(errno.EINVAL, path)
        self.aliases.pop(path, None)
        h = self.view.add_handle(Node("new", -1, self.image), path, b"", True, bool(flags & os.O_APPEND))
        self.new_files[h.fh] = (folder.split, folder.cls)
        return h

    def read(self, fh: int, size: int, offset: int) -> bytes:
        return self.view.read(fh, size, offset)

    def read_path(self, path: str, size: int, offset: int) -> bytes:
        place = self.resolve(path)
        if place.is_dir:
            raise _error(errno.EISDIR, path)
        return self.view.read_path(self._sample_path(place), size, offset)

    def write(self, fh: int, data: bytes, offset: int) -> int:
        return self.view.write(fh, data, offset)

    def truncate(self, path: str, length: int, fh: int | None = None) -> None:
        if fh is None or fh not in self.view.handles:
            place = self.resolve(path)
            if place.is_dir:
                raise _error(errno.EISDIR, path)
            if place.kind == "new":
                fh = self._new_handle(place).fh
            else:
                return self.view.truncate(self._sample_path(place), length)
        self.view.truncate(path, length, fh)

    def _append(self, h: Handle) -> None:
        """A new file's bytes become a new sample: decoded first (EINVAL: nothing stored), then the image,
        label (and split value) written together, the length restored if any write fails. The handle then
        is the new sample's file; the name the tool used stays reachable as an alias of it."""
        split, cls = self.new_files[h.fh]
        n = len(self.ds)
        self.view.formats[self.image].decode(bytes(h.data), n)
        self.ds.append_shape(1)
        try:
            sample = Handle(0, Node("file", n, self.image), h.path, bytes(h.data), True, False)
            sample.dirty = True
            self.view.commit(sample)
            self.ds[self.label, n] = cls
            if self.split_key is not None:
                self.ds[self.split_key, n] = split if self.split_names is None else self.split_names.index(split)
        except BaseException:
            self.ds.resize_shape(n)
            raise
        del self.new_files[h.fh]
        h.node = Node("file", n, self.image)
        h.data[:] = self.view.file_bytes(self.image, n)  # the file now: fstat and reads agree with the folder's
        h.dirty = False
        self.landed.add(h.fh)
        self._put(n, split, cls)
        self.aliases[h.path] = n
        while len(self.aliases) > ALIASES:
            self.aliases.popitem(last=False)
        # The class folder is invalidated at the last close (release), not here: an invalidation while the
        # new file is open unhashes the folder's entry, a later one then finds nothing to drop, and the
        # kernel's next walk brings the folder back with the open file's written size still cached.
        self.on_change(f"/{META_DIR}/info.json")

    def flush(self, fh: int) -> None:
        h = self.view.handle(fh)
        if fh in self.new_files:
            if h.written:
                self._append(h)
            return
        self.view.flush(fh)

    def fsync(self, fh: int) -> None:
        if fh in self.new_files:
            self._append(self.view.handle(fh))  # fails whenever the close would (also with no bytes)
        self.view.fsync(fh)

    def release(self, fh: int) -> None:
        if fh in self.new_files:  # never written, or its bytes did not decode: no sample, the name goes
            h = self.view.handles.pop(fh)
            del self.new_files[fh]
            self.on_change(h.path)
            return
        path = self.view.handle(fh).path
        self.view.release(fh)
        if fh in self.landed:  # the kernel holds the size the tool wrote: have it look the name up again
            self.landed.discard(fh)
            self.on_change(path)

    def sync(self) -> None:
        """Append every written new file that decodes, then ``View.sync`` (unmount calls this)."""
        failed = None
        for fh in list(self.new_files):
            h = self.view.handles[fh]
            if h.written:
                try:
                    self._append(h)
                except ValueError as exc:
                    failed = exc
        self.view.sync()
        if failed is not None:
            raise failed

    # -- folders, removal, relabelling ---------------------------------------------------------------
    def _writable(self, path: str) -> None:
        if self.read_only:
            raise _error(errno.EROFS, f"{path}: the mount is read-only")

    def mkdir(self, path: str) -> None:
        """Every class folder exists (an empty one is reachable, not listed): EEXIST; anything else EPERM."""
        try:
            self.resolve(path)
        except FileNotFoundError:
            self._writable(path)
            raise _error(errno.EPERM, f"{path}: class folders are the ClassLabel's classes") from None
        raise _error(errno.EEXIST, path)

    def rmdir(self, path: str) -> None:
        place = self.resolve(path)
        if not place.is_dir:
            raise _error(errno.ENOTDIR, path)
        self._writable(path)
        raise _error(errno.EPERM, f"{path}: class and split folders come from the schema")

    def unlink(self, path: str) -> None:
        """Samples cannot be removed from a dataset: EPERM (EROFS when read-only)."""
        place = self.resolve(path)
        if place.kind == "meta":
            return self.view.unlink(path)
        if place.is_dir:
            raise _error(errno.EISDIR, path)
        self._writable(path)
        if place.kind == "new":
            raise _error(errno.EBUSY, f"{path}: still being written")
        raise _error(errno.EPERM, f"{path}: samples cannot be removed from the dataset; move the file to "
                                  f"relabel it")

    def rename(self, old: str, new: str, flags: int = 0) -> None:
        """Moving a sample's file to another class folder relabels the sample (and to another split folder
        of --split KEY, writes its split); the file is then shown as <index>.<ext>, the new name stays an
        alias of it. Onto another sample's file: EPERM (samples cannot be removed)."""
        self._writable(old)
        if flags & RENAME_EXCHANGE or flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE):
            raise _error(errno.EINVAL, f"rename {old} -> {new}: only plain and no-replace renames are supported")
        src = self.resolve(old)
        if src.kind == "meta":
            return self.view.rename(old, new, flags)
        if src.kind == "new":
            raise _error(errno.EBUSY, f"{old}: still being written")
        if src.kind != "file":
            raise _error(errno.EPERM, f"{old}: class and split folders cannot be moved")
        parent, _, name = new.rstrip("/").rpartition("/")
        folder = self.resolve(parent or "/")
        if folder.kind != "class":
            raise _error(errno.EPERM, f"{new}: files live only in class folders")
        try:
            dst = self.resolve(new)
        except FileNotFoundError:
            dst = None
        if dst is not None:
            if dst.kind == "file" and dst.index == src.index:
                if new != old:
                    self.aliases[new] = src.index
                return
            if flags & RENAME_NOREPLACE:
                raise _error(errno.EEXIST, new)
            raise _error(errno.EPERM, f"{new}: another sample's file; samples cannot be removed")
        if folder.split != src.split and self.split_at is not None:
            raise _error(errno.EPERM, f"{new}: with --split-at the index decides the split")
        if not _usable_name(name):
            raise _error(errno.EINVAL, new)
        i = src.index
        if (folder.split, folder.cls) != (src.split, src.cls):
            self.ds[self.label, i] = folder.cls
            if folder.split != src.split:
                self.ds[self.split_key, i] = (folder.split if self.split_names is None
                                              else self.split_names.index(folder.split))
            self._take(i)
            self._put(i, folder.split, folder.cls)
            self.on_change(self.folder(src.split, src.cls))
            self.on_change(self.folder(folder.split, folder.cls))
        self.aliases.pop(old, None)
        if name != f"{i}.{self.ext}":
            self.aliases[new] = i
