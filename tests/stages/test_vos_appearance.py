"""Appearance terms of ``vos.propagate``: texture classifier, two colour models, gated learning."""
import cv2
import numpy as np
import pytest

from classicseg.errors import ClassicsegError
from classicseg.pipeline import Pipeline
from classicseg.stages.vos.appearance import ColorModel, TwoColourModels
from classicseg.stages.vos.cues import confident_labels
from classicseg.stages.vos.shape import ShapeTemplate, object_affine
from classicseg.stages.vos.texture import N_FEATURES, PixelClassifier, pixel_features, uniform_lbp
from classicseg.types import Sample


def _textured_vs_smooth(seed=0, h=64, w=64):
    """A fine random mixture of two greys (the object, a square) on large flat blocks of the same two
    greys: the same colours inside and outside, only the texture differs."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 128, np.uint8)
    img[:, :, 0] = 88
    img[:, w // 2:, 0] = 168
    fg = np.zeros((h, w), bool)
    fg[16:48, 16:48] = True
    img[16:48, 16:48, 0] = rng.choice(np.array([88, 168], np.uint8), size=(32, 32))
    return img, fg


def test_pixel_features_known_answer_and_box():
    flat = np.full((48, 64, 3), 51, np.uint8)
    f = pixel_features(flat)
    assert f.shape == (48, 64, N_FEATURES) and f.dtype == np.float32
    assert np.allclose(f[:, :, 0:6], 0.2, atol=1e-5)  # colour and its local mean
    assert np.allclose(f[:, :, 6:8], 0, atol=1e-3)  # no texture, no gradient
    # the LBP histograms sum to 1; away from the border (other codes there) a flat image has one code
    assert np.allclose(f[:, :, 8:].sum(axis=2), 1, atol=1e-4)
    assert np.allclose(f[12:-12, 12:-12, 8:].max(axis=2), 1, atol=1e-3)
    assert pixel_features(flat, box=(2, 7, 3, 13)).shape == (5, 10, N_FEATURES)


def test_uniform_lbp_is_scikit_images_with_or_without_numba(monkeypatch):
    from skimage.feature import local_binary_pattern

    g = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    want = local_binary_pattern(g, 8, 1, "uniform").astype(np.uint8)
    assert uniform_lbp(g).dtype == np.uint8 and np.array_equal(uniform_lbp(g), want)
    monkeypatch.setenv("CLASSICSEG_NO_NUMBA", "1")
    assert np.array_equal(uniform_lbp(g), want)
    assert uniform_lbp(np.full((5, 5), 7, np.uint8))[2, 2] == 8  # flat: every neighbour reaches the centre


def test_pixel_features_rejects_bad_image():
    with pytest.raises(ValueError, match="uint8 \\(H, W, 3\\)"):
        pixel_features(np.zeros((4, 4), np.uint8))


def test_classifier_separates_texture_that_colour_histograms_cannot():
    img, fg = _textured_vs_smooth()
    cm = ColorModel(8)
    cm.update(img, fg, ~fg)
    assert np.abs(cm.posterior(img)[fg] - 0.5).max() < 0.25  # colour alone: no better than a guess
    clf = PixelClassifier(samples=500, memory=0)
    clf.add(pixel_features(img), fg, ~fg, anchor=True)
    test_img, test_fg = _textured_vs_smooth(seed=1)
    z = clf.logit(pixel_features(test_img))
    inner = np.zeros_like(test_fg)
    inner[20:44, 20:44] = True
    outer = np.ones_like(test_fg)
    outer[10:54, 10:54] = False
    outer[:, 26:38] = False  # the step between the two flat blocks is texture-like too
    assert (z[inner] > 0).mean() > 0.95 and (z[outer] < 0).mean() > 0.95


def test_classifier_recent_memory_and_errors():
    img, fg = _textured_vs_smooth()
    feats = pixel_features(img)
    clf = PixelClassifier(samples=200, memory=2)
    assert not clf.ready
    with pytest.raises(ValueError, match="not been trained"):
        clf.logit(feats)
    with pytest.raises(ClassicsegError, match="both object and background"):
        clf.add(feats, fg, np.zeros_like(fg), anchor=True)
    clf.add(feats, fg, ~fg, anchor=True)
    for _ in range(3):
        clf.add(feats, fg, ~fg)
    assert len(clf.recent) == 2
    clf.add(feats, np.zeros_like(fg), ~fg)  # an empty class: skipped
    assert len(clf.recent) == 2
    with pytest.raises(ValueError, match="samples must be >= 1"):
        PixelClassifier(samples=0)


def _model(obj_colour, bg_colour):
    img = np.zeros((4, 8, 3), np.uint8)
    img[:, :4] = obj_colour
    img[:, 4:] = bg_colour
    m = np.zeros((4, 8), bool)
    m[:, :4] = True
    cm = ColorModel(8)
    cm.update(img, m, ~m)
    return cm


def test_two_colour_models_max_lets_either_vouch():
    red, shaded_red, grey, dark = (40, 40, 220), (20, 20, 110), (128, 128, 128), (30, 30, 30)
    first = _model(red, grey)  # the object in the sun
    recent = _model(shaded_red, dark)  # the object in shade
    px = np.array([[red, shaded_red, grey, dark]], np.uint8)
    both = TwoColourModels(first, recent, combine="max").posterior(px)[0]
    assert both[0] > 0.9 and both[1] > 0.9  # each model vouches for its own object colour
    mix = TwoColourModels(first, recent, weight=0.5, combine="mix").posterior(px)[0]
    assert 0.5 < mix[0] < both[0]  # red: object to one model, unseen (0.5) to the other: halved log-odds
    assert mix[2] < 0.1 and mix[3] < 0.1
    only_first = TwoColourModels(first, ColorModel(8)).posterior(px)[0]  # recent not ready yet
    assert np.allclose(only_first, first.posterior(px)[0])
    with pytest.raises(ValueError, match="combine must be"):
        TwoColourModels(first, recent, combine="min")


def test_confident_labels_known_answer():
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    prior = mask.astype(np.float32)
    prior[10:30, 10:15] = 0.6  # a strip the motion prior was unsure of
    coh = np.zeros((40, 40), np.float32)
    coh[10:30, 25:30] = -2.0  # a strip that moves with the surroundings
    coh[20, 4] = 2.0  # a ring pixel that moves with the object: not learned as background
    fg, bg = confident_labels(mask, prior, coh, confident=2, band=6, gate=0.9, coherence_gate=1.0)
    assert not (fg & bg).any()
    assert fg[20, 20] and not fg[20, 13]  # unsure prior: not learned
    assert bg[20, 27] and not fg[20, 27]  # inside the mask but moving with the background: background
    assert bg[20, 5] and not bg[20, 2]  # the ring from 2 to 6 px outside
    assert not bg[20, 4] and not fg[20, 4]
    assert not bg[20, 13] and not fg[20, 11]  # unsure, and too close to the boundary
    fg0, bg0 = confident_labels(mask, prior, None, confident=2, band=6)
    assert fg0[20, 27] and not bg0[20, 27]  # without coherence: the mask's label
    with pytest.raises(ValueError, match="gate must be in"):
        confident_labels(mask, prior, gate=0.3)
    colour = np.zeros((40, 40), np.float32)
    colour[:, :10] = 0.9  # the first-frame model sees object colours left of the mask: a lost part?
    _, bgc = confident_labels(mask, prior, None, confident=2, band=6, colour=colour, colour_gate=0.5)
    assert not bgc[20, 5] and bgc[20, 35]
    with pytest.raises(ValueError, match="prior, coherence and colour must be"):
        confident_labels(mask, prior[:5])


def _shade_clip(n=14, h=72, w=120, r=10, step=2, seed=0):
    """A red disk moving right over a textured background; it darkens until it has the colour of a dark
    wall that the first frame shows as background (an object driving into shade)."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(60, 140, (h // 4, w // 4, 3), dtype=np.uint8)
    bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_CUBIC)
    bg[:, :, 2] //= 2
    bg[:, 90:] = (20, 20, 90)
    frames, masks = [], []
    for t in range(n):
        img = bg.copy()
        m = np.zeros((h, w), np.uint8)
        cv2.circle(m, (24 + step * t, h // 2), r, 1, -1)
        a = min(t / (n - 4), 1.0)
        img[m > 0] = (np.array((40, 40, 220)) * (1 - a) + np.array((20, 20, 90)) * a).astype(np.uint8)
        frames.append(img)
        masks.append(m > 0)
    return frames, masks


def _run(frames, init, sets):
    pipe = Pipeline.load(preset="vos", sets=sets)
    stage = next(s for s in pipe.stages if s.name == "vos.propagate")
    stage.set_init_mask(init)
    out = []
    for i, f in enumerate(frames):
        out += pipe.push(Sample(index=i, name=f"{i:05d}", image=f))
    return out + pipe.flush()


def test_recent_appearance_follows_an_object_into_shade():
    frames, masks = _shade_clip()
    base = ["vos.propagate.recent_weight=0", "vos.propagate.w_texture=0"]
    # the classifier's log-odds clipped at 4 and no template background evidence, as when this
    # was written: the shipped texture_limit 1 (chosen on DAVIS) leaves the fully recoloured disk
    # of this clip to the recent colour model alone, which is not enough here
    recent = ["vos.propagate.recent_weight=0.5", "vos.propagate.coherence_gate=1", "vos.propagate.w_texture=1",
              "vos.propagate.texture_memory=3", "vos.propagate.texture_limit=4", "vos.propagate.shape_outside=0"]
    iou = [(o["fg"] & m).sum() / max((o["fg"] | m).sum(), 1) for o, m in zip(_run(frames, masks[0], recent), masks)]
    assert min(iou) > 0.9
    first_only = _run(frames, masks[0], base)
    assert not first_only[-1]["fg"].any()  # the first-frame colours alone call the shaded disk background


def test_object_affine_known_answer():
    h, w = 60, 80
    a = np.array([[1.02, 0.01, -3.0], [-0.02, 0.98, 2.0]])  # x_{t-1} = a . [x_t, 1]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.dstack([a[0, 0] * xx + a[0, 1] * yy + a[0, 2] - xx, a[1, 0] * xx + a[1, 1] * yy + a[1, 2] - yy])
    inside = np.zeros((h, w), bool)
    inside[10:50, 20:60] = True
    flow[10:14, 20:24] = 30.0  # outliers
    fit, share = object_affine(flow.astype(np.float32), inside)
    assert np.allclose(fit, a, atol=1e-3)
    assert share == pytest.approx(1 - 16 / 1600, abs=1e-6)
    assert object_affine(flow, np.zeros((h, w), bool)) == (None, 0.0)


def test_shape_template_follows_a_rigid_object_and_abstains_on_a_non_rigid_one():
    h, w = 60, 90
    mask = np.zeros((h, w), bool)
    mask[20:40, 10:40] = True
    rigid = ShapeTemplate(mask, floor=0.3, depth=3)
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0] = -2.0  # the object moves 2 px right per frame
    warped = mask
    for t in range(1, 6):
        warped = np.roll(mask, 2 * t, axis=1)
        rigid.step(flow, warped)
    assert rigid.rigidity == pytest.approx(1.0)
    assert np.array_equal(rigid.outline(), np.roll(mask, 10, axis=1))
    ev = rigid.evidence()
    assert ev[30, 35] == pytest.approx(1.0) and ev[30, 15] == 0 and ev[30, 52] == 0 and ev.max() == 1.0
    floppy = ShapeTemplate(mask, floor=0.3)
    rng = np.random.default_rng(0)
    for _ in range(5):
        floppy.step(rng.normal(0, 5, (h, w, 2)).astype(np.float32), mask)
    assert floppy.rigidity < 0.3 and not floppy.evidence().any()
    # with outside > 0 the rigid template also says "background" beyond depth px outside it
    rigid.outside = 0.5
    ev = rigid.evidence()
    assert ev[30, 35] == pytest.approx(1.0) and ev[30, 52] == 0  # 2 px outside: within depth, abstains
    assert ev[30, 60] == pytest.approx(-0.5) and ev[5, 5] == pytest.approx(-0.5)


def _half_shade_clip(n=16, h=120, w=220, step=2, seed=0):
    """A textured rigid box moving right; from frame 3 its front half has exactly the colour of a dark
    background block that the first frame shows (a car whose front drives into shade)."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(100, 200, (h // 4, w // 4, 3), dtype=np.uint8)
    bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_CUBIC)
    bg[:15, :] = (30, 30, 30)
    tex = rng.integers(0, 60, (60 // 4, 80 // 4, 3), dtype=np.uint8)
    tex = cv2.resize(tex, (80, 60), interpolation=cv2.INTER_CUBIC)
    frames, masks = [], []
    for t in range(n):
        img = bg.copy()
        x = 20 + step * t
        obj = tex.copy() + np.array((0, 0, 150), np.uint8)
        if t >= 3:
            obj[:, 40:] = 30
        img[30:90, x:x + 80] = obj
        m = np.zeros((h, w), bool)
        m[30:90, x:x + 80] = True
        frames.append(img)
        masks.append(m)
    return frames, masks


def test_shape_template_keeps_a_rigid_part_that_turns_the_colour_of_the_background():
    frames, masks = _half_shade_clip()
    iou = {}
    for w_shape in (0, 8):
        out = _run(frames, masks[0], [f"vos.propagate.w_shape={w_shape}", "vos.propagate.shape_floor=0.3"])
        iou[w_shape] = np.mean([(o["fg"] & m).sum() / max((o["fg"] | m).sum(), 1) for o, m in zip(out, masks)][-4:])
    assert iou[8] > 0.85 and iou[8] > iou[0] + 0.1, iou


def test_fuse_in_box_colour_limit_bounds_the_colour_evidence():
    from classicseg.stages.vos.appearance import fuse_in_box

    img = np.zeros((8, 8, 3), np.uint8)
    img[:, 4:] = (0, 0, 255)
    fg = np.zeros((8, 8), bool)
    fg[:, 4:] = True
    cm = ColorModel(8, prior=1e-6)  # (almost) no prior count: posteriors of 0 and 1
    cm.update(img, fg, ~fg)
    prob = np.full((8, 8), 0.8, np.float32)  # the motion prior says object everywhere
    box = (0, 8, 0, 8)
    free = fuse_in_box(prob, img, cm, 1.0, 1.0, 0.0, 0, box=box)
    assert free[:, :4].max() < 0.01  # an unbounded colour overrules the prior
    capped = fuse_in_box(prob, img, cm, 1.0, 1.0, 0.0, 0, box=box, limit=1.0)
    # log-odds: logit(0.8) - 1 = 0.386 -> 0.595: the prior keeps its say
    assert capped[:, :4] == pytest.approx(1 / (1 + np.exp(-(np.log(4) - 1))), abs=1e-4)
