"""Mounts made by tests, and taking them down whatever state they are in (shared by every test folder)."""
from __future__ import annotations

import os
import signal
import subprocess


class Mounter:
    """Mounts datasets for one test; ``close`` takes every mount down whatever state it is in."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.mounts: list[tuple[str, int]] = []

    def __call__(self, url: str, read_only: bool = False, name: str = "mnt", token=None, layout=None) -> str:
        from hubfs.fuse.mount import mount

        mp = self.tmp_path / name
        mp.mkdir(exist_ok=True)
        pid = mount(url, str(mp), read_only=read_only, token=token, layout=layout)
        self.mounts.append((str(mp), pid))
        return str(mp)

    def pid(self, mp: str) -> int:
        return dict(self.mounts)[mp]

    def close(self) -> None:
        from hubfs.fuse.mount import mounted, unmount

        for mp, pid in reversed(self.mounts):
            if mounted(mp) is not None:
                try:
                    unmount(mp, timeout=30)
                except Exception:
                    subprocess.run(["fusermount3", "-uz", mp], capture_output=True)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
