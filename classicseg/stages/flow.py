"""Dense optical flow between consecutive frames (``flow.farneback``, ``flow.dis``).

Both stages write the **backward** flow of the current frame into the ``flow`` slot:
``flow[y, x] = (dx, dy)`` such that the pixel ``(x, y)`` of the current frame ``t`` came
from ``(x + dx, y + dy)`` in the previous frame ``t - 1``. With this convention anything
defined on the previous frame (a mask, a probability, an image) is carried to the current
frame by :func:`warp` (a gather with ``cv2.remap``), which leaves no holes.

With ``occlusion: true`` the forward flow is computed as well and a pixel whose backward
vector, followed by the forward vector at its end point, does not come back within
``occlusion_threshold`` (plus a share of the motion) is marked in the ``occlusion`` slot:
it was hidden or outside the view in the previous frame, so warped values there are
unreliable.

On the first frame there is no previous frame: ``flow`` is zero and ``occlusion`` empty.
"""
from __future__ import annotations

import math
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from classicseg.errors import SourceError
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.types import Sample

__all__ = ["farneback", "dis", "warp", "fb_occlusion", "scaled_size", "upscale_flow", "write_flow", "FarnebackFlow", "DISFlow"]


def to_gray(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Single-channel uint8 view of a BGR, one-channel or grey image (``what`` names it in errors)."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != 2:
        raise ValueError(f"{what} must be (H, W) grey or (H, W, 3) BGR, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8, got {image.dtype}")
    return np.ascontiguousarray(image)


def gray_pair(prev, curr) -> tuple[np.ndarray, np.ndarray]:
    """Both frames of a flow pair in grey, checked to have the same size."""
    p, c = to_gray(prev, "prev"), to_gray(curr, "curr")
    if p.shape != c.shape:
        raise ValueError(f"prev is {p.shape[1]}x{p.shape[0]} but curr is {c.shape[1]}x{c.shape[0]}")
    return p, c


def scaled_size(w: int, h: int, scale: float) -> tuple[int, int]:
    """``(width, height)`` of a ``w`` x ``h`` frame at ``scale`` of the resolution (at least 8 px)."""
    return max(int(round(w * scale)), 8), max(int(round(h * scale)), 8)


def upscale_flow(f: np.ndarray, w: int, h: int) -> np.ndarray:
    """A flow field computed at a lower resolution, resized to ``w`` x ``h`` with its vectors rescaled."""
    sh, sw = f.shape[:2]
    if (sw, sh) == (w, h):
        return f
    f = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
    f[:, :, 0] *= w / sw
    f[:, :, 1] *= h / sh
    return f


def _scaled(fn, p: np.ndarray, c: np.ndarray, scale: float) -> np.ndarray:
    """Run ``fn(p, c)`` at ``scale`` of the resolution and bring the flow back to full size."""
    if scale == 1.0:
        return fn(p, c)
    h, w = p.shape
    size = scaled_size(w, h, scale)
    ps = cv2.resize(p, size, interpolation=cv2.INTER_AREA)
    cs = cv2.resize(c, size, interpolation=cv2.INTER_AREA)
    return upscale_flow(fn(ps, cs), w, h)


def farneback(prev, curr, pyr_scale: float = 0.5, levels: int = 3, winsize: int = 15, iterations: int = 3,
              poly_n: int = 5, poly_sigma: float = 1.2, scale: float = 1.0) -> np.ndarray:
    """Dense flow from ``prev`` to ``curr`` by polynomial expansion (OpenCV ``calcOpticalFlowFarneback``).

    Parameters
    ----------
    prev, curr : ndarray
        uint8 frames, grey ``(H, W)`` or BGR ``(H, W, 3)``, of the same size.
    pyr_scale, levels, winsize, iterations, poly_n, poly_sigma
        OpenCV's parameters of the same names.
    scale : float
        Compute at this fraction of the resolution (``0.5``: half size) and upsample the
        flow (vectors rescaled); ``1`` is full resolution.

    Returns
    -------
    ndarray
        float32 ``(H, W, 2)`` flow from ``prev`` to ``curr``:
        ``prev[y, x] ≈ curr[y + f[y, x, 1], x + f[y, x, 0]]``. Call it as
        ``farneback(curr, prev)`` for the backward flow that :func:`warp` uses.

    References
    ----------
    G. Farnebäck, "Two-Frame Motion Estimation Based on Polynomial Expansion", SCIA 2003.
    """
    p, c = gray_pair(prev, curr)

    def fn(a, b):
        return cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale, levels, winsize, iterations, poly_n,
                                            poly_sigma, 0)

    return _scaled(fn, p, c, scale).astype(np.float32, copy=False)


_DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def make_dis(preset: str = "medium", finest_scale: int | None = None, patch_size: int | None = None,
             patch_stride: int | None = None, gradient_descent_iterations: int | None = None,
             variational_refinement_iterations: int | None = None):
    """A configured ``cv2.DISOpticalFlow`` (``None`` keeps the preset's value)."""
    if preset not in _DIS_PRESETS:
        raise ValueError(f"preset must be one of {sorted(_DIS_PRESETS)}, got {preset!r}")
    d = cv2.DISOpticalFlow.create(_DIS_PRESETS[preset])
    if finest_scale is not None:
        d.setFinestScale(finest_scale)
    if patch_size is not None:
        d.setPatchSize(patch_size)
    if patch_stride is not None:
        d.setPatchStride(patch_stride)
    if gradient_descent_iterations is not None:
        d.setGradientDescentIterations(gradient_descent_iterations)
    if variational_refinement_iterations is not None:
        d.setVariationalRefinementIterations(variational_refinement_iterations)
    return d


def dis(prev, curr, preset: str = "medium", scale: float = 1.0, engine=None) -> np.ndarray:
    """Dense flow from ``prev`` to ``curr`` by dense inverse search (OpenCV ``DISOpticalFlow``).

    Parameters
    ----------
    prev, curr : ndarray
        uint8 frames, grey or BGR, of the same size.
    preset : {'ultrafast', 'fast', 'medium'}
        OpenCV's DIS preset (ignored when ``engine`` is given).
    scale : float
        Compute at this fraction of the resolution and upsample the flow.
    engine : cv2.DISOpticalFlow, optional
        A configured instance (see :func:`make_dis`), reused across calls.

    Returns
    -------
    ndarray
        float32 ``(H, W, 2)`` flow from ``prev`` to ``curr`` (same convention as
        :func:`farneback`).

    References
    ----------
    T. Kroeger, R. Timofte, D. Dai, L. Van Gool, "Fast Optical Flow using Dense Inverse
    Search", ECCV 2016.
    """
    p, c = gray_pair(prev, curr)
    d = engine if engine is not None else make_dis(preset)
    h, w = p.shape[:2]
    need = dis_min_side(d)
    if min((w, h) if scale == 1.0 else scaled_size(w, h, scale)) < need:  # OpenCV's DIS crashes (SIGSEGV) on such frames
        raise SourceError(f"frames of {w}x{h} are too small for DIS optical flow at scale {scale:g}: it needs "
                          f"at least {math.ceil(need / scale)} pixels on each side")
    return _scaled(lambda a, b: d.calc(a, b, None), p, c, scale).astype(np.float32, copy=False)


def dis_min_side(engine) -> int:
    """Smallest frame side (at the scale the flow is computed) that OpenCV's DIS handles with
    this configuration: its patch at its finest pyramid level (smaller frames crash it)."""
    return max(12, engine.getPatchSize() * 2 ** engine.getFinestScale())


#: Flow functions by name for :func:`flow_function` (``zero`` is the no-motion baseline).
FLOW_METHODS = ("farneback", "dis", "zero")


def flow_function(name: str, scale: float = 1.0):
    """``f(first, second) -> flow`` for a name of :data:`FLOW_METHODS`, default parameters.

    Used to score a method on ground-truth flow pairs
    (:func:`classicseg.metrics.flow.evaluate_flow_dataset`) and to compute the flow between
    frames for temporal consistency (:mod:`classicseg.metrics.consistency`).

    Raises
    ------
    ValueError
        An unknown name.
    """
    if name == "farneback":
        fn = lambda a, b: farneback(a, b, scale=scale)  # noqa: E731
    elif name == "dis":
        fn = lambda a, b: dis(a, b, scale=scale)  # noqa: E731
    elif name == "zero":
        fn = lambda a, b: np.zeros(a.shape[:2] + (2,), np.float32)  # noqa: E731
    else:
        raise ValueError(f"unknown flow method {name!r}; choose one of {', '.join(FLOW_METHODS)}")
    fn.__name__ = name + (f"@{scale:g}" if scale != 1 else "")
    return fn


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``(xs, ys)`` pixel coordinates of an ``h`` x ``w`` frame (cached; do not write)."""
    g = _GRIDS.get((h, w))
    if g is None:
        if len(_GRIDS) > 8:
            _GRIDS.clear()
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        g = _GRIDS[(h, w)] = (xs, ys)
    return g


def warp(image_or_mask, flow, interpolation: int = cv2.INTER_LINEAR, border_value: float = 0.0) -> np.ndarray:
    """Sample ``image_or_mask`` at ``(x + flow_x, y + flow_y)`` with ``cv2.remap``.

    With the backward flow of frame ``t`` (see the module docstring) this carries
    anything defined on frame ``t - 1`` to frame ``t``.

    Parameters
    ----------
    image_or_mask : ndarray
        ``(H, W)`` or ``(H, W, C)`` array; a bool mask is warped as float32 0/1 and
        returned as float32 (a soft mask; threshold it at 0.5 for a hard one).
    flow : ndarray
        float32 ``(H, W, 2)``.
    interpolation : int
        ``cv2.INTER_LINEAR`` (default) or ``cv2.INTER_NEAREST``.
    border_value : float
        Value for samples that fall outside the image.

    Returns
    -------
    ndarray
        Same shape as the input; same dtype except bool -> float32.
    """
    a = np.asarray(image_or_mask)
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be (H, W, 2), got shape {flow.shape}")
    if a.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image is {a.shape[1]}x{a.shape[0]} but flow is {flow.shape[1]}x{flow.shape[0]}")
    if a.dtype == bool:
        a = a.astype(np.float32)
    elif a.dtype not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        a = a.astype(np.float32)
    xs, ys = pixel_grid(*flow.shape[:2])
    mx = xs + flow[:, :, 0].astype(np.float32, copy=False)
    my = ys + flow[:, :, 1].astype(np.float32, copy=False)
    return cv2.remap(a, mx, my, interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=border_value)


def fb_occlusion(backward, forward, threshold: float = 1.0, relative: float = 0.05) -> np.ndarray:
    """Forward-backward consistency check: pixels of frame ``t`` whose motion does not round-trip.

    Parameters
    ----------
    backward : ndarray
        float32 ``(H, W, 2)`` flow from frame ``t`` to ``t - 1``.
    forward : ndarray
        float32 ``(H, W, 2)`` flow from ``t - 1`` to ``t``.
    threshold : float
        Allowed round-trip error in pixels.
    relative : float
        Extra allowance as a fraction of ``|backward|² + |forward at the end point|²``
        (large motions are less precise).

    Returns
    -------
    ndarray
        bool ``(H, W)``: True where ``|b + f(x + b)|² > relative·(|b|² + |f(x + b)|²) +
        threshold²``, or where ``x + b`` leaves the image.

    References
    ----------
    N. Sundaram, T. Brox, K. Keutzer, "Dense Point Trajectories by GPU-Accelerated Large
    Displacement Optical Flow", ECCV 2010 (the consistency test).
    """
    b = np.asarray(backward, np.float32)
    f = np.asarray(forward, np.float32)
    if b.shape != f.shape or b.ndim != 3 or b.shape[2] != 2:
        raise ValueError(f"backward and forward must both be (H, W, 2), got {b.shape} and {f.shape}")
    h, w = b.shape[:2]
    xs, ys = pixel_grid(h, w)
    mx, my = xs + b[:, :, 0], ys + b[:, :, 1]
    fw = cv2.remap(f, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    s = b + fw
    err = s[:, :, 0] ** 2 + s[:, :, 1] ** 2
    mag = (b ** 2).sum(axis=2) + (fw ** 2).sum(axis=2)
    outside = (mx < 0) | (mx > w - 1) | (my < 0) | (my > h - 1)
    return (err > relative * mag + threshold ** 2) | outside


# --------------------------------------------------------------------------- stages
class _FlowParams(Params):
    scale: float = Field(0.5, gt=0, le=1, description="compute the flow at this fraction of the resolution")
    occlusion: bool = Field(False, description="also compute the forward flow and write the occlusion slot")
    occlusion_threshold: float = Field(1.0, ge=0, le=50, description="forward-backward round-trip error allowed (px)")


class _FlowStage(Stage):
    requires = ("image",)
    provides = ("flow", "occlusion")

    def reset(self) -> None:
        self.prev: np.ndarray | None = None

    def compute(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Flow from ``a`` to ``b``."""
        raise NotImplementedError

    def process(self, sample: Sample) -> Sample:
        gray = sample.data.get("gray")
        gray = to_gray(sample.image) if gray is None else gray
        first = self.prev is None or self.prev.shape != gray.shape
        write_flow(sample, self.params, None if first else lambda a, b: self.compute(a, b), gray, self.prev)
        self.prev = gray
        return sample


def write_flow(sample: Sample, params: _FlowParams, compute, cur, prev) -> None:
    """Write the ``flow`` and ``occlusion`` slots of ``sample``: ``compute(cur, prev)`` (the
    backward flow, full size) and, with ``params.occlusion``, the forward-backward check;
    zero flow and no occlusion when ``compute`` is None (first frame). Shared by the CPU
    stages and their CUDA twins, which pass GPU frames and a GPU ``compute``."""
    h, w = sample.shape
    if compute is None:
        flow = np.zeros((h, w, 2), np.float32)
        occ = np.zeros((h, w), bool)
    else:
        flow = compute(cur, prev)
        if params.occlusion:
            occ = fb_occlusion(flow, compute(prev, cur), params.occlusion_threshold)
        else:
            occ = np.zeros((h, w), bool)
    sample["flow"] = flow
    sample["occlusion"] = occ


class FarnebackParams(_FlowParams):
    pyr_scale: float = Field(0.5, gt=0, lt=1, description="pyramid scale between levels")
    levels: int = Field(3, ge=1, le=10, description="pyramid levels")
    winsize: int = Field(15, ge=3, le=101, description="averaging window size")
    iterations: int = Field(3, ge=1, le=20, description="iterations per level")
    poly_n: Literal[5, 7] = Field(5, description="polynomial expansion neighbourhood")
    poly_sigma: float = Field(1.2, gt=0, le=3, description="Gaussian sigma of the polynomial expansion")


@register
class FarnebackFlow(_FlowStage):
    """Backward dense flow (current -> previous frame) by Farneback polynomial expansion."""

    name = "flow.farneback"
    Params = FarnebackParams
    cite = "G. Farnebäck, Two-Frame Motion Estimation Based on Polynomial Expansion, SCIA 2003"

    def compute(self, a, b):
        p = self.params
        return farneback(a, b, p.pyr_scale, p.levels, p.winsize, p.iterations, p.poly_n, p.poly_sigma, p.scale)


class DISParams(_FlowParams):
    preset: Literal["ultrafast", "fast", "medium"] = Field("medium", description="OpenCV DIS preset")
    finest_scale: int | None = Field(None, ge=0, le=6, description="finest pyramid level used (null: preset)")
    patch_size: int | None = Field(None, ge=4, le=64, description="patch size (null: preset)")
    patch_stride: int | None = Field(None, ge=1, le=32, description="patch stride (null: preset)")
    gradient_descent_iterations: int | None = Field(None, ge=1, le=100, description="(null: preset)")
    variational_refinement_iterations: int | None = Field(None, ge=0, le=100, description="(null: preset)")


@register
class DISFlow(_FlowStage):
    """Backward dense flow (current -> previous frame) by dense inverse search (OpenCV DIS)."""

    name = "flow.dis"
    Params = DISParams
    cite = "T. Kroeger et al., Fast Optical Flow using Dense Inverse Search, ECCV 2016"

    def reset(self) -> None:
        super().reset()
        p = self.params
        self.engine = make_dis(p.preset, p.finest_scale, p.patch_size, p.patch_stride,
                               p.gradient_descent_iterations, p.variational_refinement_iterations)

    def min_side(self) -> int:
        return math.ceil(dis_min_side(self.engine) / self.params.scale)

    def compute(self, a, b):
        return dis(a, b, scale=self.params.scale, engine=self.engine)
