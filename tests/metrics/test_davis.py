"""DAVIS J / F / statistics on hand-computed cases (Perazzi et al. 2016; Pont-Tuset et al. 2017)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.morphology import dilation, disk

from classicseg.errors import EvalError
from classicseg.metrics import davis
from classicseg.metrics.davis import (
    boundary_f,
    evaluate_dataset,
    evaluate_sequence,
    jaccard,
    read_indexed_mask,
    seg2bmap,
    statistics,
)


def square(shape=(4, 4), rows=(1, 3), cols=(1, 3)):
    m = np.zeros(shape, bool)
    m[rows[0]:rows[1], cols[0]:cols[1]] = True
    return m


# --------------------------------------------------------------------------- seg2bmap
def test_seg2bmap_square():
    expected = np.array([[1, 1, 1, 0],
                         [1, 0, 1, 0],
                         [1, 1, 1, 0],
                         [0, 0, 0, 0]], bool)
    b = seg2bmap(square())
    assert b.dtype == bool and np.array_equal(b, expected)


def test_seg2bmap_last_row_and_column_rules():
    m = np.zeros((3, 3), bool)
    m[1, 2] = True                # on the last column: compared with its bottom neighbour only
    expected = np.array([[0, 1, 1],
                         [0, 1, 1],
                         [0, 0, 0]], bool)
    assert np.array_equal(seg2bmap(m), expected)
    assert not seg2bmap(np.ones((5, 7), bool)).any()     # a full mask has no boundary


# --------------------------------------------------------------------------- J
def test_jaccard_hand_computed():
    gt = square((4, 5), (1, 3), (1, 3))        # 4 px
    pred = square((4, 5), (1, 3), (1, 4))      # 6 px, 4 shared
    assert jaccard(gt, pred) == pytest.approx(4 / 6)
    assert jaccard(gt, gt) == 1.0


def test_jaccard_empty_cases():
    z = np.zeros((3, 3), bool)
    assert jaccard(z, z) == 1.0
    assert jaccard(z, square((3, 3), (0, 1), (0, 1))) == 0.0
    assert jaccard(square((3, 3), (0, 1), (0, 1)), z) == 0.0


def test_jaccard_void_is_ignored():
    gt = square((4, 5), (1, 3), (1, 3))
    pred = square((4, 5), (1, 3), (1, 4))
    void = np.zeros((4, 5), bool)
    void[:, 3] = True                          # hides the two extra predicted pixels
    assert jaccard(gt, pred, void) == 1.0


def test_jaccard_shape_error():
    with pytest.raises(EvalError, match=r"^prediction is 5x4 but ground truth is 4x4$"):
        jaccard(np.zeros((4, 4)), np.zeros((4, 5)))


# --------------------------------------------------------------------------- F
def test_boundary_f_tolerance_in_pixels():
    gt = np.zeros((10, 10), bool)
    gt[:5] = True                              # boundary: row 4 (10 px)
    pred = np.zeros((10, 10), bool)
    pred[:7] = True                            # boundary: row 6, 2 px away
    assert boundary_f(gt, pred, bound_th=1) == 0.0
    assert boundary_f(gt, pred, bound_th=2) == 1.0


def test_boundary_f_partial_hand_computed():
    gt = np.zeros((10, 10), bool)
    gt[:5] = True                              # boundary row 4, 10 px
    pred = np.zeros((10, 10), bool)
    pred[:5, :5] = True                        # boundary: row 4 cols 0..4 + col 4 rows 0..3 = 9 px
    # r = 1 (cross): P = 6/9 (row-4 pixels + (3,4)); R = 6/10 (gt cols 0..5 reached)
    p, r = 6 / 9, 6 / 10
    assert boundary_f(gt, pred, bound_th=1) == pytest.approx(2 * p * r / (p + r))
    assert boundary_f(gt, pred, bound_th=1) == pytest.approx(12 / 19)


def test_boundary_f_empty_cases():
    z = np.zeros((6, 6), bool)
    s = square((6, 6), (1, 4), (1, 4))
    assert boundary_f(z, z) == 1.0
    assert boundary_f(s, z) == 0.0             # P = 1, R = 0
    assert boundary_f(z, s) == 0.0             # P = 0, R = 1
    assert boundary_f(np.ones((6, 6)), np.ones((6, 6))) == 1.0     # both boundaries empty


def test_default_tolerance_is_8_px_at_480p():
    assert davis._bound_pix((480, 854), 0.008) == 8
    assert davis._bound_pix((240, 320), 0.008) == 4       # ceil(0.008 * 400) = ceil(3.2)
    assert davis._bound_pix((10, 10), 3) == 3


def test_cv2_dilation_equals_skimage_disk():
    rng = np.random.default_rng(0)
    for r in (1, 3, 8):
        m = rng.random((40, 70)) < 0.02
        m[0, 0] = m[-1, -1] = True             # touches the borders
        assert np.array_equal(davis._dilate(m, r), dilation(m, disk(r)).astype(bool))


# --------------------------------------------------------------------------- statistics
def test_statistics_known_list():
    v = [1, 1, 0, 0, 0.6, 0.2, 0.9, 0.4]
    mean, recall, decay = statistics(v)
    # ids = round(linspace(1, 8, 5) + 1e-10) - 1 = [0, 2, 4, 5, 7] -> bins [0:3], [5:8]
    assert mean == pytest.approx(4.1 / 8)
    assert recall == pytest.approx(0.5)
    assert decay == pytest.approx(2 / 3 - 0.5)


def test_statistics_past_255_frames():
    v = np.arange(300, dtype=float)
    # ids = [0, 75, 150, 224, 299]: bins v[0:76] and v[224:300]; uint8 ids would wrap 299 -> 43
    assert statistics(v)[2] == pytest.approx(37.5 - 261.5)


def test_statistics_short_and_empty():
    assert statistics([0.7]) == pytest.approx((0.7, 1.0, 0.0))
    assert all(np.isnan(x) for x in statistics([]))


# --------------------------------------------------------------------------- files
def save_indexed(path: Path, ids) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(np.asarray(ids, np.uint8), mode="P")
    im.putpalette(davis.davis_palette().reshape(-1).tolist())
    im.save(path)


def save_gray(path: Path, mask) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(path)


def test_read_indexed_mask_formats(tmp_path):
    ids = np.array([[0, 1], [2, 255]], np.uint8)
    save_indexed(tmp_path / "p.png", ids)
    assert np.array_equal(read_indexed_mask(tmp_path / "p.png"), ids)
    save_gray(tmp_path / "g.png", np.array([[0, 1], [1, 0]], bool))
    assert read_indexed_mask(tmp_path / "g.png").tolist() == [[0, 1], [1, 0]]
    pal = davis.davis_palette()
    assert pal[1].tolist() == [128, 0, 0] and pal[2].tolist() == [0, 128, 0]
    Image.fromarray(pal[ids[:, :1].repeat(2, 1)]).save(tmp_path / "rgb.png")
    assert read_indexed_mask(tmp_path / "rgb.png").tolist() == [[0, 0], [2, 2]]
    Image.fromarray(np.full((2, 2, 3), (1, 2, 3), np.uint8)).save(tmp_path / "bad.png")
    with pytest.raises(EvalError, match=r"^mask bad\.png has colour \(1, 2, 3\) at x=0, y=0, which is not in the DAVIS palette$"):
        read_indexed_mask(tmp_path / "bad.png")
    (tmp_path / "junk.png").write_bytes(b"junk")
    with pytest.raises(EvalError, match=r"^cannot read mask .*junk\.png"):
        read_indexed_mask(tmp_path / "junk.png")


# --------------------------------------------------------------------------- sequences
SHAPE = (12, 16)


def two_objects():
    m = np.zeros(SHAPE, np.uint8)
    m[2:6, 2:6] = 1
    m[6:10, 9:14] = 2
    return m


def make_multi(tmp_path):
    ann, pred = tmp_path / "Annotations" / "480p" / "seq", tmp_path / "pred" / "seq"
    for n in range(5):
        save_indexed(ann / f"{n:05d}.png", two_objects())
    for n in (1, 2, 3):
        p = two_objects()
        if n == 2:
            p[p == 2] = 0                      # object 2 lost in frame 2: J = F = 0 there
        save_indexed(pred / f"{n:05d}.png", p)
    return ann, pred


def test_multi_object_sequence(tmp_path):
    ann, pred = make_multi(tmp_path)
    r = evaluate_sequence(pred, ann)
    assert r.name == "seq" and r.object_ids == [1, 2] and r.frames == [1, 2, 3]
    assert r.J.tolist() == [[1, 1, 1], [1, 0, 1]] and r.F.tolist() == [[1, 1, 1], [1, 0, 1]]
    assert r.per_object[2]["J_mean"] == pytest.approx(2 / 3)
    assert r.J_mean == pytest.approx(5 / 6) and r.F_mean == pytest.approx(5 / 6)
    assert r.JF == pytest.approx(5 / 6)
    assert r.J_recall == pytest.approx(5 / 6)
    # ids for n = 3: [0, 1, 1, 2, 2]; object 2 bins [1, 0] ... [1] -> decay -0.5; object 1: 0
    assert r.J_decay == pytest.approx(-0.25)


def test_first_and_last_frames_are_excluded(tmp_path):
    ann, pred = make_multi(tmp_path)
    r0 = evaluate_sequence(pred, ann)
    wrong = np.zeros(SHAPE, np.uint8)
    save_indexed(pred / "00000.png", wrong)
    save_indexed(pred / "00004.png", wrong)
    r1 = evaluate_sequence(pred, ann)
    assert r1.JF == r0.JF and r1.J.shape == (2, 3)


def test_davis2016_grayscale_single_object(tmp_path):
    ann, pred = tmp_path / "ann" / "cow", tmp_path / "pred"
    gt = np.zeros(SHAPE, bool)
    gt[3:9, 4:10] = True
    for n in range(4):
        save_gray(ann / f"{n:05d}.png", gt)
        save_gray(pred / f"{n:05d}.png", gt if n != 1 else np.zeros(SHAPE, bool))
    r = evaluate_sequence(pred, ann)
    assert r.object_ids == [1] and r.J.tolist() == [[0.0, 1.0]] and r.F.tolist() == [[0.0, 1.0]]
    assert r.JF == pytest.approx(0.5)


def test_dataset_pools_objects_and_finds_annotations(tmp_path):
    ann, pred = make_multi(tmp_path)           # seq: objects with J_mean 1 and 2/3
    gt = np.zeros(SHAPE, bool)
    gt[3:9, 4:10] = True
    for n in range(3):
        save_gray(ann.parent / "one" / f"{n:05d}.png", gt)
        save_gray(pred.parent / "one" / f"{n:05d}.png", np.zeros(SHAPE, bool))   # J = F = 0
    for root in (tmp_path, tmp_path / "Annotations" / "480p"):
        res = evaluate_dataset(tmp_path / "pred", root)
        assert [s.name for s in res.sequences] == ["one", "seq"]
        assert res.J_mean == pytest.approx((0 + 1 + 2 / 3) / 3)   # mean over the 3 objects
        assert res.JF == pytest.approx((res.J_mean + res.F_mean) / 2)
        rows = res.table()
        assert [r["sequence"] for r in rows] == ["one", "seq", "global"] and rows[1]["objects"] == 2
    single = evaluate_dataset(pred, ann)
    assert single.JF == pytest.approx(5 / 6)


def test_dataset_scores_the_sequences_that_were_run(tmp_path):
    ann, pred = make_multi(tmp_path)           # seq: objects with J_mean 1 and 2/3
    gt = np.zeros(SHAPE, bool)
    gt[3:9, 4:10] = True
    for name in ("one", "two"):
        for n in range(3):
            save_gray(ann.parent / name / f"{n:05d}.png", gt)
    for n in range(3):
        save_gray(pred.parent / "one" / f"{n:05d}.png", np.zeros(SHAPE, bool))   # J = F = 0
    res = evaluate_dataset(tmp_path / "pred", tmp_path)                          # "two" was not run
    assert [s.name for s in res.sequences] == ["one", "seq"] and res.skipped == ["two"]
    assert res.J_mean == pytest.approx((0 + 1 + 2 / 3) / 3)
    res = evaluate_dataset(tmp_path / "pred", tmp_path, sequences=["seq"])
    assert [s.name for s in res.sequences] == ["seq"] and res.skipped == [] and res.JF == pytest.approx(5 / 6)
    with pytest.raises(EvalError, match=r"^no prediction folder for sequence two: "):
        evaluate_dataset(tmp_path / "pred", tmp_path, sequences=["seq", "two"])


def test_frame_rows_hold_j_and_f_per_object(tmp_path):
    ann, pred = make_multi(tmp_path)
    r = evaluate_sequence(pred, ann)
    rows = r.frame_rows()
    assert [row["frame"] for row in rows] == r.frames
    for t, row in enumerate(rows):
        assert list(row) == ["frame", "J", "F", "J_1", "F_1", "J_2", "F_2"]
        assert (row["J_1"], row["J_2"], row["F_1"], row["F_2"]) == (r.J[0, t], r.J[1, t], r.F[0, t], r.F[1, t])
        assert row["J"] == pytest.approx((r.J[0, t] + r.J[1, t]) / 2)
    assert np.mean([row["J_2"] for row in rows]) == pytest.approx(r.per_object[2]["J_mean"])


# --------------------------------------------------------------------------- errors
def test_error_missing_predictions(tmp_path):
    ann, pred = make_multi(tmp_path)
    (pred / "00001.png").unlink()
    (pred / "00003.png").unlink()
    with pytest.raises(EvalError, match=r"^2 of 3 evaluated frames of seq have no prediction in .*\(first: 00001\.png\)$"):
        evaluate_sequence(pred, ann)


def test_error_size_mismatch(tmp_path):
    ann, pred = make_multi(tmp_path)
    save_indexed(pred / "00002.png", np.zeros((12, 15), np.uint8))
    with pytest.raises(EvalError, match=r"^prediction 00002\.png is 15x12 but annotation 00002\.png is 16x12$"):
        evaluate_sequence(pred, ann)


def test_error_more_objects_than_annotations(tmp_path):
    ann, pred = make_multi(tmp_path)
    p = two_objects()
    p[0, 0] = 3
    save_indexed(pred / "00003.png", p)
    with pytest.raises(EvalError, match=r"^prediction 00003\.png has object id 3 but the annotations of seq have 2 object\(s\) \(ids \[1, 2\]\)$"):
        evaluate_sequence(pred, ann)


def test_error_no_annotations(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalError, match=r"^no annotations \(numbered \.png files\) in .*empty$"):
        evaluate_sequence(tmp_path, tmp_path / "empty")
    with pytest.raises(EvalError, match=r"^no annotations \(\.png\) under .*empty$"):
        evaluate_dataset(tmp_path, tmp_path / "empty")
    for n in range(3):
        save_indexed(tmp_path / "blank" / f"{n:05d}.png", np.zeros((4, 4)))
    with pytest.raises(EvalError, match=r"^annotations in .*blank contain no object$"):
        evaluate_sequence(tmp_path, tmp_path / "blank")


def test_error_too_few_frames_and_missing_folders(tmp_path):
    ann, pred = make_multi(tmp_path)
    with pytest.raises(EvalError, match=r"^prediction folder .*nope does not exist$"):
        evaluate_sequence(tmp_path / "nope", ann)
    (tmp_path / "pred" / "seq").rename(tmp_path / "pred" / "other")
    with pytest.raises(EvalError, match=r"^no prediction folder for sequence seq: .* does not exist$"):
        evaluate_dataset(tmp_path / "pred", tmp_path)
    with pytest.raises(EvalError, match=r"^--sequences: no sequence 'sq' in the ground truth \(did you mean 'seq'\?\)"):
        evaluate_dataset(tmp_path / "pred", tmp_path, sequences=["sq"])
    for n in range(2):
        save_indexed(tmp_path / "short" / f"{n:05d}.png", two_objects())
    with pytest.raises(EvalError, match=r"^short has 2 annotated frame\(s\); the first and last are excluded, so at least 3 are needed$"):
        evaluate_sequence(pred, tmp_path / "short")
