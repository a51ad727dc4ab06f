"""The FUSE boundary: one thin mfusepy ``Operations`` class over ``View``, and ONE errno table.

Every handler has the same shape: call the view, and on error turn the exception into an errno through
``errno_of`` (mfusepy would turn anything else into EINVAL: we never rely on that). Tuning follows the
measurements in doc/DESIGN.md ("Facts the hot paths rely on"): libfuse 3, one thread, long attribute and
entry timeouts (invalidated when the mount changes a sample), readdir returning attributes with real
offsets, a 1 MiB ``st_blksize`` and read-ahead, no xattr handlers at all. Read-only mounts keep pages across
opens and need no open/flush/release up-calls; writable ones keep pages too, and invalidate exactly the files
they change (files being written, or just changed, are opened with direct I/O meanwhile). The FUSE loop is
run here (``_serve_loop``) so that no invalidation can be in flight when libfuse frees its path table.
See doc/SEMANTICS.md.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import logging
import os
import queue
import threading
from typing import Any, Callable

os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")  # mfusepy loads libfuse 2 when both are installed

import mfusepy  # noqa: E402

from hubfs.errors import (CodecError, ConfigError, CorruptionError, DatasetClosedError, DatasetNotFoundError,  # noqa: E402
                          IndexOutOfRangeError, LockedError, ReadOnlyError, SampleError, SchemaError,
                          StoreError, TensorNotFoundError)
from hubfs.fuse.view import View  # noqa: E402

log = logging.getLogger("hubfs.fuse")

CACHE_TIMEOUT = 300.0  # seconds the kernel trusts attributes and names; changes made here invalidate them
READ_AHEAD = 1 << 20
RENAME_SETTLE = 0.05  # seconds after a rename before its new name is invalidated again (see rename)
FUSE_ROOT_ID = 1  # the node id libfuse gives the mount's root
FUSE_CAP_ATOMIC_O_TRUNC = 1 << 3  # open(O_TRUNC) arrives as one open, not setattr(size=0) + open
FUSE_CAP_READDIRPLUS = 1 << 13
FUSE_CAP_READDIRPLUS_AUTO = 1 << 14
FUSE_CAP_AUTO_INVAL_DATA = 1 << 12  # a changed mtime or size seen in fresh attributes drops the file's pages
STOP_WAIT = 5.0  # seconds the end of the loop waits for the invalidator to finish its notification
FUSE_READDIR_PLUS = 1 << 0
FUSE_FILL_DIR_PLUS = 1 << 1

# The one errno table: the first class an exception is an instance of gives its errno. Hubfs errors come
# first because several also subclass OSError (ReadOnlyError is a PermissionError with errno None).
ERRNO_TABLE: tuple[tuple[type[BaseException], int], ...] = (
    (ReadOnlyError, errno.EROFS),
    (CorruptionError, errno.EIO),  # stored bytes fail their checksum: never EINVAL (that is bad input)
    (StoreError, errno.EIO),
    (DatasetClosedError, errno.EIO),
    (LockedError, errno.EAGAIN),
    (TensorNotFoundError, errno.ENOENT),
    (IndexOutOfRangeError, errno.ENOENT),
    (DatasetNotFoundError, errno.ENOENT),
    (SampleError, errno.EINVAL),
    (CodecError, errno.EINVAL),
    (SchemaError, errno.EINVAL),
    (ConfigError, errno.EINVAL),
    (NotImplementedError, errno.ENOTSUP),
    (MemoryError, errno.ENOMEM),
)


# Answers that are part of ordinary use (a probe for a missing name, mkdir -p of a sample): not kept as refusals.
QUIET = frozenset({errno.ENOENT, errno.EEXIST})


def errno_of(exc: BaseException) -> int:
    """The errno an exception becomes at the FUSE boundary; EIO for anything unexpected."""
    for cls, code in ERRNO_TABLE:
        if isinstance(exc, cls):
            return code
    if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0:
        return exc.errno  # the view's own refusals carry their errno
    return errno.EIO


def _translated(method: Callable) -> Callable:
    """Run a handler; turn its exception into ``FuseOSError(errno_of(exc))``, logged once."""

    def handler(self: "Operations", *args: Any) -> Any:
        try:
            self.view.poll()
            return method(self, *args)
        except mfusepy.FuseOSError:
            raise  # a deliberate answer (ENOSYS), not an error
        except Exception as exc:
            code = errno_of(exc)
            level = logging.DEBUG if code in QUIET else logging.WARNING
            name = errno.errorcode.get(code, code)
            log.log(level, "%s%r -> %s: %s", method.__name__, args[:1], name, exc, exc_info=code == errno.EIO)
            if code not in QUIET:
                path = args[0] if args and isinstance(args[0], str) else "?"
                self.view.note_error(f"{method.__name__} {path}: {name}: {exc}")
            raise mfusepy.FuseOSError(code) from exc

    handler.__name__ = method.__name__
    handler.__doc__ = method.__doc__
    return handler


def _refuse(code: int, what: str) -> Callable:
    def handler(self: "Operations", *args: Any) -> Any:
        raise mfusepy.FuseOSError(errno.EROFS if self.view.read_only else code)

    handler.__name__ = what
    handler.__doc__ = f"{what} makes no sense in a dataset's view: {errno.errorcode[code]} (EROFS when read-only)."
    return handler


class Operations(mfusepy.Operations):
    """Translates FUSE up-calls to ``View`` calls; holds no logic of its own beyond cache flags."""

    use_ns = True  # the view's times are integer nanoseconds

    def __init__(self, view: View, on_ready: Callable[[], None] | None = None):
        self.view = view
        self.on_ready = on_ready
        self._invalidations: queue.Queue[str | None] = queue.Queue()
        self._fuse_ptr: int | None = None
        self._invalidator: threading.Thread | None = None
        self._notifying = False
        # path -> invalidations queued and not yet sent: opens of such a file take a snapshot (direct I/O),
        # since the kernel may still hold its old size and pages.
        self._unsettled: dict[str, int] = {}
        self._unsettled_lock = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------------------
    def init_with_config(self, conn: Any, config: Any) -> None:
        if config is not None:
            config.entry_timeout = config.attr_timeout = CACHE_TIMEOUT
            config.negative_timeout = 0.0  # a created file or appended sample must be found at once
            config.kernel_cache = 1  # keep pages across opens (writable mounts open files direct_io: _opened)
            config.no_rofd_flush = 1  # read-only closes need no flush up-call
        if conn is not None:
            conn.max_readahead = READ_AHEAD
            want = conn.want | (conn.capable & (FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_READDIRPLUS | FUSE_CAP_AUTO_INVAL_DATA))
            conn.want = want & ~FUSE_CAP_READDIRPLUS_AUTO & 0xFFFFFFFF  # always readdirplus: no lookups for ls -l
        # Invalidations are sent from their own thread: sent from an up-call they can deadlock the kernel.
        self._fuse_ptr = mfusepy._libfuse.fuse_get_context().contents.fuse
        self._notifying = True
        self.view.on_change = self._changed
        self._invalidator = threading.Thread(target=self._invalidate_loop, name="hubfs-invalidate", daemon=True)
        self._invalidator.start()
        if self.on_ready is not None:
            self.on_ready()

    def _changed(self, path: str) -> None:
        """The view changed ``path``: queue its invalidation; until it is sent, opens of it are snapshots."""
        with self._unsettled_lock:
            self._unsettled[path] = self._unsettled.get(path, 0) + 1
        self._invalidations.put(path)

    def _settled(self, paths: list[str]) -> None:
        with self._unsettled_lock:
            for path in paths:
                left = self._unsettled.get(path, 0) - 1
                if left > 0:
                    self._unsettled[path] = left
                else:
                    self._unsettled.pop(path, None)

    def _invalidate_loop(self) -> None:
        """Send the kernel-cache invalidations the view asks for, from this thread (sent from an up-call, a
        page invalidation waits for pages whose reads that up-call's thread would have to answer).

        Each changed file loses its attributes and pages (``fuse_invalidate_path``: libfuse's path table
        gives its node id), so a reader that already walked to it reads its new size, and every page read
        after the change is of the new value. Its top-level entry under the root is invalidated too (the
        root's node id is fixed): the kernel looks the sample folder up again, so names that came or went
        show. ``fuse_invalidate_path`` reads libfuse's path table, which ``fuse_destroy`` frees: the loop
        that runs FUSE (``_serve_loop``) stops this thread before it, and destroy stops it again.
        """
        lib = mfusepy._libfuse
        session = lib.fuse_get_session
        session.argtypes, session.restype = (ctypes.c_void_p,), ctypes.c_void_p
        inval_path = lib.fuse_invalidate_path
        inval_path.argtypes, inval_path.restype = (ctypes.c_void_p, ctypes.c_char_p), ctypes.c_int
        inval_entry = lib.fuse_lowlevel_notify_inval_entry
        inval_entry.argtypes = (ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t)
        inval_inode = lib.fuse_lowlevel_notify_inval_inode
        inval_inode.argtypes = (ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int64, ctypes.c_int64)
        exited = lib.fuse_session_exited
        exited.argtypes = (ctypes.c_void_p,)
        se = session(self._fuse_ptr)
        while True:
            paths = [self._invalidations.get()]
            while not self._invalidations.empty():  # one notification per sample folder, however many files
                paths.append(self._invalidations.get_nowait())
            if None in paths:  # stop
                return
            tops = dict.fromkeys(p.strip("/").split("/", 1)[0] for p in paths)
            for path in dict.fromkeys(paths):  # -ENOENT when the kernel holds no such node: fine
                if not self._notifying or exited(se):  # the loop has ended: libfuse is being torn down
                    return
                if path.strip("/"):
                    inval_path(self._fuse_ptr, path.encode())
            for top in tops:
                if not self._notifying or exited(se):
                    return
                if top:
                    name = top.encode()
                    inval_entry(se, FUSE_ROOT_ID, name, len(name))
                else:
                    inval_inode(se, FUSE_ROOT_ID, 0, 0)
            self._settled(paths)

    def stop_notifying(self) -> bool:
        """No notification is sent after this returns True (False: one is still in the kernel after
        STOP_WAIT seconds, waiting for pages that only the ended loop could have read)."""
        self._notifying = False
        self._invalidations.put(None)
        if self._invalidator is None or self._invalidator is threading.current_thread():
            return True
        self._invalidator.join(timeout=STOP_WAIT)
        return not self._invalidator.is_alive()

    def destroy(self, path: str) -> None:
        """Clean unmount: every committed write becomes durable."""
        self.stop_notifying()
        try:
            self.view.sync()
        except Exception as exc:  # destroy cannot fail; say why writes may be missing
            log.error("flush at unmount failed: %s", exc)  # hubfs unmount reports this line

    # -- metadata -----------------------------------------------------------------------------------
    @_translated
    def getattr(self, path: str, fh: Any = None) -> dict:
        return self.view.stat(path, None if fh is None else fh.fh)

    @_translated
    def readdir_with_offset(self, path: str, offset: int, fh: Any) -> Any:
        return self.view.listdir(path, offset)

    @_translated
    def statfs(self, path: str) -> dict:
        return self.view.statfs()

    # -- files --------------------------------------------------------------------------------------
    def _opened(self, handle: Any, fi: Any) -> int:
        fi.fh = handle.fh
        # A handle holds a snapshot, read with direct I/O: a writer's handle (its bytes are its own until
        # close), a reader's of a file being written or just changed (the kernel may still hold the old size
        # and pages: libfuse's high-level API keeps one kernel inode per path), and .hubfs/ files (made at
        # open). Every other read goes through the page cache (see open).
        if not self.view.read_only or handle.node.kind == "meta_file":
            fi.direct_io = 1
        return 0

    @_translated
    def open(self, path: str, fi: Any) -> int:
        if (fi.flags & os.O_ACCMODE) == os.O_RDONLY:
            if self.view.read_only:
                # Nothing changes on a read-only mount, so files need no handles: ENOSYS tells the kernel to
                # stop sending open and release for every file (and to keep pages across opens). A warm read
                # then costs no up-call at all, a cold one a single read.
                self.view.resolve(path)
                raise mfusepy.FuseOSError(errno.ENOSYS)
            if path not in self._unsettled and self.view.cacheable(path):
                # No handle: reads come by path and always serve the committed value, so every page in the
                # kernel's cache is of the value it holds now, and the change of a value drops them all
                # (_invalidate_loop). noflush: its close sends no flush (nothing to commit), so a warm read
                # costs the open and release up-calls only.
                fi.fh = 0
                fi.keep_cache = 1
                fi.noflush = 1
                return 0
        return self._opened(self.view.open(path, fi.flags), fi)

    @_translated
    def create(self, path: str, mode: int, fi: Any) -> int:
        return self._opened(self.view.create(path, fi.flags), fi)

    @_translated
    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        if fi.fh == 0:  # opened without a handle (see open)
            return self.view.read_path(path, size, offset)
        return self.view.read(fi.fh, size, offset)

    @_translated
    def write(self, path: str, data: bytes, offset: int, fi: Any) -> int:
        return self.view.write(fi.fh, data, offset)

    @_translated
    def truncate(self, path: str, length: int, fi: Any = None) -> int:
        self.view.truncate(path, length, None if fi is None else fi.fh)
        return 0

    @_translated
    def flush(self, path: str, fi: Any) -> int:
        if fi.fh == 0:  # opened without a handle: nothing to commit
            if self.view.read_only:
                raise mfusepy.FuseOSError(errno.ENOSYS)  # stops flush up-calls altogether
            return 0
        self.view.flush(fi.fh)
        return 0

    @_translated
    def fsync(self, path: str, datasync: int, fi: Any) -> int:
        if fi.fh == 0:  # opened to read without a handle: nothing of it to make durable
            if self.view.read_only:
                raise mfusepy.FuseOSError(errno.ENOSYS)  # = success from now on
            return 0
        self.view.fsync(fi.fh)
        return 0

    @_translated
    def release(self, path: str, fi: Any) -> int:
        if fi.fh:
            self.view.release(fi.fh)
        return 0

    @_translated
    def utimens(self, path: str, times: Any = None) -> int:
        """Accepted and ignored (touch, cp -p, tar x): times are the mount's, not settable."""
        self.view.resolve(path)
        return 0

    # -- folders ------------------------------------------------------------------------------------
    @_translated
    def mkdir(self, path: str, mode: int) -> int:
        self.view.mkdir(path)
        return 0

    @_translated
    def unlink(self, path: str) -> int:
        self.view.unlink(path)
        return 0

    @_translated
    def rmdir(self, path: str) -> int:
        self.view.rmdir(path)
        return 0

    @_translated
    def rename(self, old: str, new: str, flags: int = 0) -> int:
        self.view.rename(old, new, flags)
        # libfuse moves its node to the new name only after this returns, so the invalidation the view just
        # queued may reach the replaced file instead; the moved file (the temporary one) must drop its size
        # and pages too, or readers see the temp file's length: invalidate the new name again shortly.
        with self._unsettled_lock:  # the name stays unsettled until that second invalidation is sent
            self._unsettled[new] = self._unsettled.get(new, 0) + 1
        timer = threading.Timer(RENAME_SETTLE, self._invalidations.put, (new,))
        timer.daemon = True
        timer.start()
        return 0

    @_translated
    def chmod(self, path: str, mode: int) -> int:
        """Accepted and ignored (cp -p, cp -a, rsync -a, tar x, install): modes are the mount's."""
        self._settable(path)
        return 0

    @_translated
    def chown(self, path: str, uid: int, gid: int) -> int:
        """Accepted and ignored, as chmod: owners are the mounting user's."""
        self._settable(path)
        return 0

    def _settable(self, path: str | None) -> None:
        if path is not None:  # None: through a handle whose file was removed
            self.view.resolve(path)
        if self.view.read_only:
            raise mfusepy.FuseOSError(errno.EROFS)

    link = _refuse(errno.EPERM, "link")
    symlink = _refuse(errno.EPERM, "symlink")
    mknod = _refuse(errno.EPERM, "mknod")
    # No getxattr/listxattr/setxattr/access/opendir: left out, libfuse answers ENOSYS once and the kernel
    # stops asking (implementing getxattr, even as ENODATA, doubles the up-calls of `ls -l`). opendir must
    # not answer ENOSYS: libfuse 3.14's readdir then dereferences a missing directory handle (segfault).


class _FuseArgs(ctypes.Structure):
    _fields_ = [("argc", ctypes.c_int), ("argv", ctypes.POINTER(ctypes.c_char_p)), ("allocated", ctypes.c_int)]


def _serve_loop(operations: Operations, argc: int, argv: Any, fuse_ops: Any, ops_size: int, data: Any) -> int:
    """What libfuse's ``fuse_main_real`` does for a foreground single-threaded mount, with one step more:
    between the end of the loop and ``fuse_destroy`` (which frees the path table that invalidations read,
    then calls ``destroy``), the invalidator is stopped. Returns fuse_main_real's codes (8: the loop failed
    or was ended by a signal)."""
    lib = mfusepy._libfuse
    for name, argtypes, restype in (("fuse_new", (ctypes.POINTER(_FuseArgs), ctypes.c_void_p, ctypes.c_size_t,
                                                  ctypes.c_void_p), ctypes.c_void_p),
                                    ("fuse_mount", (ctypes.c_void_p, ctypes.c_char_p), ctypes.c_int),
                                    ("fuse_get_session", (ctypes.c_void_p,), ctypes.c_void_p),
                                    ("fuse_set_signal_handlers", (ctypes.c_void_p,), ctypes.c_int),
                                    ("fuse_remove_signal_handlers", (ctypes.c_void_p,), None),
                                    ("fuse_loop", (ctypes.c_void_p,), ctypes.c_int),
                                    ("fuse_unmount", (ctypes.c_void_p,), None),
                                    ("fuse_destroy", (ctypes.c_void_p,), None),
                                    ("fuse_opt_free_args", (ctypes.POINTER(_FuseArgs),), None)):
        getattr(lib, name).argtypes, getattr(lib, name).restype = argtypes, restype
    given = [argv[i] for i in range(argc)]  # mfusepy's: b"fuse", b"-f", b"-s", b"-o", OPTIONS, MOUNTPOINT
    mountpoint = given[-1]
    kept = [a for a in given[:-1] if a not in (b"-f", b"-s")]  # foreground and single-threaded: as below
    args = _FuseArgs(len(kept), (ctypes.c_char_p * len(kept))(*kept), 0)
    f = lib.fuse_new(ctypes.byref(args), ctypes.cast(fuse_ops, ctypes.c_void_p), ops_size, None)
    if not f:
        lib.fuse_opt_free_args(ctypes.byref(args))
        return 3
    if lib.fuse_mount(f, mountpoint) != 0:
        lib.fuse_destroy(f)
        lib.fuse_opt_free_args(ctypes.byref(args))
        return 4
    se = lib.fuse_get_session(f)
    if lib.fuse_set_signal_handlers(se) != 0:
        lib.fuse_unmount(f)
        lib.fuse_destroy(f)
        return 5
    res = 8 if lib.fuse_loop(f) else 0
    stopped = operations.stop_notifying()
    lib.fuse_remove_signal_handlers(se)
    lib.fuse_unmount(f)
    if stopped:
        lib.fuse_destroy(f)  # calls destroy: the final flush
    else:  # an invalidation still waits in the kernel: freeing libfuse under it could crash; flush, and let
        log.warning("an invalidation was still in flight at unmount; libfuse is left to the process exit")
        operations.destroy("/")  # the kernel drops the connection when this process ends
    lib.fuse_opt_free_args(ctypes.byref(args))
    return res


class FUSE(mfusepy.FUSE):
    """mfusepy's FUSE run by ``_serve_loop``, with a readdir that hands the kernel full attributes
    (readdirplus), and an ftruncate that names its handle.

    mfusepy copies only st_mode into the filler's stat and never passes FUSE_FILL_DIR_PLUS, so `ls -l`
    would cost one lookup up-call per entry; libfuse < 3.17.1 also drops the attributes of entries whose
    offset is 0, so entries carry real offsets.
    """

    def __init__(self, operations: Operations, mountpoint: str, **kwargs: Any):
        # mfusepy builds its operations table and calls its module's fuse_main_real: that call is ours here.
        main = mfusepy.fuse_main_real
        mfusepy.fuse_main_real = functools.partial(_serve_loop, operations)
        try:
            super().__init__(operations, mountpoint, **kwargs)
        finally:
            mfusepy.fuse_main_real = main

    def rename_fuse_3(self, old: bytes, new: bytes, flags: int) -> int:
        # mfusepy drops the flags: RENAME_NOREPLACE (mv -n, renameat2) must reach the view.
        return self.operations.rename(old.decode(self.encoding, self.errors), new.decode(self.encoding, self.errors),
                                      flags)

    def truncate_fuse_3(self, path: bytes | None, length: int, fip: Any) -> int:
        # mfusepy drops the file info here, so ftruncate() would not reach the open handle's buffer.
        fh = fip.contents if fip else None
        return self.operations.truncate(None if path is None else path.decode(self.encoding, self.errors), length, fh)

    def readdir_fuse_3(self, path: bytes | None, buf: Any, filler: Any, offset: int, fip: Any, flags: int) -> int:
        decoded = None if path is None else path.decode(self.encoding, self.errors)
        plus = FUSE_FILL_DIR_PLUS if flags & FUSE_READDIR_PLUS else 0
        st = mfusepy.c_stat()
        try:  # entries are computed lazily: an error while listing must meet the errno table too
            for name, attrs, next_offset in self.operations.readdir_with_offset(decoded, offset, fip.contents.fh):
                ctypes.memset(ctypes.byref(st), 0, ctypes.sizeof(st))
                mfusepy.set_st_attrs(st, attrs, use_ns=self.use_ns)
                if filler(buf, name.encode(self.encoding, self.errors), st, next_offset, plus) != 0:
                    break
        except mfusepy.FuseOSError as exc:
            return -exc.errno
        except Exception as exc:
            log.warning("readdir %s -> %s", decoded, exc, exc_info=True)
            return -errno_of(exc)
        return 0
