"""Which frames to correct next (annotate/suggest.py)."""
import numpy as np
import pytest

from classicseg.annotate.suggest import (Video, correction_gains, embed, expected_errors, novelty, suggest,
                                         transition_costs)
from classicseg.errors import ClassicsegError
from tests.stages.test_vos import _clip


def test_uniform_drift_picks_two_thirds():
    # with frame 0 annotated and the same drift everywhere, a keyframe covers frames both
    # ways: the best single keyframe is at 2n/3, not at the middle
    costs = np.full(31, 0.05)
    gains = correction_gains(costs, {0})
    assert int(np.argmax(gains)) == 20
    assert gains[0] == 0


def test_errors_follow_the_nearest_keyframe():
    costs = np.array([0, 1, 1, 1, 1.0])
    e = expected_errors(costs, {0, 4})
    assert np.allclose(e, [0, 1, 2, 1, 0])  # frame 2: tie -> earlier keyframe


def test_ranking_does_not_depend_on_the_costs_unit():
    # the transition costs are in no error unit: scaling them all must not change which frame
    # is best (a saturating 1 - exp(-D) model picks 58 at 0.1x and 27 at 1x and 10x here)
    costs = np.full(60, 0.05)
    costs[40:44] = 1.0
    picks = {int(np.argmax(correction_gains(costs * s, {0}))) for s in (0.1, 1.0, 10.0)}
    assert picks == {58}
    assert np.allclose(expected_errors(costs * 10, {0, 30}), 10 * expected_errors(costs, {0, 30}))


def test_uncertain_span_attracts_the_pick():
    costs = np.full(40, 0.02)
    costs[8:14] = 1.0  # something goes wrong early in the clip: every later frame is likely wrong
    (v, k), = suggest([Video(costs, np.zeros((40, 3), np.float32), {0})], 1)
    uniform = int(np.argmax(correction_gains(np.full(40, 0.02), {0})))
    assert v == 0 and 14 <= k < uniform  # right after the event, earlier than with uniform drift


def test_novelty_prefers_new_content_and_discounts_outliers():
    emb = np.zeros((10, 2), np.float32)
    emb[5:9, 0] = 1.0  # a new scene, four frames long
    emb[9, 1] = 3.0  # a lone outlier
    nov = novelty(emb, emb[:1])
    assert nov[6] > nov[0] and nov[6] > nov[9] * 0.5
    assert nov.max() == pytest.approx(1.0)


def test_across_videos_and_budget():
    a = Video(np.full(10, 0.01), np.zeros((10, 2), np.float32), {0}, "calm")
    b = Video(np.full(10, 0.5), np.ones((10, 2), np.float32), {0}, "busy")
    picks = suggest([a, b], 3)
    assert len(picks) == 3 and len(set(picks)) == 3 and picks[0][0] == 1
    with pytest.raises(ClassicsegError, match="budget 19 is larger than the video: 20 frames, 18 not yet annotated"):
        suggest([a, b], 19)
    with pytest.raises(ClassicsegError, match="budget must be at least 1"):
        suggest([a], 0)


def test_costs_from_frames_and_masks():
    frames, masks = _clip(n=8)
    wobbly = [m.copy() for m in masks]
    wobbly[5][:] = False
    wobbly[5][10:20, 10:20] = True  # a mask that jumps away on frame 5
    emb = np.stack([embed(f) for f in frames])
    assert emb.shape[0] == 8 and np.allclose(emb.sum(1), 1.0, atol=1e-4)
    good = transition_costs(frames, masks, embeddings=emb)
    bad = transition_costs(frames, wobbly, embeddings=emb)
    assert good[0] == 0 and bad[5] > good[5] + 0.5 and bad[6] > good[6] + 0.5
    assert np.allclose(bad[:5], good[:5])
    with pytest.raises(ClassicsegError, match="8 frames but 3 masks"):
        transition_costs(frames, masks[:3])


def test_costs_update_only_what_changed():
    frames, masks = _clip(n=8)
    emb = np.stack([embed(f) for f in frames])
    full = transition_costs(frames, masks, embeddings=emb)
    wobbly = [m.copy() for m in masks]
    wobbly[5][:] = False
    wobbly[5][10:20, 10:20] = True
    again = transition_costs(frames, wobbly, embeddings=emb, previous=full, changed={5})
    assert np.allclose(again, transition_costs(frames, wobbly, embeddings=emb))
    stale = transition_costs(frames, wobbly, embeddings=emb, previous=full, changed={2})
    assert np.allclose(stale, full)  # frames 5 and 6 were not asked for: kept as they were
