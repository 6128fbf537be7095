"""bgsub.median (approximate median) and bgsub.eigen (eigenbackground): known answers, bad input."""
import numpy as np
import pytest

from classicseg.config import validate
from classicseg.errors import ClassicsegError, ConfigError
from classicseg.stages.bgsub.classic import (ApproximateMedian, Eigenbackground, approximate_median,
                                             eigen_residual, fit_eigenbackground)
from classicseg.types import Sample


def test_approximate_median_moves_one_step_and_thresholds():
    bg = np.array([[100, 100, 100]], np.int16)
    fg = approximate_median(np.array([[100, 140, 60]], np.uint8), bg, threshold=30, step=2)
    assert fg.tolist() == [[False, True, True]]
    assert bg.tolist() == [[100, 102, 98]]


def test_approximate_median_settles_on_the_median_not_the_mean():
    """A pixel that is 50 most of the time and 250 a third of the time: the median (50), not the
    mean (117): passing objects do not pull the background."""
    bg = np.zeros((1, 1), np.int16)
    for t in range(600):
        approximate_median(np.full((1, 1), 250 if t % 3 == 0 else 50, np.uint8), bg, threshold=10)
    assert abs(int(bg[0, 0]) - 50) <= 1


def test_colour_pixel_is_foreground_when_any_channel_differs():
    bg = np.full((1, 2, 3), 100, np.int16)
    f = np.array([[[100, 100, 160], [110, 110, 110]]], np.uint8)
    assert approximate_median(f, bg, threshold=30).tolist() == [[True, False]]


def test_eigenbackground_explains_lighting_but_not_objects():
    """Frames that differ only by a global brightness change lie in a 1-D eigenspace: a brighter
    frame is explained (no residual), a square that was never there is not."""
    rng = np.random.default_rng(0)
    base = rng.uniform(50, 150, 400).astype(np.float32)
    frames = np.stack([base * (0.8 + 0.02 * k) for k in range(20)])
    mean, axes = fit_eigenbackground(frames, 3)
    assert axes.shape == (1, 400)  # one direction of variation: the others carry no axis
    np.testing.assert_allclose(axes @ axes.T, np.eye(1), atol=1e-3)
    mixed = np.stack([base * (0.8 + 0.02 * k) + rng.normal(0, 5, 400) for k in range(20)])
    axes3 = fit_eigenbackground(mixed, 3)[1]
    np.testing.assert_allclose(axes3 @ axes3.T, np.eye(3), atol=1e-3)
    assert eigen_residual(base * 1.15, mean, axes).max() < 1.0
    obj = base * 1.0
    obj[:40] = 250
    assert eigen_residual(obj, mean, axes)[:40].mean() > 30


def test_eigen_stage_learns_then_detects_and_reports_size_changes():
    rng = np.random.default_rng(1)
    st = Eigenbackground(n_frames=5, n_components=2, threshold=20)
    bg = rng.integers(60, 120, (12, 16, 3), dtype=np.uint8)
    outs = [st.process(Sample(i, str(i), bg.copy()))["fg"] for i in range(5)]
    assert not any(o.any() for o in outs)  # learning: no foreground yet
    f = bg.copy()
    f[2:6, 3:9] = 250
    fg = st.process(Sample(5, "5", f))["fg"]
    assert fg[2:6, 3:9].all() and fg.sum() == 24
    assert st.background().shape == (12, 16)
    with pytest.raises(ClassicsegError, match="frame 6 is 8x8, the earlier ones 16x12"):
        st.process(Sample(6, "6", np.zeros((8, 8, 3), np.uint8)))


def test_median_stage_background_and_reset():
    st = ApproximateMedian(threshold=10, input="gray")
    frames = [np.full((4, 4, 3), 80, np.uint8)] * 3
    for i, f in enumerate(frames):
        st.process(Sample(i, str(i), f))
    assert st.background().shape == (4, 4)
    st.reset()
    assert st.background() is None


@pytest.mark.parametrize("stage, params, message", [
    ("bgsub.eigen", {"n_frames": 10, "n_components": 10}, "n_components .10. must be below n_frames .10."),
    ("bgsub.median", {"step": 0}, "step"),
    ("bgsub.median", {"threshold": 300}, "threshold"),
])
def test_bad_parameters_are_config_errors(stage, params, message):
    with pytest.raises(ConfigError, match=message):
        validate({"pipeline": [{"stage": stage, **params}]})


def test_fit_needs_two_frames():
    with pytest.raises(ClassicsegError, match="needs a .N >= 2, P. stack"):
        fit_eigenbackground(np.zeros((1, 10)), 1)
