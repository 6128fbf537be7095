"""Leave-one-sequence-out selection: known answers on tiny score tables, bad input."""
import pytest

from classicseg.errors import EvalError
from classicseg.metrics.loso import leave_one_out


def test_known_answer():
    # "fit" wins on s1 only by a margin that makes it the tuned choice; left out, s1 gets "plain"
    scores = {
        "plain": {"s1": 0.50, "s2": 0.60, "s3": 0.70},
        "fit": {"s1": 0.95, "s2": 0.55, "s3": 0.65},
    }
    r = leave_one_out(scores)
    assert r.tuned == "fit" and r.tuned_mean == pytest.approx(0.7167, abs=1e-4)
    assert r.chosen == {"s1": "plain", "s2": "fit", "s3": "fit"}
    assert r.held_out == {"s1": 0.50, "s2": 0.55, "s3": 0.65}
    assert r.mean == pytest.approx((0.50 + 0.55 + 0.65) / 3)
    assert r.mean < r.tuned_mean


def test_ties_go_to_the_first_candidate_and_one_candidate_is_its_own_loso():
    same = {"s1": 0.4, "s2": 0.8}
    r = leave_one_out({"default": dict(same), "other": dict(same)})
    assert r.tuned == "default" and set(r.chosen.values()) == {"default"}
    one = leave_one_out({"only": {"a": 0.2, "b": 0.6, "c": 1.0}})
    assert one.mean == pytest.approx(one.tuned_mean) == pytest.approx(0.6)


@pytest.mark.parametrize("scores,needle", [
    ({}, "at least one candidate"),
    ({"a": {"s1": 0.5}}, "at least two sequences"),
    ({"a": {"s1": 0.5, "s2": 0.5}, "b": {"s1": 0.5, "s3": 0.5}}, "candidate 'b'"),
])
def test_bad_input(scores, needle):
    with pytest.raises(EvalError, match=needle):
        leave_one_out(scores)
