"""bgsub.sense: smoke, known answers on tiny synthetic clips, numba/numpy parity, bad parameters."""
import numpy as np
import pytest

from classicseg import registry
from classicseg.config import validate
from classicseg.errors import ConfigError
from classicseg.stages.bgsub.sense import Sense, SenseModel, lbsp_numba, lbsp_numpy
from classicseg.types import Sample


def _clip(n=30, h=32, w=32, start=15, seed=0, flicker=None):
    """Static noisy background; a bright 8x8 square appears at ``start`` and stays."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    bg = (80 + 2 * xx + yy)[..., None] * np.ones(3)  # a smooth ramp: texture without pixel noise
    frames = []
    for t in range(n):
        f = np.clip(bg + rng.normal(0, 3, bg.shape), 0, 255).astype(np.uint8)
        if t >= start:
            f[10:18, 12:20] = 230
        if flicker is not None and t == flicker:
            f[2:4, 2:4] = 255 - f[2:4, 2:4]  # a 2x2 one-frame flicker
        frames.append(f)
    return frames


def _run(stage, frames):
    return [stage.process(Sample(i, f"{i:05d}", f))["fg"] for i, f in enumerate(frames)]


def test_registered_and_smoke(moving_square):
    assert registry.get("bgsub.sense") is Sense
    frames, gts = moving_square(n=40, start=20)
    out = _run(Sense(), frames)
    assert all(m.dtype == bool and m.shape == gts[0].shape for m in out)
    hit = (out[-1] & gts[-1]).sum() / gts[-1].sum()
    false = (out[-1] & ~gts[-1]).sum() / (~gts[-1]).sum()
    assert hit > 0.7 and false < 0.02, (hit, false)


def test_square_detected_and_one_frame_flicker_is_not():
    frames = _clip(n=24, start=15, flicker=8)
    out = _run(Sense(), frames)
    assert not out[0].any()                       # initialised from the first frame
    assert out[10].sum() <= 2                     # quiet background, nothing detected
    assert not out[8][1:5, 1:5].any()             # 2x2 flicker removed by the 9x9 median
    sq = np.zeros((32, 32), bool)
    sq[10:18, 12:20] = True
    # the square from the frame it appears (the 9x9 median rounds its corners)
    assert out[15][sq].mean() > 0.75 and out[15][12:16, 14:18].all()
    assert (out[15] & ~sq).sum() <= 8


def test_deterministic_and_reset():
    frames = _clip(n=12, start=6)
    s = Sense(seed=3)
    a = _run(s, frames)
    s.reset()
    b = _run(s, frames)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_lbsp_known_answer_and_parity():
    g = np.full((7, 7), 100, np.uint8)
    g[3, 4] = 200  # right neighbour (bit 4) and, from (3, 2), the distance-2 point (bit 12)
    d = lbsp_numba(g, np.float32(0.1), np.float32(3))
    assert d[3, 3] == (1 << 4)
    assert d[3, 2] == (1 << 12)
    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, (13, 17), np.uint8)
    for rel, abs_ in ((0.111, 3.0), (0.3, 0.0)):
        assert np.array_equal(lbsp_numba(g, np.float32(rel), np.float32(abs_)),
                              lbsp_numpy(g, np.float32(rel), np.float32(abs_)))


def test_numba_matches_numpy_twin_on_16x16():
    frames = [f[:16, :16] for f in _clip(n=6, start=2, seed=1)]
    for f in frames[2:]:
        f[4:9, 3:9] = 220
    a, b = SenseModel(backend="numba", seed=5), SenseModel(backend="numpy", seed=5)
    for f in frames:
        ma, mb = a.apply(f), b.apply(f)
        assert np.array_equal(ma, mb)
        assert np.array_equal(a.raw, b.raw)
        assert np.array_equal(a.samples_c, b.samples_c) and np.array_equal(a.samples_d, b.samples_d)
        assert np.array_equal(a.state, b.state) and a.rng[0] == b.rng[0]


@pytest.mark.parametrize("key,value,needle", [
    ("n_samples", 1, "n_samples"),
    ("median_ksize", 4, "median_ksize"),
    ("color_threshold", 0, "color_threshold"),
    ("t_upper", 1.5, "t_upper"),
    ("min_matches", 9, "min_matches"),
    ("n_samplez", 3, "n_samplez"),
])
def test_bad_params_name_the_key(key, value, needle):
    with pytest.raises(ConfigError) as ei:
        validate({"pipeline": [{"stage": "bgsub.sense", key: value}]})
    assert needle in str(ei.value)


def test_sense_without_numba_is_a_clear_error(monkeypatch):
    import classicseg.stages.bgsub.sense as sense_mod
    from classicseg.errors import ClassicsegError

    monkeypatch.setattr(sense_mod, "HAVE_NUMBA", False)
    with pytest.raises(ClassicsegError, match="bgsub.sense needs numba"):
        sense_mod.Sense()
