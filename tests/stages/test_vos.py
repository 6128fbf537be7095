import cv2
import numpy as np
import pytest

from classicseg.errors import ClassicsegError
from classicseg.pipeline import Pipeline
from classicseg.catalog import get
from classicseg.geometry import roi_box
from classicseg.stages.refine import GraphCut, densecrf, graphcut, keep_connected
from classicseg.io.masks import read_init_mask
from classicseg.stages.vos import Propagate, PropagateParams, propagate
from classicseg.stages.vos.appearance import ColorModel
from classicseg.stages.vos.cues import motion_prior, unlinked_capped
from classicseg.stages.vos.ids import assign_ids
from classicseg.stages.vos.local import local_classifiers
from classicseg.stages.vos.logodds import fuse
from classicseg.types import Sample


def _clip(n=8, h=72, w=96, r=9, step=3, seed=0):
    """A red disk moving right over a green-grey textured background."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(60, 140, (h // 4, w // 4, 3), dtype=np.uint8)
    bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_CUBIC)
    bg[:, :, 2] //= 2  # little red in the background
    frames, masks = [], []
    for t in range(n):
        img = bg.copy()
        m = np.zeros((h, w), np.uint8)
        cv2.circle(m, (20 + step * t, h // 2), r, 1, -1)
        img[m > 0] = (40, 40, 220)
        frames.append(img)
        masks.append(m > 0)
    return frames, masks


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_graphcut_known_answer_two_regions():
    img = np.zeros((10, 12, 3), np.uint8)
    img[:, 6:] = 200
    prob = np.full((10, 12), 0.4, np.float32)
    prob[:, 7:] = 0.9  # a column of weak evidence: the edge decides
    fg = graphcut(img, prob, gamma=5.0)
    expected = np.zeros((10, 12), bool)
    expected[:, 6:] = True
    assert np.array_equal(fg, expected)
    assert not graphcut(img, prob, box=(0, 0, 0, 0)).any()


def test_densecrf_known_answer_two_regions():
    img = np.zeros((10, 12, 3), np.uint8)
    img[:, 6:] = 200
    prob = np.full((10, 12), 0.2, np.float32)
    prob[:, 6:] = 0.8
    assert np.array_equal(densecrf(img, prob), prob > 0.5)


def test_roi_box_and_keep_connected():
    m = np.zeros((50, 50), bool)
    m[20:30, 10:20] = True
    assert roi_box(m, 0.5, 2) == (15, 35, 5, 25)
    assert roi_box(np.zeros((5, 5), bool)) is None
    two = m.copy()
    two[0:3, 40:45] = True
    assert np.array_equal(keep_connected(two, m), m)


def test_colour_model_posterior():
    img = np.zeros((4, 4, 3), np.uint8)
    img[:, 2:] = (0, 0, 255)
    fg = np.zeros((4, 4), bool)
    fg[:, 2:] = True
    cm = ColorModel(8)
    cm.update(img, fg, ~fg)
    p = cm.posterior(img)
    assert (p[:, 2:] > 0.9).all() and (p[:, :2] < 0.1).all()
    unseen = np.full((1, 1, 3), 128, np.uint8)
    assert cm.posterior(unseen)[0, 0] == pytest.approx(0.5)


def test_fuse_and_motion_prior():
    assert fuse(np.array([0.5]), np.array([0.9]))[0] == pytest.approx(0.9, abs=1e-3)
    m = np.zeros((20, 20), bool)
    m[5:10, 5:10] = True
    flow = np.zeros((20, 20, 2), np.float32)
    flow[..., 0] = -2  # moved 2 px right
    p = motion_prior(m, flow, sigma=0)
    assert np.array_equal(p > 0.5, np.roll(m, 2, axis=1))


def test_propagation_follows_a_moving_disk():
    from classicseg.stages.flow import dis

    frames, masks = _clip()
    cm = ColorModel(16)
    cm.update(frames[0], masks[0], ~masks[0])
    prev = masks[0]
    for t in range(1, len(frames)):
        flow = dis(frames[t], frames[t - 1], scale=1.0)
        prob = propagate(frames[t], prev, flow, colour=cm).prob
        prev = graphcut(frames[t], prob, 25.0, box=roi_box(prob > 0.05, 0.15, 8))
        assert _iou(prev, masks[t]) > 0.85, t
    pl, warped = local_classifiers(frames[-2], masks[-2], frames[-1], dis(frames[-1], frames[-2], scale=1.0), 24)
    assert _iou(pl > 0.5, masks[-1]) > 0.8


def _run_pipeline(frames, init, sets=()):
    pipe = Pipeline.load(preset="vos", sets=["flow.dis.scale=1.0", *sets])
    pipe.stages[1].set_init_mask(init)
    out = []
    for i, f in enumerate(frames):
        out.extend(pipe.push(Sample(i, f"{i:05d}", f)))
    return out


def test_vos_preset_smoke_on_synthetic_clip():
    frames, masks = _clip()
    pipe = Pipeline.load(preset="vos")
    assert [s.name for s in pipe.stages] == ["flow.dis", "vos.propagate", "refine.graphcut"]
    pipe = Pipeline.load(preset="vos", sets=["flow.dis.scale=1.0"])
    pipe.reset()
    pipe.stages[1].set_init_mask(masks[0])
    samples = [pipe.push(Sample(i, f"{i:05d}", f))[0] for i, f in enumerate(frames)]
    assert np.array_equal(samples[0]["fg"], masks[0])
    for s, m in zip(samples[1:], masks[1:]):
        assert s["prob"].dtype == np.float32 and s["fg"].dtype == bool
        assert _iou(s["fg"], m) > 0.85
        assert s["ids"].dtype == np.uint8 and set(np.unique(s["ids"])) <= {0, 1}


def test_ids_are_kept_for_two_objects():
    frames, masks = _clip()
    ids = masks[0].astype(np.uint8)
    ids[:, :10] = 0
    ids[5:15, 60:75] = 2  # a second (static) object: a patch of background
    fg = (ids > 0)
    out = assign_ids(fg | np.roll(fg, 1, axis=1), ids)
    assert set(np.unique(out)) == {0, 1, 2}
    assert (out[5:15, 61:76] == 2).all()


def test_init_mask_errors(tmp_path):
    st = Propagate()
    with pytest.raises(ClassicsegError, match="no first-frame mask"):
        st.process(Sample(0, "0", np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(ClassicsegError, match="contains no object"):
        st.set_init_mask(np.zeros((8, 8), bool))
    st.set_init_mask(np.ones((4, 4), bool))
    with pytest.raises(ClassicsegError, match="init mask is 4x4 but the frames are 8x6"):
        st.process(Sample(0, "0", np.zeros((6, 8, 3), np.uint8)))
    with pytest.raises(ClassicsegError, match="init mask not found"):
        read_init_mask(tmp_path / "missing.png")
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.zeros((6, 8), np.uint8))
    with pytest.raises(ClassicsegError, match="contains no object"):
        Propagate(init_mask=str(empty))
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.pad(np.full((2, 2), 255, np.uint8), 2))
    assert read_init_mask(good).sum() == 4


def test_refine_rejects_prob_of_another_size():
    s = Sample(0, "0", np.zeros((6, 8, 3), np.uint8))
    s["prob"] = np.full((3, 3), 0.5, np.float32)
    with pytest.raises(ClassicsegError, match="prob is 3x3 but the frame is 8x6"):
        GraphCut().process(s)


def test_stages_are_registered():
    for name in ("flow.farneback", "flow.dis", "vos.propagate", "refine.graphcut", "refine.densecrf"):
        assert get(name).name == name


def test_graphcut_connectivity_checked_before_the_first_frame():
    from classicseg.config import validate
    from classicseg.errors import ConfigError

    with pytest.raises(ConfigError, match=r"refine.graphcut\): connectivity: input should be 4 or 8"):
        validate({"pipeline": [{"stage": "flow.dis"}, {"stage": "vos.propagate"},
                               {"stage": "refine.graphcut", "connectivity": 6}]})


def test_motion_confidence_lets_colour_remove_uncovered_background():
    # the previous mask covers a red disk and, wrongly, a grey patch beside it (background
    # uncovered behind the object); the colour model knows grey is background
    img = np.full((40, 60, 3), 120, np.uint8)
    disk = np.zeros((40, 60), bool)
    disk[10:30, 10:30] = True
    img[disk] = (40, 40, 220)
    prev = disk.copy()
    prev[10:30, 30:45] = True
    cm = ColorModel(8)
    cm.update(img, disk, ~disk)
    flow = np.zeros((40, 60, 2), np.float32)
    trusted = propagate(img, prev, flow, PropagateParams(sigma=0), cm).prob
    soft = propagate(img, prev, flow, PropagateParams(sigma=0, motion_confidence=0.8), cm).prob
    assert (trusted[10:30, 32:43] > 0.5).all()  # the warped mask wins: 1e-3 clip vs colour
    assert (soft[10:30, 32:43] < 0.5).all() and (soft[12:28, 12:28] > 0.5).all()
    with pytest.raises(ValueError, match=r"motion_confidence\n  Input should be greater than 0.5"):
        PropagateParams(motion_confidence=0.3)


def test_motion_floor_lets_colour_grow_back_a_lost_part():
    # the previous mask lost the right half of a red block; the colour model (weak, w_colour
    # 0.2) knows red is the object: with the warped mask's floor at 1 - 0.8 the lost half
    # stays out, with a floor of 0.4 it comes back, and the grey background stays out
    img = np.full((40, 60, 3), 120, np.uint8)
    block = np.zeros((40, 60), bool)
    block[10:30, 10:40] = True
    img[block] = (40, 40, 220)
    prev = block.copy()
    prev[:, 25:] = False
    cm = ColorModel(8)
    cm.update(img, block, ~block)
    flow = np.zeros((40, 60, 2), np.float32)
    base = PropagateParams(sigma=0, motion_confidence=0.8, w_colour=0.2)
    plain = propagate(img, prev, flow, base, cm).prob
    floor = propagate(img, prev, flow, base.model_copy(update={"motion_floor": 0.4}), cm).prob
    assert (plain[12:28, 28:38] < 0.5).all()
    assert (floor[12:28, 28:38] > 0.5).all()
    assert (floor[2:8, 5:45] < 0.5).all() and np.allclose(floor[12:28, 12:22], plain[12:28, 12:22])
    with pytest.raises(ValueError, match="motion_floor"):
        PropagateParams(motion_floor=0.5)


def test_unlinked_capped_known_answer():
    prob = np.zeros((10, 20), np.float32)
    prob[2:5, 2:5] = 0.9
    prob[2:5, 12:15] = 0.8  # a second component away from the core
    core = np.zeros((10, 20), bool)
    core[3, 3] = True
    out = unlinked_capped(prob, core, 0.2)
    assert np.array_equal(out[2:5, 2:5], prob[2:5, 2:5])
    assert np.allclose(out[2:5, 12:15], 0.2)
    assert prob[3, 13] == pytest.approx(0.8)  # input untouched
    assert np.array_equal(unlinked_capped(np.zeros((4, 4), np.float32), core[:4, :4]), np.zeros((4, 4)))
    # a core pixel 8 px from the second component: a link radius of 8 keeps it, 7 does not
    edge = np.zeros((10, 20), bool)
    edge[3, 4] = True
    assert np.array_equal(unlinked_capped(prob, edge, 0.2, radius=8), prob)
    assert np.allclose(unlinked_capped(prob, edge, 0.2, radius=7)[2:5, 12:15], 0.2)


def test_linked_stage_option_drops_far_colour_blobs():
    # a second red blob inside the work box but apart from the object: colour says object,
    # the warped mask says not
    frames, masks = _clip(n=3)
    far = frames[2].copy()
    far[52:60, 42:50] = (40, 40, 220)
    clip = [frames[0], frames[1], far]
    # (no template background evidence: with the shipped shape_outside it drops the blob itself)
    loose = ["vos.propagate.motion_confidence=0.8", "vos.propagate.w_flow=0", "vos.propagate.link_radius=0",
             "vos.propagate.shape_outside=0"]
    assert _run_pipeline(clip, masks[0], [*loose, "vos.propagate.linked=false"])[2]["fg"][52:60, 42:50].all()
    out = _run_pipeline(clip, masks[0], [*loose, "vos.propagate.linked=true"])
    assert not out[2]["fg"][52:60, 42:50].any()
    assert _iou(out[2]["fg"], masks[2]) > 0.85


def test_motion_coherence_known_answer():
    from classicseg.stages.vos.cues import motion_coherence

    warped = np.zeros((40, 60), bool)
    warped[10:30, 10:40] = True
    flow = np.zeros((40, 60, 2), np.float32)
    flow[10:30, 10:30] = (-4, 0)  # the object moved 4 px right; its right part is uncovered background
    z = motion_coherence(flow, warped, noise=1.0, relative=0.0, limit=3.0)
    assert (z[12:28, 12:28] == 3.0).all()      # moves with the object
    assert (z[12:28, 32:38] == -3.0).all()     # inside the mask but static: background
    assert z.dtype == np.float32
    # no relative motion: the cue abstains
    assert not motion_coherence(np.zeros_like(flow), warped).any()


def test_motion_coherence_affine_model_follows_a_turning_object():
    from classicseg.stages.vos.cues import motion_coherence

    h, w = 80, 120
    warped = np.zeros((h, w), bool)
    warped[20:60, 20:100] = True
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = np.deg2rad(6.0)  # the object turns about its centre; the background stands still
    cx, cy = 60.0, 40.0
    flow = np.zeros((h, w, 2), np.float32)
    rx = np.cos(theta) * (xs - cx) - np.sin(theta) * (ys - cy) + cx - xs
    ry = np.sin(theta) * (xs - cx) + np.cos(theta) * (ys - cy) + cy - ys
    flow[warped] = np.stack([rx, ry], -1)[warped]
    ends = (slice(25, 55), np.r_[24:34, 86:96])  # the object's ends move most, in opposite directions
    trans = motion_coherence(flow, warped, noise=0.5, relative=0.25, limit=3.0)
    aff = motion_coherence(flow, warped, noise=0.5, relative=0.25, limit=3.0, model="affine")
    assert trans[ends].mean() < 0.5   # one translation cannot follow a turn: the ends look like background
    assert aff[ends].min() > 2.0      # the affine model follows them
    assert aff[5, 5] < 0              # the background still moves with the background
    with pytest.raises(ValueError, match="model must be"):
        motion_coherence(flow, warped, model="homography")


def test_main_parts_drops_specks_and_the_stage_option_uses_it():
    from classicseg.stages.vos.cues import main_parts

    m = np.zeros((20, 30), bool)
    m[2:12, 2:12] = True    # 100 px
    m[2:8, 20:26] = True    # 36 px
    m[15:17, 15:17] = True  # 4 px: a speck
    out = main_parts(m, 0.1)
    assert out[2:12, 2:12].all() and out[2:8, 20:26].all() and not out[15:17, 15:17].any()
    assert np.array_equal(main_parts(m, 0.0), m)
    # a speck of the warped mask far from the object: linked with min_part drops it
    prob = m.astype(np.float32) * 0.9
    p = PropagateParams(linked=True, min_part=0.1)
    capped = unlinked_capped(prob, main_parts(m, p.min_part), 0.2)
    assert np.allclose(capped[15:17, 15:17], 0.2) and np.allclose(capped[2:12, 2:12], 0.9)


def test_bounded_prior_keeps_the_edge_at_one_half():
    from classicseg.stages.vos.cues import bounded_prior

    p = np.array([[0.0, 0.25, 0.5, 0.75, 1.0]], np.float32)
    out = bounded_prior(p, 0.3, 0.8)
    assert np.allclose(out, [[0.3, 0.4, 0.5, 0.65, 0.8]]) and out.dtype == np.float32
    with pytest.raises(ValueError, match="floor"):
        bounded_prior(p, 0.5, 0.8)
    with pytest.raises(ValueError, match="confidence"):
        bounded_prior(p, 0.3, 0.5)


def test_trusted_prior_known_answer():
    from classicseg.stages.vos.cues import trusted_prior

    warped = np.zeros((5, 20), bool)
    warped[:, :4] = True
    bounded = np.where(warped, 0.8, 0.3).astype(np.float32)
    weight = np.ones((5, 20), np.float32)
    weight[:, 15:] = 0.5  # a less consistent flow there
    out = trusted_prior(bounded, warped, weight, confidence=0.9, reach=5)
    assert np.allclose(out[:, :4], 0.8)            # the mask itself: kept
    assert np.allclose(out[:, 4:9], 0.3)           # within 5 px of it: kept (a lost part may grow back)
    assert np.allclose(out[:, 10:15], 0.1)         # beyond: 1 - confidence where the flow is trusted
    assert np.allclose(out[:, 15:], 0.2)           # halfway where it is half trusted
    assert np.array_equal(trusted_prior(bounded, np.zeros_like(warped), weight), bounded)
    with pytest.raises(ValueError, match="confidence"):
        trusted_prior(bounded, warped, weight, confidence=1.0)
    with pytest.raises(ValueError, match="must agree"):
        trusted_prior(bounded, warped[:4], weight)


def test_trust_keeps_a_far_look_alike_out():
    # a red block and, 14 px to its right, a red patch joined to it by a red bar: the colour
    # model calls all of them object; the cautious floor (0.3) lets the patch in, the trusted
    # flow (nothing moved, the frames are equal) keeps what lies beyond 8 px of the mask out
    img = np.full((40, 80, 3), 120, np.uint8)
    block = np.zeros((40, 80), bool)
    block[10:30, 10:30] = True
    look = np.zeros((40, 80), bool)
    look[10:30, 44:64] = True
    look[18:22, 30:44] = True
    img[block | look] = (40, 40, 220)
    cm = ColorModel(8)
    cm.update(img, block, ~block)
    flow = np.zeros((40, 80, 2), np.float32)
    base = PropagateParams(sigma=0, motion_confidence=0.8, motion_floor=0.3, w_colour=1.0, margin=2.0)
    plain = propagate(img, block, flow, base, cm, prev_image=img).prob
    trusted = propagate(img, block, flow, base.model_copy(update={"trust_sigma": 20.0, "trust_reach": 8}), cm,
                        prev_image=img).prob
    assert (plain[12:28, 46:62] > 0.5).all()
    assert (trusted[12:28, 46:62] < 0.5).all()
    assert np.allclose(trusted[10:30, 2:38], plain[10:30, 2:38])  # the mask and its 8 px ring: unchanged


def test_floor_centred_keeps_the_carried_edge():
    # colour says nothing (one grey everywhere): the probability is the bounded prior alone; a
    # line from floor 0.3 to 0.8 puts its 0.5 crossing outside the warped mask's blurred edge,
    # the centred bounds keep it where prior > 0.5 is
    img = np.full((40, 60, 3), 120, np.uint8)
    block = np.zeros((40, 60), bool)
    block[10:30, 15:45] = True
    cm = ColorModel(8)
    cm.update(img, block, ~block)
    flow = np.zeros((40, 60, 2), np.float32)
    base = PropagateParams(sigma=2.0, motion_sigma=0, motion_confidence=0.8, motion_floor=0.3, margin=1.0)
    plain = propagate(img, block, flow, base, cm)
    centred = propagate(img, block, flow, base.model_copy(update={"floor_centred": True}), cm)
    edge = plain.prior > 0.5
    assert np.array_equal(centred.prob > 0.5, edge)
    assert (plain.prob > 0.5).sum() > edge.sum()
