"""Video SnapCut's local classifiers along the object's contour (``mode: local``).
"""
from __future__ import annotations

import cv2
import numpy as np

from classicseg.stages.flow import warp
from classicseg.stages.vos.appearance import ColorModel

__all__ = ['local_classifiers']

def _signed_distance(mask: np.ndarray) -> np.ndarray:
    """Distance of every pixel to the boundary of ``mask`` (float32, >= 0)."""
    u8 = mask.view(np.uint8)
    return np.maximum(cv2.distanceTransform(u8, cv2.DIST_L2, 3), cv2.distanceTransform(1 - u8, cv2.DIST_L2, 3))


def local_classifiers(prev_image, prev_mask, image, flow, win: int = 60, bins: int = 8, prior: float = 1.0,
                      sigma_min: float = 2.0, sigma_max: float = None, fc_cut: float = 0.85) -> tuple[np.ndarray, np.ndarray]:
    """Foreground probability by overlapping local colour classifiers along the object's contour.

    Windows of ``win`` px are centred on the contour of the previous mask every ``win/2``
    px; each learns object and background colour histograms from the previous frame, is
    moved with the median flow inside it, and classifies the current frame's pixels. Its
    colour confidence ``f_c`` (1 − the distance-weighted training error) sets how far from
    the warped contour colour may overrule shape: ``p = f_s·L + (1 − f_s)·p_c`` with
    ``f_s = 1 − exp(−d²/σ_s²)``, ``d`` the distance to the warped contour and ``σ_s``
    growing from ``sigma_min`` (``f_c ≤ fc_cut``) to ``sigma_max`` (``f_c = 1``).
    Overlapping windows are blended with weights ``1/(|x − c| + 1)``.

    Parameters
    ----------
    prev_image, image : ndarray
        uint8 ``(H, W, 3)`` frames ``t - 1`` and ``t`` (same colour space, e.g. Lab).
    prev_mask : ndarray of bool
        Final mask of frame ``t - 1``.
    flow : ndarray
        float32 ``(H, W, 2)`` backward flow ``t -> t - 1``.
    win : int
        Window side (px).
    bins : int
        Histogram levels per channel of the local models.
    prior : float
        Prior count per histogram cell (unseen colours -> 0.5).
    sigma_min, sigma_max : float
        Range of the shape band ``σ_s`` (px); ``sigma_max`` defaults to ``win / 2``.
    fc_cut : float
        Colour confidence below which shape dominates (``σ_s = sigma_min``).

    Returns
    -------
    prob : ndarray
        float32 ``(H, W)``: the warped mask outside the windows, the blend inside.
    warped : ndarray
        bool ``(H, W)``: the previous mask warped by the flow (``L`` above).

    References
    ----------
    X. Bai, J. Wang, D. Simons, G. Sapiro, "Video SnapCut: Robust Video Object Cutout
    Using Localized Classifiers", SIGGRAPH 2009.
    """
    h, w = prev_mask.shape
    warped_f = warp(prev_mask.astype(np.float32), flow)
    warped = warped_f > 0.5
    prob = warped.astype(np.float32)
    if not prev_mask.any() or not warped.any():
        return prob, warped
    if sigma_max is None:
        sigma_max = win / 2.0
    cm = ColorModel(bins, prior)
    idx_prev = cm.index(prev_image)
    idx_cur = cm.index(image)
    d_prev = _signed_distance(prev_mask)
    d_cur = _signed_distance(warped)
    contours, _ = cv2.findContours(prev_mask.view(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    step = max(win // 2, 1)
    centres = []
    for c in contours:
        pts = c[:, 0, :]
        centres.extend(pts[:: step] if len(pts) >= step else pts[:1])
    acc = np.zeros((h, w), np.float32)
    wsum = np.zeros((h, w), np.float32)
    half = win // 2
    ncell = bins ** 3
    u = prior / ncell
    yy, xx = np.mgrid[-half:win - half, -half:win - half]
    for cx, cy in centres:
        py0, py1, px0, px1 = max(cy - half, 0), min(cy - half + win, h), max(cx - half, 0), min(cx - half + win, w)
        m = prev_mask[py0:py1, px0:px1]
        nf = int(m.sum())
        if nf == 0 or nf == m.size:
            continue
        ip = idx_prev[py0:py1, px0:px1]
        hf = np.bincount(ip[m], minlength=ncell) / nf + u
        hb = np.bincount(ip[~m], minlength=ncell) / (m.size - nf) + u
        lut = (hf / (hf + hb)).astype(np.float32)
        # colour confidence on the training pixels, weighted towards the contour
        dw = np.exp(-(d_prev[py0:py1, px0:px1] ** 2) / (half * half))
        fc = 1.0 - float((np.abs(m - lut[ip]) * dw).sum() / dw.sum())
        # move the window with the median backward flow around the warped centre
        fl = flow[py0:py1, px0:px1]
        dx, dy = np.median(fl[:, :, 0]), np.median(fl[:, :, 1])
        qx, qy = int(round(cx - dx)), int(round(cy - dy))
        y0, y1, x0, x1 = max(qy - half, 0), min(qy - half + win, h), max(qx - half, 0), min(qx - half + win, w)
        if y1 <= y0 or x1 <= x0:
            continue
        pc = lut[idx_cur[y0:y1, x0:x1]]
        if fc > fc_cut:
            s = sigma_min + (sigma_max - sigma_min) * ((fc - fc_cut) / (1 - fc_cut)) ** 2
        else:
            s = sigma_min
        d = d_cur[y0:y1, x0:x1]
        fs = 1.0 - np.exp(-(d * d) / (s * s))
        p = fs * warped[y0:y1, x0:x1] + (1 - fs) * pc
        wy = yy[y0 - (qy - half):y1 - (qy - half), x0 - (qx - half):x1 - (qx - half)]
        wx = xx[y0 - (qy - half):y1 - (qy - half), x0 - (qx - half):x1 - (qx - half)]
        wt = 1.0 / (np.sqrt(wx * wx + wy * wy) + 1.0)
        acc[y0:y1, x0:x1] += (p * wt).astype(np.float32)
        wsum[y0:y1, x0:x1] += wt.astype(np.float32)
    cov = wsum > 0
    prob[cov] = acc[cov] / wsum[cov]
    return prob, warped
