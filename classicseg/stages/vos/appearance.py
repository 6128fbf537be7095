"""Colour models of an object and its surroundings (histograms in Lab, first frame and recent).
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from classicseg.geometry import roi_box
from classicseg.stages.vos.logodds import fuse, logit, sigmoid

__all__ = ['ColorModel', 'TwoColourModels', 'to_colour_space', 'model_regions', 'fuse_in_box']

class ColorModel:
    """Object and background colour histograms; posterior P(object | colour).

    Colours are quantised to ``bins`` levels per channel (``bins³`` cells). Both
    histograms are normalised; each cell gets a prior count of ``prior`` (in units of a
    uniform histogram's cell mass) so that unseen colours are 0.5.

    References
    ----------
    M. J. Swain, D. H. Ballard, "Color Indexing", IJCV 7(1), 1991 (histograms);
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016
    (appearance term updated over time).
    """

    def __init__(self, bins: int = 16, prior: float = 1.0, smooth: float = 0.0) -> None:
        if bins < 2 or bins > 64:
            raise ValueError(f"bins must be in 2..64, got {bins}")
        self.bins = bins
        self.prior = prior
        self.smooth = smooth
        self.shift = 8 - int(np.log2(bins)) if (bins & (bins - 1)) == 0 else None
        self.fg: np.ndarray | None = None
        self.bg: np.ndarray | None = None
        self._lut: np.ndarray | None = None

    def index(self, image: np.ndarray) -> np.ndarray:
        """Histogram cell of every pixel, int32 of the image's leading shape."""
        img = np.asarray(image)
        if img.dtype != np.uint8 or img.shape[-1] != 3:
            raise ValueError(f"image must be uint8 (..., 3), got {img.dtype} {img.shape}")
        b = self.bins
        if self.shift is not None:
            q = (img >> self.shift).astype(np.int32)
        else:
            q = (img.astype(np.int32) * b) >> 8
        return (q[..., 0] * b + q[..., 1]) * b + q[..., 2]

    def _hist(self, idx: np.ndarray) -> np.ndarray:
        h = np.bincount(idx.ravel(), minlength=self.bins ** 3).astype(np.float64)
        if self.smooth > 0:
            h = cv2.GaussianBlur(h.reshape(self.bins, self.bins * self.bins), (0, 0), self.smooth).ravel()
        s = h.sum()
        return h / s if s > 0 else h

    def update(self, image: np.ndarray, fg: np.ndarray, bg: np.ndarray, rate: float = 1.0) -> None:
        """Blend the histograms of the pixels ``fg`` and ``bg`` of ``image`` into the model
        (``rate = 1`` replaces it; an empty set leaves its histogram as it is)."""
        idx = self.index(image)
        for name, sel in (("fg", fg), ("bg", bg)):
            if not sel.any():
                continue
            h = self._hist(idx[sel])
            old = getattr(self, name)
            setattr(self, name, h if old is None or rate >= 1 else (1 - rate) * old + rate * h)
        self._lut = None

    @property
    def ready(self) -> bool:
        return self.fg is not None and self.bg is not None

    def lut(self) -> np.ndarray:
        """float32 table cell -> P(object | colour)."""
        if self._lut is None:
            if not self.ready:
                raise ValueError("colour model has not seen both object and background pixels")
            u = self.prior / self.bins ** 3
            f, b = self.fg + u, self.bg + u
            self._lut = (f / (f + b)).astype(np.float32)
        return self._lut

    def posterior(self, image: np.ndarray) -> np.ndarray:
        """float32 P(object | colour) of every pixel of ``image``."""
        return self.lut()[self.index(image)]


class TwoColourModels:
    """The first-frame colour model and a recent one, combined in log-odds.

    ``combine = "mix"``: ``(1 − weight)·z_first + weight·z_recent``; ``"max"``: the larger
    of the two, so that either model can vouch for the object (the object seen in shade by
    the recent model, its first-frame look by the other). Until the recent model has seen
    both classes, the first-frame model alone is used. Same interface as
    :class:`ColorModel` (``ready``, ``posterior``).

    References
    ----------
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016
    (appearance updated from segmented frames); X. Bai, J. Wang, D. Simons, G. Sapiro,
    "Video SnapCut", SIGGRAPH 2009 (a fixed first-frame model kept beside updated ones).
    """

    def __init__(self, first: ColorModel, recent: ColorModel, weight: float = 0.5,
                 combine: Literal["mix", "max"] = "mix") -> None:
        if combine not in ("mix", "max"):
            raise ValueError(f"combine must be 'mix' or 'max', got {combine!r}")
        if not 0 <= weight <= 1:
            raise ValueError(f"weight must be in [0, 1], got {weight}")
        self.first, self.recent, self.weight, self.combine = first, recent, weight, combine

    @property
    def ready(self) -> bool:
        return self.first.ready

    def posterior(self, image: np.ndarray) -> np.ndarray:
        """float32 P(object | colour) of every pixel of ``image``."""
        p0 = self.first.posterior(image)
        if not self.recent.ready:
            return p0
        z0, zr = logit(p0), logit(self.recent.posterior(image))
        z = np.maximum(z0, zr) if self.combine == "max" else (1 - self.weight) * z0 + self.weight * zr
        return sigmoid(z)


def to_colour_space(image: np.ndarray, space: str) -> np.ndarray:
    """A BGR frame in the colour space the colour models use: ``lab``, ``hsv`` or ``bgr``."""
    if space == "lab":
        return cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    if space == "hsv":
        return cv2.cvtColor(image, cv2.COLOR_BGR2HSV_FULL)
    return image


def model_regions(mask: np.ndarray, band: int, confident: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels to learn object and background colours from: the mask eroded by ``confident``
    px (the whole mask if that leaves nothing), and the ring from ``confident`` to ``band``
    px outside it."""
    u8 = mask.view(np.uint8)
    inside = cv2.distanceTransform(u8, cv2.DIST_L2, 3)
    fg = inside > confident
    if not fg.any():
        fg = mask
    outside = cv2.distanceTransform(1 - u8, cv2.DIST_L2, 3)
    return fg, (outside > confident) & (outside <= band)


def fuse_in_box(prob, image, colour: ColorModel, w_motion, w_colour, margin, min_margin, box=False,
                limit: float = 0.0) -> np.ndarray:
    """Fuse ``prob`` with the colour posterior inside the work box of ``prob > 0.5`` (or the
    ``box`` given); 0 outside it. With ``limit`` > 0 the colour log-odds are clipped to
    ``±limit`` (a rare colour seen only on one side is not proof)."""
    if box is False:
        box = roi_box(prob > 0.5, margin, min_margin)
    out = np.zeros_like(prob)
    if box is None or not colour.ready or w_colour == 0:
        return prob if box is not None else out
    y0, y1, x0, x1 = box
    post = colour.posterior(image[y0:y1, x0:x1])
    if limit > 0:
        lo = np.float32(1.0 / (1.0 + np.exp(limit)))
        post = np.clip(post, lo, 1 - lo)
    out[y0:y1, x0:x1] = fuse(prob[y0:y1, x0:x1], post, w_motion, w_colour)
    return out
