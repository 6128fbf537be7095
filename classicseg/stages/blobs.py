"""Connected components to blobs (``blobs.components``)."""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.types import Blob, Sample


def find_blobs(mask: np.ndarray, min_area: int = 1, connectivity: int = 8) -> list[Blob]:
    """Connected components of a bool mask as :class:`Blob` records (box, area, centroid).

    Components smaller than ``min_area`` pixels are skipped. Labels are 1-based in
    scan order.
    """
    if mask.dtype != bool or mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D bool array, got {mask.dtype} {mask.shape}")
    n, _, stats, cents = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=connectivity)
    out = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area >= min_area:
            out.append(Blob(i, x, y, w, h, area, float(cents[i, 0]), float(cents[i, 1])))
    return out


class BlobParams(Params):
    min_area: int = Field(1, ge=1, le=10**9, description="ignore components smaller than this (pixels)")
    connectivity: Literal[4, 8] = Field(8, description="pixel connectivity")


@register
class Components(Stage):
    """Connected components of the foreground as blobs with box, area and centroid."""

    name = "blobs.components"
    Params = BlobParams
    requires = ("fg",)
    provides = ("blobs",)

    def process(self, sample: Sample) -> Sample:
        sample["blobs"] = find_blobs(sample["fg"], self.params.min_area, self.params.connectivity)
        return sample
