"""Local binary patterns with 8 neighbours on a circle of radius 1 (P=8, R=1).

Kernel: :func:`lbp_numba`, bit-exact with scikit-image's
``skimage.feature.local_binary_pattern(image, 8, 1, method)`` for ``method`` in
``{'default', 'uniform'}``: the same neighbour positions (rounded to 5 decimals), the
same bilinear interpolation of the diagonal neighbours in float64 with zeros outside
the image, the same ``>=`` comparison with the centre and scikit-image's definition
of "uniform" (at most two 0/1 changes along the open chain of the 8 bits; the
non-uniform code is ``P + 1``). Twin: scikit-image itself (:func:`lbp_skimage`).

The speed comes from specialising the generic loop of scikit-image to P=8, R=1: the
four axis neighbours need no interpolation (their weights are exactly 0 and 1), and
the fractional weights of the diagonals depend only on the row or only on the column,
so they are computed once per row and per column instead of per pixel.

References
----------
T. Ojala, M. Pietikäinen, T. Mäenpää, "Multiresolution gray-scale and rotation
invariant texture classification with local binary patterns", IEEE TPAMI 24(7), 2002.
"""
from __future__ import annotations

import numpy as np

from classicseg.kernels import njit

__all__ = ["lbp_numba", "lbp_skimage", "METHODS"]

METHODS = ("default", "uniform")
_D = np.round(np.sin(2 * np.pi * np.arange(8) / 8), 5)[1]  # 0.70711, as scikit-image rounds it


@njit(cache=True)
def _lbp(img, d, uniform):  # pragma: no cover - compiled
    h, w = img.shape
    out = np.empty((h, w), np.float64)
    # per row r, for the neighbour rows r - d (up) and r + d (down): floor, ceil and fraction
    up0 = np.empty(h, np.int64)
    upf = np.empty(h, np.float64)
    dn0 = np.empty(h, np.int64)
    dnf = np.empty(h, np.float64)
    for r in range(h):
        v = r - d
        f = np.floor(v)
        up0[r] = int(f)
        upf[r] = v - f
        v = r + d
        f = np.floor(v)
        dn0[r] = int(f)
        dnf[r] = v - f
    lf0 = np.empty(w, np.int64)
    lff = np.empty(w, np.float64)
    rt0 = np.empty(w, np.int64)
    rtf = np.empty(w, np.float64)
    for c in range(w):
        v = c - d
        f = np.floor(v)
        lf0[c] = int(f)
        lff[c] = v - f
        v = c + d
        f = np.floor(v)
        rt0[c] = int(f)
        rtf[c] = v - f
    t = np.empty(8, np.float64)
    for r in range(h):
        for c in range(w):
            center = img[r, c]
            # axis neighbours: 0 right, 2 up, 4 left, 6 down (zeros outside)
            t[0] = img[r, c + 1] if c + 1 < w else 0.0
            t[2] = img[r - 1, c] if r >= 1 else 0.0
            t[4] = img[r, c - 1] if c >= 1 else 0.0
            t[6] = img[r + 1, c] if r + 1 < h else 0.0
            # diagonals: 1 up-right, 3 up-left, 5 down-left, 7 down-right
            for k in range(4):
                if k == 0:
                    r0 = up0[r]
                    dr = upf[r]
                    c0 = rt0[c]
                    dc = rtf[c]
                elif k == 1:
                    r0 = up0[r]
                    dr = upf[r]
                    c0 = lf0[c]
                    dc = lff[c]
                elif k == 2:
                    r0 = dn0[r]
                    dr = dnf[r]
                    c0 = lf0[c]
                    dc = lff[c]
                else:
                    r0 = dn0[r]
                    dr = dnf[r]
                    c0 = rt0[c]
                    dc = rtf[c]
                r1 = r0 + 1
                c1 = c0 + 1
                tl = img[r0, c0] if (r0 >= 0 and r0 < h and c0 >= 0 and c0 < w) else 0.0
                tr = img[r0, c1] if (r0 >= 0 and r0 < h and c1 >= 0 and c1 < w) else 0.0
                bl = img[r1, c0] if (r1 >= 0 and r1 < h and c0 >= 0 and c0 < w) else 0.0
                br = img[r1, c1] if (r1 >= 0 and r1 < h and c1 >= 0 and c1 < w) else 0.0
                top = (1 - dc) * tl + dc * tr
                bottom = (1 - dc) * bl + dc * br
                t[2 * k + 1] = (1 - dr) * top + dr * bottom
            if uniform:
                s_prev = 1 if t[0] - center >= 0 else 0
                ones = s_prev
                changes = 0
                for i in range(1, 8):
                    s = 1 if t[i] - center >= 0 else 0
                    ones += s
                    changes += 1 if s != s_prev else 0
                    s_prev = s
                out[r, c] = ones if changes <= 2 else 9.0
            else:
                code = 0
                for i in range(8):
                    if t[i] - center >= 0:
                        code += 1 << i
                out[r, c] = code
    return out


def lbp_numba(image: np.ndarray, method: str = "default") -> np.ndarray:
    """LBP codes of a grey image with P=8 neighbours at radius R=1 (numba).

    Parameters
    ----------
    image : ndarray, (H, W)
        Grey image (integer dtypes recommended, as in scikit-image).
    method : {'default', 'uniform'}
        ``default``: the 8-bit code (0..255); ``uniform``: the number of set bits for
        uniform patterns (0..8), 9 otherwise.

    Returns
    -------
    ndarray of float64, (H, W)
        Equal to ``skimage.feature.local_binary_pattern(image, 8, 1, method)``.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {image.shape}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    img = np.ascontiguousarray(image, dtype=np.float64)
    return _lbp(img, _D, method == "uniform")


def lbp_skimage(image: np.ndarray, method: str = "default") -> np.ndarray:
    """The twin: ``skimage.feature.local_binary_pattern(image, 8, 1, method)``."""
    from skimage.feature import local_binary_pattern

    return local_binary_pattern(image, 8, 1, method)
