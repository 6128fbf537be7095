import numpy as np
import pytest

from classicseg.config import resolve, with_prior_fuse
from classicseg.degrade import weak_model_masks
from classicseg.errors import ClassicsegError, ConfigError
from classicseg.io.priors import attach_prior
from classicseg.io.sources import ArraySource
from classicseg.pipeline import Pipeline
from classicseg.stages.prior import (
    FlowSmooth,
    PriorFuse,
    flow_smooth,
    fuse_prior,
    prior_prob,
)
from classicseg.types import SLOTS, Sample

from tests.stages.test_vos import _clip, _iou  # the moving-disk clip the vos tests use


def test_prior_slot_is_declared():
    assert "prior" in SLOTS


def test_fuse_prior_known_answers():
    prior = np.array([[0.9, 0.1]], np.float32)
    # no prob: the prior alone (weight 1 keeps it)
    assert np.allclose(fuse_prior(None, prior), [[0.9, 0.1]], atol=1e-4)
    # an undecided prob (0.5) takes the prior; weight 0 ignores it
    assert np.allclose(fuse_prior(np.full((1, 2), 0.5), prior), [[0.9, 0.1]], atol=1e-4)
    assert np.allclose(fuse_prior(np.array([[0.7, 0.7]]), prior, weight=0), [[0.7, 0.7]], atol=1e-4)
    # two 0.9's: odds 9 * 9 = 81 -> 81/82
    assert fuse_prior(np.array([[0.9]]), np.array([[0.9]], np.float32))[0, 0] == pytest.approx(81 / 82, abs=1e-4)
    # a hard mask and id maps count as `confidence`
    assert np.allclose(prior_prob(np.array([[0, 3]], np.uint8), 0.8), [[0.2, 0.8]])
    assert np.allclose(prior_prob(np.array([[False, True]]), 0.9), [[0.1, 0.9]])
    with pytest.raises(ValueError, match="confidence must be in"):
        prior_prob(prior, 1.0)
    with pytest.raises(ValueError, match="prob is"):
        fuse_prior(np.zeros((2, 2)), prior)


def test_flow_smooth_known_answers():
    flow = np.zeros((2, 3, 2), np.float32)
    cur = np.zeros((2, 3), np.float32)
    prev = np.ones((2, 3), np.float32)
    assert np.allclose(flow_smooth(cur, prev, flow, alpha=0.5), 0.5)
    assert np.array_equal(flow_smooth(cur, None, flow), cur)
    occ = np.zeros((2, 3), bool)
    occ[0, 0] = True
    out = flow_smooth(cur, prev, flow, occlusion=occ, alpha=0.5)
    assert out[0, 0] == 0 and out[1, 1] == 0.5  # occluded: the current frame only
    # the flow pulls from one pixel to the left: the first column comes from outside -> current only
    flow[:, :, 0] = -1
    prev = np.array([[1, 0, 0], [1, 0, 0]], np.float32)
    out = flow_smooth(cur, prev, flow, alpha=0.5)
    assert np.allclose(out, [[0, 0.5, 0], [0, 0.5, 0]])
    # colour check: a pixel whose colour changed is not trusted
    img0 = np.zeros((2, 3, 3), np.uint8)
    img1 = img0.copy()
    img1[0, 1] = 200
    out = flow_smooth(cur, prev, flow, img1, img0, alpha=0.5, colour_threshold=30)
    assert out[0, 1] == 0 and out[1, 1] == 0.5
    # class stacks (K, H, W) are warped together
    stack = np.stack([prev, 1 - prev])
    assert flow_smooth(np.zeros_like(stack), stack, flow, alpha=0.5).shape == (2, 2, 3)
    with pytest.raises(ValueError, match="alpha"):
        flow_smooth(cur, prev, flow, alpha=1.0)


def test_prior_fuse_stage():
    img = np.zeros((4, 5, 3), np.uint8)
    st = PriorFuse()
    with pytest.raises(ClassicsegError, match="frame f1 has no prior"):
        st.process(Sample(0, "f1", img))
    s = Sample(0, "f1", img, {"prior": np.zeros((3, 3), np.float32)})
    with pytest.raises(ClassicsegError, match="prior is 3x3 but the frame is 5x4"):
        st.process(s)
    ids = np.zeros((4, 5), np.uint8)
    ids[1:3, 1:3] = 3
    s = st.process(Sample(0, "f", img, {"prior": ids}))
    assert np.array_equal(s["fg"], ids > 0) and np.array_equal(s["ids"], ids)  # alone: prob, fg and ids
    given = (ids > 0).astype(np.float32)  # a given annotation (vos first frame) is left alone
    s = st.process(Sample(0, "f", img, {"prior": np.zeros((4, 5), np.float32), "prob": given}))
    assert s["prob"] is given
    soft = np.full((4, 5), 0.6, np.float32)
    s = st.process(Sample(0, "f", img, {"prior": np.zeros((4, 5), np.float32), "prob": soft}))
    assert (s["prob"] < 0.5).all()  # a confident "no" outweighs a weak "yes"


def test_with_prior_fuse_inserts_after_propagate():
    spec = with_prior_fuse(resolve("vos"), weight=2.0)
    names = [s.stage.name for s in spec.steps]
    i = names.index("vos.propagate")
    assert names[i + 1] == "prior.fuse" and names[i + 2].startswith("refine.")
    assert spec.steps[i + 1].params.weight == 2.0 and spec.inputs == ("prior",)
    assert with_prior_fuse(spec) is spec  # once only
    assert resolve("refine").inputs == ("prior",) and resolve("vos").inputs == ()
    with pytest.raises(ConfigError, match="no stage that computes a probability"):
        with_prior_fuse(resolve("surveillance"))


def _run(pipe, frames, prior):
    out = []
    pipe.run(attach_prior(ArraySource(kind="folder", name="t", items=frames, prefetch=0), prior), [],
             on_sample=out.append)
    return out


def test_flow_smooth_keeps_ids_that_skip_numbers():
    frames, masks = _clip(n=8)
    ids = []
    for f, m in zip(frames, masks):
        f[5:17, 5:17] = (200, 60, 60)  # a second object, id 3 (2 skipped)
        a = np.zeros(m.shape, np.uint8)
        a[m] = 1
        a[5:17, 5:17] = 3
        ids.append(a)
    out = _run(Pipeline.load(preset="refine"), frames, lambda s: ids[s.index] if s.index != 4 else
               np.zeros_like(ids[0]))  # frame 4: the model missed everything
    for s in out:
        assert set(np.unique(s["ids"])) == {0, 1, 3}, s.index
    assert _iou(out[4]["ids"] == 1, masks[4]) > 0.8  # the dropped frame is filled from the flow-aligned past
    st = FlowSmooth()
    img = np.zeros((4, 5, 3), np.uint8)
    s = Sample(0, "f", img, {"prob": np.full((4, 5), 0.2, np.float32), "flow": np.zeros((4, 5, 2), np.float32)})
    assert not st.process(s)["fg"].any()


def test_refine_preset_improves_a_weak_model():
    frames, masks = _clip(n=16, r=12, step=2)
    weak = weak_model_masks(masks, seed=3, max_shift=3, band=3, noise_scale=2.0, drop=0.2, flicker=0.2)
    again = weak_model_masks(masks, seed=3, max_shift=3, band=3, noise_scale=2.0, drop=0.2, flicker=0.2)
    assert all(np.array_equal(a, b) for a, b in zip(weak, again))  # reproducible
    assert weak[0].dtype == bool and not any(np.array_equal(a, b) for a, b in zip(weak, masks))
    out = _run(Pipeline.load(preset="refine"), frames, lambda s: weak[s.index])
    before = np.mean([_iou(w, m) for w, m in zip(weak, masks)])
    after = np.mean([_iou(s["fg"], m) for s, m in zip(out, masks)])
    assert after > before + 0.05, (before, after)


def test_vos_with_a_prior_and_no_init_mask_starts_from_the_first_prior():
    from classicseg.keyframes import seed_from_prior

    frames, masks = _clip(n=6)
    pipe = Pipeline.from_spec(with_prior_fuse(resolve("vos")))
    src = attach_prior(ArraySource(kind="folder", name="t", items=frames, prefetch=0),
                       lambda s: masks[s.index].astype(np.float32))
    out = []
    pipe.run(seed_from_prior(src, pipe), [], on_sample=out.append)
    assert min(_iou(s["fg"], m) for s, m in zip(out, masks)) > 0.85
    src = attach_prior(ArraySource(kind="folder", name="t", items=frames, prefetch=0),
                       lambda s: np.zeros(s.shape, np.float32))
    with pytest.raises(ClassicsegError, match="prior of the first frame .* contains no object"):
        pipe.run(seed_from_prior(src, pipe), [])


def test_a_dropped_frame_is_carried_over_only_with_miss_ratio():
    frames, masks = _clip(n=8, step=1)
    weak = [m.astype(np.float32) if i != 5 else np.zeros(m.shape, np.float32) for i, m in enumerate(masks)]
    held = _run(Pipeline.load(preset="refine"), frames, lambda s: weak[s.index])
    assert _iou(held[5]["fg"], masks[5]) > 0.8
    off = _run(Pipeline.load(preset="refine", sets=["temporal.flow_smooth.miss_ratio=0"]), frames,
               lambda s: weak[s.index])
    # without it the frame's own "nothing" is averaged in: the object's probability drops towards 0.5
    assert held[5]["prob"][masks[5]].mean() > 0.8
    assert off[5]["prob"][masks[5]].mean() < 0.65
    # an object that stays away is believed gone after max_misses frames
    gone = [m.astype(np.float32) if i < 3 else np.zeros(m.shape, np.float32) for i, m in enumerate(masks)]
    out = _run(Pipeline.load(preset="refine"), frames, lambda s: gone[s.index])
    assert out[3]["fg"].any() and not out[7]["fg"].any()
