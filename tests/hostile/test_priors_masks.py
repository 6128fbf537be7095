"""Hostile priors, first-frame masks and keyframes: one-line errors (input: 3, a mask that
cannot start a run: 2) checked before anything is allocated from a file's claims."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from tests.hostile.util import (EXIT, assert_untouched, check_error, check_ok, frames, mask_png, npy_header,
                                npz_bomb, png_header_only, user_files)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIFOs, /proc and rlimits: Linux")

N = 4


@pytest.fixture
def clip(tmp_path):
    return frames(tmp_path / "clip", n=N)


def _prior_dir(tmp_path, make) -> "os.PathLike":
    d = tmp_path / "prior"
    d.mkdir()
    for i in range(N):
        make(d / f"{i:05d}", i)
    return d


def _run_with(cli, tmp_path, clip, extra: list, *needles, code=EXIT["input"]):
    """``run`` with ``extra`` (``-p refine --prior DIR``, ``-p vos --init-mask FILE``) fails as expected."""
    out = tmp_path / "out"
    before = user_files(out)
    line = check_error(cli(["-q", "run", "-i", clip, "-o", out, "--no-progress", *extra]), code, *needles)
    assert_untouched(before, out)
    return line


def _run_prior(cli, tmp_path, clip, prior, *needles, code=EXIT["input"]):
    return _run_with(cli, tmp_path, clip, ["-p", "refine", "--prior", prior], *needles, code=code)


def _good(p, i):
    np.save(p.with_suffix(".npy"), np.full((48, 64), 0.2, np.float32))


def test_prior_png_header_bomb(cli, tmp_path, clip):
    d = _prior_dir(tmp_path, lambda p, i: png_header_only(p.with_suffix(".png"), 100_000, 100_000, colour=0))
    _run_prior(cli, tmp_path, clip, d, "100000x100000", "megapixels")


def test_prior_npy_header_claiming_80_gb(cli, tmp_path, clip):
    d = _prior_dir(tmp_path, lambda p, i: npy_header(p.with_suffix(".npy"), (100_000, 100_000), "<f8"))
    _run_prior(cli, tmp_path, clip, d, "100000x100000")


def test_prior_npy_truncated(cli, tmp_path, clip):
    d = _prior_dir(tmp_path, lambda p, i: npy_header(p.with_suffix(".npy"), (48, 64), "<f4", b"\0" * 100))
    _run_prior(cli, tmp_path, clip, d, "truncated")


def test_prior_npz_decompression_bomb(cli, tmp_path, clip):
    d = tmp_path / "prior"
    d.mkdir()
    npz_bomb(d / "00000.npz", side=12_000)  # 144 MB once inflated, a few hundred KB on disk
    for i in range(1, N):
        _good(d / f"{i:05d}", i)
    _run_prior(cli, tmp_path, clip, d, "12000x12000", "megapixels")


def test_prior_pickled_npy(cli, tmp_path, clip):
    d = _prior_dir(tmp_path, lambda p, i: np.save(p.with_suffix(".npy"), np.array([{"a": 1}], dtype=object),
                                                  allow_pickle=True))
    _run_prior(cli, tmp_path, clip, d, "pickled")


@pytest.mark.parametrize("dtype", ["<c16", "<U8", "|V16"])
def test_prior_npy_unsupported_dtypes(cli, tmp_path, clip, dtype):
    size = 48 * 64 * np.dtype(dtype).itemsize
    d = _prior_dir(tmp_path, lambda p, i: npy_header(p.with_suffix(".npy"), (48, 64), dtype, b"\0" * size))
    _run_prior(cli, tmp_path, clip, d, "unsupported dtype")


@pytest.mark.parametrize("value,needle", [(np.nan, "NaN"), (np.inf, "[0, 1]"), (7.0, "[0, 1]")])
def test_prior_bad_probabilities(cli, tmp_path, clip, value, needle):
    d = _prior_dir(tmp_path, lambda p, i: np.save(p.with_suffix(".npy"), np.full((48, 64), value, np.float32)))
    _run_prior(cli, tmp_path, clip, d, needle)


def test_prior_wrong_size_and_dimensions(cli, tmp_path, clip):
    d = _prior_dir(tmp_path, lambda p, i: np.save(p.with_suffix(".npy"), np.zeros((48, 64, 3), np.float32)))
    _run_prior(cli, tmp_path, clip, d, "2-D")


def test_prior_npz_with_two_unnamed_arrays(cli, tmp_path, clip):
    d = _prior_dir(tmp_path, lambda p, i: np.savez(p.with_suffix(".npz"), a=np.zeros((48, 64)), b=np.ones((48, 64))))
    _run_prior(cli, tmp_path, clip, d, "one array")


def test_prior_file_that_is_a_fifo(cli, tmp_path, clip):
    d = _prior_dir(tmp_path, _good)
    os.unlink(d / "00002.npy")
    os.mkfifo(d / "00002.npy")
    _run_prior(cli, tmp_path, clip, d, "prior")


def test_prior_count_mismatch(cli, tmp_path, clip):
    d = _prior_dir(tmp_path, _good)
    np.save(d / "00099.npy", np.zeros((48, 64), np.float32))
    _run_prior(cli, tmp_path, clip, d, "5 files", "4 frames")


def test_prior_folder_is_the_output(cli, tmp_path, clip):
    d = _prior_dir(tmp_path, _good)
    before = user_files(d)
    res = cli(["-q", "run", "-p", "refine", "-i", clip, "-o", d, "--prior", d, "--no-progress"])
    check_error(res, EXIT["output"], "overlaps the prior")
    assert_untouched(before, d)


# --------------------------------------------------------------------------- first-frame masks
def _run_init(cli, tmp_path, clip, mask, *needles, code=EXIT["input"]):
    return _run_with(cli, tmp_path, clip, ["-p", "vos", "--init-mask", mask], *needles, code=code)


def test_init_mask_that_is_not_an_image(cli, tmp_path, clip):
    (tmp_path / "m.png").write_text("a text file, not a PNG")
    _run_init(cli, tmp_path, clip, tmp_path / "m.png", "cannot read mask")


def test_init_mask_header_bomb(cli, tmp_path, clip):
    _run_init(cli, tmp_path, clip, png_header_only(tmp_path / "m.png", 100_000, 100_000, colour=0),
              "100000x100000")


def test_init_mask_16_bit_ids_above_255(cli, tmp_path, clip):
    m = mask_png(tmp_path / "m.png", ids=((1, (2, 8, 2, 8)), (2, (10, 16, 10, 16)), (300, (20, 30, 30, 40))),
                 dtype=np.uint16)
    _run_init(cli, tmp_path, clip, m, "16-bit value 300", "1..254")


def test_init_mask_fifo(cli, tmp_path, clip):
    os.mkfifo(tmp_path / "m.png")
    _run_init(cli, tmp_path, clip, tmp_path / "m.png", "fifo")


def test_init_mask_of_another_size(cli, tmp_path, clip):
    _run_init(cli, tmp_path, clip, mask_png(tmp_path / "m.png", shape=(30, 30), ids=((255, (5, 10, 5, 10)),)),
              "30x30", "64x48", code=EXIT["config"])


def test_init_mask_without_object(cli, tmp_path, clip):
    _run_init(cli, tmp_path, clip, mask_png(tmp_path / "m.png", ids=()), "no object", code=EXIT["config"])


def test_init_mask_without_background(cli, tmp_path, clip):
    _run_init(cli, tmp_path, clip, mask_png(tmp_path / "m.png", ids=((255, (0, 48, 0, 64)),)), "background",
              code=EXIT["config"])


def test_init_mask_8_bit_ids_1_and_200_stay_two_objects(cli, tmp_path, clip):
    from classicseg.io.masks import read_init_mask

    m = mask_png(tmp_path / "m.png", ids=((1, (16, 26, 4, 14)), (200, (30, 40, 40, 50))))
    assert set(np.unique(read_init_mask(m)).tolist()) == {0, 1, 200}  # once merged: 200 > 127 meant 0/255
    out = tmp_path / "out"
    before = user_files(out)
    check_ok(cli(["-q", "run", "-p", "vos", "-i", clip, "-o", out, "--init-mask", m, "--no-progress"]))
    assert len(list(out.glob("0*.png"))) == N
    assert_untouched(before, out)


def test_init_mask_16_bit_ids_1_and_2(tmp_path):
    from classicseg.io.masks import read_init_mask

    m = mask_png(tmp_path / "m.png", ids=((1, (2, 8, 2, 8)), (2, (10, 16, 10, 16))), dtype=np.uint16)
    assert set(np.unique(read_init_mask(m)).tolist()) == {0, 1, 2}


def test_keyframe_header_bomb(cli, tmp_path, clip):
    k = tmp_path / "keys"
    k.mkdir()
    png_header_only(k / "00002.png", 100_000, 100_000, colour=0)
    out = tmp_path / "out"
    before = user_files(out)
    m = mask_png(tmp_path / "m.png", ids=((1, (16, 26, 4, 14)),))
    check_error(cli(["-q", "run", "-p", "vos", "-i", clip, "-o", out, "--init-mask", m, "--keyframes", k,
                     "--no-progress"]), EXIT["input"], "100000x100000")
    assert_untouched(before, out)
