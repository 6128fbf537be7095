"""Scoring on the real sequences in ../shared/data (skipped when the folder is absent).

Anchors (shared/ANCHORS.md): OpenCV MOG2 with defaults on CDnet baseline/highway scores
F 0.708, Pr 0.659, Re 0.766; on the four DAVIS 2016 sequences the first-frame mask copied
to every frame scores J 0.358, F 0.217, J&F 0.288.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classicseg.metrics import cdnet, davis

DATA = Path(os.environ.get("CLASSICSEG_SHARED_DATA")
            or Path(__file__).resolve().parents[3] / "shared" / "data")

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"real data folder {DATA} is absent"),
]

HIGHWAY = DATA / "cdnet2014" / "baseline" / "highway"
DAVIS_ANN = DATA / "davis2016" / "Annotations" / "480p"


def _mog2_highway(out: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    cv2.setNumThreads(1)
    mog = cv2.createBackgroundSubtractorMOG2()
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted((HIGHWAY / "input").glob("in*.jpg")):
        fg = mog.apply(cv2.imread(str(f)))
        n = int(f.stem[2:])
        cv2.imwrite(str(out / f"bin{n:06d}.png"), np.where(fg == 255, 255, 0).astype(np.uint8))


def _independent_counts(pred_dir: Path) -> tuple[int, int, int, int]:
    """Plain per-frame loop, PIL reads, explicit masks -- written apart from cdnet.py."""
    first, last = (int(x) for x in (HIGHWAY / "temporalROI.txt").read_text().split()[:2])
    roi = np.array(Image.open(HIGHWAY / "ROI.bmp").convert("L")) > 0
    tp = fp = fn = tn = 0
    for number in range(first, last + 1):
        gt = np.array(Image.open(HIGHWAY / "groundtruth" / f"gt{number:06d}.png"))
        pred = np.array(Image.open(pred_dir / f"bin{number:06d}.png"))
        counted = roi & (gt != 170)
        motion = counted & (gt == 255)
        still = counted & (gt != 255)
        fg = pred == 255
        tp += int(np.sum(motion & fg))
        fn += int(np.sum(motion & ~fg))
        fp += int(np.sum(still & fg))
        tn += int(np.sum(still & ~fg))
    return tp, fp, fn, tn


def test_mog2_highway_matches_independent_count_and_anchor(tmp_path):
    pred = tmp_path / "highway"
    _mog2_highway(pred)
    res = cdnet.evaluate_sequence(pred, HIGHWAY)
    tp, fp, fn, tn = _independent_counts(pred)
    assert res.counts.tolist() == [tp, fp, fn, tn]
    assert len(res.per_frame) == 1231 and res.per_frame[0][0] == 470
    pr, re_ = tp / (tp + fp), tp / (tp + fn)
    expected = {"recall": re_, "specificity": tn / (tn + fp), "fpr": fp / (fp + tn),
                "fnr": fn / (tp + fn), "pwc": 100 * (fn + fp) / (tp + fp + fn + tn),
                "precision": pr, "f_measure": 2 * pr * re_ / (pr + re_)}
    for k, v in expected.items():
        assert res.metrics[k] == pytest.approx(v, abs=1e-9), k
    assert res.metrics["f_measure"] == pytest.approx(0.708, abs=0.01)
    assert res.metrics["precision"] == pytest.approx(0.659, abs=0.01)
    assert res.metrics["recall"] == pytest.approx(0.766, abs=0.01)


def test_real_cdnet_layouts_load():
    seqs = {
        "cdnet2014/baseline/highway": 1231,          # temporalROI 470 1700
        "cdnet2014/cameraJitter/traffic": 101,       # ROI.bmp 352x240 vs 320x240
        "sbi2015/IBMtest2": 90,                      # temporalROI 0 90, GT 0..89
        "sbi2015/Board": 227,                        # temporalROI 1 227, GT 0..227
        "sbi2015/Foliage": 389,                      # no ROI, no temporalROI
        "ucsd_bgs/birds": 71,                        # gt%04d.png
    }
    for rel, n in seqs.items():
        gts = cdnet.load_gt_sequence(DATA / rel)
        assert len(gts.numbers) == n, rel
        assert gts.roi is None or gts.roi.all(), rel  # every ROI here covers the whole frame
    traffic = cdnet.load_gt_sequence(DATA / "cdnet2014/cameraJitter/traffic")
    assert traffic.roi.shape == (240, 320) and len(traffic.warnings) == 1
    assert cdnet.load_gt_sequence(HIGHWAY).roi.all()  # palette BMP read through its palette


def test_davis_gt_against_itself_is_perfect():
    res = davis.evaluate_dataset(DAVIS_ANN, DAVIS_ANN)
    assert len(res.sequences) == len([d for d in DAVIS_ANN.iterdir() if d.is_dir()]) >= 4
    for s in res.sequences:
        assert np.all(s.J == 1.0) and np.all(s.F == 1.0), s.name
    assert (res.J_mean, res.F_mean, res.JF) == (1.0, 1.0, 1.0)


def test_davis_first_frame_copied_matches_anchor(tmp_path):
    # the published figure is for the first four sequences of shared/data (ANCHORS.md)
    for seq in (DAVIS_ANN / n for n in ("blackswan", "car-shadow", "dog", "motocross-jump")):
        frames = sorted(seq.glob("*.png"))
        (tmp_path / seq.name).mkdir()
        for f in frames:
            shutil.copy(frames[0], tmp_path / seq.name / f.name)
    res = davis.evaluate_dataset(tmp_path, DATA / "davis2016")     # DAVIS root form
    assert res.J_mean == pytest.approx(0.358, abs=0.01)
    assert res.F_mean == pytest.approx(0.217, abs=0.01)
    assert res.JF == pytest.approx(0.288, abs=0.01)
