"""Semi-supervised video object segmentation by mask propagation (``vos.propagate``).

Given the object's mask on the first frame, each later frame gets a foreground
probability (``prob``) that fuses these cues, as in ObjectFlow (Tsai et al. 2016) and
its predecessors:

* **motion**: the previous frame's final mask carried to the current frame along the
  backward optical flow (``flow`` slot, see :mod:`classicseg.stages.flow`), blurred in
  proportion to the local motion so that its edge is uncertain where the flow is; pixels
  in the ``occlusion`` slot get no motion evidence;
* **appearance**: colour histograms of the object and of the background around it
  (:class:`ColorModel`), built on the first frame; optionally a second, recent colour
  model (:class:`TwoColourModels`) and a colour-and-texture classifier
  (:class:`PixelClassifier` on :func:`pixel_features`), both learned from the first
  frame and from the pixels of later frames that independent cues label with
  confidence (:func:`confident_labels`: the motion prior, the motion coherence, the
  first-frame colours), so that they follow the object into shade without learning
  the mask's own errors; appearance re-finds parts that the flow lost (fast motion,
  occlusion);
* **motion coherence** (``w_flow``): pixels that move with the object rather than with
  its surroundings (:func:`motion_coherence`), which tells uncovered background from
  object where colour cannot;
* **shape** (``w_shape``): the first-frame mask carried by the object's accumulated
  affine motion (:class:`ShapeTemplate`), weighted by how rigid the object's motion has
  been, which keeps parts of a rigid object that the other cues lose together (a car's
  front in shade).

The cues are combined as a sum of weighted log-odds (a product of experts). The warped
mask's own confidence is bounded (``motion_confidence``) so that the other cues can
correct it where it drifted, and (``linked``) parts of ``prob > 0.5`` that do not touch
the warped mask are dropped, so colour alone does not start the object elsewhere. A refinement
stage (``refine.graphcut``) then turns ``prob`` into the final ``fg``; the stage reads
that final mask back from the previous sample, so the chain
``flow.* -> vos.propagate -> refine.*`` runs in a plain, causal pipeline.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from classicseg.errors import ClassicsegError
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.stages.flow import warp
from classicseg.types import Sample

__all__ = [
    "ColorModel",
    "PixelClassifier",
    "Propagate",
    "ShapeTemplate",
    "TwoColourModels",
    "confident_labels",
    "fuse",
    "motion_coherence",
    "motion_prior",
    "object_affine",
    "pixel_features",
    "propagate",
    "read_init_mask",
    "sigmoid",
    "uniform_lbp",
    "unlinked_capped",
]

_EPS = 1e-3


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function (the inverse of the log-odds), float32."""
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32, copy=False)


class ColorModel:
    """Object and background colour histograms; posterior P(object | colour).

    Colours are quantised to ``bins`` levels per channel (``bins³`` cells). Both
    histograms are normalised; each cell gets a prior count of ``prior`` (in units of a
    uniform histogram's cell mass) so that unseen colours are 0.5.

    References
    ----------
    M. J. Swain, D. H. Ballard, "Color Indexing", IJCV 7(1), 1991 (histograms);
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016
    (appearance term updated over time).
    """

    def __init__(self, bins: int = 16, prior: float = 1.0, smooth: float = 0.0) -> None:
        if bins < 2 or bins > 64:
            raise ValueError(f"bins must be in 2..64, got {bins}")
        self.bins = bins
        self.prior = prior
        self.smooth = smooth
        self.shift = 8 - int(np.log2(bins)) if (bins & (bins - 1)) == 0 else None
        self.fg: np.ndarray | None = None
        self.bg: np.ndarray | None = None
        self._lut: np.ndarray | None = None

    def index(self, image: np.ndarray) -> np.ndarray:
        """Histogram cell of every pixel, int32 of the image's leading shape."""
        img = np.asarray(image)
        if img.dtype != np.uint8 or img.shape[-1] != 3:
            raise ValueError(f"image must be uint8 (..., 3), got {img.dtype} {img.shape}")
        b = self.bins
        if self.shift is not None:
            q = (img >> self.shift).astype(np.int32)
        else:
            q = (img.astype(np.int32) * b) >> 8
        return (q[..., 0] * b + q[..., 1]) * b + q[..., 2]

    def _hist(self, idx: np.ndarray) -> np.ndarray:
        h = np.bincount(idx.ravel(), minlength=self.bins ** 3).astype(np.float64)
        if self.smooth > 0:
            h = cv2.GaussianBlur(h.reshape(self.bins, self.bins * self.bins), (0, 0), self.smooth).ravel()
        s = h.sum()
        return h / s if s > 0 else h

    def update(self, image: np.ndarray, fg: np.ndarray, bg: np.ndarray, rate: float = 1.0) -> None:
        """Blend the histograms of the pixels ``fg`` and ``bg`` of ``image`` into the model
        (``rate = 1`` replaces it; an empty set leaves its histogram as it is)."""
        idx = self.index(image)
        for name, sel in (("fg", fg), ("bg", bg)):
            if not sel.any():
                continue
            h = self._hist(idx[sel])
            old = getattr(self, name)
            setattr(self, name, h if old is None or rate >= 1 else (1 - rate) * old + rate * h)
        self._lut = None

    @property
    def ready(self) -> bool:
        return self.fg is not None and self.bg is not None

    def lut(self) -> np.ndarray:
        """float32 table cell -> P(object | colour)."""
        if self._lut is None:
            if not self.ready:
                raise ValueError("colour model has not seen both object and background pixels")
            u = self.prior / self.bins ** 3
            f, b = self.fg + u, self.bg + u
            self._lut = (f / (f + b)).astype(np.float32)
        return self._lut

    def posterior(self, image: np.ndarray) -> np.ndarray:
        """float32 P(object | colour) of every pixel of ``image``."""
        return self.lut()[self.index(image)]


N_FEATURES = 18


def pixel_features(image: np.ndarray, box=None, scale: float = 3.0) -> np.ndarray:
    """Per-pixel colour and texture features for :class:`PixelClassifier`.

    Eighteen channels, each scaled to about [0, 1]: the three colour channels, their
    local means (Gaussian, ``scale`` px), the local standard deviation of the first
    (lightness) channel, the local mean gradient magnitude, and the local histogram
    (Gaussian window, ``scale`` px) of the ten rotation-invariant uniform local binary
    patterns of the lightness (8 neighbours, radius 1). Colour alone confuses a shaded
    object with dark background; the texture channels tell smooth paint or sky from
    asphalt, foliage or fur.

    Parameters
    ----------
    image : ndarray
        uint8 ``(H, W, 3)``, lightness first (Lab).
    box : (y0, y1, x0, x1), optional
        Compute only inside it; the result has the box's shape.
    scale : float
        Standard deviation (px) of the local windows.

    Returns
    -------
    ndarray
        float32 ``(h, w, 18)``.

    References
    ----------
    T. Ojala, M. Pietikäinen, T. Mäenpää, "Multiresolution Gray-Scale and Rotation
    Invariant Texture Classification with Local Binary Patterns", TPAMI 24(7), 2002.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be uint8 (H, W, 3), got {img.dtype} {img.shape}")
    if box is not None:
        y0, y1, x0, x1 = box
        img = img[y0:y1, x0:x1]
    h, w = img.shape[:2]
    out = np.empty((h, w, N_FEATURES), np.float32)
    col = img.astype(np.float32) * np.float32(1 / 255)
    out[:, :, 0:3] = col
    out[:, :, 3:6] = cv2.GaussianBlur(col, (0, 0), scale)
    lum = np.ascontiguousarray(col[:, :, 0])
    mean = out[:, :, 3]
    var = cv2.GaussianBlur(lum * lum, (0, 0), scale) - mean * mean
    out[:, :, 6] = 4.0 * np.sqrt(np.maximum(var, 0))
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1)
    out[:, :, 7] = cv2.GaussianBlur(cv2.magnitude(gx, gy), (0, 0), scale)
    codes = uniform_lbp(img[:, :, 0])
    onehot = np.zeros((h, w, 10), np.float32)
    np.put_along_axis(onehot, codes[:, :, None], 1.0, axis=2)
    out[:, :, 8:] = cv2.GaussianBlur(onehot, (0, 0), scale)
    return out


def uniform_lbp(gray: np.ndarray) -> np.ndarray:
    """Rotation-invariant uniform LBP codes (P=8, R=1; 0..9) of a grey image, uint8: the numba
    kernel where numba is enabled, else its bit-exact twin, scikit-image (see
    :mod:`classicseg.kernels.lbp`)."""
    from classicseg import kernels
    from classicseg.kernels.lbp import lbp_numba, lbp_skimage

    fn = lbp_numba if kernels.enabled() else lbp_skimage
    return fn(gray, "uniform").astype(np.uint8)


def _design(x: np.ndarray) -> np.ndarray:
    """Features, squares of the six colour channels, and a constant."""
    return np.concatenate([x, x[:, :6] ** 2, np.ones((len(x), 1), x.dtype)], axis=1)


class PixelClassifier:
    """Logistic regression object-vs-background on :func:`pixel_features`.

    Trained by Newton's method (L2 penalty ``l2``) on a fixed set of pixels from the
    first frame (``anchor``) plus the pixels of the last ``memory`` frames that were
    labelled with confidence (:func:`confident_labels`): the first frame keeps the
    object's look, the recent frames follow it into shade or a new pose. Each class of
    each frame gives at most ``samples`` pixels (drawn at random, fixed seed).

    References
    ----------
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016
    (appearance model updated from the segmented frames); X. Bai, J. Wang, D. Simons,
    G. Sapiro, "Video SnapCut", SIGGRAPH 2009 (colour and shape/texture cues learned from
    the previous frame).
    """

    def __init__(self, samples: int = 3000, memory: int = 3, l2: float = 1.0, iterations: int = 8,
                 seed: int = 0) -> None:
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        if memory < 0:
            raise ValueError(f"memory must be >= 0, got {memory}")
        self.samples, self.memory, self.l2, self.iterations = samples, memory, l2, iterations
        self.rng = np.random.default_rng(seed)
        self.anchor: tuple[np.ndarray, np.ndarray] | None = None
        self.recent: list[tuple[np.ndarray, np.ndarray]] = []
        self.w: np.ndarray | None = None

    @property
    def ready(self) -> bool:
        return self.w is not None

    def _draw(self, feats: np.ndarray, fg: np.ndarray, bg: np.ndarray):
        xs, ys = [], []
        for sel, label in ((fg, 1.0), (bg, 0.0)):
            idx = np.flatnonzero(sel.ravel())
            if idx.size > self.samples:
                idx = self.rng.choice(idx, self.samples, replace=False)
            xs.append(feats.reshape(-1, feats.shape[-1])[idx])
            ys.append(np.full(idx.size, label))
        return np.concatenate(xs), np.concatenate(ys)

    def add(self, feats: np.ndarray, fg: np.ndarray, bg: np.ndarray, anchor: bool = False) -> None:
        """Add the pixels ``fg`` (object) and ``bg`` of ``feats`` ``(h, w, d)`` and refit.

        With ``anchor`` they replace the first-frame set (both classes must be non-empty);
        otherwise they join the recent frames (the oldest beyond ``memory`` is dropped;
        a frame with an empty class is skipped)."""
        if fg.shape != feats.shape[:2] or bg.shape != feats.shape[:2]:
            raise ValueError(f"fg/bg must be {feats.shape[:2]}, got {fg.shape} and {bg.shape}")
        if not fg.any() or not bg.any():
            if anchor:
                raise ValueError("the first frame needs both object and background pixels")
            return
        if anchor:
            self.anchor = self._draw(feats, fg, bg)
            self.recent = []
        elif self.memory > 0:
            self.recent = (self.recent + [self._draw(feats, fg, bg)])[-self.memory:]
        else:
            return
        self.fit()

    def fit(self) -> None:
        """Fit the weights on the anchor and recent pixels (class-balanced)."""
        sets = ([self.anchor] if self.anchor is not None else []) + self.recent
        x = _design(np.concatenate([s[0] for s in sets]).astype(np.float64))
        y = np.concatenate([s[1] for s in sets])
        n1 = max(y.sum(), 1.0)
        n0 = max(len(y) - y.sum(), 1.0)
        sw = np.where(y > 0, len(y) / (2 * n1), len(y) / (2 * n0))
        w = np.zeros(x.shape[1]) if self.w is None else self.w.copy()
        reg = self.l2 * np.eye(x.shape[1])
        reg[-1, -1] = 0.0
        for _ in range(self.iterations):
            p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
            g = x.T @ (sw * (p - y)) + reg @ w
            hess = (x * (sw * p * (1 - p))[:, None]).T @ x + reg + 1e-9 * np.eye(len(w))
            w -= np.linalg.solve(hess, g)
        self.w = w

    def logit(self, feats: np.ndarray) -> np.ndarray:
        """float32 log-odds of object for every pixel of ``feats`` ``(h, w, d)``."""
        if self.w is None:
            raise ValueError("pixel classifier has not been trained")
        x = feats.reshape(-1, feats.shape[-1])
        w = self.w.astype(np.float32)
        d = x.shape[1]
        z = x @ w[:d] + (x[:, :6] ** 2) @ w[d:d + 6] + w[-1]
        return z.reshape(feats.shape[:2])


class TwoColourModels:
    """The first-frame colour model and a recent one, combined in log-odds.

    ``combine = "mix"``: ``(1 − weight)·z_first + weight·z_recent``; ``"max"``: the larger
    of the two, so that either model can vouch for the object (the object seen in shade by
    the recent model, its first-frame look by the other). Until the recent model has seen
    both classes, the first-frame model alone is used. Same interface as
    :class:`ColorModel` (``ready``, ``posterior``).

    References
    ----------
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016
    (appearance updated from segmented frames); X. Bai, J. Wang, D. Simons, G. Sapiro,
    "Video SnapCut", SIGGRAPH 2009 (a fixed first-frame model kept beside updated ones).
    """

    def __init__(self, first: ColorModel, recent: ColorModel, weight: float = 0.5,
                 combine: Literal["mix", "max"] = "mix") -> None:
        if combine not in ("mix", "max"):
            raise ValueError(f"combine must be 'mix' or 'max', got {combine!r}")
        if not 0 <= weight <= 1:
            raise ValueError(f"weight must be in [0, 1], got {weight}")
        self.first, self.recent, self.weight, self.combine = first, recent, weight, combine

    @property
    def ready(self) -> bool:
        return self.first.ready

    def posterior(self, image: np.ndarray) -> np.ndarray:
        """float32 P(object | colour) of every pixel of ``image``."""
        p0 = self.first.posterior(image)
        if not self.recent.ready:
            return p0
        z0, zr = _logit(p0), _logit(self.recent.posterior(image))
        z = np.maximum(z0, zr) if self.combine == "max" else (1 - self.weight) * z0 + self.weight * zr
        return sigmoid(z)


def object_affine(flow: np.ndarray, inside: np.ndarray, samples: int = 4000, threshold: float = 1.0,
                  seed: int = 0) -> tuple[np.ndarray | None, float]:
    """Robust affine fit of the flow over the pixels ``inside`` (RANSAC): ``x_{t-1} = A·[x_t, 1]``.

    Returns the 2x3 matrix (``None`` with fewer than 6 pixels or no fit) and the share of
    the sampled pixels within ``threshold`` px of it."""
    ys, xs = np.nonzero(inside)
    if xs.size < 6:
        return None, 0.0
    if xs.size > samples:
        idx = np.random.default_rng(seed).choice(xs.size, samples, replace=False)
        ys, xs = ys[idx], xs[idx]
    src = np.stack([xs, ys], 1).astype(np.float32)
    dst = src + flow[ys, xs]
    a, inl = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold)
    return a, (float(inl.mean()) if a is not None else 0.0)


class ShapeTemplate:
    """The first-frame mask carried to frame ``t`` by the object's accumulated affine motion.

    Each frame the flow inside the warped previous mask is fitted by an affine map
    (:func:`object_affine`); the maps compose into one from frame ``t`` to the first
    frame. Where the object is rigid the template keeps parts that the frame-to-frame
    propagation lost and that colour no longer tells from the background (a car whose
    front drives into shade): the per-frame cues only see the current look, the template
    remembers the shape. Its weight follows the share of the object's flow within
    ``threshold`` px of one affine map (``rigidity``, an exponential average over frames
    with ``memory``), mapped from [``floor``, 1] to [0, 1], so that it abstains on
    articulated or non-rigid objects (a walking dog: ~0.4; a car: ~0.8; a swimming swan:
    ~0.9). It gives positive evidence only, and only ``depth`` px inside its outline: it
    does not cut off parts the object grows, and its outline may be a few pixels off.

    References
    ----------
    M. A. Fischler, R. C. Bolles, "Random Sample Consensus", CACM 1981 (the robust fit);
    X. Bai, J. Wang, D. Simons, G. Sapiro, "Video SnapCut", SIGGRAPH 2009 (a shape
    model carried along with the object).
    """

    def __init__(self, mask: np.ndarray, floor: float = 0.5, depth: int = 10, threshold: float = 1.0,
                 memory: float = 0.7) -> None:
        self.mask = np.asarray(mask, bool).astype(np.float32)
        self.a = np.eye(3)
        self.rigidity: float | None = None
        self.floor, self.depth, self.threshold, self.memory = floor, depth, threshold, memory

    def step(self, flow: np.ndarray, warped: np.ndarray) -> None:
        inner = cv2.distanceTransform(warped.view(np.uint8), cv2.DIST_L2, 3) > 3
        a, share = object_affine(flow, inner if np.count_nonzero(inner) >= 6 else warped, threshold=self.threshold)
        if a is not None:
            self.a = self.a @ np.vstack([a, [0.0, 0.0, 1.0]])
        self.rigidity = share if self.rigidity is None else self.memory * self.rigidity + (1 - self.memory) * share

    def outline(self) -> np.ndarray:
        """bool template on the current frame."""
        h, w = self.mask.shape
        return cv2.warpAffine(self.mask, self.a[:2], (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) > 0.5

    def evidence(self) -> np.ndarray:
        """float32 weight in [0, 1] of "object" for every pixel (0 outside the template)."""
        h, w = self.mask.shape
        weight = 0.0 if self.rigidity is None else max(0.0, (self.rigidity - self.floor) / (1 - self.floor))
        if weight <= 0:
            return np.zeros((h, w), np.float32)
        t = self.outline()
        inside = cv2.distanceTransform(t.view(np.uint8), cv2.DIST_L2, 3) > self.depth
        return inside.astype(np.float32) * np.float32(weight)


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


def motion_coherence(flow: np.ndarray, warped: np.ndarray, box=None, ring: int = 15, inner: int = 3,
                     noise: float = 1.0, relative: float = 0.25, limit: float = 4.0) -> np.ndarray:
    """Log-odds that each pixel moves with the object rather than with its surroundings.

    The object's motion ``u_o`` is the median flow over the warped mask eroded by
    ``inner`` px, the background's ``u_b`` the median over the ring from ``inner`` to
    ``ring`` px outside it. A pixel with flow ``f`` gets ``clip((|f − u_b| − |f − u_o|) / s,
    ±limit)``, ``s = noise + relative·|u_o − u_b|``: about 0 where the two motions agree
    (the cue then abstains), positive where the pixel follows the object. Background
    uncovered behind the object, or static surroundings that the mask has crept onto,
    move with the background, whatever their colour.

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
    uo = np.median(f[obj], axis=0)
    ub = np.median(f[bg], axis=0)
    s = noise + relative * float(np.hypot(*(uo - ub)))
    ro = np.hypot(f[:, :, 0] - uo[0], f[:, :, 1] - uo[1])
    rb = np.hypot(f[:, :, 0] - ub[0], f[:, :, 1] - ub[1])
    out[y0:y1, x0:x1] = np.clip((rb - ro) / s, -limit, limit)
    return out


def fuse(p_motion: np.ndarray, p_colour: np.ndarray, w_motion: float = 1.0, w_colour: float = 1.0) -> np.ndarray:
    """Combine two probabilities by a weighted sum of log-odds: σ(a·logit(p_m) + b·logit(p_c))."""
    z = w_motion * _logit(p_motion) + w_colour * _logit(p_colour)
    return sigmoid(z)


def propagate(image, prev_mask, flow, colour: ColorModel | TwoColourModels | None = None, occlusion=None,
              sigma: float = 2.0, motion_sigma: float = 0.1, w_motion: float = 1.0, w_colour: float = 1.0,
              margin: float = 0.15, min_margin: int = 16, motion_confidence: float = 1.0, linked: bool = False,
              w_flow: float = 0.0, classifier: PixelClassifier | None = None, w_texture: float = 0.0,
              texture_limit: float = 4.0, parts: dict | None = None,
              shape: ShapeTemplate | None = None, w_shape: float = 0.0) -> np.ndarray:
    """Foreground probability of frame ``t`` from the previous mask, the flow and a colour model.

    Parameters
    ----------
    image : ndarray
        uint8 ``(H, W, 3)`` frame ``t`` (the colour space the model was built in).
    prev_mask : ndarray
        bool ``(H, W)`` final mask of frame ``t - 1``.
    flow : ndarray
        float32 ``(H, W, 2)`` backward flow ``t -> t - 1``.
    colour : ColorModel or TwoColourModels, optional
        Appearance model; ``None`` (or not ready) uses motion only.
    occlusion : ndarray of bool, optional
        See :func:`motion_prior`.
    sigma, motion_sigma : float
        See :func:`motion_prior`.
    w_motion, w_colour : float
        Weights of the two log-odds in :func:`fuse`.
    margin, min_margin : float, int
        The colour model is applied only inside the bounding box of the warped mask grown
        by ``margin`` × its size (at least ``min_margin`` px); the probability is 0
        outside it (the object moves by less than that between frames).
    motion_confidence : float
        Largest probability the warped mask alone gives: with ``c < 1`` the motion prior
        is mapped from [0, 1] to [1 − c, c] before the fusion, so that a confident colour
        can overrule it (e.g. background uncovered behind the object, which the backward
        flow labels as object). 1 keeps it as it is (the fusion clips it at 1e-3).
    linked : bool
        Components of ``prob > 0.5`` that do not touch the warped mask are lowered to
        ``1 − motion_confidence``: the object continues the previous mask, and colour
        alone does not start a new part of it far away.
    w_flow : float
        Weight of the :func:`motion_coherence` log-odds (0: not used).
    classifier : PixelClassifier, optional
        Colour-and-texture classifier (:func:`pixel_features` of ``image``); its log-odds,
        clipped to ``±texture_limit`` and weighted by ``w_texture``, are added inside
        the work box.
    w_texture, texture_limit : float
        Weight and clip of the classifier's log-odds (``w_texture = 0``: not used).
    parts : dict, optional
        Filled with ``prior`` (the motion prior), ``box`` (the work box or ``None``) and
        ``features`` (the box's :func:`pixel_features`, or ``None``), for learning.
    shape : ShapeTemplate, optional
        Advanced by this frame's flow; its :meth:`ShapeTemplate.evidence` times ``w_shape``
        is added to the log-odds inside the work box (``w_shape = 0``: not used).

    Returns
    -------
    ndarray
        float32 ``(H, W)`` foreground probability in [0, 1].

    References
    ----------
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016.
    """
    if not 0.5 < motion_confidence <= 1.0:
        raise ValueError(f"motion_confidence must be in (0.5, 1], got {motion_confidence}")
    pm = motion_prior(prev_mask, flow, occlusion, sigma, motion_sigma)
    core = pm > 0.5
    box = _box(core, margin, min_margin)
    if parts is not None:
        parts.update(prior=pm, box=box, features=None, coherence=None)
    if colour is None:
        return pm
    soft = pm if motion_confidence == 1.0 else (1.0 - motion_confidence) + (2.0 * motion_confidence - 1.0) * pm
    prob = fuse_in_box(soft, image, colour, w_motion, w_colour, margin, min_margin, box=box)
    use_texture = classifier is not None and classifier.ready and w_texture > 0
    use_shape = shape is not None and w_shape > 0
    if use_shape:
        shape.step(flow, core)
    if box is not None and (w_flow > 0 or use_texture or use_shape):
        y0, y1, x0, x1 = box
        z = _logit(prob[y0:y1, x0:x1])
        if w_flow > 0:
            coh = motion_coherence(flow, core, box)[y0:y1, x0:x1]
            z += w_flow * coh
            if parts is not None:
                parts["coherence"] = coh
        if use_texture:
            feats = pixel_features(image, box)
            z += w_texture * np.clip(classifier.logit(feats), -texture_limit, texture_limit)
            if parts is not None:
                parts["features"] = feats
        if use_shape:
            z += w_shape * shape.evidence()[y0:y1, x0:x1]
        prob[y0:y1, x0:x1] = sigmoid(z)
    if linked:
        prob = unlinked_capped(prob, core, 1.0 - motion_confidence)
    return prob


def unlinked_capped(prob: np.ndarray, core: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """``prob`` with the 8-connected components of ``prob > 0.5`` that do not touch ``core``
    lowered to at most ``floor`` (a new array; ``prob`` is not modified)."""
    sel = prob > 0.5
    n, labels = cv2.connectedComponents(sel.view(np.uint8), connectivity=8)
    out = prob.copy()
    if n <= 1:
        return out
    hit = np.bincount(labels[core & sel], minlength=n) > 0
    hit[0] = True
    drop = ~hit[labels]
    out[drop] = np.minimum(out[drop], np.float32(floor))
    return out


def _box(mask: np.ndarray, margin: float, min_margin: int):
    from classicseg.stages.refine import roi_box

    return roi_box(mask, margin, min_margin)


def read_init_mask(path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The first-frame annotation as object ids ``uint8 (H, W)`` (0 = background).

    Reads DAVIS indexed PNGs (palette indices are the ids; 255 = void -> 0), 0/255
    masks (one object) and id images. Raises :class:`ClassicsegError` when the file
    cannot be read, holds no object, or (given ``shape``) has another size.
    """
    from classicseg.metrics.davis import VOID, read_indexed_mask

    path = Path(path)
    if not path.is_file():
        raise ClassicsegError(f"init mask not found: {path}")
    ids = read_indexed_mask(path).copy()
    ids[ids == VOID] = 0
    check_init_mask(ids, shape, str(path))
    return ids


def check_init_mask(ids: np.ndarray, shape: tuple[int, int] | None, what: str = "init mask") -> None:
    """Raise :class:`ClassicsegError` for an empty mask or one of the wrong size."""
    if ids.ndim != 2:
        raise ClassicsegError(f"{what}: expected a 2-D mask, got shape {ids.shape}")
    if shape is not None and ids.shape != tuple(shape):
        raise ClassicsegError(f"{what} is {ids.shape[1]}x{ids.shape[0]} but the frames are {shape[1]}x{shape[0]}")
    if not ids.any():
        raise ClassicsegError(f"{what} contains no object (all pixels are background)")


# --------------------------------------------------------------------------- stage
class PropagateParams(Params):
    init_mask: str | None = Field(None, description="first-frame mask PNG (DAVIS: Annotations/480p/<seq>/00000.png)")
    mode: Literal["global", "local"] = Field(
        "global", description="global: warped mask + one colour model; local: Video SnapCut local classifiers "
        "along the contour, then the global colour model")
    sigma: float = Field(2.0, ge=0, le=50, description="base blur of the warped mask (px)")
    motion_sigma: float = Field(0.1, ge=0, le=5, description="extra blur per pixel of object motion")
    w_motion: float = Field(1.0, ge=0, le=10, description="weight of the motion log-odds")
    w_colour: float = Field(1.0, ge=0, le=10, description="weight of the colour log-odds (0: motion only)")
    bins: int = Field(32, ge=2, le=64, description="colour histogram levels per channel")
    colour_space: Literal["bgr", "lab", "hsv"] = Field("lab", description="colour space of the histograms")
    band: int = Field(2000, ge=1, le=10000, description="background model: pixels within this distance of the object (px)")
    confident: int = Field(5, ge=0, le=100, description="learn only pixels this far (px) inside/outside the mask")
    rate: float = Field(0.0, ge=0, le=1, description="colour model update rate per frame (0: first frame only)")
    margin: float = Field(0.15, ge=0, le=2, description="work box around the warped mask, fraction of its size")
    min_margin: int = Field(16, ge=0, le=500, description="smallest work-box margin (px)")
    motion_confidence: float = Field(
        1.0, gt=0.5, le=1, description="largest probability the warped mask alone gives (1: trusted fully; lower "
        "lets a confident colour overrule it)")
    w_flow: float = Field(0.0, ge=0, le=10, description="weight of the motion-coherence log-odds (0: off)")
    linked: bool = Field(False, description="lower components of prob > 0.5 that do not touch the warped mask")
    recent_weight: float = Field(
        0.0, ge=0, le=1, description="a second colour model learned from the confidently labelled pixels of "
        "recent frames (see recent_gate, coherence_gate): its share of the colour log-odds (0: off)")
    recent_combine: Literal["mix", "max"] = Field(
        "mix", description="mix: (1 - w) * first-frame + w * recent log-odds; max: the larger of the two")
    recent_rate: float = Field(0.3, gt=0, le=1, description="update rate per frame of the recent colour model")
    recent_band: int = Field(60, ge=5, le=2000, description="recent models learn background within this distance "
                             "(px) outside the object (and inside the work box)")
    recent_gate: float = Field(
        0.9, ge=0.5, le=1, description="recent models learn a pixel only where the motion prior gave its final "
        "label at least this probability")
    coherence_gate: float = Field(
        0.0, ge=0, le=4, description="recent models learn a mask pixel as background when its motion-coherence "
        "log-odds are at most minus this (it moves with the surroundings), and not a pixel outside it whose "
        "log-odds are at least this (0: off; needs w_flow > 0)")
    colour_gate: float = Field(
        1.0, ge=0, le=1, description="recent models learn a pixel outside the mask as background only where the "
        "first-frame colour model gives it at most this object probability (1: off)")
    w_texture: float = Field(
        0.0, ge=0, le=10, description="weight of the colour-and-texture classifier's log-odds (0: off)")
    texture_limit: float = Field(4.0, gt=0, le=20, description="clip of the classifier's log-odds")
    texture_memory: int = Field(
        3, ge=0, le=50, description="recent frames whose confidently labelled pixels train the classifier "
        "besides the first frame (0: first frame only)")
    texture_samples: int = Field(3000, ge=100, le=100000, description="classifier: pixels per class and frame")
    w_shape: float = Field(0.0, ge=0, le=20, description="weight of the shape template's evidence (0: off)")
    shape_floor: float = Field(0.5, ge=0, lt=1, description="rigidity at which the template starts to count")
    shape_depth: int = Field(10, ge=0, le=200, description="template evidence only this far (px) inside it")
    win: int = Field(60, ge=8, le=400, description="local mode: classifier window side (px)")
    local_bins: int = Field(8, ge=2, le=32, description="local mode: histogram levels per channel")


def to_colour_space(image: np.ndarray, space: str) -> np.ndarray:
    """A BGR frame in the colour space the colour models use: ``lab``, ``hsv`` or ``bgr``."""
    if space == "lab":
        return cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    if space == "hsv":
        return cv2.cvtColor(image, cv2.COLOR_BGR2HSV_FULL)
    return image


def model_regions(mask: np.ndarray, band: int, confident: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels to learn object and background colours from: the mask eroded by ``confident``
    px (the whole mask if that leaves nothing), and the ring from ``confident`` to ``band``
    px outside it."""
    u8 = mask.view(np.uint8)
    inside = cv2.distanceTransform(u8, cv2.DIST_L2, 3)
    fg = inside > confident
    if not fg.any():
        fg = mask
    outside = cv2.distanceTransform(1 - u8, cv2.DIST_L2, 3)
    return fg, (outside > confident) & (outside <= band)


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


@register
class Propagate(Stage):
    """Object probability from the previous mask warped by the flow, fused with colour models.

    Needs the first-frame mask (``init_mask`` or :meth:`set_init_mask`); on the first
    frame it writes that mask as ``prob``, ``fg`` and ``ids``. On later frames it reads the
    previous sample's final ``fg`` (written by a refinement stage after this one; without
    one, its own ``prob > 0.5``). A lost object (empty previous mask) is searched for
    from the last non-empty mask.
    """

    name = "vos.propagate"
    Params = PropagateParams
    requires = ("image", "flow")
    provides = ("prob", "ids")
    cite = ("Y.-H. Tsai, M.-H. Yang, M. J. Black, Video Segmentation via Object Flow, CVPR 2016; "
            "X. Bai et al., Video SnapCut, SIGGRAPH 2009; M. A. Fischler, R. C. Bolles, Random Sample "
            "Consensus, CACM 1981; T. Ojala et al., Multiresolution Gray-Scale and "
            "Rotation Invariant Texture Classification with Local Binary Patterns, TPAMI 2002")

    def reset(self) -> None:
        self.init: np.ndarray | None = None
        if self.params.init_mask is not None:
            self.init = read_init_mask(self.params.init_mask)
        self.prev: Sample | None = None
        self.last: np.ndarray | None = None
        self.colour = ColorModel(self.params.bins)
        p = self.params
        self.classifier = PixelClassifier(p.texture_samples, p.texture_memory) if p.w_texture > 0 else None
        self.parts: dict = {}
        self.shape: ShapeTemplate | None = None
        self.colour_pair = (TwoColourModels(self.colour, ColorModel(p.bins), p.recent_weight, p.recent_combine)
                            if p.recent_weight > 0 else None)

    def set_init_mask(self, ids: np.ndarray) -> None:
        """Give the first-frame object ids (or a bool mask) directly instead of ``init_mask``."""
        ids = np.asarray(ids)
        if ids.dtype == bool:
            ids = ids.view(np.uint8)
        check_init_mask(ids, None)
        self.init = ids.astype(np.uint8)
        self.prev = None

    def _learn(self, image: np.ndarray, mask: np.ndarray, rate: float) -> None:
        fg, bg = model_regions(mask, self.params.band, self.params.confident)
        self.colour.update(image, fg, bg, rate)

    def _confident(self, mask: np.ndarray, first: bool):
        """The previous frame's work box and the pixels in it to learn from: on the first
        frame all of them (:func:`model_regions`), later :func:`confident_labels`."""
        p, parts = self.params, self.parts
        box = parts.get("box")
        if box is None:
            return None
        y0, y1, x0, x1 = box
        if first:
            fg, bg = model_regions(mask, p.recent_band, p.confident)
            return box, fg[y0:y1, x0:x1], bg[y0:y1, x0:x1]
        coh = parts.get("coherence") if p.coherence_gate > 0 else None
        col = self.colour.posterior(self.prev_img[y0:y1, x0:x1]) if p.colour_gate < 1 else None
        fg, bg = confident_labels(mask[y0:y1, x0:x1], parts["prior"][y0:y1, x0:x1], coh, p.confident,
                                  p.recent_band, p.recent_gate, p.coherence_gate, col, p.colour_gate)
        return box, fg, bg

    def _learn_recent(self, mask: np.ndarray, first: bool) -> None:
        lab = self._confident(mask, first)
        if lab is None:
            return
        (y0, y1, x0, x1), fg, bg = lab
        feats = self.parts.get("features")
        if self.classifier is not None and feats is not None:
            self.classifier.add(feats, fg, bg, anchor=first)
        if self.colour_pair is not None and not first and fg.any() and bg.any():
            self.colour_pair.recent.update(self.prev_img[y0:y1, x0:x1], fg, bg,
                                           1.0 if not self.colour_pair.recent.ready else self.params.recent_rate)

    def process(self, sample: Sample) -> Sample:
        p = self.params
        img = to_colour_space(sample.image, p.colour_space)
        if self.prev is None:
            if self.init is None:
                raise ClassicsegError(f"{self.name}: no first-frame mask (set init_mask, or --init-mask)")
            check_init_mask(self.init, sample.shape, "init mask")
            mask = self.init > 0
            self._learn(img, mask, 1.0)
            if self.colour_pair is not None:  # a new first frame (e.g. a keyframe): forget the recent colours
                self.colour_pair.recent = ColorModel(p.bins)
            if self.classifier is not None:
                box = _box(mask, p.margin, p.min_margin)
                self.parts = {"box": box, "features": pixel_features(img, box)}
                self._learn_recent(mask, first=True)
                self.parts = {}
            self.shape = ShapeTemplate(mask, p.shape_floor, p.shape_depth) if p.w_shape > 0 else None
            sample["prob"] = mask.astype(np.float32)
            sample["ids"] = self.init
            sample["fg"] = mask
            self.prev, self.prev_img, self.last = sample, img, mask
            return sample
        prev = self.prev.data.get("fg")
        if prev is None:  # no refinement stage after this one: our own threshold
            prev = self.prev["prob"] > 0.5
        if prev.any():
            self.last = prev
            if p.rate > 0:
                self._learn(self.prev_img, prev, p.rate)
            if self.colour_pair is not None or (self.classifier is not None and self.classifier.memory > 0):
                self._learn_recent(prev, first=False)
        else:
            prev = self.last
        flow = sample["flow"]
        if flow.shape[:2] != sample.shape:
            raise ClassicsegError(f"{self.name}: flow is {flow.shape[1]}x{flow.shape[0]} but the frame is "
                                  f"{sample.shape[1]}x{sample.shape[0]}")
        occ = sample.data.get("occlusion")
        if p.mode == "local":
            pl, _ = local_classifiers(self.prev_img, prev, img, flow, p.win, p.local_bins)
            prob = fuse_in_box(pl, img, self.colour, p.w_motion, p.w_colour, p.margin, p.min_margin)
        else:
            self.parts = {}
            prob = propagate(img, prev, flow, self.colour_pair or self.colour, occ, p.sigma, p.motion_sigma, p.w_motion, p.w_colour,
                             p.margin, p.min_margin, p.motion_confidence, p.linked, p.w_flow, self.classifier,
                             p.w_texture, p.texture_limit, self.parts, self.shape, p.w_shape)
        sample["prob"] = prob
        sample["ids"] = warp_ids(self.prev.data.get("ids"), flow)
        self.prev, self.prev_img = sample, img
        return sample


def fuse_in_box(prob, image, colour: ColorModel, w_motion, w_colour, margin, min_margin, box=False) -> np.ndarray:
    """Fuse ``prob`` with the colour posterior inside the work box of ``prob > 0.5`` (or the
    ``box`` given); 0 outside it."""
    if box is False:
        box = _box(prob > 0.5, margin, min_margin)
    out = np.zeros_like(prob)
    if box is None or not colour.ready or w_colour == 0:
        return prob if box is not None else out
    y0, y1, x0, x1 = box
    out[y0:y1, x0:x1] = fuse(prob[y0:y1, x0:x1], colour.posterior(image[y0:y1, x0:x1]), w_motion, w_colour)
    return out


def warp_ids(ids: np.ndarray | None, flow: np.ndarray) -> np.ndarray | None:
    """Object ids of frame ``t - 1`` carried to frame ``t`` (nearest neighbour)."""
    if ids is None:
        return None
    return warp(ids, flow, cv2.INTER_NEAREST)


def assign_ids(fg: np.ndarray, ids: np.ndarray | None) -> np.ndarray:
    """Object ids of the final mask: each ``fg`` pixel takes the id of the nearest pixel
    that ``ids`` labels (ids from the propagated previous frame); background is 0."""
    if ids is None or not ids.any():
        return fg.view(np.uint8).copy()
    labelled = ids > 0
    if int(ids.max()) == int(ids[labelled].min()):  # one object
        return np.where(fg, ids.max(), 0).astype(np.uint8)
    out = np.where(fg, ids, 0).astype(np.uint8)
    todo = fg & ~labelled
    if todo.any():
        _, lab = cv2.distanceTransformWithLabels((~labelled).view(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
        ys, xs = np.nonzero(labelled)
        seed_ids = np.zeros(lab.max() + 1, np.uint8)
        seed_ids[lab[ys, xs]] = ids[ys, xs]
        out[todo] = seed_ids[lab[todo]]
    return out


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
