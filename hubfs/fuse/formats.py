"""The files a mount shows for samples: which kind of file each schema type is served as, and the
encoding of values into those files and back. Which file a type becomes is the mount's concern alone; the
engine only knows the codecs it stores with (``hubfs.codecs.registry``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from hubfs.codecs import decode_image, npy, png, registry, text, wav
from hubfs.codecs import json as json_codec
from hubfs.dataset.schema import Audio, BBox, ClassLabel, Image, Polygon, Tensor, Text
from hubfs.errors import CodecError, SampleError

PNG = registry.get("png")


def file_extension(t: Tensor) -> str:
    """The kind of file a sample of schema type ``t`` is served as (doc/SEMANTICS.md, Layout)."""
    if isinstance(t, Text):
        return "txt"
    if isinstance(t, ClassLabel):
        return "txt" if not t.shape else "json"  # one label a line of text; several a JSON list
    if isinstance(t, (BBox, Polygon)):
        return "json"
    if isinstance(t, Audio):
        return "wav" if wav.can_encode(t.dtype) else "npy"  # float audio has no PCM form; .npy keeps it
    if isinstance(t, Image):
        if t.codec.is_image:
            return t.codec.extension  # served as stored
        return PNG.extension if PNG.fits(t.shape, t.dtype) is None else "npy"  # chunks: PNG made on demand
    return "json" if t.dtype.kind == "O" else "npy"  # objects: .npy would hold them only pickled


class FileFormat:
    """How one tensor's samples become files and back: extension, encode(value), decode(bytes)."""

    def __init__(self, key: str, schema: Tensor):
        self.key = key
        self.type = schema
        self.ext = file_extension(schema)
        self.image_codec = registry.by_extension(self.ext)
        self.is_png = self.image_codec is PNG
        # The sample codec the engine stores: when it is the file's own format, files are served as stored.
        self.stored = self.image_codec is not None and schema.codec is self.image_codec
        self.max_bytes = self._max_bytes(schema)

    def _max_bytes(self, t: Any) -> int | None:
        """A bound on the size of any file this tensor can accept (EFBIG past it), None when unbounded."""
        if self.ext == "txt" and not t.is_text:
            names = getattr(t, "class_names", None) or []
            return 4096 + 4 * max((len(n) for n in names), default=0)  # a class name or an integer, and blanks
        dims = getattr(t, "max_shape", None) or t.shape
        if any(d is None for d in dims):
            return None
        count = int(np.prod(dims, dtype=np.int64))
        if self.ext == "txt":
            return 4 * count + 4096  # UTF-8: at most 4 bytes a character
        if self.ext == "json":
            return 64 * count + (64 << 10)  # numbers as text, with room for indentation
        raw = count * np.dtype(t.dtype).itemsize
        if self.image_codec is not None:
            return 2 * raw + (1 << 20)  # compressed images may outgrow their pixels (noise, metadata chunks)
        return raw + (64 << 10)  # .npy and .wav headers

    def encode(self, value: Any) -> bytes:
        t = self.type
        if self.is_png and not self.stored:  # pixels kept in chunks: an uncompressed PNG
            return png.encode_uncompressed(value) if np.asarray(value).size else b""
        if self.image_codec is not None:
            return self.image_codec.encode(value) if np.asarray(value).size else b""
        if self.ext == "txt":
            if isinstance(value, str):
                return text.encode(value)
            return text.encode_label(int(value), getattr(t, "class_names", None))
        if self.ext == "json":
            return json_codec.encode(value)
        if self.ext == "wav":
            return wav.encode(value, getattr(t, "sample_rate", None))
        return npy.encode(value)

    def decode(self, data: bytes, index: int) -> Any:
        """The value a file's bytes hold; SampleError naming the tensor and index when they do not decode."""
        t = self.type
        try:
            if self.image_codec is not None:
                return decode_image(data, self.image_codec.name, len(t.shape))
            if self.ext == "txt":
                if t.is_text:
                    return text.decode(data)
                return text.decode_label(data, getattr(t, "class_names", None))
            if self.ext == "json":
                return json_codec.decode(data)
            if self.ext == "wav":
                value, rate = wav.decode(data)
                want = getattr(t, "sample_rate", None)
                if want and rate != want:
                    raise CodecError(f"the WAV file is {rate} Hz, the tensor holds {want} Hz audio")
                if len(t.shape) == 2 and value.ndim == 1:
                    value = value[:, None]
                return value
            return npy.decode(data)
        except CodecError as exc:
            raise SampleError(self.key, index, f"{self.key.rsplit('/', 1)[-1]}.{self.ext}: {exc}") from exc
