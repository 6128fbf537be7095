"""People detection on a fixed camera (``detect.people``).

HOG + linear SVM windows (Dalal & Triggs 2005, OpenCV's default people model) are
suppressed greedily and shrunk from the padded detection window to the person inside it.
On a fixed camera a person's image height depends on the row of their feet, so a
height-per-row model learned from confident windows rejects windows of the wrong size
(legs or torsos found at a smaller scale), and can turn foreground blobs of a person's
size into detections, a group's wide blob split into people side by side. Each detection
carries its score, which the tracker uses to tell births (confident) from continuations
(weak), as in ByteTrack.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from classicseg.errors import ClassicsegError
from classicseg.geometry import box_iou
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.types import Blob, Sample


@dataclass(frozen=True)
class Detection(Blob):
    """A blob that comes from a detector, with the detector's score."""

    score: float = 0.0


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression (best score first)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ClassicsegError(f"non_max_suppression: {len(boxes)} boxes but {len(scores)} scores")
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        order = rest[box_iou(boxes[i:i + 1], boxes[rest])[0] <= iou] if rest.size else rest
    return np.array(keep, int)


def parts_of_others(boxes: np.ndarray, share: float = 0.7) -> np.ndarray:
    """Which boxes ``(x, y, w, h)`` have at least ``share`` of their area inside a box at least
    a quarter taller: a person's legs or torso found at a smaller scale."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    x1, y1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(x1[:, None], x1[None]) - np.maximum(b[:, 0, None], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(y1[:, None], y1[None]) - np.maximum(b[:, 1, None], b[None, :, 1]), 0, None)
    inside = iw * ih / np.maximum(b[:, 2] * b[:, 3], 1e-9)[:, None]  # [i, j]: share of i inside j
    taller = b[None, :, 3] >= 1.25 * b[:, 3, None]
    return ((inside >= share) & taller).any(1)


def shrink_windows(boxes: np.ndarray, shrink_w: float, shrink_h: float, offset_y: float) -> np.ndarray:
    """Map HOG detection windows ``(x, y, w, h)`` to the person inside them.

    The 64x128 window of Dalal & Triggs holds a person about 96 px tall with a margin
    around them; measured on MOT15 (TUD), the annotated box is about 0.5-0.65 of the
    window's width (centred) and 0.78 of its height, starting 0.1 of the height below the
    window's top.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    b[:, 0] += b[:, 2] * (1 - shrink_w) / 2
    b[:, 1] += b[:, 3] * offset_y
    b[:, 2] *= shrink_w
    b[:, 3] *= shrink_h
    return b


def foreground_cover(fg: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Share of each box ``(x, y, w, h)`` (clipped to the image) that is foreground."""
    fg = np.asarray(fg, bool)
    H, W = fg.shape
    ii = np.zeros((H + 1, W + 1), np.int64)
    ii[1:, 1:] = fg.cumsum(0).cumsum(1)
    out = np.zeros(len(boxes))
    for k, (x, y, w, h) in enumerate(np.asarray(boxes, np.float64).reshape(-1, 4)):
        x0, y0 = int(np.clip(round(x), 0, W)), int(np.clip(round(y), 0, H))
        x1, y1 = int(np.clip(round(x + w), 0, W)), int(np.clip(round(y + h), 0, H))
        if x1 > x0 and y1 > y0:
            out[k] = (ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]) / ((x1 - x0) * (y1 - y0))
    return out


class RowSizeModel:
    """How tall a person is at each image row, learned from confident detections.

    On a fixed camera looking at a flat ground, the image height of a standing person
    is close to a linear function of the row of their feet (Hoiem et al., "Putting
    objects in perspective", CVPR 2006). The model collects ``(bottom row, height)`` of
    confident detections, fits ``h = a * bottom + b`` by least squares with the worst
    quarter of the residuals trimmed, and then tells how far a box's height is from the
    expected one. Until ``min_samples`` have been seen it has no opinion. ``top`` is the
    farthest feet row it has support for (the third highest among the kept samples).
    """

    def __init__(self, min_samples: int = 30, max_samples: int = 2000) -> None:
        self.min_samples, self.max_samples = min_samples, max_samples
        self.samples: list[tuple[float, float]] = []
        self.coef: np.ndarray | None = None
        self.top: float | None = None

    def add(self, boxes: np.ndarray) -> None:
        """Learn from confident boxes ``(x, y, w, h)``."""
        for x, y, w, h in np.asarray(boxes, np.float64).reshape(-1, 4):
            self.samples.append((y + h, h))
        del self.samples[:-self.max_samples]
        if len(self.samples) >= self.min_samples:
            a = np.array(self.samples)
            keep = np.ones(len(a), bool)
            for _ in range(3):
                A = np.c_[a[keep, 0], np.ones(keep.sum())]
                coef = np.linalg.lstsq(A, a[keep, 1], rcond=None)[0]
                res = np.abs(a[:, 1] - (a[:, 0] * coef[0] + coef[1]))
                keep = res <= np.quantile(res, 0.75)
            # a camera looking down at people: farther (higher) feet, smaller people
            self.coef = coef if coef[0] > 0 else None
            rows = np.sort(a[keep, 0])
            self.top = float(rows[min(2, len(rows) - 1)]) if self.coef is not None else None

    def expected_height(self, bottom) -> np.ndarray | None:
        """Expected person height for feet at ``bottom`` (None until the model is fitted)."""
        if self.coef is None:
            return None
        return np.asarray(bottom, np.float64) * self.coef[0] + self.coef[1]

    def height_ratio(self, boxes: np.ndarray) -> np.ndarray:
        """Each box's height over the expected height at its bottom row (1 without a model)."""
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        exp = self.expected_height(b[:, 1] + b[:, 3])
        if exp is None:
            return np.ones(len(b))
        return b[:, 3] / np.maximum(exp, 1.0)


def blob_people(fg: np.ndarray, model: RowSizeModel, aspect: float, *, min_area: float = 0.25,
                min_ratio: float = 0.8, max_ratio: float = 1.25, min_fill: float = 0.4) -> np.ndarray:
    """Person boxes from foreground components whose height matches the size model.

    A component covering at least ``min_area`` of the expected person box at its bottom
    row (``aspect * height`` by ``height``), whose height is between ``min_ratio`` and
    ``max_ratio`` of that expected height, is taken for ``k = round(width / expected width)``
    people side by side (a group walking together merges into one blob) and split into
    ``k`` boxes of the expected size, standing on the component's bottom row. Boxes that
    are less than ``min_fill`` foreground are dropped.

    Returns
    -------
    ndarray (N, 4) of ``(x, y, w, h)`` float; empty until the model is fitted.
    """
    fg = np.asarray(fg, bool)
    if fg.ndim != 2:
        raise ClassicsegError(f"blob_people: fg must be a (H, W) mask, got shape {fg.shape}")
    if model.coef is None:
        return np.zeros((0, 4))
    _, _, stats, _ = cv2.connectedComponentsWithStats(fg.view(np.uint8), connectivity=8)
    out = []
    for x, y, w, h, area in stats[1:]:
        height = float(model.expected_height(y + h))
        if area < min_area * aspect * height * height:
            continue
        if height < 16 or not min_ratio <= h / height <= max_ratio:
            continue
        width = aspect * height
        k = max(1, int(round(w / width)))
        for j in range(k):
            cx = x + (j + 0.5) * w / k
            out.append([cx - width / 2, y + h - height, width, height])
    boxes = np.array(out, np.float64).reshape(-1, 4)
    if len(boxes) and min_fill > 0:
        boxes = boxes[foreground_cover(fg, boxes) >= min_fill]
    return boxes


#: OpenCV's default people detector window (width, height), Dalal & Triggs' 64x128.
WINDOW = (64, 128)


@dataclass(frozen=True)
class ScanPlan:
    """Where HOG looks: for each pyramid level, the window height in image pixels, the image rows
    ``[first, last)`` it slides over (``last`` may pass the bottom: the bottom row is replicated)
    and the pixels replicated past the left and right borders."""

    heights: np.ndarray
    rows: np.ndarray
    side: np.ndarray

    def __add__(self, other: "ScanPlan") -> "ScanPlan":
        return ScanPlan(np.r_[self.heights, other.heights], np.r_[self.rows, other.rows], np.r_[self.side, other.side])

    def cost(self, width: int) -> float:
        """Pixels HOG describes over all levels (each level resized to the window's scale)."""
        f = WINDOW[1] / self.heights
        return float(np.sum((width + 2 * self.side) * f * (self.rows[:, 1] - self.rows[:, 0]) * f))


def _heights(first: float, last: float, scale: float) -> np.ndarray:
    n = int(np.floor(np.log(max(last / first, 1.0)) / np.log(scale) + 1e-9)) + 1
    return first * scale ** np.arange(n)


def pyramid_plan(shape, first: float = WINDOW[1], scale: float = 1.05, pad: int | None = 0, *,
                 below: float = 0.12, side: float = 0.125) -> ScanPlan:
    """The whole frame at every window height from ``first`` up by factors of ``scale`` while the
    window fits (as ``detectMultiScale`` on a frame resized by ``128 / first``).

    ``pad`` rows are replicated below the frame and ``pad // 2`` columns past each side; with
    ``pad=None`` each level gets ``below`` and ``side`` times its window height instead (the
    part of the window below a person's feet, and a margin for people at the sides).
    """
    H, W = shape[:2]
    if first <= 0 or scale <= 1:
        raise ClassicsegError(f"pyramid_plan: first must be > 0 and scale > 1, got {first}, {scale}")
    h = _heights(first, max(first, 2.0 * (H + W)), scale)
    pb = np.full(len(h), pad) if pad is not None else np.ceil(below * h)
    ps = np.full(len(h), pad // 2) if pad is not None else np.ceil(side * h)
    fits = (h <= H + pb) & (h * WINDOW[0] / WINDOW[1] <= W + 2 * ps)
    h, pb, ps = h[fits], pb[fits], ps[fits]
    return ScanPlan(h, np.c_[np.zeros(len(h)), H + pb].astype(int), ps.astype(int))


def perspective_plan(expected_height, shape, *, min_height: float, tol: float, top_row: float = 0.0,
                     scale: float = 1.05, shrink_h: float = 0.78, offset_y: float = 0.1, side: float = 0.125
                     ) -> ScanPlan:
    """Only the window heights and rows where a person of the expected height can stand.

    ``expected_height(row)`` is a person's height with their feet on ``row`` (increasing down the
    image, as :class:`RowSizeModel` fits it). A window of height ``w`` holds a person
    ``shrink_h * w`` tall whose feet lie ``(offset_y + shrink_h) * w`` below its top; it is slid
    only over the band of rows whose feet would have an expected height within a factor
    ``1 + tol`` of that person's, so each level scans a strip about one window high instead of
    the frame. People shorter than ``min_height`` pixels, or with their feet above ``top_row``,
    are not looked for.
    """
    H, W = shape[:2]
    e = np.asarray(expected_height(np.array([0.0, float(H)])), np.float64)
    a = (e[1] - e[0]) / H
    if not a > 0:
        raise ClassicsegError(f"perspective_plan: the expected height must grow down the image, got {e[0]:g} "
                              f"at the top and {e[1]:g} at the bottom")
    top_row = float(np.clip(top_row, 0, H))
    lo = max(min_height, (e[0] + a * top_row) / (1 + tol)) / shrink_h
    hi = e[1] * (1 + tol) / shrink_h
    if hi < lo:
        return ScanPlan(np.zeros(0), np.zeros((0, 2), int), np.zeros(0, int))
    h = _heights(lo, hi, scale)
    person = shrink_h * h
    feet_lo = np.clip((person / (1 + tol) - e[0]) / a, top_row, H)
    feet_hi = np.clip((person * (1 + tol) - e[0]) / a, top_row, H)
    r0 = np.maximum(np.floor(feet_lo - (offset_y + shrink_h) * h), 0)
    r1 = np.ceil(feet_hi + (1 - offset_y - shrink_h) * h) + 1
    r1 = np.maximum(r1, r0 + np.ceil(h))  # at least one window high (replicated below the frame)
    return ScanPlan(h, np.c_[r0, r1].astype(int), np.ceil(side * h).astype(int))


def hog_windows(image: np.ndarray, hog: cv2.HOGDescriptor, plan: ScanPlan, *, hit_threshold: float = 0.0,
                win_stride: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Raw HOG windows ``(x, y, w, h)`` (image pixels) and SVM scores over the levels of ``plan``.

    Each level's strip of rows is padded (replicated), resized so that the level's window
    height becomes 128 pixels and scanned by ``HOGDescriptor.detect`` (no grouping), as
    ``detectMultiScale`` does with each level of its pyramid.
    """
    H, W = image.shape[:2]
    out, scores = [], []
    for wh, (r0, r1), sd in zip(plan.heights, plan.rows, plan.side):
        strip = image[r0:min(r1, H)]
        below = max(r1 - H, 0)
        if strip.shape[0] == 0:
            continue
        if below or sd:
            strip = cv2.copyMakeBorder(strip, 0, below, int(sd), int(sd), cv2.BORDER_REPLICATE)
        f = WINDOW[1] / wh
        size = (int(round(strip.shape[1] * f)), int(round(strip.shape[0] * f)))
        if size[0] < WINDOW[0] or size[1] < WINDOW[1]:
            continue
        img = strip if size == strip.shape[1::-1] else cv2.resize(strip, size, interpolation=cv2.INTER_LINEAR_EXACT)
        loc, w = hog.detect(img, hitThreshold=hit_threshold, winStride=(win_stride, win_stride), padding=(0, 0))
        if len(loc) == 0:
            continue
        loc = np.asarray(loc, np.float64).reshape(-1, 2)
        w = np.asarray(w, np.float64).reshape(-1)
        fx, fy = size[0] / strip.shape[1], size[1] / strip.shape[0]
        out.append(np.c_[loc[:, 0] / fx - sd, loc[:, 1] / fy + r0,
                         np.full(len(loc), WINDOW[0] / fx), np.full(len(loc), WINDOW[1] / fy)])
        scores.append(w)
    if not out:
        return np.zeros((0, 4)), np.zeros(0)
    return np.concatenate(out), np.concatenate(scores)


def detect_people(image: np.ndarray, fg: np.ndarray | None = None, *, hog: cv2.HOGDescriptor | None = None,
                  hit_threshold: float = 0.0, win_stride: int = 8, scale: float = 1.05, upscale: float = 1.0,
                  pad: int = 0, plan: ScanPlan | None = None, nms_iou: float = 0.3, shrink_w: float = 0.53,
                  shrink_h: float = 0.78, offset_y: float = 0.1, min_fg: float = 0.0, strong_score: float = 1.0,
                  contained: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """People boxes and scores in a BGR frame, by HOG + linear SVM (Dalal & Triggs 2005).

    Parameters
    ----------
    image : ndarray
        BGR (or grey) uint8 frame.
    fg : ndarray of bool, optional
        Foreground mask; a window scoring below ``strong_score`` is kept only where at
        least ``min_fg`` of its (shrunk) box is foreground.
    hit_threshold, win_stride, scale
        As OpenCV's ``HOGDescriptor.detectMultiScale`` (raw windows, no grouping).
    upscale : float
        Look for windows from ``128 / upscale`` pixels high (people under 128 px tall).
    pad : int
        Replicate this many pixels below the bottom border and half as many past the left
        and right ones, so that the window (larger than the person) of someone near the
        camera or entering at a side fits in the image.
    plan : ScanPlan, optional
        Which window heights to scan over which rows (:func:`perspective_plan`); replaces
        ``upscale``, ``scale`` and ``pad`` (:func:`pyramid_plan`).
    nms_iou : float
        Greedy non-maximum suppression of the raw windows.
    shrink_w, shrink_h, offset_y
        See :func:`shrink_windows`.

    Returns
    -------
    boxes : ndarray (N, 4) of ``(x, y, w, h)`` float, scores : ndarray (N,)

    References
    ----------
    N. Dalal, B. Triggs, "Histograms of oriented gradients for human detection", CVPR 2005.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ClassicsegError(f"detect_people: expected a uint8 (H, W[, 3]) image, got {image.dtype} {image.shape}")
    if fg is not None and np.shape(fg) != image.shape[:2]:
        raise ClassicsegError(f"detect_people: fg mask is {np.shape(fg)}, the image {image.shape[:2]}")
    if pad < 0:
        raise ClassicsegError(f"detect_people: pad must be >= 0, got {pad}")
    if upscale <= 0:
        raise ClassicsegError(f"detect_people: upscale must be > 0, got {upscale}")
    if hog is None:
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    if plan is None:
        plan = pyramid_plan(image.shape, WINDOW[1] / upscale, scale, pad)
    boxes, scores = hog_windows(image, hog, plan, hit_threshold=hit_threshold, win_stride=win_stride)
    if not len(boxes):
        return np.zeros((0, 4)), np.zeros(0)
    keep = non_max_suppression(boxes, scores, nms_iou)
    boxes, scores = shrink_windows(boxes[keep], shrink_w, shrink_h, offset_y), scores[keep]
    if contained < 1 and len(boxes) > 1:
        ok = ~parts_of_others(boxes, contained)
        boxes, scores = boxes[ok], scores[ok]
    if fg is not None and min_fg > 0:
        ok = (scores >= strong_score) | (foreground_cover(fg, boxes) >= min_fg)
        boxes, scores = boxes[ok], scores[ok]
    return boxes, scores


class PeopleParams(Params):
    scale: float = Field(1.05, gt=1, le=2, description="image pyramid step of detectMultiScale")
    win_stride: int = Field(8, ge=1, le=64, description="window stride in pixels")
    hit_threshold: float = Field(0.3, ge=-2, le=5, description="SVM score a window needs")
    strong_score: float = Field(1.0, ge=-2, le=10, description="windows scoring at least this are confident: they teach the "
                                                 "size model and need no foreground")
    min_fg: float = Field(0.0, ge=0, le=1,
                          description="share of foreground a weak detection (score < strong_score) must cover")
    nms_iou: float = Field(0.3, gt=0, le=1, description="overlap above which the weaker detection is dropped")
    contained: float = Field(0.7, gt=0, le=1, description="until the size model is fitted, drop a detection with this "
                                                          "share of its box inside one a quarter taller (legs, "
                                                          "torsos; 1: off)")
    upscale: float | Literal["auto"] = Field(
        "auto", ge=1, le=3, description="auto: scan the window heights and rows the learned height-per-row model expects "
                            "(the whole frame from min_height up until it is fitted, and every explore_every "
                            "frames); a number: the whole frame from 128 / upscale px windows up")
    min_height: float = Field(40, ge=16, le=1000, description="auto: the shortest person looked for (pixels)")
    explore_every: int = Field(25, ge=0, le=100_000, description="auto: also scan the whole frame every this many frames once "
                                                     "the model is fitted (0: never)")
    explore_scale: float = Field(1.15, gt=1, le=2, description="auto: pyramid step of those whole-frame scans")
    size_reach: float = Field(0.25, ge=0, le=10, description="auto: people are looked for (and kept) with their feet at "
                                                             "most this share of a person's height above the "
                                                             "farthest feet row the model has seen")
    pad: int | Literal["auto"] = Field("auto", ge=0, le=256, description="pixels replicated below the bottom border, half as "
                                       "many past the sides (people near the camera or at the sides); auto: "
                                       "0.12 of each window's height below, 0.125 past each side")
    shrink_w: float = Field(0.53, gt=0, le=1, description="HOG windows pad the person: keep this share of the width")
    shrink_h: float = Field(0.78, gt=0, le=1, description="... and this share of the height")
    offset_y: float = Field(0.1, ge=0, lt=1, description="... starting this share of the height below the top")
    size_tol: float = Field(0.3, ge=0, le=10, description="drop detections whose height is off the learned "
                                                          "height-per-row model by more than this share (0: off)")
    size_samples: int = Field(15, ge=3, le=100_000, description="confident detections needed before the size model is used")
    blob_score: float | None = Field(None, ge=-10, le=10, description="also report foreground blobs of a person's learned size "
                                                       "(groups split by width) with this score (None: off)")
    blob_min_fill: float = Field(0.4, ge=0, le=1, description="share of a blob box that must be foreground")
    blob_min_area: float = Field(0.25, gt=0, le=1, description="smallest foreground component taken as people, as a "
                                                               "share of the expected person box at its row")

    @model_validator(mode="after")
    def _fits(self):
        if self.offset_y + self.shrink_h > 1:
            raise ValueError(f"offset_y + shrink_h must be <= 1 (the box stays inside the window), "
                             f"got {self.offset_y} + {self.shrink_h}")
        return self


@register
class PeopleDetector(Stage):
    """HOG + linear SVM people detection (Dalal & Triggs 2005) checked by a learned size-per-row model."""

    name = "detect.people"
    Params = PeopleParams
    requires = ("fg",)
    provides = ("blobs",)
    cite = ("N. Dalal, B. Triggs, Histograms of oriented gradients for human detection, CVPR 2005; "
            "D. Hoiem, A. Efros, M. Hebert, Putting objects in perspective, CVPR 2006")

    def reset(self) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.size = RowSizeModel(self.params.size_samples)
        self.frame = 0

    def plan(self, shape) -> ScanPlan:
        """Where this frame is scanned: the model's bands once it is fitted, else the whole frame."""
        p = self.params
        pad = None if p.pad == "auto" else p.pad
        below = 1 - p.offset_y - p.shrink_h
        if p.upscale != "auto":
            return pyramid_plan(shape, WINDOW[1] / p.upscale, p.scale, pad, below=below)
        if self.size.coef is None:  # until the model is fitted: every height from min_height up
            return pyramid_plan(shape, p.min_height / p.shrink_h, p.scale, pad, below=below)
        plan = perspective_plan(self.size.expected_height, shape, min_height=p.min_height, tol=p.size_tol or 0.3,
                                top_row=self.top_row(), scale=p.scale, shrink_h=p.shrink_h, offset_y=p.offset_y)
        if p.explore_every and self.frame % p.explore_every == 0:  # and now and then, coarsely
            plan = plan + pyramid_plan(shape, p.min_height / p.shrink_h, p.explore_scale, pad, below=below)
        return plan

    def top_row(self) -> float:
        """The farthest feet row people are looked for at (auto scale, fitted model; else 0)."""
        if self.params.upscale != "auto" or self.size.top is None:
            return 0.0
        return self.size.top - self.params.size_reach * float(self.size.expected_height(self.size.top))

    def process(self, sample: Sample) -> Sample:
        p = self.params
        fg = sample["fg"]
        plan = self.plan(sample.image.shape)
        self.frame += 1
        boxes, scores = detect_people(sample.image, fg, hog=self.hog, hit_threshold=p.hit_threshold,
                                      win_stride=p.win_stride, plan=plan, nms_iou=p.nms_iou, shrink_w=p.shrink_w,
                                      shrink_h=p.shrink_h, offset_y=p.offset_y, min_fg=p.min_fg,
                                      strong_score=p.strong_score, contained=p.contained if self.size.coef is None else 1.0)
        if p.size_tol > 0 or p.blob_score is not None:
            self.size.add(boxes[scores >= p.strong_score])
        if p.size_tol > 0 and len(boxes):
            ok = np.abs(np.log(self.size.height_ratio(boxes))) <= np.log1p(p.size_tol)
            ok &= boxes[:, 1] + boxes[:, 3] >= self.top_row()
            boxes, scores = boxes[ok], scores[ok]
        if p.blob_score is not None:
            aspect = p.shrink_w * 64 / (p.shrink_h * 128)  # the person's shape in the 64x128 window
            extra = blob_people(fg, self.size, aspect, min_area=p.blob_min_area, min_fill=p.blob_min_fill)
            extra = extra[extra[:, 1] + extra[:, 3] >= self.top_row()]
            if len(extra) and len(boxes):  # a blob box where HOG found the person adds nothing
                extra = extra[box_iou(extra, boxes).max(1) < 0.3]
            boxes = np.r_[boxes, extra]
            scores = np.r_[scores, np.full(len(extra), p.blob_score)]
        blobs = []
        for k, ((x, y, w, h), s) in enumerate(zip(boxes, scores), start=1):
            xi, yi, wi, hi = (int(round(v)) for v in (x, y, w, h))
            if wi > 0 and hi > 0:
                blobs.append(Detection(k, xi, yi, wi, hi, wi * hi, x + w / 2, y + h / 2, float(s)))
        sample["blobs"] = blobs
        return sample
