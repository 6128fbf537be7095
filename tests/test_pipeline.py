import numpy as np
import pytest

from classicseg.config import validate
from classicseg.pipeline import Pipeline
from classicseg.stages.bgsub.opencv import MOG2
from classicseg.stages.morph import Open
from classicseg.stages.temporal import Majority
from classicseg.types import Sample


def _samples(frames):
    return [Sample(i, f"{i:05d}", f) for i, f in enumerate(frames)]


def test_pipeline_runs_and_times_each_stage(moving_square):
    frames, gts = moving_square(n=30)
    assert gts[-1].any()
    pipe = Pipeline([MOG2(), Open()])
    seen = []
    stats = pipe.run(_samples(frames), on_sample=seen.append)
    assert stats.frames == len(frames) == len(seen)
    assert set(stats.stage_seconds) == {"bgsub.mog2", "morph.open"}
    assert all(v > 0 for v in stats.stage_seconds.values())
    shares = stats.shares()
    assert 0 < sum(shares.values()) <= 1.0 + 1e-6
    assert (seen[-1]["fg"] & gts[-1]).sum() > 0.5 * gts[-1].sum()


def test_latency_stage_keeps_order_and_count(moving_square):
    frames, _ = moving_square(n=12)
    pipe = Pipeline([MOG2(), Majority(window=5, centered=True), Open()])
    assert pipe.latency == 2
    out = list(pipe.stream(_samples(frames)))
    assert [s.index for s in out] == list(range(12))


def test_two_latency_stages_flush_in_order(moving_square):
    frames, _ = moving_square(n=9)
    pipe = Pipeline([MOG2(), Majority(window=3, centered=True), Majority(window=5, centered=True)])
    out = list(pipe.stream(_samples(frames)))
    assert [s.index for s in out] == list(range(9))


def test_run_is_repeatable(moving_square):
    frames, _ = moving_square()
    pipe = Pipeline.from_spec(validate({"pipeline": [{"stage": "bgsub.knn"}, {"stage": "morph.median"}]}))
    a = [s["fg"].copy() for s in pipe.stream(_samples(frames))]
    pipe.reset()
    b = [s["fg"].copy() for s in pipe.stream(_samples(frames))]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_sinks_are_aborted_on_error():
    class Sink:
        def __init__(self):
            self.events = []

        def write(self, s):
            self.events.append("write")

        def close(self):
            self.events.append("close")

        def abort(self):
            self.events.append("abort")

    def source():
        yield Sample(0, "0", np.zeros((8, 8, 3), np.uint8))
        raise RuntimeError("boom")

    sink = Sink()
    with pytest.raises(RuntimeError, match="boom"):
        Pipeline([MOG2()]).run(source(), [sink])
    assert sink.events == ["write", "abort"]


def test_causal_stages_take_the_direct_path_with_the_same_result(moving_square):
    frames, _ = moving_square(n=20)
    direct = Pipeline([MOG2(), Majority(window=3)])
    assert not direct._buffered
    a = [s["fg"].copy() for s in direct.stream(_samples(frames))]
    st = Majority(window=3)
    mog = MOG2()
    b = [st.step(mog.process(s))[0]["fg"] for s in _samples(frames)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
