"""Sources -> datasets, with Hub 1.3.5's names and arguments: each returns a ``Transform`` whose
``.store(url)`` writes the dataset (on any scheduler). Samples are read from the source once, here, to
infer the schema (exact max shapes, not a sample of them) and are then handed to the transform as a list.
"""
from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np

from hubfs.compute.transform import Transform, TransformFunction
from hubfs.dataset.schema import ClassLabel, Image, Tensor, Text, nest
from hubfs.errors import CodecError, DatasetNotFoundError, SchemaError
from hubfs.integrations import need
from hubfs.integrations.infer import flat_items, schema_for, shape_of

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def as_is(sample: dict) -> dict:
    """The transform of an import: the samples are ready already."""
    return sample


def _transform(samples: list[dict], flat_schema: dict, scheduler: str, workers: int, func: Any = as_is) -> Transform:
    return TransformFunction(func, nest(flat_schema), scheduler, workers)(samples)


def _numpy(value: Any) -> Any:
    """A torch/tf tensor, bytes or number as numpy or str."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind == "O" and value.ndim == 0:
        value = value.item()
        return value.decode("utf-8") if isinstance(value, bytes) else value
    return value


def _as_sample(item: Any, key: str = "data") -> dict:
    """A source item as a flat sample dict: a dict's nested keys as ``a/b`` (a "/" inside a key as "_"),
    a tuple's values as ``data_0``, ``data_1``..., anything else as ``data``."""
    if isinstance(item, (tuple, list)) and not hasattr(item, "shape"):
        return {f"{key}_{i}": _numpy(v) for i, v in enumerate(item)}
    if not isinstance(item, dict):
        return {key: _numpy(item)}
    return {k: _numpy(v) for k, v in flat_items(item).items()}


def from_pytorch(dataset: Any, scheduler: str = "single", workers: int = 1) -> Transform:
    """A torch map-style or iterable dataset of dicts (or tensors/tuples) -> a Transform to ``store``."""
    torch = need("torch", "torch")
    # A map-style dataset is read by index over its length: iterating one without __iter__ falls back to
    # __getitem__(0), (1), ... until an IndexError that torch datasets need not raise, so it may never end.
    iterable = isinstance(dataset, torch.utils.data.IterableDataset) or not hasattr(dataset, "__len__")
    items = iter(dataset) if iterable else (dataset[i] for i in range(len(dataset)))
    samples = [_as_sample(item) for item in items]
    return _transform(samples, schema_for(samples), scheduler, workers)


def from_tensorflow(ds: Any, scheduler: str = "single", workers: int = 1) -> Transform:
    """A ``tf.data.Dataset`` (of tensors or dicts of tensors) -> a Transform to ``store``."""
    need("tensorflow", "tf")
    samples = [_as_sample(item) for item in ds]
    return _transform(samples, schema_for(samples), scheduler, workers)


def _tfds_types(tfds: Any, features: Any, samples: list[dict], prefix: str = "") -> dict:
    """Schema types of TFDS features: Image, ClassLabel (with its names) and Text as such; others inferred."""
    out: dict = {}
    for name, feature in features.items():
        key = prefix + name.replace("/", "_")
        values = [s[key] for s in samples] if samples and key in samples[0] else []
        if isinstance(feature, tfds.features.FeaturesDict):
            out.update(_tfds_types(tfds, feature, samples, key + "/"))
        elif isinstance(feature, tfds.features.ClassLabel):
            out[key] = ClassLabel(names=list(feature.names))
        elif isinstance(feature, tfds.features.Image):
            shape, max_shape = (tuple(feature.shape), None) if None not in feature.shape else \
                shape_of([np.shape(v) for v in values]) if values else (tuple(feature.shape), None)
            out[key] = Image(shape=shape, dtype=feature.dtype.name if hasattr(feature.dtype, "name") else feature.dtype,
                             max_shape=max_shape)
        elif isinstance(feature, tfds.features.Text):
            out[key] = Text(shape=(None,), max_shape=(max([1] + [len(v) for v in values]),))
    return out


def from_tfds(dataset: str, split: str | None = None, num: int = -1, sampling_amount: float = 1,
              scheduler: str = "single", workers: int = 1, data_dir: str | None = None) -> Transform:
    """A TFDS data set by name -> a Transform to ``store``. ``split`` as TFDS takes it (``"test+train"``,
    ``"train[:10%]"``); None = every split, joined in the order TFDS lists them (as Hub did). ``num``
    samples (-1 = all). ``data_dir``: where TFDS keeps prepared data sets (TFDS's default when None); one
    not prepared there is downloaded by TFDS, as ``tfds.load`` does. ``sampling_amount`` is accepted for
    Hub's sake: every sample is scanned, so max shapes are exact."""
    tfds = need("tensorflow_datasets", "tf")
    try:
        builder = tfds.builder(dataset, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as exc:
        raise DatasetNotFoundError(f"no TFDS dataset {dataset!r} in tensorflow_datasets {tfds.__version__}"
                                   f" or under {data_dir or 'its default data_dir'}") from exc
    info = builder.info
    if split is None:
        split = "+".join(info.splits) or None
    try:
        ds = tfds.load(dataset, split=split, data_dir=data_dir)
    except (ValueError, KeyError) as exc:
        known = ", ".join(info.splits) or "none prepared"
        raise DatasetNotFoundError(f"TFDS dataset {dataset!r} has no split {split!r} (splits: {known}): "
                                   f"{str(exc).splitlines()[0]}") from exc
    if num is not None and num >= 0:
        ds = ds.take(num)
    samples = [_as_sample(item) for item in tfds.as_numpy(ds)]
    known_types = _tfds_types(tfds, info.features, samples)
    return _transform(samples, schema_for(samples, known_types), scheduler, workers)


# -- folders --------------------------------------------------------------------------------------------
def _find_root(path: str) -> str:
    """Descend while the folder holds exactly one sub-folder (Hub's ``_find_root``)."""
    subs = [os.path.join(path, n) for n in sorted(os.listdir(path)) if os.path.isdir(os.path.join(path, n))]
    return _find_root(subs[0]) if len(subs) == 1 and not _files(path, (".csv",)) else path


def _files(folder: str, exts: tuple) -> list[str]:
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if n.lower().endswith(exts) and os.path.isfile(os.path.join(folder, n))]


def load_image(item: dict) -> dict:
    """The transform of an image-class folder: decode one file (named in the error when it does not)."""
    from PIL import Image as PILImage

    path = item["path"]
    try:
        with PILImage.open(path) as img:
            pixels = np.asarray(img.convert(item["mode"]))
    except Exception as exc:
        raise CodecError(f"{path}: does not decode as an image: {exc}") from exc
    return {"image": pixels[..., None] if pixels.ndim == 2 else pixels, "label": item["label"]}


def _image_folder(root: str, classes: list[str], scheduler: str, workers: int) -> Transform:
    from PIL import Image as PILImage

    items, shapes, modes = [], [], set()
    for label, folder in enumerate(classes):
        for path in _files(os.path.join(root, folder), IMAGE_EXTS):
            try:
                with PILImage.open(path) as img:  # the header only
                    width, height = img.size
                    mode = {"L": "L", "1": "L", "I;16": "L", "RGBA": "RGBA", "LA": "RGBA"}.get(img.mode, "RGB")
            except Exception as exc:
                raise CodecError(f"{path}: does not decode as an image: {exc}") from exc
            modes.add(mode)
            items.append({"path": path, "label": label})
            shapes.append((height, width, {"L": 1, "RGB": 3, "RGBA": 4}[mode]))
    if not items:
        raise SchemaError(f"{root}: no image files under its class folders")
    mode = modes.pop() if len(modes) == 1 else "RGB"
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    shapes = [s[:2] + (channels,) for s in shapes]
    for item in items:
        item["mode"] = mode
    shape, max_shape = shape_of(shapes)
    schema = {"image": Image(shape=shape, dtype="uint8", max_shape=max_shape),
              "label": ClassLabel(names=[c.lower() for c in classes])}
    return _transform(items, schema, scheduler, workers, load_image)


def _parse_column(values: list[str]) -> tuple[Tensor, list]:
    for kind, dtype in ((int, "int64"), (float, "float64")):
        try:
            return Tensor(shape=(), dtype=dtype), [kind(v) for v in values]
        except ValueError:
            continue
    return Text(shape=(None,), max_shape=(max([1] + [len(v) for v in values]),)), list(values)


def _csv_folder(root: str, files: list[str], scheduler: str, workers: int) -> Transform:
    rows: list[dict] = []
    for path in files:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                row["Filename"] = os.path.basename(path)
                rows.append(row)
    if not rows:
        raise SchemaError(f"{root}: its CSV files hold no rows")
    columns = list(rows[0])
    schema, parsed = {}, {}
    for c in columns:
        key = c.replace("/", "_")
        schema[key], parsed[key] = _parse_column([r.get(c) or "" for r in rows])
    samples = [{k: parsed[k][j] for k in schema} for j in range(len(rows))]
    return _transform(samples, schema, scheduler, workers)


def from_path(path: str, scheduler: str = "single", workers: int = 1) -> Transform:
    """A folder -> a Transform to ``store``: ``root/<class>/<image>`` (an Image and a ClassLabel named by the
    folders, lower-cased and sorted as Hub had them) or a folder of CSV files (one tensor per column, plus
    ``Filename``)."""
    if not os.path.isdir(path):
        raise DatasetNotFoundError(f"{path} is not a folder")
    root = _find_root(path)
    csvs = _files(root, (".csv",))
    if csvs:
        return _csv_folder(root, csvs, scheduler, workers)
    classes = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))
    if len(classes) < 1:
        raise SchemaError(f"{root}: neither CSV files nor class folders of images")
    classes.sort(key=str.lower)
    return _image_folder(root, classes, scheduler, workers)
