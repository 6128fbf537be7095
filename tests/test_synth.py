"""Tests of the built-in synthetic scene (classicseg.synth)."""

import builtins
import os
import socket
import time

import numpy as np
import pytest

from classicseg import synth
from classicseg.synth import (
    BUNDLED_IMAGES,
    GT_MOVING,
    GT_SHADOW,
    GT_STATIC,
    GT_UNKNOWN,
    SceneConfig,
    make_scene,
)

SMALL = dict(n_frames=60, warmup=15)


def _render(scene):
    frames, gts = zip(*scene.frames())
    return np.stack(frames), np.stack(gts)


@pytest.fixture(scope="module")
def default_render():
    scene = make_scene()
    t = time.perf_counter()
    rendered = _render(scene)
    scene.render_seconds = time.perf_counter() - t
    return scene, rendered


def test_default_scene_shapes_and_dtypes(default_render):
    scene, (frames, gts) = default_render
    cfg = scene.config
    assert len(scene) == cfg.n_frames == 300
    assert frames.shape == (300, cfg.height, cfg.width, 3) == (300, 240, 320, 3)
    assert gts.shape == (300, 240, 320)
    assert frames.dtype == np.uint8 and gts.dtype == np.uint8
    bg = scene.background()
    assert bg.shape == (240, 320, 3) and bg.dtype == np.uint8


def test_custom_size():
    scene = make_scene(width=96, height=64, n_frames=30, warmup=5)
    frame, gt = next(iter(scene.frames()))
    assert frame.shape == (64, 96, 3) and gt.shape == (64, 96)
    assert sum(1 for _ in scene.frames()) == 30


def test_label_set_and_content(default_render):
    scene, (frames, gts) = default_render
    labels = set(np.unique(gts).tolist())
    assert labels <= {GT_STATIC, GT_SHADOW, GT_UNKNOWN, GT_MOVING}
    assert {GT_STATIC, GT_SHADOW, GT_MOVING} <= labels
    lo, hi = scene.temporal_roi
    scored = gts[lo - 1 : hi]
    # Objects are a real but minority part of the scored frames.
    fg = (scored == GT_MOVING).mean()
    assert 0.005 < fg < 0.3
    # Several separate objects over the clip, entering and leaving.
    per_frame = (gts == GT_MOVING).sum(axis=(1, 2))
    assert per_frame[-1] < per_frame.max()


def test_gt_matches_pixels(default_render):
    """Pixels labelled background differ from the clean background only by gain and noise."""
    scene, (frames, gts) = default_render
    bg = scene.background().astype(np.float32)
    for i in (0, 100, 200):
        expect = bg * scene.gain(i)
        diff = np.abs(frames[i].astype(np.float32) - expect).max(axis=2)
        static = gts[i] == GT_STATIC
        assert np.median(diff[static]) < 4 * scene.config.noise_sigma
        if (gts[i] == GT_SHADOW).any():
            ratio = frames[i].astype(np.float32).mean(axis=2) / np.maximum(expect.mean(axis=2), 1)
            assert np.median(ratio[gts[i] == GT_SHADOW]) < 0.85


def test_deterministic_for_seed():
    a_frames, a_gts = _render(make_scene(seed=7, **SMALL))
    b_frames, b_gts = _render(make_scene(seed=7, **SMALL))
    assert np.array_equal(a_frames, b_frames) and np.array_equal(a_gts, b_gts)
    # Iterating the same scene twice gives the same frames.
    scene = make_scene(seed=7, **SMALL)
    c_frames, _ = _render(scene)
    d_frames, _ = _render(scene)
    assert np.array_equal(c_frames, d_frames) and np.array_equal(a_frames, c_frames)
    e_frames, e_gts = _render(make_scene(seed=8, **SMALL))
    assert not np.array_equal(a_frames, e_frames)
    assert not np.array_equal(a_gts, e_gts)


def test_config_object_and_overrides():
    cfg = SceneConfig(seed=3, **SMALL)
    scene = make_scene(cfg, n_objects=2)
    assert scene.config.n_objects == 2 and scene.config.seed == 3
    assert cfg.n_objects == SceneConfig().n_objects  # not mutated
    with pytest.raises(ValueError, match="colour"):
        make_scene(colour=3)


def test_shadows_toggle():
    _, gts_on = _render(make_scene(shadows=True, seed=1, **SMALL))
    _, gts_off = _render(make_scene(shadows=False, seed=1, **SMALL))
    assert (gts_on == GT_SHADOW).sum() > 500
    assert not (gts_off == GT_SHADOW).any()
    assert (gts_off == GT_MOVING).any()
    # Shadows never override objects: where one frame has an object, both agree.
    assert np.array_equal(gts_on == GT_MOVING, gts_off == GT_MOVING)


def test_warmup_is_empty_and_roi_after_it():
    scene = make_scene(warmup=25, n_frames=80, seed=2)
    frames, gts = _render(scene)
    assert scene.temporal_roi == (26, 80)
    assert not gts[:25].any()
    lo, hi = scene.temporal_roi
    assert 1 <= lo <= hi == len(scene)
    assert (gts[lo - 1 : hi] == GT_MOVING).any()


def test_no_objects_gives_empty_gt():
    _, gts = _render(make_scene(n_objects=0, n_frames=40, warmup=10))
    assert not gts.any()


def test_drift_changes_brightness():
    quarter = 50  # the gain peaks a quarter period after frame 0
    scene = make_scene(n_objects=0, noise_sigma=0, drift=0.12, drift_period=4 * quarter, n_frames=4 * quarter, warmup=1)
    frames, _ = _render(scene)
    means = frames.reshape(len(frames), -1).mean(axis=1)
    assert means[quarter] > 1.08 * means[0]
    assert means[3 * quarter] < 0.92 * means[0]
    assert np.abs(np.diff(means)).max() < 0.01 * means[0]  # slow and smooth
    flat, _ = _render(make_scene(n_objects=0, noise_sigma=0, drift=0, n_frames=60, warmup=1))
    flat_means = flat.reshape(len(flat), -1).mean(axis=1)
    assert np.ptp(flat_means) < 0.01


def test_noise_is_present_and_sized():
    scene = make_scene(n_objects=0, drift=0, noise_sigma=3, n_frames=10, warmup=1)
    frames, _ = _render(scene)
    d = frames[1].astype(np.float32) - frames[2].astype(np.float32)
    bg = scene.background()
    mid = (bg > 20) & (bg < 235)  # away from clipping
    assert 3 * np.sqrt(2) * 0.8 < d[mid].std() < 3 * np.sqrt(2) * 1.2


def test_fast(default_render):
    scene, (frames, _) = default_render
    assert len(frames) == 300
    assert scene.render_seconds < 3.0  # typically ~0.5 s; generous for loaded CI machines


def test_images_are_bundled_and_load_offline(monkeypatch):
    """The scene must build with no network and without pooch."""

    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    real_import = builtins.__import__

    def no_pooch(name, *args, **kwargs):
        if name == "pooch" or name.startswith("pooch."):
            raise ModuleNotFoundError("pooch disabled in this test")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pooch)

    import skimage

    pkg_data = os.path.realpath(os.path.join(os.path.dirname(skimage.__file__), "data"))
    for key, fname in BUNDLED_IMAGES.items():
        path = os.path.realpath(synth.bundled_image_path(key))
        # Inside the installed package, not in a download cache.
        assert os.path.dirname(path) == pkg_data, path
        assert os.path.basename(path) == fname
        img = synth.load_bundled_image(key)
        assert img.dtype == np.uint8 and img.ndim == 3 and min(img.shape[:2]) >= 256
    frame, gt = next(iter(make_scene(n_frames=5, warmup=1).frames()))
    assert frame.shape == (240, 320, 3)


def test_missing_image_is_a_source_error(monkeypatch):
    from classicseg.errors import SourceError

    monkeypatch.setitem(synth.BUNDLED_IMAGES, "background", "no_such_image.png")
    with pytest.raises(SourceError, match="no_such_image.png"):
        make_scene(n_frames=5, warmup=1)


@pytest.mark.parametrize(
    "field, value",
    [
        ("width", 10),
        ("width", 320.5),
        ("height", 0),
        ("n_frames", 1),
        ("fps", 0),
        ("seed", -1),
        ("noise_sigma", -1.0),
        ("noise_sigma", float("nan")),
        ("drift", 0.9),
        ("drift_period", 1),
        ("n_objects", -2),
        ("n_objects", True),
        ("speed_range", (0.0, 2.0)),
        ("speed_range", (3.0, 1.0)),
        ("speed_range", 2.0),
        ("object_scale", 0.0),
        ("shadows", "yes"),
        ("shadow_factor", (0.5, 1.2)),
        ("shadow_tint", -0.1),
        ("warmup", -1),
        ("warmup", 300),
    ],
)
def test_bad_config_raises_valueerror_naming_field(field, value):
    with pytest.raises(ValueError, match=rf"^{field} ") as info:
        SceneConfig(**{field: value})
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=rf"^{field} "):
        make_scene(**{field: value})
