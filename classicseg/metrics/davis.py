"""DAVIS 2016 / 2017 semi-supervised scoring, following the official toolkits.

References
----------
F. Perazzi, J. Pont-Tuset, B. McWilliams, L. Van Gool, M. Gross, A. Sorkine-Hornung,
"A Benchmark Dataset and Evaluation Methodology for Video Object Segmentation", CVPR 2016.

J. Pont-Tuset, F. Perazzi, S. Caelles, P. Arbeláez, A. Sorkine-Hornung, L. Van Gool,
"The 2017 DAVIS Challenge on Video Object Segmentation", arXiv:1704.00675, 2017.

Rules
-----
* J (region similarity) = ``|A∩B| / |A∪B|``, 1 when both masks are empty.
* F (contour accuracy) = boundary F-measure: boundaries by :func:`seg2bmap`, tolerance
  ``ceil(0.008 × image diagonal)`` px, each boundary dilated with a disk, no thinning.
* The first and last annotated frames are excluded. Per object, the per-frame values give
  mean, recall (fraction of frames > 0.5) and decay (first quarter minus last quarter).
  A sequence's J (F) is the mean over its objects; J&F = (J + F) / 2.
* Frame indices are never cast to 8 bits (the official code does, and breaks past 255
  frames).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from classicseg.errors import EvalError
from classicseg.io.masks import VOID, davis_palette, read_indexed_mask as _read_ids
from classicseg.metrics.cdnet import index_images

__all__ = [
    "VOID", "davis_palette", "jaccard", "boundary_f", "seg2bmap", "statistics",
    "read_indexed_mask", "DavisSequenceResult", "DavisDatasetResult",
    "evaluate_sequence", "evaluate_dataset",
]



def _size(shape) -> str:
    return f"{shape[1]}x{shape[0]}"


def _check_pair(gt: np.ndarray, pred: np.ndarray) -> None:
    if gt.ndim != 2:
        raise EvalError(f"masks must be 2-D, got ground truth of shape {gt.shape}")
    if gt.shape != pred.shape:
        raise EvalError(f"prediction is {_size(pred.shape) if pred.ndim >= 2 else pred.shape} "
                        f"but ground truth is {_size(gt.shape)}")


# --------------------------------------------------------------------------- measures
def jaccard(gt, pred, void=None) -> float:
    """Region similarity J = ``|A∩B| / |A∪B|`` of two binary masks.

    Parameters
    ----------
    gt, pred : array_like, (H, W)
        Masks; non-zero = object.
    void : array_like, (H, W), optional
        Pixels to ignore (DAVIS void label).

    Returns
    -------
    float
        J in [0, 1]; 1.0 when both masks are empty.

    References
    ----------
    Perazzi et al., CVPR 2016, eq. 1.
    """
    gt = np.asarray(gt).astype(bool)
    pred = np.asarray(pred).astype(bool)
    _check_pair(gt, pred)
    if void is not None:
        keep = ~np.asarray(void).astype(bool)
        gt, pred = gt & keep, pred & keep
    union = np.count_nonzero(gt | pred)
    if union == 0:
        return 1.0
    return np.count_nonzero(gt & pred) / union


def seg2bmap(mask) -> np.ndarray:
    """One-pixel-wide boundary map of a binary mask (the toolkits' ``seg2bmap``).

    A pixel is a boundary pixel when it differs from its right, bottom or bottom-right
    neighbour. As in the toolkits, the last row compares with the right neighbour only,
    the last column with the bottom neighbour only, and the bottom-right pixel is never a
    boundary. Only the same-size case of the original is provided.

    Parameters
    ----------
    mask : array_like, (H, W)
        Non-zero = object.

    Returns
    -------
    numpy.ndarray
        ``bool (H, W)`` boundary map.

    References
    ----------
    D. Martin, C. Fowlkes, J. Malik, TPAMI 26(5), 2004 (``seg2bmap``); Perazzi et al.,
    CVPR 2016.
    """
    seg = np.asarray(mask).astype(bool)
    if seg.ndim != 2:
        raise ValueError(f"seg2bmap needs a 2-D mask, got shape {seg.shape}")
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def _bound_pix(shape, bound_th: float) -> int:
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


_DISKS: dict[int, np.ndarray] = {}


def _dilate(b: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation with ``skimage.morphology.disk(radius)`` (cv2 for speed; zero border)."""
    k = _DISKS.get(radius)
    if k is None:
        from skimage.morphology import disk

        k = _DISKS[radius] = disk(radius).astype(np.uint8)
    return cv2.dilate(b.view(np.uint8), k).astype(bool)


def boundary_f(gt, pred, bound_th: float = 0.008, void=None) -> float:
    """Contour accuracy F: boundary F-measure with a distance tolerance.

    Parameters
    ----------
    gt, pred : array_like, (H, W)
        Masks; non-zero = object.
    bound_th : float
        Tolerance: a fraction of the image diagonal when < 1 (``ceil(0.008 × diag)`` = 8 px
        at 854×480), else pixels.
    void : array_like, (H, W), optional
        Pixels removed from both masks before the boundaries are taken.

    Returns
    -------
    float
        F = 2PR/(P+R), with P = ``|pred boundary ∧ dilated gt boundary| / |pred boundary|`` and
        R = ``|gt boundary ∧ dilated pred boundary| / |gt boundary|``. Empty pred boundary only:
        P=1, R=0; empty gt boundary only: P=0, R=1; both empty: 1. F = 0 when P+R = 0.

    References
    ----------
    Perazzi et al., CVPR 2016, sec. 3.2; Pont-Tuset et al., 2017.
    """
    gt = np.asarray(gt).astype(bool)
    pred = np.asarray(pred).astype(bool)
    _check_pair(gt, pred)
    if void is not None:
        keep = ~np.asarray(void).astype(bool)
        gt, pred = gt & keep, pred & keep
    r = _bound_pix(gt.shape, bound_th)
    fg_b = seg2bmap(pred)
    gt_b = seg2bmap(gt)
    n_fg = np.count_nonzero(fg_b)
    n_gt = np.count_nonzero(gt_b)
    if n_fg == 0 and n_gt == 0:
        return 1.0
    if n_fg == 0 or n_gt == 0:
        return 0.0          # (P, R) = (1, 0) or (0, 1)
    # Work inside the bounding box of both boundaries grown by r: every boundary pixel
    # and everything its disk reaches lies there, so the counts are unchanged.
    rows = np.flatnonzero(np.any(fg_b | gt_b, axis=1))
    cols = np.flatnonzero(np.any(fg_b | gt_b, axis=0))
    y0, y1 = max(rows[0] - r, 0), rows[-1] + r + 1
    x0, x1 = max(cols[0] - r, 0), cols[-1] + r + 1
    fg_b = np.ascontiguousarray(fg_b[y0:y1, x0:x1])
    gt_b = np.ascontiguousarray(gt_b[y0:y1, x0:x1])
    precision = np.count_nonzero(fg_b & _dilate(gt_b, r)) / n_fg
    recall = np.count_nonzero(gt_b & _dilate(fg_b, r)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def statistics(values) -> tuple[float, float, float]:
    """Mean, recall and decay of one object's per-frame J or F values.

    Parameters
    ----------
    values : array_like, (n,)
        Per-frame values (first and last frames already excluded). NaNs are ignored by the
        means, as in the toolkits.

    Returns
    -------
    (mean, recall, decay) : tuple of float
        ``recall`` = fraction of frames with value > 0.5; ``decay`` = mean of the first
        of 4 bins minus mean of the last, bins ``values[ids[i]:ids[i+1]+1]`` with
        ``ids = round(linspace(1, n, 5) + 1e-10) - 1`` (int64, not uint8 as in the
        toolkit). NaN for an empty list.

    References
    ----------
    Perazzi et al., CVPR 2016, sec. 3.3; Pont-Tuset et al., 2017 (``db_statistics``).
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    n = v.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    with np.errstate(invalid="ignore"):
        mean = float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan")
        recall = float(np.mean(v > 0.5))
    ids = (np.round(np.linspace(1, n, 5) + 1e-10) - 1).astype(np.int64)
    bins = [v[ids[i]:ids[i + 1] + 1] for i in range(4)]
    first, last = bins[0][~np.isnan(bins[0])], bins[3][~np.isnan(bins[3])]
    decay = float(first.mean() - last.mean()) if first.size and last.size else float("nan")
    return mean, recall, decay


def read_indexed_mask(path) -> np.ndarray:
    """:func:`classicseg.io.masks.read_indexed_mask` for scoring: an unreadable file is an
    :class:`~classicseg.errors.EvalError`."""
    return _read_ids(path, EvalError)


# --------------------------------------------------------------------------- evaluation
@dataclass
class DavisSequenceResult:
    """Semi-supervised DAVIS score of one sequence.

    Attributes
    ----------
    name : str
    object_ids : list[int]
    frames : list[int]
        Evaluated frame numbers (first and last excluded).
    J, F : numpy.ndarray
        ``(n_objects, n_frames)`` per-object, per-frame values.
    J_mean, J_recall, J_decay, F_mean, F_recall, F_decay : float
        Means over objects of each object's :func:`statistics`.
    JF : float
        (J_mean + F_mean) / 2.
    per_object : dict[int, dict]
        Object id -> its own J_mean ... F_decay.
    """

    name: str
    object_ids: list
    frames: list
    J: np.ndarray
    F: np.ndarray
    J_mean: float
    J_recall: float
    J_decay: float
    F_mean: float
    F_recall: float
    F_decay: float
    JF: float
    per_object: dict = field(default_factory=dict)

    def frame_rows(self) -> list[dict]:
        """One row per evaluated frame: ``frame``, ``J`` and ``F`` (means over the objects),
        then ``J_<id>`` and ``F_<id>`` of each object."""
        rows = []
        for t, n in enumerate(self.frames):
            row = {"frame": n, "J": float(self.J[:, t].mean()), "F": float(self.F[:, t].mean())}
            for k, oid in enumerate(self.object_ids):
                row[f"J_{oid}"] = float(self.J[k, t])
                row[f"F_{oid}"] = float(self.F[k, t])
            rows.append(row)
        return rows


_STAT_KEYS = ("J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay")


def _index_pngs(folder: Path, what: str) -> dict[int, Path]:
    return {n: p for n, p in index_images(folder, what).items() if p.suffix.lower() == ".png"}


def evaluate_sequence(pred_dir, ann_dir, bound_th: float = 0.008) -> DavisSequenceResult:
    """Score one sequence under the DAVIS semi-supervised protocol.

    Parameters
    ----------
    pred_dir : path-like
        Predicted masks (``%05d.png``, indexed with the DAVIS palette or 0/255 grayscale),
        indexed by the trailing integer of the stem. Predictions for the first and last
        annotated frames are not needed.
    ann_dir : path-like
        Annotation PNGs of the sequence (e.g. ``Annotations/480p/blackswan``).
    bound_th : float
        Boundary tolerance of :func:`boundary_f`.

    Returns
    -------
    DavisSequenceResult

    Notes
    -----
    Objects are the non-zero, non-void ids found in the annotations (the toolkit takes
    1..max of the first frame; these agree whenever every object is in the first frame,
    as the semi-supervised task requires). Void (index 255 of indexed annotations) is
    ignored by J and F.

    Raises
    ------
    EvalError
        No annotations, missing predictions (count and first), size mismatch, prediction
        with more objects than the annotations, unreadable file.

    References
    ----------
    Perazzi et al., CVPR 2016; Pont-Tuset et al., 2017.
    """
    ann_dir, pred_dir = Path(ann_dir), Path(pred_dir)
    if not ann_dir.is_dir():
        raise EvalError(f"annotation folder {ann_dir} does not exist")
    anns = _index_pngs(ann_dir, "annotations")
    if not anns:
        raise EvalError(f"no annotations (numbered .png files) in {ann_dir}")
    numbers = sorted(anns)
    if len(numbers) < 3:
        raise EvalError(f"{ann_dir.name} has {len(numbers)} annotated frame(s); the first and last "
                        "are excluded, so at least 3 are needed")
    evaluated = numbers[1:-1]
    gts = {n: read_indexed_mask(anns[n]) for n in numbers}
    shape = gts[numbers[0]].shape
    for n in numbers:
        if gts[n].shape != shape:
            raise EvalError(f"annotation {anns[n].name} is {_size(gts[n].shape)} but "
                            f"{anns[numbers[0]].name} is {_size(shape)}")
    ids = sorted(set(np.unique(np.stack([gts[n] for n in numbers])).tolist()) - {0, VOID})
    if not ids:
        raise EvalError(f"annotations in {ann_dir} contain no object")
    if not pred_dir.is_dir():
        raise EvalError(f"prediction folder {pred_dir} does not exist")
    preds = index_images(pred_dir, "predictions")
    if not preds:
        raise EvalError(f"prediction folder {pred_dir} holds no numbered image files")
    missing = [n for n in evaluated if n not in preds]
    if missing:
        raise EvalError(f"{len(missing)} of {len(evaluated)} evaluated frames of {ann_dir.name} have no "
                        f"prediction in {pred_dir} (first: {anns[missing[0]].name})")
    J = np.zeros((len(ids), len(evaluated)))
    F = np.zeros_like(J)
    max_id = max(ids)
    for t, n in enumerate(evaluated):
        gt = gts[n]
        pred = read_indexed_mask(preds[n])
        if pred.shape != gt.shape:
            raise EvalError(f"prediction {preds[n].name} is {_size(pred.shape)} but annotation "
                            f"{anns[n].name} is {_size(gt.shape)}")
        extra = np.unique(pred[pred > max_id])
        if extra.size:
            raise EvalError(f"prediction {preds[n].name} has object id {int(extra[0])} but the "
                            f"annotations of {ann_dir.name} have {len(ids)} object(s) (ids {ids})")
        void = gt == VOID
        void = void if void.any() else None
        for k, oid in enumerate(ids):
            g, p = gt == oid, pred == oid
            J[k, t] = jaccard(g, p, void)
            F[k, t] = boundary_f(g, p, bound_th, void)
    per_object = {}
    for k, oid in enumerate(ids):
        jm, jr, jd = statistics(J[k])
        fm, fr, fd = statistics(F[k])
        per_object[oid] = dict(zip(_STAT_KEYS, (jm, jr, jd, fm, fr, fd)))
    agg = {key: float(np.mean([per_object[o][key] for o in ids])) for key in _STAT_KEYS}
    return DavisSequenceResult(name=ann_dir.name, object_ids=ids, frames=evaluated, J=J, F=F,
                               JF=(agg["J_mean"] + agg["F_mean"]) / 2.0, per_object=per_object, **agg)


@dataclass
class DavisDatasetResult:
    """DAVIS scores of several sequences.

    Attributes
    ----------
    sequences : list[DavisSequenceResult]
    J_mean, J_recall, J_decay, F_mean, F_recall, F_decay : float
        Means over all objects of all sequences, as the DAVIS 2017 toolkit pools them
        (for single-object data such as DAVIS 2016 this is the mean over sequences).
    JF : float
        (J_mean + F_mean) / 2.
    skipped : list[str]
        Sequences of the annotations left out for lack of a prediction folder (the global
        row is over the others).
    """

    sequences: list
    J_mean: float
    J_recall: float
    J_decay: float
    F_mean: float
    F_recall: float
    F_decay: float
    JF: float
    skipped: list = field(default_factory=list)

    @classmethod
    def from_sequences(cls, sequences: list, skipped: list | None = None) -> "DavisDatasetResult":
        """Pool per-sequence results as the DAVIS toolkit does: the mean over all objects."""
        objs = [o for s in sequences for o in s.per_object.values()]
        agg = {k: float(np.mean([o[k] for o in objs])) for k in _STAT_KEYS}
        return cls(sequences=list(sequences), JF=(agg["J_mean"] + agg["F_mean"]) / 2.0, skipped=list(skipped or []),
                   **agg)

    def frame_rows(self) -> list[dict]:
        """:meth:`DavisSequenceResult.frame_rows` of every sequence, each row starting with
        ``sequence``."""
        return [{"sequence": s.name, **r} for s in self.sequences for r in s.frame_rows()]

    def table(self) -> list[dict]:
        """Rows for printing: one per sequence (means over its objects), then 'global'."""
        rows = [{"sequence": s.name, "objects": len(s.object_ids), "frames": len(s.frames),
                 "JF": s.JF, **{k: getattr(s, k) for k in _STAT_KEYS}} for s in self.sequences]
        rows.append({"sequence": "global", "objects": sum(len(s.object_ids) for s in self.sequences),
                     "frames": sum(len(s.frames) for s in self.sequences), "JF": self.JF,
                     **{k: getattr(self, k) for k in _STAT_KEYS}})
        return rows


def _has_pngs(d: Path) -> bool:
    return any(p.suffix.lower() == ".png" for p in d.iterdir() if p.is_file())


def sequence_candidates(pred_root, ann_root) -> list:
    """Every sequence of a DAVIS-layout root with where its predictions should be
    (:class:`classicseg.metrics.selection.Candidate`; ``item`` is the annotation folder).

    ``ann_root`` is one sequence folder of PNGs, a folder of such folders, or a DAVIS root
    (``Annotations/480p`` or ``Annotations`` below it); predictions mirror it
    (``pred_root/<seq>``), or ``pred_root`` is the prediction folder itself for a single
    sequence.
    """
    from classicseg.metrics.selection import Candidate

    ann_root, pred_root = Path(ann_root), Path(pred_root)
    if not ann_root.is_dir():
        raise EvalError(f"annotation folder {ann_root} does not exist")
    for sub in ("Annotations/480p", "Annotations"):
        if (ann_root / sub).is_dir():
            ann_root = ann_root / sub
            break
    if _has_pngs(ann_root):
        pairs = [(pred_root, ann_root)]
    else:
        pairs = [(pred_root / d.name, d) for d in sorted(ann_root.iterdir())
                 if d.is_dir() and _has_pngs(d)]
    if not pairs:
        raise EvalError(f"no annotations (.png) under {ann_root}")
    return [Candidate(ann.name, pred, ann) for pred, ann in pairs]


def sequence_pairs(pred_root, ann_root) -> list[tuple[Path, Path]]:
    """``(prediction folder, annotation folder)`` of each sequence of a DAVIS-layout root
    (:func:`sequence_candidates`). Every prediction folder must exist (:class:`EvalError`
    names the sequence)."""
    pairs = [(c.pred, c.item) for c in sequence_candidates(pred_root, ann_root)]
    for pred_dir, ann_dir in pairs:
        if not pred_dir.is_dir():
            raise EvalError(f"no prediction folder for sequence {ann_dir.name}: {pred_dir} does not exist")
    return pairs


def evaluate_dataset(pred_root, ann_root, bound_th: float = 0.008,
                     sequences: list[str] | None = None) -> DavisDatasetResult:
    """Score several sequences under the DAVIS semi-supervised protocol.

    Parameters
    ----------
    pred_root : path-like
        One sub-folder per sequence (``pred_root/<seq>/%05d.png``), or the prediction
        folder itself when ``ann_root`` is a single sequence.
    ann_root : path-like
        A folder of per-sequence annotation folders (``.../Annotations/480p``), a DAVIS
        root containing ``Annotations/480p``, or a single sequence folder.
    bound_th : float
        Boundary tolerance of :func:`boundary_f`.
    sequences : list of str, optional
        Score only these. By default every sequence with a prediction folder is scored and
        the others are listed in ``DavisDatasetResult.skipped``.

    Returns
    -------
    DavisDatasetResult

    References
    ----------
    Perazzi et al., CVPR 2016; Pont-Tuset et al., 2017.
    """
    from classicseg.metrics.selection import choose_sequences

    scored, skipped = choose_sequences(sequence_candidates(pred_root, ann_root), sequences)
    seqs = [evaluate_sequence(c.pred, c.item, bound_th) for c in scored]
    return DavisDatasetResult.from_sequences(seqs, [c.name for c in skipped])
