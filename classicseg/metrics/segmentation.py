"""Per-class IoU and mIoU of class maps, accumulated over whole sequences.

References
----------
M. Everingham, S. M. A. Eslami, L. Van Gool, C. K. I. Williams, J. Winn, A. Zisserman,
"The PASCAL Visual Object Classes Challenge: A Retrospective", IJCV 111(1), 2015 (class
IoU = TP / (TP + FP + FN) from a confusion matrix summed over the data set; 255 = void).

M. Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene Understanding", CVPR 2016
(ignore label 255; classes without ground truth and prediction are left out of the mean).

Rules
-----
* Pixels whose ground truth is void (255) are ignored whatever the prediction says.
* A confusion matrix is summed over every frame of a sequence (and, for the ``global``
  row, over every sequence) before IoU is taken; it is not a mean of per-frame IoUs.
* IoU of class c = TP / (TP + FP + FN). A prediction of 255 (or of any id outside the
  classes) on a non-void pixel is a false negative of the true class only.
* The classes are the ids (≠ 255) found in the ground truth or in the predictions, unless
  a fixed list is given; a class with TP + FP + FN = 0 gets NaN and is left out of mIoU.
  Background (0) is a class like any other (as in PASCAL VOC).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from classicseg.errors import EvalError
from classicseg.metrics.cdnet import index_images
from classicseg.metrics.davis import read_indexed_mask, sequence_pairs

__all__ = ["VOID", "read_label_map", "ConfusionAccumulator", "class_iou", "SegmentationResult",
           "evaluate_sequence", "evaluate_dataset", "sequence_pairs"]

#: Ground-truth label of pixels that are not scored.
VOID = 255


def _size(shape) -> str:
    return f"{shape[1]}x{shape[0]}"


def read_label_map(path) -> np.ndarray:
    """Read a class map PNG as ``uint8 (H, W)`` class ids.

    * Indexed ('P') images: the palette indices are the ids (255 = void), as in PASCAL VOC
      and DAVIS 2017.
    * Grey images whose only values are 0 and 255 (DAVIS 2016 annotations, binary masks):
      a single object, 255 → 1 (there is no void).
    * Other grey images: the grey values are the ids, 255 = void (Cityscapes ``trainIds``).
    * Colour images: colours of the DAVIS/VOC palette (see
      :func:`classicseg.metrics.davis.read_indexed_mask`).

    Raises
    ------
    EvalError
        Unreadable file, or an unknown colour; the message names the file.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("L", "I", "I;16", "I;16B"):
                a = np.asarray(im)
                vals = np.unique(a)
                if np.isin(vals, (0, 255)).all():
                    return (a == 255).astype(np.uint8)
                if vals.max() > 255 or vals.min() < 0:
                    raise EvalError(f"class map {path} has ids outside 0..255 ({int(vals.min())}..{int(vals.max())})")
                return a.astype(np.uint8)
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read class map {path}: {exc}") from None
    return read_indexed_mask(path)


class ConfusionAccumulator:
    """A class confusion matrix summed over frames (streaming: ``update`` then ``compute``).

    ``counts[i, j]`` = number of non-void pixels of true class ``i`` predicted as ``j``, for
    ids 0..254; column 255 collects predictions of 255 (false negatives only).
    """

    def __init__(self, void: int = VOID):
        if not 0 <= void <= 255:
            raise ValueError(f"void must be in 0..255, got {void}")
        self.void = void
        self.counts = np.zeros((256, 256), np.int64)
        self.frames = 0

    def update(self, pred, gt) -> None:
        """Add one frame; ``pred`` and ``gt`` are integer id maps of the same size in 0..255."""
        p, g = np.asarray(pred), np.asarray(gt)
        if g.ndim != 2:
            raise EvalError(f"class maps must be 2-D, got ground truth of shape {g.shape}")
        if p.shape != g.shape:
            raise EvalError(f"prediction is {_size(p.shape) if p.ndim >= 2 else p.shape} but ground truth "
                            f"is {_size(g.shape)}")
        for what, a in (("prediction", p), ("ground truth", g)):
            if a.dtype != np.uint8 and a.size and (a.min() < 0 or a.max() > 255):
                raise EvalError(f"{what} has ids outside 0..255")
        keep = g != self.void
        idx = g[keep].astype(np.int64) * 256 + p[keep].astype(np.int64)
        self.counts += np.bincount(idx, minlength=256 * 256).reshape(256, 256)
        self.frames += 1

    def merge(self, other: "ConfusionAccumulator") -> None:
        self.counts += other.counts
        self.frames += other.frames

    def classes(self) -> list[int]:
        """Ids (≠ void) seen in the ground truth or the predictions of non-void pixels."""
        seen = (self.counts.sum(axis=1) > 0) | (self.counts.sum(axis=0) > 0)
        seen[self.void] = False
        return np.flatnonzero(seen).tolist()

    def compute(self, classes=None) -> tuple[dict[int, float], float]:
        """Per-class IoU and their mean; see :func:`class_iou`."""
        return class_iou(self.counts, self.classes() if classes is None else classes, self.void)


def class_iou(counts, classes, void: int = VOID) -> tuple[dict[int, float], float]:
    """IoU of each class from a confusion matrix, and mIoU.

    Parameters
    ----------
    counts : array_like, (K, K)
        ``counts[true, predicted]`` pixel counts (void ground truth already left out).
    classes : iterable of int
        Ids to score.
    void : int
        A predicted id that is never a class (its column only adds false negatives).

    Returns
    -------
    (iou, miou) : (dict[int, float], float)
        IoU = TP / (TP + FP + FN); NaN for a class with no pixel in either; mIoU = mean of
        the non-NaN values (NaN if there is none).

    References
    ----------
    Everingham et al., IJCV 2015.
    """
    c = np.asarray(counts, np.int64)
    out: dict[int, float] = {}
    for k in classes:
        k = int(k)
        if k == void or not 0 <= k < c.shape[0]:
            raise EvalError(f"class id {k} cannot be scored (void is {void}, ids go to {c.shape[0] - 1})")
        tp = c[k, k]
        fn = c[k, :].sum() - tp
        fp = c[:, k].sum() - tp
        den = tp + fp + fn
        out[k] = float(tp / den) if den else float("nan")
    vals = [v for v in out.values() if not np.isnan(v)]
    return out, (float(np.mean(vals)) if vals else float("nan"))


@dataclass
class SegmentationResult:
    """Class IoUs of one sequence (or of the pooled ``global`` set)."""

    name: str
    frames: int
    iou: dict
    miou: float
    pixel_accuracy: float

    def row(self) -> dict:
        return {"sequence": self.name, "frames": self.frames, "mIoU": self.miou,
                "pixel_acc": self.pixel_accuracy, **{f"IoU[{k}]": v for k, v in self.iou.items()}}


def _result(name: str, acc: ConfusionAccumulator, classes) -> SegmentationResult:
    iou, miou = acc.compute(classes)
    total = acc.counts.sum()
    pa = float(np.trace(acc.counts) / total) if total else float("nan")
    return SegmentationResult(name, acc.frames, iou, miou, pa)


def _pngs(folder: Path, what: str) -> dict[int, Path]:
    return {n: p for n, p in index_images(folder, what).items() if p.suffix.lower() == ".png"}


def _accumulate(pred_dir: Path, gt_dir: Path) -> ConfusionAccumulator:
    if not gt_dir.is_dir():
        raise EvalError(f"ground-truth folder {gt_dir} does not exist")
    gts = _pngs(gt_dir, "ground truth")
    if not gts:
        raise EvalError(f"no ground truth (numbered .png files) in {gt_dir}")
    if not pred_dir.is_dir():
        raise EvalError(f"prediction folder {pred_dir} does not exist")
    preds = index_images(pred_dir, "predictions")
    missing = [n for n in sorted(gts) if n not in preds]
    if missing:
        raise EvalError(f"{len(missing)} of {len(gts)} annotated frames of {gt_dir.name} have no prediction "
                        f"in {pred_dir} (first: {gts[missing[0]].name})")
    acc = ConfusionAccumulator()
    for n in sorted(gts):
        g, p = read_label_map(gts[n]), read_label_map(preds[n])
        if p.shape != g.shape:
            raise EvalError(f"prediction {preds[n].name} is {_size(p.shape)} but ground truth "
                            f"{gts[n].name} is {_size(g.shape)}")
        acc.update(p, g)
    return acc


def evaluate_sequence(pred_dir, gt_dir, classes=None) -> SegmentationResult:
    """Per-class IoU and mIoU of one sequence, every annotated frame counted.

    Parameters
    ----------
    pred_dir, gt_dir : path-like
        Numbered PNG class maps (see :func:`read_label_map`), matched by the trailing
        number of the file name; every ground-truth frame needs a prediction.
    classes : iterable of int, optional
        Fixed class list (default: ids seen in this sequence).

    Raises
    ------
    EvalError
        Missing folders or predictions, size mismatch, unreadable files.
    """
    gt_dir = Path(gt_dir)
    return _result(gt_dir.name, _accumulate(Path(pred_dir), gt_dir), classes)


def evaluate_dataset(pred_root, gt_root, classes=None) -> list[SegmentationResult]:
    """Per-sequence class IoUs, then a ``global`` row from the confusion matrix pooled over
    every pixel of every sequence (not a mean of the sequences).

    The class list is fixed across rows: ``classes``, or the ids seen anywhere.
    """
    accs = []
    for pred_dir, gt_dir in sequence_pairs(pred_root, gt_root):
        accs.append((gt_dir.name, _accumulate(pred_dir, gt_dir)))
    pooled = ConfusionAccumulator()
    for _, a in accs:
        pooled.merge(a)
    cls = pooled.classes() if classes is None else list(classes)
    rows = [_result(name, a, cls) for name, a in accs]
    if len(rows) > 1:
        rows.append(_result("global", pooled, cls))
    return rows
