"""A rigid shape template: the first-frame mask carried by the object's accumulated affine motion.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ['object_affine', 'ShapeTemplate']

def object_affine(flow: np.ndarray, inside: np.ndarray, samples: int = 4000, threshold: float = 1.0,
                  seed: int = 0) -> tuple[np.ndarray | None, float]:
    """Robust affine fit of the flow over the pixels ``inside`` (RANSAC): ``x_{t-1} = A·[x_t, 1]``.

    Returns the 2x3 matrix (``None`` with fewer than 6 pixels or no fit) and the share of
    the sampled pixels within ``threshold`` px of it."""
    ys, xs = np.nonzero(inside)
    if xs.size < 6:
        return None, 0.0
    if xs.size > samples:
        idx = np.random.default_rng(seed).choice(xs.size, samples, replace=False)
        ys, xs = ys[idx], xs[idx]
    src = np.stack([xs, ys], 1).astype(np.float32)
    dst = src + flow[ys, xs]
    a, inl = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold)
    return a, (float(inl.mean()) if a is not None else 0.0)


class ShapeTemplate:
    """The first-frame mask carried to frame ``t`` by the object's accumulated affine motion.

    Each frame the flow inside the warped previous mask is fitted by an affine map
    (:func:`object_affine`); the maps compose into one from frame ``t`` to the first
    frame. Where the object is rigid the template keeps parts that the frame-to-frame
    propagation lost and that colour no longer tells from the background (a car whose
    front drives into shade): the per-frame cues only see the current look, the template
    remembers the shape. Its weight follows the share of the object's flow within
    ``threshold`` px of one affine map (``rigidity``, an exponential average over frames
    with ``memory``), mapped from [``floor``, 1] to [0, 1], so that it abstains on
    articulated or non-rigid objects (a walking dog: ~0.4; a car: ~0.8; a swimming swan:
    ~0.9). It gives positive evidence ``depth`` px inside its outline and, with ``outside``
    > 0, that share of it as negative evidence beyond ``depth`` px outside (a rigid object
    does not grow a shadow or a strip of kerb); near the outline, which may be a few pixels
    off, it abstains.

    References
    ----------
    M. A. Fischler, R. C. Bolles, "Random Sample Consensus", CACM 1981 (the robust fit);
    X. Bai, J. Wang, D. Simons, G. Sapiro, "Video SnapCut", SIGGRAPH 2009 (a shape
    model carried along with the object).
    """

    def __init__(self, mask: np.ndarray, floor: float = 0.5, depth: int = 10, threshold: float = 1.0,
                 memory: float = 0.7, outside: float = 0.0) -> None:
        self.mask = np.asarray(mask, bool).astype(np.float32)
        self.a = np.eye(3)
        self.rigidity: float | None = None
        self.floor, self.depth, self.threshold, self.memory = floor, depth, threshold, memory
        self.outside = outside

    def step(self, flow: np.ndarray, warped: np.ndarray) -> None:
        inner = cv2.distanceTransform(warped.view(np.uint8), cv2.DIST_L2, 3) > 3
        a, share = object_affine(flow, inner if np.count_nonzero(inner) >= 6 else warped, threshold=self.threshold)
        if a is not None:
            self.a = self.a @ np.vstack([a, [0.0, 0.0, 1.0]])
        self.rigidity = share if self.rigidity is None else self.memory * self.rigidity + (1 - self.memory) * share

    def outline(self) -> np.ndarray:
        """bool template on the current frame."""
        h, w = self.mask.shape
        return cv2.warpAffine(self.mask, self.a[:2], (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) > 0.5

    def evidence(self) -> np.ndarray:
        """float32 weight in [-outside, 1] of "object" for every pixel (0 within ``depth`` px of
        the outline, and outside it when ``outside`` is 0)."""
        h, w = self.mask.shape
        weight = 0.0 if self.rigidity is None else max(0.0, (self.rigidity - self.floor) / (1 - self.floor))
        if weight <= 0:
            return np.zeros((h, w), np.float32)
        t = self.outline()
        u8 = t.view(np.uint8)
        ev = (cv2.distanceTransform(u8, cv2.DIST_L2, 3) > self.depth).astype(np.float32)
        if self.outside > 0:
            ev[cv2.distanceTransform(1 - u8, cv2.DIST_L2, 3) > self.depth] = -np.float32(self.outside)
        return ev * np.float32(weight)
