"""bgsub.sense: smoke, known answers on tiny synthetic clips, numba/numpy parity, bad parameters."""
import numpy as np
import pytest

from classicseg import catalog as registry
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


@pytest.mark.parametrize("clip", ["square", "shadow"])
def test_numba_matches_numpy_twin_on_16x16(clip):
    if clip == "square":
        frames = [f[:16, :16] for f in _clip(n=6, start=2, seed=1)]
        for f in frames[2:]:
            f[4:9, 3:9] = 220
    else:  # a textured floor, a tinted cast shadow and a dark object: the shadow test runs
        frames = [np.ascontiguousarray(f[6:22, 10:34]) for f in _shadow_clip(n=6, start=2, seed=1)]
    a, b = (SenseModel(backend=k, seed=5, shadow_matches=2) for k in ("numba", "numpy"))
    seen_shadow = False
    for f in frames:
        ma, mb = a.apply(f), b.apply(f)
        assert np.array_equal(ma, mb)
        assert np.array_equal(a.raw, b.raw) and np.array_equal(a.shadow_raw, b.shadow_raw)
        assert np.array_equal(a.shadow, b.shadow)
        assert np.array_equal(a.samples_c, b.samples_c) and np.array_equal(a.samples_d, b.samples_d)
        assert np.array_equal(a.state, b.state) and a.rng[0] == b.rng[0]
        seen_shadow |= bool(a.shadow_raw.any())
    assert seen_shadow == (clip == "shadow")


def _shadow_clip(n=24, start=12, seed=0):
    """Textured static background; from ``start`` a blue-tinted cast shadow (x 0.6, B x 0.7,
    R x 0.5) on the left and a dark grey object (40 grey levels) on the right."""
    rng = np.random.default_rng(seed)
    h, w = 32, 48
    yy, xx = np.mgrid[0:h, 0:w]
    checker = 50.0 * ((xx // 6 + yy // 6) % 2)  # texture (LBSP sees it through the shadow)
    bg = np.stack([120 + checker, 110 + checker, 100 + checker], -1)
    frames = []
    for t in range(n):
        f = bg.copy()
        if t >= start:
            f[8:24, 4:20] *= np.array([0.7, 0.6, 0.5])
            f[8:24, 28:44] = 40
        frames.append(np.clip(f + rng.normal(0, 2, f.shape), 0, 255).astype(np.uint8))
    return frames


def test_cast_shadow_goes_to_the_shadow_slot_and_a_dark_object_stays_foreground():
    frames = _shadow_clip()
    s = Sense()
    out = [s.process(Sample(i, f"{i:05d}", f)) for i, f in enumerate(frames)]
    last = out[-1]
    shadow_area = np.zeros((32, 48), bool)
    shadow_area[10:22, 6:18] = True
    dark = np.zeros((32, 48), bool)
    dark[10:22, 30:42] = True
    assert last["fg"][dark].mean() > 0.95           # a dark grey object is not a shadow
    assert last["fg"][shadow_area].mean() < 0.05    # the tinted cast shadow is not foreground ...
    assert last["shadow"][shadow_area].mean() > 0.9  # ... it is shadow
    assert not (last["shadow"] & last["fg"]).any()
    off = Sense(detect_shadows=False)
    last_off = [off.process(Sample(i, f"{i:05d}", f)) for i, f in enumerate(frames)][-1]
    assert last_off["fg"][shadow_area].mean() > 0.95 and not last_off["shadow"].any()


@pytest.mark.parametrize("key,value,needle", [
    ("n_samples", 1, "n_samples"),
    ("median_ksize", 4, "median_ksize"),
    ("color_threshold", 0, "color_threshold"),
    ("t_upper", 1.5, "t_upper"),
    ("min_matches", 9, "min_matches"),
    ("n_samplez", 3, "n_samplez"),
    ("shadow_threshold", 1.0, "shadow_threshold"),
    ("shadow_max_ratio", 0.3, "shadow_max_ratio"),
    ("shadow_matches", 17, "shadow_matches"),
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
