import cv2
import numpy as np
import pytest

from classicseg import catalog as registry
from classicseg.config import validate
from classicseg.errors import ConfigError
from classicseg.stages.bgsub.base import ScheduleParams, learning_rate, split_labels
from classicseg.stages.bgsub.framediff import FrameDiff, frame_difference
from classicseg.stages.bgsub.opencv import KNN, MOG2
from classicseg.types import Sample

SUBTRACTORS = ["bgsub.mog2", "bgsub.knn", "bgsub.mog", "bgsub.gmg", "bgsub.cnt", "bgsub.gsoc", "bgsub.lsbp",
               "bgsub.framediff", "bgsub.median", "bgsub.eigen"]


def _feed(stage, frames):
    return [stage.process(Sample(i, f"{i:05d}", f)) for i, f in enumerate(frames)]


@pytest.mark.parametrize("name", SUBTRACTORS)
def test_every_subtractor_finds_the_moving_square(name, moving_square):
    frames, gts = moving_square(n=60, start=40)
    extra = {"bgsub.gmg": {"initialization_frames": 20, "smoothing_radius": 1}, "bgsub.cnt": {"min_pixel_stability": 5},
             "bgsub.eigen": {"n_frames": 20, "n_components": 5}}.get(name, {})
    stage = registry.get(name)(**extra)
    out = _feed(stage, frames)
    last = out[-1]
    assert last["fg"].dtype == bool and last["fg"].shape == gts[-1].shape
    # most of the square is found, little of the background
    hit = (last["fg"] & gts[-1]).sum() / gts[-1].sum()
    false = (last["fg"] & ~gts[-1]).sum() / (~gts[-1]).sum()
    # differencing only sees the leading and trailing edges of a uniform object
    assert hit > (0.2 if name == "bgsub.framediff" else 0.5), (name, hit)
    assert false < 0.1, (name, false)


def test_split_labels_keeps_shadow_out_of_foreground():
    raw = np.array([[0, 127, 255], [255, 127, 0]], np.uint8)
    fg, shadow = split_labels(raw)
    assert fg.tolist() == [[False, False, True], [True, False, False]]
    assert shadow.tolist() == [[False, True, False], [False, True, False]]
    assert not (fg & shadow).any()
    assert not split_labels(raw, None)[1].any()


def test_mog2_parameters_reach_opencv():
    stage = MOG2(var_threshold=33.0, history=77, n_mixtures=3, shadow_threshold=0.7, background_ratio=0.8)
    m = stage.model
    assert m.getVarThreshold() == 33.0 and m.getHistory() == 77 and m.getNMixtures() == 3
    assert m.getShadowThreshold() == pytest.approx(0.7) and m.getBackgroundRatio() == pytest.approx(0.8)
    k = KNN(dist2_threshold=123.0, knn_samples=3, n_samples=9).model
    assert k.getDist2Threshold() == 123.0 and k.getkNNSamples() == 3 and k.getNSamples() == 9


def test_mog2_matches_a_bare_opencv_loop(moving_square):
    frames, _ = moving_square(n=30)
    stage = MOG2()
    bare = cv2.createBackgroundSubtractorMOG2()
    for i, f in enumerate(frames):
        s = stage.process(Sample(i, str(i), f))
        raw = bare.apply(f)
        assert np.array_equal(s["fg"], raw == 255)
        assert np.array_equal(s["shadow"], raw == 127)


def test_shadow_pixels_are_their_own_mask():
    # background, then the same scene darkened to 60% in one region: a shadow by MOG2's test
    bg = np.full((40, 40, 3), 160, np.uint8)
    stage = MOG2(history=50)
    for i in range(60):
        stage.process(Sample(i, str(i), bg))
    shaded = bg.copy()
    shaded[10:30, 10:30] = 100
    s = stage.process(Sample(60, "60", shaded))
    assert s["shadow"][15:25, 15:25].all()
    assert not s["fg"][15:25, 15:25].any()


def test_learning_rate_schedule():
    p = ScheduleParams(warmup_frames=10, warmup_rate=0.1, learning_rate=0.01, freeze_after=20)
    assert [learning_rate(p, t) for t in (0, 9, 10, 19, 20, 500)] == [0.1, 0.1, 0.01, 0.01, 0.0, 0.0]
    assert learning_rate(ScheduleParams(), 1000) == -1.0


def test_frozen_model_stops_learning(moving_square):
    # a square that stops moving is absorbed by a learning model, not by a frozen one
    frames, _ = moving_square(n=30, start=100)  # background only
    still = frames[0].copy()
    still[10:20, 10:20] = 240
    live, frozen = MOG2(history=20), MOG2(history=20, freeze_after=30)
    for st in (live, frozen):
        _feed(st, frames)
        for i in range(200):
            s = st.process(Sample(30 + i, "x", still))
    assert s["fg"][12:18, 12:18].all()  # frozen: still foreground
    live_last = live.process(Sample(999, "x", still))
    assert not live_last["fg"][12:18, 12:18].any()


def test_schedule_bad_values_are_reported():
    with pytest.raises(ConfigError, match=r"freeze_after \(5\) must be >= warmup_frames \(10\)"):
        validate({"pipeline": [{"stage": "bgsub.mog2", "warmup_frames": 10, "freeze_after": 5}]})
    with pytest.raises(ConfigError, match=r"stage 1 \(bgsub.knn\): dist2_threshold: .*greater than 0, got -1"):
        validate({"pipeline": [{"stage": "bgsub.knn", "dist2_threshold": -1}]})


def test_frame_difference_known_answer():
    a = np.zeros((3, 3), np.uint8)
    b = a.copy()
    b[1, 1] = 30
    b[0, 0] = 10
    assert frame_difference(b, a, 20).tolist() == [[False] * 3, [False, True, False], [False] * 3]
    with pytest.raises(ValueError, match="frame is"):
        frame_difference(a, np.zeros((2, 2), np.uint8), 1)


def test_framediff_gap_and_blur_validation():
    st = FrameDiff(threshold=5, gap=2)
    frames = [np.full((4, 4, 3), v, np.uint8) for v in (0, 0, 100, 100)]
    out = _feed(st, frames)
    assert not out[0]["fg"].any() and not out[1]["fg"].any()
    assert out[2]["fg"].all() and out[3]["fg"].all()  # t vs t-2
    with pytest.raises(ConfigError, match="blur: must be 0 or odd, got 4"):
        validate({"pipeline": [{"stage": "bgsub.framediff", "blur": 4}]})


def test_gray_input_models_luminance_and_caches_it(moving_square):
    frames, gts = moving_square(n=30)
    stage = MOG2(input="gray")
    bare = cv2.createBackgroundSubtractorMOG2()
    for i, f in enumerate(frames):
        s = stage.process(Sample(i, str(i), f))
        raw = bare.apply(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY))
        assert np.array_equal(s["fg"], raw == 255)
    assert s["gray"].shape == f.shape[:2]
    with pytest.raises(ConfigError, match="input: input should be 'bgr' or 'gray'"):
        validate({"pipeline": [{"stage": "bgsub.knn", "input": "hsv"}]})
