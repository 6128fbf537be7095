"""Optical-flow scoring: Middlebury ``.flo`` and KITTI flow PNGs, endpoint error, Fl-all.

References
----------
S. Baker, D. Scharstein, J. P. Lewis, S. Roth, M. J. Black, R. Szeliski, "A Database and
Evaluation Methodology for Optical Flow", IJCV 92(1), 2011 (``.flo`` format, endpoint and
angular error).

A. Geiger, P. Lenz, R. Urtasun, "Are we ready for Autonomous Driving? The KITTI Vision
Benchmark Suite", CVPR 2012 (flow PNG format, 3 px outliers).

M. Menze, A. Geiger, "Object Scene Flow for Autonomous Vehicles", CVPR 2015 (Fl: a pixel
is an outlier when its endpoint error is > 3 px and > 5 % of the true flow's length).

Rules
-----
* A flow is ``float32 (H, W, 2)``, ``flow[y, x] = (u, v)``: the pixel ``(x, y)`` of the
  first frame is at ``(x + u, y + v)`` in the second (the convention of
  :func:`classicseg.stages.flow.farneback` and :func:`~classicseg.stages.flow.dis` called
  as ``f(first, second)``).
* ``.flo``: the float32 tag 202021.25 (bytes ``PIEH``), int32 width, int32 height, then
  ``width × height`` float32 (u, v) pairs, row-major, all little-endian. A vector with
  ``|u|`` or ``|v|`` above 1e9 (or not finite) is unknown.
* KITTI PNG: 16-bit, 3 channels; in (R, G, B) order u = (R − 2^15)/64, v = (G − 2^15)/64,
  B = 1 where the flow is known. OpenCV reads and writes the channels as BGR.
* Scores are taken over the pixels where the ground truth is known: EPE = mean of
  ``|pred − gt|``; Fl = fraction of those pixels with EPE > 3 px and EPE > 0.05·|gt|;
  AAE = mean angle between the space-time vectors (u, v, 1), in degrees.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classicseg.errors import EvalError
from classicseg.io import flowfiles
from classicseg.io.flowfiles import FLO_TAG, UNKNOWN_FLOW, encode_flo, encode_kitti_flow, write_flo, write_kitti_flow

__all__ = [
    "FLO_TAG", "UNKNOWN_FLOW",
    "read_flo", "encode_flo", "write_flo", "read_kitti_flow", "encode_kitti_flow", "write_kitti_flow",
    "read_flow", "endpoint_error", "flow_errors",
    "FlowPair", "find_flow_pairs", "FlowPairResult", "FlowDatasetResult", "evaluate_flow_dataset",
]


def _size(shape) -> str:
    return f"{shape[1]}x{shape[0]}"


def _check_flow(flow, what: str = "flow") -> np.ndarray:
    return flowfiles.check_flow(flow, what, EvalError)


def read_flo(path) -> tuple[np.ndarray, np.ndarray]:
    """:func:`classicseg.io.flowfiles.read_flo` for scoring (errors are :class:`EvalError`)."""
    return flowfiles.read_flo(path, EvalError)


def read_kitti_flow(path) -> tuple[np.ndarray, np.ndarray]:
    """:func:`classicseg.io.flowfiles.read_kitti_flow` for scoring (errors are :class:`EvalError`)."""
    return flowfiles.read_kitti_flow(path, EvalError)


def read_flow(path) -> tuple[np.ndarray, np.ndarray]:
    """:func:`classicseg.io.flowfiles.read_flow` for scoring (errors are :class:`EvalError`)."""
    return flowfiles.read_flow(path, EvalError)


# --------------------------------------------------------------------------- errors
def endpoint_error(pred, gt) -> np.ndarray:
    """Per-pixel endpoint error ``|pred − gt|`` (Euclidean), ``float32 (H, W)``.

    References
    ----------
    Baker et al., IJCV 2011, sec. 4.1.
    """
    p, g = _check_flow(pred, "prediction"), _check_flow(gt, "ground truth")
    if p.shape != g.shape:
        raise EvalError(f"predicted flow is {_size(p.shape)} but ground truth is {_size(g.shape)}")
    d = p - g
    return np.sqrt(d[:, :, 0] ** 2 + d[:, :, 1] ** 2)


def flow_errors(pred, gt, valid=None) -> dict:
    """Endpoint error, KITTI Fl and angular error over the pixels with known ground truth.

    Parameters
    ----------
    pred, gt : array_like, (H, W, 2)
        Flows ``(u, v)`` in pixels.
    valid : array_like of bool, (H, W), optional
        Where the ground truth is known (default: everywhere).

    Returns
    -------
    dict
        ``epe`` (mean endpoint error, px), ``fl`` (fraction of outliers: EPE > 3 px and
        EPE > 0.05·|gt|; KITTI 2015's Fl-all when ``valid`` covers all known pixels),
        ``out3`` (fraction with EPE > 3 px: KITTI 2012's Out), ``aae`` (mean angular
        error of the vectors (u, v, 1), degrees) and ``n_valid`` (pixels scored). The
        ratios are NaN when no pixel is valid.

    Raises
    ------
    EvalError
        Size mismatch, or a prediction that is not finite where the ground truth is known.

    References
    ----------
    Baker et al., IJCV 2011 (EPE, AE); Geiger et al., CVPR 2012 (Out 3 px); Menze and
    Geiger, CVPR 2015 (Fl).
    """
    err = endpoint_error(pred, gt)
    p, g = _check_flow(pred), _check_flow(gt)
    v = np.ones(err.shape, bool) if valid is None else np.asarray(valid, bool)
    if v.shape != err.shape:
        raise EvalError(f"valid mask is {_size(v.shape)} but the flow is {_size(err.shape)}")
    bad = ~np.isfinite(err) & v
    if bad.any():
        y, x = np.argwhere(bad)[0]
        raise EvalError(f"predicted flow is not finite at {int(bad.sum())} scored pixels (first: x={x}, y={y})")
    n = int(v.sum())
    if n == 0:
        return {"epe": float("nan"), "fl": float("nan"), "out3": float("nan"), "aae": float("nan"), "n_valid": 0}
    e = err[v].astype(np.float64)
    pv, gv = p[v].astype(np.float64), g[v].astype(np.float64)
    mag = np.sqrt((gv ** 2).sum(axis=1))
    cos = (1.0 + (pv * gv).sum(axis=1)) / np.sqrt((1.0 + (pv ** 2).sum(axis=1)) * (1.0 + mag ** 2))
    return {
        "epe": float(e.mean()),
        "fl": float(np.mean((e > 3.0) & (e > 0.05 * mag))),
        "out3": float(np.mean(e > 3.0)),
        "aae": float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean()),
        "n_valid": n,
    }


# --------------------------------------------------------------------------- datasets
@dataclass(frozen=True)
class FlowPair:
    """Two frames and the ground-truth flow from the first to the second.

    ``layout`` is ``"middlebury"`` or ``"kitti"``; ``region`` says which pixels the ground
    truth covers (``"all"``; ``"noc"`` for KITTI's non-occluded ``flow_noc``).
    """

    name: str
    image1: Path
    image2: Path
    gt: Path
    layout: str
    region: str = "all"


def _middlebury_pairs(root: Path) -> list[FlowPair]:
    data, gt = root / "other-data", root / "other-gt-flow"
    if not (data.is_dir() and gt.is_dir()):
        return []
    pairs = []
    for seq in sorted(d for d in gt.iterdir() if d.is_dir()):
        flo = seq / "flow10.flo"
        im1, im2 = data / seq.name / "frame10.png", data / seq.name / "frame11.png"
        if flo.is_file():
            if not (im1.is_file() and im2.is_file()):
                raise EvalError(f"{flo} has no frame pair: expected {im1} and {im2}")
            pairs.append(FlowPair(seq.name, im1, im2, flo, "middlebury"))
    return pairs


def _kitti_pairs(root: Path) -> list[FlowPair]:
    gt_dir = next((root / d for d in ("flow_occ", "flow_noc") if (root / d).is_dir()), None)
    img_dir = next((root / d for d in ("image_0", "image_2", "colored_0") if (root / d).is_dir()), None)
    if gt_dir is None or img_dir is None:
        return []
    region = "all" if gt_dir.name == "flow_occ" else "noc"
    pairs = []
    for g in sorted(gt_dir.glob("*_10.png")):
        stem = g.stem[:-3]
        im1, im2 = img_dir / f"{stem}_10.png", img_dir / f"{stem}_11.png"
        if not (im1.is_file() and im2.is_file()):
            raise EvalError(f"{g} has no frame pair: expected {im1} and {im2}")
        pairs.append(FlowPair(f"{stem}_10", im1, im2, g, "kitti", region))
    return pairs


def find_flow_pairs(root) -> list[FlowPair]:
    """The ground-truth flow pairs under a Middlebury or KITTI root.

    Parameters
    ----------
    root : path-like
        A Middlebury root (``other-data/<seq>/frame10.png, frame11.png`` and
        ``other-gt-flow/<seq>/flow10.flo``), a KITTI 2012/2015 root or its ``training``
        folder (``image_0`` or ``image_2``, ``<id>_10.png``, ``<id>_11.png``; ground truth in
        ``flow_occ``, else ``flow_noc``), or a folder holding such roots one level down.

    Returns
    -------
    list[FlowPair]
        Sorted by layout, then name.

    Raises
    ------
    EvalError
        Missing folder, no pair found, or a ground-truth file without its two frames.
    """
    root = Path(root)
    if not root.is_dir():
        raise EvalError(f"flow dataset folder {root} does not exist")

    def here(d: Path) -> list[FlowPair]:
        kitti = _kitti_pairs(d)
        if not kitti and (d / "training").is_dir():
            kitti = _kitti_pairs(d / "training")
        return _middlebury_pairs(d) + kitti

    pairs = here(root)
    if not pairs:
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            pairs += here(d)
    if not pairs:
        raise EvalError(f"no flow pairs under {root} (expected Middlebury other-data/ + other-gt-flow/, "
                        "or KITTI image_0|image_2/ + flow_occ|flow_noc/)")
    return pairs


@dataclass
class FlowPairResult:
    """Scores of one pair; ``flow``/``gt``/``valid`` are kept for pictures (not in :meth:`row`)."""

    name: str
    layout: str
    region: str
    size: str
    epe: float
    fl: float
    out3: float
    aae: float
    n_valid: int
    seconds: float | None = None
    flow: np.ndarray | None = field(default=None, repr=False)
    gt: np.ndarray | None = field(default=None, repr=False)
    valid: np.ndarray | None = field(default=None, repr=False)

    def row(self) -> dict:
        r = {"pair": self.name, "layout": self.layout, "region": self.region, "size": self.size,
             "epe": self.epe, "fl": self.fl, "out3": self.out3, "aae": self.aae, "valid_px": self.n_valid}
        if self.seconds is not None:
            r["seconds"] = self.seconds
        return r


@dataclass
class FlowDatasetResult:
    """Per-pair scores and their means (each pair counts once, whatever its size)."""

    source: str
    pairs: list
    epe: float
    fl: float
    out3: float
    aae: float

    def table(self) -> list[dict]:
        rows = [p.row() for p in self.pairs]
        secs = [p.seconds for p in self.pairs if p.seconds is not None]
        mean = {"pair": "mean", "layout": "", "region": "", "size": "", "epe": self.epe, "fl": self.fl,
                "out3": self.out3, "aae": self.aae, "valid_px": sum(p.n_valid for p in self.pairs)}
        if secs:
            mean["seconds"] = float(np.mean(secs))
        return rows + [mean]


def _pred_file(pred_dir: Path, pair: FlowPair) -> Path:
    names = [f"{pair.name}.flo", f"{pair.name}.png", f"{pair.name}/flow10.flo"]
    for n in names:
        if (pred_dir / n).is_file():
            return pred_dir / n
    raise EvalError(f"no predicted flow for pair {pair.name} in {pred_dir} (looked for {', '.join(names)})")


def evaluate_flow_dataset(gt_root, flow: Callable | None = None, pred_dir=None, *, label: str = "",
                          keep_flows: bool = False, on_pair=None) -> FlowDatasetResult:
    """Score a flow method, or predicted flow files, on every pair of a dataset root.

    Parameters
    ----------
    gt_root : path-like
        See :func:`find_flow_pairs`.
    flow : callable, optional
        ``flow(first, second) -> (H, W, 2)`` computed from the frames of each pair, e.g.
        :func:`classicseg.stages.flow.flow_function` ``("dis")``. Ignored when ``pred_dir``
        is given.
    pred_dir : path-like, optional
        Predicted flows instead: ``<pair>.flo``, ``<pair>.png`` (KITTI format) or
        ``<pair>/flow10.flo`` (Middlebury submission layout), where ``<pair>`` is the
        Middlebury sequence (``Dimetrodon``) or the KITTI frame (``000045_10``).
    label : str
        Names the method in the result's ``source`` (default: the function's name).
    keep_flows : bool
        Keep each pair's flow, ground truth and valid mask on its result (for pictures).
    on_pair : callable, optional
        Called with each :class:`FlowPairResult` as soon as it is scored.

    Returns
    -------
    FlowDatasetResult
        ``seconds`` per pair is the method's own time (frames already in memory).

    Raises
    ------
    EvalError
        See :func:`find_flow_pairs`, :func:`read_flow`, :func:`flow_errors`; a frame pair
        whose size differs from its ground truth.
    """
    from classicseg.io.images import read_image

    pairs = find_flow_pairs(gt_root)
    if pred_dir is None and flow is None:
        raise EvalError("give a flow method or a folder of predicted flows")
    fn = None if pred_dir is not None else flow
    if pred_dir is not None:
        pred_dir = Path(pred_dir)
        if not pred_dir.is_dir():
            raise EvalError(f"prediction folder {pred_dir} does not exist")
    results = []
    for pair in pairs:
        gt, valid = read_flow(pair.gt)
        seconds = None
        if fn is not None:
            a, b = read_image(pair.image1), read_image(pair.image2)
            if a.shape[:2] != gt.shape[:2] or b.shape[:2] != gt.shape[:2]:
                raise EvalError(f"pair {pair.name}: frames are {_size(a.shape)} and {_size(b.shape)} but the "
                                f"ground truth is {_size(gt.shape)}")
            t0 = time.perf_counter()
            est = fn(a, b)
            seconds = time.perf_counter() - t0
        else:
            path = _pred_file(pred_dir, pair)
            est, pvalid = read_flow(path)
            if est.shape != gt.shape:
                raise EvalError(f"predicted flow {path.name} is {_size(est.shape)} but ground truth "
                                f"{pair.gt.name} is {_size(gt.shape)}")
            if (valid & ~pvalid).any():
                raise EvalError(f"predicted flow {path.name} is unknown at {int((valid & ~pvalid).sum())} pixels "
                                "where the ground truth is known")
        s = flow_errors(est, gt, valid)
        r = FlowPairResult(pair.name, pair.layout, pair.region, _size(gt.shape), s["epe"], s["fl"], s["out3"],
                           s["aae"], s["n_valid"], seconds,
                           *((est, gt, valid) if keep_flows else (None, None, None)))
        if on_pair is not None:
            on_pair(r)
        results.append(r)
    means = {k: float(np.mean([getattr(r, k) for r in results])) for k in ("epe", "fl", "out3", "aae")}
    source = str(pred_dir) if pred_dir is not None else (label or getattr(flow, "__name__", "flow"))
    return FlowDatasetResult(source, results, **means)
