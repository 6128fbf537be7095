import numpy as np
import pytest

from classicseg.stages.refine import GraphCut, graphcut


def _disk_scene(h=120, w=160, r=30):
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - h // 2) ** 2 + (xx - w // 2) ** 2 <= r * r
    img = np.full((h, w, 3), 60, np.uint8)
    img[disk] = (30, 30, 220)
    prob = np.where(disk, 0.7, 0.3).astype(np.float32)
    prob[:, : w // 4] = 0.5  # no evidence on the left: the edges decide
    return img, prob, disk


def test_graphcut_max_pixels_shrinks_large_boxes_and_keeps_the_answer():
    img, prob, disk = _disk_scene()
    full = graphcut(img, prob, gamma=10.0)
    small = graphcut(img, prob, gamma=10.0, max_pixels=img.shape[0] * img.shape[1] // 4)
    assert np.array_equal(full, disk)
    # a half-size grid: the boundary moves by at most ~1 px of it
    assert (small ^ disk).sum() < 0.05 * disk.sum()
    assert small.dtype == bool and small.shape == disk.shape
    # a box under the limit is cut as it is
    assert np.array_equal(graphcut(img, prob, gamma=10.0, max_pixels=10 ** 6), full)


def test_graphcut_max_pixels_inside_a_box():
    img, prob, disk = _disk_scene()
    box = (20, 100, 40, 120)
    fg = graphcut(img, prob, gamma=10.0, box=box, max_pixels=1600)
    assert not fg[:20].any() and not fg[:, :40].any()
    assert (fg ^ disk).sum() < 0.1 * disk.sum()


def test_graphcut_max_pixels_rejects_negative():
    img, prob, _ = _disk_scene(20, 20, 5)
    with pytest.raises(ValueError, match="max_pixels must be >= 0, got -1"):
        graphcut(img, prob, max_pixels=-1)


def test_graphcut_stage_passes_max_pixels():
    from classicseg.types import Sample

    img, prob, disk = _disk_scene()
    s = Sample(0, "0", img)
    s["prob"] = prob
    fg = GraphCut(gamma=10.0, max_pixels=4000).process(s)["fg"]
    assert (fg ^ disk).sum() < 0.1 * disk.sum()


def test_graphcut_hard_keeps_a_thin_confident_part():
    # a 2-px line of prob 0.97 (and a 0.9 column beside it) on a flat image: the smoothness
    # term cuts it away, a hard constraint at 0.95 keeps it; the 0.05 background stays out
    img = np.full((40, 40, 3), 128, np.uint8)
    prob = np.full((40, 40), 0.05, np.float32)
    prob[5:35, 19:21] = 0.97
    prob[5:35, 21] = 0.9
    assert not graphcut(img, prob, gamma=10.0).any()
    fg = graphcut(img, prob, gamma=10.0, hard=0.95)
    assert fg[5:35, 19:21].all()
    assert not fg[:, :19].any() and not fg[:, 22:].any() and not fg[:5].any() and not fg[35:].any()


def test_graphcut_hard_rejects_half_or_less():
    img, prob, _ = _disk_scene()
    with pytest.raises(ValueError, match="hard"):
        graphcut(img, prob, hard=0.4)
    with pytest.raises(Exception, match="hard"):
        GraphCut(hard=0.5)


def test_graphcut_stage_max_hole_keeps_a_large_gap_open():
    from classicseg.types import Sample

    # a 40x40 square (1600 px) with a 3x3 speck (9 px) and a 12x12 gap (144 px) in it, each
    # with their own colour so that the cut keeps them out
    img = np.full((80, 80, 3), 60, np.uint8)
    obj = np.zeros((80, 80), bool)
    obj[20:60, 20:60] = True
    obj[25:28, 25:28] = False
    obj[40:52, 40:52] = False
    img[obj] = (30, 30, 220)
    s = Sample(0, "0", img)
    s["prob"] = np.where(obj, 0.9, 0.1).astype(np.float32)
    every = GraphCut(gamma=1.0).process(s)["fg"]
    assert every[20:60, 20:60].all()  # both holes filled
    s2 = Sample(0, "0", img)
    s2["prob"] = s["prob"]
    some = GraphCut(gamma=1.0, max_hole=0.02).process(s2)["fg"]  # holes up to 2% of ~1450 px (29 px)
    assert some[25:28, 25:28].all() and not some[40:52, 40:52].any()
    with pytest.raises(ValueError):
        GraphCut(max_hole=1.5)
