"""The CPU backend: plain OpenCV on the host; stages run exactly as written."""
from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

__all__ = ["Backend", "CPUBackend"]


class Backend:
    """Where a pipeline's stages run, and the few OpenCV calls that differ per device.

    ``prepare(stages)`` returns the stages to run (the CUDA backend swaps some for GPU
    adapters). The helpers take and return host ``ndarray``s on the CPU and
    ``cv2.cuda_GpuMat``s on the GPU, so a stage written against them runs on either.
    """

    name: ClassVar[str] = ""
    is_gpu: ClassVar[bool] = False

    def prepare(self, stages: list) -> list:
        for s in stages:
            if hasattr(s, "backend"):
                s.backend = self
        return list(stages)

    # -- data movement -----------------------------------------------------------
    def upload(self, array: np.ndarray):
        return array

    def download(self, data) -> np.ndarray:
        return data

    # -- operations ----------------------------------------------------------------
    def cvt_color(self, image, code: int):
        return cv2.cvtColor(image, code)

    def resize(self, image, size: tuple[int, int], interpolation: int = cv2.INTER_LINEAR):
        return cv2.resize(image, size, interpolation=interpolation)

    def morphology(self, op: int, mask_u8, kernel: np.ndarray, iterations: int = 1):
        """``cv2.morphologyEx`` on a uint8 0/1 (or 0/255) mask."""
        return cv2.morphologyEx(mask_u8, op, kernel, iterations=iterations)

    def mog2(self, history: int, var_threshold: float, detect_shadows: bool):
        """A MOG2 subtractor with OpenCV's usual setters and ``apply(image, learningRate=..)``."""
        return cv2.createBackgroundSubtractorMOG2(history, var_threshold, detect_shadows)

    def farneback(self, prev, curr, pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
                  poly_sigma=1.2, flags=0):
        """Dense Farneback flow from ``prev`` to ``curr`` (grey uint8), float32 ``(H, W, 2)``."""
        return cv2.calcOpticalFlowFarneback(prev, curr, None, pyr_scale, levels, winsize, iterations,
                                            poly_n, poly_sigma, flags)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CPUBackend(Backend):
    """OpenCV on the CPU (every stage as written)."""

    name = "cpu"
