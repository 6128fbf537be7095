import cv2
import numpy as np
import pytest

from classicseg.stages.vos.cues import flow_consistency
from classicseg.stages.vos.redetect import Redetector, search_object
from tests.stages.test_vos import _iou
from tests.stages.test_vos import _run_pipeline as _run


def _hidden_clip(n=14, h=72, w=120, r=8, hide=(5, 8), seed=0):
    """A red disk moving right over a textured background; on frames ``hide[0]..hide[1]-1``
    it is hidden (not drawn), and it comes back 40 px further right and 20 px lower than
    where it vanished (it moved on while hidden, too far for the flow to link)."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(60, 140, (h // 4, w // 4, 3), dtype=np.uint8)
    bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_CUBIC)
    bg[:, :, 2] //= 2
    frames, masks = [], []
    for t in range(n):
        img = bg.copy()
        m = np.zeros((h, w), np.uint8)
        if not hide[0] <= t < hide[1]:
            jump = (40, 20) if t >= hide[1] else (0, 0)
            cv2.circle(m, (16 + 2 * t + jump[0], 24 + jump[1]), r, 1, -1)
        img[m > 0] = (40, 40, 220)
        frames.append(img)
        masks.append(m > 0)
    return frames, masks




def test_search_object_known_answer():
    prob = np.full((40, 60), 0.1, np.float32)
    prob[5:15, 5:15] = 0.9     # 100 px, the object's size
    prob[20:38, 30:58] = 0.95  # 504 px: too large
    prob[30:33, 5:8] = 0.99    # 9 px: too small
    found = search_object(prob, 100.0, accept=0.75, area_range=(0.25, 4.0), smooth=0)
    expected = np.zeros((40, 60), bool)
    expected[5:15, 5:15] = True
    assert not (found & ~expected).any() and found.sum() >= 96  # the opening may round its corners
    assert search_object(prob, 100.0, accept=0.95, smooth=0) is None  # not confident enough
    assert search_object(np.zeros((10, 10), np.float32), 10.0) is None


def test_search_object_bad_input():
    with pytest.raises(ValueError, match="area must be > 0"):
        search_object(np.zeros((4, 4), np.float32), 0)
    with pytest.raises(ValueError, match="accept must be in"):
        search_object(np.zeros((4, 4), np.float32), 5, accept=0.4)
    with pytest.raises(ValueError, match="prob must be"):
        search_object(np.zeros(4, np.float32), 5)
    with pytest.raises(ValueError, match="lost_ratio"):
        Redetector(lost_ratio=1.5)


def test_redetector_declares_loss_against_recent_size():
    r = Redetector(lost_ratio=0.25, memory=3)
    m = np.zeros((20, 20), bool)
    m[:10, :10] = True
    assert not r.observe(m) and r.reference == 100
    small = np.zeros((20, 20), bool)
    small[:4, :4] = True  # 16 px < 25
    assert r.observe(small)
    assert r.reference == 100  # a lost frame does not change the size
    assert r.observe(np.zeros((20, 20), bool))


def test_hidden_object_is_found_again():
    frames, masks = _hidden_clip()
    without = _run(frames, masks[0], ["vos.propagate.redetect=false"])
    with_ = _run(frames, masks[0], ["vos.propagate.redetect=true"])
    back = range(9, len(frames))  # the frame after its return: the search found it, propagation carries it
    assert max(_iou(without[t]["fg"], masks[t]) for t in back) < 0.3
    for t in back:
        assert _iou(with_[t]["fg"], masks[t]) > 0.8, t
    for t in range(5, 8):  # while hidden, nothing of the background is taken for it
        assert with_[t]["fg"].sum() < 0.3 * masks[0].sum(), t
    assert set(np.unique(with_[-1]["ids"])) == {0, 1}


def test_flow_consistency_known_answer():
    prev = np.zeros((8, 8, 3), np.uint8)
    prev[:, 4:] = 200
    img = np.roll(prev, 1, axis=1)  # everything moved one pixel right
    good = np.zeros((8, 8, 2), np.float32)
    good[:, :, 0] = -1.0  # backward flow: each pixel came from one pixel to the left
    assert np.allclose(flow_consistency(img, prev, good, 20.0, smooth=0)[:, 1:], 1.0)
    bad = flow_consistency(img, prev, np.zeros((8, 8, 2), np.float32), 20.0, smooth=0)
    assert bad[:, 4].max() < 1e-3 and np.allclose(bad[:, 1:4], 1.0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        flow_consistency(img, prev, good, 0.0)


def test_superpixel_mean_snaps_to_edges():
    from classicseg.stages.vos.cues import superpixel_mean

    img = np.zeros((40, 40, 3), np.uint8)
    img[:, 20:] = (200, 100, 50)
    vals = np.zeros((40, 40), np.float32)
    vals[:, 17:] = 1.0  # a score whose edge is 3 px off the image's
    out = superpixel_mean(img, vals, region_size=8)
    assert out[:, :16].max() < 0.5 and out[:, 20:].min() > 0.99  # the left region stays low, the right high
    assert out.dtype == np.float32 and out.shape == vals.shape
    with pytest.raises(ValueError, match="region_size"):
        superpixel_mean(img, vals, region_size=1)
    with pytest.raises(ValueError, match="must match"):
        superpixel_mean(img, vals[:10], region_size=8)
