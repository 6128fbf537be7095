"""Frame differencing: the simplest motion detector."""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np
from pydantic import Field, field_validator

from classicseg.registry import register
from classicseg.stages.bgsub.base import gray_of
from classicseg.stage import Params, Stage
from classicseg.types import Sample


def frame_difference(gray: np.ndarray, reference: np.ndarray, threshold: int) -> np.ndarray:
    """Pixels whose grey level differs from ``reference`` by more than ``threshold``.

    Parameters
    ----------
    gray, reference : ndarray of uint8, shape (H, W)
    threshold : int
        Absolute grey-level difference above which a pixel is foreground.

    Returns
    -------
    ndarray of bool, shape (H, W)
    """
    if gray.shape != reference.shape:
        raise ValueError(f"frame is {gray.shape} but the reference is {reference.shape}")
    return cv2.absdiff(gray, reference) > threshold


class FrameDiffParams(Params):
    threshold: int = Field(25, ge=0, le=254, description="grey-level difference that counts as change")
    gap: int = Field(1, ge=1, le=300, description="compare frame t with frame t-gap")
    blur: int = Field(0, ge=0, le=99, description="Gaussian blur kernel size before differencing (0 = none, odd)")

    @field_validator("blur")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v and v % 2 == 0:
            raise ValueError(f"must be 0 or odd, got {v}")
        return v


@register
class FrameDiff(Stage):
    """Absolute difference with the frame ``gap`` frames earlier, thresholded."""

    name = "bgsub.framediff"
    Params = FrameDiffParams
    provides = ("fg",)
    cite = "R. Jain, H.-H. Nagel, On the analysis of accumulative difference pictures, TPAMI 1979"

    def memory_per_pixel(self) -> int:
        return 16 + self.params.gap

    def reset(self) -> None:
        self.history: deque[np.ndarray] = deque(maxlen=self.params.gap)

    def process(self, sample: Sample) -> Sample:
        gray = gray_of(sample)
        smooth = cv2.GaussianBlur(gray, (self.params.blur,) * 2, 0) if self.params.blur else gray
        if len(self.history) < self.params.gap:
            fg = np.zeros(gray.shape, bool)  # nothing to compare with yet
        else:
            fg = frame_difference(smooth, self.history[0], self.params.threshold)
        self.history.append(smooth)
        sample["fg"] = fg
        return sample
