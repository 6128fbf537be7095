"""refine.random_walker: Grady's random walker from confident seeds of ``prob`` (issue 4)."""
import numpy as np
import pytest

from classicseg.config import resolve
from classicseg.errors import ClassicsegError, ConfigError
from classicseg.pipeline import Pipeline
from classicseg.catalog import get
from classicseg.stages.flow import DISFlow
from classicseg.stages.randomwalker import RandomWalker, best_mode, random_walker_mask, seeds_from_prob
from classicseg.stages.refine import GraphCut
from classicseg.stages.vos import Propagate
from classicseg.types import Sample
from tests.stages.test_vos import _clip  # the moving-disk clip the vos tests use


def _two_regions(h=10, w=12, edge=6):
    img = np.zeros((h, w, 3), np.uint8)
    img[:, edge:] = 200
    prob = np.full((h, w), 0.5, np.float32)  # no opinion in the middle ...
    prob[:, :2] = 0.0  # ... background seeds on the left
    prob[:, -2:] = 1.0  # object seeds on the right
    expected = np.zeros((h, w), bool)
    expected[:, edge:] = True
    return img, prob, expected


@pytest.mark.parametrize("mode", ["auto", "bf", "cg_j"])
def test_clear_seeds_split_two_flat_regions_at_the_edge(mode):
    img, prob, expected = _two_regions()
    assert np.array_equal(random_walker_mask(img, prob, mode=mode), expected)
    # the edge decides, not the seeds' distance: move it and the cut follows
    img, prob, expected = _two_regions(edge=4)
    assert np.array_equal(random_walker_mask(img, prob, mode=mode), expected)


def test_grey_image_and_box():
    img, prob, expected = _two_regions(h=20, w=24, edge=12)
    prob[:, 12:-2] = 0.6  # weak object evidence: not a seed, and the box's sides stay unlabelled there
    gray = img[:, :, 0]
    box = (2, 18, 0, 24)  # its top and bottom sides become background seeds where prob <= 0.5
    out = random_walker_mask(gray, prob, box=box)
    assert not out[:2].any() and not out[18:].any()  # outside the box: background
    assert np.array_equal(out[4:16], expected[4:16])


def test_seeds_and_degenerate_cases():
    p = np.array([[0.05, 0.5, 0.95]], np.float32)
    assert seeds_from_prob(p).tolist() == [[2, 0, 1]]
    img = np.zeros((4, 5, 3), np.uint8)
    assert not random_walker_mask(img, np.full((4, 5), 0.2, np.float32)).any()  # no object seed
    full = np.full((4, 5), 0.95, np.float32)
    assert random_walker_mask(img, full).all()  # no background seed: prob > 0.5
    flat = np.full((4, 5), 0.95, np.float32)
    flat[:, 0] = 0.0
    flat[:, 2] = 0.5
    out = random_walker_mask(img, flat)  # a flat image still solves (no edge: the nearer seed wins)
    assert out[:, 3:].all() and not out[:, 0].any()
    assert best_mode(10) in ("cg_mg", "bf") and best_mode(10 ** 6) in ("cg_mg", "cg_j")


def test_bad_input_messages(tmp_path):
    img, prob, _ = _two_regions()
    with pytest.raises(ValueError, match="need 0 <= lo < hi <= 1, got lo=0.9, hi=0.1"):
        seeds_from_prob(prob, 0.9, 0.1)
    with pytest.raises(ValueError, match="mode must be one of"):
        random_walker_mask(img, prob, mode="amg")
    with pytest.raises(ValueError, match="beta must be > 0"):
        random_walker_mask(img, prob, beta=0)
    with pytest.raises(ValueError, match="image must be uint8"):
        random_walker_mask(img.astype(np.float32), prob)
    with pytest.raises(ValueError, match="prob must be"):
        random_walker_mask(img, prob[:5])
    with pytest.raises(ConfigError, match="lo must be < hi"):
        _config_with(tmp_path, lo=0.8, hi=0.3)
    st = RandomWalker()
    s = Sample(0, "0", np.zeros((10, 12, 3), np.uint8), {"prob": np.zeros((5, 5), np.float32)})
    with pytest.raises(ClassicsegError, match="refine.random_walker: prob is 5x5 but the frame is 12x10"):
        st.process(s)


def _config_with(d, **kw):
    lines = ["pipeline:", "  - stage: refine.random_walker"] + [f"    {k}: {v}" for k, v in kw.items()]
    (d / "p.yaml").write_text("\n".join(lines) + "\n")
    return resolve(config=str(d / "p.yaml"))


@pytest.mark.parametrize("refiner", [RandomWalker, GraphCut])
def test_stage_smoke_in_the_vos_chain(refiner):
    frames, masks = _clip(r=11)
    prop = Propagate()
    prop.set_init_mask(masks[0])
    pipe = Pipeline([DISFlow(scale=1.0), prop, refiner()])
    out = [pipe.push(Sample(i, f"{i:05d}", f))[0] for i, f in enumerate(frames)]
    for s, m in zip(out[1:], masks[1:]):
        assert s["fg"].dtype == bool
        assert (s["fg"] & m).sum() / (s["fg"] | m).sum() > 0.85
    assert get("refine.random_walker") is RandomWalker


def test_config_swaps_the_last_vos_stage(tmp_path):
    text = ("pipeline:\n  - stage: flow.dis\n    scale: 0.5\n  - stage: vos.propagate\n"
            "  - stage: refine.random_walker\n    beta: 90\n    mode: cg_j\n")
    (tmp_path / "rw.yaml").write_text(text)
    pipe = Pipeline.load(config=str(tmp_path / "rw.yaml"))
    assert pipe.stages[-1].params.beta == 90 and pipe.stages[-1].name == "refine.random_walker"


def test_eroded_seeds_leave_a_wider_band():
    p = np.zeros((9, 9), np.float32)
    p[2:7, 2:7] = 1.0
    lab = seeds_from_prob(p, erode=1)
    assert (lab == 1).sum() == 9 and lab[3:6, 3:6].min() == 1  # 5x5 object seeds -> 3x3
    assert lab[2, 2] == 0 and lab[1, 4] == 0 and lab[0, 0] == 2  # the ring around them is undecided
    with pytest.raises(ValueError, match="erode must be >= 0"):
        seeds_from_prob(p, erode=-1)
