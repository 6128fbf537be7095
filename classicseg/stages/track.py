"""Identity tracking of blobs or detections across frames (``track.hungarian``) and
HOG people detection inside the foreground (``detect.people``).

The tracker follows the classic tracking-by-detection recipe: predict each track's box
with a constant-velocity model, build a cost matrix that mixes box overlap, centroid
distance and appearance (an HSV colour histogram), solve the assignment with the
Hungarian algorithm, gate implausible pairs, let unmatched tracks coast for a few frames
(short occlusions, crossings) and confirm new tracks only after a few hits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import Field

from classicseg.metrics.mot import box_iou
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.types import Blob, Sample

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


@dataclass
class Track:
    """One identity: its last box, velocity, appearance and bookkeeping."""

    id: int
    box: np.ndarray  # x, y, w, h (float)
    hist: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    hits: int = 1
    missed: int = 0
    confirmed: bool = False

    def predicted(self) -> np.ndarray:
        b = self.box.copy()
        b[:2] += self.velocity * (self.missed + 1)
        return b


def assignment_costs(tracks: list[Track], boxes: np.ndarray, hists: list[np.ndarray], diag: float,
                     w_iou: float, w_dist: float, w_app: float, max_dist: float) -> np.ndarray:
    """Cost of giving each detection (columns) to each track (rows); gated pairs cost ``_BIG``."""
    if not tracks or len(boxes) == 0:
        return np.zeros((len(tracks), len(boxes)))
    pred = np.array([t.predicted() for t in tracks])
    iou = box_iou(pred, boxes)
    pc = pred[:, :2] + pred[:, 2:] / 2
    dc = boxes[:, :2] + boxes[:, 2:] / 2
    dist = np.linalg.norm(pc[:, None] - dc[None], axis=2) / diag
    app = np.array([[appearance_distance(t.hist, h) for h in hists] for t in tracks]) if w_app else 0.0
    cost = w_iou * (1 - iou) + w_dist * dist + w_app * app
    return np.where((iou > 0) | (dist <= max_dist), cost, _BIG)


class TrackParams(Params):
    w_iou: float = Field(1.0, ge=0, description="weight of 1 - IoU(predicted box, detection)")
    w_dist: float = Field(1.0, ge=0, description="weight of the centroid distance (fraction of the diagonal)")
    w_app: float = Field(0.5, ge=0, description="weight of the colour-histogram (Bhattacharyya) distance")
    max_cost: float = Field(1.2, gt=0, description="pairs costing more stay unmatched")
    max_dist: float = Field(0.1, gt=0, le=1, description="gate: centroid distance (fraction of the diagonal)")
    max_missed: int = Field(10, ge=0, description="frames a track coasts unmatched before it ends")
    min_hits: int = Field(3, ge=1, description="matches before a new track is reported")
    smoothing: float = Field(0.6, ge=0, le=1, description="weight of the new detection in the box update")
    hist_bins: int = Field(16, ge=2, le=64, description="hue and saturation bins of the appearance model")


@register
class HungarianTracker(Stage):
    """Persistent identities for blobs by Hungarian assignment on overlap, distance and colour."""

    name = "track.hungarian"
    Params = TrackParams
    requires = ("blobs",)
    provides = ("tracks",)
    cite = "H. W. Kuhn, The Hungarian method for the assignment problem, 1955; A. Bewley et al., SORT, ICIP 2016"

    def reset(self) -> None:
        self.tracks: list[Track] = []
        self.next_id = 1

    def process(self, sample: Sample) -> Sample:
        p = self.params
        blobs = sample["blobs"]
        boxes = np.array([[b.x, b.y, b.w, b.h] for b in blobs], np.float64).reshape(-1, 4)
        hists = [colour_histogram(sample.image, b, p.hist_bins) for b in boxes] if p.w_app else [None] * len(boxes)
        h, w = sample.shape
        diag = float(np.hypot(h, w))
        cost = assignment_costs(self.tracks, boxes, hists, diag, p.w_iou, p.w_dist, p.w_app, p.max_dist)
        matched_t, matched_d = set(), set()
        if cost.size:
            from scipy.optimize import linear_sum_assignment

            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] <= p.max_cost:
                    self._update(self.tracks[r], boxes[c], hists[c])
                    matched_t.add(r)
                    matched_d.add(c)
        for i, t in enumerate(self.tracks):
            if i not in matched_t:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= p.max_missed]
        for c in range(len(boxes)):
            if c not in matched_d:
                self.tracks.append(Track(self.next_id, boxes[c].copy(), hists[c], confirmed=p.min_hits <= 1))
                self.next_id += 1
        sample["tracks"] = [(t.id, tuple(float(v) for v in t.box)) for t in self.tracks
                            if t.confirmed and t.missed == 0]
        return sample

    def _update(self, t: Track, box: np.ndarray, hist) -> None:
        a = self.params.smoothing
        new_centre = box[:2] + box[2:] / 2
        old_centre = t.box[:2] + t.box[2:] / 2
        t.velocity = 0.5 * t.velocity + 0.5 * (new_centre - old_centre) / (t.missed + 1)
        t.box = a * box + (1 - a) * t.predicted()
        if hist is not None and t.hist is not None:
            t.hist = (0.8 * t.hist + 0.2 * hist).astype(np.float32)
        t.hits += 1
        t.missed = 0
        if t.hits >= self.params.min_hits:
            t.confirmed = True


class PeopleParams(Params):
    scale: float = Field(1.05, gt=1, le=2, description="image pyramid step of detectMultiScale")
    win_stride: int = Field(8, ge=1, le=64, description="window stride in pixels")
    hit_threshold: float = Field(0.0, description="SVM score a window needs")
    min_fg: float = Field(0.2, ge=0, le=1, description="share of foreground a detection must cover (0: ignore fg)")
    nms_iou: float = Field(0.4, gt=0, le=1, description="overlap above which the weaker detection is dropped")
    upscale: float = Field(1.0, ge=1, le=3, description="resize the frame by this before detecting (small people)")
    shrink_w: float = Field(0.7, gt=0, le=1, description="HOG windows pad the person: keep this share of the width")
    shrink_h: float = Field(0.9, gt=0, le=1, description="... and of the height (centred)")


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression."""
    order = np.argsort(-scores)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        order = rest[box_iou(boxes[i:i + 1], boxes[rest])[0] <= iou] if rest.size else rest
    return np.array(keep, int)


@register
class PeopleDetector(Stage):
    """HOG + linear SVM people detection (Dalal & Triggs 2005), kept where there is foreground."""

    name = "detect.people"
    Params = PeopleParams
    requires = ("fg",)
    provides = ("blobs",)
    cite = "N. Dalal, B. Triggs, Histograms of oriented gradients for human detection, CVPR 2005"

    def reset(self) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def process(self, sample: Sample) -> Sample:
        p = self.params
        img = sample.image
        if p.upscale != 1.0:
            img = cv2.resize(img, None, fx=p.upscale, fy=p.upscale, interpolation=cv2.INTER_LINEAR)
        rects, weights = self.hog.detectMultiScale(img, hitThreshold=p.hit_threshold,
                                                   winStride=(p.win_stride, p.win_stride), scale=p.scale)
        boxes = np.asarray(rects, np.float64).reshape(-1, 4) / p.upscale
        if len(boxes):  # the detector's window is wider than the person it finds
            boxes[:, 0] += boxes[:, 2] * (1 - p.shrink_w) / 2
            boxes[:, 1] += boxes[:, 3] * (1 - p.shrink_h) / 2
            boxes[:, 2] *= p.shrink_w
            boxes[:, 3] *= p.shrink_h
        scores = np.asarray(weights, np.float64).reshape(-1)
        fg = sample["fg"]
        blobs = []
        if len(boxes):
            keep = non_max_suppression(boxes, scores, p.nms_iou)
            for i in keep:
                x, y, w, h = (int(round(v)) for v in boxes[i])
                x0, y0 = max(x, 0), max(y, 0)
                cover = fg[y0:y + h, x0:x + w].mean() if w > 0 and h > 0 and fg[y0:y + h, x0:x + w].size else 0
                if cover >= p.min_fg:
                    blobs.append(Blob(len(blobs) + 1, x, y, w, h, int(w * h), x + w / 2, y + h / 2))
        sample["blobs"] = blobs
        return sample
