import io
import pickle

import cv2
import numpy as np
import pytest
from PIL import Image

from classicseg.errors import SourceError
from classicseg.io.priors import PriorFolder, attach_prior, check_prior, read_prior
from classicseg.io.sinks import encode_indexed_png
from classicseg.io.sources import ArraySource
from classicseg.types import Sample


def _frames(n=4, h=6, w=8):
    return [np.full((h, w, 3), 10 * i, np.uint8) for i in range(n)]


def test_png_kinds(tmp_path):
    m = np.zeros((6, 8), np.uint8)
    m[2:4, 3:6] = 255
    cv2.imwrite(str(tmp_path / "bin.png"), m)
    a = read_prior(tmp_path / "bin.png")
    assert a.dtype == np.float32 and np.array_equal(a, (m > 0).astype(np.float32))

    g = np.full((6, 8), 128, np.uint8)  # 8-bit grey: a probability
    cv2.imwrite(str(tmp_path / "grey.png"), g)
    assert read_prior(tmp_path / "grey.png")[0, 0] == pytest.approx(128 / 255)

    ids = np.zeros((6, 8), np.uint8)
    ids[0, :2], ids[5, 5:], ids[3, 3] = 1, 3, 255  # ids that skip 2, and a void pixel
    (tmp_path / "ids.png").write_bytes(encode_indexed_png(ids))
    got = read_prior(tmp_path / "ids.png", (6, 8))
    assert got.dtype == np.uint8 and set(np.unique(got)) == {0, 1, 3} and got[3, 3] == 0

    rgb = Image.open(io.BytesIO(encode_indexed_png(ids))).convert("RGB")  # palette colours drawn as RGB
    rgb.save(tmp_path / "rgb.png")
    assert set(np.unique(read_prior(tmp_path / "rgb.png"))) == {0, 1, 3}


def test_npy_and_npz(tmp_path):
    p = np.linspace(0, 1, 48, dtype=np.float64).reshape(6, 8)
    np.save(tmp_path / "p.npy", p)
    assert np.allclose(read_prior(tmp_path / "p.npy"), p)
    np.save(tmp_path / "b.npy", p > 0.5)
    assert read_prior(tmp_path / "b.npy").dtype == np.float32
    np.save(tmp_path / "i.npy", (p > 0.5).astype(np.int64) * 3)
    assert read_prior(tmp_path / "i.npy").dtype == np.uint8
    np.savez(tmp_path / "one.npz", anything=p)
    np.savez(tmp_path / "named.npz", prob=p, other=p)
    assert np.allclose(read_prior(tmp_path / "one.npz"), p)
    assert np.allclose(read_prior(tmp_path / "named.npz"), p)
    np.savez(tmp_path / "two.npz", a=p, b=p)
    with pytest.raises(SourceError, match="two.npz.*one array or one named 'prob'"):
        read_prior(tmp_path / "two.npz")


def test_pickled_npy_is_a_one_line_error(tmp_path):
    obj = np.array([{"a": 1}], dtype=object)
    with open(tmp_path / "evil.npy", "wb") as f:
        np.save(f, obj, allow_pickle=True)
    with pytest.raises(SourceError, match=r"evil\.npy: holds pickled Python objects") as e:
        read_prior(tmp_path / "evil.npy")
    assert "\n" not in str(e.value)
    (tmp_path / "raw.npy").write_bytes(pickle.dumps([1, 2]))  # not even an npy header
    with pytest.raises(SourceError, match="raw.npy"):
        read_prior(tmp_path / "raw.npy")


@pytest.mark.parametrize("arr, message", [
    (np.full((6, 8), np.nan, np.float32), "bad.npy: contains NaN"),
    (np.full((6, 8), 1.5, np.float32), r"bad.npy: probabilities must lie in \[0, 1\]"),
    (np.full((6, 8), 300, np.int32), "bad.npy: ids must lie in 0..255"),
    (np.zeros((5, 8), np.float32), "prior bad.npy is 8x5 but the frames are 8x6"),
    (np.zeros((6, 8, 2), np.float32), "bad.npy: expected a 2-D"),
    (np.zeros((6, 8), np.complex64), "bad.npy: unsupported dtype"),
])
def test_bad_prior_arrays_name_the_file(tmp_path, arr, message):
    np.save(tmp_path / "bad.npy", arr)
    with pytest.raises(SourceError, match=message):
        read_prior(tmp_path / "bad.npy", (6, 8))


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(SourceError, match="prior not found"):
        read_prior(tmp_path / "nope.png")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(SourceError, match="unsupported file type"):
        read_prior(tmp_path / "x.txt")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(SourceError, match="cannot read prior .*broken.png"):
        read_prior(tmp_path / "broken.png")


def test_folder_matches_by_number(tmp_path):
    for n in (2, 0, 1, 10):  # DAVIS-like names, written out of order
        np.save(tmp_path / f"{n:05d}.npy", np.full((6, 8), n / 10, np.float32))
    pf = PriorFolder(tmp_path)
    assert pf.match == "number" and len(pf) == 4
    pf.check_count(4)
    pf.check_count(None)
    with pytest.raises(SourceError, match="has 4 files but the input has 5 frames .*by the number"):
        pf.check_count(5)
    assert pf(Sample(0, "in000010", _frames()[0]))[0, 0] == pytest.approx(1.0)  # CDnet-style frame name
    assert pf(Sample(5, "00002", _frames()[0]))[0, 0] == pytest.approx(0.2)
    with pytest.raises(SourceError, match=r"no prior for frame 00003 \(number 3\).*0..10"):
        pf(Sample(3, "00003", _frames()[0]))


def test_folder_matches_by_order(tmp_path):
    for name in ("b", "a", "c"):
        np.save(tmp_path / f"{name}.npy", np.full((6, 8), ord(name) / 200, np.float32))
    pf = PriorFolder(tmp_path)
    assert pf.match == "order"
    assert pf(Sample(0, "whatever", _frames()[0]))[0, 0] == pytest.approx(ord("a") / 200)
    pf.check_count(3)
    with pytest.raises(SourceError, match="has 3 files but the input has 4 frames"):
        pf.check_count(4)
    with pytest.raises(SourceError, match="has 3 files but the input has more frames"):
        pf(Sample(3, "x", _frames()[0]))
    with pytest.raises(SourceError, match="a.npy has no frame number"):
        PriorFolder(tmp_path, match="number")


def test_folder_errors(tmp_path):
    with pytest.raises(SourceError, match="prior folder not found"):
        PriorFolder(tmp_path / "missing")
    with pytest.raises(SourceError, match="no prior files"):
        PriorFolder(tmp_path)
    np.save(tmp_path / "f1.npy", np.zeros((6, 8), np.float32))
    np.save(tmp_path / "g001.npy", np.zeros((6, 8), np.float32))
    with pytest.raises(SourceError, match="are both frame 1"):
        PriorFolder(tmp_path, match="number")
    assert PriorFolder(tmp_path).match == "order"  # auto falls back


def test_attach_prior_callable_and_folder(tmp_path):
    src = ArraySource(kind="folder", name="t", items=_frames(), prefetch=0)
    got = list(attach_prior(src, lambda s: np.full(s.shape, s.index / 4)))
    assert [float(s["prior"][0, 0]) for s in got] == [0, 0.25, 0.5, 0.75]
    assert got[0]["prior"].dtype == np.float32

    src = ArraySource(kind="folder", name="t", items=_frames(), prefetch=0)
    with pytest.raises(SourceError, match="prior callable at frame 000001 is 3x3 but the frames are 8x6"):
        list(attach_prior(src, lambda s: np.zeros((3, 3))))

    for i in range(4):  # ArraySource names frames 000001.. (1-based)
        np.save(tmp_path / f"{i + 1:06d}.npy", np.full((6, 8), i, np.uint8))
    src = ArraySource(kind="folder", name="t", items=_frames(), prefetch=0)
    assert [int(s["prior"][0, 0]) for s in attach_prior(src, tmp_path)] == [0, 1, 2, 3]
    with pytest.raises(TypeError, match="prior must be a folder or a callable"):
        list(attach_prior(_frames(), 3))


def test_check_prior_squeezes_a_channel():
    assert check_prior(np.zeros((4, 5, 1), bool)).shape == (4, 5)
