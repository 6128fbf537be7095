"""bgsub.sense: smoke, known answers on tiny synthetic clips, numba/numpy parity, bad parameters."""
import numpy as np
import pytest

from classicseg import catalog as registry
from classicseg.config import validate
from classicseg.errors import ConfigError
from classicseg.stages.bgsub.sense import (
    Sense, SenseModel, lbsp_numba, lbsp_numpy, sense_init_numba, sense_init_numpy,
)
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
    # colour threshold 20: the clip's darker squares lose 36 grey levels in the shadow, within
    # the default threshold (30), which would call part of the shadow background before the
    # shadow test sees it
    frames = _shadow_clip()
    s = Sense(color_threshold=20)
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
    off = Sense(color_threshold=20, detect_shadows=False)
    last_off = [off.process(Sample(i, f"{i:05d}", f)) for i, f in enumerate(frames)][-1]
    assert last_off["fg"][shadow_area].mean() > 0.95 and not last_off["shadow"].any()


def _removed_object_clip(n=24, leave=10, seed=0):
    """Smooth noisy ramp; a dark 20x20 square is there from the first frame and leaves at ``leave``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:48]
    bg = (60 + 2 * xx + yy)[..., None] * np.ones(3)
    frames = []
    for t in range(n):
        f = bg + rng.normal(0, 3, bg.shape)
        if t < leave:
            f[14:34, 14:34] = 20
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return frames


def test_ghost_of_a_removed_object_is_relearned_at_once():
    sq = np.zeros((48, 48), bool)
    sq[14:34, 14:34] = True
    frames = _removed_object_clip()
    on = Sense()
    out_on = _run(on, frames)
    out_off = _run(Sense(ghost_edge_ratio=0), frames)
    # the square was part of the first frame: background until it leaves at frame 10, where
    # it turns into a ghost (what is missing is "foreground") ...
    assert not any(o.any() for o in out_on[:10]) and out_on[10][sq].mean() > 0.7
    # ... that moved at frame 10 (no ghost yet); still at frame 11, it is re-learned
    assert not out_on[11].any() and not any(o.any() for o in out_on[11:])
    assert on.model.n_ghosts == 1
    # without the edge test it is eaten away from its border, slowly
    assert out_off[11][sq].mean() > 0.7 and out_off[-1][sq].mean() > 0.5


def test_a_stopped_object_is_not_a_ghost():
    # the bright square arrives at frame 5 and stays: its outline's edges are in the frame
    sq = np.zeros((32, 32), bool)
    sq[10:18, 12:20] = True
    s = Sense()
    out = _run(s, _clip(n=60, start=5))
    assert all(o[12:16, 14:18].all() for o in out[8:])
    assert s.model.n_ghosts == 0


def test_masked_init_parity_and_untouched_pixels():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (9, 11, 3), np.uint8)
    desc = rng.integers(0, 65536, (9, 11)).astype(np.uint16)
    mask = (rng.random((9, 11)) < 0.4).astype(np.uint8)
    outs = []
    for init in (sense_init_numba, sense_init_numpy):
        sc = np.zeros((9, 11, 6, 3), np.uint8)
        sd = np.zeros((9, 11, 6), np.uint16)
        r = np.array([12345], np.uint32)
        init(img, desc, sc, sd, r, mask)
        outs.append((sc, sd, r[0]))
    (ca, da, ra), (cb, db, rb) = outs
    assert np.array_equal(ca, cb) and np.array_equal(da, db) and ra == rb
    m = mask.astype(bool)
    assert not ca[~m].any() and not da[~m].any()            # outside the mask: untouched
    assert np.array_equal(ca[m][:, 0], img[m]) and np.array_equal(da[m][:, 0], desc[m])  # sample 0 = itself


@pytest.mark.parametrize("key,value,needle", [
    ("ghost_edge_ratio", 1.5, "ghost_edge_ratio"),
    ("ghost_motion", 0, "ghost_motion"),
    ("ghost_bg_rate", 0, "ghost_bg_rate"),
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
