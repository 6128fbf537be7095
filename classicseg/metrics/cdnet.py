"""CDnet 2014 scoring, following the official comparator.

References
----------
N. Goyette, P.-M. Jodoin, F. Porikli, J. Konrad, P. Ishwar, "changedetection.net: A new
change detection benchmark dataset", CVPR Workshops 2012.

Y. Wang, P.-M. Jodoin, F. Porikli, J. Konrad, Y. Benezeth, P. Ishwar, "CDnet 2014: An
Expanded Change Detection Benchmark Dataset", CVPR Workshops 2014.

Rules
-----
* Ground-truth codes: 0 static, 50 hard shadow, 85 outside ROI, 170 unknown, 255 motion.
* A pixel counts only where the ROI (``ROI.bmp``) is non-zero and the GT is not 170.
* GT 255 is positive; every other counted value (0, 50, 85 inside the ROI, stray values
  such as the 1s of SBI IBMtest2) is negative.
* A prediction pixel is foreground only when it is exactly 255 (``True`` for bool arrays).
* Only frames whose number lies in ``temporalROI.txt`` (``first last``, inclusive, as the
  numbers appear in the file names) count.
* Per video, TP/FP/FN/TN are summed over frames before the ratios are taken. A category
  scores the mean of its videos' metrics; the overall score is the mean of the categories.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image

from classicseg.errors import EvalError
from classicseg.io.images import IMAGE_EXTS
from classicseg.io.sources import trailing_number

__all__ = [
    "STATIC", "SHADOW", "OUTSIDE_ROI", "UNKNOWN", "MOTION", "METRIC_NAMES",
    "confusion", "metrics_from_counts", "CDnetAccumulator",
    "GroundTruthSequence", "load_gt_sequence",
    "SequenceResult", "DatasetResult", "evaluate_sequence", "evaluate_dataset",
]

STATIC = 0
SHADOW = 50
OUTSIDE_ROI = 85
UNKNOWN = 170
MOTION = 255

#: Keys of the dicts returned by :func:`metrics_from_counts`, in the CDnet table order.
METRIC_NAMES = ("recall", "specificity", "fpr", "fnr", "pwc", "precision", "f_measure")



# --------------------------------------------------------------------------- helpers
def _size(shape) -> str:
    """``WxH`` text of an array shape."""
    return f"{shape[1]}x{shape[0]}"


def index_images(folder: Path, what: str) -> dict[int, Path]:
    """Map the trailing integer of each image's stem to its path.

    ``bin000123.png``, ``000123.png``, ``frame_12.png`` and ``gt0012.png`` are frames 123,
    123, 12 and 12. Files whose stem does not end in digits are ignored.

    Raises
    ------
    EvalError
        Two files carry the same number.
    """
    out: dict[int, Path] = {}
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.suffix.lower() not in IMAGE_EXTS:
            continue
        n = trailing_number(p.stem)
        if n is None:
            continue
        if n in out:
            raise EvalError(f"{what} {out[n].name} and {p.name} in {folder} are both frame {n}")
        out[n] = p
    return out


def _as_fg(pred: np.ndarray) -> np.ndarray:
    """Foreground of a prediction: ``True`` for bool arrays, exactly 255 otherwise."""
    return pred if pred.dtype == np.bool_ else pred == MOTION


def _ratio(num: float, den: float) -> float:
    """``num / den``, or 0.0 when ``den`` is 0 (see :func:`metrics_from_counts`)."""
    return float(num) / float(den) if den else 0.0


# --------------------------------------------------------------------------- counting
def confusion(pred, gt, roi=None) -> np.ndarray:
    """Confusion counts of one frame under the CDnet 2014 comparator rules.

    Parameters
    ----------
    pred : array_like, (H, W)
        Prediction: ``bool`` (True = foreground) or integer image where only 255 is
        foreground.
    gt : array_like, (H, W)
        CDnet ground truth (0, 50, 85, 170, 255; other values count as negative).
    roi : array_like, (H, W), optional
        Region of interest; non-zero = evaluated. ``None`` evaluates the whole image.

    Returns
    -------
    numpy.ndarray
        ``int64`` array ``[tp, fp, fn, tn]``.

    Raises
    ------
    EvalError
        The shapes of ``pred``, ``gt`` and ``roi`` differ.

    References
    ----------
    Goyette et al., CVPRW 2012; Wang et al., CVPRW 2014.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if gt.ndim != 2:
        raise EvalError(f"ground truth must be a 2-D label image, got shape {gt.shape}")
    if pred.shape != gt.shape:
        raise EvalError(f"prediction is {_size(pred.shape) if pred.ndim >= 2 else pred.shape} "
                        f"but ground truth is {_size(gt.shape)}")
    valid = gt != UNKNOWN
    if roi is not None:
        roi = np.asarray(roi)
        if roi.shape != gt.shape:
            raise EvalError(f"ROI is {_size(roi.shape) if roi.ndim >= 2 else roi.shape} "
                            f"but ground truth is {_size(gt.shape)}")
        valid &= roi.astype(bool, copy=False)
    fg = _as_fg(pred)
    pos = gt == MOTION            # already excludes 170
    if roi is not None:
        pos &= valid
    neg = valid & ~pos
    n_pos = np.count_nonzero(pos)
    n_neg = np.count_nonzero(neg)
    tp = np.count_nonzero(fg & pos)
    fp = np.count_nonzero(fg & neg)
    return np.array([tp, fp, n_pos - tp, n_neg - fp], dtype=np.int64)


def metrics_from_counts(counts) -> dict:
    """The seven CDnet 2014 metrics from summed confusion counts.

    Parameters
    ----------
    counts : array_like
        ``[tp, fp, fn, tn]``.

    Returns
    -------
    dict
        ``recall`` TP/(TP+FN), ``specificity`` TN/(TN+FP), ``fpr`` FP/(FP+TN),
        ``fnr`` FN/(TP+FN), ``pwc`` 100(FN+FP)/(TP+FP+FN+TN), ``precision`` TP/(TP+FP),
        ``f_measure`` 2·Pr·Re/(Pr+Re), all Python floats.

    Notes
    -----
    Convention for 0/0 (the official comparator leaves it undefined): every ratio whose
    denominator is 0 is 0.0. Precision is 0 when nothing is predicted, recall is 0 when
    the GT has no positive pixel, and F is 0 whenever Pr + Re = 0, so F = 0 whenever
    TP = 0 -- including a frame with no motion where nothing is predicted. With no
    negative pixel, specificity and FPR are both 0; with no counted pixel PWC is 0.

    References
    ----------
    Goyette et al., CVPRW 2012; Wang et al., CVPRW 2014.
    """
    c = np.asarray(counts, dtype=np.int64).reshape(-1)
    if c.size != 4:
        raise ValueError(f"counts must be [tp, fp, fn, tn], got {c.size} values")
    tp, fp, fn, tn = (int(v) for v in c)
    re_ = _ratio(tp, tp + fn)
    pr = _ratio(tp, tp + fp)
    return {
        "recall": re_,
        "specificity": _ratio(tn, tn + fp),
        "fpr": _ratio(fp, fp + tn),
        "fnr": _ratio(fn, tp + fn),
        "pwc": 100.0 * _ratio(fn + fp, tp + fp + fn + tn),
        "precision": pr,
        "f_measure": _ratio(2.0 * pr * re_, pr + re_),
    }


class CDnetAccumulator:
    """Sums CDnet confusion counts over the frames of one video.

    Examples
    --------
    >>> acc = CDnetAccumulator()
    >>> acc.update(pred, gt, roi, frame=470)   # doctest: +SKIP
    >>> acc.compute()["f_measure"]             # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._sum = np.zeros(4, dtype=np.int64)
        self.frames: list = []
        self.frame_counts: list[np.ndarray] = []

    def update(self, pred, gt, roi=None, frame=None) -> np.ndarray:
        """Add one frame; returns its ``[tp, fp, fn, tn]``."""
        c = confusion(pred, gt, roi)
        self.frame_counts.append(c)
        self.frames.append(len(self.frames) if frame is None else frame)
        self._sum += c
        return c

    def add_counts(self, counts, frame=None) -> None:
        """Add precomputed ``[tp, fp, fn, tn]`` of one frame."""
        c = np.asarray(counts, dtype=np.int64).reshape(4)
        self.frame_counts.append(c.copy())
        self.frames.append(len(self.frames) if frame is None else frame)
        self._sum += c

    def __len__(self) -> int:
        return len(self.frame_counts)

    @property
    def counts(self) -> np.ndarray:
        """Summed ``[tp, fp, fn, tn]`` (a copy)."""
        return self._sum.copy()

    def compute(self) -> dict:
        """Metrics of the summed counts (:func:`metrics_from_counts`)."""
        return metrics_from_counts(self._sum)

    def per_frame_f(self) -> list[float]:
        """F-measure of each frame on its own (for plots; not the video score).

        A frame with no foreground in either the ground truth or the prediction has
        nothing to score and gives NaN (a gap in a plot), not 0.
        """
        return [float("nan") if c[0] + c[1] + c[2] == 0 else metrics_from_counts(c)["f_measure"]
                for c in self.frame_counts]


# --------------------------------------------------------------------------- GT on disk
def read_label_image(path: Path) -> np.ndarray:
    """Read a CDnet label image as stored values (palette indices for 'P' PNGs).

    CDnet codes are pixel values: palette images are read as their indices, the way the
    official MATLAB comparator (``imread``) sees them, so SBI IBMtest2's stray index 1
    stays 1 (negative) even though its palette shows it white.
    """
    from classicseg.io.limits import open_image

    try:
        with open_image(path, f"ground truth {Path(path).name}", EvalError) as im:
            if im.mode in ("P", "L"):
                a = np.asarray(im)
            elif im.mode == "1":
                a = np.asarray(im, dtype=np.uint8) * 255
            elif im.mode.startswith("I"):  # 16-bit: 8-bit codes scaled by 257, or stored as they are
                a16 = np.asarray(im)
                a = (a16 // 257 if not (a16 % 257).any() else np.clip(a16, 0, 255)).astype(np.uint8)
            else:
                a = np.asarray(im.convert("L"))
    except (OSError, ValueError, SyntaxError) as exc:
        raise EvalError(f"cannot read ground truth {path}: {exc}") from None
    return a


def _gt_mode(path: Path) -> str:
    try:
        with Image.open(path) as im:
            return im.mode
    except Exception:  # noqa: BLE001 - reported when the file is read
        return ""


@dataclass
class GroundTruthSequence:
    """Ground truth of one CDnet-layout sequence (``groundtruth/``, ROI, temporal ROI).

    Attributes
    ----------
    name, category : str
        Folder name of the sequence and of its parent.
    path : Path
        The sequence folder.
    files : dict[int, Path]
        Every ground-truth image, by frame number.
    numbers : list[int]
        Evaluated frame numbers (GT frames inside the temporal ROI), ascending.
    roi : numpy.ndarray or None
        ``bool (H, W)``, True = evaluated; ``None`` = whole image (no ``ROI.bmp``).
    temporal_roi : tuple[int, int] or None
        ``(first, last)`` from ``temporalROI.txt``.
    shape : tuple[int, int]
        ``(H, W)`` of the ground truth.
    warnings : list[str]
        Repairs made while loading (e.g. ROI of the wrong size).
    """

    name: str
    category: str
    path: Path
    files: dict
    numbers: list
    roi: np.ndarray | None
    temporal_roi: tuple | None
    shape: tuple
    warnings: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.numbers)

    def read(self, number: int) -> np.ndarray:
        """GT labels of frame ``number``."""
        gt = read_label_image(self.files[number])
        if gt.shape != self.shape:
            raise EvalError(f"ground truth {self.files[number].name} is {_size(gt.shape)} but "
                            f"{self.files[self.numbers[0]].name} is {_size(self.shape)}")
        return gt

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(number, gt)`` for each evaluated frame."""
        for n in self.numbers:
            yield n, self.read(n)

    frames = __iter__


def _read_temporal_roi(path: Path) -> tuple[int, int]:
    try:
        vals = path.read_text().split()
        first, last = int(vals[0]), int(vals[1])
    except (OSError, ValueError, IndexError):
        raise EvalError(f"{path} must hold two frame numbers 'first last'") from None
    return first, last


def _looks_binary(img: np.ndarray) -> bool:
    """True when >= 99 % of the pixels are near 0 or near 255 (a mask, not a photo)."""
    return np.count_nonzero((img <= 32) | (img >= 223)) >= 0.99 * img.size


def _load_roi(seq: Path, shape: tuple, warnings: list) -> np.ndarray | None:
    bmp = seq / "ROI.bmp"
    if not bmp.is_file():
        return None
    # Read as an image (palette applied): highway's ROI.bmp is a palette BMP whose
    # index 0 is white, so its raw indices would wrongly say "all outside".
    roi = cv2.imread(str(bmp), cv2.IMREAD_GRAYSCALE)
    if roi is None:
        raise EvalError(f"cannot read {bmp}")
    if roi.shape == shape:
        return roi != 0
    jpg = seq / "ROI.jpg"
    if roi.min() == roi.max():
        warnings.append(f"{bmp} is {_size(roi.shape)} but the ground truth is {_size(shape)}; "
                        f"it is uniform ({int(roi.flat[0])}), so it was used at the ground-truth size")
        return np.full(shape, roi.flat[0] != 0)
    alt = cv2.imread(str(jpg), cv2.IMREAD_GRAYSCALE) if jpg.is_file() else None
    if alt is not None and alt.shape == shape and _looks_binary(alt):
        warnings.append(f"{bmp} is {_size(roi.shape)} but the ground truth is {_size(shape)}; "
                        f"used {jpg.name} thresholded at 128 instead")
        return alt >= 128
    raise EvalError(f"{bmp} is {_size(roi.shape)} but ground truth is {_size(shape)}"
                    + (f" and {jpg.name} is not a usable mask" if jpg.is_file() else ""))


def load_gt_sequence(seq_dir) -> GroundTruthSequence:
    """Load the ground truth, ROI and temporal ROI of a CDnet-layout sequence.

    Parameters
    ----------
    seq_dir : path-like
        Folder with ``groundtruth/`` (``gt%06d.png`` for CDnet/SBI, ``gt%04d.png`` for
        UCSD; frames are indexed by the trailing integer of the stem), optionally
        ``ROI.bmp`` and ``temporalROI.txt``.

    Returns
    -------
    GroundTruthSequence

    Notes
    -----
    * No ``temporalROI.txt``: every GT frame is evaluated. Numbers of the temporal ROI
      without a GT file (IBMtest2's ``0 90`` with frames 0..89) are skipped.
    * No ``ROI.bmp``: the whole image is evaluated. ``ROI.jpg`` alone is ignored: in CDnet
      it is a picture of the scene with the ROI tinted, not a mask.
    * ``ROI.bmp`` of another size than the GT (cameraJitter/traffic: 352x240 vs 320x240):
      a uniform ROI is used at the GT size; otherwise ``ROI.jpg`` is used, thresholded at
      128, when it has the GT size and is a binary mask; a warning is recorded either way.
      Anything else raises :class:`EvalError`.

    References
    ----------
    Goyette et al., CVPRW 2012; Wang et al., CVPRW 2014.
    """
    seq = Path(seq_dir)
    gt_dir = seq / "groundtruth"
    if not gt_dir.is_dir():
        raise EvalError(f"{seq} has no groundtruth/ folder")
    files = index_images(gt_dir, "ground-truth files")
    if not files:
        raise EvalError(f"{gt_dir} holds no numbered ground-truth images")
    numbers = sorted(files)
    temporal = None
    troi = seq / "temporalROI.txt"
    if troi.is_file():
        temporal = _read_temporal_roi(troi)
        first, last = temporal
        numbers = [n for n in numbers if first <= n <= last]
        if not numbers:
            raise EvalError(f"{troi} ({first} {last}) selects none of the ground-truth frames "
                            f"{min(files)}..{max(files)} of {seq.name}")
    shape = read_label_image(files[numbers[0]]).shape
    warnings: list[str] = []
    mode = _gt_mode(files[numbers[0]])
    if mode.startswith("I") or mode == "F":
        warnings.append(f"ground truth {files[numbers[0]].name} is {mode} (16-bit or float), not 8-bit: labels "
                        f"are read as value / 257 when every value is a multiple of 257, else clipped at 255")
    roi = _load_roi(seq, shape, warnings)
    return GroundTruthSequence(name=seq.name, category=seq.resolve().parent.name, path=seq,
                               files=files, numbers=numbers, roi=roi, temporal_roi=temporal,
                               shape=shape, warnings=warnings)


# --------------------------------------------------------------------------- evaluation
@dataclass
class SequenceResult:
    """CDnet score of one video.

    Attributes
    ----------
    name, category : str
    counts : numpy.ndarray
        Summed ``[tp, fp, fn, tn]``.
    metrics : dict
        :func:`metrics_from_counts` of ``counts``.
    per_frame : list[tuple[int, float]]
        ``(frame number, F of that frame alone)``.
    warnings : list[str]
        Ground-truth repairs (see :func:`load_gt_sequence`).
    frame_counts : list[numpy.ndarray]
        ``[tp, fp, fn, tn]`` of each frame of ``per_frame``, in the same order.
    """

    name: str
    category: str
    counts: np.ndarray
    metrics: dict
    per_frame: list
    warnings: list = field(default_factory=list)
    frame_counts: list = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return len(self.per_frame)

    def frame_rows(self) -> list[dict]:
        """``frame, tp, fp, fn, tn, f_measure`` of each evaluated frame (F of the frame on its
        own, NaN when neither the ground truth nor the prediction has foreground)."""
        return [{"frame": n, "tp": int(c[0]), "fp": int(c[1]), "fn": int(c[2]), "tn": int(c[3]), "f_measure": f}
                for (n, f), c in zip(self.per_frame, self.frame_counts)]


def read_prediction(path: Path) -> np.ndarray:
    """Read a binary prediction image (``IMREAD_UNCHANGED``; first channel of colour)."""
    from classicseg.io.images import check_image_header

    check_image_header(path, "prediction", EvalError)
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise EvalError(f"cannot read prediction {path}")
    if img.ndim == 3:
        img = img[:, :, 0]
    return img


def _index_predictions(pred_dir: Path) -> dict[int, Path]:
    if not pred_dir.is_dir():
        raise EvalError(f"prediction folder {pred_dir} does not exist")
    preds = index_images(pred_dir, "predictions")
    if not preds:
        raise EvalError(f"prediction folder {pred_dir} holds no numbered image files")
    return preds


def evaluate_sequence(pred_dir, seq_dir) -> SequenceResult:
    """Score a folder of binary predictions against one CDnet-layout sequence.

    Parameters
    ----------
    pred_dir : path-like
        Image files indexed by the trailing integer of their stem (``bin000123.png`` for
        ``in000123.jpg``, ``000123.png``, ``frame_12.png``). Foreground = 255.
    seq_dir : path-like
        Sequence folder (see :func:`load_gt_sequence`).

    Returns
    -------
    SequenceResult

    Raises
    ------
    EvalError
        Missing or empty prediction folder, evaluated frames without prediction, size
        mismatch, unreadable file.

    References
    ----------
    Goyette et al., CVPRW 2012; Wang et al., CVPRW 2014.
    """
    gts = load_gt_sequence(seq_dir)
    pred_dir = Path(pred_dir)
    preds = _index_predictions(pred_dir)
    missing = [n for n in gts.numbers if n not in preds]
    if missing:
        raise EvalError(f"{len(missing)} of {len(gts.numbers)} evaluated frames of {gts.name} have no "
                        f"prediction in {pred_dir} (first: frame {missing[0]}, "
                        f"ground truth {gts.files[missing[0]].name})")
    acc = CDnetAccumulator()
    for n, gt in gts:
        pred = read_prediction(preds[n])
        if pred.shape != gt.shape:
            raise EvalError(f"prediction {preds[n].name} is {_size(pred.shape)} but ground truth "
                            f"{gts.files[n].name} is {_size(gt.shape)}")
        acc.update(pred, gt, gts.roi, frame=n)
    per_frame = list(zip(acc.frames, acc.per_frame_f()))
    return SequenceResult(name=gts.name, category=gts.category, counts=acc.counts,
                          metrics=acc.compute(), per_frame=per_frame, warnings=list(gts.warnings),
                          frame_counts=list(acc.frame_counts))


def _mean_metrics(dicts: list[dict]) -> dict:
    return {k: float(np.mean([d[k] for d in dicts])) for k in METRIC_NAMES}


@dataclass
class DatasetResult:
    """CDnet scores of several videos.

    Attributes
    ----------
    videos : list[SequenceResult]
    categories : dict[str, dict]
        Category name -> mean of its videos' metrics.
    overall : dict
        Mean of the categories' metrics.
    skipped : list[str]
        ``category/video`` of the sequences of the ground truth left out for lack of a
        prediction folder (the pooled rows are over the others).
    """

    videos: list
    categories: dict
    overall: dict
    skipped: list = field(default_factory=list)

    @classmethod
    def from_videos(cls, videos: list, skipped: list | None = None) -> "DatasetResult":
        """Pool per-video results as CDnet does: the mean of each category's videos, then
        the mean of the categories (each result's ``category`` says where it belongs)."""
        categories = {cat: _mean_metrics([v.metrics for v in videos if v.category == cat])
                      for cat in dict.fromkeys(v.category for v in videos)}
        return cls(videos=list(videos), categories=categories, overall=_mean_metrics(list(categories.values())),
                   skipped=list(skipped or []))

    def frame_rows(self) -> list[dict]:
        """Per-frame counts and F of every video (:meth:`SequenceResult.frame_rows`), each row
        starting with ``sequence`` (``category/video``)."""
        return [{"sequence": f"{v.category}/{v.name}", **r} for v in self.videos for r in v.frame_rows()]

    def table(self) -> list[dict]:
        """Rows for printing: one per video, one per category, then the overall row.

        Each row has ``level`` ('video', 'category', 'overall'), ``category``, ``name``,
        ``frames``, the counts (videos only) and the seven metrics.
        """
        rows = []
        for v in self.videos:
            tp, fp, fn, tn = (int(x) for x in v.counts)
            rows.append({"level": "video", "category": v.category, "name": v.name,
                         "frames": v.n_frames, "tp": tp, "fp": fp, "fn": fn, "tn": tn, **v.metrics})
        for cat, m in self.categories.items():
            vids = [v for v in self.videos if v.category == cat]
            rows.append({"level": "category", "category": cat, "name": cat,
                         "frames": sum(v.n_frames for v in vids), **m})
        rows.append({"level": "overall", "category": "", "name": "overall",
                     "frames": sum(v.n_frames for v in self.videos), **self.overall})
        return rows


def _is_seq(d: Path) -> bool:
    return (d / "groundtruth").is_dir()


def _subdirs(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_dir())


def evaluate_dataset(pred_root, gt_root, sequences: list[str] | None = None) -> DatasetResult:
    """Score predictions for a sequence, a category or a whole CDnet-layout dataset.

    Parameters
    ----------
    pred_root : path-like
        Mirrors ``gt_root``: ``pred_root/<category>/<video>/`` for a dataset root,
        ``pred_root/<video>/`` for a category folder, ``pred_root`` itself for one sequence.
    gt_root : path-like
        A sequence folder (has ``groundtruth/``), a category folder (its sub-folders are
        sequences) or a dataset root (``<category>/<video>/groundtruth``).
    sequences : list of str, optional
        Score only these (``category/video`` or ``video``). By default every sequence
        with a prediction folder is scored and the others are listed in
        ``DatasetResult.skipped``.

    Returns
    -------
    DatasetResult
        Per-video results, per-category means of the video metrics and the mean of the
        categories (the CDnet 2014 overall score), over the sequences scored.

    References
    ----------
    Wang et al., CVPRW 2014 (category and overall averaging).
    """
    from classicseg.metrics.selection import Candidate, choose_sequences

    gt_root, pred_root = Path(gt_root), Path(pred_root)
    if not gt_root.is_dir():
        raise EvalError(f"ground-truth folder {gt_root} does not exist")
    pairs: list[tuple[Path, Path, str]] = []        # (pred dir, seq dir, category)
    if _is_seq(gt_root):
        pairs.append((pred_root, gt_root, gt_root.resolve().parent.name))
    else:
        seqs = [d for d in _subdirs(gt_root) if _is_seq(d)]
        if seqs:
            pairs += [(pred_root / s.name, s, gt_root.resolve().name) for s in seqs]
        else:
            for cat in _subdirs(gt_root):
                pairs += [(pred_root / cat.name / s.name, s, cat.name)
                          for s in _subdirs(cat) if _is_seq(s)]
    if not pairs:
        raise EvalError(f"no ground truth under {gt_root} (expected groundtruth/, "
                        "<video>/groundtruth/ or <category>/<video>/groundtruth/)")
    scored, skipped = choose_sequences(
        [Candidate(f"{cat}/{seq.name}", pred_dir, (seq, cat), (seq.name,)) for pred_dir, seq, cat in pairs],
        sequences)
    videos = []
    for c in scored:
        seq, cat = c.item
        res = evaluate_sequence(c.pred, seq)
        res.category = cat
        videos.append(res)
    return DatasetResult.from_videos(videos, [c.name for c in skipped])
