"""The file codecs the mount serves: round trips, and CodecError for what is not such a file."""
from __future__ import annotations

import numpy as np
import pytest

from hubfs.codecs import json as json_codec
from hubfs.codecs import npy, text, wav
from hubfs.errors import CodecError


def test_text_is_utf8_verbatim():
    assert text.encode("héllo\n") == "héllo\n".encode()
    assert text.decode(text.encode("日本")) == "日本"
    with pytest.raises(CodecError):
        text.decode(b"\xff")


def test_labels_by_name_or_integer():
    names = ["cat", "dog"]
    assert text.encode_label(1, names) == b"dog\n"
    assert text.encode_label(7) == b"7\n"
    assert text.decode_label(b"  dog \n", names) == 1
    assert text.decode_label(b"0\n", names) == 0
    assert text.decode_label(b"12") == 12
    with pytest.raises(CodecError):
        text.decode_label(b"cow", names)


@pytest.mark.parametrize("array", [np.eye(3), np.arange(5, dtype=np.uint8), np.array(3.5, np.float32),
                                   np.zeros((2, 0, 4), np.int16)])
def test_npy_round_trip(array):
    back = npy.decode(npy.encode(array))
    assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)


def test_npy_refuses_other_bytes_and_pickles():
    with pytest.raises(CodecError):
        npy.decode(b"PNG")
    import io
    out = io.BytesIO()
    np.save(out, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CodecError):
        npy.decode(out.getvalue())


def test_json_round_trip_keeps_every_digit():
    box = np.array([0.1, 1 / 3, 1e-9, 5])
    assert np.array_equal(json_codec.decode(json_codec.encode(box)), box)
    poly = np.array([[0, 1], [2, 3]], np.int32)
    assert json_codec.decode(json_codec.encode(poly)).tolist() == [[0, 1], [2, 3]]


@pytest.mark.parametrize("data", [b"{", b'{"x": 1}', b'["a"]', b"[[1], [1, 2]]", b"\xff"])
def test_json_refuses_what_is_not_numbers_in_lists(data):
    with pytest.raises(CodecError):
        json_codec.decode(data)


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "int64"])
def test_wav_round_trip(dtype):
    samples = (np.arange(-50, 50) % 100).astype(dtype)
    back, rate = wav.decode(wav.encode(samples, 8000))
    assert rate == 8000 and np.array_equal(back, samples)
    stereo = np.stack([samples, samples[::-1]], 1)
    back, _ = wav.decode(wav.encode(stereo))
    assert back.shape == (100, 2) and np.array_equal(back, stereo)


def test_wav_refuses_what_has_no_pcm_form():
    assert not wav.can_encode(np.float32)
    with pytest.raises(CodecError):
        wav.encode(np.zeros(4, np.float32))
    with pytest.raises(CodecError):
        wav.encode(np.array([1 << 40]))
    with pytest.raises(CodecError):
        wav.decode(b"RIFF....WAVE")
