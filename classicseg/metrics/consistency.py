"""Temporal consistency of predicted masks: IoU with the next prediction warped back by flow.

Definition
----------
For consecutive predicted frames ``t`` and ``t + 1`` with label maps ``M_t`` and
``M_{t+1}`` (0 = background, 255 = void, other ids = objects; a 0/255 mask is one object):

1. ``f_t`` = dense optical flow from input frame ``t`` to input frame ``t + 1``
   (:func:`classicseg.stages.flow.dis` or :func:`~classicseg.stages.flow.farneback`, default
   parameters), so the pixel ``x`` of frame ``t`` is at ``x + f_t(x)`` in frame ``t + 1``.
2. ``W_t(x) = M_{t+1}(x + f_t(x))``: the next prediction warped back onto frame ``t``
   (nearest-neighbour sampling, so ids are never blended).
3. Scored pixels ``S_t``: those whose ``x + f_t(x)`` lies inside the image; with
   ``occlusion=True`` also those that pass a forward-backward check
   (:func:`classicseg.stages.flow.fb_occlusion`, 1 px), i.e. are not occluded in ``t + 1``.
4. ``TC_t`` = mean over the object ids present in ``M_t`` or ``W_t`` on ``S_t`` of
   ``|{M_t = k} ∩ {W_t = k} ∩ S_t| / |({M_t = k} ∪ {W_t = k}) ∩ S_t|``;
   ``TC_t = 1`` when neither has an object there.
5. A sequence scores the mean of ``TC_t`` over its pairs (also reported: the minimum and
   the number of pairs); higher is steadier; 1 for masks that move exactly with the image.

It measures flicker and jitter that the image motion does not explain, and needs no ground
truth. A method can be perfectly consistent and wrong (a constant empty mask scores 1), so
read it next to J/F or mIoU. The flow's own errors lower the score of a perfect
segmentation a little, so compare methods with the same flow method.

This is **not** the DAVIS 2016 temporal stability T (Perazzi et al., CVPR 2016), which
matches shape-context descriptors of the contours of consecutive masks by dynamic time
warping and reports the mean matching cost (lower is better, no optical flow). The measure
here follows the flow-warped IoU used for video semantic segmentation (e.g. Y. Liu, C. Shen,
C. Yu, J. Wang, "Efficient Semantic Video Segmentation with Per-frame Inference", ECCV 2020),
with one IoU per object averaged over objects.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from classicseg.errors import EvalError
from classicseg.metrics.cdnet import index_images
from classicseg.metrics.segmentation import VOID, read_label_map

__all__ = ["warp_labels", "pair_consistency", "temporal_consistency", "ConsistencyResult",
           "evaluate_sequence", "evaluate_dataset", "find_image_dir"]


def _size(shape) -> str:
    return f"{shape[1]}x{shape[0]}"


def warp_labels(labels, flow) -> tuple[np.ndarray, np.ndarray]:
    """Sample a label map at ``x + flow(x)`` (nearest neighbour).

    Parameters
    ----------
    labels : array_like, (H, W)
        Integer ids (bool is read as 0/1).
    flow : array_like, (H, W, 2)
        ``(u, v)`` in pixels.

    Returns
    -------
    warped : numpy.ndarray
        ``uint8 (H, W)``; 0 where the sample falls outside the image.
    inside : numpy.ndarray
        ``bool (H, W)``: the sample fell inside the image.
    """
    lab = np.asarray(labels)
    f = np.asarray(flow, np.float32)
    if f.ndim != 3 or f.shape[2] != 2:
        raise EvalError(f"flow must be (H, W, 2), got shape {f.shape}")
    if lab.shape != f.shape[:2]:
        raise EvalError(f"mask is {_size(lab.shape)} but flow is {_size(f.shape)}")
    h, w = lab.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xs + f[:, :, 0], ys + f[:, :, 1]
    src = lab.astype(np.uint8)
    warped = cv2.remap(src, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inside = cv2.remap(np.ones((h, w), np.uint8), mx, my, cv2.INTER_NEAREST,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    return warped, inside


def pair_consistency(mask_t, mask_next, flow, scored=None) -> float:
    """``TC_t`` of one pair (module docstring, steps 2–4).

    Parameters
    ----------
    mask_t, mask_next : array_like, (H, W)
        Label maps (or bool masks) of frames ``t`` and ``t + 1``.
    flow : array_like, (H, W, 2)
        Flow from frame ``t`` to ``t + 1``.
    scored : array_like of bool, (H, W), optional
        Pixels to score besides the in-image test (e.g. not occluded).

    Returns
    -------
    float
        In [0, 1]; 1 when no object is present on the scored pixels.
    """
    a = np.asarray(mask_t)
    b = np.asarray(mask_next)
    if a.shape != b.shape:
        raise EvalError(f"masks of consecutive frames differ in size: {_size(a.shape)} and {_size(b.shape)}")
    warped, inside = warp_labels(b, flow)
    s = inside if scored is None else inside & np.asarray(scored, bool)
    a = a.astype(np.uint8)
    ids = set(np.unique(a[s]).tolist()) | set(np.unique(warped[s]).tolist())
    ids -= {0, VOID}
    if not ids:
        return 1.0
    vals = []
    for k in sorted(ids):
        x, y = (a == k) & s, (warped == k) & s
        vals.append(np.count_nonzero(x & y) / np.count_nonzero(x | y))
    return float(np.mean(vals))


@dataclass
class ConsistencyResult:
    """Temporal consistency of one sequence (see the module docstring)."""

    name: str
    values: list = field(default_factory=list)   # TC_t per pair
    frames: list = field(default_factory=list)   # frame number t of each pair
    method: str = ""

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else float("nan")

    @property
    def minimum(self) -> float:
        return float(np.min(self.values)) if self.values else float("nan")

    def row(self) -> dict:
        worst = self.frames[int(np.argmin(self.values))] if self.values else ""
        return {"sequence": self.name, "pairs": len(self.values), "TC_mean": self.mean, "TC_min": self.minimum,
                "worst_frame": worst, "flow": self.method}


def temporal_consistency(masks: Sequence, flows: Sequence, occluded: Sequence | None = None,
                         name: str = "") -> ConsistencyResult:
    """Temporal consistency of a sequence of masks, given the flows between its frames.

    Parameters
    ----------
    masks : sequence of array_like, (H, W)
        ``n`` label maps or bool masks.
    flows : sequence of array_like, (H, W, 2)
        ``n − 1`` flows; ``flows[t]`` goes from frame ``t`` to ``t + 1``.
    occluded : sequence of array_like of bool, optional
        ``n − 1`` maps of frame-``t`` pixels to leave out (occluded in ``t + 1``).

    Returns
    -------
    ConsistencyResult
        ``values[t]`` = ``TC_t``; ``mean`` is the sequence score.
    """
    if len(flows) != len(masks) - 1:
        raise EvalError(f"{len(masks)} masks need {len(masks) - 1} flows, got {len(flows)}")
    if occluded is not None and len(occluded) != len(flows):
        raise EvalError(f"{len(flows)} flows need as many occlusion maps, got {len(occluded)}")
    res = ConsistencyResult(name)
    for t in range(len(flows)):
        scored = None if occluded is None else ~np.asarray(occluded[t], bool)
        res.values.append(pair_consistency(masks[t], masks[t + 1], flows[t], scored))
        res.frames.append(t)
    return res


# --------------------------------------------------------------------------- files
def find_image_dir(images, name: str | None = None) -> Path:
    """The folder of input frames of a sequence.

    ``images`` is the frame folder itself, a CDnet sequence (``input/``), or a root holding
    ``<name>/`` (also under ``JPEGImages/480p`` of a DAVIS root).
    """
    root = Path(images)
    if not root.is_dir():
        raise EvalError(f"image folder {root} does not exist")

    def frames(d: Path) -> Path | None:
        for sub in (d / "input", d / "in", d):
            if sub.is_dir() and index_images(sub, "input frames"):
                return sub
        return None

    if name:
        for base in (root, root / "JPEGImages" / "480p", root / "JPEGImages"):
            if (base / name).is_dir() and (found := frames(base / name)) is not None:
                return found
    found = frames(root)
    if found is None:
        raise EvalError(f"no numbered input frames for {name or 'the sequence'} under {root}")
    return found


def evaluate_sequence(pred_dir, image_dir, flow: Callable, occlusion: Callable | None = None,
                      name: str | None = None) -> ConsistencyResult:
    """Temporal consistency of the predicted masks in ``pred_dir``.

    Parameters
    ----------
    pred_dir : path-like
        Numbered mask PNGs (CDnet ``bin%06d.png``, DAVIS ``%05d.png``, indexed or 0/255),
        read by :func:`classicseg.metrics.segmentation.read_label_map`.
    image_dir : path-like
        The input frames, matched by number (see :func:`find_image_dir`).
    flow : callable
        ``flow(first, second) -> (H, W, 2)`` between consecutive input frames, e.g.
        :func:`classicseg.stages.flow.flow_function` ``("dis")``; its ``__name__`` labels
        the result.
    occlusion : callable, optional
        ``occlusion(backward, forward) -> bool (H, W)``, e.g.
        :func:`classicseg.stages.flow.fb_occlusion`: also leave out pixels that fail this
        forward-backward check (twice the flow time).

    Pairs are consecutive predictions in number order (a gap in the numbering makes a pair
    across it).

    Raises
    ------
    EvalError
        Fewer than two predictions, a prediction without its input frame, size mismatch.
    """
    from classicseg.io.images import read_image

    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise EvalError(f"prediction folder {pred_dir} does not exist")
    preds = {n: p for n, p in index_images(pred_dir, "predictions").items() if p.suffix.lower() == ".png"}
    if len(preds) < 2:
        raise EvalError(f"{pred_dir} holds {len(preds)} numbered mask PNG(s); consistency needs at least 2")
    img_dir = find_image_dir(image_dir, name or pred_dir.name)
    imgs = index_images(img_dir, "input frames")
    missing = [n for n in sorted(preds) if n not in imgs]
    if missing:
        raise EvalError(f"{len(missing)} predictions in {pred_dir} have no input frame in {img_dir} "
                        f"(first: {preds[missing[0]].name})")
    fn = flow
    res = ConsistencyResult(name or pred_dir.name, method=getattr(flow, "__name__", "flow"))
    numbers = sorted(preds)

    def load(n: int) -> tuple[np.ndarray, np.ndarray]:
        m, im = read_label_map(preds[n]), read_image(imgs[n])
        if im.shape[:2] != m.shape:
            raise EvalError(f"prediction {preds[n].name} is {_size(m.shape)} but input frame {imgs[n].name} "
                            f"is {_size(im.shape)}")
        return m, im

    prev_mask, prev_img = load(numbers[0])
    for prev_n, n in pairwise(numbers):
        mask, img = load(n)
        if img.shape != prev_img.shape:
            raise EvalError(f"input frame {imgs[n].name} is {_size(img.shape)} but {imgs[prev_n].name} "
                            f"is {_size(prev_img.shape)}")
        f = fn(prev_img, img)
        scored = ~occlusion(f, fn(img, prev_img)) if occlusion is not None else None
        res.values.append(pair_consistency(prev_mask, mask, f, scored))
        res.frames.append(prev_n)
        prev_mask, prev_img = mask, img
    return res


def evaluate_dataset(pred_root, image_root, flow: Callable,
                     occlusion: Callable | None = None) -> list[ConsistencyResult]:
    """Temporal consistency of one prediction folder, or of each ``pred_root/<seq>`` with its
    frames under ``image_root`` (see :func:`find_image_dir`)."""
    pred_root = Path(pred_root)
    if not pred_root.is_dir():
        raise EvalError(f"prediction folder {pred_root} does not exist")
    if index_images(pred_root, "predictions"):
        return [evaluate_sequence(pred_root, image_root, flow, occlusion)]
    seqs = [d for d in sorted(pred_root.iterdir()) if d.is_dir() and index_images(d, "predictions")]
    if not seqs:
        raise EvalError(f"no numbered mask PNGs in {pred_root} or its sub-folders")
    return [evaluate_sequence(d, image_root, flow, occlusion, name=d.name) for d in seqs]
