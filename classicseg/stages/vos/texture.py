"""Per-pixel colour-and-texture features (LBP histograms) and the logistic classifier on them.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ['N_FEATURES', 'pixel_features', 'uniform_lbp', 'PixelClassifier']

N_FEATURES = 18


def pixel_features(image: np.ndarray, box=None, scale: float = 3.0) -> np.ndarray:
    """Per-pixel colour and texture features for :class:`PixelClassifier`.

    Eighteen channels, each scaled to about [0, 1]: the three colour channels, their
    local means (Gaussian, ``scale`` px), the local standard deviation of the first
    (lightness) channel, the local mean gradient magnitude, and the local histogram
    (Gaussian window, ``scale`` px) of the ten rotation-invariant uniform local binary
    patterns of the lightness (8 neighbours, radius 1). Colour alone confuses a shaded
    object with dark background; the texture channels tell smooth paint or sky from
    asphalt, foliage or fur.

    Parameters
    ----------
    image : ndarray
        uint8 ``(H, W, 3)``, lightness first (Lab).
    box : (y0, y1, x0, x1), optional
        Compute only inside it; the result has the box's shape.
    scale : float
        Standard deviation (px) of the local windows.

    Returns
    -------
    ndarray
        float32 ``(h, w, 18)``.

    References
    ----------
    T. Ojala, M. Pietikäinen, T. Mäenpää, "Multiresolution Gray-Scale and Rotation
    Invariant Texture Classification with Local Binary Patterns", TPAMI 24(7), 2002.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be uint8 (H, W, 3), got {img.dtype} {img.shape}")
    if box is not None:
        y0, y1, x0, x1 = box
        img = img[y0:y1, x0:x1]
    h, w = img.shape[:2]
    out = np.empty((h, w, N_FEATURES), np.float32)
    col = img.astype(np.float32) * np.float32(1 / 255)
    out[:, :, 0:3] = col
    out[:, :, 3:6] = cv2.GaussianBlur(col, (0, 0), scale)
    lum = np.ascontiguousarray(col[:, :, 0])
    mean = out[:, :, 3]
    var = cv2.GaussianBlur(lum * lum, (0, 0), scale) - mean * mean
    out[:, :, 6] = 4.0 * np.sqrt(np.maximum(var, 0))
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1)
    out[:, :, 7] = cv2.GaussianBlur(cv2.magnitude(gx, gy), (0, 0), scale)
    codes = uniform_lbp(img[:, :, 0])
    onehot = np.zeros((h, w, 10), np.float32)
    np.put_along_axis(onehot, codes[:, :, None], 1.0, axis=2)
    out[:, :, 8:] = cv2.GaussianBlur(onehot, (0, 0), scale)
    return out


def uniform_lbp(gray: np.ndarray) -> np.ndarray:
    """Rotation-invariant uniform LBP codes (P=8, R=1; 0..9) of a grey image, uint8: the numba
    kernel where numba is enabled, else its bit-exact twin, scikit-image (see
    :mod:`classicseg.kernels.lbp`)."""
    from classicseg import kernels
    from classicseg.kernels.lbp import lbp_numba, lbp_skimage

    fn = lbp_numba if kernels.enabled() else lbp_skimage
    return fn(gray, "uniform").astype(np.uint8)


def _design(x: np.ndarray) -> np.ndarray:
    """Features, squares of the six colour channels, and a constant."""
    return np.concatenate([x, x[:, :6] ** 2, np.ones((len(x), 1), x.dtype)], axis=1)


class PixelClassifier:
    """Logistic regression object-vs-background on :func:`pixel_features`.

    Trained by Newton's method (L2 penalty ``l2``) on a fixed set of pixels from the
    first frame (``anchor``) plus the pixels of the last ``memory`` frames that were
    labelled with confidence (:func:`confident_labels`): the first frame keeps the
    object's look, the recent frames follow it into shade or a new pose. Each class of
    each frame gives at most ``samples`` pixels (drawn at random, fixed seed).

    References
    ----------
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016
    (appearance model updated from the segmented frames); X. Bai, J. Wang, D. Simons,
    G. Sapiro, "Video SnapCut", SIGGRAPH 2009 (colour and shape/texture cues learned from
    the previous frame).
    """

    def __init__(self, samples: int = 3000, memory: int = 3, l2: float = 1.0, iterations: int = 8,
                 seed: int = 0) -> None:
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        if memory < 0:
            raise ValueError(f"memory must be >= 0, got {memory}")
        self.samples, self.memory, self.l2, self.iterations = samples, memory, l2, iterations
        self.rng = np.random.default_rng(seed)
        self.anchor: tuple[np.ndarray, np.ndarray] | None = None
        self.recent: list[tuple[np.ndarray, np.ndarray]] = []
        self.w: np.ndarray | None = None

    @property
    def ready(self) -> bool:
        return self.w is not None

    def _draw(self, feats: np.ndarray, fg: np.ndarray, bg: np.ndarray):
        xs, ys = [], []
        for sel, label in ((fg, 1.0), (bg, 0.0)):
            idx = np.flatnonzero(sel.ravel())
            if idx.size > self.samples:
                idx = self.rng.choice(idx, self.samples, replace=False)
            xs.append(feats.reshape(-1, feats.shape[-1])[idx])
            ys.append(np.full(idx.size, label))
        return np.concatenate(xs), np.concatenate(ys)

    def add(self, feats: np.ndarray, fg: np.ndarray, bg: np.ndarray, anchor: bool = False) -> None:
        """Add the pixels ``fg`` (object) and ``bg`` of ``feats`` ``(h, w, d)`` and refit.

        With ``anchor`` they replace the first-frame set (both classes must be non-empty);
        otherwise they join the recent frames (the oldest beyond ``memory`` is dropped;
        a frame with an empty class is skipped)."""
        if fg.shape != feats.shape[:2] or bg.shape != feats.shape[:2]:
            raise ValueError(f"fg/bg must be {feats.shape[:2]}, got {fg.shape} and {bg.shape}")
        if not fg.any() or not bg.any():
            if anchor:
                from classicseg.errors import ClassicsegError  # the user's mask: a one-line error

                raise ClassicsegError("the first frame needs both object and background pixels away from the "
                                      "mask's edge (the initial mask covers nearly the whole frame, or nothing)")
            return
        if anchor:
            self.anchor = self._draw(feats, fg, bg)
            self.recent = []
        elif self.memory > 0:
            self.recent = (self.recent + [self._draw(feats, fg, bg)])[-self.memory:]
        else:
            return
        self.fit()

    def fit(self) -> None:
        """Fit the weights on the anchor and recent pixels (class-balanced)."""
        sets = ([self.anchor] if self.anchor is not None else []) + self.recent
        x = _design(np.concatenate([s[0] for s in sets]).astype(np.float64))
        y = np.concatenate([s[1] for s in sets])
        n1 = max(y.sum(), 1.0)
        n0 = max(len(y) - y.sum(), 1.0)
        sw = np.where(y > 0, len(y) / (2 * n1), len(y) / (2 * n0))
        w = np.zeros(x.shape[1]) if self.w is None else self.w.copy()
        reg = self.l2 * np.eye(x.shape[1])
        reg[-1, -1] = 0.0
        for _ in range(self.iterations):
            p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
            g = x.T @ (sw * (p - y)) + reg @ w
            hess = (x * (sw * p * (1 - p))[:, None]).T @ x + reg + 1e-9 * np.eye(len(w))
            w -= np.linalg.solve(hess, g)
        self.w = w

    def logit(self, feats: np.ndarray) -> np.ndarray:
        """float32 log-odds of object for every pixel of ``feats`` ``(h, w, d)``."""
        if self.w is None:
            raise ValueError("pixel classifier has not been trained")
        x = feats.reshape(-1, feats.shape[-1])
        w = self.w.astype(np.float32)
        d = x.shape[1]
        z = x @ w[:d] + (x[:, :6] ** 2) @ w[d:d + 6] + w[-1]
        return z.reshape(feats.shape[:2])
