"""OpenCV subtractor labels (0 / shadow / 255) -> ``fg`` and ``shadow`` bool masks in one pass.

Kernel: :func:`split_labels_numba`. Twin: :func:`split_labels_numpy` (two comparisons,
the formulation of :func:`classicseg.stages.bgsub.base.split_labels`).
"""
from __future__ import annotations

import numpy as np

from classicseg.kernels import njit

__all__ = ["split_labels_numba", "split_labels_numpy"]


@njit(cache=True)
def _split(raw, shadow_value):  # pragma: no cover - compiled
    n = raw.shape[0]
    fg = np.empty(n, np.bool_)
    sh = np.empty(n, np.bool_)
    for i in range(n):
        v = raw[i]
        fg[i] = v == 255
        sh[i] = v == shadow_value
    return fg, sh


def split_labels_numba(raw: np.ndarray, shadow_value: int | None = 127) -> tuple[np.ndarray, np.ndarray]:
    """``(raw == 255, raw == shadow_value)`` in one pass (``None``: no shadows)."""
    flat = np.ascontiguousarray(raw).reshape(-1)
    if shadow_value is None:
        return raw == 255, np.zeros(raw.shape, bool)
    fg, sh = _split(flat, np.uint8(shadow_value))
    return fg.reshape(raw.shape), sh.reshape(raw.shape)


def split_labels_numpy(raw: np.ndarray, shadow_value: int | None = 127) -> tuple[np.ndarray, np.ndarray]:
    """The numpy twin."""
    fg = raw == 255
    shadow = np.zeros(raw.shape, bool) if shadow_value is None else raw == shadow_value
    return fg, shadow
