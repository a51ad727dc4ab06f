"""Versions of a dataset: commits, branches, and stores that read any commit as it was.

Layout (all under the dataset's root, beside its tensors; doc/DESIGN.md says why):

    .hubfs/versions/branches/<name>.json   a branch: its working tree, its head id, its last commit
    .hubfs/versions/commits/<id>.json      a commit record (zlib-compressed JSON): parent, branch, message, time, and the
                                           manifest {key: [holder, token]} of every object of the version
    .hubfs/versions/objects/<holder>/<key> the bytes of ``key`` as commit ``holder`` saw them (immutable)
    .hubfs/versions/trees/<tree>/...       the working tree of a branch other than the default one: a
                                           complete zarr v3 group of its own

The default branch's working tree is the dataset's root itself, so a dataset that never committed is
exactly what it was before versions existed and every branch head is a standard zarr v3 group.

A commit compares each object's store token (``Store.tokens``: inode or ETag or MD5) with the one its
parent recorded; only changed objects are copied into ``objects/<id>/`` (a hard link on local disks, a
server-side copy on object stores), unchanged ones keep pointing at an older holder. The commit record
is written last, with one conditional create: that write is the commit. The branch document is then
moved on; a reader that finds a record for the branch's head id knows the move was interrupted and
steps on (``successor``), so a crash anywhere leaves either the old version or the new one.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import re
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hubfs.codecs import registry
from hubfs.dataset import layout
from hubfs.dataset.lock import is_lock_key
from hubfs.dataset.stores import Store
from hubfs.errors import AddressNotFound, CorruptionError, ReadOnlyError, VersionError

DEFAULT_BRANCH = "master"  # Hub 1.x's name
ROOT = ".hubfs/versions"
BRANCHES = f"{ROOT}/branches"
COMMITS = f"{ROOT}/commits"
OBJECTS = f"{ROOT}/objects"
TREES = f"{ROOT}/trees"
_ZLIB = b"\x78\x9c"  # zlib's header at level 6: what a compressed record starts with
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,99}$")


def new_id() -> str:
    """A commit id as Hub 1.x made them: 40 hex digits."""
    return hashlib.sha1(uuid.uuid4().bytes).hexdigest()


def successor(commit_id: str) -> str:
    """The id of the working version that follows a commit (derived, so a reader can step past an
    interrupted branch update without any other record)."""
    return hashlib.sha1(f"{commit_id}/next".encode()).hexdigest()


def check_branch_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith(".json"):
        raise ValueError(f"branch name {name!r}: use letters, digits, '.', '_' and '-' (at most 100)")
    return name


@dataclass
class Branch:
    name: str
    tree: str  # "" for the default branch (the root), else TREES/<id>
    head: str  # the id of its working (uncommitted) version
    parent: str | None  # its newest commit

    def doc(self) -> bytes:
        return json.dumps({"branch": self.name, "tree": self.tree, "head": self.head,
                           "parent": self.parent}).encode()


@dataclass
class Commit:
    id: str
    parent: str | None
    branch: str
    message: str
    time: float
    user: str
    length: int
    manifest: dict[str, list] = field(repr=False)  # key -> [holder id, token]

    def info(self) -> dict:
        return {"commit": self.id, "parent": self.parent, "branch": self.branch, "message": self.message,
                "time": self.time, "user": self.user, "length": self.length}

    def __str__(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))
        return f'commit {self.id} ({self.branch}) \nAuthor: {self.user}\nCommit Time:  {when}\nMessage: "{self.message}"'


@dataclass
class Position:
    """Where a dataset object is: at a branch's working head (writable) or at a commit (read-only)."""
    branch: str
    commit_id: str
    tree: str | None  # the working tree's prefix at a head; None at a commit
    commit: Commit | None  # the record at a commit


class Versions:
    """The version records of the dataset in ``store`` (its root)."""

    def __init__(self, store: Store):
        self.store = store
        self._commits: dict[str, Commit] = {}  # records are immutable: cached for good

    # -- reading ------------------------------------------------------------------------------------
    def _json(self, key: str, what: str) -> dict | None:
        raw = self.store.get(key)
        if raw is None:
            return None
        try:
            if raw[:2] == _ZLIB:  # a commit record: its manifest lists every object, so it is compressed
                raw = zlib.decompress(raw)
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            return doc
        except (ValueError, zlib.error) as exc:
            raise CorruptionError(f"dataset at {self.store.url}: {what} {key!r} is damaged ({exc}); other "
                                  f"versions are still readable", key=key) from exc

    def commit(self, commit_id: str) -> Commit | None:
        """The record of a commit, or None when ``commit_id`` was never committed."""
        if commit_id in self._commits:
            return self._commits[commit_id]
        key = f"{COMMITS}/{commit_id}.json"
        doc = self._json(key, "version record")
        if doc is None:
            return None
        try:
            manifest = doc["manifest"]
            record = Commit(str(doc["commit"]), doc.get("parent"), str(doc["branch"]), str(doc.get("message", "")),
                            float(doc["time"]), str(doc.get("user", "")), int(doc["length"]), manifest)
            if record.id != commit_id or not isinstance(manifest, dict) or layout.ZARR_JSON not in manifest:
                raise ValueError("it describes another commit or holds no root document")
            for entry in manifest.values():
                if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
                    raise ValueError("a manifest entry is not [holder, token]")
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptionError(f"dataset at {self.store.url}: version record {key!r} is damaged ({exc}); "
                                  f"other versions are still readable", key=key) from exc
        self._commits[commit_id] = record
        return record

    def branch(self, name: str) -> Branch | None:
        """The branch ``name`` as it stands (None when there is none); the default branch exists always."""
        doc = self._json(f"{BRANCHES}/{name}.json", "branch record")
        if doc is None:
            return Branch(DEFAULT_BRANCH, "", "", None) if name == DEFAULT_BRANCH else None
        try:
            b = Branch(str(doc["branch"]), str(doc["tree"]), str(doc["head"]), doc.get("parent"))
        except (KeyError, TypeError) as exc:
            raise CorruptionError(f"dataset at {self.store.url}: branch record {name!r} is damaged ({exc})",
                                  key=f"{BRANCHES}/{name}.json") from exc
        while b.head and self.commit(b.head) is not None:  # a commit whose branch update was interrupted
            b.parent, b.head = b.head, successor(b.head)
        return b

    def branches(self) -> list[str]:
        names = {k.rsplit("/", 1)[1][:-len(".json")] for k in self.store.list(BRANCHES) if k.endswith(".json")}
        return sorted(names | {DEFAULT_BRANCH})

    def ensure_default(self) -> Branch:
        """The default branch, recorded (with a head id) the first time versions are used for writing."""
        b = self.branch(DEFAULT_BRANCH)
        if not b.head:
            b.head = new_id()
            if not self.store.put_if_absent(f"{BRANCHES}/{DEFAULT_BRANCH}.json", b.doc()):
                b = self.branch(DEFAULT_BRANCH)
        return b

    def resolve(self, address: str) -> Position:
        """A branch name or a commit id (a commit, or the working head of a branch) -> where it is."""
        b = self.branch(address) if _NAME.match(address or "") else None
        if b is not None:
            return Position(b.name, b.head, b.tree, None)
        record = self.commit(address) if re.fullmatch(r"[0-9a-f]{40}", address or "") else None
        if record is not None:
            return Position(record.branch, record.id, None, record)
        for name in self.branches():  # the working head's id, as checkout() returned it
            b = self.branch(name)
            if b.head == address:
                return Position(b.name, b.head, b.tree, None)
        raise AddressNotFound(f"dataset at {self.store.url}: no branch or commit {address!r}; branches are "
                              f"{self.branches()}")

    def history(self, commit_id: str | None) -> list[Commit]:
        """Commits from ``commit_id`` back to the first, newest first."""
        out = []
        while commit_id:
            record = self.commit(commit_id)
            if record is None:
                break
            out.append(record)
            commit_id = record.parent
        return out

    def all_commits(self) -> list[Commit]:
        ids = [k.rsplit("/", 1)[1][:-len(".json")] for k in self.store.list(COMMITS) if k.endswith(".json")]
        records = []
        for commit_id in ids:
            try:
                record = self.commit(commit_id)
            except CorruptionError:
                continue  # listed as damaged by whoever reads it; the others stay readable
            if record is not None:
                records.append(record)
        return sorted(records, key=lambda r: r.time)

    # -- the objects of a version ------------------------------------------------------------------------
    def tree_tokens(self, tree: str, top: list[str]) -> dict[str, str]:
        """Tokens of every object of a working tree, keyed relative to the tree. The root tree is listed
        by its top-level tensor groups, so the version records beside them are never walked."""
        if tree:
            found = self.store.tokens(tree)
            return {k[len(tree) + 1:]: t for k, t in found.items() if not is_lock_key(k[len(tree) + 1:])}
        out = {}
        for group in sorted(set(top)):
            out.update(self.store.tokens(group))
        root = self.store.size(layout.ZARR_JSON)
        if root is not None:
            out[layout.ZARR_JSON] = ""  # always copied: it is small, and it says what the version is
        return out

    def seal(self, b: Branch, message: str, length: int, top: list[str]) -> str:
        """Commit the working tree of branch ``b`` (flushed, its writer lock held): copy what changed
        since its last commit, write the record (the commit), move the branch on. Returns the id."""
        commit_id = b.head
        parent = self.commit(b.parent) if b.parent else None
        before = parent.manifest if parent else {}
        manifest: dict[str, list] = {}
        prefix = f"{b.tree}/" if b.tree else ""
        for key, token in self.tree_tokens(b.tree, top).items():
            old = before.get(key)
            if token and old is not None and old[1] == token:
                manifest[key] = old
                continue
            self.store.copy(prefix + key, f"{OBJECTS}/{commit_id}/{key}")
            manifest[key] = [commit_id, token]
        record = {"commit": commit_id, "parent": b.parent, "branch": b.name, "message": str(message),
                  "time": time.time(), "user": _user(), "length": int(length), "manifest": manifest}
        doc = zlib.compress(json.dumps(record, separators=(",", ":")).encode(), 6)
        if not self.store.put_if_absent(f"{COMMITS}/{commit_id}.json", doc):
            raise VersionError(f"dataset at {self.store.url}: commit {commit_id} of branch {b.name!r} was made "
                                f"by another writer")
        b.parent, b.head = commit_id, successor(commit_id)
        self.store.put(f"{BRANCHES}/{b.name}.json", b.doc())
        return commit_id

    def create_branch(self, name: str, source: Position, top: list[str]) -> Branch:
        """A new branch whose working tree starts as ``source`` (a working head, uncommitted changes
        included, or a commit): every object copied into a tree of its own (hard links / server-side
        copies), its root document last, then the branch record created (the step that makes it exist)."""
        check_branch_name(name)
        if self.branch(name) is not None:
            raise VersionError(f"dataset at {self.store.url}: branch {name!r} already exists")
        tree = f"{TREES}/{uuid.uuid4().hex[:16]}"
        if source.commit is not None:
            pairs = [(f"{OBJECTS}/{holder}/{key}", key) for key, (holder, _) in source.commit.manifest.items()]
            parent = source.commit.id
        else:
            prefix = f"{source.tree}/" if source.tree else ""
            pairs = [(prefix + key, key) for key in self.tree_tokens(source.tree or "", top)]
            parent = self.branch(source.branch).parent
        pairs.sort(key=lambda p: p[1] == layout.ZARR_JSON)  # the root document last
        for src, key in pairs:
            self.store.copy(src, f"{tree}/{key}")
        b = Branch(name, tree, new_id(), parent)
        if not self.store.put_if_absent(f"{BRANCHES}/{name}.json", b.doc()):
            self.store.delete_prefix(tree)
            raise VersionError(f"dataset at {self.store.url}: branch {name!r} already exists")
        return b


class CommitStore(Store):
    """A commit's objects as a read-only store: ``key`` reads ``objects/<holder>/<key>`` of the manifest."""

    remote = False

    def __init__(self, root: Store, record: Commit, url: str):
        super().__init__(url)
        self.root, self.record = root, record
        self.remote = root.remote
        self._where = {key: f"{OBJECTS}/{holder}/{key}" for key, (holder, _) in record.manifest.items()}
        self._keys = sorted(self._where)

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes | None:
        where = self._where.get(key)
        return None if where is None else self.root.get(where, start, end)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        where = self._where.get(key)
        if where is None:
            return super().get_range(key, start, end)
        return self.root.get_range(where, start, end)

    def size(self, key: str) -> int | None:
        where = self._where.get(key)
        return None if where is None else self.root.size(where)

    def list(self, prefix: str = "") -> list[str]:
        prefix = prefix.strip("/")
        return [k for k in self._keys if not prefix or k.startswith(prefix + "/")]

    def _refuse(self, key: str) -> ReadOnlyError:
        return ReadOnlyError(f"{self.url} is a commit: its objects never change (check out a branch to write)")

    def put(self, key: str, data: bytes) -> None:
        raise self._refuse(key)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        raise self._refuse(key)

    def delete(self, key: str) -> None:
        raise self._refuse(key)

    def forget(self, key: str) -> None:
        where = self._where.get(key)
        if where is not None:
            self.root.forget(where)

    def close(self) -> None:
        self.root.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def describe(record: Commit | None, b: Branch | None) -> dict[str, Any]:
    """What ``.hubfs/info.json`` and the CLI say about a position."""
    if record is not None:
        return {"branch": record.branch, "commit": record.id, "at_head": False, **record.info()}
    return {"branch": b.name, "commit": b.head, "at_head": True, "parent": b.parent}


# -- what differs between two versions -----------------------------------------------------------------
@dataclass
class _Side:
    """One version's objects as identities (equal identity = equal bytes) and a reader of its objects."""
    identity: dict[str, str]
    read: Any  # key -> bytes | None

    def attrs(self, url: str) -> dict:
        raw = self.read(layout.ZARR_JSON)
        try:
            return json.loads(raw)["attributes"]["hubfs"]
        except (TypeError, ValueError, KeyError) as exc:
            raise CorruptionError(f"dataset at {url}: the root document of a version does not parse",
                                  key=layout.ZARR_JSON) from exc


def _side(versions: Versions, at: Position) -> _Side:
    store = versions.store
    if at.commit is not None:
        where = {key: f"{OBJECTS}/{holder}/{key}" for key, (holder, _) in at.commit.manifest.items()}
        identity = {key: token or f"at:{where[key]}" for key, (_, token) in at.commit.manifest.items()}
        return _Side(identity, lambda key: store.get(where[key]) if key in where else None)
    prefix = f"{at.tree}/" if at.tree else ""
    read = lambda key: store.get(prefix + key)  # noqa: E731
    raw = read(layout.ZARR_JSON)
    top = []
    if raw is not None:
        schema = json.loads(raw).get("attributes", {}).get("hubfs", {}).get("schema", {})
        top = sorted({k.split("/", 1)[0] for k in _flat_keys(schema)})
    return _Side(versions.tree_tokens(at.tree or "", top), read)


def _flat_keys(schema: dict) -> list[str]:
    """The flat tensor keys of a stored schema document (its top level names tensors or nested dicts)."""
    return [str(k) for k in schema] if isinstance(schema, dict) else []


def diff(url: str, a: str, b: str, token: Any = None) -> dict:
    """``diff_positions`` of two addresses (branch names or commit ids) of the dataset at ``url``."""
    versions = open_versions(url, token)
    return diff_positions(versions, versions.resolve(a), versions.resolve(b), versions.store.url)


def open_versions(url: str, token: Any = None) -> Versions:
    """The version records of the dataset at ``url`` (a url or user/name)."""
    from hubfs.dataset import namespace
    from hubfs.dataset.stores import open_store

    return Versions(open_store(*namespace.resolve(url, token)))


def diff_positions(versions: Versions, a: Position, b: Position, url: str) -> dict:
    """Which samples of which tensors differ between two versions, from their manifests and store tokens
    (object identities), array metadata and a working head's live delta records only, never from sample
    data (but for the present masks' marks, a byte a sample, compared where their chunk differs). A sample
    is reported when the chunk or shard holding it (or its deltas) differs, so the list is exact at the
    storage layout's granularity and may include unchanged neighbours of a changed sample in the same
    chunk."""
    sa, sb = _side(versions, a), _side(versions, b)
    attrs_a, attrs_b = sa.attrs(url), sb.attrs(url)
    keys_a, keys_b = set(_flat_keys(attrs_a.get("schema", {}))), set(_flat_keys(attrs_b.get("schema", {})))
    la, lb = int(attrs_a.get("length", 0)), int(attrs_b.get("length", 0))
    changed: dict[str, set[int]] = {}
    common = sorted(keys_a & keys_b)

    def mark(tensor: str, array: str, number: int, side: _Side) -> None:
        size = layout.samples_per_chunk(side.read(f"{array}/{layout.ZARR_JSON}"))
        if size is not None:
            first = number * size
            changed.setdefault(tensor, set()).update(range(first, min(first + size, max(la, lb))))

    def mark_present(tensor: str, array: str, number: int, key: str) -> None:
        # A present mask's chunk covers thousands of samples at a byte each: the marks that differ say which.
        doc = f"{array}/{layout.ZARR_JSON}"
        ma, mb = (layout.mask_chunk(s.read(key) if key in s.identity else None, s.read(doc), lz4)
                  for s in (sa, sb))
        if ma is None or mb is None or len(ma) != len(mb):
            mark(tensor, array, number, sb if key in sb.identity else sa)
            return
        first = number * len(ma)
        changed.setdefault(tensor, set()).update(
            i for i in (first + np.flatnonzero(ma != mb)).tolist() if i < max(la, lb))

    lz4 = registry.get(layout.MASK_CODEC)
    for key in sorted(set(sa.identity) | set(sb.identity)):
        if key.endswith(layout.ZARR_JSON) or sa.identity.get(key) == sb.identity.get(key):
            continue
        tensor = layout.tensor_of(key, common)
        chunk = layout.sample_chunk(key, tensor) if tensor else None
        if chunk is not None and chunk[0] == f"{tensor}/present":
            mark_present(tensor, *chunk, key)
        elif chunk is not None:
            mark(tensor, *chunk, sb if key in sb.identity else sa)
    # A working head may hold live deltas (commits never do): a chunk whose records differ changed too.
    da, db = attrs_a.get("deltas") or {}, attrs_b.get("deltas") or {}
    for array in sorted(set(da) | set(db)):
        tensor = layout.tensor_of(array, common)
        ra, rb = da.get(array) or {}, db.get(array) or {}
        for number in sorted(set(ra) | set(rb)):
            if tensor and str(number).isdigit() and ra.get(number) != rb.get(number):
                mark(tensor, array, int(number), sb if number in rb else sa)
    for tensor in common:  # samples beyond the shorter length exist on one side only
        if la != lb:
            changed.setdefault(tensor, set()).update(range(min(la, lb), max(la, lb)))
    return {"length": [la, lb], "added": sorted(keys_b - keys_a), "removed": sorted(keys_a - keys_b),
            "changed": {t: sorted(v) for t, v in sorted(changed.items()) if v}}
