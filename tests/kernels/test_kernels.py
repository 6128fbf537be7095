"""Parity of every numba kernel with its library / numpy twin, on tiny and random arrays."""
import numpy as np
import pytest

from classicseg import kernels

pytestmark = pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="numba is not installed (extra 'fast')")


def _random_masks(n=60, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        h, w = rng.integers(3, 30, 2)
        yield rng.random((h, w)) < rng.uniform(0.2, 0.8)


# -- fill holes ---------------------------------------------------------------------
def test_fill_known_answer():
    from classicseg.kernels.fill import fill_holes_numba

    m = np.zeros((8, 8), bool)
    m[1:7, 1:7] = True
    m[2:4, 2:4] = False  # a 4-pixel hole
    m[5, 5] = False  # a 1-pixel hole
    out = fill_holes_numba(m)
    assert out[1:7, 1:7].all() and out.sum() == 36
    small = fill_holes_numba(m, max_hole_area=2)
    assert small[5, 5] and not small[2:4, 2:4].any()
    assert not m[5, 5]  # input untouched


@pytest.mark.parametrize("connectivity", [4, 8])
def test_fill_matches_opencv_and_scipy(connectivity):
    from classicseg.kernels.fill import fill_holes_cv2, fill_holes_floodfill, fill_holes_numba, fill_holes_scipy

    for m in _random_masks():
        ref = fill_holes_cv2(m, None, connectivity)
        assert np.array_equal(fill_holes_numba(m, None, connectivity), ref)
        assert np.array_equal(fill_holes_floodfill(m, connectivity), ref)
        assert np.array_equal(fill_holes_scipy(m, connectivity), ref)
        for area in (1, 4):
            assert np.array_equal(fill_holes_numba(m, area, connectivity), fill_holes_cv2(m, area, connectivity))


def test_fill_wide_rows_use_word_path():
    """Rows of 8n+3 pixels: the uint64 fast path and the per-pixel tail both run."""
    from classicseg.kernels.fill import fill_holes_cv2, fill_holes_numba

    rng = np.random.default_rng(1)
    m = np.zeros((40, 67), bool)
    for _ in range(15):
        y, x, r = rng.integers(3, 37), rng.integers(3, 64), rng.integers(2, 6)
        m[max(y - r, 0):y + r, max(x - r, 0):x + r] = True
        m[y, x] = False
    assert np.array_equal(fill_holes_numba(m), fill_holes_cv2(m))


def test_fill_bad_input():
    from classicseg.kernels.fill import fill_holes_numba

    with pytest.raises(ValueError, match="2-D bool"):
        fill_holes_numba(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="connectivity must be 4 or 8, got 6"):
        fill_holes_numba(np.zeros((4, 4), bool), connectivity=6)


def test_morph_fill_holes_fallback_agrees(monkeypatch):
    from classicseg.stages.morph import fill_holes

    masks = list(_random_masks(20, seed=3))
    fast = [fill_holes(m) for m in masks] + [fill_holes(m, 3) for m in masks]
    monkeypatch.setenv("CLASSICSEG_NO_NUMBA", "1")
    assert not kernels.enabled()
    slow = [fill_holes(m) for m in masks] + [fill_holes(m, 3) for m in masks]
    assert all(np.array_equal(a, b) for a, b in zip(fast, slow))


# -- temporal majority, labels ----------------------------------------------------------
def test_majority_step_matches_numpy():
    from classicseg.kernels.temporal import majority_step_numba, majority_step_numpy
    from classicseg.stages.temporal import votes_needed

    rng = np.random.default_rng(2)
    masks = [rng.random((9, 11)) < 0.5 for _ in range(12)]
    c1, c2 = np.zeros((9, 11), np.uint8), np.zeros((9, 11), np.uint8)
    for i, m in enumerate(masks):
        old = masks[i - 3] if i >= 3 else None
        k = votes_needed(0.5, min(i + 1, 3))
        assert np.array_equal(majority_step_numba(c1, m, old, k), majority_step_numpy(c2, m, old, k))
        assert np.array_equal(c1, c2)


def test_split_labels_matches_numpy():
    from classicseg.kernels.labels import split_labels_numba, split_labels_numpy

    raw = np.array([[0, 127, 255], [255, 3, 127]], np.uint8)
    for sv in (127, None):
        a, b = split_labels_numba(raw, sv), split_labels_numpy(raw, sv)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert split_labels_numba(raw)[1].tolist() == [[False, True, False], [False, False, True]]


# -- LBP ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["default", "uniform"])
def test_lbp_bit_exact_with_skimage(method):
    from classicseg.kernels.lbp import lbp_numba, lbp_skimage

    rng = np.random.default_rng(4)
    images = [rng.integers(0, 256, (23, 31)).astype(np.uint8), np.full((6, 5), 100, np.uint8),
              (rng.integers(0, 3, (17, 19)) * 60).astype(np.uint8), rng.integers(0, 4000, (8, 9)).astype(np.uint16)]
    for im in images:
        assert np.array_equal(lbp_numba(im, method), lbp_skimage(im, method))


def test_lbp_known_answer_and_bad_input():
    from classicseg.kernels.lbp import lbp_numba

    im = np.zeros((3, 3), np.uint8)
    im[1, 1] = 10
    assert lbp_numba(im)[1, 1] == 0  # every neighbour darker
    assert lbp_numba(im, "uniform")[1, 1] == 0
    with pytest.raises(ValueError, match="method must be one of"):
        lbp_numba(im, "ror")
    with pytest.raises(ValueError, match="image must be 2-D"):
        lbp_numba(np.zeros((3, 3, 3), np.uint8))


# -- graph-cut edge weights -----------------------------------------------------------
def test_pairwise_weights_match_numpy():
    from classicseg.kernels.graphcut import pairwise_weights_numba, pairwise_weights_numpy

    rng = np.random.default_rng(5)
    for im in (rng.integers(0, 256, (12, 15, 3)).astype(np.uint8), rng.integers(0, 256, (5, 4)).astype(np.uint8)):
        for a, b in zip(pairwise_weights_numba(im, 50.0), pairwise_weights_numpy(im, 50.0)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
