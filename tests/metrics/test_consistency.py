"""Temporal consistency (flow-warped IoU of consecutive masks) on hand-made cases."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from classicseg.errors import EvalError
from classicseg.stages.flow import fb_occlusion, flow_function
from classicseg.metrics.consistency import (
    evaluate_dataset,
    evaluate_sequence,
    pair_consistency,
    temporal_consistency,
    warp_labels,
)


def square(x0, h=12, w=16, y0=4, size=4, label=1):
    m = np.zeros((h, w), np.uint8)
    m[y0:y0 + size, x0:x0 + size] = label
    return m


def zero_flow(h=12, w=16):
    return np.zeros((h, w, 2), np.float32)


def test_static_mask_is_fully_consistent():
    m = square(3)
    res = temporal_consistency([m, m, m], [zero_flow()] * 2)
    assert res.values == [1.0, 1.0] and res.mean == 1.0 and res.frames == [0, 1]


def test_shifted_mask_with_zero_flow():
    # 4x4 square moved 2 px right: intersection 4x2 = 8, union 4x6 = 24
    assert pair_consistency(square(4), square(6), zero_flow()) == pytest.approx(1 / 3)


def test_shift_explained_by_the_flow_scores_one():
    f = zero_flow()
    f[:, :, 0] = 2.0                    # frame t's pixel x is at x + 2 in frame t + 1
    assert pair_consistency(square(4), square(6), f) == 1.0
    assert pair_consistency(square(4), square(2), f) == 0.0     # moved against the flow


def test_empty_and_out_of_view():
    z = np.zeros((12, 16), np.uint8)
    assert pair_consistency(z, z, zero_flow()) == 1.0
    assert pair_consistency(square(4), z, zero_flow()) == 0.0
    f = zero_flow()
    f[:, :, 0] = 3.0
    edge = square(13, size=3)            # columns 13..15: their x + 3 leaves the image
    assert pair_consistency(edge, z, f) == 1.0
    warped, inside = warp_labels(square(6), f)
    assert not inside[:, 13:].any() and inside[:, :13].all()
    assert np.array_equal(warped, square(3))


def test_objects_are_averaged():
    a = square(2) + square(10, label=2)
    b = square(2) + square(12, label=2) * 0     # object 2 disappears
    assert pair_consistency(a, b, zero_flow()) == pytest.approx(0.5)


def test_bad_inputs():
    with pytest.raises(EvalError, match="3 masks need 2 flows, got 1"):
        temporal_consistency([square(1)] * 3, [zero_flow()])
    with pytest.raises(EvalError, match="mask is 16x12 but flow is 8x8"):
        pair_consistency(square(1), square(1), np.zeros((8, 8, 2), np.float32))
    with pytest.raises(EvalError, match="differ in size: 16x12 and 8x8"):
        pair_consistency(square(1), np.zeros((8, 8), np.uint8), zero_flow())


def _write_clip(root, frames, masks, name="seq"):
    (root / "images" / name).mkdir(parents=True)
    (root / "pred" / name).mkdir(parents=True)
    for t, (f, m) in enumerate(zip(frames, masks)):
        cv2.imwrite(str(root / "images" / name / f"{t:05d}.jpg"), f, [cv2.IMWRITE_JPEG_QUALITY, 98])
        cv2.imwrite(str(root / "pred" / name / f"{t:05d}.png"), m.astype(np.uint8) * 255)


def test_files_flow_explains_a_moving_object(tmp_path, moving_square):
    frames, gts = moving_square(n=22, start=10, size=10)
    _write_clip(tmp_path, frames, gts)
    dis = evaluate_sequence(tmp_path / "pred" / "seq", tmp_path / "images", flow_function("dis"))
    zero = evaluate_sequence(tmp_path / "pred" / "seq", tmp_path / "images", flow_function("zero"))
    assert len(dis.values) == 21 and dis.frames[0] == 0
    # before frame 9 both masks are empty (1); after, zero flow sees a 10-px square moved 2 px: 8/12
    moving = [v for t, v in zip(zero.frames, zero.values) if t >= 10]
    assert moving == pytest.approx([8 / 12] * len(moving))
    assert dis.mean > zero.mean + 0.05
    occ = evaluate_sequence(tmp_path / "pred" / "seq", tmp_path / "images", flow_function("zero"),
                            occlusion=fb_occlusion)
    assert occ.values == zero.values                  # zero flow both ways: nothing is occluded
    rows = evaluate_dataset(tmp_path / "pred", tmp_path / "images", flow_function("zero"))
    assert [r.name for r in rows] == ["seq"] and rows[0].row()["pairs"] == 21


def test_files_bad_inputs(tmp_path, moving_square):
    frames, gts = moving_square(n=4)
    _write_clip(tmp_path, frames, gts)
    (tmp_path / "images" / "seq" / "00002.jpg").unlink()
    with pytest.raises(EvalError, match=r"1 predictions in .*seq have no input frame in .*\(first: 00002.png\)"):
        evaluate_sequence(tmp_path / "pred" / "seq", tmp_path / "images", flow_function("dis"))
    cv2.imwrite(str(tmp_path / "images" / "seq" / "00002.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(EvalError, match="prediction 00002.png is 64x48 but input frame 00002.jpg is 8x8"):
        evaluate_sequence(tmp_path / "pred" / "seq", tmp_path / "images", flow_function("dis"))
    with pytest.raises(EvalError, match="no numbered input frames for seq"):
        evaluate_sequence(tmp_path / "pred" / "seq", tmp_path, flow_function("dis"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalError, match="no numbered mask PNGs in .*empty or its sub-folders"):
        evaluate_dataset(tmp_path / "empty", tmp_path, flow_function("dis"))
    with pytest.raises(EvalError, match="holds 1 numbered mask PNG.s.; consistency needs at least 2"):
        evaluate_sequence(_one_mask(tmp_path), tmp_path / "images", flow_function("dis"))


def _one_mask(tmp_path):
    d = tmp_path / "one"
    d.mkdir()
    cv2.imwrite(str(d / "00000.png"), np.zeros((48, 64), np.uint8))
    return d
