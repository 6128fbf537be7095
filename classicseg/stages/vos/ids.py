"""Object ids carried along the flow and reassigned to a final mask.
"""
from __future__ import annotations

import cv2
import numpy as np

from classicseg.stages.flow import warp

__all__ = ['warp_ids', 'assign_ids']

def warp_ids(ids: np.ndarray | None, flow: np.ndarray) -> np.ndarray | None:
    """Object ids of frame ``t - 1`` carried to frame ``t`` (nearest neighbour)."""
    if ids is None:
        return None
    return warp(ids, flow, cv2.INTER_NEAREST)


def assign_ids(fg: np.ndarray, ids: np.ndarray | None) -> np.ndarray:
    """Object ids of the final mask: each ``fg`` pixel takes the id of the nearest pixel
    that ``ids`` labels (ids from the propagated previous frame); background is 0."""
    if ids is None or not ids.any():
        return fg.view(np.uint8).copy()
    labelled = ids > 0
    if int(ids.max()) == int(ids[labelled].min()):  # one object
        return np.where(fg, ids.max(), 0).astype(np.uint8)
    out = np.where(fg, ids, 0).astype(np.uint8)
    todo = fg & ~labelled
    if todo.any():
        _, lab = cv2.distanceTransformWithLabels((~labelled).view(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
        ys, xs = np.nonzero(labelled)
        seed_ids = np.zeros(lab.max() + 1, np.uint8)
        seed_ids[lab[ys, xs]] = ids[ys, xs]
        out[todo] = seed_ids[lab[todo]]
    return out
