"""Per-class IoU / mIoU on hand-computed class maps (Everingham et al. 2015; Cordts et al. 2016)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from classicseg.errors import EvalError
from classicseg.io.masks import davis_palette
from classicseg.metrics.segmentation import (
    ConfusionAccumulator,
    class_iou,
    evaluate_dataset,
    evaluate_sequence,
    read_label_map,
)

GT = np.array([[0, 0, 1, 1],
               [0, 0, 1, 1],
               [255, 255, 2, 2]], np.uint8)
PRED = np.array([[0, 1, 1, 1],
                 [0, 0, 1, 2],
                 [1, 1, 2, 0]], np.uint8)


def test_miou_hand_computed_with_void():
    acc = ConfusionAccumulator()
    acc.update(PRED, GT)
    iou, miou = acc.compute()
    # the void row is ignored whatever is predicted there (1s); class 0: TP 3, FN 1, FP 1;
    # class 1: TP 3, FN 1, FP 1; class 2: TP 1, FN 1, FP 1
    assert acc.classes() == [0, 1, 2]
    assert iou == pytest.approx({0: 3 / 5, 1: 3 / 5, 2: 1 / 3})
    assert miou == pytest.approx((3 / 5 + 3 / 5 + 1 / 3) / 3)


def test_accumulated_over_frames_not_mean_of_frames():
    a_gt = np.zeros((4, 4), np.uint8)
    a_gt[:2, :] = 1                                   # frame A: 8 px of class 1, predicted exactly
    b_gt = np.zeros((4, 4), np.uint8)
    b_gt[0, 0] = 1                                    # frame B: 1 px of class 1, missed
    acc = ConfusionAccumulator()
    acc.update(a_gt, a_gt)
    acc.update(np.zeros_like(b_gt), b_gt)
    iou, _ = acc.compute()
    assert iou[1] == pytest.approx(8 / 9)             # the per-frame mean would be 0.5
    assert acc.frames == 2


def test_predicted_void_and_fixed_classes():
    gt = np.array([[1, 1, 0]], np.uint8)
    pred = np.array([[1, 255, 0]], np.uint8)          # 255 on a class-1 pixel: a miss, no false positive
    acc = ConfusionAccumulator()
    acc.update(pred, gt)
    iou, miou = acc.compute()
    assert iou == pytest.approx({0: 1.0, 1: 0.5}) and miou == pytest.approx(0.75)
    iou, miou = acc.compute(classes=[0, 1, 7])        # class 7: nowhere -> NaN, left out of the mean
    assert math.isnan(iou[7]) and miou == pytest.approx(0.75)
    only_pred = np.array([[3, 1, 0]], np.uint8)      # class 3 only predicted: IoU 0, counted
    acc2 = ConfusionAccumulator()
    acc2.update(only_pred, gt)
    assert acc2.compute()[0][3] == 0.0


def test_bad_inputs():
    acc = ConfusionAccumulator()
    with pytest.raises(EvalError, match="prediction is 3x2 but ground truth is 4x3"):
        acc.update(np.zeros((2, 3), np.uint8), GT)
    with pytest.raises(EvalError, match="ids outside 0..255"):
        acc.update(np.full((3, 4), 300), GT)
    with pytest.raises(EvalError, match="class id 255 cannot be scored"):
        class_iou(np.zeros((256, 256)), [255])


def _save_p(path, ids):
    im = Image.fromarray(ids.astype(np.uint8), mode="P")
    im.putpalette(davis_palette().reshape(-1).tolist())
    im.save(path)


def test_read_label_map_modes(tmp_path):
    _save_p(tmp_path / "p.png", GT)
    assert np.array_equal(read_label_map(tmp_path / "p.png"), GT)
    Image.fromarray(np.array([[0, 255]], np.uint8)).save(tmp_path / "bin.png")    # DAVIS 2016: object, no void
    assert read_label_map(tmp_path / "bin.png").tolist() == [[0, 1]]
    Image.fromarray(np.array([[0, 3, 255]], np.uint8)).save(tmp_path / "ids.png")  # trainIds: 255 = void
    assert read_label_map(tmp_path / "ids.png").tolist() == [[0, 3, 255]]
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(EvalError, match="cannot read class map .*bad.png"):
        read_label_map(tmp_path / "bad.png")


def test_sequence_and_dataset_files(tmp_path):
    for seq, shift in (("a", 0), ("b", 1)):
        (tmp_path / "gt" / seq).mkdir(parents=True)
        (tmp_path / "pred" / seq).mkdir(parents=True)
        for n in range(3):
            _save_p(tmp_path / "gt" / seq / f"{n:05d}.png", GT)
            _save_p(tmp_path / "pred" / seq / f"{n:05d}.png", GT if shift == 0 else PRED)
    r = evaluate_sequence(tmp_path / "pred" / "b", tmp_path / "gt" / "b")
    assert r.frames == 3 and r.miou == pytest.approx((3 / 5 + 3 / 5 + 1 / 3) / 3)
    rows = evaluate_dataset(tmp_path / "pred", tmp_path / "gt")
    assert [x.name for x in rows] == ["a", "b", "global"]
    assert rows[0].miou == 1.0 and rows[0].pixel_accuracy == 1.0
    # pooled class 2: 'a' gives TP 2 per frame, 'b' TP 1, FP 1, FN 1 per frame: 9 / (9 + 3 + 3)
    assert rows[2].iou[2] == pytest.approx(9 / 15)
    assert list(rows[2].row())[:4] == ["sequence", "frames", "mIoU", "pixel_acc"]
    (tmp_path / "pred" / "b" / "00001.png").unlink()
    with pytest.raises(EvalError, match=r"1 of 3 annotated frames of b have no prediction .*first: 00001.png"):
        evaluate_dataset(tmp_path / "pred", tmp_path / "gt")
    _save_p(tmp_path / "pred" / "b" / "00001.png", np.zeros((2, 2)))
    with pytest.raises(EvalError, match="prediction 00001.png is 2x2 but ground truth 00001.png is 4x3"):
        evaluate_sequence(tmp_path / "pred" / "b", tmp_path / "gt" / "b")
    with pytest.raises(EvalError, match="no prediction folder for sequence a: .*nothing.a does not exist"):
        evaluate_dataset(tmp_path / "nothing", tmp_path / "gt")
