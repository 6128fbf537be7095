"""samples/eval_annotate.py: the simulated annotator's pieces on a tiny clip."""
import json
import runpy
from pathlib import Path

import numpy as np

from classicseg.io.seeds import BACKGROUND
from classicseg.keyframes import Keyframed
from classicseg.pipeline import Pipeline
from tests.stages.test_vos import _clip

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "eval_annotate.py"


def _mod():
    return runpy.run_path(str(SAMPLE), run_name="eval_annotate")


def test_simulated_scribbles_lie_on_the_right_side():
    m = _mod()
    gt = np.zeros((240, 320), np.uint8)
    import cv2

    cv2.ellipse(gt, (160, 120), (60, 40), 0, 0, 360, 1, -1)
    gt = gt > 0
    s = m["simulated_scribbles"](gt)
    assert (s == 1).any() and (s == BACKGROUND).any()
    assert gt[s == 1].all() and not gt[s == BACKGROUND].any()


def test_cached_runner_serves_the_same_masks_as_a_run():
    m = _mod()
    frames, masks = _clip(n=9)
    fr = [(f"{i:05d}", f) for i, f in enumerate(frames)]
    pipe = Pipeline.load(preset="vos")
    runner = m["CachedRunner"](pipe, fr)
    cached = Keyframed(pipe, fr, runner=runner)
    direct = Keyframed(pipe, fr)
    for kf in (cached, direct):
        kf.set(0, masks[0])
        kf.set(6, masks[6])
        kf.propagate()
    preds, origins, _ = m["merged"](cached, masks[0].shape)
    for j in range(9):
        assert np.array_equal(preds[j], direct.result(j).ids > 0), j
    assert origins[0] == ("key", 0) and origins[2] == (0, 1) and origins[4] == (6, -1)
    before = runner.frames_computed
    again = Keyframed(pipe, fr, runner=runner)  # the same keyframes: every run comes from the cache
    again.set(0, masks[0])
    again.set(6, masks[6])
    again.propagate()
    assert runner.frames_computed == before


def test_plot(tmp_path, capsys):
    m = _mod()
    row = {"base": 0.5, "suggested": {"1": 0.6, "2": 0.7, "4": 0.8}, "even": {"1": 0.55, "2": 0.65, "4": 0.75},
           "random": {"1": 0.52, "2": 0.6, "4": 0.7}}
    (tmp_path / "r.json").write_text(json.dumps({"annotator": {"a": row, "b": row}}))

    class Args:
        json = [str(tmp_path / "r.json")]
        png = str(tmp_path / "p.png")

    m["cmd_plot"](Args)
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert "suggested         0.5000    0.6000    0.7000    0.8000" in capsys.readouterr().out
