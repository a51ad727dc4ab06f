"""Mounting: serve a dataset in a fresh child process, unmount with a flush, clear stale mounts.

``mount()`` starts ``python -m hubfs.fuse.mount`` (a fresh interpreter: forking a process that already
runs threads, as fsspec and aiohttp start them, is unsafe) and returns once the kernel has mounted the
folder; the child writes "ready" down a pipe from FUSE's ``init``. A record per mountpoint (pid, url, log)
lets ``unmount()`` find the server: it sends SIGTERM, which libfuse turns into a clean exit that flushes the
dataset (``destroy``), and waits for the process to end. A mount whose process was killed leaves
"Transport endpoint is not connected" behind: ``unmount()`` and ``mount()`` clear it with
``fusermount3 -u`` (``-uz`` when busy).
"""
from __future__ import annotations

import argparse
import errno
import faulthandler
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any

from hubfs.errors import HubfsError, MountError, ReadOnlyError

READY = b"ready\n"
REFUSED = b"refused: "  # then one line: why the server could not open the dataset
FLUSH_FAILED = "flush at unmount failed"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 120.0


# -- where mounts are recorded -----------------------------------------------------------------------
def state_dir() -> str:
    base = os.environ.get("HUBFS_STATE_DIR") or os.path.join(
        os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/hubfs-{os.getuid()}", "mounts")
    os.makedirs(base, mode=0o700, exist_ok=True)
    return base


def canonical(mountpoint: str) -> str:
    """The mountpoint as /proc/mounts spells it, without touching the mountpoint itself (it may be stale)."""
    path = os.path.abspath(os.path.expanduser(mountpoint)).rstrip("/") or "/"
    parent, name = os.path.split(path)
    return os.path.join(os.path.realpath(parent), name)


def _record_path(mountpoint: str, suffix: str = ".json") -> str:
    return os.path.join(state_dir(), hashlib.sha1(mountpoint.encode()).hexdigest()[:16] + suffix)


def log_of(mountpoint: str) -> str:
    """The server log of the mount at ``mountpoint`` (refusals with their reasons, failed flushes)."""
    return _record_path(canonical(mountpoint), ".log")


def _read_record(mountpoint: str) -> dict | None:
    try:
        with open(_record_path(mountpoint)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def mounted(mountpoint: str) -> str | None:
    """The file system type mounted at ``mountpoint`` (e.g. 'fuse.hubfs'), or None."""
    mp = canonical(mountpoint)
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[1].encode().decode("unicode_escape") == mp:
                return fields[2]
    return None


def is_stale(mountpoint: str) -> bool:
    """True when a FUSE mount is there but its server is gone (ENOTCONN)."""
    try:
        os.statvfs(mountpoint)  # stat may be answered from the kernel's attribute cache; statfs never is
    except OSError as exc:
        return exc.errno == errno.ENOTCONN
    return False


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return None


def _is_server(record: dict) -> bool:
    """The recorded process is alive and still the server it was (pids are reused)."""
    pid = record.get("pid")
    return bool(pid) and _alive(pid) and _cmdline(pid) == record.get("cmdline")


def _write_record(mp: str, pid: int, **fields: Any) -> None:
    with open(_record_path(mp), "w") as f:
        json.dump({"pid": pid, "cmdline": _cmdline(pid), "mountpoint": mp, **fields}, f)


def clear_stale(mountpoint: str) -> bool:
    """Detach a mount left by a dead server; True when one was there."""
    mp = canonical(mountpoint)
    if mounted(mp) is None:
        return False
    for args in (["-u"], ["-uz"]):
        if subprocess.run(["fusermount3", *args, mp], capture_output=True).returncode == 0 and mounted(mp) is None:
            return True
    raise MountError(errno.EBUSY, f"could not unmount the stale mount at {mp}")


# -- mount -------------------------------------------------------------------------------------------
def mount(url: str, mountpoint: str, read_only: bool = False, cache: int | None = None,
          token: Any = None, foreground: bool = False, layout: dict | None = None,
          version: str | None = None) -> int:
    """Mount the dataset at ``url`` on ``mountpoint``; returns the serving process id once it is ready.

    ``version`` (or ``url@version``) is a branch name or a commit id: a commit is served read-only, a branch
    head like the dataset itself (writable unless ``read_only``); an unknown one fails the mount.

    With ``foreground`` the current process serves until unmounted (or SIGINT/SIGTERM) and 0 is returned.
    ``layout`` chooses the class-folder view: ``{"image": KEY, "label": KEY, "split": KEY, "split_at": N}``
    (every entry optional; see hubfs/fuse/classes.py); None shows one folder per sample.
    """
    from hubfs.dataset.dataset import split_address

    mp = canonical(mountpoint)
    url, version = split_address(url, version)
    if "://" not in url and os.path.exists(url):
        url = os.path.abspath(url)  # the server may outlive this folder as its working directory
    if is_stale(mp):
        clear_stale(mp)
    if not os.path.lexists(mp):
        raise MountError(errno.ENOENT, f"mountpoint {mp} does not exist; create the folder first")
    if not os.path.isdir(mp):
        raise MountError(errno.ENOTDIR, f"mountpoint {mp} is not a folder")
    if mounted(mp) is not None:
        raise MountError(errno.EBUSY, f"{mp} is already a mountpoint; `hubfs unmount {mp}` first")
    if os.listdir(mp):
        raise MountError(errno.ENOTEMPTY, f"mountpoint {mp} is not empty; mounting would hide its files")
    options = {"url": url, "mountpoint": mp, "read_only": read_only, "cache": cache, "token": token,
               "layout": layout, "version": version}
    if foreground:
        _write_record(mp, os.getpid(), url=url, version=version, read_only=read_only)
        options["log"] = None  # the log is this process's stderr
        try:
            serve(options)
        finally:
            _forget(mp)
        return 0
    log_path = log_of(mp)
    options["log"] = log_path
    read_fd, write_fd = os.pipe()
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hubfs.fuse.mount", "--ready-fd", str(write_fd), mp],
            stdin=subprocess.PIPE, stdout=log_file, stderr=log_file, pass_fds=(write_fd,),
            start_new_session=True)  # outlives the command that mounted it; a terminal's ^C does not reach it
    os.close(write_fd)
    with proc.stdin:  # options (a token among them) go through a pipe, never the process list
        proc.stdin.write(json.dumps(options).encode())
    status = _wait_ready(read_fd, proc)
    if status != READY:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if status.startswith(REFUSED):  # the server said why in one line (no dataset there, locked, ...)
            raise MountError(errno.EIO, f"cannot mount {url}: {status[len(REFUSED):].decode(errors='replace').strip()}")
        raise MountError(errno.EIO, f"mounting {url} on {mp} failed: {_tail(log_path) or status.decode(errors='replace')}")
    _write_record(mp, proc.pid, url=url, version=version, log=log_path, read_only=read_only)
    _tune_read_ahead(mp)
    return proc.pid


def _wait_ready(fd: int, proc: subprocess.Popen) -> bytes:
    import select

    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                return os.read(fd, 4096) or b"the mount process exited"
            if proc.poll() is not None:
                return b"the mount process exited"
        proc.kill()
        return b"timed out waiting for the mount"
    finally:
        os.close(fd)


def _tail(path: str, lines: int = 5) -> str:
    try:
        with open(path, errors="replace") as f:
            return " | ".join(line.strip() for line in f.readlines()[-lines:] if line.strip())
    except OSError:
        return ""


def _tune_read_ahead(mp: str, kib: int = 1024) -> None:
    """FUSE reads arrive in 128-256 KiB pieces unless the mount's bdi read-ahead is raised (root only)."""
    try:
        dev = os.stat(mp).st_dev
        with open(f"/sys/class/bdi/{os.major(dev)}:{os.minor(dev)}/read_ahead_kb", "w") as f:
            f.write(str(kib))
    except OSError:
        pass


# -- unmount -----------------------------------------------------------------------------------------
def unmount(mountpoint: str, timeout: float = STOP_TIMEOUT) -> None:
    """Flush and unmount: stop the server cleanly (SIGTERM), or clear a stale mount left by a dead one."""
    mp = canonical(mountpoint)
    record = _read_record(mp) or {}
    pid = record.get("pid")
    log_path, log_start = record.get("log"), 0
    if log_path and os.path.exists(log_path):
        log_start = os.path.getsize(log_path)
    if _is_server(record):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            clear_stale(mp)
            _forget(mp)
            raise MountError(errno.ETIMEDOUT, f"the server of {mp} did not stop in {timeout:.0f} s and was killed; "
                                              f"writes after the last fsync may be lost (log: {record.get('log')})")
    elif mounted(mp) is None:
        _forget(mp)
        raise MountError(errno.EINVAL, f"nothing is mounted at {mp}")
    if mounted(mp) is not None:
        clear_stale(mp)
    _forget(mp)
    failure = _flush_failure(log_path, log_start)
    if failure:
        raise MountError(errno.EIO, f"unmounted {mp}, but the dataset could not be flushed: {failure}")


def _flush_failure(log_path: str | None, start: int) -> str | None:
    """What the server logged about a failed final flush since ``start``, if anything."""
    if not log_path:
        return None
    try:
        with open(log_path, errors="replace") as f:
            f.seek(start)
            lines = f.read().splitlines()
    except OSError:
        return None
    if not any(FLUSH_FAILED in line or line.startswith("Traceback") for line in lines):
        return None
    return " | ".join(line.strip() for line in lines[-3:])


def _forget(mp: str) -> None:
    try:
        os.unlink(_record_path(mp))
    except FileNotFoundError:
        pass


# -- refresh -----------------------------------------------------------------------------------------
def refresh(mountpoint: str) -> None:
    """Have a read-only mount serve what its store holds now (another process's flushed writes)."""
    mp = canonical(mountpoint)
    record = _read_record(mp) or {}
    if not _is_server(record):
        raise MountError(errno.EINVAL, f"no hubfs mount served from this machine at {mp}")
    if not record.get("read_only"):
        return  # a writable mount is the dataset's one writer: it always serves the newest state
    os.kill(record["pid"], signal.SIGUSR1)
    for _ in range(2):  # statfs always reaches the server: its next up-call honours the request
        os.statvfs(mp)
        time.sleep(0.01)


# -- the serving process -----------------------------------------------------------------------------
def resolve_address(url: str, token: Any, address: str) -> Any:
    """Where ``address`` (a branch name or a commit id) is in the dataset at ``url``: a
    ``hubfs.dataset.versions.Position``; ``AddressNotFound`` naming it when it is neither."""
    from hubfs.dataset.versions import open_versions

    versions = open_versions(url, token)
    try:
        return versions.resolve(address)
    finally:
        versions.store.close()


def open_dataset(url: str, read_only: bool, cache: int | None, token: Any,
                 version: str | None = None) -> tuple[Any, Any]:
    """The dataset to serve, and the commit record it is at (None at a branch head). Writable unless asked
    not to be, the store refuses writes, or ``version`` names a commit (a commit never changes); an unknown
    ``version`` is ``AddressNotFound``. The address is resolved before opening, so what is a head here is
    opened as that branch, never as a commit made meanwhile."""
    from hubfs import Dataset

    kwargs: dict[str, Any] = {"token": token}
    if cache:
        kwargs["cache"] = int(cache)
    commit = None
    if version is not None:
        at = resolve_address(url, token, version)
        commit = at.commit
        kwargs["version"] = commit.id if commit is not None else at.branch
        if commit is not None and not read_only:
            print(f"hubfs: {url}@{version} is commit {commit.id}: serving it read-only", file=sys.stderr)
            read_only = True
    if read_only:
        return Dataset(url, mode="r", **kwargs), commit
    try:
        return Dataset(url, mode="r+", **kwargs), commit  # another writer: LockedError, the mount fails saying who
    except ReadOnlyError as exc:
        print(f"hubfs: {exc}; serving it read-only", file=sys.stderr)
        return Dataset(url, mode="r", **kwargs), commit


def serve(options: dict, ready_fd: int | None = None) -> None:
    """Open the dataset and run the FUSE loop in this process until unmounted or signalled."""
    from hubfs.fuse.ops import FUSE, Operations
    from hubfs.fuse.view import View

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    faulthandler.enable()  # a crash in libfuse or a binding leaves every thread's stack in the log
    try:
        ds, commit = open_dataset(options["url"], options.get("read_only", False), options.get("cache"),
                                  options.get("token"), options.get("version"))
        view = base = View(ds, commit=commit)
        if options.get("layout") is not None:
            from hubfs.fuse.classes import ClassView

            view = ClassView(view, **options["layout"])
    except HubfsError as exc:
        if ready_fd is None:
            raise
        os.write(ready_fd, REFUSED + " ".join(str(exc).split()).encode() + b"\n")
        os.close(ready_fd)
        sys.exit(1)

    def ready() -> None:
        if ready_fd is not None:
            os.write(ready_fd, READY)
            os.close(ready_fd)

    view.log_path = options.get("log")
    if view.read_only:  # `hubfs refresh`: runs at the next up-call, in the FUSE thread that owns the view
        signal.signal(signal.SIGUSR1, lambda *_: setattr(view, "refresh_requested", True))
    # No default_permissions: the kernel would check every open with a getattr, and a name it still holds
    # for a file that lost its value (a failed create) could then not be opened to write it again. Only the
    # mounting user reaches the mount anyway; read-only is enforced by `ro` and the view (EROFS).
    served = ds.url + (f"@{options['version']}" if options.get("version") else "")
    fuse_options = {"fsname": f"hubfs:{served}"[:200].replace(",", "_"), "subtype": "hubfs",
                    "ro": view.read_only}
    try:
        FUSE(Operations(view, on_ready=ready), options["mountpoint"], raw_fi=True, foreground=True,
             nothreads=True, **fuse_options)
    except RuntimeError as exc:
        # On libfuse 3, mfusepy raises RuntimeError(8) after a SIGINT/SIGTERM exit: a normal stop.
        if exc.args != (8,):
            raise
    finally:
        base.close()
        ds.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hubfs.fuse.mount",
                                     description="hubfs mount server (internal): reads its options as JSON on stdin")
    parser.add_argument("--ready-fd", type=int, help="where to write 'ready' once mounted")
    parser.add_argument("mountpoint", help="also in the options; here so that the process list shows it")
    args = parser.parse_args(argv)
    options = json.loads(sys.stdin.read())
    sys.stdin.close()
    serve(options, args.ready_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
