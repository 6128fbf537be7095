"""Unsupervised moving-object segmentation by camera-compensated motion (``motion.saliency``).

No mask is given. Each frame gets a foreground probability (``prob``) from the motion that
the camera does not explain:

1. **camera motion**: a homography between the current and the previous frame, fitted
   robustly (RANSAC / USAC) to point correspondences: vectors of the dense backward flow
   (``flow`` slot) sampled on a grid, or corners tracked by pyramidal Lucas-Kanade
   (:func:`flow_correspondences`, :func:`track_features`, :func:`fit_homography`);
2. **residual motion**: the flow minus the homography's displacement
   (:func:`residual_flow`); what is left is the objects' own motion;
3. **saliency**: the residual magnitude, normalised by the frame's median and MAD (a robust
   noise scale), through a logistic (:func:`motion_probability`);
4. **accumulation**: the previous accumulated probability carried along the flow and
   blended with the new one (:func:`accumulate`), so that an object that stops briefly
   stays;
5. optionally an **appearance** term: colour histograms of confidently moving and
   confidently static pixels (:class:`classicseg.stages.vos.appearance.ColorModel`), fused in
   log-odds inside a box around the moving region, as in Papazoglou & Ferrari (2013).

A refinement stage (``refine.graphcut``, ``refine.random_walker``) turns ``prob`` into
the final ``fg``. With ``camera: none`` the homography is skipped (the raw flow magnitude
is used): the uncompensated baseline.
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from classicseg.errors import ClassicsegError
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.stages.flow import pixel_grid, to_gray, warp
from classicseg.stages.vos.appearance import ColorModel, fuse_in_box, to_colour_space
from classicseg.stages.vos.logodds import sigmoid
from classicseg.types import Sample

__all__ = ["flow_correspondences", "track_features", "fit_homography", "camera_flow", "residual_flow",
           "motion_probability", "accumulate", "primary_object", "MotionSaliency"]

_METHODS = {"ransac": cv2.RANSAC, "lmeds": cv2.LMEDS, "usac_magsac": cv2.USAC_MAGSAC,
            "usac_default": cv2.USAC_DEFAULT}


def _check_flow(flow, what: str = "flow") -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"{what} must be (H, W, 2), got shape {flow.shape}")
    return flow.astype(np.float32, copy=False)


def flow_correspondences(flow, step: int = 16, border: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Point pairs sampled from a dense backward flow on a regular grid.

    Parameters
    ----------
    flow : ndarray
        float32 ``(H, W, 2)`` backward flow of frame ``t`` (pixel ``(x, y)`` of ``t`` came
        from ``(x + dx, y + dy)`` of ``t - 1``).
    step : int
        Grid spacing (px).
    border : int
        Pixels this close to the frame's edge are not sampled (flow is least reliable there).

    Returns
    -------
    src, dst : ndarray
        float32 ``(N, 2)`` points ``(x, y)`` of frame ``t`` and where they were in ``t - 1``.

    References
    ----------
    Sampling dense flow for a global motion model: D. Sun, S. Roth, M. J. Black, "Secrets
    of Optical Flow Estimation and Their Principles", CVPR 2010 (flow as correspondences);
    the model is then fitted by :func:`fit_homography`.
    """
    flow = _check_flow(flow)
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    h, w = flow.shape[:2]
    b = border if (h > 2 * border and w > 2 * border) else 0
    ys, xs = np.mgrid[b + step // 2:h - b:step, b + step // 2:w - b:step]
    if xs.size == 0:
        ys, xs = np.mgrid[0:h:max(step, 1), 0:w:max(step, 1)]
    xs, ys = xs.ravel(), ys.ravel()
    src = np.stack([xs, ys], 1).astype(np.float32)
    dst = src + flow[ys, xs]
    return src, dst


def track_features(gray, prev_gray, max_corners: int = 800, quality_level: float = 0.01, min_distance: int = 8,
                   win_size: int = 21, max_level: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Corners of the current frame tracked back into the previous one (pyramidal Lucas-Kanade).

    Parameters
    ----------
    gray, prev_gray : ndarray
        uint8 frames ``t`` and ``t - 1`` (grey or BGR), of the same size.
    max_corners, quality_level, min_distance
        OpenCV ``goodFeaturesToTrack``'s parameters of the same names.
    win_size, max_level
        OpenCV ``calcOpticalFlowPyrLK``'s window side and pyramid levels.

    Returns
    -------
    src, dst : ndarray
        float32 ``(N, 2)``: corners of frame ``t`` that were tracked, and their positions in
        ``t - 1`` (``N`` may be 0 on a textureless frame).

    References
    ----------
    J. Shi, C. Tomasi, "Good Features to Track", CVPR 1994; J.-Y. Bouguet, "Pyramidal
    Implementation of the Lucas Kanade Feature Tracker", Intel 2000.
    """
    from classicseg.stages.flow import gray_pair

    g, p = gray_pair(gray, prev_gray)
    pts = cv2.goodFeaturesToTrack(g, max_corners, quality_level, min_distance)
    empty = np.zeros((0, 2), np.float32)
    if pts is None or len(pts) == 0:
        return empty, empty
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(g, p, pts, None, winSize=(win_size, win_size), maxLevel=max_level)
    ok = st.ravel() == 1
    return pts.reshape(-1, 2)[ok].astype(np.float32), nxt.reshape(-1, 2)[ok].astype(np.float32)


def fit_homography(src, dst, method: str = "ransac", reproj_threshold: float = 1.5, max_iters: int = 2000,
                   confidence: float = 0.995) -> tuple[np.ndarray, np.ndarray]:
    """Robust homography ``dst ~ H·src`` (OpenCV ``findHomography``).

    Parameters
    ----------
    src, dst : ndarray
        ``(N, 2)`` corresponding points.
    method : {'ransac', 'lmeds', 'usac_magsac', 'usac_default'}
        Robust estimator.
    reproj_threshold : float
        Largest reprojection error (px) of an inlier.
    max_iters, confidence
        RANSAC iterations and confidence.

    Returns
    -------
    H : ndarray
        float64 ``(3, 3)``, ``H[2, 2] = 1``. With fewer than 4 points, or when the fit
        fails (degenerate points), the median translation of the pairs (identity with no
        pairs): the camera is then taken to translate.
    inliers : ndarray
        bool ``(N,)``.

    References
    ----------
    M. A. Fischler, R. C. Bolles, "Random Sample Consensus", CACM 1981; R. Hartley,
    A. Zisserman, "Multiple View Geometry", 2nd ed., ch. 4 (the DLT);
    D. Barath et al., "MAGSAC++", CVPR 2020 (``usac_magsac``).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
    src = np.asarray(src, np.float32).reshape(-1, 2)
    dst = np.asarray(dst, np.float32).reshape(-1, 2)
    if src.shape != dst.shape:
        raise ValueError(f"src and dst must have the same number of points, got {len(src)} and {len(dst)}")
    fin = np.isfinite(src).all(1) & np.isfinite(dst).all(1)
    src, dst = src[fin], dst[fin]
    inl = np.zeros(len(fin), bool)
    H = None
    if len(src) >= 4:
        H, m = cv2.findHomography(src, dst, _METHODS[method], reproj_threshold, maxIters=max_iters,
                                  confidence=confidence)
    if H is None or not np.isfinite(H).all() or abs(H[2, 2]) < 1e-12:
        H = np.eye(3)
        if len(src):
            H[:2, 2] = np.median(dst - src, axis=0)
            err = np.hypot(*(dst - src - H[:2, 2]).T)
            inl[np.flatnonzero(fin)[err <= reproj_threshold]] = True
        return H, inl
    inl[np.flatnonzero(fin)] = m.ravel().astype(bool)
    return H / H[2, 2], inl


def camera_flow(H, shape: tuple[int, int]) -> np.ndarray:
    """The flow field a homography induces: ``f(x) = H(x) − x`` on an ``(h, w)`` grid.

    Returns
    -------
    ndarray
        float32 ``(h, w, 2)``.
    """
    H = np.asarray(H, np.float64)
    if H.shape != (3, 3):
        raise ValueError(f"H must be 3x3, got shape {H.shape}")
    h, w = shape
    xs, ys = pixel_grid(h, w)
    den = (H[2, 0] * xs + H[2, 1] * ys + H[2, 2]).astype(np.float32)
    den = np.where(np.abs(den) < 1e-6, np.float32(1e-6), den)
    out = np.empty((h, w, 2), np.float32)
    out[:, :, 0] = (H[0, 0] * xs + H[0, 1] * ys + H[0, 2]) / den - xs
    out[:, :, 1] = (H[1, 0] * xs + H[1, 1] * ys + H[1, 2]) / den - ys
    return out


def residual_flow(flow, H) -> tuple[np.ndarray, np.ndarray]:
    """The flow left after removing the camera motion ``H``, and where it is defined.

    Parameters
    ----------
    flow : ndarray
        float32 ``(H, W, 2)`` backward flow of frame ``t``.
    H : ndarray
        ``(3, 3)`` homography from frame ``t`` to ``t - 1`` (:func:`fit_homography` of
        :func:`flow_correspondences`).

    Returns
    -------
    residual : ndarray
        float32 ``(H, W, 2)``: ``flow − (H(x) − x)``.
    visible : ndarray
        bool ``(H, W)``: pixels whose camera-motion source ``H(x)`` lies inside frame
        ``t - 1`` (elsewhere the scene just entered the view and the flow is a guess).

    References
    ----------
    M. Irani, P. Anandan, "A Unified Approach to Moving Object Detection in 2D and 3D
    Scenes", TPAMI 20(6), 1998 (plane + parallax: the residual after 2D registration).
    """
    flow = _check_flow(flow)
    h, w = flow.shape[:2]
    cam = camera_flow(H, (h, w))
    xs, ys = pixel_grid(h, w)
    sx, sy = xs + cam[:, :, 0], ys + cam[:, :, 1]
    visible = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
    return flow - cam, visible


def motion_probability(residual, valid=None, z_threshold: float = 3.0, gain: float = 1.0,
                       min_sigma: float = 0.5) -> np.ndarray:
    """Foreground probability from a residual flow, normalised by the frame's robust spread.

    ``z = (|r| − median|r|) / max(1.4826·MAD(|r|), min_sigma)`` and
    ``p = 1 / (1 + exp(−gain·(z − z_threshold)))``; pixels outside ``valid`` get 0.

    Parameters
    ----------
    residual : ndarray
        float32 ``(H, W, 2)`` residual flow (:func:`residual_flow`), or the raw flow.
    valid : ndarray of bool, optional
        Pixels with a meaningful residual; the statistics use only these.
    z_threshold : float
        Robust z-score at which ``p = 0.5``.
    gain : float
        Slope of the logistic.
    min_sigma : float
        Floor of the noise scale (px), so that a perfectly still frame is not all noise.

    Returns
    -------
    ndarray
        float32 ``(H, W)`` in [0, 1].

    References
    ----------
    P. J. Rousseeuw, C. Croux, "Alternatives to the Median Absolute Deviation", JASA 1993
    (MAD as a robust scale); A. Papazoglou, V. Ferrari, "Fast Object Segmentation in
    Unconstrained Video", ICCV 2013 (motion as the foreground cue).
    """
    r = _check_flow(residual, "residual")
    if gain <= 0:
        raise ValueError(f"gain must be > 0, got {gain}")
    if min_sigma <= 0:
        raise ValueError(f"min_sigma must be > 0, got {min_sigma}")
    mag = cv2.magnitude(np.ascontiguousarray(r[:, :, 0]), np.ascontiguousarray(r[:, :, 1]))
    if valid is not None:
        valid = np.asarray(valid, bool)
        if valid.shape != mag.shape:
            raise ValueError(f"valid must be {mag.shape}, got {valid.shape}")
    sel = mag[valid] if valid is not None else mag
    if sel.size == 0:
        return np.zeros(mag.shape, np.float32)
    sub = sel[:: max(sel.size // 50000, 1)]
    med = float(np.median(sub))
    sigma = max(1.4826 * float(np.median(np.abs(sub - med))), min_sigma)
    z = (mag - med) / sigma
    p = sigmoid(gain * (z - z_threshold))
    if valid is not None:
        p[~valid] = 0.0
    return p


def accumulate(prev_acc, prob, flow, rate: float = 0.5) -> np.ndarray:
    """Blend a new probability with the previous accumulated one carried along the flow.

    ``acc_t = (1 − rate)·warp(acc_{t−1}, flow) + rate·p_t``: an object that stops keeps a
    probability that halves every ``ln 2 / −ln(1 − rate)`` frames; a one-frame flicker is
    damped by ``rate``.

    Parameters
    ----------
    prev_acc : ndarray or None
        float32 ``(H, W)`` accumulated probability of frame ``t - 1``; ``None``: start.
    prob : ndarray
        float32 ``(H, W)`` probability of frame ``t``.
    flow : ndarray
        float32 ``(H, W, 2)`` backward flow of frame ``t``.
    rate : float
        Weight of the new frame, in (0, 1].

    Returns
    -------
    ndarray
        float32 ``(H, W)``.

    References
    ----------
    Recursive (exponential) filtering along motion trajectories, as in A. Papazoglou,
    V. Ferrari, "Fast Object Segmentation in Unconstrained Video", ICCV 2013 (temporal
    smoothness along the flow).
    """
    prob = np.asarray(prob, np.float32)
    if not 0 < rate <= 1:
        raise ValueError(f"rate must be in (0, 1], got {rate}")
    if prev_acc is None or rate == 1:
        return prob.copy()
    prev_acc = np.asarray(prev_acc, np.float32)
    if prev_acc.shape != prob.shape:
        raise ValueError(f"prev_acc is {prev_acc.shape} but prob is {prob.shape}")
    return ((1 - rate) * warp(prev_acc, _check_flow(flow)) + rate * prob).astype(np.float32)


def primary_object(prob, threshold: float = 0.5, margin: float = 0.15, min_margin: int = 16,
                   join: int = 0) -> np.ndarray:
    """Keep the probability only around its strongest region: the primary moving object.

    The connected components (8-connected) of ``prob > threshold``, where parts closer
    than about ``2·join`` px count as one, are scored by their probability mass; ``prob`` is kept inside the bounding box of the best one, grown by
    ``margin`` × its size (at least ``min_margin`` px), and set to 0 elsewhere.

    Parameters
    ----------
    prob : ndarray
        float32 ``(H, W)`` foreground probability.
    threshold : float
        Level that defines the regions.
    margin, min_margin : float, int
        Growth of the kept box (see :func:`classicseg.geometry.roi_box`).
    join : int
        Radius (px) of the dilation that joins nearby parts into one region (0: none).

    Returns
    -------
    ndarray
        float32 ``(H, W)``; all 0 when no pixel is above ``threshold``.

    References
    ----------
    F. Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for Video Object
    Segmentation", CVPR 2016 (DAVIS: one primary object per sequence).
    """
    from classicseg.geometry import roi_box

    prob = np.asarray(prob, np.float32)
    if prob.ndim != 2:
        raise ValueError(f"prob must be (H, W), got shape {prob.shape}")
    if join < 0:
        raise ValueError(f"join must be >= 0, got {join}")
    mask = (prob > threshold).astype(np.uint8)
    grown = mask if join == 0 else cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                              (2 * join + 1, 2 * join + 1)))
    n, labels = cv2.connectedComponents(grown, connectivity=8)
    out = np.zeros_like(prob)
    if n < 2:
        return out
    labels[mask == 0] = 0
    mass = np.bincount(labels.ravel(), weights=prob.ravel(), minlength=n)
    mass[0] = -1
    box = roi_box(labels == int(np.argmax(mass)), margin, min_margin)
    y0, y1, x0, x1 = box
    out[y0:y1, x0:x1] = prob[y0:y1, x0:x1]
    return out


# --------------------------------------------------------------------------- stage
class MotionSaliencyParams(Params):
    camera: Literal["homography", "none"] = Field(
        "homography", description="remove the camera motion by a homography (none: raw flow magnitude, the baseline)")
    points: Literal["flow", "lk"] = Field(
        "flow", description="homography correspondences: dense flow on a grid, or Lucas-Kanade corners")
    step: int = Field(16, ge=2, le=128, description="points=flow: grid spacing (px)")
    max_corners: int = Field(800, ge=8, le=10000, description="points=lk: most corners")
    quality_level: float = Field(0.01, gt=0, lt=1, description="points=lk: corner quality relative to the best")
    min_distance: int = Field(8, ge=1, le=100, description="points=lk: smallest distance between corners (px)")
    method: Literal["ransac", "lmeds", "usac_magsac", "usac_default"] = Field(
        "ransac", description="robust homography estimator")
    ransac_reproj_threshold: float = Field(1.5, gt=0, le=20, description="inlier reprojection error (px)")
    z_threshold: float = Field(4.0, ge=0, le=50, description="robust z-score of the residual motion with prob 0.5")
    gain: float = Field(1.0, gt=0, le=20, description="slope of the logistic on the z-score")
    min_sigma: float = Field(1.0, gt=0, le=20, description="floor of the residual noise scale (px)")
    rate: float = Field(0.5, gt=0, le=1, description="weight of the new frame in the accumulated probability")
    w_colour: float = Field(1.0, ge=0, le=10, description="weight of the colour log-odds (0: motion only)")
    bins: int = Field(16, ge=2, le=64, description="colour histogram levels per channel")
    colour_space: Literal["bgr", "lab", "hsv"] = Field("lab", description="colour space of the histograms")
    colour_rate: float = Field(0.2, gt=0, le=1, description="colour model update rate per frame")
    fg_threshold: float = Field(0.7, gt=0, lt=1, description="accumulated prob above which a pixel teaches object colour")
    bg_threshold: float = Field(0.1, gt=0, lt=1, description="accumulated prob below which a pixel teaches background colour")
    margin: float = Field(0.15, ge=0, le=2, description="colour is used in the box of prob > 0.5 grown by this share")
    min_margin: int = Field(16, ge=0, le=500, description="smallest colour box margin (px)")
    feedback: bool = Field(False, description="accumulate from the previous probability raised to 1 inside "
                           "the previous final mask (a refine stage's fg)")
    primary: bool = Field(False, description="keep only the region of the strongest moving component (one object)")
    join: int = Field(0, ge=0, le=200, description="primary: parts closer than about 2*join px are one region")


@register
class MotionSaliency(Stage):
    """Moving-object probability from the flow left after removing the camera's homography."""

    name = "motion.saliency"
    bytes_per_pixel = 200  # per-pixel state, for the memory check before the first frame
    Params = MotionSaliencyParams
    requires = ("image", "flow")
    provides = ("prob",)
    cite = ("M. Irani, P. Anandan, A Unified Approach to Moving Object Detection in 2D and 3D Scenes, TPAMI 1998; "
            "A. Papazoglou, V. Ferrari, Fast Object Segmentation in Unconstrained Video, ICCV 2013")

    def reset(self) -> None:
        self.acc: np.ndarray | None = None
        self.prev_gray: np.ndarray | None = None
        self.prev_sample: Sample | None = None
        self.colour = ColorModel(self.params.bins)
        self.homography = np.eye(3)
        self.inlier_ratio = 1.0

    def _homography(self, gray: np.ndarray, flow: np.ndarray) -> np.ndarray:
        p = self.params
        if p.points == "lk":
            if self.prev_gray is None or self.prev_gray.shape != gray.shape:
                return np.eye(3)
            src, dst = track_features(gray, self.prev_gray, p.max_corners, p.quality_level, p.min_distance)
        else:
            src, dst = flow_correspondences(flow, p.step)
        H, inl = fit_homography(src, dst, p.method, p.ransac_reproj_threshold)
        self.inlier_ratio = float(inl.mean()) if inl.size else 0.0
        return H

    def process(self, sample: Sample) -> Sample:
        p = self.params
        flow = sample["flow"]
        if flow.shape[:2] != sample.shape:
            raise ClassicsegError(f"{self.name}: flow is {flow.shape[1]}x{flow.shape[0]} but the frame is "
                                  f"{sample.shape[1]}x{sample.shape[0]}")
        gray = sample.data.get("gray")
        gray = to_gray(sample.image) if gray is None else gray
        first = self.prev_gray is None or self.prev_gray.shape != gray.shape
        if first:  # no previous frame: no motion evidence yet
            self.reset()
            prob = np.zeros(sample.shape, np.float32)
        elif p.camera == "homography":
            self.homography = self._homography(gray, flow)
            residual, visible = residual_flow(flow, self.homography)
            prob = motion_probability(residual, visible, p.z_threshold, p.gain, p.min_sigma)
        else:
            prob = motion_probability(flow, None, p.z_threshold, p.gain, p.min_sigma)
        self.prev_gray = gray
        memory = self.acc
        if p.feedback and self.prev_sample is not None and "fg" in self.prev_sample:
            memory = np.maximum(self.acc, self.prev_sample["fg"].astype(np.float32))
        acc = prob if first else accumulate(memory, prob, flow, p.rate)
        self.prev_sample = sample
        self.acc = acc
        if p.primary:
            acc = primary_object(acc, 0.5, p.margin, p.min_margin, p.join)
        if p.w_colour > 0 and not first:
            img = to_colour_space(sample.image, p.colour_space)
            fg, bg = acc > p.fg_threshold, acc < p.bg_threshold
            if fg.sum() >= 16 and bg.any():
                self.colour.update(img, fg, bg, 1.0 if not self.colour.ready else p.colour_rate)
            if self.colour.ready:
                acc = fuse_in_box(acc, img, self.colour, 1.0, p.w_colour, p.margin, p.min_margin)
        sample["prob"] = acc
        return sample
