"""from_tfds without network: a TFDS builder prepared here from generated values, and TFDS's own mock data
for a catalogue data set (mnist). TensorFlow (through TFDS) only in this file."""
from __future__ import annotations

import numpy as np
import pytest

import hubfs
from hubfs.errors import DatasetNotFoundError
from hubfs.schema import ClassLabel, Image, Tensor, Text

tfds = pytest.importorskip("tensorflow_datasets")


class TinyShapes(tfds.core.GeneratorBasedBuilder):
    """Six train and four test samples: an 8x8 image, a photo of its own size, a class, a caption and a
    nested id."""
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(8, 8, 3)),
            "photo": tfds.features.Image(shape=(None, None, 3)),
            "label": tfds.features.ClassLabel(names=["circle", "square"]),
            "caption": tfds.features.Text(),
            "meta": tfds.features.FeaturesDict({"id": tfds.features.Tensor(shape=(), dtype=np.int64)}),
        }))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(6, 0), "test": self._generate_examples(4, 100)}

    def _generate_examples(self, n, offset):
        for i in range(n):
            v = offset + i
            yield v, {"image": np.full((8, 8, 3), v, np.uint8), "photo": np.full((2 + i, 3 + 2 * i, 3), v, np.uint8),
                      "label": i % 2, "caption": f"shape {v} ✓", "meta": {"id": v}}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tfds")
    TinyShapes(data_dir=str(path)).download_and_prepare()
    return str(path)


def ids(ds):
    return [int(ds["meta/id", i].compute()) for i in range(len(ds))]


def test_split_expression_and_the_schema_of_the_features(tmp_path, data_dir):
    ds = hubfs.Dataset.from_tfds("tiny_shapes", split="test+train", data_dir=data_dir).store(str(tmp_path / "out"))
    assert len(ds) == 10
    assert sorted(ids(ds)) == [0, 1, 2, 3, 4, 5, 100, 101, 102, 103]
    assert isinstance(ds.schema["image"], Image) and ds.schema["image"].shape == (8, 8, 3)
    photo = ds.schema["photo"]
    assert isinstance(photo, Image) and photo.shape == (None, None, 3) and photo.max_shape == (7, 13, 3)
    assert isinstance(ds.schema["label"], ClassLabel) and ds.schema["label"].names == ["circle", "square"]
    assert isinstance(ds.schema["caption"], Text)
    assert isinstance(ds.schema["meta"]["id"], Tensor) and ds.schema["meta"]["id"].dtype == "int64"
    for i, v in enumerate(ids(ds)):
        j = v % 100
        assert ds["image", i].compute().tolist() == np.full((8, 8, 3), v, np.uint8).tolist()
        assert ds["photo", i].compute().shape == (2 + j, 3 + 2 * j, 3)
        assert ds["caption", i].compute() == f"shape {v} ✓"
        assert ds["label", i].compute(label_name=True) == ["circle", "square"][j % 2]


def test_no_split_means_every_split_and_num_takes_the_first(tmp_path, data_dir):
    every = hubfs.Dataset.from_tfds("tiny_shapes", data_dir=data_dir)
    assert len(every) == 10
    first = hubfs.Dataset.from_tfds("tiny_shapes", split="train", num=3, data_dir=data_dir)
    ds = first.store(str(tmp_path / "out"))
    assert len(ds) == 3 and len(set(ids(ds))) == 3 and all(v < 100 for v in ids(ds))
    assert len(hubfs.Dataset.from_tfds("tiny_shapes", split="test", num=50, data_dir=data_dir)) == 4
    assert len(hubfs.Dataset.from_tfds("tiny_shapes", split="train[:2]+test[-1:]", data_dir=data_dir)) == 3


def test_processed_scheduler_writes_what_single_writes(tmp_path, data_dir):
    a = hubfs.Dataset.from_tfds("tiny_shapes", split="train", data_dir=data_dir).store(str(tmp_path / "a"))
    b = hubfs.Dataset.from_tfds("tiny_shapes", split="train", scheduler="processed", workers=2,
                                data_dir=data_dir).store(str(tmp_path / "b"), sample_per_shard=2)
    assert ids(a) == ids(b)
    for i in range(len(a)):
        assert a.read_stored("photo", i) == b.read_stored("photo", i)


def test_missing_dataset_or_split_is_a_clear_error(data_dir):
    with pytest.raises(DatasetNotFoundError, match="no TFDS dataset 'no_such_dataset_anywhere'") as info:
        hubfs.Dataset.from_tfds("no_such_dataset_anywhere", data_dir=data_dir)
    assert len(str(info.value)) < 300
    with pytest.raises(DatasetNotFoundError, match=r"no split 'validation' \(splits: .*train"):
        hubfs.Dataset.from_tfds("tiny_shapes", split="validation", data_dir=data_dir)


def test_mnist_through_tfds_mock_data(tmp_path):
    with tfds.testing.mock_data(num_examples=20):
        ds = hubfs.Dataset.from_tfds("mnist", split="test+train", num=12).store(str(tmp_path / "mnist"))
    assert len(ds) == 12
    assert ds.schema["image"].shape == (28, 28, 1) and ds["image", 0].compute().dtype == np.uint8
    assert ds.schema["label"].names == [str(i) for i in range(10)]
    assert 0 <= int(ds["label", 11].compute()) <= 9


def test_hubfs_ingest_of_a_tfds_split(tmp_path, data_dir):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "hubfs", "ingest", "tfds:tiny_shapes:test", str(tmp_path / "ds"),
                          "--data-dir", data_dir, "--num", "3"], capture_output=True, text=True, timeout=300,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert "ingested 3 samples" in out.stdout
    with hubfs.Dataset(str(tmp_path / "ds"), mode="r") as ds:
        assert all(v >= 100 for v in ids(ds)) and ds.schema["label"].names == ["circle", "square"]
    missing = subprocess.run([sys.executable, "-m", "hubfs", "ingest", "tfds:tiny_shapes:nope", str(tmp_path / "x"),
                              "--data-dir", data_dir], capture_output=True, text=True, timeout=300,
                             stdin=subprocess.DEVNULL)
    assert missing.returncode == 1 and "no split 'nope'" in missing.stderr and "Traceback" not in missing.stderr
