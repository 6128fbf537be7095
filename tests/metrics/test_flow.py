"""Optical-flow files and scores on hand-built cases (Baker et al. 2011; Geiger et al. 2012; Menze and Geiger 2015)."""
from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from classicseg.errors import EvalError
from classicseg.stages.flow import flow_function
from classicseg.metrics.flow import (
    FLO_TAG,
    encode_flo,
    encode_kitti_flow,
    endpoint_error,
    evaluate_flow_dataset,
    find_flow_pairs,
    flow_errors,
    read_flo,
    read_flow,
    read_kitti_flow,
    write_flo,
    write_kitti_flow,
)
from classicseg.viz import color_wheel, error_to_color, flow_to_color


def textured_pair(h=64, w=80, dx=2, dy=1, seed=0):
    """A smooth random texture and the same texture moved by (dx, dy): the true flow is (dx, dy)."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (h + 20, w + 20)).astype(np.float32), (0, 0), 2.0)
    big = cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    a = big[10:10 + h, 10:10 + w]
    b = big[10 - dy:10 - dy + h, 10 - dx:10 - dx + w]   # b[y + dy, x + dx] = a[y, x]
    return cv2.cvtColor(a, cv2.COLOR_GRAY2BGR), cv2.cvtColor(b, cv2.COLOR_GRAY2BGR)


# --------------------------------------------------------------------------- scores
def test_epe_of_a_constant_offset():
    gt = np.random.default_rng(0).normal(0, 2, (5, 6, 2)).astype(np.float32)
    pred = gt + np.array([3.0, 4.0], np.float32)
    assert np.allclose(endpoint_error(pred, gt), 5.0, atol=1e-5)
    s = flow_errors(pred, gt)
    assert s["epe"] == pytest.approx(5.0, abs=1e-5)
    assert s["fl"] == 1.0 and s["out3"] == 1.0 and s["n_valid"] == 30


def test_scores_only_count_valid_pixels():
    gt = np.zeros((2, 2, 2), np.float32)
    pred = np.zeros_like(gt)
    pred[0, 0] = (1000.0, 0.0)           # a huge error where the ground truth is unknown
    pred[1, 1] = (1.0, 0.0)
    valid = np.array([[False, True], [True, True]])
    s = flow_errors(pred, gt, valid)
    assert s["epe"] == pytest.approx(1 / 3) and s["n_valid"] == 3 and s["fl"] == 0.0
    assert np.isnan(flow_errors(pred, gt, np.zeros((2, 2), bool))["epe"])


def test_fl_needs_both_3px_and_5_percent():
    gt = np.zeros((1, 3, 2), np.float32)
    gt[0, :, 0] = (100.0, 40.0, 0.0)
    pred = gt.copy()
    pred[0, :, 0] += 4.0                 # EPE 4 everywhere: > 3 px; 5 % of |gt| = 5, 2, 0
    s = flow_errors(pred, gt)
    assert s["out3"] == 1.0
    assert s["fl"] == pytest.approx(2 / 3)   # the 100-px vector is within 5 %


def test_angular_error():
    gt = np.zeros((1, 1, 2), np.float32)
    pred = np.array([[[1.0, 0.0]]], np.float32)
    assert flow_errors(pred, gt)["aae"] == pytest.approx(45.0)
    assert flow_errors(gt, gt)["aae"] == pytest.approx(0.0, abs=1e-6)


def test_bad_inputs_to_scores():
    gt = np.zeros((4, 5, 2), np.float32)
    with pytest.raises(EvalError, match="predicted flow is 4x3 but ground truth is 5x4"):
        flow_errors(np.zeros((3, 4, 2), np.float32), gt)
    with pytest.raises(EvalError, match=r"must be \(H, W, 2\)"):
        flow_errors(np.zeros((4, 5)), gt)
    pred = gt.copy()
    pred[1, 2] = np.nan
    with pytest.raises(EvalError, match="not finite at 1 scored pixels .first: x=2, y=1"):
        flow_errors(pred, gt)


# --------------------------------------------------------------------------- .flo
def test_flo_hand_built_bytes(tmp_path):
    data = struct.pack("<f", 202021.25) + struct.pack("<ii", 2, 1) + struct.pack("<4f", 1.5, -2.0, 3.0, 1e10)
    assert data[:4] == b"PIEH"
    p = tmp_path / "a.flo"
    p.write_bytes(data)
    flow, valid = read_flo(p)
    assert flow.shape == (1, 2, 2) and flow.dtype == np.float32
    assert flow[0, 0].tolist() == [1.5, -2.0]
    assert valid.tolist() == [[True, False]] and flow[0, 1].tolist() == [0.0, 0.0]   # |v| > 1e9: unknown


def test_flo_round_trip_with_unknown_vectors(tmp_path):
    rng = np.random.default_rng(3)
    flow = rng.normal(0, 5, (7, 9, 2)).astype(np.float32)
    valid = rng.random((7, 9)) > 0.2
    p = tmp_path / "x.flo"
    write_flo(p, flow, valid)
    assert p.stat().st_size == 12 + 8 * 7 * 9
    back, v = read_flow(p)
    assert np.array_equal(v, valid)
    assert np.array_equal(back[valid], flow[valid]) and not back[~valid].any()
    assert encode_flo(flow)[:4] == np.float32(FLO_TAG).tobytes()


@pytest.mark.parametrize("data, message", [
    (b"XXXX" + struct.pack("<ii", 1, 1) + bytes(8), r"not a \.flo file \(tag b'XXXX', expected b'PIEH'"),
    (b"PIEH" + struct.pack("<ii", 4, 4) + bytes(40), r"truncated \.flo file: 52 bytes, a 4x4 flow needs 140"),
    (b"PIEH" + struct.pack("<ii", 1, 1) + bytes(12), r"too long \.flo file: 24 bytes, a 1x1 flow needs 20"),
    (b"PIEH" + struct.pack("<ii", 0, 5), r"implausible \.flo size 0x5"),
    (b"PIE", r"not a \.flo file \(3 bytes"),
])
def test_flo_bad_files_name_the_file(tmp_path, data, message):
    p = tmp_path / "bad.flo"
    p.write_bytes(data)
    with pytest.raises(EvalError, match=message) as e:
        read_flo(p)
    assert str(p) in str(e.value)


def test_flo_missing_file(tmp_path):
    with pytest.raises(EvalError, match="cannot read flow file .*nope.flo"):
        read_flo(tmp_path / "nope.flo")
    with pytest.raises(EvalError, match="unknown flow file type '.txt'"):
        read_flow(tmp_path / "x.txt")


# --------------------------------------------------------------------------- KITTI PNG
def test_kitti_png_channel_layout(tmp_path):
    img = np.zeros((1, 2, 3), np.uint16)              # OpenCV order: B, G, R
    img[0, 0] = (1, 32768 - 64, 32768 + 128)          # valid, v = -1, u = 2
    img[0, 1] = (0, 40000, 40000)                     # unknown whatever the values
    p = tmp_path / "000000_10.png"
    cv2.imwrite(str(p), img)
    flow, valid = read_kitti_flow(p)
    assert flow[0, 0].tolist() == [2.0, -1.0] and valid.tolist() == [[True, False]]
    assert flow[0, 1].tolist() == [0.0, 0.0]


def test_kitti_png_round_trip_with_invalid_pixels(tmp_path):
    rng = np.random.default_rng(5)
    flow = rng.uniform(-100, 100, (6, 8, 2)).astype(np.float32)
    valid = rng.random((6, 8)) > 0.3
    flow[0, 0] = np.nan                                # not finite: written as unknown
    p = tmp_path / "f.png"
    write_kitti_flow(p, flow, valid)
    back, v = read_flow(p)
    expect = valid.copy()
    expect[0, 0] = False
    assert np.array_equal(v, expect)
    assert np.abs(back[expect] - flow[expect]).max() <= 1 / 128 + 1e-6
    raw = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (6, 8, 3) and not raw[~expect].any()
    exact = np.round(flow * 64) / 64
    exact[0, 0] = 0
    assert np.array_equal(read_kitti_flow_bytes(encode_kitti_flow(exact))[0], exact)


def read_kitti_flow_bytes(data: bytes):
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return (img[:, :, 2:0:-1].astype(np.float32) - 32768) / 64, img[:, :, 0] > 0


def test_kitti_png_must_be_16_bit(tmp_path):
    p = tmp_path / "x.png"
    cv2.imwrite(str(p), np.zeros((3, 3, 3), np.uint8))
    with pytest.raises(EvalError, match=r"x.png: a KITTI flow PNG is 16-bit with 3 channels, got uint8"):
        read_kitti_flow(p)
    (tmp_path / "y.png").write_bytes(b"not a png")
    with pytest.raises(EvalError, match="y.png: cannot decode"):
        read_kitti_flow(tmp_path / "y.png")


# --------------------------------------------------------------------------- datasets
def middlebury_root(root, dx=2, dy=1, seq="Tex"):
    a, b = textured_pair(dx=dx, dy=dy)
    (root / "other-data" / seq).mkdir(parents=True)
    (root / "other-gt-flow" / seq).mkdir(parents=True)
    cv2.imwrite(str(root / "other-data" / seq / "frame10.png"), a)
    cv2.imwrite(str(root / "other-data" / seq / "frame11.png"), b)
    gt = np.zeros(a.shape[:2] + (2,), np.float32)
    gt[:] = (dx, dy)
    valid = np.ones(a.shape[:2], bool)
    valid[:4] = valid[-4:] = valid[:, :4] = valid[:, -4:] = False      # the border moves out of view
    write_flo(root / "other-gt-flow" / seq / "flow10.flo", gt, valid)
    return root


def kitti_root(root, dx=-3, dy=0):
    a, b = textured_pair(dx=dx, dy=dy, seed=1)
    t = root / "training"
    (t / "image_0").mkdir(parents=True)
    (t / "flow_noc").mkdir()
    cv2.imwrite(str(t / "image_0" / "000007_10.png"), cv2.cvtColor(a, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(t / "image_0" / "000007_11.png"), cv2.cvtColor(b, cv2.COLOR_BGR2GRAY))
    gt = np.zeros(a.shape[:2] + (2,), np.float32)
    gt[:] = (dx, dy)
    valid = np.zeros(a.shape[:2], bool)
    valid[8:-8, 8:-8] = True
    write_kitti_flow(t / "flow_noc" / "000007_10.png", gt, valid)
    return root


def test_find_pairs_in_both_layouts(tmp_path):
    middlebury_root(tmp_path / "mb")
    kitti_root(tmp_path / "kitti")
    pairs = find_flow_pairs(tmp_path)
    assert [(p.name, p.layout, p.region) for p in pairs] == [("000007_10", "kitti", "noc"),
                                                            ("Tex", "middlebury", "all")]
    assert [p.name for p in find_flow_pairs(tmp_path / "kitti" / "training")] == ["000007_10"]
    with pytest.raises(EvalError, match="no flow pairs under"):
        find_flow_pairs(tmp_path / "mb" / "other-data")
    with pytest.raises(EvalError, match="does not exist"):
        find_flow_pairs(tmp_path / "none")
    (tmp_path / "mb" / "other-data" / "Tex" / "frame11.png").unlink()
    with pytest.raises(EvalError, match="flow10.flo has no frame pair: expected .*frame11.png"):
        find_flow_pairs(tmp_path / "mb")


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_methods_recover_a_translation(tmp_path, method):
    middlebury_root(tmp_path)
    res = evaluate_flow_dataset(tmp_path, flow_function(method))
    assert res.pairs[0].epe < 0.5, res.pairs[0]      # (2, 1) px: direction and units are right
    assert res.pairs[0].seconds > 0
    zero = evaluate_flow_dataset(tmp_path, flow_function("zero"))
    assert zero.epe == pytest.approx(np.hypot(2, 1), abs=1e-5)


def test_scoring_predicted_files(tmp_path):
    middlebury_root(tmp_path / "gt")
    kitti_root(tmp_path / "gt")
    pred = tmp_path / "pred"
    pred.mkdir()
    f = np.zeros((64, 80, 2), np.float32)
    write_flo(pred / "Tex.flo", f + (2.0, 1.0))                  # exact
    write_kitti_flow(pred / "000007_10.png", f + (-3.0, 4.0))    # EPE 4 everywhere
    res = evaluate_flow_dataset(tmp_path / "gt", pred_dir=pred)
    by = {p.name: p for p in res.pairs}
    assert by["Tex"].epe == pytest.approx(0.0, abs=1e-6)
    assert by["000007_10"].epe == pytest.approx(4.0) and by["000007_10"].fl == 1.0
    assert res.epe == pytest.approx(2.0) and by["Tex"].seconds is None
    (pred / "Tex.flo").unlink()
    with pytest.raises(EvalError, match="no predicted flow for pair Tex in .*Tex.flo, Tex.png, Tex/flow10.flo"):
        evaluate_flow_dataset(tmp_path / "gt", pred_dir=pred)
    write_flo(pred / "Tex.flo", np.zeros((10, 10, 2), np.float32))
    with pytest.raises(EvalError, match="predicted flow Tex.flo is 10x10 but ground truth flow10.flo is 80x64"):
        evaluate_flow_dataset(tmp_path / "gt", pred_dir=pred)
    write_flo(pred / "Tex.flo", f, np.zeros((64, 80), bool))
    with pytest.raises(EvalError, match="Tex.flo is unknown at .* pixels where the ground truth is known"):
        evaluate_flow_dataset(tmp_path / "gt", pred_dir=pred)
    with pytest.raises(ValueError, match="unknown flow method 'lk'"):
        flow_function("lk")


# --------------------------------------------------------------------------- pictures
def test_flow_to_color_known_colours():
    assert color_wheel().shape == (55, 3)
    f = np.array([[[0, 0], [4, 0], [np.nan, 0], [2e9, 0]]], np.float32)
    img = flow_to_color(f)
    assert img.dtype == np.uint8 and img.shape == (1, 4, 3)
    assert img[0, 0].tolist() == [255, 255, 255]       # no motion: white
    assert img[0, 1].tolist() == [0, 0, 255]           # full speed to the right: red (BGR)
    assert img[0, 2].tolist() == [0, 0, 0] and img[0, 3].tolist() == [0, 0, 0]   # unknown: black
    paler = flow_to_color(f, max_flow=8.0)[0, 1]
    assert paler[2] == 255 and 120 <= paler[0] <= 135   # half speed: half saturation
    over = flow_to_color(f, max_flow=2.0)[0, 1]
    assert over.tolist() == [0, 0, 191]                # beyond max_flow: 75 % brightness
    left_down = flow_to_color(np.array([[[-1, 0], [0, 1]]], np.float32))
    assert left_down[0, 0, 0] > 200 and left_down[0, 0, 2] == 0        # left: cyan-ish
    assert left_down[0, 1, 2] == 255 and left_down[0, 1, 0] == 0      # down: yellow-orange
    valid = np.array([[True, False, True, True]])
    assert flow_to_color(f, valid=valid)[0, 1].tolist() == [0, 0, 0]


def test_flow_to_color_bad_input():
    with pytest.raises(ValueError, match=r"flow must be \(H, W, 2\)"):
        flow_to_color(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="max_flow must be > 0, got 0"):
        flow_to_color(np.zeros((3, 3, 2)), max_flow=0)
    with pytest.raises(ValueError, match="valid is 2x2 but flow is 3x3"):
        flow_to_color(np.zeros((3, 3, 2)), valid=np.ones((2, 2), bool))
    e = error_to_color(np.array([[0.0, 3.0, 10.0]]), valid=np.array([[True, True, False]]))
    assert e.shape == (1, 3, 3) and e[0, 2].tolist() == [128, 128, 128] and e[0, 0].sum() < e[0, 1].sum()
