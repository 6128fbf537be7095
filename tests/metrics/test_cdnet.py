"""CDnet 2014 comparator rules on hand-computed cases (Goyette et al. 2012; Wang et al. 2014)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from classicseg.errors import EvalError
from classicseg.metrics import cdnet
from classicseg.metrics.cdnet import (
    CDnetAccumulator,
    confusion,
    evaluate_dataset,
    evaluate_sequence,
    load_gt_sequence,
    metrics_from_counts,
)

# 2x4 ground truth exercising every code; (1, 2) is unknown (170) and never counts.
GT = np.array([[255, 255, 0, 0],
               [50, 85, 170, 0]], dtype=np.uint8)
PRED = np.array([[255, 0, 255, 0],
                 [255, 255, 255, 0]], dtype=np.uint8)


# --------------------------------------------------------------------------- confusion
def test_constants():
    assert (cdnet.STATIC, cdnet.SHADOW, cdnet.OUTSIDE_ROI, cdnet.UNKNOWN, cdnet.MOTION) == (0, 50, 85, 170, 255)


def test_confusion_label_rules():
    # positives: (0,0) hit, (0,1) missed; negatives 0/50/85: (0,2) (1,0) (1,1) are FP, (0,3) (1,3) TN
    c = confusion(PRED, GT)
    assert c.dtype == np.int64 and c.tolist() == [1, 3, 1, 2]


def test_confusion_roi_excludes_pixels():
    roi = np.ones_like(GT)
    roi[:, 0] = 0                     # drops the TP at (0,0) and the shadow FP at (1,0)
    assert confusion(PRED, GT, roi).tolist() == [0, 2, 1, 2]
    assert confusion(PRED, GT, roi.astype(bool)).tolist() == [0, 2, 1, 2]


def test_only_255_is_foreground_and_bool_accepted():
    pred = np.where(PRED == 255, 254, 0).astype(np.uint8)
    assert confusion(pred, GT).tolist() == [0, 0, 2, 5]
    assert confusion(PRED == 255, GT).tolist() == [1, 3, 1, 2]
    assert confusion(np.where(PRED == 255, 1, 0), GT).tolist() == [0, 0, 2, 5]


def test_stray_gt_value_is_negative():
    gt = np.array([[1, 255]], dtype=np.uint8)          # IBMtest2's stray 1s
    assert confusion(np.array([[255, 0]], np.uint8), gt).tolist() == [0, 1, 1, 0]


def test_confusion_shape_errors():
    with pytest.raises(EvalError, match=r"^prediction is 3x2 but ground truth is 4x2$"):
        confusion(np.zeros((2, 3), np.uint8), GT)
    with pytest.raises(EvalError, match=r"^ROI is 4x3 but ground truth is 4x2$"):
        confusion(PRED, GT, np.ones((3, 4), bool))


# --------------------------------------------------------------------------- metrics
def test_metrics_hand_computed():
    m = metrics_from_counts([1, 3, 1, 2])
    assert m["recall"] == pytest.approx(0.5)
    assert m["specificity"] == pytest.approx(0.4)
    assert m["fpr"] == pytest.approx(0.6)
    assert m["fnr"] == pytest.approx(0.5)
    assert m["pwc"] == pytest.approx(100 * 4 / 7)
    assert m["precision"] == pytest.approx(0.25)
    assert m["f_measure"] == pytest.approx(1 / 3)
    assert set(m) == set(cdnet.METRIC_NAMES) and all(type(v) is float for v in m.values())


def test_zero_division_conventions():
    m = metrics_from_counts([0, 0, 0, 10])      # no motion, nothing predicted
    assert (m["recall"], m["precision"], m["f_measure"], m["fnr"]) == (0.0, 0.0, 0.0, 0.0)
    assert (m["specificity"], m["fpr"], m["pwc"]) == (1.0, 0.0, 0.0)
    m = metrics_from_counts([0, 0, 5, 5])       # nothing predicted: Pr = 0, F = 0
    assert (m["precision"], m["recall"], m["f_measure"], m["fnr"]) == (0.0, 0.0, 0.0, 1.0)
    m = metrics_from_counts([0, 5, 0, 5])       # no GT positive: Re = 0, F = 0
    assert (m["precision"], m["recall"], m["f_measure"]) == (0.0, 0.0, 0.0)
    m = metrics_from_counts([3, 0, 0, 0])       # no negative: Sp = FPR = 0
    assert (m["recall"], m["precision"], m["f_measure"], m["specificity"], m["fpr"]) == (1.0, 1.0, 1.0, 0.0, 0.0)
    assert all(v == 0.0 for v in metrics_from_counts([0, 0, 0, 0]).values())


def test_accumulator_sums_before_ratios():
    acc = CDnetAccumulator()
    acc.update(PRED, GT, frame=7)
    acc.update(GT == 255, GT, frame=8)          # perfect frame: [2, 0, 0, 5]
    assert acc.counts.tolist() == [3, 3, 1, 7]
    assert acc.frames == [7, 8]
    assert acc.per_frame_f() == pytest.approx([1 / 3, 1.0])
    pr, re_ = 3 / 6, 3 / 4
    assert acc.compute()["f_measure"] == pytest.approx(2 * pr * re_ / (pr + re_))
    acc.counts[0] = 99                          # a copy
    assert acc.counts[0] == 3


# --------------------------------------------------------------------------- layouts
def _png(path: Path, arr) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.asarray(arr, dtype=np.uint8))


def make_seq(root: Path, numbers, gt_fmt="gt{:06d}.png", temporal=None, roi=None, shape=(4, 6)):
    """GT frame n: motion in column (n % W); everything else static."""
    for n in numbers:
        gt = np.zeros(shape, np.uint8)
        gt[:, n % shape[1]] = 255
        _png(root / "groundtruth" / gt_fmt.format(n), gt)
    if temporal is not None:
        (root / "temporalROI.txt").write_text(f"{temporal[0]} {temporal[1]}\n")
    if roi is not None:
        _png(root / "ROI.bmp", roi)
    return root


def write_preds(pred_dir: Path, numbers, fmt="bin{:06d}.png", shape=(4, 6), col=None):
    """Prediction n: foreground in column (col if given else n % W)."""
    for n in numbers:
        p = np.zeros(shape, np.uint8)
        p[:, (n if col is None else col) % shape[1]] = 255
        _png(pred_dir / fmt.format(n), p)
    return pred_dir


def test_cdnet_layout_temporal_roi(tmp_path):
    seq = make_seq(tmp_path / "gt" / "baseline" / "road", range(1, 6), temporal=(2, 3))
    pred = write_preds(tmp_path / "pred", [2, 3])
    write_preds(pred, [1, 4, 5], col=0)         # outside the temporal ROI: never scored
    gts = load_gt_sequence(seq)
    assert gts.numbers == [2, 3] and gts.roi is None and gts.temporal_roi == (2, 3)
    assert (gts.name, gts.category) == ("road", "baseline")
    assert [n for n, _ in gts] == [2, 3]
    res = evaluate_sequence(pred, seq)
    assert res.counts.tolist() == [8, 0, 0, 40]
    assert res.metrics["f_measure"] == 1.0
    assert res.per_frame == [(2, 1.0), (3, 1.0)]


def test_temporal_roi_numbers_without_gt_are_skipped(tmp_path):
    seq = make_seq(tmp_path / "s", range(0, 3), temporal=(0, 3))      # IBMtest2: "0 90", GT 0..89
    assert load_gt_sequence(seq).numbers == [0, 1, 2]


def test_roi_bmp_restricts_pixels(tmp_path):
    roi = np.zeros((4, 6), np.uint8)
    roi[:2] = 255                              # only the top two rows are evaluated
    seq = make_seq(tmp_path / "s", [1], roi=roi)
    pred = write_preds(tmp_path / "p", [1], col=2)   # wrong column: 4 FN + 4 FP on the full image
    res = evaluate_sequence(pred, seq)
    assert res.counts.tolist() == [0, 2, 2, 8]


def test_palette_roi_bmp_is_read_through_its_palette(tmp_path):
    # highway's ROI.bmp: palette image, every index 0, palette[0] = white -> all inside.
    seq = make_seq(tmp_path / "s", [1])
    im = Image.fromarray(np.zeros((4, 6), np.uint8), mode="P")
    im.putpalette([255, 255, 255, 0, 0, 0] + [0, 0, 0] * 254)
    im.save(seq / "ROI.bmp")
    gts = load_gt_sequence(seq)
    assert gts.roi.dtype == bool and gts.roi.all()


def test_sbi_numbering_from_zero_no_roi_files(tmp_path):
    seq = make_seq(tmp_path / "Foliage", range(0, 4))
    pred = write_preds(tmp_path / "p", range(0, 4), fmt="{:06d}.png")
    res = evaluate_sequence(pred, seq)
    assert [n for n, _ in res.per_frame] == [0, 1, 2, 3]
    assert res.counts.tolist() == [16, 0, 0, 80]


def test_ucsd_gt4_with_frame_n_predictions(tmp_path):
    seq = make_seq(tmp_path / "birds", range(1, 4), gt_fmt="gt{:04d}.png", temporal=(1, 3),
                   roi=np.full((4, 6), 255))
    pred = write_preds(tmp_path / "p", range(1, 4), fmt="frame_{}.png", col=1)
    res = evaluate_sequence(pred, seq)
    # frame 1 perfect; frames 2, 3 predict column 1 instead of 2, 3: 4 FP + 4 FN each
    assert res.counts.tolist() == [4, 8, 8, 52]
    assert res.per_frame == [(1, 1.0), (2, 0.0), (3, 0.0)]


def test_colour_prediction_uses_one_channel(tmp_path):
    seq = make_seq(tmp_path / "s", [1])
    p = np.zeros((4, 6, 3), np.uint8)
    p[:, 1] = 255
    _png(tmp_path / "p" / "bin000001.png", p)
    assert evaluate_sequence(tmp_path / "p", seq).counts.tolist() == [4, 0, 0, 20]


def test_dataset_category_and_overall_means(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    make_seq(gt / "A" / "v1", [1])
    make_seq(gt / "A" / "v2", [1])
    make_seq(gt / "B" / "v3", [1])
    write_preds(pred / "A" / "v1", [1])                 # F = 1
    write_preds(pred / "A" / "v2", [1], col=2)          # F = 0
    p = np.zeros((4, 6), np.uint8)
    p[:2, 1] = 255                                      # B/v3: TP 2, FN 2 -> Pr 1, Re 0.5, F 2/3
    _png(pred / "B" / "v3" / "bin000001.png", p)
    res = evaluate_dataset(pred, gt)
    assert [(v.category, v.name) for v in res.videos] == [("A", "v1"), ("A", "v2"), ("B", "v3")]
    assert res.categories["A"]["f_measure"] == pytest.approx(0.5)
    assert res.categories["A"]["precision"] == pytest.approx(0.5)
    assert res.categories["B"]["f_measure"] == pytest.approx(2 / 3)
    # overall = mean of categories, not of videos (which would be 5/9)
    assert res.overall["f_measure"] == pytest.approx((0.5 + 2 / 3) / 2)
    rows = res.table()
    assert [r["level"] for r in rows] == ["video"] * 3 + ["category"] * 2 + ["overall"]
    assert rows[0]["tp"] == 4 and rows[-1]["f_measure"] == pytest.approx(7 / 12)
    # a category folder and a single sequence folder
    cat = evaluate_dataset(pred / "A", gt / "A")
    assert list(cat.categories) == ["A"] and cat.overall["f_measure"] == pytest.approx(0.5)
    one = evaluate_dataset(pred / "B" / "v3", gt / "B" / "v3")
    assert one.overall["f_measure"] == pytest.approx(2 / 3) and one.videos[0].category == "B"


# --------------------------------------------------------------------------- errors
def test_error_prediction_folder_missing_or_empty(tmp_path):
    seq = make_seq(tmp_path / "s", [1])
    with pytest.raises(EvalError, match=r"^prediction folder .*nope does not exist$"):
        evaluate_sequence(tmp_path / "nope", seq)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalError, match=r"^prediction folder .*empty holds no numbered image files$"):
        evaluate_sequence(tmp_path / "empty", seq)


def test_error_missing_predictions_count_and_first(tmp_path):
    seq = make_seq(tmp_path / "highway", range(1, 7), temporal=(2, 6))
    pred = write_preds(tmp_path / "p", [2, 3, 5])
    with pytest.raises(EvalError, match=r"^2 of 5 evaluated frames of highway have no prediction in .*"
                                        r"\(first: frame 4, ground truth gt000004\.png\)$"):
        evaluate_sequence(pred, seq)


def test_error_size_mismatch_names_both_files(tmp_path):
    seq = make_seq(tmp_path / "s", [471], shape=(240, 352))
    pred = write_preds(tmp_path / "p", [471], shape=(240, 320))
    with pytest.raises(EvalError, match=r"^prediction bin000471\.png is 320x240 but ground truth "
                                        r"gt000471\.png is 352x240$"):
        evaluate_sequence(pred, seq)


def test_error_unreadable_prediction(tmp_path):
    seq = make_seq(tmp_path / "s", [1])
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "bin000001.png").write_bytes(b"not a png")
    with pytest.raises(EvalError, match=r"^cannot read prediction .*bin000001\.png$"):
        evaluate_sequence(tmp_path / "p", seq)


def test_error_duplicate_frame_numbers(tmp_path):
    seq = make_seq(tmp_path / "s", [1])
    pred = write_preds(tmp_path / "p", [1])
    write_preds(pred, [1], fmt="frame_{}.png")
    with pytest.raises(EvalError, match=r"^predictions bin000001\.png and frame_1\.png in .* are both frame 1$"):
        evaluate_sequence(pred, seq)


def test_error_no_groundtruth(tmp_path):
    with pytest.raises(EvalError, match=r"has no groundtruth/ folder$"):
        load_gt_sequence(tmp_path)
    (tmp_path / "groundtruth").mkdir()
    with pytest.raises(EvalError, match=r"groundtruth holds no numbered ground-truth images$"):
        load_gt_sequence(tmp_path)


def test_error_temporal_roi(tmp_path):
    seq = make_seq(tmp_path / "s", [1, 2], temporal=(5, 9))
    with pytest.raises(EvalError, match=r"temporalROI\.txt \(5 9\) selects none of the ground-truth frames 1\.\.2 of s$"):
        load_gt_sequence(seq)
    (seq / "temporalROI.txt").write_text("470\n")
    with pytest.raises(EvalError, match=r"temporalROI\.txt must hold two frame numbers 'first last'$"):
        load_gt_sequence(seq)


def test_roi_size_mismatch_uniform_is_used_with_warning(tmp_path):
    seq = make_seq(tmp_path / "traffic", [1], roi=np.full((4, 8), 255))   # cameraJitter/traffic
    gts = load_gt_sequence(seq)
    assert gts.roi.shape == (4, 6) and gts.roi.all()
    assert len(gts.warnings) == 1 and "ROI.bmp is 8x4 but the ground truth is 6x4" in gts.warnings[0]


def test_roi_size_mismatch_falls_back_to_binary_roi_jpg(tmp_path):
    roi_bmp = np.zeros((4, 8), np.uint8)
    roi_bmp[:, :3] = 255
    roi_jpg = np.zeros((16, 24), np.uint8)
    roi_jpg[:, 12:] = 255
    seq = make_seq(tmp_path / "s", [1], roi=roi_bmp, shape=(16, 24))
    cv2.imwrite(str(seq / "ROI.jpg"), roi_jpg)
    gts = load_gt_sequence(seq)
    assert np.array_equal(gts.roi, roi_jpg >= 128)
    assert "used ROI.jpg thresholded at 128 instead" in gts.warnings[0]


def test_roi_size_mismatch_without_usable_mask_raises(tmp_path):
    roi_bmp = np.zeros((4, 8), np.uint8)
    roi_bmp[:, :3] = 255
    seq = make_seq(tmp_path / "s", [1], roi=roi_bmp)
    with pytest.raises(EvalError, match=r"ROI\.bmp is 8x4 but ground truth is 6x4$"):
        load_gt_sequence(seq)
    photo = np.tile(np.arange(60, 120, 10, dtype=np.uint8), (4, 1))      # a picture, not a mask
    cv2.imwrite(str(seq / "ROI.jpg"), photo)
    with pytest.raises(EvalError, match=r"ROI\.bmp is 8x4 but ground truth is 6x4 and ROI\.jpg is not a usable mask$"):
        load_gt_sequence(seq)


def test_dataset_scores_the_sequences_that_were_run(tmp_path):
    make_seq(tmp_path / "gt" / "A" / "v1", [1])
    make_seq(tmp_path / "gt" / "A" / "v2", [1])
    make_seq(tmp_path / "gt" / "B" / "v3", [1])
    write_preds(tmp_path / "pred" / "A" / "v1", [1])                  # perfect
    write_preds(tmp_path / "pred" / "B" / "v3", [1], col=5)           # all wrong
    res = evaluate_dataset(tmp_path / "pred", tmp_path / "gt")
    assert [v.name for v in res.videos] == ["v1", "v3"] and res.skipped == ["A/v2"]
    assert res.categories["A"]["f_measure"] == 1.0 and res.overall["f_measure"] == 0.5
    # --sequences: by category/video or by video; the pooled rows follow the choice
    res = evaluate_dataset(tmp_path / "pred", tmp_path / "gt", sequences=["v1"])
    assert [v.name for v in res.videos] == ["v1"] and res.skipped == [] and res.overall["f_measure"] == 1.0
    assert [v.name for v in evaluate_dataset(tmp_path / "pred", tmp_path / "gt", ["B/v3", "A/v1"]).videos] == [
        "v3", "v1"]


def test_error_dataset_missing_prediction_folder(tmp_path):
    make_seq(tmp_path / "gt" / "A" / "v1", [1])
    make_seq(tmp_path / "gt" / "A" / "v2", [1])
    write_preds(tmp_path / "pred" / "A" / "v1", [1])
    with pytest.raises(EvalError, match=r"^no prediction folder for sequence A/v2: .* does not exist$"):
        evaluate_dataset(tmp_path / "pred", tmp_path / "gt", sequences=["v2"])
    with pytest.raises(EvalError, match=r"^--sequences: no sequence 'x4' in the ground truth; it has A/v1, A/v2$"):
        evaluate_dataset(tmp_path / "pred", tmp_path / "gt", sequences=["x4"])
    with pytest.raises(EvalError, match=r"no sequence 'A/v11' in the ground truth \(did you mean 'A/v1'\?\)"):
        evaluate_dataset(tmp_path / "pred", tmp_path / "gt", sequences=["A/v11"])
    with pytest.raises(EvalError, match=r"^none of the 2 sequences has a prediction folder \(first: A/v1, looked for "):
        evaluate_dataset(tmp_path / "elsewhere", tmp_path / "gt")
    with pytest.raises(EvalError, match=r"^no prediction folder for sequence A/v1: .* does not exist$"):
        evaluate_dataset(tmp_path / "elsewhere", tmp_path / "gt" / "A" / "v1")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(EvalError, match=r"^no ground truth under .*nothing"):
        evaluate_dataset(tmp_path / "pred", tmp_path / "nothing")


def test_error_messages_are_one_line(tmp_path):
    seq = make_seq(tmp_path / "s", [1, 2])
    with pytest.raises(EvalError) as exc:
        evaluate_sequence(write_preds(tmp_path / "p", [1]), seq)
    assert "\n" not in str(exc.value)


def test_per_frame_f_is_nan_when_nothing_to_score():
    import math

    acc = CDnetAccumulator()
    empty = np.zeros((2, 2), np.uint8)
    acc.update(empty, empty)  # nothing in GT, nothing predicted
    acc.update(np.full((2, 2), 255, np.uint8), empty)  # only false positives
    f = acc.per_frame_f()
    assert math.isnan(f[0]) and f[1] == 0.0
