"""Mask refinement from a foreground probability (``refine.graphcut``, ``refine.densecrf``).

Both read the ``prob`` slot (float32 ``(H, W)`` foreground probability, e.g. from
``vos.propagate``) and the frame, and write a bool ``fg``. They work inside the bounding
box of the pixels whose probability is above ``roi_threshold``, grown by a margin, so that
their cost follows the object's size rather than the frame's; everything outside that box
is background. A result is then cleaned: only components that touch ``prob > 0.5`` are
kept, holes are filled, and a result that lost most of ``prob > 0.5`` is replaced by it
(a guard against a cut that collapses). Where the sample carries object ``ids`` (from
``vos.propagate``), they are reassigned to the final mask.
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field, field_validator

from classicseg.errors import ClassicsegError
from classicseg.geometry import roi_box
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.stages.morph import fill_holes
from classicseg.stages.vos.ids import assign_ids
from classicseg.types import Sample

__all__ = ["graphcut", "densecrf", "roi_box", "keep_connected", "GraphCut", "DenseCRF"]

_EPS = 1e-4


def _check(image: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image)
    prob = np.asarray(prob)
    if image.ndim not in (2, 3) or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (H, W) or (H, W, 3), got {image.dtype} {image.shape}")
    if prob.ndim != 2 or prob.shape != image.shape[:2]:
        raise ValueError(f"prob must be (H, W) like the image {image.shape[:2]}, got {prob.shape}")
    return image, prob.astype(np.float32, copy=False)


def _pairwise(img: np.ndarray, gamma: float):
    """Contrast-sensitive weights γ·exp(−β‖ΔI‖²) (÷√2 on diagonals) towards the right, down,
    down-right and down-left neighbours; β = 1 / (2·mean‖ΔI‖²) (Rother et al. 2004)."""
    from classicseg.kernels.graphcut import pairwise_weights_numpy

    return pairwise_weights_numpy(img, gamma)


_STRUCTS = [np.array(s) for s in (
    [[0, 0, 0], [0, 0, 1], [0, 0, 0]],
    [[0, 0, 0], [0, 0, 0], [0, 1, 0]],
    [[0, 0, 0], [0, 0, 0], [0, 0, 1]],
    [[0, 0, 0], [0, 0, 0], [1, 0, 0]],
)]


def graphcut(image, prob, gamma: float = 50.0, lam: float = 1.0, connectivity: int = 8,
             box: tuple[int, int, int, int] | None = None, max_pixels: int = 0, hard: float = 0.0) -> np.ndarray:
    """Binary MRF segmentation by an s-t minimum cut: probability unaries, contrast-sensitive edges.

    Minimises ``Σ_p λ·D_p(l_p) + Σ_{p,q} [l_p ≠ l_q]·γ·exp(−β‖I_p − I_q‖²)/dist(p, q)``
    with ``D_p(fg) = −log p_p`` and ``D_p(bg) = −log(1 − p_p)``, β = 1/(2⟨‖ΔI‖²⟩).

    Parameters
    ----------
    image : ndarray
        uint8 ``(H, W, 3)`` (any colour space) or ``(H, W)``.
    prob : ndarray
        float ``(H, W)`` foreground probability in [0, 1].
    gamma : float
        Weight of the smoothness (pairwise) term.
    lam : float
        Weight of the data (unary) term.
    connectivity : {4, 8}
        Neighbourhood of the pairwise term.
    box : (y0, y1, x0, x1), optional
        Cut only inside this box; outside is background. Default: the whole frame.
    max_pixels : int
        When the box holds more pixels than this (and it is > 0), cut a copy shrunk to
        about this many pixels and bring the result back to full size (bilinear, > 0.5):
        the cost stays bounded for large objects, the boundary loses at most ~1 px of
        the shrunk grid.
    hard : float
        Hard constraints (Boykov & Jolly's seeds): pixels with ``prob >= hard`` are fixed
        foreground and pixels with ``prob <= 1 - hard`` fixed background, so that the
        smoothness term cannot cut a thin but confident part away (0: none; in (0.5, 1)).

    Returns
    -------
    ndarray
        bool ``(H, W)`` foreground.

    References
    ----------
    Y. Boykov, M.-P. Jolly, "Interactive Graph Cuts for Optimal Boundary & Region
    Segmentation of Objects in N-D Images", ICCV 2001; C. Rother, V. Kolmogorov, A. Blake,
    "GrabCut", SIGGRAPH 2004 (β and γ); Y. Boykov, V. Kolmogorov, "An Experimental
    Comparison of Min-Cut/Max-Flow Algorithms", TPAMI 2004 (the solver, via PyMaxflow).
    """
    import maxflow

    image, prob = _check(image, prob)
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    h, w = prob.shape
    y0, y1, x0, x1 = box if box is not None else (0, h, 0, w)
    out = np.zeros((h, w), bool)
    if y1 - y0 < 1 or x1 - x0 < 1:
        return out
    img = image[y0:y1, x0:x1]
    p = np.clip(prob[y0:y1, x0:x1], _EPS, 1 - _EPS)
    bh, bw = p.shape
    if max_pixels < 0:
        raise ValueError(f"max_pixels must be >= 0, got {max_pixels}")
    if hard and not 0.5 < hard < 1:
        raise ValueError(f"hard must be 0 (off) or in (0.5, 1), got {hard}")
    shrink = max_pixels > 0 and bh * bw > max_pixels
    if shrink:
        f = float(np.sqrt(max_pixels / (bh * bw)))
        size = (max(round(bw * f), 1), max(round(bh * f), 1))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        p = cv2.resize(p, size, interpolation=cv2.INTER_AREA)
    g = maxflow.Graph[float]()
    nodes = g.add_grid_nodes(p.shape)
    weights = _pairwise(img, gamma)
    for k in range(2 if connectivity == 4 else 4):
        g.add_grid_edges(nodes, weights=weights[k], structure=_STRUCTS[k], symmetric=True)
    # a node left on the sink side is background and pays its source capacity
    src, snk = -lam * np.log1p(-p), -lam * np.log(p)
    if hard:
        big = 1e9  # more than any cut through the pairwise edges
        src = np.where(p >= hard, big, src)
        snk = np.where(p <= 1 - hard, big, snk)
    g.add_grid_tedges(nodes, src, snk)
    g.maxflow()
    seg = ~g.get_grid_segments(nodes)
    if shrink:
        seg = cv2.resize(seg.astype(np.float32), (bw, bh), interpolation=cv2.INTER_LINEAR) > 0.5
    out[y0:y1, x0:x1] = seg
    return out


def keep_connected(mask: np.ndarray, reference: np.ndarray, min_overlap: float = 0.0) -> np.ndarray:
    """Keep the connected components of ``mask`` (8-connected) that overlap ``reference``
    by more than ``min_overlap`` of their own area."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if n <= 2 and min_overlap <= 0:
        return mask.copy() if (n < 2 or (mask & reference).any()) else np.zeros_like(mask)
    hits = np.bincount(labels[reference], minlength=n)
    keep = hits > min_overlap * stats[:, cv2.CC_STAT_AREA]
    keep &= hits > 0
    keep[0] = False
    return keep[labels]


def densecrf(image, prob, iterations: int = 5, sxy_gaussian: float = 3.0, compat_gaussian: float = 3.0,
             sxy_bilateral: float = 50.0, srgb: float = 10.0, compat_bilateral: float = 5.0,
             box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Fully connected CRF with Gaussian edge potentials, mean-field inference, 2 labels.

    Parameters
    ----------
    image : ndarray
        uint8 ``(H, W, 3)``.
    prob : ndarray
        float ``(H, W)`` foreground probability (unary = −log of it and its complement).
    iterations : int
        Mean-field iterations.
    sxy_gaussian, compat_gaussian : float
        Spatial kernel: standard deviation (px) and weight.
    sxy_bilateral, srgb, compat_bilateral : float
        Appearance kernel: spatial and colour standard deviations and weight.
    box : (y0, y1, x0, x1), optional
        Work only inside this box; outside is background.

    Returns
    -------
    ndarray
        bool ``(H, W)`` foreground (posterior of foreground > 0.5).

    References
    ----------
    P. Krähenbühl, V. Koltun, "Efficient Inference in Fully Connected CRFs with Gaussian
    Edge Potentials", NIPS 2011 (via pydensecrf).
    """
    import pydensecrf.densecrf as dcrf

    image, prob = _check(image, prob)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"densecrf needs a (H, W, 3) image, got {image.shape}")
    h, w = prob.shape
    y0, y1, x0, x1 = box if box is not None else (0, h, 0, w)
    out = np.zeros((h, w), bool)
    if y1 - y0 < 1 or x1 - x0 < 1:
        return out
    p = np.clip(prob[y0:y1, x0:x1], _EPS, 1 - _EPS)
    bh, bw = p.shape
    unary = np.ascontiguousarray(np.stack([-np.log1p(-p), -np.log(p)]).reshape(2, -1), dtype=np.float32)
    crf = dcrf.DenseCRF2D(bw, bh, 2)
    crf.setUnaryEnergy(unary)
    crf.addPairwiseGaussian(sxy=sxy_gaussian, compat=compat_gaussian)
    crf.addPairwiseBilateral(sxy=sxy_bilateral, srgb=srgb, rgbim=np.ascontiguousarray(image[y0:y1, x0:x1]),
                             compat=compat_bilateral)
    q = np.asarray(crf.inference(iterations), dtype=np.float32).reshape(2, bh, bw)
    out[y0:y1, x0:x1] = q[1] > q[0]
    return out


# --------------------------------------------------------------------------- stages
class _RefineParams(Params):
    roi_threshold: float = Field(0.05, ge=0, lt=1, description="pixels with prob above this define the work box")
    margin: float = Field(0.15, ge=0, le=2, description="box margin as a fraction of the object's size")
    min_margin: int = Field(16, ge=0, le=500, description="smallest box margin (px)")
    keep_connected: bool = Field(True, description="keep only components that overlap prob > 0.5")
    fill_holes: bool = Field(True, description="fill holes enclosed by the foreground")
    max_hole: float = Field(0.0, ge=0, le=1, description="fill_holes: only holes of at most this share of the "
                            "foreground's area (0: all; a gap between legs is larger than a shaded speck)")
    min_area_ratio: float = Field(
        0.3, ge=0, le=1, description="a result smaller than this share of prob > 0.5 is distrusted: prob > 0.5 is kept")


class _RefineStage(Stage):
    requires = ("image", "prob")
    provides = ("fg",)

    def segment(self, image, prob, box) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def process(self, sample: Sample) -> Sample:
        p = self.params
        prob = sample["prob"]
        if prob.shape != sample.shape:
            raise ClassicsegError(f"{self.name}: prob is {prob.shape[1]}x{prob.shape[0]} but the frame is "
                                  f"{sample.shape[1]}x{sample.shape[0]}")
        if np.all((prob == 0) | (prob == 1)):  # a given mask (first frame): nothing to decide
            sample["fg"] = prob > 0.5
            return sample
        box = roi_box(prob > p.roi_threshold, p.margin, p.min_margin)
        if box is None:
            sample["fg"] = np.zeros(sample.shape, bool)
            if "ids" in sample:
                sample["ids"] = np.zeros(sample.shape, np.uint8)
            return sample
        fg = self.segment(sample.image, prob, box)
        seed = prob > 0.5
        if p.keep_connected:
            fg = keep_connected(fg, seed)
        if p.fill_holes:
            fg = fill_holes(fg, max(1, int(p.max_hole * np.count_nonzero(fg))) if p.max_hole > 0 else None)
        if np.count_nonzero(fg) < p.min_area_ratio * np.count_nonzero(seed):
            fg = seed
        sample["fg"] = fg
        if "ids" in sample:
            sample["ids"] = assign_ids(fg, sample["ids"])
        return sample


class GraphCutParams(_RefineParams):
    gamma: float = Field(25.0, ge=0, le=1000, description="smoothness weight")
    lam: float = Field(1.0, gt=0, le=100, description="data-term weight")
    connectivity: Literal[4, 8] = Field(8, description="4 or 8 neighbours")
    max_pixels: int = Field(0, ge=0, le=10_000_000,
                            description="cut a shrunk copy of boxes larger than this (0: never)")
    hard: float = Field(0.0, ge=0, lt=1, description="pixels with prob at least this are fixed foreground, "
                        "at most 1 - this fixed background (0: none; else above 0.5)")

    @field_validator("hard")
    @classmethod
    def _hard_above_half(cls, v: float) -> float:
        if v and v <= 0.5:
            raise ValueError("hard must be 0 (off) or above 0.5")
        return v


@register
class GraphCut(_RefineStage):
    """Foreground by an s-t min cut on prob unaries and contrast-sensitive edges, in a box."""

    name = "refine.graphcut"
    bytes_per_pixel = 200  # per-pixel state, for the memory check before the first frame
    Params = GraphCutParams
    extras = (("maxflow", "vos"),)
    cite = "Boykov & Jolly, Interactive Graph Cuts, ICCV 2001; Rother et al., GrabCut, SIGGRAPH 2004"

    def segment(self, image, prob, box):
        p = self.params
        return graphcut(image, prob, p.gamma, p.lam, p.connectivity, box, p.max_pixels, p.hard)


class DenseCRFParams(_RefineParams):
    iterations: int = Field(5, ge=1, le=50, description="mean-field iterations")
    sxy_gaussian: float = Field(3.0, gt=0, le=100, description="smoothness kernel std (px)")
    compat_gaussian: float = Field(3.0, ge=0, le=100, description="smoothness kernel weight")
    sxy_bilateral: float = Field(50.0, gt=0, le=500, description="appearance kernel spatial std (px)")
    srgb: float = Field(10.0, gt=0, le=255, description="appearance kernel colour std")
    compat_bilateral: float = Field(5.0, ge=0, le=100, description="appearance kernel weight")


@register
class DenseCRF(_RefineStage):
    """Foreground by a fully connected CRF (mean field) on prob, in a box."""

    name = "refine.densecrf"
    bytes_per_pixel = 300  # per-pixel state, for the memory check before the first frame
    Params = DenseCRFParams
    extras = (("pydensecrf", "crf"),)
    cite = "Krähenbühl & Koltun, Efficient Inference in Fully Connected CRFs, NIPS 2011"

    def segment(self, image, prob, box):
        p = self.params
        return densecrf(image, prob, p.iterations, p.sxy_gaussian, p.compat_gaussian, p.sxy_bilateral, p.srgb,
                        p.compat_bilateral, box)
