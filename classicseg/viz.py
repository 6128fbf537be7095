"""Pictures of results: optical flow in the Middlebury colour coding, error maps.

Pure functions that return BGR ``uint8`` images; writing them is the caller's business
(``classicseg.io.images.write_image``).
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

__all__ = ["color_wheel", "flow_to_color", "error_to_color"]


@lru_cache(maxsize=1)
def color_wheel() -> np.ndarray:
    """The 55-colour Middlebury wheel, ``float64 (55, 3)`` RGB in 0..255 (read-only).

    Segments red→yellow (15), yellow→green (6), green→cyan (4), cyan→blue (11),
    blue→magenta (13), magenta→red (6), as in ``colorcode.cpp`` / ``computeColor.m``.
    """
    # (segment length, channel held at 255, channel that ramps, ramp goes up)
    segments = ((15, 0, 1, True), (6, 1, 0, False), (4, 1, 2, True),
                (11, 2, 1, False), (13, 2, 0, True), (6, 0, 2, False))
    wheel = np.zeros((sum(s[0] for s in segments), 3))
    k = 0
    for n, full, ramp, up in segments:
        r = np.floor(255.0 * np.arange(n) / n)
        wheel[k:k + n, full] = 255.0
        wheel[k:k + n, ramp] = r if up else 255.0 - r
        k += n
    wheel.flags.writeable = False
    return wheel


def flow_to_color(flow, max_flow: float | None = None, valid=None) -> np.ndarray:
    """Colour-code a flow field: hue = direction, saturation = speed (Middlebury coding).

    Parameters
    ----------
    flow : array_like, (H, W, 2)
        ``(u, v)`` in pixels.
    max_flow : float, optional
        The speed shown at full saturation. Default: the largest speed among the known
        vectors (so two flows share colours only when given the same ``max_flow``).
        Faster vectors are drawn at 75 % brightness.
    valid : array_like of bool, (H, W), optional
        Vectors to draw; the others (and any non-finite or > 1e9 component) are black.

    Returns
    -------
    numpy.ndarray
        ``uint8 (H, W, 3)`` BGR. Zero motion is white; at full speed motion to the right is red,
        down yellow-orange, left cyan, up violet-blue, as in the Middlebury pictures.

    Raises
    ------
    ValueError
        ``flow`` is not ``(H, W, 2)``, ``valid`` has another size, or ``max_flow`` <= 0.

    References
    ----------
    S. Baker, D. Scharstein, J. P. Lewis, S. Roth, M. J. Black, R. Szeliski, "A Database and
    Evaluation Methodology for Optical Flow", IJCV 92(1), 2011 (fig. and ``flowToColor.m``).
    """
    f = np.asarray(flow, dtype=np.float64)
    if f.ndim != 3 or f.shape[2] != 2:
        raise ValueError(f"flow must be (H, W, 2), got shape {f.shape}")
    if max_flow is not None and not max_flow > 0:
        raise ValueError(f"max_flow must be > 0, got {max_flow}")
    with np.errstate(invalid="ignore"):
        known = np.isfinite(f).all(axis=2) & (np.abs(f) <= 1e9).all(axis=2)
    if valid is not None:
        v = np.asarray(valid, bool)
        if v.shape != f.shape[:2]:
            raise ValueError(f"valid is {v.shape[1]}x{v.shape[0]} but flow is {f.shape[1]}x{f.shape[0]}")
        known &= v
    u = np.where(known, f[:, :, 0], 0.0)
    w = np.where(known, f[:, :, 1], 0.0)
    rad = np.sqrt(u ** 2 + w ** 2)
    if max_flow is None:
        max_flow = float(rad.max()) if known.any() else 0.0
    rad = rad / max(max_flow, np.finfo(float).eps)
    wheel = color_wheel()
    ncols = len(wheel)
    a = np.arctan2(-w, -u) / np.pi                  # -1..1
    fk = (a + 1) / 2 * (ncols - 1)                 # 0..ncols-1
    k0 = np.floor(fk).astype(int)
    k1 = (k0 + 1) % ncols
    t = (fk - k0)[:, :, None]
    col = ((1 - t) * wheel[k0] + t * wheel[k1]) / 255.0
    inside = (rad <= 1)[:, :, None]
    col = np.where(inside, 1 - rad[:, :, None] * (1 - col), col * 0.75)
    rgb = np.floor(255.0 * col).astype(np.uint8)
    rgb[~known] = 0
    return np.ascontiguousarray(rgb[:, :, ::-1])


def error_to_color(error, max_error: float = 3.0, valid=None) -> np.ndarray:
    """An error map (e.g. endpoint error) as a BGR picture: black 0 → white ≥ ``max_error``
    through OpenCV's "inferno" map; pixels where ``valid`` is False are mid-grey."""
    e = np.asarray(error, dtype=np.float64)
    if e.ndim != 2:
        raise ValueError(f"error must be (H, W), got shape {e.shape}")
    if not max_error > 0:
        raise ValueError(f"max_error must be > 0, got {max_error}")
    g = np.clip(np.nan_to_num(e / max_error, nan=1.0), 0, 1)
    img = cv2.applyColorMap((255 * g).astype(np.uint8), cv2.COLORMAP_INFERNO)
    if valid is not None:
        img[~np.asarray(valid, bool)] = 128
    return img
