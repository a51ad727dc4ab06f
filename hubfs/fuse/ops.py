"""The FUSE boundary: one thin mfusepy ``Operations`` class over ``View``, and ONE errno table.

Every handler has the same shape: call the view, and on error turn the exception into an errno through
``errno_of`` (mfusepy would turn anything else into EINVAL: we never rely on that). Tuning follows the
measurements in doc/DESIGN.md ("Facts the hot paths rely on"): libfuse 3, one thread, long attribute and
entry timeouts (invalidated when the mount changes a sample), readdir returning attributes with real
offsets, a 1 MiB ``st_blksize`` and read-ahead, no xattr handlers at all; read-only mounts keep pages across
opens and need no open/flush/release up-calls, writable ones give every open its own snapshot (direct I/O).
See doc/SEMANTICS.md.
"""
from __future__ import annotations

import ctypes
import errno
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
        self._notify_lock = threading.Lock()  # held for each notification; see _stop_notifying
        self._notifying = False

    # -- life cycle ---------------------------------------------------------------------------------
    def init_with_config(self, conn: Any, config: Any) -> None:
        if config is not None:
            config.entry_timeout = config.attr_timeout = CACHE_TIMEOUT
            config.negative_timeout = 0.0  # a created file or appended sample must be found at once
            config.kernel_cache = 1  # keep pages across opens (writable mounts open files direct_io: _opened)
            config.no_rofd_flush = 1  # read-only closes need no flush up-call
        if conn is not None:
            conn.max_readahead = READ_AHEAD
            want = conn.want | (conn.capable & (FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_READDIRPLUS))
            conn.want = want & ~FUSE_CAP_READDIRPLUS_AUTO & 0xFFFFFFFF  # always readdirplus: no lookups for ls -l
        # Invalidations are sent from their own thread: sent from an up-call they can deadlock the kernel.
        self._fuse_ptr = mfusepy._libfuse.fuse_get_context().contents.fuse
        self._notifying = True
        self.view.on_change = self._invalidations.put
        self._invalidator = threading.Thread(target=self._invalidate_loop, name="hubfs-invalidate", daemon=True)
        self._invalidator.start()
        if self.on_ready is not None:
            self.on_ready()

    def _invalidate_loop(self) -> None:
        """Send the kernel-cache invalidations the view asks for, through the session only.

        libfuse's ``fuse_invalidate_path`` looks the path up in the high-level path table, which libfuse
        frees *before* it calls ``destroy`` (fuse_destroy, libfuse 3.14): one in flight when the loop ends
        reads freed memory (a segfault at SIGTERM or an outside ``umount``, reproduced). So no notification
        touches that table: a changed path invalidates its top-level entry under the root (the root's node
        id is fixed), which drops the whole sample folder from the kernel's caches, and "/" invalidates the
        root itself. The next lookup brings fresh attributes, and a changed mtime or size drops the file's
        pages (the kernel's automatic data invalidation). The session outlives ``destroy``, which stops
        this thread first.
        """
        lib = mfusepy._libfuse
        session = lib.fuse_get_session
        session.argtypes, session.restype = (ctypes.c_void_p,), ctypes.c_void_p
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
            tops = dict.fromkeys(p.strip("/").split("/", 1)[0] if p else None for p in paths)
            if None in tops:  # stop
                return
            with self._notify_lock:
                for top in tops:  # -ENOENT when the kernel holds no such entry: fine
                    if not self._notifying or exited(se):  # the loop has ended: the kernel is gone
                        return
                    if top:
                        name = top.encode()
                        inval_entry(se, FUSE_ROOT_ID, name, len(name))
                    else:
                        inval_inode(se, FUSE_ROOT_ID, 0, 0)

    def _stop_notifying(self) -> None:
        """No notification is sent after this returns."""
        with self._notify_lock:
            self._notifying = False
        self._invalidations.put(None)

    def destroy(self, path: str) -> None:
        """Clean unmount: every committed write becomes durable."""
        self._stop_notifying()
        if self._invalidator is not None:
            self._invalidator.join(timeout=5)
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
        # On a writable mount every file bypasses the page cache, so each open reads its own snapshot. The
        # kernel keeps one inode (pages and size) per path under libfuse's high-level API: a writer's
        # open(O_TRUNC) zeroes the size that readers share, and pages a reader of the old value brings in
        # after a change would mix into a new reader's file (tried: keep_cache with invalidation tears
        # reads under concurrent rewrites). Read-only mounts never change: pages are kept across opens.
        if not self.view.read_only or handle.node.kind == "meta_file":
            fi.direct_io = 1
        return 0

    @_translated
    def open(self, path: str, fi: Any) -> int:
        if self.view.read_only and (fi.flags & os.O_ACCMODE) == os.O_RDONLY:
            # Nothing changes on a read-only mount, so files need no handles: ENOSYS tells the kernel to
            # stop sending open and release for every file (and to keep pages across opens). A warm read
            # then costs no up-call at all, a cold one a single read.
            self.view.resolve(path)
            raise mfusepy.FuseOSError(errno.ENOSYS)
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
        if fi.fh == 0:  # only read-only mounts open without handles: ENOSYS stops flush up-calls too
            raise mfusepy.FuseOSError(errno.ENOSYS)
        self.view.flush(fi.fh)
        return 0

    @_translated
    def fsync(self, path: str, datasync: int, fi: Any) -> int:
        if fi.fh == 0:  # a read-only mount's file: nothing to make durable; ENOSYS = success from now on
            raise mfusepy.FuseOSError(errno.ENOSYS)
        self.view.fsync(fi.fh)
        return 0

    @_translated
    def release(self, path: str, fi: Any) -> int:
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


class FUSE(mfusepy.FUSE):
    """mfusepy's FUSE with a readdir that hands the kernel full attributes (readdirplus), and an ftruncate
    that names its handle.

    mfusepy copies only st_mode into the filler's stat and never passes FUSE_FILL_DIR_PLUS, so `ls -l`
    would cost one lookup up-call per entry; libfuse < 3.17.1 also drops the attributes of entries whose
    offset is 0, so entries carry real offsets.
    """

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
