"""Per-frame cues of mask propagation: the warped previous mask, motion coherence, confident labels.
"""
from __future__ import annotations

import cv2
import numpy as np

from classicseg.stages.flow import warp
from classicseg.stages.vos.appearance import model_regions

__all__ = ['motion_prior', 'flow_consistency', 'superpixel_mean', 'trusted_prior', 'bounded_prior', 'motion_coherence', 'main_parts', 'unlinked_capped', 'confident_labels']

def motion_prior(prev_mask: np.ndarray, flow: np.ndarray, occlusion: np.ndarray | None = None,
                 sigma: float = 2.0, motion_sigma: float = 0.1) -> np.ndarray:
    """The previous mask carried along the backward flow, softened where the motion is uncertain.

    Parameters
    ----------
    prev_mask : ndarray
        bool or float ``(H, W)`` mask (or probability) on frame ``t - 1``.
    flow : ndarray
        float32 ``(H, W, 2)`` backward flow of frame ``t`` (``t -> t - 1``).
    occlusion : ndarray of bool, optional
        Pixels of frame ``t`` not visible in ``t - 1``: set to 0.5 (no evidence).
    sigma : float
        Base blur of the warped mask (px).
    motion_sigma : float
        Extra blur per pixel of the object's mean motion.

    Returns
    -------
    ndarray
        float32 ``(H, W)`` in [0, 1].

    References
    ----------
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016.
    """
    m = np.asarray(prev_mask)
    if m.shape != flow.shape[:2]:
        raise ValueError(f"mask is {m.shape[1]}x{m.shape[0]} but flow is {flow.shape[1]}x{flow.shape[0]}")
    w = warp(m.astype(np.float32), flow)
    sel = w > 0.5
    if sel.any() and motion_sigma > 0:
        speed = float(np.median(np.hypot(flow[sel][:, 0], flow[sel][:, 1])))
    else:
        speed = 0.0
    s = sigma + motion_sigma * speed
    if s > 0.3:
        w = cv2.GaussianBlur(w, (0, 0), s)
    if occlusion is not None:
        w = np.where(occlusion, np.float32(0.5), w)
    return w


def flow_consistency(image: np.ndarray, prev_image: np.ndarray, flow: np.ndarray, sigma: float = 20.0,
                     box=None, smooth: float = 1.5) -> np.ndarray:
    """How far to trust the flow at each pixel: ``exp(−(e/σ)²)`` of the colour difference
    ``e`` between a pixel of frame ``t`` and the point of frame ``t − 1`` the backward flow
    says it came from.

    This is the weight of a temporal edge of a spatio-temporal graph (ObjectFlow): a pixel
    is tied to its match in the previous frame as strongly as the two look alike. Where the
    flow lost a thin, fast part (a dancer's leg) or the pixel was uncovered, the match shows
    something else and the tie is weak, so the previous mask carried there says little and
    appearance decides.

    Parameters
    ----------
    image, prev_image : ndarray
        uint8 ``(H, W, 3)`` frames ``t`` and ``t − 1`` (same colour space, e.g. Lab).
    flow : ndarray
        float32 ``(H, W, 2)`` backward flow of frame ``t``.
    sigma : float
        Colour difference (in the images' units, Euclidean over the channels) at which the
        weight falls to ``1/e``.
    box : (y0, y1, x0, x1), optional
        Compute only inside it (1 outside).
    smooth : float
        Gaussian blur (px) of the difference before the weight, against pixel noise.

    Returns
    -------
    ndarray
        float32 ``(H, W)`` in (0, 1].

    References
    ----------
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016
    (temporal edges weighted by colour similarity along the flow).
    """
    if image.shape != prev_image.shape or image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape}, prev_image {prev_image.shape} and flow {flow.shape} must agree")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    h, w = image.shape[:2]
    out = np.ones((h, w), np.float32)
    y0, y1, x0, x1 = box if box is not None else (0, h, 0, w)
    if y1 <= y0 or x1 <= x0:
        return out
    f = flow[y0:y1, x0:x1].copy()
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    mx, my = gx + f[:, :, 0], gy + f[:, :, 1]
    back = cv2.remap(prev_image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    d = back.astype(np.float32) - image[y0:y1, x0:x1].astype(np.float32)
    e2 = np.einsum("ijk,ijk->ij", d, d)
    if smooth > 0:
        e2 = cv2.GaussianBlur(e2, (0, 0), smooth)
    out[y0:y1, x0:x1] = np.exp(-e2 / np.float32(sigma * sigma))
    return out


def bounded_prior(prior: np.ndarray, floor: float, confidence: float) -> np.ndarray:
    """The motion prior mapped into ``[floor, confidence]`` with 0.5 kept at 0.5.

    Bounding the warped mask's probability lets appearance overrule it; a single line from
    ``floor`` to ``confidence`` would also move its 0.5 crossing (the carried edge) outwards
    when ``floor > 1 − confidence`` (0.3 and 0.8 put 0.5 at a prior of 0.4, about a pixel
    outside a blurred edge). Here ``[0, 0.5]`` goes linearly to ``[floor, 0.5]`` and
    ``[0.5, 1]`` to ``[0.5, confidence]``.

    Parameters
    ----------
    prior : ndarray
        float ``(H, W)`` in [0, 1].
    floor : float
        Value at prior 0, in [0, 0.5).
    confidence : float
        Value at prior 1, in (0.5, 1].

    Returns
    -------
    ndarray
        float32 ``(H, W)``.
    """
    if not (0 <= floor < 0.5 < confidence <= 1):
        raise ValueError(f"need 0 <= floor < 0.5 < confidence <= 1, got floor {floor}, confidence {confidence}")
    p = np.asarray(prior, np.float32)
    lo = floor + (0.5 - floor) * 2.0 * p
    hi = 0.5 + (confidence - 0.5) * (2.0 * p - 1.0)
    return np.where(p < 0.5, lo, hi).astype(np.float32)


def trusted_prior(bounded: np.ndarray, warped: np.ndarray, weight: np.ndarray, confidence: float = 0.97,
                  reach: float = 10.0) -> np.ndarray:
    """The warped mask's background evidence made firm far from it, where the flow can be trusted.

    ``bounded`` is the motion prior squeezed into cautious bounds (e.g. [0.3, 0.8]) so that
    appearance can correct a drifted mask and grow back a part it lost. Those bounds also
    let a look-alike background (a rock of the goat's colours) be grown into, anywhere in
    the work box. A lost part lies next to the warped mask; background more than
    ``reach`` px away from it, carried there by a consistent flow (``weight`` near 1, see
    :func:`flow_consistency`), was background in the previous frame too. There the
    probability falls from ``bounded`` towards ``1 − confidence``:
    ``bounded − weight · (bounded − (1 − c))`` (never above ``bounded``); inside the mask and
    within ``reach`` of it ``bounded`` is kept.

    Parameters
    ----------
    bounded : ndarray
        float ``(H, W)`` the motion prior mapped into the cautious bounds.
    warped : ndarray of bool
        ``(H, W)`` the warped previous mask (prior > 0.5).
    weight : ndarray
        float ``(H, W)`` trust in the flow, in [0, 1].
    confidence : float
        Background probability ``1 − c`` where the trust is 1, c in (0.5, 1).
    reach : float
        Distance (px) from ``warped`` beyond which the trust applies (>= 0).

    Returns
    -------
    ndarray
        float32 ``(H, W)``.

    References
    ----------
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016
    (temporal edges weighted by how well the flow's match agrees).
    """
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence}")
    if reach < 0:
        raise ValueError(f"reach must be >= 0, got {reach}")
    if not bounded.shape == warped.shape == weight.shape:
        raise ValueError(f"bounded {bounded.shape}, warped {warped.shape} and weight {weight.shape} must agree")
    out = bounded.astype(np.float32, copy=True)
    if not warped.any():
        return out
    dist = cv2.distanceTransform((~warped.astype(bool)).view(np.uint8), cv2.DIST_L2, 3)
    far = dist > reach
    low = np.float32(1.0 - confidence)
    out[far] = np.minimum(out[far], out[far] - weight[far] * (out[far] - low))
    return out


def superpixel_mean(image: np.ndarray, values: np.ndarray, region_size: int = 12, ruler: float = 10.0,
                    iterations: int = 5) -> np.ndarray:
    """``values`` averaged over the SLIC superpixels of ``image``.

    Superpixels follow the image's edges, so a per-pixel score averaged over them snaps
    to the object's outline and is not swayed by single noisy pixels.

    Parameters
    ----------
    image : ndarray
        uint8 ``(h, w, 3)`` (Lab for SLIC's colour distance).
    values : ndarray
        float ``(h, w)`` (e.g. log-odds).
    region_size : int
        Superpixel side (px), >= 2.
    ruler : float
        SLIC's compactness.
    iterations : int
        SLIC iterations.

    Returns
    -------
    ndarray
        float32 ``(h, w)``.

    References
    ----------
    R. Achanta et al., "SLIC Superpixels Compared to State-of-the-Art Superpixel Methods",
    TPAMI 34(11), 2012 (via OpenCV contrib's ximgproc); Y.-H. Tsai, M.-H. Yang, M. J. Black,
    "Video Segmentation via Object Flow", CVPR 2016 (superpixel-level appearance).
    """
    if values.shape != image.shape[:2]:
        raise ValueError(f"values {values.shape} must match the image {image.shape[:2]}")
    if region_size < 2:
        raise ValueError(f"region_size must be >= 2, got {region_size}")
    sp = cv2.ximgproc.createSuperpixelSLIC(np.ascontiguousarray(image), cv2.ximgproc.SLIC, region_size, ruler)
    sp.iterate(iterations)
    labels = sp.getLabels().ravel()
    n = int(labels.max()) + 1
    v = values.astype(np.float64).ravel()
    mean = np.bincount(labels, weights=v, minlength=n) / np.maximum(np.bincount(labels, minlength=n), 1)
    return mean[labels].reshape(values.shape).astype(np.float32)


def _affine_field(flow: np.ndarray, sel: np.ndarray, samples: int = 2000, seed: int = 0) -> np.ndarray | None:
    """The flow of the affine map fitted (RANSAC) to ``flow`` over the pixels ``sel``, at every
    pixel of ``flow`` (None when no fit)."""
    from classicseg.stages.vos.shape import object_affine

    a, _ = object_affine(flow, sel, samples=samples, threshold=1.0, seed=seed)
    if a is None:
        return None
    h, w = sel.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((h, w, 2), np.float32)
    out[:, :, 0] = a[0, 0] * xs + a[0, 1] * ys + a[0, 2] - xs
    out[:, :, 1] = a[1, 0] * xs + a[1, 1] * ys + a[1, 2] - ys
    return out


def motion_coherence(flow: np.ndarray, warped: np.ndarray, box=None, ring: int = 15, inner: int = 3,
                     noise: float = 1.0, relative: float = 0.25, limit: float = 4.0,
                     model: str = "translation") -> np.ndarray:
    """Log-odds that each pixel moves with the object rather than with its surroundings.

    The object's motion ``u_o`` is the median flow over the warped mask eroded by
    ``inner`` px, the background's ``u_b`` the median over the ring from ``inner`` to
    ``ring`` px outside it. A pixel with flow ``f`` gets ``clip((|f − u_b| − |f − u_o|) / s,
    ±limit)``, ``s = noise + relative·|u_o − u_b|``: about 0 where the two motions agree
    (the cue then abstains), positive where the pixel follows the object. Background
    uncovered behind the object, or static surroundings that the mask has crept onto,
    move with the background, whatever their colour. With ``model="affine"`` the two
    motions are affine maps fitted (RANSAC) to the same two regions and compared pixel by
    pixel, so an object that turns or comes towards the camera (a bike in the air) still
    moves "with itself".

    Parameters
    ----------
    flow : ndarray
        float32 ``(H, W, 2)`` backward flow of the current frame.
    warped : ndarray of bool
        The previous mask carried to the current frame.
    box : (y0, y1, x0, x1), optional
        Compute only inside it (0 outside).

    Returns
    -------
    ndarray
        float32 ``(H, W)`` log-odds.

    References
    ----------
    A. Papazoglou, V. Ferrari, "Fast Object Segmentation in Unconstrained Video", ICCV 2013
    (the object moves differently from its surroundings); Y.-H. Tsai, M.-H. Yang, M. J.
    Black, "Video Segmentation via Object Flow", CVPR 2016.
    """
    h, w = warped.shape
    out = np.zeros((h, w), np.float32)
    y0, y1, x0, x1 = box if box is not None else (0, h, 0, w)
    m = warped[y0:y1, x0:x1]
    if not m.any() or m.all():
        return out
    u8 = m.view(np.uint8)
    din = cv2.distanceTransform(u8, cv2.DIST_L2, 3)
    dout = cv2.distanceTransform(1 - u8, cv2.DIST_L2, 3)
    obj = din > inner
    if not obj.any():
        obj = m
    bg = (dout > inner) & (dout <= ring)
    if not bg.any():
        return out
    f = flow[y0:y1, x0:x1]
    if model not in ("translation", "affine"):
        raise ValueError(f"model must be 'translation' or 'affine', got {model!r}")
    fo = _affine_field(f, obj) if model == "affine" else None
    fb = _affine_field(f, bg) if fo is not None else None
    if fo is None or fb is None:
        uo = np.median(f[obj], axis=0)
        ub = np.median(f[bg], axis=0)
        fo, fb = uo[None, None, :], ub[None, None, :]
        s = noise + relative * float(np.hypot(*(uo - ub)))
    else:
        d = fo - fb
        s = noise + relative * np.hypot(d[:, :, 0], d[:, :, 1])
    ro = np.hypot(f[:, :, 0] - fo[:, :, 0], f[:, :, 1] - fo[:, :, 1])
    rb = np.hypot(f[:, :, 0] - fb[:, :, 0], f[:, :, 1] - fb[:, :, 1])
    out[y0:y1, x0:x1] = np.clip((rb - ro) / s, -limit, limit)
    return out


def main_parts(mask: np.ndarray, min_part: float) -> np.ndarray:
    """The 8-connected components of ``mask`` whose area is at least ``min_part`` times the
    largest one's (a new array): one object's pieces, without the specks it left behind."""
    if min_part <= 0:
        return mask.copy()
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if n <= 2:
        return mask.copy()
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    area[0] = 0
    keep = area >= min_part * area.max()
    keep[0] = False
    return keep[labels]


def unlinked_capped(prob: np.ndarray, core: np.ndarray, floor: float = 0.0, radius: int = 0) -> np.ndarray:
    """``prob`` with the 8-connected components of ``prob > 0.5`` that do not touch ``core``
    lowered to at most ``floor`` (a new array; ``prob`` is not modified). With ``radius`` > 0
    a component within ``radius`` px of ``core`` counts as touching it: a part of the object
    that the warped mask lost and that a thin seam of doubtful pixels separates from it
    (a shaded hip, a leg) is not thrown away with the far blobs."""
    sel = prob > 0.5
    if radius > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        core = cv2.dilate(core.view(np.uint8), k).view(bool)
    n, labels = cv2.connectedComponents(sel.view(np.uint8), connectivity=8)
    out = prob.copy()
    if n <= 1:
        return out
    hit = np.bincount(labels[core & sel], minlength=n) > 0
    hit[0] = True
    drop = ~hit[labels]
    out[drop] = np.minimum(out[drop], np.float32(floor))
    return out


def confident_labels(mask: np.ndarray, prior: np.ndarray, coherence: np.ndarray | None = None,
                     confident: int = 5, band: int = 60, gate: float = 0.9,
                     coherence_gate: float = 1.0, colour: np.ndarray | None = None,
                     colour_gate: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Object and background pixels of a segmented frame that are safe to learn from.

    Learning appearance from every pixel of the final masks lets their errors feed back
    (a shadow once included is learned as object, and kept). Here a pixel is learned
    only where independent cues agree with its label: object pixels lie ``confident``
    px inside ``mask`` and the motion ``prior`` (the warped previous mask, before colour
    was used) gave them at least ``gate``; background pixels lie ``confident`` to
    ``band`` px outside it with ``prior <= 1 - gate``. With ``coherence`` (log-odds of
    :func:`motion_coherence`), mask pixels whose motion follows the surroundings
    (``coherence <= -coherence_gate``) are learned as background instead, and ring
    pixels whose motion follows the object (``coherence >= coherence_gate``) are not
    learned at all (a part the mask lost). With
    ``colour`` (the object probability of a fixed model, e.g. the first frame's colours),
    ring pixels are learned as background only where it is at most ``colour_gate``: a
    part of the object that the mask lost lies in the ring and would otherwise be
    learned as background, and stay lost.

    Parameters
    ----------
    mask : ndarray of bool
        The final mask of the frame.
    prior : ndarray
        float ``(H, W)`` motion prior of that frame (:func:`motion_prior`).
    coherence : ndarray, optional
        float ``(H, W)`` motion-coherence log-odds of that frame.
    confident, band : int
        Distances (px) from the mask's boundary, see :func:`model_regions`.
    gate : float
        Smallest motion-prior probability of the label, in [0.5, 1].
    coherence_gate : float
        Coherence log-odds at or below ``-coherence_gate`` make a mask pixel background
        (<= 0: not used).
    colour : ndarray, optional
        float ``(H, W)`` object probability from a model that does not drift.
    colour_gate : float
        Largest ``colour`` of a learned ring (background) pixel.

    Returns
    -------
    fg, bg : ndarray of bool
        Disjoint ``(H, W)`` sets; either may be empty.

    References
    ----------
    A. Blum, T. Mitchell, "Combining Labeled and Unlabeled Data with Co-Training", COLT
    1998 (one view labels the examples the other learns from); Y.-H. Tsai, M.-H. Yang,
    M. J. Black, "Video Segmentation via Object Flow", CVPR 2016.
    """
    if any(a is not None and a.shape != mask.shape for a in (prior, coherence, colour)):
        raise ValueError(f"prior, coherence and colour must be {mask.shape}, got "
                         f"{[None if a is None else a.shape for a in (prior, coherence, colour)]}")
    if not 0.5 <= gate <= 1.0:
        raise ValueError(f"gate must be in [0.5, 1], got {gate}")
    fg, bg = model_regions(mask, band, confident)
    fg = fg & (prior >= gate)
    bg = bg & (prior <= 1.0 - gate)
    if colour is not None:
        bg &= colour <= colour_gate
    if coherence is not None and coherence_gate > 0:
        moves_with_bg = fg & (coherence <= -coherence_gate)
        bg = (bg & (coherence < coherence_gate)) | moves_with_bg
        fg = fg & ~moves_with_bg
    return fg, bg
