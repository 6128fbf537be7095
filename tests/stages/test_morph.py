import numpy as np
import pytest

from classicseg.config import validate
from classicseg.errors import ConfigError
from classicseg.stages.morph import (
    AreaFilter, Close, FillHoles, Median, Open, close_mask, fill_holes, median_mask, open_mask, remove_small,
    structuring_element,
)
from classicseg.types import Sample


def _mask(rows):
    return np.array([[c == "#" for c in r] for r in rows])


def _sample(mask):
    s = Sample(0, "0", np.zeros(mask.shape + (3,), np.uint8))
    s["fg"] = mask
    return s


def test_open_removes_a_speck_and_keeps_a_block():
    m = np.zeros((12, 12), bool)
    m[1, 1] = True
    m[4:10, 4:10] = True
    out = open_mask(m, 1, "rect")
    assert not out[1, 1] and out[4:10, 4:10].all() and out.sum() == 36
    assert m[1, 1]  # input untouched


def test_close_bridges_a_one_pixel_gap():
    m = _mask(["........", ".###.##.", ".###.##.", ".###.##.", "........"])
    out = close_mask(m, 1, "rect")
    assert out[2, 4]


def test_median_known_answer():
    m = _mask([".....", ".###.", ".#.#.", ".###.", "....."])
    out = median_mask(m, 3)
    assert out[2, 2]  # the hole has 8 set neighbours out of 9
    assert not out[0, 0]
    with pytest.raises(ValueError, match="ksize must be odd and >= 3, got 4"):
        median_mask(m, 4)


def test_fill_holes_fills_enclosed_only():
    m = _mask(["#####...", "#...#...", "#####...", "........", "..###...", "..#.....", "..###..."])
    out = fill_holes(m)
    assert out[1, 1:4].all()  # enclosed
    assert not out[5, 3]  # open to the outside
    small_only = fill_holes(m, max_hole_area=2)
    assert not small_only[1, 1:4].any()  # a 3-pixel hole is over the limit


def test_fill_holes_background_touching_border_stays():
    m = _mask(["#.#", "#.#", "###"])
    assert not fill_holes(m)[0, 1]


def test_remove_small_known_answer():
    m = _mask(["##....", "##....", "......", "...###", "...###"])
    out = remove_small(m, 5)
    assert out.sum() == 6 and not out[:2, :2].any()


def test_structuring_element_and_bad_input():
    assert structuring_element(1, "rect").shape == (3, 3)
    with pytest.raises(ValueError, match="radius must be >= 1, got 0"):
        structuring_element(0)
    with pytest.raises(ValueError, match="mask must be a 2-D bool array"):
        open_mask(np.zeros((3, 3), np.uint8))


@pytest.mark.parametrize("cls", [Open, Close, Median, FillHoles, AreaFilter])
def test_stage_smoke(cls):
    m = np.zeros((20, 20), bool)
    m[5:15, 5:15] = True
    s = cls().process(_sample(m))
    assert s["fg"].dtype == bool and s["fg"].shape == (20, 20)
    assert s["fg"][8:12, 8:12].all()


def test_morph_config_errors_name_stage_and_key():
    with pytest.raises(ConfigError) as e:
        validate({"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "morph.open", "radius": 0},
                               {"stage": "morph.median", "ksize": 4}, {"stage": "morph.close", "shape": "star"}]})
    errs = e.value.errors
    assert any(x.startswith("stage 2 (morph.open): radius: input should be greater than or equal to 1, got 0")
               for x in errs)
    assert any("stage 3 (morph.median): ksize: must be odd, got 4" in x for x in errs)
    assert any(x.startswith("stage 4 (morph.close): shape:") and "'star'" in x for x in errs)
