"""Real-data check of the ``refine`` preset: a weak model's masks on a DAVIS 2016 sequence get better."""
import numpy as np
import pytest

from classicseg import session
from classicseg.degrade import weak_model_masks
from classicseg.metrics.davis import boundary_f, jaccard, read_indexed_mask

pytestmark = pytest.mark.realdata

N = 15  # frames of car-shadow (about 15 s on one core)


def _jf(preds, gts):
    # DAVIS rules: the first (given) and last frames are left out
    pairs = list(zip(gts, preds))[1:-1]
    j = np.mean([jaccard(g, p) for g, p in pairs])
    f = np.mean([boundary_f(g, p) for g, p in pairs])
    return (j + f) / 2


def test_refine_preset_improves_degraded_davis_masks(shared_data):
    root = shared_data / "davis2016"
    seq = "car-shadow"
    files = sorted((root / "Annotations" / "480p" / seq).glob("*.png"))[:N]
    gts = [read_indexed_mask(f) > 0 for f in files]
    weak = weak_model_masks(gts, seed=0)
    out = []
    session.run(session.Request(input=root / "JPEGImages" / "480p" / seq, preset="refine", max_frames=N,
                                prior=lambda s: weak[s.index], on_sample=out.append))
    before, after = _jf(weak, gts), _jf([s["fg"] for s in out], gts)
    print(f"{seq}, {N} frames: J&F degraded {before:.3f} -> refined {after:.3f}")
    assert after > before + 0.03, (before, after)
