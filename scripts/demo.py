"""The README's demo: the getting-started example on local storage, then the same dataset mounted."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

import hubfs
from hubfs.schema import ClassLabel, Image

URL = "./data/examples/new_api_intro"


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run(cmd: str) -> None:
    print(f"$ {cmd}", flush=True)
    subprocess.run(cmd, shell=True, check=True)


def main() -> int:
    section("create a dataset (Hub's getting-started example, hub -> hubfs)")
    my_schema = {"image": Image((28, 28)), "label": ClassLabel(num_classes=10)}
    ds = hubfs.Dataset(URL, mode="w", shape=(1000,), schema=my_schema)
    rng = np.random.default_rng(0)
    for i in range(len(ds)):
        ds["image", i] = (rng.random((28, 28)) > 0.7).astype("uint8") * 255
        ds["label", i] = i % 10
    print(ds["image", 5].compute()[:4])
    print(ds["label", 100:110].compute())
    ds.close()

    section("mount it: one folder per sample, one file per tensor")
    hubfs_cmd = os.path.join(os.path.dirname(sys.executable), "hubfs")
    mnt = tempfile.mkdtemp(prefix="hubfs-demo-")
    run(f"{hubfs_cmd} mount {URL} {mnt}")
    try:
        run(f"ls -v {mnt} | head -5")
        run(f"ls -l {mnt}/5")
        run(f"cat {mnt}/5/label.txt")
        print(f"$ python: PIL.Image.open('{mnt}/5/image.png')", flush=True)
        from PIL import Image as PILImage

        with PILImage.open(f"{mnt}/5/image.png") as img:
            print(img.format, img.size, img.mode)
        run(f"echo 7 > {mnt}/5/label.txt && cat {mnt}/5/label.txt")
    finally:
        run(f"{hubfs_cmd} unmount {mnt}")
        shutil.rmtree(mnt, ignore_errors=True)
    with hubfs.Dataset(URL, mode="r") as ds:
        print("label of sample 5 after writing through the mount:", ds["label", 5].compute())
    return 0


if __name__ == "__main__":
    sys.exit(main())
