"""Re-detection of a lost object: the whole frame searched with the object's appearance model.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

__all__ = ["search_object", "Redetector"]


def search_object(prob: np.ndarray, area: float, accept: float = 0.75, area_range: tuple[float, float] = (0.25, 4.0),
                  smooth: float = 2.0) -> np.ndarray | None:
    """The region of a frame that looks most like the object, or ``None``.

    ``prob`` is an appearance-only object probability of every pixel (no location
    prior). It is smoothed (Gaussian, ``smooth`` px), thresholded at 0.5 and opened; each
    8-connected component whose area lies within ``area_range`` × ``area`` (the object's
    size before it was lost) is a candidate, scored by its mean ``prob``. The best
    candidate is returned if its score is at least ``accept``.

    Parameters
    ----------
    prob : ndarray
        float ``(H, W)`` in [0, 1].
    area : float
        The object's expected size (px), > 0.
    accept : float
        Smallest mean probability of an accepted region, in (0.5, 1].
    area_range : (float, float)
        Smallest and largest candidate size as multiples of ``area``.
    smooth : float
        Standard deviation (px) of the blur before thresholding (0: none).

    Returns
    -------
    ndarray of bool or None
        The chosen region.

    References
    ----------
    Z. Kalal, K. Mikolajczyk, J. Matas, "Tracking-Learning-Detection", TPAMI 34(7), 2012
    (a detector over the whole frame re-initialises a tracker that failed); X. Bai et al.,
    "Video SnapCut", SIGGRAPH 2009 (the object's colour model).
    """
    p = np.asarray(prob, np.float32)
    if p.ndim != 2:
        raise ValueError(f"prob must be (H, W), got shape {p.shape}")
    if not area > 0:
        raise ValueError(f"area must be > 0, got {area}")
    if not 0.5 < accept <= 1.0:
        raise ValueError(f"accept must be in (0.5, 1], got {accept}")
    lo, hi = area_range
    if not 0 < lo <= hi:
        raise ValueError(f"area_range must be 0 < low <= high, got {area_range}")
    if smooth > 0:
        p = cv2.GaussianBlur(p, (0, 0), smooth)
    sel = (p > 0.5).view(np.uint8)
    sel = cv2.morphologyEx(sel, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(sel, connectivity=8)
    if n <= 1:
        return None
    sizes = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    means = np.bincount(labels.ravel(), weights=p.ravel(), minlength=n)[1:] / np.maximum(sizes, 1)
    ok = (sizes >= lo * area) & (sizes <= hi * area) & (means >= accept)
    if not ok.any():
        return None
    best = int(np.argmax(np.where(ok, means, -1.0))) + 1
    return labels == best


class Redetector:
    """When the propagated object is lost, find it again in the whole frame.

    Propagation alone cannot recover an object that was hidden, left the frame or moved
    faster than the flow follows: once its mask is empty (or has collapsed) there is
    nothing left to carry. This keeps the object's size over the frames where it was
    tracked with confidence (the median area of the last ``memory`` such frames) and
    declares it lost when the mask falls below ``lost_ratio`` of that size. While it is
    lost, each frame is searched with an appearance-only probability (the first-frame
    colour model and the classifier, no location prior; :func:`search_object`), and a
    confident match re-seeds the propagation. A frame is *confident* (its pixels may
    train the recent appearance models) only while the object is not lost.

    Parameters
    ----------
    lost_ratio : float
        The object is lost when its area is below this share of the reference size.
    accept : float
        Smallest mean appearance probability of a re-detected region.
    memory : int
        Confident frames whose areas give the reference size.
    """

    def __init__(self, lost_ratio: float = 0.2, accept: float = 0.75, memory: int = 10) -> None:
        if not 0 < lost_ratio < 1:
            raise ValueError(f"lost_ratio must be in (0, 1), got {lost_ratio}")
        if memory < 1:
            raise ValueError(f"memory must be >= 1, got {memory}")
        self.lost_ratio, self.accept = lost_ratio, accept
        self.areas: deque[int] = deque(maxlen=memory)
        self.lost = False
        self.found = 0  # re-detections so far

    @property
    def reference(self) -> float:
        """The object's size (px) over the recent confident frames (0 before any)."""
        return float(np.median(self.areas)) if self.areas else 0.0

    def observe(self, mask: np.ndarray) -> bool:
        """Record the final mask of a frame; returns whether the object is now lost."""
        area = int(np.count_nonzero(mask))
        ref = self.reference
        self.lost = area == 0 or (ref > 0 and area < self.lost_ratio * ref)
        if not self.lost:
            self.areas.append(area)
        return self.lost

    def search(self, prob: np.ndarray) -> np.ndarray | None:
        """The region of ``prob`` (appearance-only object probability) to re-seed from, or None."""
        ref = self.reference
        if ref <= 0:
            return None
        found = search_object(prob, ref, self.accept)
        if found is not None:
            self.found += 1
        return found
