"""Every hubfs error, in one place.

Each error also subclasses the builtin a caller would naturally catch (``ValueError`` for bad input,
``PermissionError`` for read-only, ``OSError`` for store failures), so generic code keeps working.
"""
from __future__ import annotations


class HubfsError(Exception):
    """Base of all hubfs errors."""


class SchemaError(HubfsError, ValueError):
    """A schema is malformed, or does not match the stored one."""


class SchemaMismatchError(SchemaError):
    """A dataset is opened with a schema other than the stored one."""


class ShapeMismatchError(SchemaError, TypeError):
    """A dataset is opened with a shape other than the stored one (Hub raised TypeError)."""


class ShapeLengthError(SchemaError):
    """A dataset's shape is not ``(n,)``."""


class MissingArgumentError(SchemaError):
    """Creating a dataset without ``shape`` or ``schema``."""


class SchemaTypeError(SchemaError, TypeError):
    """A schema type's argument has the wrong type (``Tensor(shape=5.1)``; Hub raised TypeError)."""


class CodecError(HubfsError, ValueError):
    """Bytes do not decode, or an array cannot be encoded, in a given format."""


class SampleError(HubfsError, ValueError):
    """A value does not fit its tensor at an index; names the tensor, the index and the reason."""

    def __init__(self, tensor: str, index: int | str, reason: str):
        self.tensor = tensor
        self.index = index
        self.reason = reason
        super().__init__(f"tensor {tensor!r}, index {index}: {reason}")

    def __reduce__(self) -> tuple:  # crosses process boundaries (transform workers) intact
        return (type(self), (self.tensor, self.index, self.reason))


class SampleShapeError(SampleError):
    """A value whose shape does not fit its tensor (Hub's ValueShapeError)."""


class WrongShape(HubfsError, ValueError):
    """A value's shape does not fit a schema type (raised by the type, without a tensor name; the engine
    turns it into SampleShapeError naming the tensor and the index)."""


class ClassLabelValueError(SampleError):
    """A class label that is not one of the tensor's classes."""


class IndexOutOfRangeError(HubfsError, IndexError):
    """An index beyond the dataset's length."""


class TensorNotFoundError(HubfsError, KeyError):
    """A key that names no tensor of the schema."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class ReadOnlyError(HubfsError, PermissionError):
    """A write to a dataset opened read-only (Hub 1.x called it ReadModeException)."""


ReadModeException = ReadOnlyError


class AddressNotFound(HubfsError, KeyError):
    """``checkout``/``version=``/``url@address`` named no branch and no commit (Hub 1.x's name)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class VersionError(HubfsError, ValueError):
    """A version operation that cannot be done as asked (a branch that exists, a commit on a commit)."""


class DatasetNotFoundError(HubfsError, FileNotFoundError):
    """No dataset at the url, and the mode does not create one."""


class NotADatasetError(HubfsError, FileExistsError):
    """The url holds something that is not a hubfs dataset; it is never overwritten."""


class DatasetClosedError(HubfsError, RuntimeError):
    """Use of a dataset after ``close()``."""


class LockedError(HubfsError, BlockingIOError):
    """Another live process holds the dataset's writer lock."""


class StoreError(HubfsError, OSError):
    """The storage backend failed (unreachable, timed out, permission denied, ...).

    ``denied`` is True when the store refused the operation (credentials, permissions, a read-only
    file system) rather than failing to answer.
    """

    denied = False


class CorruptionError(StoreError):
    """Stored bytes fail their crc32c or do not parse: the message names the object's key and, where there
    is one, the tensor and the sample or chunk. Never repaired by a reader; EIO at the mount."""

    def __init__(self, message: str, key: str | None = None, tensor: str | None = None,
                 index: int | str | None = None):
        super().__init__(message)
        self.key, self.tensor, self.index = key, tensor, index

    def __reduce__(self) -> tuple:
        return (type(self), (str(self), self.key, self.tensor, self.index))


class ConfigError(HubfsError, ValueError):
    """A bad url, token or configuration value."""


class ModuleNotInstalledError(HubfsError, ImportError):
    """An optional integration (torch, tensorflow, dask, ...) is needed but not installed."""


class MountError(HubfsError, OSError):
    """A mount could not be made or taken down."""


class TransformError(HubfsError, RuntimeError):
    """A transform's function raised, or returned what is not a sample; names the source sample."""

    def __init__(self, index: int, reason: str):
        self.index = index
        self.reason = reason
        super().__init__(f"transform of source sample {index} failed: {reason}")

    def __reduce__(self) -> tuple:
        return (type(self), (self.index, self.reason))


class WorkerError(HubfsError, RuntimeError):
    """A transform worker process died (killed, out of memory) before finishing its samples."""
