"""Hub 1.3.5's schema types (``hub/schema/*.py``) as documented there, with ``hub`` renamed to ``hubfs``."""
from __future__ import annotations

import numpy as np
import pytest

import hubfs
from hubfs import exceptions
from hubfs.schema import (Audio, BBox, ClassLabel, Image, Mask, Polygon, Primitive, Segmentation, Sequence, Tensor,
                          Text)


@pytest.fixture
def reopened(tmp_path):
    """``reopened(schema, fill)``: create, fill, close, and open the dataset again read-only."""
    opened = []

    def make(schema, fill, n=3):
        ds = hubfs.Dataset(str(tmp_path / "ds"), shape=(n,), schema=schema, mode="w")
        opened.append(ds)
        fill(ds)
        ds.close()
        again = hubfs.Dataset(str(tmp_path / "ds"), mode="r")
        opened.append(again)
        return ds, again

    yield make
    for ds in opened:
        ds.close()


@pytest.mark.parametrize("made,printed", [
    (lambda: Image((28, 28)), "Image(shape=(28, 28), dtype='uint8')"),
    (lambda: ClassLabel(names=["a", "b"]), "ClassLabel(shape=(), dtype='int64', names=['a', 'b'], num_classes=2)"),
    (lambda: ClassLabel(num_classes=3), "ClassLabel(shape=(), dtype='int64', num_classes=3)"),
    (lambda: Text(max_shape=(10,)), "Text(shape=(None,), dtype='uint8', max_shape=(10,))"),
    (lambda: Tensor((None, 3), "float32", max_shape=(5, 3)), "Tensor(shape=(None, 3), dtype='float32', max_shape=(5, 3))"),
    (lambda: Primitive("int32"), "'int32'"),
    (lambda: BBox(), "BBox(shape=(4,), dtype='float64')"),
    (lambda: Sequence(shape=(None,), max_shape=(4,), dtype=Image((2, 2, 3))),
     "Sequence(shape=(None,), dtype=Image(shape=(2, 2, 3), dtype='uint8'), max_shape=(4,))"),
    (lambda: Segmentation((4, 4, 1), "uint8", num_classes=3), "Segmentation(shape=(4, 4, 1), dtype='uint8', num_classes=3)"),
    (lambda: Audio(shape=(None,), max_shape=(100,), sample_rate=16000),
     "Audio(shape=(None,), dtype='int64', max_shape=(100,), sample_rate=16000)"),
    (lambda: Mask((4, 4, 1)), "Mask(shape=(4, 4, 1), dtype='bool')"),
])
def test_reprs_as_hub_printed_them(made, printed):
    assert repr(made()) == printed
    assert str(made()) == printed


def test_class_label_names_and_conversions():
    assert ClassLabel(num_classes=3).names == ["0", "1", "2"]
    labels = ClassLabel(names=["cat", "dog"])
    assert labels.names == ["cat", "dog"] and labels.num_classes == 2
    assert labels.str2int("dog") == 1 and labels.int2str(0) == "cat"
    assert Segmentation((4, 4, 1), names=["x", "y"]).get_segmentation_classes() == ["x", "y"]
    assert Segmentation((4, 4, 1), num_classes=2).get_segmentation_classes() == ["0", "1"]
    with pytest.raises(ValueError):
        ClassLabel()  # Hub accepted a label with no classes; nothing could be stored in it
    with pytest.raises(ValueError):
        ClassLabel(num_classes=2, names=["a", "b"])


def test_hub_schema_mistakes_raise_hubs_builtin_classes():
    with pytest.raises(TypeError):
        Tensor(shape=5.1)
    with pytest.raises(TypeError):
        Tensor(shape=(2, "3"))
    with pytest.raises(ValueError):
        Polygon(shape=(3,))
    with pytest.raises(ValueError):
        BBox(shape=(3,))
    with pytest.raises(ValueError):
        Audio(shape=(None, None, None))
    with pytest.raises(ValueError):
        Image((2, 2), dtype="float32")
    with pytest.raises(ValueError):
        ClassLabel(shape=(2, 2), num_classes=2)
    assert issubclass(exceptions.DynamicTensorShapeException, ValueError)


def test_numpy_string_and_object_dtypes(reopened):
    schema = {"s": Tensor(shape=(), dtype="<U20"), "o": Tensor(shape=(), dtype="object"),
              "words": Tensor(shape=(3,), dtype="<U5"), "p": Primitive("<U8")}

    def fill(ds):
        ds["s", 0] = "hello"
        ds["o", 0] = "anything"
        ds["o", 1] = 12
        ds["o", 2] = [1, "two", None]
        ds["words", 1] = ["a", "bb", "ccc"]
        ds["p", 2] = "eight ch"

    ds, again = reopened(schema, fill)
    for d in (ds, again):
        assert d["s", 0].compute() == "hello" and d["s", 1].compute() == ""
        assert d["o", 0].compute() == "anything" and d["o", 1].compute() == 12
        assert d["o", 2].compute() == [1, "two", None]
        assert d["words", 1].compute().tolist() == ["a", "bb", "ccc"]
        assert d["p", 2].compute() == "eight ch"
        assert d["s", 0:2].compute().tolist() == ["hello", ""]
    with pytest.raises(ValueError) as err:
        hubfs.Dataset(ds.url, mode="r+")["s", 1] = "x" * 21
    assert "'s'" in str(err.value) and "index 1" in str(err.value)


def test_class_labels_with_a_shape(reopened):
    schema = {"tags": ClassLabel(shape=(None,), max_shape=(4,), names=["a", "b", "c"]),
              "pair": ClassLabel(shape=(2,), num_classes=5)}

    def fill(ds):
        ds["tags", 0] = [0, 2]
        ds["tags", 1] = ["b", "c", "a"]
        ds["pair", 0] = np.array([4, 1])

    ds, again = reopened(schema, fill)
    for d in (ds, again):
        assert d["tags", 0].compute().tolist() == [0, 2]
        assert d["tags", 1].compute(label_name=True) == ["b", "c", "a"]
        assert d["pair", 0].compute().tolist() == [4, 1]
        assert d["pair", 0:2].compute(label_name=True) == [["4", "1"], ["0", "0"]]
    with pytest.raises(exceptions.ClassLabelValueError):
        hubfs.Dataset(ds.url, mode="r+")["pair", 1] = [1, 5]


def test_sequences_of_schema_types_and_of_dicts(reopened):
    schema = {"frames": Sequence(shape=(None,), max_shape=(4,), dtype=Image((2, 2, 3))),
              "objects": Sequence(shape=(None,), max_shape=(5,),
                                  dtype={"box": BBox(dtype="float32"), "kind": ClassLabel(num_classes=3)})}
    frames = np.arange(2 * 12, dtype="uint8").reshape(2, 2, 2, 3)

    def fill(ds):
        ds["frames", 0] = frames
        ds["objects", 0, "box"] = np.ones((3, 4))
        ds["objects/kind", 0] = [0, 1, 2]

    ds, again = reopened(schema, fill)
    assert ds.keys() == ["frames", "objects/box", "objects/kind"]
    for d in (ds, again):
        np.testing.assert_array_equal(d["frames", 0].compute(), frames)
        assert d["objects", 0, "box"].compute().shape == (3, 4)
        assert d[0]["objects", "kind"].compute().tolist() == [0, 1, 2]
        assert d[0].compute()["objects"]["box"].dtype == np.float32


def test_uint16_images(reopened):
    schema = {"depth": Image((2, 2, 1), dtype="uint16"), "rgb16": Image((2, 2, 3), dtype="uint16")}
    deep = np.full((2, 2, 1), 60000, "uint16")
    rgb = np.arange(12, dtype="uint16").reshape(2, 2, 3) * 5000

    def fill(ds):
        ds["depth", 0] = deep
        ds["rgb16", 0] = rgb

    ds, again = reopened(schema, fill)
    for d in (ds, again):
        np.testing.assert_array_equal(d["depth", 0].compute(), deep)
        np.testing.assert_array_equal(d["rgb16", 0].compute(), rgb)
    from hubfs.fuse.formats import file_extension  # the mount serves them as PNG and .npy

    assert file_extension(ds.tensor_type("depth")) == "png" and file_extension(ds.tensor_type("rgb16")) == "npy"


def test_keys_hub_accepted(reopened):
    ds, again = reopened({"7": Primitive("int32"), ".hidden": Primitive("int32"), "with space": Text()},
                         lambda ds: ds.__setitem__(("7", 0), 3))
    assert again["7", 0].compute() == 3 and again.keys() == ["7", ".hidden", "with space"]


def test_bad_samples_raise_value_errors_naming_tensor_and_index(tmp_path):
    with hubfs.Dataset(str(tmp_path / "ds"), shape=(2,), mode="w",
                       schema={"image": Image((None, None, 3), max_shape=(8, 8, 3)), "text": Text(),
                               "label": ClassLabel(num_classes=2)}) as ds:
        for key, value in [("image", np.zeros((0, 0, 3), "uint8")), ("text", "bad \ud800 text"),
                           ("image", np.zeros((9, 9, 3), "uint8"))]:
            with pytest.raises(ValueError) as err:
                ds[key, 1] = value
            assert repr(key) in str(err.value) and "index 1" in str(err.value)
            assert not ds.has_value(key, 1)
        with pytest.raises(exceptions.ValueShapeError):
            ds["image", 0] = np.zeros((9, 9, 3), "uint8")
        assert ds["image", 0].dtype == ds.tensor_type("image")
        assert ds["label", 0].compute(label_name=True) == "0"
        assert ds["image", 0].compute(label_name=True).shape == (0, 0, 3)   # ignored on other tensors
