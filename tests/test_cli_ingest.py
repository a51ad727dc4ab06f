"""`hubfs ingest SOURCE URL`, run as a user runs it: image-class and CSV folders, on several schedulers,
with a progress bar on a terminal only."""
from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import numpy as np
from PIL import Image as PILImage

import hubfs


def hubfs_cli(*args):
    return subprocess.run([sys.executable, "-m", "hubfs", *args], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def on_a_terminal(*args) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal; (exit code, what the terminal showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # tqdm draws to the width
    proc = subprocess.Popen([sys.executable, "-m", "hubfs", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.wait(timeout=300), shown.decode(errors="replace")


def image_tree(root, counts={"Dogs": 3, "cats": 2}):
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True)
        for i in range(n):
            PILImage.fromarray(np.full((6, 5, 3), 10 * i, np.uint8)).save(root / cls / f"{i}.png")
    return root


def test_ingest_an_image_class_folder_on_processes(tmp_path):
    src = image_tree(tmp_path / "photos")
    out = hubfs_cli("ingest", str(src), str(tmp_path / "ds"), "--scheduler", "processed", "--workers", "2",
                    "--sample-per-shard", "2")
    assert out.returncode == 0, out.stderr
    assert "ingested 5 samples" in out.stdout and "names=['cats', 'dogs']" in out.stdout
    assert out.stderr == ""  # no progress bar when stderr is not a terminal
    with hubfs.Dataset(str(tmp_path / "ds"), mode="r") as ds:
        assert ds["label"].compute().tolist() == [0, 0, 1, 1, 1]
        assert ds["image", 4].compute().tolist() == np.full((6, 5, 3), 20, np.uint8).tolist()


def test_ingest_a_csv_folder(tmp_path):
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "a.csv").write_text("id,city\n1,Paris\n2,Rome\n")
    out = hubfs_cli("ingest", str(tmp_path / "csv"), str(tmp_path / "ds"), "--scheduler", "threaded", "--workers", "2")
    assert out.returncode == 0, out.stderr
    with hubfs.Dataset(str(tmp_path / "ds"), mode="r") as ds:
        assert ds["id"].compute().tolist() == [1, 2] and ds["city", 1].compute() == "Rome"


def test_ingest_keeps_an_existing_dataset_unless_told(tmp_path):
    src = image_tree(tmp_path / "photos")
    assert hubfs_cli("ingest", str(src), str(tmp_path / "ds")).returncode == 0
    (src / "cats" / "9.png").write_bytes((src / "cats" / "0.png").read_bytes())
    out = hubfs_cli("ingest", str(src), str(tmp_path / "ds"))
    assert out.returncode == 1 and "--overwrite" in out.stderr
    with hubfs.Dataset(str(tmp_path / "ds"), mode="r") as ds:
        assert len(ds) == 5
    assert hubfs_cli("ingest", str(src), str(tmp_path / "ds"), "--overwrite").returncode == 0
    with hubfs.Dataset(str(tmp_path / "ds"), mode="r") as ds:
        assert len(ds) == 6


def test_a_file_that_does_not_decode_fails_the_ingest_naming_it(tmp_path):
    src = image_tree(tmp_path / "photos")
    (src / "cats" / "broken.png").write_bytes(b"\x89PNG not really")
    out = hubfs_cli("ingest", str(src), str(tmp_path / "ds"))
    assert out.returncode == 1 and "broken.png" in out.stderr and "does not decode" in out.stderr
    assert not (tmp_path / "ds").exists()


def test_progress_bars_on_a_terminal_and_quiet_with_quiet(tmp_path):
    src = image_tree(tmp_path / "photos")
    code, shown = on_a_terminal("ingest", str(src), str(tmp_path / "ds"))
    assert code == 0 and "transform (single)" in shown and "5/5" in shown, shown
    code, shown = on_a_terminal("export", str(tmp_path / "ds"), str(tmp_path / "files"))
    assert code == 0 and "export" in shown and "5/5" in shown, shown
    code, shown = on_a_terminal("ingest", str(src), str(tmp_path / "ds2"), "--quiet")
    assert code == 0 and shown == "", shown
