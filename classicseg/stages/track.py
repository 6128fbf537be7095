"""Identity tracking of blobs or detections across frames (``track.hungarian``).

The tracker follows the tracking-by-detection recipe of SORT and ByteTrack: a
constant-velocity Kalman filter predicts each track's box; detections are assigned by
the Hungarian algorithm on a cost that mixes box overlap, centroid distance and
appearance (an HSV colour histogram); confident detections are assigned first, then weak
ones (scored detections below ``high_score``) may only continue existing tracks; a new
track is reported after ``min_hits`` matches and ends after ``max_missed`` misses. With
``delay`` > 0 the stage holds that many frames back, which lets it report a track from
its first detection once it is confirmed and fill short gaps by linear interpolation.
(HOG people detection, ``detect.people``, lives in :mod:`classicseg.stages.detect`.)
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import Field

from classicseg.errors import ClassicsegError
from classicseg.geometry import box_iou
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.stages.detect import Detection, PeopleDetector, non_max_suppression  # noqa: F401 (re-exported)
from classicseg.types import Sample

_BIG = 1e6


def colour_histogram(image: np.ndarray, box, bins: int = 16) -> np.ndarray:
    """Normalised hue-saturation histogram of ``image`` inside ``box = (x, y, w, h)``."""
    x, y, w, h = (int(round(v)) for v in box)
    H, W = image.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return np.full((bins, bins), 1.0 / bins**2, np.float32)
    hsv = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [bins, bins], [0, 180, 0, 256])
    total = float(hist.sum())
    return hist / total if total else hist


def appearance_distance(h1: np.ndarray, h2: np.ndarray) -> float:
    """Bhattacharyya distance of two normalised histograms (0 same, 1 disjoint)."""
    return float(cv2.compareHist(h1, h2, cv2.HISTCMP_BHATTACHARYYA))


class BoxKalman:
    """Constant-velocity Kalman filter on a box's centre, width and height.

    State ``(cx, cy, w, h, vx, vy, vw, vh)``; the noise scales with the box height, as
    in DeepSORT (Wojke et al. 2017), so that near and far people are treated alike.
    """

    _F = np.eye(8) + np.eye(8, k=4)
    _H = np.eye(4, 8)

    def __init__(self, box, pos_std: float = 1 / 20, vel_std: float = 1 / 160) -> None:
        self.pos_std, self.vel_std = pos_std, vel_std
        z = _to_z(box)
        self.x = np.r_[z, np.zeros(4)]
        h = z[3]
        std = np.r_[2 * pos_std * h, 2 * pos_std * h, 2 * pos_std * h, 2 * pos_std * h,
                    10 * vel_std * h, 10 * vel_std * h, 10 * vel_std * h, 10 * vel_std * h]
        self.P = np.diag(std**2)

    def predict(self) -> None:
        h = max(self.x[3], 1.0)
        q = np.r_[np.full(4, self.pos_std * h), np.full(4, self.vel_std * h)] ** 2
        self.x = self._F @ self.x
        self.P = self._F @ self.P @ self._F.T + np.diag(q)

    def update(self, box) -> None:
        z = _to_z(box)
        r = np.full(4, self.pos_std * max(self.x[3], 1.0)) ** 2
        S = self._H @ self.P @ self._H.T + np.diag(r)
        K = self.P @ self._H.T @ np.linalg.inv(S)
        self.x = self.x + K @ (z - self._H @ self.x)
        self.P = (np.eye(8) - K @ self._H) @ self.P

    @property
    def box(self) -> np.ndarray:
        cx, cy, w, h = self.x[:4]
        w, h = max(w, 1.0), max(h, 1.0)
        return np.array([cx - w / 2, cy - h / 2, w, h])


def _to_z(box) -> np.ndarray:
    x, y, w, h = (float(v) for v in box)
    return np.array([x + w / 2, y + h / 2, w, h])


@dataclass
class Track:
    """One identity: its Kalman filter, appearance and bookkeeping."""

    id: int
    kf: BoxKalman
    hist: np.ndarray | None
    hits: int = 1
    missed: int = 0
    confirmed: bool = False
    last: tuple[int, np.ndarray] | None = None  # (frame index, box) of the last match
    history: list = field(default_factory=list)  # (frame index, box) while tentative

    @property
    def box(self) -> np.ndarray:
        return self.kf.box

    def predicted(self) -> np.ndarray:
        return self.kf.box


def assignment_costs(tracks: list[Track], boxes: np.ndarray, hists: list, diag: float,
                     w_iou: float, w_dist: float, w_app: float, max_dist: float) -> np.ndarray:
    """Cost of giving each detection (columns) to each track (rows); gated pairs cost ``_BIG``.

    ``w_iou (1 - IoU) + w_dist d / diag + w_app Bhattacharyya``, where ``d`` is the
    centroid distance; a pair that neither overlaps nor lies within ``max_dist`` of the
    diagonal is gated out.
    """
    if not tracks or len(boxes) == 0:
        return np.zeros((len(tracks), len(boxes)))
    pred = np.array([t.predicted() for t in tracks])
    iou = box_iou(pred, boxes)
    pc = pred[:, :2] + pred[:, 2:] / 2
    dc = boxes[:, :2] + boxes[:, 2:] / 2
    dist = np.linalg.norm(pc[:, None] - dc[None], axis=2) / diag
    cost = w_iou * (1 - iou) + w_dist * dist
    if w_app:
        cost = cost + w_app * np.array([[appearance_distance(t.hist, h) if t.hist is not None and h is not None
                                         else 0.0 for h in hists] for t in tracks])
    return np.where((iou > 0) | (dist <= max_dist), cost, _BIG)


def _assign(cost: np.ndarray, max_cost: float) -> list[tuple[int, int]]:
    if cost.size == 0:
        return []
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] <= max_cost]


class TrackParams(Params):
    w_iou: float = Field(1.0, ge=0, le=100, description="weight of 1 - IoU(predicted box, detection)")
    w_dist: float = Field(1.0, ge=0, le=100, description="weight of the centroid distance (fraction of the diagonal)")
    w_app: float = Field(0.5, ge=0, le=100, description="weight of the colour-histogram (Bhattacharyya) distance")
    max_cost: float = Field(1.2, gt=0, le=1000, description="pairs costing more stay unmatched")
    max_dist: float = Field(0.1, gt=0, le=1, description="gate: centroid distance (fraction of the diagonal)")
    max_missed: int = Field(10, ge=0, le=100_000, description="frames a track coasts unmatched before it ends")
    min_hits: int = Field(3, ge=1, le=10_000, description="matches before a new track is reported")
    hist_bins: int = Field(16, ge=2, le=64, description="hue and saturation bins of the appearance model")
    high_score: float | None = Field(None, ge=-10, le=10,
                                     description="detections scoring less only continue tracks (ByteTrack); blobs "
                                                 "without a score count as confident (None: every detection may "
                                                 "start a track)")
    low_iou: float = Field(0.3, ge=0, le=1, description="IoU a weak detection needs with a track's prediction")
    tentative_missed: int = Field(0, ge=0, le=10_000, description="misses that end a track not yet confirmed")
    delay: int = Field(0, ge=0, le=100, description="frames held back to report confirmed tracks from their first "
                                                    "match and interpolate gaps up to this long (adds latency)")


@register
class HungarianTracker(Stage):
    """Persistent identities for blobs: Kalman prediction, Hungarian assignment on overlap, distance and colour."""

    name = "track.hungarian"
    Params = TrackParams
    requires = ("blobs",)
    provides = ("tracks",)
    cite = ("H. W. Kuhn, The Hungarian method for the assignment problem, 1955; A. Bewley et al., SORT, ICIP 2016; "
            "Y. Zhang et al., ByteTrack, ECCV 2022")

    @property
    def latency(self) -> int:  # type: ignore[override]
        return self.params.delay

    def reset(self) -> None:
        self.tracks: list[Track] = []
        self.next_id = 1
        self.pending: deque[Sample] = deque()
        self.out: dict[int, dict[int, tuple]] = {}  # frame index -> {track id: box} not yet emitted

    # -- the per-frame update ----------------------------------------------------------
    def _update(self, sample: Sample) -> None:
        p = self.params
        blobs = sample["blobs"]
        f = sample.index
        self.out.setdefault(f, {})
        boxes = np.array([[b.x, b.y, b.w, b.h] for b in blobs], np.float64).reshape(-1, 4)
        if len(boxes) and (boxes[:, 2:] <= 0).any():
            raise ClassicsegError(f"track.hungarian: frame {f}: a blob has a non-positive width or height")
        scores = np.array([getattr(b, "score", np.inf) for b in blobs], np.float64)
        hists = [colour_histogram(sample.image, b, p.hist_bins) for b in boxes] if p.w_app else [None] * len(boxes)
        h, w = sample.shape
        diag = float(np.hypot(h, w))
        for t in self.tracks:
            t.kf.predict()
        strong = scores >= p.high_score if p.high_score is not None else np.ones(len(scores), bool)
        high, low = np.flatnonzero(strong), np.flatnonzero(~strong)
        # 1. confident detections against every track
        cost = assignment_costs(self.tracks, boxes[high], [hists[i] for i in high], diag,
                                p.w_iou, p.w_dist, p.w_app, p.max_dist)
        matched_t, matched_d = set(), set()
        for r, c in _assign(cost, p.max_cost):
            self._match(self.tracks[r], boxes[high[c]], hists[high[c]], f)
            matched_t.add(r)
            matched_d.add(int(high[c]))
        # 2. weak detections may continue the tracks left over (overlap only)
        rest = [i for i in range(len(self.tracks)) if i not in matched_t]
        if rest and len(low):
            iou = box_iou(np.array([self.tracks[i].predicted() for i in rest]), boxes[low])
            for r, c in _assign(np.where(iou >= p.low_iou, 1 - iou, _BIG), 1.0):
                self._match(self.tracks[rest[r]], boxes[low[c]], hists[low[c]], f)
                matched_t.add(rest[r])
        for i, t in enumerate(self.tracks):
            if i not in matched_t:
                t.missed += 1
        self.tracks = [t for t in self.tracks
                       if t.missed <= (p.max_missed if t.confirmed else p.tentative_missed)]
        # 3. confident detections left over start tentative tracks
        for c in high:
            if int(c) not in matched_d:
                t = Track(self.next_id, BoxKalman(boxes[c]), hists[c], confirmed=p.min_hits <= 1,
                          last=(f, boxes[c].copy()))
                self.next_id += 1
                self.tracks.append(t)
                self._report(t, f, boxes[c])

    def _match(self, t: Track, box: np.ndarray, hist, f: int) -> None:
        t.kf.update(box)
        if hist is not None and t.hist is not None:
            t.hist = (0.8 * t.hist + 0.2 * hist).astype(np.float32)
        t.hits += 1
        was_confirmed = t.confirmed
        if t.hits >= self.params.min_hits:
            t.confirmed = True
        shown = box  # the detection's box: closer to the person than the filter's on a walking gait
        if t.confirmed and t.last is not None and t.missed:  # fill the gap it was missing in
            f0, b0 = t.last
            for k in range(f0 + 1, f):
                if k in self.out:
                    a = (k - f0) / (f - f0)
                    self.out[k][t.id] = tuple(float(v) for v in (1 - a) * b0 + a * shown)
        t.missed = 0
        t.last = (f, np.asarray(shown, np.float64).copy())
        if t.confirmed and not was_confirmed:  # report it from its first match, as far back as held
            for k, b in t.history:
                if k in self.out:
                    self.out[k][t.id] = tuple(float(v) for v in b)
            t.history = []
        self._report(t, f, shown)

    def _report(self, t: Track, f: int, box) -> None:
        if t.confirmed:
            self.out[f][t.id] = tuple(float(v) for v in box)
        elif self.params.delay:
            t.history.append((f, np.asarray(box, np.float64).copy()))
            del t.history[:-self.params.delay - 1]

    def _emit(self) -> Sample:
        s = self.pending.popleft()
        s["tracks"] = sorted(self.out.pop(s.index, {}).items())
        return s

    # -- the stage contract --------------------------------------------------------------
    def process(self, sample: Sample) -> Sample:
        self._update(sample)
        sample["tracks"] = sorted(self.out.pop(sample.index, {}).items())
        return sample

    def step(self, sample: Sample) -> list[Sample]:
        if not self.params.delay:
            return [self.process(sample)]
        self._update(sample)
        self.pending.append(sample)
        return [self._emit()] if len(self.pending) > self.params.delay else []

    def flush(self) -> list[Sample]:
        out = []
        while self.pending:
            out.append(self._emit())
        return out
