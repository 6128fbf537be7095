"""Morphology on foreground masks (``morph.*``): open, close, median, fill holes, area filter.

Each stage is a thin wrapper around a plain function ``f(mask, ...) -> mask`` on
``bool (H, W)`` arrays; the functions never modify their input. The ``shadow`` slot
is left as it is.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

import cv2
import numpy as np
from pydantic import Field, field_validator

from classicseg import kernels
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.types import Sample

Shape = Literal["ellipse", "rect", "cross"]
_SHAPES = {"ellipse": cv2.MORPH_ELLIPSE, "rect": cv2.MORPH_RECT, "cross": cv2.MORPH_CROSS}


def _check_mask(mask: np.ndarray) -> np.ndarray:
    if mask.dtype != bool or mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D bool array, got {mask.dtype} {mask.shape}")
    return mask.view(np.uint8)  # 0/1 without a copy


@lru_cache(maxsize=64)
def structuring_element(radius: int, shape: Shape = "ellipse") -> np.ndarray:
    """A ``(2r+1, 2r+1)`` structuring element (OpenCV's ``getStructuringElement``)."""
    if radius < 1:
        raise ValueError(f"radius must be >= 1, got {radius}")
    return cv2.getStructuringElement(_SHAPES[shape], (2 * radius + 1, 2 * radius + 1))


def open_mask(mask: np.ndarray, radius: int = 1, shape: Shape = "ellipse", iterations: int = 1) -> np.ndarray:
    """Morphological opening (erode then dilate): removes specks smaller than the element."""
    out = cv2.morphologyEx(_check_mask(mask), cv2.MORPH_OPEN, structuring_element(radius, shape), iterations=iterations)
    return out.view(bool)


def close_mask(mask: np.ndarray, radius: int = 1, shape: Shape = "ellipse", iterations: int = 1) -> np.ndarray:
    """Morphological closing (dilate then erode): bridges gaps narrower than the element."""
    out = cv2.morphologyEx(_check_mask(mask), cv2.MORPH_CLOSE, structuring_element(radius, shape), iterations=iterations)
    return out.view(bool)


def median_mask(mask: np.ndarray, ksize: int = 5) -> np.ndarray:
    """Median filter of a binary mask: a pixel is set when most of its ``ksize`` x ``ksize`` window is."""
    if ksize < 3 or ksize % 2 == 0:
        raise ValueError(f"ksize must be odd and >= 3, got {ksize}")
    return cv2.medianBlur(_check_mask(mask), ksize).view(bool)


def fill_holes(mask: np.ndarray, max_hole_area: int | None = None, connectivity: int = 4) -> np.ndarray:
    """Set background regions that are enclosed by foreground (do not touch the border).

    Parameters
    ----------
    mask : ndarray of bool
    max_hole_area : int, optional
        Only holes of at most this many pixels are filled (``None``: all holes).
    connectivity : {4, 8}
        Connectivity of the background regions.

    Notes
    -----
    Uses the numba kernel :func:`classicseg.kernels.fill.fill_holes_numba` when numba
    is installed, else ``cv2.floodFill`` (all holes) or
    ``cv2.connectedComponentsWithStats`` (``max_hole_area``); all three give the same
    mask (P. Soille, *Morphological Image Analysis*, 2003, section 6.3.7).
    """
    _check_mask(mask)
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    from classicseg.kernels import fill  # imports numba on first use, not with the package

    if kernels.enabled():  # run-based numba kernel: ~5x the flood fill below
        return fill.fill_holes_numba(mask, max_hole_area, connectivity)
    if max_hole_area is None:
        return fill.fill_holes_floodfill(mask, connectivity)
    return fill.fill_holes_cv2(mask, max_hole_area, connectivity)


def remove_small(mask: np.ndarray, min_area: int, connectivity: int = 8) -> np.ndarray:
    """Drop connected components of fewer than ``min_area`` pixels."""
    u8 = _check_mask(mask)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(u8, connectivity=connectivity)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    if keep[1:].all():
        return mask.copy()
    return keep[labels]


class _MorphParams(Params):
    radius: int = Field(1, ge=1, le=50, description="structuring element radius (size 2r+1)")
    shape: Shape = Field("ellipse", description="structuring element shape")
    iterations: int = Field(1, ge=1, le=10, description="times the operation is applied")


class _MaskStage(Stage):
    requires = ("fg",)
    provides = ("fg",)

    def apply(self, mask: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def process(self, sample: Sample) -> Sample:
        sample["fg"] = self.apply(sample["fg"])
        return sample


@register
class Open(_MaskStage):
    """Morphological opening of the foreground: removes isolated specks."""

    name = "morph.open"
    Params = _MorphParams

    def apply(self, mask):
        p = self.params
        return open_mask(mask, p.radius, p.shape, p.iterations)


@register
class Close(_MaskStage):
    """Morphological closing of the foreground: bridges small gaps."""

    name = "morph.close"
    Params = _MorphParams

    def apply(self, mask):
        p = self.params
        return close_mask(mask, p.radius, p.shape, p.iterations)


class MedianParams(Params):
    ksize: int = Field(5, ge=3, le=31, description="odd window size")

    @field_validator("ksize")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"must be odd, got {v}")
        return v


@register
class Median(_MaskStage):
    """Median filter of the foreground mask: majority vote in a square window."""

    name = "morph.median"
    Params = MedianParams

    def apply(self, mask):
        return median_mask(mask, self.params.ksize)


class FillParams(Params):
    max_hole_area: int | None = Field(None, ge=1, le=10**9, description="fill only holes up to this area (null = all)")
    connectivity: Literal[4, 8] = Field(4, description="connectivity of background regions")


@register
class FillHoles(_MaskStage):
    """Fill background regions enclosed by foreground."""

    name = "morph.fill_holes"
    Params = FillParams

    def apply(self, mask):
        return fill_holes(mask, self.params.max_hole_area, self.params.connectivity)


class AreaParams(Params):
    min_area: int = Field(50, ge=1, le=10**9, description="components smaller than this (pixels) are dropped")
    connectivity: Literal[4, 8] = Field(8, description="pixel connectivity of components")


@register
class AreaFilter(_MaskStage):
    """Drop foreground blobs under a minimum area."""

    name = "morph.min_area"
    Params = AreaParams

    def apply(self, mask):
        return remove_small(mask, self.params.min_area, self.params.connectivity)
