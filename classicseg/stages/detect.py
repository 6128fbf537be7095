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
    expected one. Until ``min_samples`` have been seen it has no opinion.
    """

    def __init__(self, min_samples: int = 30, max_samples: int = 2000) -> None:
        self.min_samples, self.max_samples = min_samples, max_samples
        self.samples: list[tuple[float, float]] = []
        self.coef: np.ndarray | None = None

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


def blob_people(fg: np.ndarray, model: RowSizeModel, aspect: float, *, min_area: int = 300,
                min_ratio: float = 0.8, max_ratio: float = 1.25, min_fill: float = 0.4) -> np.ndarray:
    """Person boxes from foreground components whose height matches the size model.

    A component whose height is between ``min_ratio`` and ``max_ratio`` of the expected
    person height at its bottom row is taken for ``k = round(width / expected width)``
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
        if area < min_area:
            continue
        height = float(model.expected_height(y + h))
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


def detect_people(image: np.ndarray, fg: np.ndarray | None = None, *, hog: cv2.HOGDescriptor | None = None,
                  hit_threshold: float = 0.0, win_stride: int = 8, scale: float = 1.05, upscale: float = 1.0,
                  pad: int = 0, nms_iou: float = 0.3, shrink_w: float = 0.53, shrink_h: float = 0.78,
                  offset_y: float = 0.1, min_fg: float = 0.0, strong_score: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray]:
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
        Resize the frame by this before detecting (people under 128 px tall).
    pad : int
        Replicate this many pixels below the bottom border and half as many past the left
        and right ones, so that the window (larger than the person) of someone near the
        camera or entering at a side fits in the image.
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
    if hog is None:
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    img = image if upscale == 1.0 else cv2.resize(image, None, fx=upscale, fy=upscale,
                                                     interpolation=cv2.INTER_LINEAR)
    p, side = int(round(pad * upscale)), int(round(pad * upscale / 2))
    if p:
        img = cv2.copyMakeBorder(img, 0, p, side, side, cv2.BORDER_REPLICATE)
    if img.shape[0] < 128 or img.shape[1] < 64:  # smaller than one detection window
        return np.zeros((0, 4)), np.zeros(0)
    rects, weights = hog.detectMultiScale(img, hitThreshold=hit_threshold, winStride=(win_stride, win_stride),
                                          scale=scale, groupThreshold=0)
    boxes = np.asarray(rects, np.float64).reshape(-1, 4)
    boxes[:, 0] -= side
    boxes /= upscale
    scores = np.asarray(weights, np.float64).reshape(-1)
    if not len(boxes):
        return np.zeros((0, 4)), np.zeros(0)
    keep = non_max_suppression(boxes, scores, nms_iou)
    boxes, scores = shrink_windows(boxes[keep], shrink_w, shrink_h, offset_y), scores[keep]
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
    upscale: float = Field(1.0, ge=1, le=3, description="resize the frame by this before detecting (small people)")
    pad: int = Field(0, ge=0, le=256, description="pixels replicated below the bottom border, half as many past "
                                                  "the sides (people near the camera or at the sides)")
    shrink_w: float = Field(0.53, gt=0, le=1, description="HOG windows pad the person: keep this share of the width")
    shrink_h: float = Field(0.78, gt=0, le=1, description="... and this share of the height")
    offset_y: float = Field(0.1, ge=0, lt=1, description="... starting this share of the height below the top")
    size_tol: float = Field(0.3, ge=0, le=10, description="drop detections whose height is off the learned "
                                                          "height-per-row model by more than this share (0: off)")
    size_samples: int = Field(15, ge=3, le=100_000, description="confident detections needed before the size model is used")
    blob_score: float | None = Field(None, ge=-10, le=10, description="also report foreground blobs of a person's learned size "
                                                       "(groups split by width) with this score (None: off)")
    blob_min_fill: float = Field(0.4, ge=0, le=1, description="share of a blob box that must be foreground")
    blob_min_area: int = Field(300, ge=1, le=10**9, description="smallest foreground component (pixels) taken as people")

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

    def process(self, sample: Sample) -> Sample:
        p = self.params
        fg = sample["fg"]
        boxes, scores = detect_people(sample.image, fg, hog=self.hog, hit_threshold=p.hit_threshold,
                                      win_stride=p.win_stride, scale=p.scale, upscale=p.upscale, pad=p.pad,
                                      nms_iou=p.nms_iou, shrink_w=p.shrink_w, shrink_h=p.shrink_h,
                                      offset_y=p.offset_y, min_fg=p.min_fg, strong_score=p.strong_score)
        if p.size_tol > 0 or p.blob_score is not None:
            self.size.add(boxes[scores >= p.strong_score])
        if p.size_tol > 0 and len(boxes):
            ok = np.abs(np.log(self.size.height_ratio(boxes))) <= np.log1p(p.size_tol)
            boxes, scores = boxes[ok], scores[ok]
        if p.blob_score is not None:
            aspect = p.shrink_w * 64 / (p.shrink_h * 128)  # the person's shape in the 64x128 window
            extra = blob_people(fg, self.size, aspect, min_area=p.blob_min_area, min_fill=p.blob_min_fill)
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
