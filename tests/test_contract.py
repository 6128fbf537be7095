"""Every registered stage through the same contract, on a tiny clip.

For each stage: it runs (smoke); a second run after ``reset`` gives identical output; the
slots it writes are the ones it declares (``provided(params)``), each of the declared kind
(:func:`classicseg.types.check_slot`), and each declared slot is written on some frame.
Stages that need a slot no frame carries get the shortest chain of built-in providers in
front of them; a stage that needs an initial mask gets the clip's first mask.
"""
import importlib.util

import numpy as np
import pytest

from classicseg import catalog
from classicseg.pipeline import Pipeline
from classicseg.stage import as_stage, check_declarations
from classicseg.types import SLOTS, check_slot
from tests.stages.test_vos import _clip

N = 10
#: parameters a stage cannot run without (no default exists for them)
REQUIRED = {
    "events.zones": {"zones": [{"name": "left", "polygon": [[0, 0], [48, 0], [48, 72], [0, 72]]}]},
    "roi.mask": {"polygon": [[0, 0], [60, 0], [60, 60], [0, 60]]},
}
#: slots a stage declares but writes only when its input makes it happen: events when
#: something happens, ids from an id-map prior (the clip's prior is a probability), shadow
#: when an earlier stage wrote one
CONDITIONAL = {"*": {"events"}, "prior.fuse": {"ids"}, "temporal.flow_smooth": {"ids"}, "roi.mask": {"shadow"}}


def _feeders(needed: tuple[str, ...], masks) -> list:
    """Built-in stages (or a function) that provide ``needed``, in a valid order."""
    steps, have = [], {"image", "prior"}

    def need(slot):
        if slot in have:
            return
        if slot == "fg":
            steps.append(catalog.get("bgsub.mog2")())
        elif slot == "flow":
            steps.append(catalog.get("flow.dis")())
        elif slot == "prob":
            steps.append(as_stage(lambda sample: np.where(masks[sample.index], 0.8, 0.2).astype(np.float32),
                                  provides=("prob",), name="test_prob"))
        elif slot == "blobs":
            need("fg")
            steps.append(catalog.get("blobs.components")(min_area=1))
        elif slot == "tracks":
            need("blobs")
            steps.append(catalog.get("track.hungarian")())
        else:  # pragma: no cover - a new slot kind needs a feeder here
            raise AssertionError(f"no feeder for slot {slot!r}")
        have.update(steps[-1].provided(steps[-1].params))

    for slot in needed:
        need(slot)
    return steps


def _run(pipe: Pipeline, stage, frames, masks):
    """Run the clip; return per frame {slot: value} of what ``stage`` wrote."""
    written = []
    inner = stage.process

    def spy(sample):
        before = {k: id(v) for k, v in sample.data.items()}
        out = inner(sample)
        written.append({k: v for k, v in out.data.items() if before.get(k) != id(v)})
        return out

    stage.process = spy
    try:
        samples = [(f"{i:05d}", f) for i, f in enumerate(frames)]
        init = masks[0].view(np.uint8) if "init_mask" in stage.needs else None

        def with_prior(src):
            for s in src:
                s["prior"] = masks[s.index].astype(np.float32)
                yield s

        from classicseg.io.sources import as_samples

        list(pipe.stream(with_prior(as_samples(samples)), init_mask=init))
    finally:
        del stage.process
    return written


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("name", catalog.names())
def test_every_stage_keeps_the_contract(name):
    cls = catalog.get(name)
    missing = [m for m, _ in cls.extras if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}, not installed")
    assert not check_declarations(cls)
    frames, masks = _clip(n=N)
    stage = cls(**REQUIRED.get(name, {}))
    pipe = Pipeline(_feeders(tuple(s for s in cls.requires if not SLOTS[s].source), masks) + [stage])
    first = _run(pipe, stage, frames, masks)
    second = _run(pipe, stage, frames, masks)          # stream() resets: the same output again
    assert len(first) == len(second) == N
    for t, (a, b) in enumerate(zip(first, second)):
        assert a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a), f"{name}: frame {t} differs after reset"
    declared = set(stage.provided(stage.params))
    seen = set()
    for t, out in enumerate(first):
        undeclared = {k for k in set(out) - declared if not SLOTS[k].cache}
        assert not undeclared, f"{name} writes {sorted(undeclared)} without declaring it (frame {t})"
        for slot, value in out.items():
            problem = check_slot(slot, value, frames[0].shape[:2])
            assert problem is None, f"{name}, frame {t}: {problem}"
        seen |= set(out)
    optional = CONDITIONAL["*"] | CONDITIONAL.get(name, set())
    assert declared - optional <= seen, f"{name} declares {sorted(declared - seen)} but never wrote them"


def test_function_steps_and_array_frames():
    frames, masks = _clip(n=6)
    seen = []

    def brightest(image):
        return image[:, :, 2] > 200          # red channel: the disk

    def spy(sample):
        seen.append(sample.index)

    pipe = Pipeline([brightest, as_stage(spy, provides=())])
    out = list(pipe.stream(frames))
    assert [s.index for s in out] == seen == list(range(6))
    assert all(np.array_equal(s["fg"], m) for s, m in zip(out, masks))
    with pytest.raises(Exception, match="needs 'flow', which no earlier stage provides"):
        Pipeline([catalog.get("vos.propagate")()])
    with pytest.raises(Exception, match=r"frame 000001: expected uint8 pixels, got float64"):
        list(Pipeline(["bgsub.mog2"]).stream([f.astype(np.float64) for f in frames]))
    with pytest.raises(Exception, match="expected a numpy array, got str"):
        list(Pipeline(["bgsub.mog2"]).stream(["not a frame"]))


def test_stream_and_run_reset_alike():
    frames, _ = _clip(n=8)
    pipe = Pipeline(["bgsub.mog2"])
    a = [s["fg"].copy() for s in pipe.stream(frames)]
    b = [s["fg"].copy() for s in pipe.stream(frames)]          # fresh model: the same masks
    c = [s["fg"].copy() for s in pipe.stream(frames, reset=False)]  # the model goes on
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
