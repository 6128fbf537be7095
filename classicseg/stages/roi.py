"""Region-of-interest masking (``roi.mask``)."""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from classicseg.errors import ClassicsegError
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.types import Sample


def polygon_mask(shape: tuple[int, int], polygon, check_inside: bool = True) -> np.ndarray:
    """Rasterise a polygon given as ``[[x, y], ...]`` pixel coordinates into a bool mask.

    A vertex outside the frame is an error when ``check_inside`` (a zone drawn for
    another resolution is a mistake worth hearing about).
    """
    pts = np.asarray(polygon, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
        raise ValueError(f"polygon needs at least 3 [x, y] points, got {np.shape(polygon)}")
    h, w = shape
    if check_inside:
        bad = (pts[:, 0] < 0) | (pts[:, 0] > w) | (pts[:, 1] < 0) | (pts[:, 1] > h)
        if bad.any():
            x, y = pts[np.argmax(bad)]
            raise ClassicsegError(f"polygon point ({x:g}, {y:g}) lies outside the {w}x{h} frame")
    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.round(pts).astype(np.int32)], 1)
    return out.view(bool)


class ROIParams(Params):
    image: str | None = Field(None, description="mask image: non-zero pixels are inside")
    polygon: list[tuple[float, float]] | None = Field(None, max_length=10_000, description="[[x, y], ...] polygon in pixels")
    invert: bool = Field(False, description="keep the outside instead")
    on_size_mismatch: Literal["error", "resize"] = Field(
        "error", description="an ROI image of another size than the frames: fail, or resize (nearest)"
    )

    @model_validator(mode="after")
    def _one_of(self):
        if (self.image is None) == (self.polygon is None):
            raise ValueError("give exactly one of image or polygon")
        if self.polygon is not None and len(self.polygon) < 3:
            raise ValueError(f"polygon needs at least 3 points, got {len(self.polygon)}")
        return self


@register
class ROIMask(Stage):
    """Keep foreground only inside a region of interest (image or polygon)."""

    name = "roi.mask"
    Params = ROIParams
    requires = ("fg",)
    provides = ("fg", "roi", "shadow")  # shadow: cut to the region too, when an earlier stage wrote one

    def reset(self) -> None:
        self.mask: np.ndarray | None = None
        self._image = None
        if self.params.image is not None:
            from classicseg.io.images import read_mask

            self._image = read_mask(self.params.image)

    def build(self, shape: tuple[int, int]) -> np.ndarray:
        p = self.params
        if self._image is not None:
            m = self._image
            if m.shape != shape:
                if p.on_size_mismatch == "error":
                    raise ClassicsegError(
                        f"ROI image {p.image} is {m.shape[1]}x{m.shape[0]} but frames are "
                        f"{shape[1]}x{shape[0]} (set on_size_mismatch: resize to rescale it)"
                    )
                m = cv2.resize(m.view(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).view(bool)
        else:
            m = polygon_mask(shape, p.polygon)
        return ~m if p.invert else m

    def process(self, sample: Sample) -> Sample:
        if self.mask is None or self.mask.shape != sample.shape:
            self.mask = self.build(sample.shape)
        sample["fg"] = sample["fg"] & self.mask
        if "shadow" in sample:
            sample["shadow"] = sample["shadow"] & self.mask
        sample["roi"] = self.mask
        return sample
