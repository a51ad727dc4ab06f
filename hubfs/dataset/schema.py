"""Schema types: what each tensor holds, how it is stored, and which file the mount shows for it.

The names and arguments are Hub 1.x's (``Tensor``, ``Primitive``, ``Image``, ``ClassLabel``, ``Text``,
``BBox``, ``Mask``, ``Audio``, ``Video``, ``Polygon``, ``Segmentation``, ``Sequence``); a schema is a
(nested) dict of them. Bad combinations fail here, when the schema is built, not at the first write.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping

import numpy as np

from hubfs.codecs import registry
from hubfs.errors import CodecError, SchemaError, SchemaTypeError, WrongShape

Shape = tuple  # of int | None

_DEFAULT = object()  # "argument not given", so each type picks its own default compressor
TEXT_DTYPE = "str"
CHUNK_TARGET_BYTES = 256 << 10  # decoded size of one chunk (chunked layout): several fit a small cache
SHARD_TARGET_BYTES = 8 << 20  # estimated stored size of one shard (sample layout)
PRESENT_CHUNK_SAMPLES = 4096  # at least this many present marks per chunk (chunked layout, new tensors)
SMALL_IMAGE_BYTES = 1 << 20  # fixed-shape images up to this decoded size default to lz4 chunks (see Image)
MAX_SAMPLES_PER_SHARD = 4096


def _parse_shape(shape: Any, what: str) -> Shape:
    if shape is None:
        return ()
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise SchemaTypeError(f"{what} of {type(shape).__name__} is not supported: a tuple of ints or None, not {shape!r}")
    for d in shape:
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer))):
            raise SchemaTypeError(f"{what} can't have {type(d).__name__} in its dimension: {shape!r}")
    dims = tuple(None if d is None else int(d) for d in shape)
    if any(d is not None and d < 0 for d in dims):
        raise SchemaError(f"{what} {dims} has a negative dimension")
    return dims


class Tensor:
    """An n-dimensional array per sample; ``None`` dims are dynamic, bounded by ``max_shape`` if given."""

    kind = "Tensor"
    default_compressor: str | None = "lz4"
    default_shape: Shape = (None,)
    default_dtype = "int64"

    # Samples per chunk of the chunked layout's present mask, fixed when the tensor is created (None: as
    # many as a data chunk, which datasets written before it was recorded have).
    present_chunks: int | None = None

    def __init__(self, shape: Any = _DEFAULT, dtype: Any = _DEFAULT, max_shape: Any = None,
                 chunks: Any = None, compressor: Any = _DEFAULT):
        self.shape: Shape = _parse_shape(self.default_shape if shape is _DEFAULT else shape, "shape")
        self.dtype = self._parse_dtype(self.default_dtype if dtype is _DEFAULT else dtype)
        self.max_shape: Shape | None = self._parse_max_shape(max_shape)
        self.compressor = self.default_compressor if compressor is _DEFAULT else compressor
        self.chunks = self._parse_chunks(chunks)
        self._check()

    # -- parsing ---------------------------------------------------------------------------------
    def _parse_dtype(self, dtype: Any) -> np.dtype:
        if isinstance(dtype, Tensor):
            raise SchemaError(f"{self.kind}: dtype must be a numeric dtype, not a {dtype.kind} schema")
        try:
            dt = np.dtype(dtype)
        except TypeError as exc:
            raise SchemaError(f"{self.kind}: {dtype!r} is not a dtype") from exc
        if dt.kind not in "biufcUSO":
            raise SchemaError(f"{self.kind}: dtype {dt} is not numeric, bool, a NumPy string or object")
        return dt

    def _parse_max_shape(self, max_shape: Any) -> Shape | None:
        if max_shape is None:
            if all(d is not None for d in self.shape):
                return self.shape
            return None
        dims = _parse_shape(max_shape, "max_shape")
        if len(dims) != len(self.shape):
            raise SchemaError(f"{self.kind}: max_shape {dims} and shape {self.shape} differ in rank")
        for d, m in zip(self.shape, dims):
            if d is not None and m is not None and d != m:
                raise SchemaError(f"{self.kind}: max_shape {dims} differs from the fixed dims of shape {self.shape}")
        return tuple(d if d is not None else m for d, m in zip(self.shape, dims))

    def _parse_chunks(self, chunks: Any) -> int | None:
        if chunks is None or chunks is True:
            return None
        if isinstance(chunks, (tuple, list)):
            chunks = chunks[0] if chunks else None
        if chunks is None:
            return None
        if int(chunks) < 1:
            raise SchemaError(f"{self.kind}: chunks must be at least 1 sample, not {chunks}")
        return int(chunks)

    def _check(self) -> None:
        codec = self._known_codec()
        reason = codec.fits(self.shape, self.dtype)
        if reason:
            raise SchemaError(f"{self.kind}: compressor {self.compressor!r} does not fit: {reason}")

    def _known_codec(self) -> registry.Codec:
        try:
            return registry.get(self.compressor)
        except CodecError as exc:
            raise SchemaError(f"{self.kind}: {exc}") from None

    # -- properties ------------------------------------------------------------------------------
    @property
    def is_dynamic(self) -> bool:
        return any(d is None for d in self.shape)

    @property
    def is_text(self) -> bool:
        return False

    @property
    def codec(self) -> registry.Codec:
        """The codec that stores this tensor's samples (``compressor`` names it)."""
        return registry.get(self.compressor)

    @property
    def layout(self) -> str:
        """'chunked' (many samples per compressed chunk) or 'samples' (one byte range per sample)."""
        if self.is_dynamic or self.is_text or self.codec.is_image or self.dtype.kind in "USO":
            return "samples"
        return "chunked"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def sample_nbytes_estimate(self) -> int:
        dims = self.max_shape or tuple(d or 256 for d in self.shape)
        return max(1, int(np.prod([d or 256 for d in dims])) * self.dtype.itemsize)

    def samples_per_chunk(self, cache_bytes: int | None = None) -> int:
        """Samples per chunk (chunked layout) or per shard (sample layout).

        Chosen once, when the tensor is created, and stored in the schema. A small cache gets smaller
        chunks (at most 1/16 of it decoded) and shards (index at most 1/64 of it), so that the cache holds
        several and does not rewrite whole chunks for every sample written.
        """
        if self.chunks:
            return self.chunks
        chunk_target, index_limit = CHUNK_TARGET_BYTES, MAX_SAMPLES_PER_SHARD
        if cache_bytes is not None:
            chunk_target = max(1, min(chunk_target, cache_bytes // 16))
            index_limit = max(1, min(index_limit, cache_bytes // 64 // 16))
        if self.layout == "chunked":
            n = chunk_target // self.sample_nbytes_estimate()
            return _floor_pow2(min(16384, max(1, n)))
        ratio = 3 if self.codec.is_image else 1
        n = SHARD_TARGET_BYTES * ratio // self.sample_nbytes_estimate()
        return _floor_pow2(min(index_limit, max(1, n)))

    def with_chunks(self, cache_bytes: int | None) -> "Tensor":
        """A copy with ``chunks`` fixed, as stored for a new tensor."""
        out = copy.copy(self)
        out.chunks = self.samples_per_chunk(cache_bytes)
        if out.layout == "chunked" and out.present_chunks is None:
            # Present marks are one byte a sample: a mask chunk as small as a data chunk of large samples
            # (one 256x256x3 photo) would be one more object per sample written.
            out.present_chunks = max(out.chunks, PRESENT_CHUNK_SAMPLES)
        return out

    # -- values ----------------------------------------------------------------------------------
    def empty_value(self) -> Any:
        """What a sample without a value reads as: zeros of the fixed shape, or an empty array."""
        return np.zeros(tuple(d or 0 for d in self.shape), self.dtype)

    def coerce(self, value: Any) -> Any:
        """The value as this tensor stores it; ValueError with the reason when it does not fit."""
        arr = self.cast(self._as_array(value))
        if arr.ndim != len(self.shape):
            raise WrongShape(f"expected {len(self.shape)} dimensions {self._shape_text()}, got shape {arr.shape}")
        limit = self.max_shape or self.shape
        for got, fixed, top in zip(arr.shape, self.shape, limit):
            if fixed is not None and got != fixed:
                raise WrongShape(f"expected shape {self._shape_text()}, got {arr.shape}")
            if top is not None and got > top:
                raise WrongShape(f"shape {arr.shape} exceeds max_shape {self.max_shape}")
        return arr

    def _as_array(self, value: Any) -> np.ndarray:
        if self.dtype.kind == "O" and not self.shape and not isinstance(value, np.ndarray):
            one = np.empty((), dtype=object)  # one object per sample: a list is that object, not an array
            one[()] = value
            return one
        try:
            return np.asarray(value, dtype=object if self.dtype.kind == "O" else None)
        except ValueError as exc:  # ragged nested lists
            raise WrongShape(f"the value is not a rectangular array: {exc}") from None

    def cast(self, arr: np.ndarray) -> np.ndarray:
        """``arr`` in this tensor's dtype, by value (see ``cast_exact``)."""
        return cast_exact(arr, self.dtype)

    def _shape_text(self) -> str:
        text = str(tuple("None" if d is None else d for d in self.shape)).replace("'", "")
        if self.is_dynamic and self.max_shape:
            text += f" within max_shape {self.max_shape}"
        return text

    # -- serialisation ---------------------------------------------------------------------------
    def to_json(self) -> dict:
        out = {"type": self.kind, "shape": list(self.shape), "dtype": str(self.dtype),
               "max_shape": None if self.max_shape is None else list(self.max_shape),
               "chunks": self.chunks, "compressor": self.compressor}
        if self.present_chunks is not None:
            out["present_chunks"] = self.present_chunks
        out.update(self._extra_json())
        return out

    def _extra_json(self) -> dict:
        return {}

    def __eq__(self, other: object) -> bool:
        """Same type, shape, dtype and options; ``chunks=None`` matches any chunking ("let hubfs choose")."""
        if not isinstance(other, Tensor):
            return NotImplemented
        a, b = self.to_json(), other.to_json()
        a.pop("present_chunks", None), b.pop("present_chunks", None)  # a storage detail, like chunks
        if a["chunks"] is None or b["chunks"] is None:
            a["chunks"] = b["chunks"] = None
        return a == b

    def __hash__(self) -> int:
        return hash((self.kind, self.shape, str(self.dtype)))

    def __repr__(self) -> str:
        """As Hub printed it: ``Image(shape=(28, 28), dtype='uint8')``, max_shape when it differs, then the
        type's own options; a compressor other than the type's default (hubfs's own option) comes last."""
        parts = [f"shape={self._repr_shape()}", f"dtype={self._repr_dtype()}"]
        max_shape = self._repr_max_shape()
        if max_shape is not None and max_shape != self._repr_shape():
            parts.append(f"max_shape={max_shape}")
        parts += self._repr_extra()
        if self.compressor != self.implied_compressor():
            parts.append(f"compressor={self.compressor!r}")
        return f"{self.kind}({', '.join(parts)})"

    def implied_compressor(self) -> str | None:
        """The compressor this type gets when the schema names none."""
        return self.default_compressor

    def _repr_shape(self) -> tuple:
        return self.shape

    def _repr_max_shape(self) -> tuple | None:
        return self.max_shape

    def _repr_dtype(self) -> str:
        return f"'{self.dtype}'"

    def _repr_extra(self) -> list[str]:
        return []


def _floor_pow2(n: int) -> int:
    return 1 << (int(n).bit_length() - 1)


def cast_exact(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``arr`` as ``dtype`` when every value converts exactly (Hub cast by value, not by type): integers
    and whole floats that fit an integer type, 0/1 into bool, numbers into floats that hold them (rounding
    to float32 is allowed, overflowing to inf is not). ValueError naming the first value that does not."""
    if arr.dtype == dtype:
        return arr
    if np.can_cast(arr.dtype, dtype, "safe") and dtype.kind != "O":
        return arr.astype(dtype)
    if dtype.kind == "O":
        return arr.astype(object)
    if dtype.kind in "US":
        if arr.dtype.kind in "US" or arr.dtype == object and all(isinstance(v, str) for v in arr.reshape(-1)):
            out = arr.astype(dtype)
            bad = [j for j, (a, b) in enumerate(zip(arr.reshape(-1), out.reshape(-1))) if str(a) != str(b)]
            if not bad:
                return out
            raise ValueError(f"value {arr.reshape(-1)[bad[0]]!r} is longer than {dtype} holds")
        raise ValueError(f"cannot store {arr.dtype} values as {dtype} strings")
    if arr.dtype == object:  # nested lists of Python numbers: let numpy find their type first
        try:
            arr = np.asarray(arr.tolist())
        except ValueError as exc:
            raise WrongShape(f"the value is not a rectangular array: {exc}") from None
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise ValueError(f"cannot store {type(arr.reshape(-1)[0]).__name__} values as {dtype}")
        return cast_exact(arr, dtype)
    if arr.dtype.kind not in "biuf" or dtype.kind not in "biufc":
        raise ValueError(f"cannot store {arr.dtype} values as {dtype}")
    with np.errstate(all="ignore"):
        out = arr.astype(dtype)
        if dtype.kind in "fc":
            # integers must round-trip; floats may round but not overflow to inf
            ok = np.isfinite(out) | ~np.isfinite(arr) if arr.dtype.kind == "f" else out.astype(arr.dtype) == arr
        elif dtype.kind == "b":
            ok = (arr == 0) | (arr == 1)
        elif arr.dtype.kind in "iub":
            info = np.iinfo(dtype)
            ok = (arr >= info.min) & (arr <= info.max)
        else:  # float into an integer type: whole, finite and within range
            info = np.iinfo(dtype)
            ok = np.isfinite(arr) & (np.floor(arr) == arr) & (arr >= float(info.min)) & (arr <= float(info.max))
    ok = np.asarray(ok)
    if ok.all():
        return out
    where = np.unravel_index(int(np.flatnonzero(~ok.reshape(-1))[0]), arr.shape) if arr.ndim else ()
    value = (arr[where] if arr.ndim else arr[()]).item()
    at = f" at {list(map(int, where))}" if arr.ndim else ""
    limits = ""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        limits = f" (whole numbers {info.min}..{info.max})"
    elif dtype.kind == "b":
        limits = " (0 or 1)"
    raise ValueError(f"{arr.dtype} value {value!r}{at} does not fit {dtype}{limits}")


def label_names(t: "Tensor", value: Any) -> Any:
    """Class names of a ClassLabel's values: a str for one label, nested lists for arrays of them."""
    if isinstance(value, np.ndarray) and value.ndim:
        return [label_names(t, v) for v in value]
    if isinstance(value, list):
        return [label_names(t, v) for v in value]
    return t.int2str(int(value))


class Primitive(Tensor):
    """One scalar per sample."""

    kind = "Primitive"

    def __init__(self, dtype: Any = "int64", chunks: Any = None, compressor: Any = _DEFAULT):
        super().__init__(shape=(), dtype=dtype, chunks=chunks, compressor=compressor)

    def __repr__(self) -> str:
        return f"'{self.dtype}'"  # Hub printed a Primitive as its dtype


class _Classes:
    """Class names shared by ClassLabel and Segmentation: ``num_classes`` | ``names`` | ``names_file``.

    ``class_names`` are the names given (None for ``num_classes``); ``names`` is Hub's list, which for
    ``num_classes=3`` is ``['0', '1', '2']``.
    """

    def _init_classes(self, num_classes: Any, names: Any, names_file: Any) -> None:
        given = [x is not None for x in (num_classes, names, names_file)]
        if sum(given) > 1:
            raise SchemaError(f"{self.kind}: give only one of num_classes, names and names_file")
        if names_file is not None:
            with open(names_file, encoding="utf-8") as f:
                names = [line.strip() for line in f if line.strip()]
        self.class_names: list[str] | None = [str(n) for n in names] if names is not None else None
        if self.class_names is not None:
            if len(set(self.class_names)) != len(self.class_names):
                raise SchemaError(f"{self.kind}: class names are not unique")
            num_classes = len(self.class_names)
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer))):
            raise SchemaTypeError(f"{self.kind}: num_classes must be an int, not {num_classes!r}")
        self.num_classes: int | None = int(num_classes) if num_classes is not None else None
        if self.num_classes is not None and self.num_classes < 1:
            raise SchemaError(f"{self.kind}: num_classes must be at least 1")

    @property
    def names(self) -> list[str]:
        if self.class_names is not None:
            return list(self.class_names)
        return [str(i) for i in range(self.num_classes or 0)]

    def str2int(self, name: str) -> int:
        if self.class_names is None or name not in self.class_names:
            raise ValueError(f"{name!r} is not a class name" + (f"; classes are {self.class_names}" if self.class_names else ""))
        return self.class_names.index(name)

    def int2str(self, label: int) -> str:
        if self.class_names is None:
            return str(int(label))
        return self.class_names[int(label)]

    def _range_text(self) -> str:
        return f"0..{self.num_classes - 1}" + (f" or one of {self.class_names}" if self.class_names else "")

    def _classes_json(self) -> dict:
        return {"num_classes": self.num_classes, "names": self.class_names}

    def _repr_extra(self) -> list[str]:
        out = [f"names={self.class_names}"] if self.class_names is not None else []
        return out + ([f"num_classes={self.num_classes}"] if self.num_classes is not None else [])


class ClassLabel(_Classes, Tensor):
    """An integer class per sample, or ``shape=(N,)`` / ``(None,)`` of them; write ints or names, read
    ints or (``label_name=True``) names. Labels are int64 (Hub's default was uint8)."""

    kind = "ClassLabel"

    def __init__(self, shape: Any = (), dtype: Any = "int64", max_shape: Any = None, num_classes: int | None = None,
                 names: Iterable[str] | None = None, names_file: str | None = None, chunks: Any = None,
                 compressor: Any = _DEFAULT):
        self._init_classes(num_classes, names, names_file)
        if self.num_classes is None:
            raise SchemaError("ClassLabel: give num_classes, names or names_file")
        Tensor.__init__(self, shape=shape, dtype=dtype, max_shape=max_shape, chunks=chunks, compressor=compressor)
        if len(self.shape) not in (0, 1):
            raise SchemaError(f"ClassLabel: shape must be (), (N,) or (None,), not {self.shape}")
        if self.dtype.kind not in "iu":
            raise SchemaError(f"ClassLabel: dtype must be an integer type, not {self.dtype}")

    def _label(self, value: Any) -> int:
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, bytes):
            value = value.decode("utf-8", "strict")
        if isinstance(value, str):
            try:
                return self.str2int(value)
            except ValueError as exc:
                raise ValueError(f"{exc}; valid labels are {self._range_text()}") from None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"a class label is an int or a class name, not {type(value).__name__}")
        if not 0 <= int(value) < self.num_classes:
            raise ValueError(f"label {int(value)} is outside the valid range {self._range_text()}")
        return int(value)

    def coerce(self, value: Any) -> Any:
        if not self.shape:
            return np.asarray(self._label(value), dtype=self.dtype)
        if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
            labels = value
            bad = (labels < 0) | (labels >= self.num_classes)
            if bad.any():
                self._label(int(labels[bad][0]))  # raises, naming it
        elif isinstance(value, (str, bytes)) or np.ndim(value) == 0:
            raise WrongShape(f"expected {len(self.shape)} dimensions {self._shape_text()}, got one label")
        else:
            labels = [self._label(v) for v in value]
        return Tensor.coerce(self, np.asarray(labels, dtype=self.dtype))

    def _extra_json(self) -> dict:
        return self._classes_json()


class Text(Tensor):
    """A Unicode string per sample (stored as UTF-8); ``max_shape=(n,)`` bounds its length in characters."""

    kind = "Text"

    def __init__(self, shape: Any = (None,), dtype: Any = "int64", max_shape: Any = None,
                 chunks: Any = None, compressor: Any = _DEFAULT):
        super().__init__(shape=shape, dtype="uint8", max_shape=max_shape, chunks=chunks, compressor=compressor)
        if len(self.shape) != 1:
            raise SchemaError(f"Text: shape must be one-dimensional, not {self.shape}")
        if self.codec.is_image:
            raise SchemaError(f"Text: compressor {self.compressor!r} is for images")

    def _check(self) -> None:
        self._known_codec()

    @property
    def is_text(self) -> bool:
        return True

    def empty_value(self) -> str:
        return ""

    def coerce(self, value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.dtype.kind in "US":
            value = value.item()
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"text is not valid UTF-8: {exc}") from None
        if not isinstance(value, str):
            raise ValueError(f"expected str, got {type(value).__name__}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"text holds a lone surrogate {value[exc.start]!r} at character {exc.start}, "
                             f"which no Unicode encoding can store") from None
        limit = (self.max_shape or self.shape)[0]
        if limit is not None and len(value) > limit:
            raise ValueError(f"text of {len(value)} characters exceeds max_shape ({limit},)")
        return value

    def to_json(self) -> dict:
        out = super().to_json()
        out["dtype"] = TEXT_DTYPE
        return out


class Image(Tensor):
    """An image (H, W) or (H, W, C) of uint8 or uint16; stored as PNG by default, so the mount serves it
    as stored. Shapes and dtypes PNG cannot hold (uint16 colour) are stored lz4, as Hub stored them."""

    kind = "Image"
    default_compressor = "png"
    default_shape = (None, None, None)
    default_dtype = "uint8"
    dtypes = ("uint8", "uint16")

    def __init__(self, shape: Any = _DEFAULT, dtype: Any = _DEFAULT, max_shape: Any = None,
                 chunks: Any = None, compressor: Any = _DEFAULT):
        if compressor is _DEFAULT:
            dims = _parse_shape(self.default_shape if shape is _DEFAULT else shape, "shape")
            dt = np.dtype(self.default_dtype if dtype is _DEFAULT else dtype)
            compressor = self.default_compressor_for(dims, dt)
        super().__init__(shape=shape, dtype=dtype, max_shape=max_shape, chunks=chunks, compressor=compressor)

    @classmethod
    def default_compressor_for(cls, shape: Shape, dtype: np.dtype) -> str:
        """The layout a reader is best served by (doc/DESIGN.md, "Default image layout"): lz4 chunks for
        fixed shapes up to SMALL_IMAGE_BYTES (bulk reads decode a chunk of many samples at memory speed, as
        Hub 1.x's default lz4 did), a PNG per sample for larger or dynamic images (the mount serves it as
        stored), and lz4 wherever PNG cannot hold the pixels (uint16 colour)."""
        if len(shape) in (2, 3) and registry.get("png").fits(shape, dtype):
            return "lz4"
        if all(d is not None for d in shape) and int(np.prod(shape)) * dtype.itemsize <= SMALL_IMAGE_BYTES:
            return "lz4"
        return cls.default_compressor

    def implied_compressor(self) -> str | None:
        return self.default_compressor_for(self.shape, self.dtype)

    def _check(self) -> None:
        if len(self.shape) not in (2, 3):
            raise SchemaError(f"{self.kind}: shape must be (height, width) or (height, width, channels), not {self.shape}")
        if str(self.dtype) not in self.dtypes:
            raise SchemaError(f"{self.kind}: dtype must be one of {', '.join(self.dtypes)}, not {self.dtype}")
        super()._check()

    def coerce(self, value: Any) -> Any:
        arr = super().coerce(value)
        if arr.size == 0:
            raise WrongShape(f"an image needs at least one pixel, not shape {arr.shape}")
        return arr


class Mask(Image):
    """A boolean mask (H, W, 1); stored as 1-bit PNG."""

    kind = "Mask"
    default_shape = (None, None, 1)
    default_dtype = "bool"
    dtypes = ("bool",)

    def _repr_dtype(self) -> str:
        return "'bool'"


class Segmentation(_Classes, Image):
    """A per-pixel class map (H, W, 1) with class names like ClassLabel."""

    kind = "Segmentation"
    default_shape = (None, None, 1)

    def __init__(self, shape: Any = _DEFAULT, dtype: Any = "uint8", num_classes: int | None = None,
                 names: Iterable[str] | None = None, names_file: str | None = None, max_shape: Any = None,
                 chunks: Any = None, compressor: Any = _DEFAULT):
        self._init_classes(num_classes, names, names_file)
        Image.__init__(self, shape=shape, dtype=dtype, max_shape=max_shape, chunks=chunks, compressor=compressor)

    def get_segmentation_classes(self) -> list[str]:
        """The class names (Hub's)."""
        return self.names

    def _extra_json(self) -> dict:
        return self._classes_json()


class BBox(Tensor):
    """A bounding box (4 coordinates by default); the mount shows it as JSON."""

    kind = "BBox"
    default_shape = (4,)
    default_dtype = "float64"

    def _check(self) -> None:
        if len(self.shape) not in (1, 2) or self.shape[-1] != 4:
            raise SchemaError(f"BBox: shape must be (4,), (N, 4) or (None, 4), not {self.shape}")
        super()._check()


class Polygon(Tensor):
    """A list of (x, y) points; the mount shows it as JSON."""

    kind = "Polygon"
    default_shape = (None, 2)
    default_dtype = "int32"

    def _check(self) -> None:
        if len(self.shape) != 2 or self.shape[-1] != 2:
            raise SchemaError(f"Polygon: shape must be (N, 2) or (None, 2), not {self.shape}")
        super()._check()


class Audio(Tensor):
    """A waveform (samples,) or (samples, channels); the mount shows it as WAV."""

    kind = "Audio"
    default_shape = (None,)
    default_dtype = "int64"

    def __init__(self, shape: Any = _DEFAULT, dtype: Any = _DEFAULT, file_format: str | None = None,
                 sample_rate: int | None = None, max_shape: Any = None, chunks: Any = None,
                 compressor: Any = _DEFAULT):
        if file_format not in (None, "wav"):
            raise SchemaError(f"Audio: file_format {file_format!r} is not supported; samples are stored as arrays and shown as wav")
        self.sample_rate = int(sample_rate) if sample_rate is not None else None
        super().__init__(shape=shape, dtype=dtype, max_shape=max_shape, chunks=chunks, compressor=compressor)
        if len(self.shape) not in (1, 2):
            raise SchemaError(f"Audio: shape must be (samples,) or (samples, channels), not {self.shape}")

    def _extra_json(self) -> dict:
        return {"sample_rate": self.sample_rate}

    def _repr_extra(self) -> list[str]:
        return [f"sample_rate={self.sample_rate}"] if self.sample_rate is not None else []


class Video(Tensor):
    """Frames (T, H, W, C) per sample."""

    kind = "Video"
    default_shape = (None, None, None, None)
    default_dtype = "uint8"


class Sequence(Tensor):
    """A sequence (``shape=(None,)`` for any length) of a dtype, of a schema type (``dtype=Image(...)``:
    each sample is the items stacked) or of a dict of them (each key becomes a tensor ``seq/key`` of
    sequences, so ``ds["seq", 0, "key"]`` reads one)."""

    kind = "Sequence"

    def __init__(self, shape: Any = (None,), max_shape: Any = None, dtype: Any = "float64",
                 chunks: Any = None, compressor: Any = _DEFAULT):
        self.outer_shape: Shape = _parse_shape(shape, "shape")
        self.outer_max: Shape | None = _parse_shape(max_shape, "max_shape") if max_shape is not None else None
        self.item: Any = dtype  # what each element is, for flatten() and repr
        inner_shape: Shape = ()
        inner_max: Shape | None = ()
        if isinstance(dtype, Mapping):
            flatten(dtype)  # check the nested schema now; its tensors are made by flatten()
            dtype = "uint8"
        elif isinstance(dtype, Tensor):
            if dtype.is_text:
                raise SchemaError("Sequence: use a Text-free item; a sequence of texts is not supported")
            inner_shape, inner_max, dtype = dtype.shape, dtype.max_shape, dtype.dtype
        outer_max = self.outer_max if self.outer_max is not None else \
            (self.outer_shape if None not in self.outer_shape else None)
        full_max = None if outer_max is None or inner_max is None else outer_max + inner_max
        super().__init__(shape=self.outer_shape + inner_shape, dtype=dtype, max_shape=full_max,
                         chunks=chunks, compressor=compressor)

    @property
    def is_group(self) -> bool:
        """A sequence of a dict: not a tensor itself, its keys are."""
        return isinstance(getattr(self, "item", None), Mapping)

    def _repr_shape(self) -> tuple:
        return getattr(self, "outer_shape", self.shape)

    def _repr_max_shape(self) -> tuple | None:
        return getattr(self, "outer_max", self.max_shape)

    def _repr_dtype(self) -> str:
        item = getattr(self, "item", None)
        if isinstance(item, (Tensor, Mapping)):
            return repr(item)
        return f"'{self.dtype}'"


TYPES: dict[str, type[Tensor]] = {t.kind: t for t in (Tensor, Primitive, ClassLabel, Text, Image, Mask, Segmentation,
                                                      BBox, Polygon, Audio, Video, Sequence)}


def type_from_json(doc: Mapping[str, Any]) -> Tensor:
    """Rebuild a schema type from ``to_json`` output without re-running its constructor's defaults."""
    cls = TYPES.get(doc.get("type", ""))
    if cls is None:
        raise SchemaError(f"unknown schema type {doc.get('type')!r}")
    obj = cls.__new__(cls)
    obj.shape = tuple(doc["shape"])
    obj.dtype = np.dtype("uint8") if doc["dtype"] == TEXT_DTYPE else np.dtype(doc["dtype"])
    obj.shape = tuple(obj.shape)
    obj.max_shape = tuple(doc["max_shape"]) if doc.get("max_shape") is not None else None
    obj.chunks = doc.get("chunks")
    if doc.get("present_chunks") is not None:
        obj.present_chunks = int(doc["present_chunks"])
    obj.compressor = doc.get("compressor")
    if "names" in doc or "num_classes" in doc:
        obj.class_names = doc.get("names")
        obj.num_classes = doc.get("num_classes")
    if cls is Audio:
        obj.sample_rate = doc.get("sample_rate")
    if cls is Sequence:
        obj.item = obj.dtype
    return obj


def flatten(schema: Mapping[str, Any], prefix: str = "") -> dict[str, Tensor]:
    """Nested dict of types -> {"a/b": type}; checks names and types."""
    if not isinstance(schema, Mapping) or not schema:
        raise SchemaError("a schema is a non-empty dict of tensor names to schema types")
    out: dict[str, Tensor] = {}
    for name, value in schema.items():
        if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name:
            raise SchemaError(f"bad tensor name {name!r}: a non-empty string without '/', not '.' or '..'")
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            out.update(flatten(value, key + "/"))
        elif isinstance(value, Sequence) and value.is_group:
            for sub, t in flatten(value.item, key + "/").items():
                out[sub] = Sequence(value.outer_shape, value.outer_max, t, compressor=value.compressor)
        elif isinstance(value, Tensor):
            out[key] = value
        elif isinstance(value, (str, np.dtype, type)):
            out[key] = Primitive(value)
        else:
            raise SchemaError(f"tensor {key!r}: {value!r} is not a schema type")
    return out


def to_json(flat: Mapping[str, Tensor]) -> dict:
    return {key: t.to_json() for key, t in flat.items()}


def from_json(doc: Mapping[str, Any]) -> dict[str, Tensor]:
    return {key: type_from_json(d) for key, d in doc.items()}


def nest(flat: Mapping[str, Any]) -> dict:
    """{"a/b": x} -> {"a": {"b": x}}."""
    out: dict = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def describe_difference(old: Mapping[str, Tensor], new: Mapping[str, Tensor]) -> str | None:
    """A human sentence of how two flat schemas differ, or None when they are the same."""
    missing = sorted(set(old) - set(new))
    extra = sorted(set(new) - set(old))
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    parts = []
    if missing:
        parts.append(f"stored tensors not in the given schema: {missing}")
    if extra:
        parts.append(f"given tensors not stored: {extra}")
    for k in changed:
        parts.append(f"tensor {k!r} is stored as {old[k]!r}, given as {new[k]!r}")
    return "; ".join(parts) or None
