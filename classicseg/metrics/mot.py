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
* HOTA (Luiten et al. 2021): per frame, one assignment maximising IoU times the
  global alignment of the two identities; at each localisation threshold alpha in
  0.05, 0.10, ..., 0.95 a pair with IoU >= alpha is a true positive, DetA =
  TP / (TP + FN + FP), AssA = the mean over true positives of their identity pair's
  track-level Jaccard, HOTA = sqrt(DetA AssA), LocA = their mean IoU; each is reported
  as its mean over the 19 thresholds.

References
----------
K. Bernardin, R. Stiefelhagen, "Evaluating multiple object tracking performance: the
CLEAR MOT metrics", EURASIP JIVP 2008.
E. Ristani, F. Solera, R. Zou, R. Cucchiara, C. Tomasi, "Performance measures and a data
set for multi-target, multi-camera tracking", ECCV Workshops 2016.
J. Luiten, A. Osep, P. Dendorfer, P. Torr, A. Geiger, L. Leal-Taixe, B. Leibe, "HOTA: A
Higher Order Metric for Evaluating Multi-object Tracking", IJCV 129, 2021.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
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


#: The localisation thresholds HOTA averages over (TrackEval's ``np.arange(0.05, 0.99, 0.05)``).
HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)


@dataclass
class MOTResult:
    """CLEAR MOT, identity and HOTA scores of one sequence.

    ``hota``, ``deta``, ``assa``, ``loca`` (and the recall/precision parts ``detre``,
    ``detpr``, ``assre``, ``asspr``) are means over :data:`HOTA_ALPHAS`. ``first_frame`` /
    ``last_frame`` bound the frames scored; ``per_frame`` holds one row per frame (see
    :meth:`frame_rows`) and is left out of :meth:`to_dict`.
    """

    mota: float
    idf1: float
    hota: float
    deta: float
    assa: float
    loca: float
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
    detre: float
    detpr: float
    assre: float
    asspr: float
    frames: int
    first_frame: int | None = None
    last_frame: int | None = None
    per_frame: list = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("per_frame")
        return d

    def frame_rows(self) -> list[dict]:
        """``frame, gt, predictions, matches, misses, false_positives, id_switches`` per frame
        (CLEAR MOT's per-frame events; their sums are the sequence's counts)."""
        keys = ("frame", "gt", "predictions", "matches", "misses", "false_positives", "id_switches")
        return [dict(zip(keys, r)) for r in self.per_frame]


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def restrict(track: Track, first: int | None = None, last: int | None = None) -> Track:
    """The rows of ``track`` whose frame lies in ``first..last`` (inclusive; None = open)."""
    keep = {f: v for f, v in track.frames.items()
            if (first is None or f >= first) and (last is None or f <= last)}
    return Track(keep, sum(len(ids) for ids, _ in keep.values()))


def _hota(steps, n_gt_ids: int, n_pr_ids: int) -> dict:
    """HOTA and its parts at every alpha of :data:`HOTA_ALPHAS`, as TrackEval computes them.

    ``steps``: per frame ``(gt indices, prediction indices, IoU matrix)``. Returns arrays
    (one value per alpha) under TrackEval's names.

    References
    ----------
    J. Luiten, A. Osep, P. Dendorfer, P. Torr, A. Geiger, L. Leal-Taixe, B. Leibe, "HOTA: A
    Higher Order Metric for Evaluating Multi-object Tracking", IJCV 129, 2021.
    """
    from scipy.optimize import linear_sum_assignment

    n_alpha = len(HOTA_ALPHAS)
    tp, fn, fp, loc = (np.zeros(n_alpha) for _ in range(4))
    n_gt = sum(len(g) for g, _, _ in steps)
    n_pr = sum(len(p) for _, p, _ in steps)
    if n_gt == 0 or n_pr == 0:     # nothing to match: HOTA 0, LocA 1 (TrackEval's convention)
        zero = np.zeros(n_alpha)
        return {"HOTA": zero, "DetA": zero, "AssA": zero, "LocA": np.ones(n_alpha), "DetRe": zero,
                "DetPr": zero, "AssRe": zero, "AssPr": zero, "HOTA_TP": zero, "HOTA_FN": zero + n_gt,
                "HOTA_FP": zero + n_pr}
    # 1. global alignment of every gt/prediction id pair: summed per-frame IoU-normalised overlap
    potential = np.zeros((n_gt_ids, n_pr_ids))
    gt_count = np.zeros((n_gt_ids, 1))
    pr_count = np.zeros((1, n_pr_ids))
    for gi, pi, sim in steps:
        denom = sim.sum(0)[np.newaxis, :] + sim.sum(1)[:, np.newaxis] - sim
        norm = np.zeros_like(sim)
        ok = denom > 0 + _EPS
        norm[ok] = sim[ok] / denom[ok]
        potential[gi[:, np.newaxis], pi[np.newaxis, :]] += norm
        gt_count[gi] += 1
        pr_count[0, pi] += 1
    alignment = potential / (gt_count + pr_count - potential)
    # 2. per frame, one assignment maximising alignment x IoU, then thresholded at each alpha
    matches = np.zeros((n_alpha, n_gt_ids, n_pr_ids))
    for gi, pi, sim in steps:
        if len(gi) == 0 or len(pi) == 0:
            fp += len(pi)
            fn += len(gi)
            continue
        rows, cols = linear_sum_assignment(-(alignment[gi[:, np.newaxis], pi[np.newaxis, :]] * sim))
        s = sim[rows, cols]
        hit = s[np.newaxis, :] >= HOTA_ALPHAS[:, np.newaxis] - _EPS          # (alpha, pair)
        n = hit.sum(axis=1)
        tp += n
        fn += len(gi) - n
        fp += len(pi) - n
        loc += np.where(hit, s[np.newaxis, :], 0.0).sum(axis=1)
        a, k = np.nonzero(hit)
        matches[a, gi[rows[k]], pi[cols[k]]] += 1
    # 3. association accuracy: each true positive weighted by its id pair's track-level Jaccard
    ass_a = (matches * (matches / np.maximum(1, gt_count + pr_count - matches))).sum(axis=(1, 2))
    ass_re = (matches * (matches / np.maximum(1, gt_count))).sum(axis=(1, 2))
    ass_pr = (matches * (matches / np.maximum(1, pr_count))).sum(axis=(1, 2))
    out = {"AssA": ass_a / np.maximum(1, tp), "AssRe": ass_re / np.maximum(1, tp),
           "AssPr": ass_pr / np.maximum(1, tp), "LocA": np.maximum(1e-10, loc) / np.maximum(1e-10, tp),
           "DetRe": tp / np.maximum(1, tp + fn), "DetPr": tp / np.maximum(1, tp + fp),
           "DetA": tp / np.maximum(1, tp + fn + fp), "HOTA_TP": tp, "HOTA_FN": fn, "HOTA_FP": fp}
    out["HOTA"] = np.sqrt(out["DetA"] * out["AssA"])
    return out


def evaluate(gt, pred, iou: float = 0.5, frames: tuple[int | None, int | None] | None = None) -> MOTResult:
    """Score a hypothesis file (or :class:`Track`) against a ground-truth file.

    Parameters
    ----------
    gt, pred : path-like or Track
        MOTChallenge CSV files; ground-truth rows with flag 0 are ignored.
    iou : float
        Overlap a pair needs to count as a match (CLEAR MOT and IDF1; HOTA averages over
        :data:`HOTA_ALPHAS` instead).
    frames : (first, last), optional
        Score only these frames (inclusive, 1-based; None = open end), e.g. the frames a
        run covered (:func:`scored_range`).

    References
    ----------
    Bernardin & Stiefelhagen 2008 (CLEAR MOT); Ristani et al. 2016 (IDF1); Luiten et al.,
    IJCV 2021 (HOTA).
    """
    from scipy.optimize import linear_sum_assignment

    gt_t = gt if isinstance(gt, Track) else read_mot(gt, "ground-truth", ignore_zero_flag=True)
    pr_t = pred if isinstance(pred, Track) else read_mot(pred, "tracks")
    if frames is not None:
        gt_t, pr_t = restrict(gt_t, *frames), restrict(pr_t, *frames)
    gt_ids = sorted({int(i) for ids, _ in gt_t.frames.values() for i in ids})
    pr_ids = sorted({int(i) for ids, _ in pr_t.frames.values() for i in ids})
    gidx = {v: k for k, v in enumerate(gt_ids)}
    pidx = {v: k for k, v in enumerate(pr_ids)}
    empty = (np.zeros(0, np.int64), np.zeros((0, 4)))
    numbers = sorted(set(gt_t.frames) | set(pr_t.frames))

    tp = fp = fn = idsw = 0
    last_match = np.full(len(gt_ids), -1, np.int64)  # each object's last match ever (for ID switches)
    prev_step = np.full(len(gt_ids), -1, np.int64)  # its match in the previous scored frame (preferred)
    co = np.zeros((len(gt_ids), len(pr_ids)), np.int64)  # frames with IoU >= iou, per pair
    gt_count = np.zeros(len(gt_ids), np.int64)
    pr_count = np.zeros(len(pr_ids), np.int64)
    steps, per_frame = [], []
    for f in numbers:
        g_ids, g_box = gt_t.frames.get(f, empty)
        p_ids, p_box = pr_t.frames.get(f, empty)
        gi = np.array([gidx[int(i)] for i in g_ids], np.int64)
        pi = np.array([pidx[int(i)] for i in p_ids], np.int64)
        sim = box_iou(g_box, p_box)
        steps.append((gi, pi, sim))
        gt_count[gi] += 1
        pr_count[pi] += 1
        if len(gi) == 0 or len(pi) == 0:
            fn += len(gi)
            fp += len(pi)
            per_frame.append((f, len(gi), len(pi), 0, len(gi), len(pi), 0))
            continue
        ok = sim >= iou - _EPS
        co[np.ix_(gi, pi)] += ok
        continuing = prev_step[gi][:, None] == pi[None, :]
        score = np.where(ok, sim + 1000.0 * continuing, 0.0)
        rows, cols = linear_sum_assignment(-score)
        keep = score[rows, cols] > 0
        rows, cols = rows[keep], cols[keep]
        matched_g, matched_p = gi[rows], pi[cols]
        prev = last_match[matched_g]
        switches = int(np.sum((prev >= 0) & (prev != matched_p)))
        idsw += switches
        last_match[matched_g] = matched_p
        prev_step[:] = -1
        prev_step[matched_g] = matched_p
        tp += len(rows)
        fn += len(gi) - len(rows)
        fp += len(pi) - len(rows)
        per_frame.append((f, len(gi), len(pi), len(rows), len(gi) - len(rows), len(pi) - len(rows), switches))

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
    h = {k: float(np.mean(v)) for k, v in _hota(steps, ng, npd).items()}
    return MOTResult(
        mota=1.0 - _ratio(fn + fp + idsw, n_gt) if n_gt else 0.0,
        idf1=_ratio(2 * idtp, n_gt + n_pr),
        hota=h["HOTA"], deta=h["DetA"], assa=h["AssA"], loca=h["LocA"],
        id_switches=idsw, false_positives=fp, misses=fn, matches=tp, gt=n_gt, predictions=n_pr,
        precision=_ratio(tp, tp + fp), recall=_ratio(tp, n_gt), idtp=idtp,
        idp=_ratio(idtp, n_pr), idr=_ratio(idtp, n_gt),
        detre=h["DetRe"], detpr=h["DetPr"], assre=h["AssRe"], asspr=h["AssPr"], frames=len(numbers),
        first_frame=numbers[0] if numbers else None, last_frame=numbers[-1] if numbers else None,
        per_frame=per_frame,
    )


def scored_range(gt: Track, pred: Track, run_frames: int | None = None,
                 frames: tuple[int | None, int | None] | None = None) -> tuple[tuple[int, int] | None, str]:
    """Which frames to score, and why, for a run that may have covered only part of a sequence.

    Parameters
    ----------
    gt, pred : Track
    run_frames : int, optional
        How many frames the run processed from frame 1 (``run.json``'s ``frames``).
    frames : (first, last), optional
        The user's choice (``--frames A:B``); wins over everything else.

    Returns
    -------
    range, reason : (first, last) or None, str
        ``None`` scores every frame. ``reason`` says in words where the range came from
        (empty when every ground-truth frame is scored).
    """
    gt_frames = sorted(gt.frames)
    if frames is not None:
        first = frames[0] if frames[0] is not None else 1
        last = frames[1] if frames[1] is not None else max(gt_frames + sorted(pred.frames), default=first)
        return (first, last), "--frames"
    if run_frames:
        first, last, why = 1, int(run_frames), "the frames the run processed, from its run.json"
    elif pred.frames:
        first, last, why = 1, max(pred.frames), "up to the last frame with a track"
    else:
        return None, ""
    if not gt_frames or (gt_frames[0] >= first and gt_frames[-1] <= last):
        return None, ""
    return (first, last), why


def find_gt_file(gt) -> Path:
    """``gt.txt`` itself, or a MOTChallenge sequence folder holding ``gt/gt.txt``."""
    p = Path(gt)
    if p.is_dir():
        p = p / "gt" / "gt.txt"
    if not p.is_file():
        raise EvalError(f"ground-truth file not found: {p}")
    return p
