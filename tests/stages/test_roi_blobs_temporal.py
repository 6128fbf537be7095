import cv2
import numpy as np
import pytest

from classicseg.config import validate
from classicseg.errors import ClassicsegError, ConfigError
from classicseg.stages.blobs import Components, find_blobs
from classicseg.stages.roi import ROIMask, polygon_mask
from classicseg.stages.temporal import Majority
from classicseg.types import Sample


def _sample(mask, i=0):
    s = Sample(i, str(i), np.zeros(mask.shape + (3,), np.uint8))
    s["fg"] = mask
    return s


def test_polygon_mask_known_answer():
    m = polygon_mask((10, 10), [[2, 2], [6, 2], [6, 6], [2, 6]])
    assert m[2:7, 2:7].all() and m.sum() == 25


def test_polygon_outside_frame_is_an_error():
    with pytest.raises(ClassicsegError, match=r"polygon point \(50, 2\) lies outside the 10x10 frame"):
        polygon_mask((10, 10), [[2, 2], [50, 2], [6, 6]])


def test_roi_image_masks_fg_and_shadow(tmp_path):
    roi = np.zeros((8, 8), np.uint8)
    roi[:, :4] = 255
    cv2.imwrite(str(tmp_path / "ROI.bmp"), roi)
    st = ROIMask(image=str(tmp_path / "ROI.bmp"))
    s = _sample(np.ones((8, 8), bool))
    s["shadow"] = np.ones((8, 8), bool)
    s = st.process(s)
    assert s["fg"][:, :4].all() and not s["fg"][:, 4:].any()
    assert not s["shadow"][:, 4:].any() and s["roi"].sum() == 32


def test_roi_wrong_size_error_or_resize(tmp_path):
    cv2.imwrite(str(tmp_path / "ROI.bmp"), np.full((8, 11), 255, np.uint8))
    with pytest.raises(ClassicsegError, match=r"ROI image .*ROI.bmp is 11x8 but frames are 8x8"):
        ROIMask(image=str(tmp_path / "ROI.bmp")).process(_sample(np.ones((8, 8), bool)))
    s = ROIMask(image=str(tmp_path / "ROI.bmp"), on_size_mismatch="resize").process(_sample(np.ones((8, 8), bool)))
    assert s["fg"].all()


def test_roi_config_needs_exactly_one_of_image_polygon():
    with pytest.raises(ConfigError, match="give exactly one of image or polygon"):
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "roi.mask"}]})


def test_roi_missing_image_file():
    with pytest.raises(ClassicsegError, match="image not found"):
        ROIMask(image="/nonexistent/ROI.bmp")


def test_blobs_known_answer():
    m = np.zeros((10, 10), bool)
    m[1:3, 1:4] = True  # 6 px
    m[6:9, 6:9] = True  # 9 px
    m[0, 9] = True  # 1 px
    blobs = find_blobs(m, min_area=2)
    assert [(b.box, b.area) for b in blobs] == [((1, 1, 3, 2), 6), ((6, 6, 3, 3), 9)]
    assert blobs[1].cx == pytest.approx(7.0) and blobs[1].cy == pytest.approx(7.0)
    s = Components(min_area=2).process(_sample(m))
    assert len(s["blobs"]) == 2
    with pytest.raises(ValueError, match="2-D bool"):
        find_blobs(m.astype(np.uint8))


def _run(stage, masks):
    out = []
    for i, m in enumerate(masks):
        out += stage.step(_sample(m, i))
    out += stage.flush()
    return out


def test_majority_causal_known_answer():
    seq = [np.array([[v]], bool) for v in (1, 0, 1, 1, 0, 0, 0)]
    out = _run(Majority(window=3), seq)
    # windows: [1] [1,0] [1,0,1] [0,1,1] [1,1,0] [1,0,0] [0,0,0]
    assert [bool(s["fg"][0, 0]) for s in out] == [True, False, True, True, True, False, False]


def test_majority_centered_known_answer_and_order():
    seq = [np.array([[v]], bool) for v in (1, 0, 1, 1, 0, 0, 1)]
    st = Majority(window=3, centered=True)
    assert st.latency == 1
    out = _run(st, seq)
    assert [s.index for s in out] == list(range(7))
    # centred windows: [1,0] [1,0,1] [0,1,1] [1,1,0] [1,0,0] [0,0,1] [0,1]
    assert [bool(s["fg"][0, 0]) for s in out] == [False, True, True, True, False, False, False]


def test_majority_removes_one_frame_flicker():
    masks = [np.zeros((4, 4), bool) for _ in range(5)]
    masks[2][1, 1] = True
    out = _run(Majority(window=3, centered=True), masks)
    assert not any(s["fg"].any() for s in out)


def test_majority_bad_config():
    with pytest.raises(ConfigError, match="a centered window must be odd, got 4"):
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "temporal.majority", "window": 4,
                                                          "centered": True}]})
