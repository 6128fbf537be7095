"""Mask refinement by a random walker from confident seeds (``refine.random_walker``).

Like ``refine.graphcut`` (and built on the same base class, :mod:`classicseg.stages.refine`)
it reads the ``prob`` slot and the frame and writes a bool ``fg``, working inside the box
around the object. Pixels with ``prob > hi`` are object seeds, pixels with ``prob < lo``
background seeds; every other pixel of the box takes the label whose seeds a random
walker starting there reaches first with the higher probability, on a graph whose edge
weights fall with the colour difference (Grady 2006), solved by scikit-image.
"""
from __future__ import annotations

import importlib.util
import warnings
from typing import Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from classicseg.registry import register
from classicseg.stages.refine import _check, _RefineParams, _RefineStage

__all__ = ["random_walker_mask", "seeds_from_prob", "best_mode", "RandomWalker"]

_MODES = ("auto", "bf", "cg", "cg_j", "cg_mg")


def best_mode(unknowns: int = 0) -> str:
    """The solver for ``mode='auto'``: ``'cg_mg'`` (multigrid-preconditioned CG) when pyamg
    is installed; else ``'bf'`` (SciPy's direct sparse solve: on a band of unknowns several
    px wide, Jacobi-preconditioned CG needs about 8x as long) up to ``200_000`` unknowns,
    and ``'cg_j'`` above that (the direct solve's memory grows faster)."""
    if importlib.util.find_spec("pyamg") is not None:
        return "cg_mg"
    return "bf" if unknowns <= 200_000 else "cg_j"


def seeds_from_prob(prob, lo: float = 0.1, hi: float = 0.9, erode: int = 0) -> np.ndarray:
    """Random-walker labels from a probability: 1 where ``prob > hi`` (object), 2 where
    ``prob < lo`` (background), 0 (to solve) elsewhere; int32 of ``prob``'s shape.

    With ``erode > 0`` both seed sets are eroded by that many px (a disk), which widens
    the band the walk decides, so that a boundary ``prob`` placed too far can move back."""
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"need 0 <= lo < hi <= 1, got lo={lo}, hi={hi}")
    if erode < 0:
        raise ValueError(f"erode must be >= 0, got {erode}")
    prob = np.asarray(prob)
    fg, bg = (prob > hi).astype(np.uint8), (prob < lo).astype(np.uint8)
    if erode:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1))
        fg = cv2.erode(fg, k, borderType=cv2.BORDER_REPLICATE)
        bg = cv2.erode(bg, k, borderType=cv2.BORDER_REPLICATE)
    labels = np.zeros(prob.shape, np.int32)
    labels[fg > 0] = 1
    labels[bg > 0] = 2
    return labels


def random_walker_mask(image, prob, lo: float = 0.1, hi: float = 0.9, beta: float = 130.0, mode: str = "auto",
                       tol: float = 1e-3, box: tuple[int, int, int, int] | None = None,
                       prior_weight: float = 0.0, erode: int = 0) -> np.ndarray:
    """Binary segmentation by a random walker seeded with the confident pixels of ``prob``.

    Parameters
    ----------
    image : ndarray
        uint8 ``(H, W, 3)`` (any colour space) or ``(H, W)``.
    prob : ndarray
        float ``(H, W)`` foreground probability in [0, 1].
    lo, hi : float
        ``prob < lo``: background seed; ``prob > hi``: object seed.
    beta : float
        Edge weights are ``exp(−beta·‖ΔI‖² / (10·std(I)))`` (scikit-image's scaling of
        Grady's β): larger follows colour edges more closely.
    mode : {'auto', 'bf', 'cg', 'cg_j', 'cg_mg'}
        scikit-image's solver: ``'bf'`` direct sparse solve, ``'cg'`` conjugate gradient,
        ``'cg_j'`` with a Jacobi preconditioner, ``'cg_mg'`` with an algebraic multigrid
        one (needs pyamg). ``'auto'``: :func:`best_mode` for the number of unknowns.
    tol : float
        Tolerance of the iterative solvers.
    erode : int
        Erode both seed sets by this many px (see :func:`seeds_from_prob`).
    prior_weight : float
        In [0, 1]: the result is ``(1 − w)·P_walk + w·prob > 0.5`` (``P_walk``: the
        probability that a walk from the pixel first reaches an object seed), so that
        ``prob`` still counts between the seeds; 0 is Grady's plain random walker.
    box : (y0, y1, x0, x1), optional
        Solve only inside this box; outside is background. The box's sides that are not
        on the frame's edge are background seeds (unless ``prob > 0.5`` there), so the
        walk cannot leak out of it. Default: the whole frame.

    Returns
    -------
    ndarray
        bool ``(H, W)`` foreground. Without object seeds it is empty; without background
        seeds it is ``prob > 0.5``.

    References
    ----------
    L. Grady, "Random Walks for Image Segmentation", IEEE TPAMI 28(11), 2006, pp. 1768-1783
    (via ``skimage.segmentation.random_walker``).
    """
    from skimage.segmentation import random_walker

    image, prob = _check(image, prob)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {list(_MODES)}, got {mode!r}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if not 0 <= prior_weight <= 1:
        raise ValueError(f"prior_weight must be in [0, 1], got {prior_weight}")
    labels = seeds_from_prob(prob, lo, hi, erode)
    h, w = prob.shape
    y0, y1, x0, x1 = box if box is not None else (0, h, 0, w)
    out = np.zeros((h, w), bool)
    if y1 - y0 < 1 or x1 - x0 < 1:
        return out
    lab = labels[y0:y1, x0:x1].copy()
    p = prob[y0:y1, x0:x1]
    edge = np.zeros(lab.shape, bool)
    if y0 > 0:
        edge[0, :] = True
    if y1 < h:
        edge[-1, :] = True
    if x0 > 0:
        edge[:, 0] = True
    if x1 < w:
        edge[:, -1] = True
    lab[edge & (p <= 0.5)] = 2
    has_fg, has_bg = (lab == 1).any(), (lab == 2).any()
    if not has_fg:
        return out
    if not has_bg or not (lab == 0).any():
        out[y0:y1, x0:x1] = (lab == 1) | ((lab == 0) & (p > 0.5))
        return out
    img = image[y0:y1, x0:x1].astype(np.float32) / 255.0
    if img.ndim == 2:
        img = img[:, :, None]
    if float(img.std()) == 0.0:  # flat box: no edges to follow, every weight is 1
        img = img + np.float32(1e-3) * np.indices(img.shape[:2]).sum(0)[:, :, None].astype(np.float32)
    with warnings.catch_warnings():
        # the iterative solvers overshoot [0, 1] by about tol; only the side of 0.5 matters here
        warnings.filterwarnings("ignore", message="The probability range is outside")
        res = random_walker(img, lab, beta=beta, mode=best_mode(int((lab == 0).sum())) if mode == "auto" else mode, tol=tol,
                            channel_axis=-1, prob_tol=0.05, return_full_prob=True)
    walk = res[0]  # P(first reaching an object seed); seeds are 1 / 0
    out[y0:y1, x0:x1] = (1 - prior_weight) * walk + prior_weight * p > 0.5 if prior_weight > 0 else walk > 0.5
    return out


# --------------------------------------------------------------------------- stage
class RandomWalkerParams(_RefineParams):
    lo: float = Field(0.1, ge=0, lt=1, description="prob below this: background seed")
    hi: float = Field(0.9, gt=0, le=1, description="prob above this: object seed")
    beta: float = Field(130.0, gt=0, le=10000, description="edge sensitivity (scikit-image's beta)")
    mode: Literal["auto", "bf", "cg", "cg_j", "cg_mg"] = Field(
        "auto", description="solver; auto: cg_mg if pyamg is installed, else bf (cg_j above 200k unknowns)")
    tol: float = Field(1e-3, gt=0, le=0.1, description="tolerance of the iterative solvers")
    prior_weight: float = Field(0.0, ge=0, le=1, description="blend of prob into the walk's probability (0: plain)")
    erode: int = Field(8, ge=0, le=100, description="erode both seed sets by this many px (a wider band to decide)")

    @model_validator(mode="after")
    def _lo_below_hi(self):
        if self.lo >= self.hi:
            raise ValueError(f"lo must be < hi, got lo={self.lo}, hi={self.hi}")
        return self


@register
class RandomWalker(_RefineStage):
    """Foreground by a random walker from confident seeds of prob, in a box."""

    name = "refine.random_walker"
    bytes_per_pixel = 300  # per-pixel state, for the memory check before the first frame
    Params = RandomWalkerParams
    cite = "L. Grady, Random Walks for Image Segmentation, TPAMI 2006"

    def segment(self, image, prob, box):
        p = self.params
        return random_walker_mask(image, prob, p.lo, p.hi, p.beta, p.mode, p.tol, box, p.prior_weight, p.erode)
