"""UTF-8 text files: Text tensors verbatim, ClassLabel tensors as a class name or an integer per file."""
from __future__ import annotations

from hubfs.errors import CodecError

NAME = "txt"
EXTENSION = "txt"


def encode(text: str) -> bytes:
    """A Text sample as its file: the string's UTF-8 bytes, nothing added."""
    return text.encode("utf-8")


def decode(data: bytes) -> str:
    """A text file back to its string; CodecError when it is not valid UTF-8."""
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodecError(f"text is not valid UTF-8: {exc}") from None


def encode_label(label: int, names: list[str] | None = None) -> bytes:
    """A class label as a one-line file: its class name when the classes have names, else the integer."""
    label = int(label)
    if names is not None and 0 <= label < len(names):
        return f"{names[label]}\n".encode("utf-8")
    return f"{label}\n".encode("utf-8")


def decode_label(data: bytes, names: list[str] | None = None) -> int:
    """A label file back to its integer: a class name (surrounding whitespace ignored) or an integer.

    The range is not checked here: the dataset checks it against the tensor's classes.
    """
    text = decode(data).strip()
    if names is not None and text in names:
        return names.index(text)
    try:
        return int(text)
    except ValueError:
        known = f"; classes are {names}" if names else ""
        raise CodecError(f"{text[:40]!r} is neither a class name nor an integer{known}") from None
