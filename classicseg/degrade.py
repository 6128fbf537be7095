"""Degrade ground-truth masks the way a weak per-frame model would (for testing ``refine``).

:func:`weak_model_masks` turns a sequence of exact masks (bool, or uint8 ids) into what a
mediocre frame-by-frame segmenter gives: a boundary that is a few pixels off and jagged,
flicker from frame to frame, and now and then a frame where the object is missed. The
result is reproducible (a fixed seed).
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["weak_model_masks"]


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _grow(ids: np.ndarray, r: int) -> np.ndarray:
    """Erode (``r < 0``) or dilate (``r > 0``) every id by ``|r|`` px (ids kept)."""
    if r == 0:
        return ids.copy()
    out = np.zeros_like(ids)
    for k in np.unique(ids):
        if k == 0:
            continue
        m = (ids == k).view(np.uint8)
        m = cv2.dilate(m, _disk(r)) if r > 0 else cv2.erode(m, _disk(-r))
        out[(m > 0) & (out == 0)] = k
    return out


def weak_model_masks(masks, seed: int = 0, max_shift: int = 6, noise: float = 0.6, noise_scale: float = 6.0,
                     band: int = 6, drop: float = 0.1, flicker: float = 0.15) -> list[np.ndarray]:
    """Masks as a weak per-frame model would give them.

    Per frame, with a generator seeded by ``seed``:

    * the objects are eroded or dilated by a random radius in ``[-max_shift, max_shift]``
      px (a boundary off by a few pixels, changing from frame to frame);
    * boundary noise: within ``band`` px of the boundary, pixels flip where a smooth
      random field (Gaussian-blurred noise of scale ``noise_scale`` px) exceeds
      ``1 − noise`` in magnitude (jagged, blobby edges);
    * flicker: with probability ``flicker``, a frame gets a large error (radius ×3);
    * dropped frames: with probability ``drop``, the object is missed (an empty mask).
      The first frame is never dropped.

    Parameters
    ----------
    masks : sequence of ndarray
        bool ``(H, W)`` masks or uint8 ``(H, W)`` ids (0 = background).
    seed : int
        Random seed.

    Returns
    -------
    list of ndarray
        Same dtype as the input (ids keep their values).
    """
    rng = np.random.default_rng(seed)
    out = []
    for i, m in enumerate(masks):
        m = np.asarray(m)
        is_bool = m.dtype == bool
        ids = m.view(np.uint8).copy() if is_bool else m.astype(np.uint8)
        r = int(rng.integers(-max_shift, max_shift + 1))
        if rng.random() < flicker:
            r *= 3
        d = _grow(ids, r)
        if noise > 0 and band > 0:
            h, w = d.shape
            field = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), noise_scale)
            field /= max(float(np.abs(field).max()), 1e-6)
            grow = _grow(d, band)
            near = grow != _grow(d, -band)
            flip_in = near & (field > 1 - noise) & (d == 0)
            flip_out = near & (field < -(1 - noise)) & (d > 0)
            d = d.copy()
            d[flip_in] = grow[flip_in]
            d[flip_out] = 0
        if i > 0 and rng.random() < drop:
            d = np.zeros_like(d)
        out.append(d > 0 if is_bool else d)
    return out
