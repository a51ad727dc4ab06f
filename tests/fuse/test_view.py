"""The view without FUSE: paths, listings, exact sizes, handles and commits, against a real Dataset."""
from __future__ import annotations

import errno
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

import hubfs
from hubfs.errors import ClassLabelValueError, ReadOnlyError, SampleError, StoreError, TensorNotFoundError
from hubfs.fuse.ops import errno_of
from hubfs.fuse.view import Node, View
from hubfs.schema import Image as ImageType


@pytest.fixture
def ds(url):
    d = hubfs.Dataset(url, mode="r+")
    yield d
    d.close()


@pytest.fixture
def view(ds):
    return View(ds)


def names(view, path):
    return [n for n, _, _ in view.listdir(path)]


def write_file(view, path, data, create=False, flags=os.O_WRONLY | os.O_TRUNC):
    h = view.create(path, flags) if create else view.open(path, flags)
    view.write(h.fh, data, 0)
    try:
        view.flush(h.fh)
    finally:
        view.release(h.fh)


def test_root_lists_samples_by_decimal_index_and_hidden_meta(view):
    assert names(view, "/") == [".", "..", ".hubfs", "0", "1", "2", "3"]
    assert names(view, "/.hubfs") == [".", "..", "schema.json", "info.json", "status.json", "errors.log", "versions.json"]
    assert view.resolve("/3") == Node("sample", 3)
    for bad in ("/4", "/03", "/-1", "/+1", "/x", "/1/nothing", "/.hubfs/x"):
        with pytest.raises(FileNotFoundError):
            view.resolve(bad)


def test_sample_folder_has_a_file_per_tensor_with_a_value(view):
    assert names(view, "/0") == [".", "..", "image.png", "label.txt", "meta", "emb.npy", "photo.jpg"]
    assert names(view, "/1") == [".", "..", "image.png", "label.txt", "meta", "audio.wav", "emb.npy"]
    assert names(view, "/0/meta") == [".", "..", "text.txt", "box.json"]
    assert names(view, "/2/meta") == [".", "..", "outline.json"]
    assert names(view, "/3/meta") == [".", ".."]
    with pytest.raises(FileNotFoundError):
        view.resolve("/1/photo.jpg")  # a tensor the sample has no value for has no file


def test_listdir_resumes_at_offsets(view):
    full = list(view.listdir("/"))
    assert [e[2] for e in full] == list(range(1, len(full) + 1))
    assert list(view.listdir("/", 4)) == full[4:]
    assert list(view.listdir("/0", 3)) == list(view.listdir("/0"))[3:]


def test_sizes_are_exact_and_files_decode(view, ds):
    for path in ("/0/image.png", "/0/label.txt", "/0/meta/text.txt", "/0/meta/box.json", "/1/audio.wav",
                 "/0/emb.npy", "/0/photo.jpg", "/.hubfs/info.json", "/.hubfs/schema.json"):
        h = view.open(path, os.O_RDONLY)
        data = view.read(h.fh, 1 << 20, 0)
        view.release(h.fh)
        assert view.stat(path)["st_size"] == len(data), path
    node = view.resolve("/2/image.png")
    served = view.file_bytes(node.key, 2)  # pixels in chunks: an uncompressed PNG of them
    assert len(served) == view.stat("/2/image.png")["st_size"]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(served)))[:, :, None], ds["image", 2].compute())
    assert view.file_bytes("label", 1) == b"one\n"
    assert view.file_bytes("meta/text", 0) == "héllo wörld".encode()
    assert json.loads(view.file_bytes("meta/box", 0)) == [1.5, 2.0, 10.0, 20.0]
    assert np.load(io.BytesIO(view.file_bytes("emb", 1))).tolist() == [1.0, 1.5, -1.0]
    assert Image.open(io.BytesIO(view.file_bytes("photo", 0))).format == "JPEG"
    h = view.open("/.hubfs/info.json", os.O_RDONLY)
    info = json.loads(view.read(h.fh, 1 << 20, 0))
    assert info["length"] == 4 and info["tensors"]["meta/text"]["file"] == "meta/text.txt"


def test_directories_count_their_subfolders_and_files_have_big_blocks(view):
    assert view.stat("/")["st_nlink"] == 2 + 4 + 1
    assert view.stat("/0")["st_nlink"] == 3  # meta/
    st = view.stat("/0/image.png")
    assert st["st_blksize"] >= 1 << 20 and st["st_nlink"] == 1


def test_write_label_by_name_or_integer(view, ds):
    write_file(view, "/0/label.txt", b"two\n")
    assert int(ds["label", 0].compute()) == 2
    write_file(view, "/0/label.txt", b"1")
    assert int(ds["label", 0].compute()) == 1
    assert view.file_bytes("label", 0) == b"one\n"


@pytest.mark.parametrize("path,content", [
    ("/0/label.txt", b"seven\n"),          # no such class
    ("/0/label.txt", b"3\n"),              # out of range
    ("/0/image.png", b"not a png"),
    ("/0/meta/text.txt", b"\xff\xfe"),     # invalid UTF-8
    ("/0/meta/box.json", b"[1, 2]"),       # wrong shape
    ("/0/emb.npy", b"\x93NUMPY garbage"),
])
def test_bad_content_fails_the_close_and_keeps_the_old_value(view, ds, path, content):
    node = view.resolve(path)
    before = view.file_bytes(node.key, 0)
    with pytest.raises(SampleError) as exc:
        write_file(view, path, content)
    assert errno_of(exc.value) == errno.EINVAL
    assert view.file_bytes(node.key, 0) == before
    assert not view.handles


def test_a_png_of_the_wrong_shape_is_refused(view, ds):
    out = io.BytesIO()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(out, format="PNG")
    with pytest.raises(SampleError):
        write_file(view, "/1/image.png", out.getvalue())
    assert ds["image", 1].compute().shape == (28, 28, 1)


def test_png_is_stored_as_written_where_the_tensor_stores_png(tmp_path):
    ds = hubfs.Dataset(str(tmp_path / "png"), mode="w", shape=(2,),
                       schema={"image": ImageType((28, 28, 1), "uint8", compressor="png")})
    view = View(ds)
    out = io.BytesIO()
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(out, format="PNG", compress_level=1)
    write_file(view, "/1/image.png", out.getvalue())
    assert ds.read_stored("image", 1) == out.getvalue()
    assert view.stat("/1/image.png")["st_size"] == len(out.getvalue())
    assert view.file_bytes("image", 1) == out.getvalue()  # served as stored
    ds.close()


def test_png_written_into_chunked_images_keeps_its_pixels(view, ds):
    out = io.BytesIO()
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(out, format="PNG", compress_level=1)
    write_file(view, "/1/image.png", out.getvalue())
    assert ds.read_stored("image", 1) is None and (ds["image", 1].compute() == 200).all()
    served = view.file_bytes("image", 1)
    assert view.stat("/1/image.png")["st_size"] == len(served)
    assert (np.asarray(Image.open(io.BytesIO(served))) == 200).all()


def test_partial_writes_at_offsets_then_commit(view, ds):
    h = view.open("/0/meta/text.txt", os.O_RDWR)
    view.write(h.fh, b"J", 0)
    view.write(h.fh, b"!", len("héllo wörld".encode()))
    view.flush(h.fh)
    view.release(h.fh)
    assert ds["meta/text", 0].compute() == "Jéllo wörld!"


def test_create_a_file_for_a_tensor_without_value(view, ds):
    h = view.create("/3/meta/text.txt")
    assert view.stat("/3/meta/text.txt")["st_size"] == 0  # visible while open
    view.write(h.fh, b"new", 0)
    view.flush(h.fh)
    view.release(h.fh)
    assert ds["meta/text", 3].compute() == "new"
    assert "text.txt" in names(view, "/3/meta")


def test_create_refuses_names_outside_sample_folders(view):
    for path, code in (("/9/image.png", errno.ENOENT), ("/.hubfs/x", errno.EPERM), ("/x.png", errno.EPERM),
                       ("/0/meta", errno.EISDIR)):
        with pytest.raises(OSError) as exc:
            view.create(path)
        assert errno_of(exc.value) == code, path


def test_other_names_in_sample_folders_are_scratch_files_renamed_into_values(view, ds):
    h = view.create("/0/image.jpg")  # not the schema's name: a scratch file, never a value
    view.write(h.fh, b"not a png", 0)
    view.flush(h.fh)
    view.release(h.fh)
    assert "image.jpg" in names(view, "/0") and view.stat("/0/image.jpg")["st_size"] == 9
    with pytest.raises(SampleError):
        view.rename("/0/image.jpg", "/0/image.png")  # validated like a close: the old value stays
    assert "image.jpg" in names(view, "/0") and ds["image", 0].compute().max() == 0
    h = view.create("/1/.label.txt.x1")
    view.write(h.fh, b"2\n", 0)
    view.release(h.fh)
    view.rename("/1/.label.txt.x1", "/1/label.txt")
    assert int(ds["label", 1].compute()) == 2 and ".label.txt.x1" not in names(view, "/1")
    view.unlink("/0/image.jpg")
    assert view.scratch == {} and "image.jpg" not in names(view, "/0")


def test_truncate_without_handle_commits_at_once(view, ds):
    with pytest.raises(SampleError):
        view.truncate("/0/label.txt", 0)  # an empty label is no label
    assert int(ds["label", 0].compute()) == 0
    view.truncate("/0/meta/text.txt", 5)
    assert ds["meta/text", 0].compute() == "héll"


def test_mkdir_appends_only_the_next_sample(view, ds):
    view.mkdir("/4")
    assert len(ds) == 5 and names(view, "/4") == [".", "..", "meta"]
    for path, code in (("/4", errno.EEXIST), ("/9", errno.EPERM), ("/0/new", errno.EPERM), ("/0/meta", errno.EEXIST)):
        with pytest.raises(OSError) as exc:
            view.mkdir(path)
        assert exc.value.errno == code, path
    write_file(view, "/4/label.txt", b"zero\n", create=True)
    assert int(ds["label", 4].compute()) == 0


def test_unlink_clears_the_value(view, ds):
    view.unlink("/0/meta/box.json")
    assert not ds.has_value("meta/box", 0)
    with pytest.raises(FileNotFoundError):
        view.resolve("/0/meta/box.json")
    for path, code in (("/0/meta", errno.EISDIR), ("/.hubfs/info.json", errno.EPERM)):
        with pytest.raises(OSError) as exc:
            view.unlink(path)
        assert exc.value.errno == code


def test_changes_report_their_path_for_cache_invalidation(view):
    seen = []
    view.on_change = seen.append
    write_file(view, "/2/label.txt", b"0")
    view.unlink("/2/meta/outline.json")
    assert seen == ["/2/label.txt", "/2/meta/outline.json"]


def test_read_only_refuses_every_change(url):
    ds = hubfs.Dataset(url, mode="r")
    view = View(ds)
    assert view.stat("/0/image.png")["st_mode"] & 0o222 == 0
    for call in (lambda: view.open("/0/label.txt", os.O_WRONLY), lambda: view.create("/3/meta/text.txt"),
                 lambda: view.mkdir("/4"), lambda: view.unlink("/0/label.txt"),
                 lambda: view.truncate("/0/label.txt", 0)):
        with pytest.raises(OSError) as exc:
            call()
        assert errno_of(exc.value) == errno.EROFS
    ds.close()


def test_an_open_file_is_a_snapshot(view, ds):
    reader = view.open("/0/label.txt", os.O_RDONLY)
    write_file(view, "/0/label.txt", b"two\n")
    assert view.read(reader.fh, 100, 0) == b"zero\n"
    assert view.stat("/0/label.txt", reader.fh)["st_size"] == 5  # fstat agrees with the snapshot
    view.release(reader.fh)
    h = view.open("/0/label.txt", os.O_RDONLY)
    assert view.read(h.fh, 100, 0) == b"two\n"


def test_errno_table():
    assert errno_of(SampleError("t", 0, "bad")) == errno.EINVAL
    assert errno_of(ClassLabelValueError("t", 0, "bad")) == errno.EINVAL
    assert errno_of(TensorNotFoundError("x")) == errno.ENOENT
    assert errno_of(ReadOnlyError("ro")) == errno.EROFS
    assert errno_of(StoreError("down")) == errno.EIO
    assert errno_of(OSError(errno.EPERM, "no")) == errno.EPERM
    assert errno_of(RuntimeError("bug")) == errno.EIO  # never mfusepy's silent EINVAL


def test_formats_beyond_the_sample_dataset(tmp_path):
    """Images not stored as PNG are encoded for the mount; float audio is .npy; masks are 1-bit PNGs."""
    from hubfs.schema import Audio, Mask, Primitive

    ds = hubfs.Dataset(str(tmp_path / "f"), mode="w", shape=(1,), schema={
        "raw": ImageType((8, 8, 1), "uint8", compressor="lz4"), "wave": Audio(dtype="float32"),
        "mask": Mask((8, 8, 1)), "count": Primitive("int32")})
    view = View(ds)
    assert sorted(n for n, _, _ in view.listdir("/0"))[:2] == [".", ".."]
    img = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = io.BytesIO()
    Image.fromarray(img).save(out, format="PNG")
    write_file(view, "/0/raw.png", out.getvalue(), create=True)
    assert ds["raw", 0].compute()[:, :, 0].tolist() == img.tolist()
    assert np.asarray(Image.open(io.BytesIO(view.file_bytes("raw", 0)))).tolist() == img.tolist()
    npy = io.BytesIO()
    np.save(npy, np.linspace(0, 1, 5, dtype=np.float32))
    write_file(view, "/0/wave.npy", npy.getvalue(), create=True)
    assert np.load(io.BytesIO(view.file_bytes("wave", 0))).dtype == np.float32
    mask = np.zeros((8, 8), bool)
    mask[2:4] = True
    out = io.BytesIO()
    Image.fromarray(mask).save(out, format="PNG")
    write_file(view, "/0/mask.png", out.getvalue(), create=True)
    assert ds["mask", 0].compute()[:, :, 0].tolist() == mask.tolist()
    npy = io.BytesIO()
    np.save(npy, np.array(42, np.int64))
    write_file(view, "/0/count.npy", npy.getvalue(), create=True)
    assert int(ds["count", 0].compute()) == 42
    assert np.load(io.BytesIO(view.file_bytes("count", 0))).shape == ()
    ds.close()


def test_create_of_an_existing_file_opens_it(view, ds):
    h = view.create("/0/meta/text.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    view.write(h.fh, b"!", 0)
    view.flush(h.fh)
    view.release(h.fh)
    assert ds["meta/text", 0].compute() == "héllo wörld!"
    with pytest.raises(FileExistsError):
        view.create("/0/meta/text.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
