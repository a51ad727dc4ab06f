"""WAV files of Audio samples, through the stdlib ``wave`` module (integer PCM).

An array is ``(frames,)`` for mono or ``(frames, channels)``. uint8, int16 and int32 samples keep their
width; int64 samples are written as 32-bit PCM when every value fits, which is how int64 audio arrives
from decoders. Float audio is not PCM and has no WAV here (CodecError); such tensors are shown as .npy.
"""
from __future__ import annotations

import io
import wave

import numpy as np

from hubfs.errors import CodecError

NAME = "wav"
EXTENSION = "wav"
DEFAULT_SAMPLE_RATE = 44100
_WIDTH_DTYPE = {1: np.dtype("uint8"), 2: np.dtype("<i2"), 4: np.dtype("<i4")}
_PCM_DTYPES = tuple(np.dtype(t) for t in ("uint8", "int16", "int32", "int64"))


def can_encode(dtype: np.dtype) -> bool:
    """True when arrays of ``dtype`` have a PCM WAV form."""
    return np.dtype(dtype).newbyteorder("=") in _PCM_DTYPES


def _pcm(array: np.ndarray) -> np.ndarray:
    dtype = array.dtype
    if not can_encode(dtype):
        raise CodecError(f"{dtype} audio has no PCM WAV form; uint8, int16, int32 or int64 samples do")
    if dtype.itemsize == 8:
        info = np.iinfo(np.int32)
        if array.size and (int(array.min()) < info.min or int(array.max()) > info.max):
            raise CodecError(f"{dtype} audio with values beyond 32 bits has no PCM WAV form")
        return array.astype("<i4")
    return array.astype(dtype.newbyteorder("<"), copy=False)


def encode(array: np.ndarray, sample_rate: int | None = None) -> bytes:
    """A PCM WAV file of ``array`` ((frames,) or (frames, channels)) at ``sample_rate`` Hz."""
    array = np.asarray(array)
    if array.ndim not in (1, 2):
        raise CodecError(f"audio is (frames,) or (frames, channels), not shape {array.shape}")
    channels = 1 if array.ndim == 1 else array.shape[1]
    if channels < 1:
        raise CodecError("audio with zero channels has no WAV form")
    pcm = _pcm(array)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(pcm.dtype.itemsize)
        w.setframerate(int(sample_rate or DEFAULT_SAMPLE_RATE))
        w.writeframes(np.ascontiguousarray(pcm).tobytes())
    return out.getvalue()


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """(samples, sample_rate) from a PCM WAV file; samples are (frames,) for mono, else (frames, channels)."""
    try:
        with wave.open(io.BytesIO(bytes(data)), "rb") as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(frames)
    except (wave.Error, EOFError, ValueError) as exc:
        raise CodecError(f"not a valid PCM WAV file: {exc}") from None
    if width not in _WIDTH_DTYPE:
        raise CodecError(f"{8 * width}-bit WAV samples are not supported; 8, 16 or 32-bit are")
    array = np.frombuffer(raw, dtype=_WIDTH_DTYPE[width])
    if array.size % channels:
        raise CodecError("WAV data ends inside a frame")
    array = array.reshape(-1, channels)
    return (array[:, 0] if channels == 1 else array).astype(_WIDTH_DTYPE[width].newbyteorder("="), copy=False), rate
