"""Masks from interactive seeds: a box, scribbles, clicks, for one or several objects.

* :func:`seed_mask` segments one object: GrabCut (Rother et al. 2004: Gaussian-mixture
  colour models of object and background learned from the seeds, a contrast-sensitive
  graph cut, iterated) started from a box (outside it is background; a tight box also
  touches the object on every row and column: Lempitsky et al. 2009's tightness prior,
  enforced by pinpointing), from scribbles (a
  stroke is a hard label; the pixels nearer an object stroke than a background stroke
  start as probable object, and only the parts of the result that touch an object stroke
  are kept), or from an existing mask to correct (``base``: only pixels within ``reach`` of
  the new strokes may change). ``method="random_walker"`` solves the same seeds with a
  random walker instead (Grady 2006).
* :func:`seed_ids` does it for every object the seeds name and resolves overlaps.
* :func:`clicks_to_scribbles` turns clicks into small disks of strokes.

Seeds come as a :class:`~classicseg.io.seeds.Seeds` (0 = no label, 1..254 an object,
255 the background).
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from classicseg.errors import ClassicsegError
from classicseg.io.seeds import BACKGROUND, Seeds
from classicseg.stages.vos.ids import assign_ids

__all__ = ["seed_mask", "seed_ids", "clicks_to_scribbles", "click_radius", "static_in_box", "MOTION_GAP",
           "PIN_ROUNDS"]

#: Frames between a box's frame and the one :func:`static_in_box` compares it with.
MOTION_GAP = 3
#: Rounds of pinning the empty rows and columns of a tight box and cutting again.
PIN_ROUNDS = 5


def click_radius(shape: tuple[int, int]) -> int:
    """Radius (px) of the disk a click labels: 0.5% of the frame's diagonal, at least 2."""
    return max(2, int(round(0.005 * float(np.hypot(*shape)))))


def clicks_to_scribbles(clicks, shape: tuple[int, int], radius: int | None = None,
                        scribbles: np.ndarray | None = None) -> np.ndarray:
    """Draw clicks ``(id, x, y, positive)`` as disks: a positive click labels object ``id``,
    a negative one the background (:data:`~classicseg.io.seeds.BACKGROUND`). Drawn over a
    copy of ``scribbles`` when given. Returns ``uint8 (H, W)``."""
    out = np.zeros(shape, np.uint8) if scribbles is None else scribbles.copy()
    r = click_radius(shape) if radius is None else radius
    for oid, x, y, positive in clicks:
        cv2.circle(out, (int(x), int(y)), r, int(oid if positive else BACKGROUND), -1)
    return out


def static_in_box(image, other, box: tuple[int, int, int, int], z: float = 3.0, min_share: float = 0.1):
    """Pixels of a box that move with the camera, not with the object: likely background.

    The flow from ``image`` to ``other`` (DIS at half resolution) outside the box gives
    the camera's motion (a RANSAC homography); inside the box, a pixel whose residual
    motion is below the outside residuals' median + ``z`` robust deviations (+ 0.5 px)
    moves like the background. Returns that bool mask, or None when fewer than
    ``min_share`` of the box's pixels move on their own (a still object: motion says
    nothing) or the camera motion cannot be fitted.

    References
    ----------
    A. Papazoglou, V. Ferrari, "Fast Object Segmentation in Unconstrained Video", ICCV
    2013 (motion that the camera does not explain marks the object).
    """
    from classicseg.stages.flow import dis
    from classicseg.stages.motion import flow_correspondences, residual_flow

    h, w = image.shape[:2]
    x, y, bw, bh = box
    inside = np.zeros((h, w), bool)
    inside[y:y + bh, x:x + bw] = True
    flow = dis(image, other, scale=0.5)
    src, dst = flow_correspondences(flow)
    keep = ~inside[src[:, 1].astype(int).clip(0, h - 1), src[:, 0].astype(int).clip(0, w - 1)]
    if keep.sum() < 8:
        return None
    hom, _ = cv2.findHomography(src[keep], dst[keep], cv2.RANSAC, 1.5)
    if hom is None:
        return None
    res, _ = residual_flow(flow, hom)
    mag = np.hypot(res[..., 0], res[..., 1])
    out = mag[~inside]
    med = float(np.median(out))
    thr = med + z * 1.4826 * float(np.median(np.abs(out - med))) + 0.5
    static = inside & (mag < thr)
    if np.count_nonzero(inside & ~static) < min_share * inside.sum():
        return None
    return static


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    return image


def seed_mask(image, box: tuple[int, int, int, int] | None = None, fg: np.ndarray | None = None,
              bg: np.ndarray | None = None, base: np.ndarray | None = None, iterations: int = 5,
              reach: float = 0.1, method: Literal["grabcut", "random_walker"] = "grabcut",
              beta: float = 130.0, static: np.ndarray | None = None, box_tight: bool = True) -> np.ndarray:
    """One object's mask from a box, strokes and/or a mask to correct.

    Parameters
    ----------
    image : ndarray
        uint8 ``(H, W, 3)`` BGR frame.
    box : (x, y, w, h), optional
        The object lies inside; outside is background.
    fg, bg : ndarray of bool, optional
        Pixels that are certainly object / background (strokes, clicks).
    base : ndarray of bool, optional
        A mask to correct: without strokes it is returned as it is; with strokes only the
        pixels within ``reach`` × the frame's diagonal of a stroke may change.
    iterations : int
        GrabCut iterations (re-estimating the colour models and cutting again).
    reach : float
        See ``base``.
    method : {"grabcut", "random_walker"}
        GrabCut, or a random walker on the same seeds (no colour model: a pixel takes the
        label whose strokes a walk from it reaches first; the box's border and, with
        ``base``, the pixels out of reach are its background/object seeds). The walker
        needs an object stroke: a box alone is always cut by GrabCut.
    beta : float
        Random walker: edge weights ``exp(-beta * |dI|^2 / (10 std(I)))`` (scikit-image).
    static : ndarray of bool, optional
        Pixels of the box that move with the background (:func:`static_in_box`): they
        start as probable background instead of probable object.
    box_tight : bool
        The box is tight: every row and column it spans holds object pixels (Lempitsky et
        al. 2009's tightness prior). After GrabCut, rows and columns of the box left empty
        are pinned (:func:`_pin_tight`) and the cut is redone, up to :data:`PIN_ROUNDS`
        times. A user's box drawn around the object is roughly tight, so this is the
        default; ``False`` for a loose box (only "the object is inside").

    Returns
    -------
    ndarray
        bool ``(H, W)``.

    Raises
    ------
    ClassicsegError
        No box, no foreground stroke and no base: nothing says where the object is.

    References
    ----------
    C. Rother, V. Kolmogorov, A. Blake, "GrabCut: Interactive Foreground Extraction using
    Iterated Graph Cuts", SIGGRAPH 2004; Y. Boykov, M.-P. Jolly, "Interactive Graph Cuts
    for Optimal Boundary & Region Segmentation of Objects in N-D Images", ICCV 2001;
    L. Grady, "Random Walks for Image Segmentation", TPAMI 2006; V. Lempitsky, P. Kohli,
    C. Rother, T. Sharp, "Image Segmentation with a Bounding Box Prior", ICCV 2009.
    """
    image = _check_image(image)
    h, w = image.shape[:2]
    fg = np.zeros((h, w), bool) if fg is None else np.asarray(fg, bool)
    bg = np.zeros((h, w), bool) if bg is None else np.asarray(bg, bool) & ~fg
    if method not in ("grabcut", "random_walker"):
        raise ValueError(f"method must be 'grabcut' or 'random_walker', got {method!r}")
    strokes = fg | bg
    if base is not None:
        base = np.asarray(base, bool)
        if not strokes.any() and box is None:
            return base.copy()
    elif box is None and not fg.any():
        raise ClassicsegError("seeds: give a box or a foreground stroke for the object")
    # GrabCut labels: everything starts as probable background
    gc = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    free = np.ones((h, w), bool)  # pixels the cut may decide
    if base is not None:
        gc[base] = cv2.GC_PR_FGD
        if strokes.any():
            r = max(4.0, reach * float(np.hypot(h, w)))
            dist = cv2.distanceTransform((~strokes).view(np.uint8), cv2.DIST_L2, 5)
            far = dist > r
            gc[far & base] = cv2.GC_FGD
            gc[far & ~base] = cv2.GC_BGD
            free &= ~far
    elif fg.any() and box is None:
        dist = cv2.distanceTransform((~fg).view(np.uint8), cv2.DIST_L2, 5)
        if bg.any():  # nearer an object stroke than a background stroke: probably object
            gc[dist < cv2.distanceTransform((~bg).view(np.uint8), cv2.DIST_L2, 5)] = cv2.GC_PR_FGD
        else:  # near the object strokes (within a quarter of their extent)
            ys, xs = np.nonzero(fg)
            gc[dist <= max(3.0, 0.25 * max(np.ptp(ys), np.ptp(xs)))] = cv2.GC_PR_FGD
    if box is not None:
        x, y, bw, bh = box
        inside = np.zeros((h, w), bool)
        inside[y:y + bh, x:x + bw] = True
        gc[~inside] = cv2.GC_BGD
        if base is None:
            gc[inside] = cv2.GC_PR_FGD
            if static is not None:
                gc[inside & static] = cv2.GC_PR_BGD
        free &= inside
    gc[bg] = cv2.GC_BGD
    gc[fg] = cv2.GC_FGD
    if method == "random_walker" and (gc == cv2.GC_FGD).any():
        return _walk(image, gc, free, beta)
    known_fg = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    known_bg = (gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD)
    if not known_fg.any():
        return np.zeros((h, w), bool)
    if not known_bg.any():
        return known_fg
    y0, y1, x0, x1 = _work_box(free | strokes, (h, w))
    sub = np.ascontiguousarray(gc[y0:y1, x0:x1])
    if not ((sub == cv2.GC_BGD) | (sub == cv2.GC_PR_BGD)).any() or not (
            (sub == cv2.GC_FGD) | (sub == cv2.GC_PR_FGD)).any():
        out = known_fg.copy()
        return out
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    try:
        cv2.grabCut(crop, sub, None, bgd, fgd, max(1, iterations), cv2.GC_INIT_WITH_MASK)
        if box is not None and base is None and box_tight:
            x, y, bw, bh = box
            for _ in range(PIN_ROUNDS):
                if not _pin_tight(crop, sub, (x - x0, y - y0, bw, bh), bgd, fgd):
                    break
                cv2.grabCut(crop, sub, None, bgd, fgd, 1, cv2.GC_EVAL)
    except cv2.error:  # one colour model without enough samples: keep the seeds' labels
        pass
    out = known_fg & ~free
    out[y0:y1, x0:x1] = (sub == cv2.GC_FGD) | (sub == cv2.GC_PR_FGD)
    if fg.any() and base is None:  # the object is what its strokes touch, not a far look-alike
        _, lab = cv2.connectedComponents(out.view(np.uint8), connectivity=8)
        keep = np.zeros(lab.max() + 1, bool)
        keep[np.unique(lab[fg & out])] = True
        keep[0] = False
        out = keep[lab]
    return out


def _work_box(free: np.ndarray, shape: tuple[int, int], pad: int = 8) -> tuple[int, int, int, int]:
    """The bounding box of the pixels the cut decides, grown by ``pad`` (GrabCut's colour
    models then see a local background)."""
    ys, xs = np.nonzero(free)
    if ys.size == 0:
        return 0, shape[0], 0, shape[1]
    h, w = shape
    my, mx = max(pad, int(0.1 * (ys.max() - ys.min()))), max(pad, int(0.1 * (xs.max() - xs.min())))
    return max(ys.min() - my, 0), min(ys.max() + my + 1, h), max(xs.min() - mx, 0), min(xs.max() + mx + 1, w)


def _gmm_log_likelihood(model: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Log-likelihood of ``pixels`` (N, 3) under a colour model of :func:`cv2.grabCut`
    (65 doubles: 5 weights, 5 means, 5 covariances 3x3)."""
    m = np.asarray(model, np.float64).ravel()
    k = 5
    weights, means, covs = m[:k], m[k:4 * k].reshape(k, 3), m[4 * k:].reshape(k, 3, 3)
    out = np.full((pixels.shape[0], k), -np.inf)
    for c in range(k):
        if weights[c] <= 0:
            continue
        cov = covs[c] + 1e-3 * np.eye(3)
        d = pixels - means[c]
        maha = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
        out[:, c] = np.log(weights[c]) - 0.5 * np.log(max(np.linalg.det(cov), 1e-300)) - 0.5 * maha
    top = out.max(axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    return (top + np.log(np.exp(out - top).sum(axis=1, keepdims=True))).ravel()


def _pin_tight(crop: np.ndarray, gc: np.ndarray, box: tuple[int, int, int, int], bgd: np.ndarray,
               fgd: np.ndarray) -> bool:
    """Pin object pixels where a tight box's rows or columns hold none; False when all do.

    Lempitsky et al.'s pinpointing: in each row (column) of ``box`` (in ``gc``'s
    coordinates) that the cut left without object, the pixel most object-like under
    GrabCut's colour models (the largest log-likelihood ratio of the object's mixture over
    the background's) becomes sure object (``GC_FGD``). A thin part one pixel across (a
    line, a leg) that the smoothness term cut away is pinned along its length, since each
    of its rows holds one of its pixels. Edits ``gc`` in place.
    """
    x, y, bw, bh = box
    inner = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD))[y:y + bh, x:x + bw]
    rows, cols = np.flatnonzero(~inner.any(axis=1)), np.flatnonzero(~inner.any(axis=0))
    if rows.size == 0 and cols.size == 0:
        return False
    pix = crop[y:y + bh, x:x + bw].reshape(-1, 3).astype(np.float64)
    ratio = (_gmm_log_likelihood(fgd, pix) - _gmm_log_likelihood(bgd, pix)).reshape(bh, bw)
    sure = gc[y:y + bh, x:x + bw]
    sure[rows, np.argmax(ratio[rows], axis=1)] = cv2.GC_FGD
    sure[np.argmax(ratio[:, cols], axis=0), cols] = cv2.GC_FGD
    return True


def _walk(image, gc: np.ndarray, free: np.ndarray, beta: float) -> np.ndarray:
    from skimage.segmentation import random_walker

    h, w = gc.shape
    labels = np.zeros((h, w), np.int32)
    labels[gc == cv2.GC_FGD] = 1
    labels[gc == cv2.GC_BGD] = 2
    if not (labels == 1).any():
        return np.zeros((h, w), bool)
    if not (labels == 2).any():  # no background stroke: the frame's border is background
        labels[[0, -1], :] = np.where(labels[[0, -1], :] == 1, 1, 2)
        labels[:, [0, -1]] = np.where(labels[:, [0, -1]] == 1, 1, 2)
    y0, y1, x0, x1 = _work_box(free, (h, w))
    sub = labels[y0:y1, x0:x1].copy()
    if (y1 - y0, x1 - x0) != (h, w):  # a crop: its border takes the label the pixels start with
        edge = np.zeros(sub.shape, bool)
        edge[[0, -1], :] = edge[:, [0, -1]] = True
        todo = edge & (sub == 0)
        sub[todo] = np.where(gc[y0:y1, x0:x1][todo] == cv2.GC_PR_FGD, 1, 2)
    out = labels == 1
    if (sub == 0).any() and (sub == 1).any() and (sub == 2).any():
        lab = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_BGR2LAB).astype(np.float64)
        res = random_walker(lab, sub, beta=beta, mode="bf" if sub.size <= 200_000 else "cg_j", channel_axis=-1)
        out[y0:y1, x0:x1] = res == 1
    else:
        out[y0:y1, x0:x1] = sub == 1
    return out


def seed_ids(image, seeds: Seeds, base: np.ndarray | None = None, iterations: int = 5, reach: float = 0.1,
             method: Literal["grabcut", "random_walker"] = "grabcut", other: np.ndarray | None = None,
             box_tight: bool = True) -> np.ndarray:
    """Object ids of a frame from seeds (and the ids to correct, ``base``).

    Each object named by the seeds is segmented by :func:`seed_mask` with its own box and
    strokes as object seeds and the background strokes and the other objects' strokes as
    background seeds. A pixel that two objects claim goes to the nearer pixel that only
    one of them claims. Objects of ``base`` that no seed names keep their pixels, less
    those another object now claims.

    Parameters
    ----------
    image : ndarray
        uint8 ``(H, W, 3)`` BGR frame.
    seeds : Seeds
        Checked against the frame here (:meth:`~classicseg.io.seeds.Seeds.check`).
    base : ndarray, optional
        ``uint8 (H, W)`` ids to correct.
    iterations, reach, method, box_tight :
        See :func:`seed_mask`.
    other : ndarray, optional
        Another frame of the video (e.g. :data:`MOTION_GAP` frames away): a box's pixels that
        move with the camera between the two start as background (:func:`static_in_box`).
        Off in the command line and the annotate page: on the eight DAVIS 2016 sequences it
        helped one (blackswan) and lost on the others (J&F from the box 0.542 without it,
        0.562 with it, 0.528 leave-one-sequence-out; measured before the tightness prior).

    Returns
    -------
    ndarray
        ``uint8 (H, W)`` ids, 0 = background.

    Raises
    ------
    ClassicsegError
        A box of zero size or outside the frame, scribbles of another size, an object with
        neither a box nor a stroke nor a mask in ``base``.
    """
    image = _check_image(image)
    shape = image.shape[:2]
    seeds = seeds.check(shape)
    if base is not None:
        base = np.asarray(base)
        if base.shape != shape:
            raise ClassicsegError(f"seeds: the mask to correct is {base.shape[1]}x{base.shape[0]} but the frame is "
                                  f"{shape[1]}x{shape[0]}")
        base = base.view(np.uint8) if base.dtype == bool else base.astype(np.uint8)
    scrib = seeds.scribbles if seeds.scribbles is not None else np.zeros(shape, np.uint8)
    scrib = clicks_to_scribbles(seeds.clicks, shape, scribbles=scrib)
    boxes: dict[int, tuple[int, int, int, int]] = {}
    for oid, b in seeds.boxes:
        boxes[oid] = b
    ids = sorted(set(seeds.ids) | set(boxes))
    if not ids and base is None:
        raise ClassicsegError("seeds: no object (give a box, a foreground stroke or a positive click)")
    claims: dict[int, np.ndarray] = {}
    for oid in ids:
        fg = scrib == oid
        bg = (scrib > 0) & ~fg
        own = base == oid if base is not None else None
        if oid not in boxes and not fg.any() and (own is None or not own.any()):
            raise ClassicsegError(f"seeds: object {oid} has only negative clicks: give a box or a positive stroke")
        own = own if own is not None and own.any() else None
        static = (static_in_box(image, other, boxes[oid]) if other is not None and oid in boxes and own is None
                  else None)
        claims[oid] = seed_mask(image, boxes.get(oid), fg, bg, own, iterations, reach, method, static=static,
                                box_tight=box_tight)
    out = np.zeros(shape, np.uint8)
    if base is not None:
        out[:] = base
        for oid in ids:
            out[out == oid] = 0
        any_claim = np.zeros(shape, bool)
        for m in claims.values():
            any_claim |= m
        out[any_claim | (scrib == BACKGROUND)] = 0
    count = np.zeros(shape, np.uint8)
    for oid, m in claims.items():
        count += m
        out[m] = oid
    both = count > 1
    if both.any():
        unique = np.where(count == 1, out, 0).astype(np.uint8)
        fg_all = count > 0
        out = np.where(fg_all, assign_ids(fg_all, unique), out).astype(np.uint8)
    return out
