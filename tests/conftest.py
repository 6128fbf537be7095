import os
from pathlib import Path

import cv2
import numpy as np
import pytest

cv2.setNumThreads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CLASSICSEG_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason=f"real data not found at {SHARED_DATA}")
    if not SHARED_DATA.is_dir():
        for item in items:
            if "realdata" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def shared_data():
    return SHARED_DATA


@pytest.fixture
def moving_square():
    """A tiny clip: grey background with noise, a bright square moving right from frame 10."""

    def make(n=40, h=48, w=64, size=8, start=10, seed=0):
        rng = np.random.default_rng(seed)
        frames, gts = [], []
        for t in range(n):
            f = np.full((h, w, 3), 90, np.uint8)
            f = np.clip(f + rng.normal(0, 2, f.shape), 0, 255).astype(np.uint8)
            gt = np.zeros((h, w), bool)
            if t >= start:
                x = 4 + (t - start) * 2
                if x + size < w:
                    f[20:20 + size, x:x + size] = 230
                    gt[20:20 + size, x:x + size] = True
            frames.append(f)
            gts.append(gt)
        return frames, gts

    return make
