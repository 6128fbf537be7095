"""Multi-object tracking scores: CLEAR MOT (MOTA) and the identity measures (IDF1).

Follows the MOTChallenge rules as TrackEval computes them (Luiten & Hoffhues 2020), so
that numbers agree with it to the last digit:

* Boxes are ``(left, top, width, height)`` in pixels; a ground-truth row whose flag
  (column 7) is 0 is ignored. Frames are 1-based.
* Per frame, ground truth and hypotheses are matched by the Hungarian algorithm on
  IoU, pairs below ``iou`` (0.5) excluded, a pair that continues the previous match
  of that ground-truth object preferred. Unmatched ground truth is a miss (FN),
  an unmatched hypothesis a false positive; a ground-truth object matched to another
  identity than at its last match is an ID switch.
  MOTA = 1 - (FN + FP + IDSW) / GT.
* IDF1: one global one-to-one assignment of ground-truth trajectories to hypothesis
  trajectories that maximises the frames where both are present with IoU >= ``iou``
  (IDTP); IDF1 = 2 IDTP / (GT + hypotheses) (Ristani et al. 2016).

References
----------
K. Bernardin, R. Stiefelhagen, "Evaluating multiple object tracking performance: the
CLEAR MOT metrics", EURASIP JIVP 2008.
E. Ristani, F. Solera, R. Zou, R. Cucchiara, C. Tomasi, "Performance measures and a data
set for multi-target, multi-camera tracking", ECCV Workshops 2016.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from classicseg.errors import EvalError
from classicseg.geometry import box_iou

_EPS = np.finfo(float).eps


@dataclass
class Track:
    """The rows of a MOT file grouped by frame: ``frames[f] = (ids, boxes)``."""

    frames: dict[int, tuple[np.ndarray, np.ndarray]]
    n_rows: int


#: Largest frame number or track id read from a MOT file (a year of 30 frames/s is 1e9).
_MAX_FRAME = 10**10


def read_mot(path, what: str = "tracks", ignore_zero_flag: bool = False) -> Track:
    """Read a MOTChallenge CSV (``frame, id, left, top, width, height, conf/flag, ...``).

    Raises
    ------
    EvalError
        Missing file, or a malformed line (named with its number).
    """
    path = Path(path)
    if not path.is_file():
        raise EvalError(f"{what} file not found: {path}")
    rows: dict[int, list] = {}
    n = 0
    lineno = 0
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                line = line.strip()
                if not line:
                    continue
                parts = line.replace(" ", "").split(",")
                try:
                    if len(parts) < 6:
                        raise ValueError(f"{len(parts)} fields")
                    frame, tid = int(float(parts[0])), int(float(parts[1]))
                    box = [float(v) for v in parts[2:6]]
                    flag = float(parts[6]) if len(parts) > 6 else 1.0
                except (ValueError, OverflowError) as exc:  # OverflowError: int(inf) from '1e400'
                    raise EvalError(f"{path.name} line {lineno}: malformed MOT row ({exc}): {line[:60]!r}") from None
                if not all(math.isfinite(v) for v in box):
                    raise EvalError(f"{path.name} line {lineno}: box values must be finite numbers, got "
                                    f"{', '.join(parts[2:6])[:60]}")
                if frame < 1 or frame > _MAX_FRAME:
                    raise EvalError(f"{path.name} line {lineno}: frame numbers are 1-based (up to {_MAX_FRAME}), "
                                    f"got {frame}")
                if abs(tid) > _MAX_FRAME:
                    raise EvalError(f"{path.name} line {lineno}: track id {tid} is out of range")
                if box[2] < 0 or box[3] < 0:
                    raise EvalError(f"{path.name} line {lineno}: negative box size {box[2]:g}x{box[3]:g}")
                if ignore_zero_flag and flag == 0:
                    continue
                rows.setdefault(frame, []).append((tid, box))
                n += 1
    except UnicodeDecodeError:
        raise EvalError(f"{path.name} line {lineno + 1}: not UTF-8 text (a binary file?)") from None
    except OSError as exc:
        raise EvalError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    frames = {}
    for fr, items in rows.items():
        ids = np.array([t for t, _ in items], dtype=np.int64)
        if len(np.unique(ids)) != len(ids):
            raise EvalError(f"{path.name}: frame {fr} has the same id twice")
        frames[fr] = (ids, np.array([b for _, b in items], dtype=np.float64).reshape(-1, 4))
    return Track(frames, n)


@dataclass
class MOTResult:
    """CLEAR MOT and identity scores of one sequence."""

    mota: float
    idf1: float
    id_switches: int
    false_positives: int
    misses: int
    matches: int
    gt: int
    predictions: int
    precision: float
    recall: float
    idtp: int
    idp: float
    idr: float
    frames: int

    def to_dict(self) -> dict:
        return asdict(self)


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def evaluate(gt, pred, iou: float = 0.5) -> MOTResult:
    """Score a hypothesis file (or :class:`Track`) against a ground-truth file.

    Parameters
    ----------
    gt, pred : path-like or Track
        MOTChallenge CSV files; ground-truth rows with flag 0 are ignored.
    iou : float
        Overlap a pair needs to count as a match.
    """
    from scipy.optimize import linear_sum_assignment

    gt_t = gt if isinstance(gt, Track) else read_mot(gt, "ground-truth", ignore_zero_flag=True)
    pr_t = pred if isinstance(pred, Track) else read_mot(pred, "tracks")
    gt_ids = sorted({int(i) for ids, _ in gt_t.frames.values() for i in ids})
    pr_ids = sorted({int(i) for ids, _ in pr_t.frames.values() for i in ids})
    gidx = {v: k for k, v in enumerate(gt_ids)}
    pidx = {v: k for k, v in enumerate(pr_ids)}
    empty = (np.zeros(0, np.int64), np.zeros((0, 4)))
    frames = sorted(set(gt_t.frames) | set(pr_t.frames))

    tp = fp = fn = idsw = 0
    last_match = np.full(len(gt_ids), -1, np.int64)  # each object's last match ever (for ID switches)
    prev_step = np.full(len(gt_ids), -1, np.int64)  # its match in the previous scored frame (preferred)
    co = np.zeros((len(gt_ids), len(pr_ids)), np.int64)  # frames with IoU >= iou, per pair
    gt_count = np.zeros(len(gt_ids), np.int64)
    pr_count = np.zeros(len(pr_ids), np.int64)
    for f in frames:
        g_ids, g_box = gt_t.frames.get(f, empty)
        p_ids, p_box = pr_t.frames.get(f, empty)
        gi = np.array([gidx[int(i)] for i in g_ids], np.int64)
        pi = np.array([pidx[int(i)] for i in p_ids], np.int64)
        gt_count[gi] += 1
        pr_count[pi] += 1
        if len(gi) == 0 or len(pi) == 0:
            fn += len(gi)
            fp += len(pi)
            continue
        sim = box_iou(g_box, p_box)
        ok = sim >= iou - _EPS
        co[np.ix_(gi, pi)] += ok
        continuing = prev_step[gi][:, None] == pi[None, :]
        score = np.where(ok, sim + 1000.0 * continuing, 0.0)
        rows, cols = linear_sum_assignment(-score)
        keep = score[rows, cols] > 0
        rows, cols = rows[keep], cols[keep]
        matched_g, matched_p = gi[rows], pi[cols]
        prev = last_match[matched_g]
        idsw += int(np.sum((prev >= 0) & (prev != matched_p)))
        last_match[matched_g] = matched_p
        prev_step[:] = -1
        prev_step[matched_g] = matched_p
        tp += len(rows)
        fn += len(gi) - len(rows)
        fp += len(pi) - len(rows)

    n_gt, n_pr = int(gt_count.sum()), int(pr_count.sum())
    # IDF1: global assignment with a dummy partner for every trajectory
    ng, npd = len(gt_ids), len(pr_ids)
    if ng and npd:
        cost = np.zeros((ng + npd, npd + ng))
        cost[:ng, :npd] = gt_count[:, None] + pr_count[None, :] - 2 * co
        cost[:ng, npd:] = np.where(np.eye(ng, dtype=bool), gt_count[:, None], 1e12)
        cost[ng:, :npd] = np.where(np.eye(npd, dtype=bool), pr_count[None, :], 1e12)
        r, c = linear_sum_assignment(cost)
        real = (r < ng) & (c < npd)
        idtp = int(co[r[real], c[real]].sum())
    else:
        idtp = 0
    return MOTResult(
        mota=1.0 - _ratio(fn + fp + idsw, n_gt) if n_gt else 0.0,
        idf1=_ratio(2 * idtp, n_gt + n_pr),
        id_switches=idsw, false_positives=fp, misses=fn, matches=tp, gt=n_gt, predictions=n_pr,
        precision=_ratio(tp, tp + fp), recall=_ratio(tp, n_gt), idtp=idtp,
        idp=_ratio(idtp, n_pr), idr=_ratio(idtp, n_gt), frames=len(frames),
    )


def find_gt_file(gt) -> Path:
    """``gt.txt`` itself, or a MOTChallenge sequence folder holding ``gt/gt.txt``."""
    p = Path(gt)
    if p.is_dir():
        p = p / "gt" / "gt.txt"
    if not p.is_file():
        raise EvalError(f"ground-truth file not found: {p}")
    return p
