"""Seeds on a real DAVIS frame (needs ../shared/data)."""
import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest

from classicseg.io.masks import read_init_mask
from classicseg.io.seeds import Seeds
from classicseg.stages.vos.seeds import seed_ids

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "eval_annotate.py"


@pytest.mark.realdata
def test_box_and_scribbles_on_dog(shared_data):
    root = shared_data / "davis2016"
    img = cv2.imread(str(root / "JPEGImages" / "480p" / "dog" / "00000.jpg"))
    gt = read_init_mask(root / "Annotations" / "480p" / "dog" / "00000.png") > 0
    ys, xs = np.nonzero(gt)
    box = (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    m = seed_ids(img, Seeds(boxes=[(1, box)])) > 0
    assert (m & gt).sum() / (m | gt).sum() > 0.75  # measured 0.81
    scribbles = runpy.run_path(str(SAMPLE), run_name="x")["simulated_scribbles"](gt)
    m = seed_ids(img, Seeds(scribbles=scribbles)) > 0
    assert (m & gt).sum() / (m | gt).sum() > 0.8  # measured 0.87
