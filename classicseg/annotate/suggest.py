"""Which frames to correct next: uncertainty carried along the propagation, and diversity.

A correction on frame ``k`` replaces, for every frame nearer to ``k`` than to any other
annotated frame, a mask propagated from far away by one propagated from ``k``. Errors of a
propagated mask grow with what happened between its keyframe and its frame, so the model
here is one of **drift**: each frame ``t`` gets a *transition cost* ``u_t`` (how much can
go wrong between frames ``t - 1`` and ``t``, :func:`transition_costs`), the expected
error of frame ``j`` grows with ``D_j``, the sum of ``u`` between ``j`` and
its nearest keyframe (the frame whose run it takes, as :class:`~classicseg.keyframes.Keyframed`
merges), and a candidate's *gain* is how much its correction lowers the sum of expected
errors (:func:`correction_gains`). The transition cost adds up what the engine knows:

* the propagation's own uncertainty (the area where its probability was between 0.2 and
  0.8, over the object's area) when the run kept it;
* the mask's disagreement with the previous mask carried along the optical flow
  (1 − IoU), and its area jump (|log| of the area ratio);
* forward-backward flow disagreement on the object (the share of its pixels that fail the
  check, :func:`~classicseg.stages.flow.fb_occlusion`);
* appearance change: the distance between the frames' embeddings (:func:`embed`).

**Diversity**: a frame whose appearance is far from every annotated frame (in the
embedding: colour histogram, HOG and LBP of a thumbnail) teaches the colour models
something new; the gain is raised by its density-weighted distance to the annotated
frames (:func:`novelty`; density: frames near many others count, a lone outlier less).
Picking ``K`` frames at once is greedy: the best frame is taken as annotated and the
gains recomputed (for novelty this is k-center greedy). Over several videos the gains are
compared across all of them, so frames are picked across the whole set.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from classicseg.errors import ClassicsegError

__all__ = ["Video", "embed", "transition_costs", "expected_errors", "correction_gains", "novelty", "suggest",
           "load_video", "suggest_folders", "NOVELTY_WEIGHT", "BASE_DRIFT"]

#: Drift every frame adds whatever the cues say (so that distance alone counts).
BASE_DRIFT = 0.02
#: How much a frame's novelty raises its gain (``gain * (1 + w * novelty)``).
NOVELTY_WEIGHT = 0.5
_THUMB = (64, 48)


def embed(image: np.ndarray) -> np.ndarray:
    """A cheap appearance embedding of a frame: an HSV colour histogram (8×4×4), the HOG
    of a 64×48 grey thumbnail and a uniform-LBP histogram, each L1-normalised and
    weighted by a third (so L1 distances lie in [0, 2]).

    References
    ----------
    N. Dalal, B. Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005;
    T. Ojala et al., "Multiresolution Gray-Scale and Rotation Invariant Texture
    Classification with Local Binary Patterns", TPAMI 2002.
    """
    from skimage.feature import hog, local_binary_pattern

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    small = cv2.resize(image, (160, 120), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    col = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    h = hog(cv2.resize(grey, _THUMB, interpolation=cv2.INTER_AREA), orientations=8, pixels_per_cell=(16, 16),
            cells_per_block=(1, 1), feature_vector=True)
    lbp = local_binary_pattern(grey, 8, 1, "uniform")
    tex = np.bincount(lbp.astype(np.int64).ravel(), minlength=10).astype(np.float64)
    parts = [col, h, tex]
    return np.concatenate([p / max(float(np.abs(p).sum()), 1e-9) / 3.0 for p in parts]).astype(np.float32)


def _l1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a[..., None, :] - b[None, ...]).sum(-1) if a.ndim == 2 else np.abs(a - b).sum(-1)


@dataclass
class Video:
    """What :func:`suggest` knows of one video.

    Attributes
    ----------
    costs : ndarray
        float ``(n,)`` transition costs (:func:`transition_costs`; ``costs[0]`` unused).
    embeddings : ndarray
        float32 ``(n, d)`` frame embeddings (:func:`embed`).
    labelled : set of int
        Frame positions already annotated (keyframes).
    name : str
        For several videos: how the result names it.
    """

    costs: np.ndarray
    embeddings: np.ndarray
    labelled: set = field(default_factory=set)
    name: str = ""

    def __len__(self) -> int:
        return len(self.costs)


def _mask_cues(prev: np.ndarray, cur: np.ndarray, back: np.ndarray, fwd: np.ndarray | None) -> float:
    from classicseg.stages.flow import fb_occlusion, warp

    warped = warp(prev, back) > 0.5
    union = np.count_nonzero(warped | cur)
    inconsistency = 1.0 - np.count_nonzero(warped & cur) / union if union else 0.0
    a0, a1 = np.count_nonzero(prev), np.count_nonzero(cur)
    jump = min(1.0, abs(float(np.log((a1 + 1.0) / (a0 + 1.0)))))
    fb = 0.0
    if fwd is not None and a1:
        fb = float(np.count_nonzero(fb_occlusion(back, fwd) & cur)) / a1
    return inconsistency + jump + fb


def transition_costs(frames, masks, uncertainty=None, embeddings=None, scale: float = 0.5,
                     previous: np.ndarray | None = None, changed=None) -> np.ndarray:
    """Per-frame transition cost ``u_t`` (module docstring) from the frames and their masks.

    Parameters
    ----------
    frames : sequence of ndarray
        uint8 ``(H, W, 3)`` frames in order.
    masks : sequence of ndarray
        ``(H, W)`` masks or ids (non-zero = object) of the same frames.
    uncertainty : sequence of float, optional
        The propagation's own per-frame uncertainty
        (:func:`~classicseg.keyframes.frame_uncertainty`).
    embeddings : ndarray, optional
        :func:`embed` of each frame (computed when not given).
    scale : float
        Resolution fraction of the DIS flows.
    previous, changed : optional
        Costs computed before and the frames whose masks changed since: only ``u_t`` with
        ``t`` or ``t - 1`` changed are computed again (after a correction, the span it
        recomputed).

    Returns
    -------
    ndarray
        float64 ``(n,)``; ``u_0 = 0``.
    """
    from classicseg.stages.flow import dis, make_dis

    n = len(frames)
    if len(masks) != n:
        raise ClassicsegError(f"suggest: {n} frames but {len(masks)} masks")
    if embeddings is None:
        embeddings = np.stack([embed(f) for f in frames]) if n else np.zeros((0, 1), np.float32)
    u = np.zeros(n)
    todo = set(range(n))
    if previous is not None and changed is not None and len(previous) == n:
        u = np.asarray(previous, np.float64).copy()
        todo = {t for c in changed for t in (c, c + 1) if 0 <= t < n}
    engine = make_dis("medium")
    prev_mask = None
    for t in range(n):
        m = np.asarray(masks[t]) > 0
        if m.shape != frames[t].shape[:2]:
            raise ClassicsegError(f"suggest: mask {t} is {m.shape[1]}x{m.shape[0]} but frame {t} is "
                                  f"{frames[t].shape[1]}x{frames[t].shape[0]}")
        if t > 0 and t in todo:
            cost = BASE_DRIFT + float(np.abs(embeddings[t] - embeddings[t - 1]).sum())
            if prev_mask.any() or m.any():
                back = dis(frames[t], frames[t - 1], scale=scale, engine=engine)
                fwd = dis(frames[t - 1], frames[t], scale=scale, engine=engine)
                cost += _mask_cues(prev_mask, m, back, fwd)
            if uncertainty is not None:
                cost += min(1.0, float(uncertainty[t]))
            u[t] = cost
        prev_mask = m
    return u


def expected_errors(costs: np.ndarray, labelled) -> np.ndarray:
    """Expected error of each frame, in units of drift: ``D_j``, the transition costs summed
    between ``j`` and its nearest labelled frame (ties go to the earlier one); unlabelled
    videos drift from frame 0.

    Linear in the drift, not a saturating ``1 - exp(-D_j)``: the costs are in no error unit,
    and a saturating model with costs of ~0.3 a frame counted every frame more than a few
    frames from a keyframe as wholly wrong, so that a pick was judged by the few frames next
    to it (measured on the eight DAVIS 2016 sequences, module docstring of
    ``samples/eval_annotate.py``)."""
    n = len(costs)
    keys = sorted(labelled) or [0]
    cum = np.concatenate([[0.0], np.cumsum(costs[1:])])  # cum[j] = sum u_1..u_j
    j = np.arange(n)
    ks = np.asarray(keys)
    dist = np.abs(j[:, None] - ks[None, :])
    near = ks[np.argmin(dist, axis=1)]  # argmin takes the first (earlier) key on ties
    return np.abs(cum[j] - cum[near])


def correction_gains(costs: np.ndarray, labelled) -> np.ndarray:
    """For each frame, how much annotating it lowers the sum of expected errors
    (0 for labelled frames)."""
    n = len(costs)
    base = expected_errors(costs, labelled).sum()
    gains = np.zeros(n)
    keys = set(labelled) or {0}
    for k in range(n):
        if k in keys:
            continue
        gains[k] = base - expected_errors(costs, keys | {k}).sum()
    return gains


def novelty(embeddings: np.ndarray, labelled_embeddings: np.ndarray, neighbours: int = 5) -> np.ndarray:
    """Density-weighted distance of each frame to the nearest labelled frame, in [0, 1].

    ``distance × density / max``, where density is ``exp(-r / median r)`` with ``r`` a
    frame's mean distance to its ``neighbours`` nearest frames (frames in a crowd count,
    a lone outlier less; Nguyen & Smeulders, "Active learning using pre-clustering",
    ICML 2004; the distance-to-labelled step is k-center greedy, Sener & Savarese 2018)."""
    e = np.asarray(embeddings, np.float32)
    if len(e) == 0:
        return np.zeros(0)
    if len(labelled_embeddings) == 0:
        return np.ones(len(e))
    d_lab = _l1(e, np.asarray(labelled_embeddings, np.float32)).min(axis=1)
    pair = _l1(e, e)
    m = min(neighbours, len(e) - 1)
    if m > 0:
        r = np.sort(pair, axis=1)[:, 1:m + 1].mean(axis=1)
        density = np.exp(-r / max(float(np.median(r)), 1e-9))
    else:
        density = np.ones(len(e))
    score = d_lab * density
    top = float(score.max())
    return score / top if top > 0 else score


def suggest(videos: list[Video], budget: int, novelty_weight: float = NOVELTY_WEIGHT) -> list[tuple[int, int]]:
    """The ``budget`` frames whose correction should help most, best first.

    Parameters
    ----------
    videos : list of Video
        One or several videos with their costs, embeddings and annotated frames.
    budget : int
        How many frames to pick (at most the number of frames not yet annotated).
    novelty_weight : float
        ``gain × (1 + w × novelty)``.

    Returns
    -------
    list of (video index, frame position)

    Raises
    ------
    ClassicsegError
        A budget below 1 or larger than the frames left to annotate.
    """
    free = sum(len(v) - max(1, len(set(v.labelled) & set(range(len(v))))) for v in videos)
    total = sum(len(v) for v in videos)
    if budget < 1:
        raise ClassicsegError(f"budget must be at least 1, got {budget}")
    if budget > free:
        raise ClassicsegError(f"budget {budget} is larger than the video: {total} frames, {free} not yet annotated")
    labelled = [set(v.labelled) or {0} for v in videos]  # no annotation yet: frame 0 starts the run
    all_emb = np.concatenate([v.embeddings for v in videos]) if videos else np.zeros((0, 1))
    offsets = np.cumsum([0] + [len(v) for v in videos])
    picks: list[tuple[int, int]] = []
    for _ in range(budget):
        lab_rows = [offsets[i] + k for i, ks in enumerate(labelled) for k in sorted(ks)]
        nov = novelty(all_emb, all_emb[lab_rows] if lab_rows else np.zeros((0, all_emb.shape[1])))
        best, best_score = None, -np.inf
        for i, v in enumerate(videos):
            gains = correction_gains(v.costs, labelled[i])
            score = gains * (1.0 + novelty_weight * nov[offsets[i]:offsets[i + 1]])
            score[sorted(labelled[i])] = -np.inf
            k = int(np.argmax(score))
            if score[k] > best_score:
                best, best_score = (i, k), float(score[k])
        if best is None:  # pragma: no cover - budget is checked above
            break
        picks.append(best)
        labelled[best[0]].add(best[1])
    return picks


# --------------------------------------------------------------------------- folders
def _sequence_dirs(input_root, masks_root) -> list[tuple[str, object, object]]:
    """``(name, frames folder, masks folder)``: the folders themselves when ``input_root``
    holds frames, else every sub-folder (at any depth) of ``input_root`` holding frames
    whose relative path exists under ``masks_root``."""
    from pathlib import Path

    from classicseg.io.images import IMAGE_EXTS

    inp, msk = Path(input_root), Path(masks_root)
    if not inp.exists():
        raise ClassicsegError(f"suggest: input not found: {inp}")
    if not msk.is_dir():
        raise ClassicsegError(f"suggest: masks folder not found: {msk}")

    def has_frames(d):
        return any(p.suffix.lower() in IMAGE_EXTS for p in d.iterdir() if p.is_file())

    if inp.is_file() or has_frames(inp):
        return [(inp.stem if inp.is_file() else inp.name, inp, msk)]
    out = []
    for d in sorted(p for p in inp.rglob("*") if p.is_dir()):
        rel = d.relative_to(inp)
        if has_frames(d) and (msk / rel).is_dir():
            out.append((str(rel), d, msk / rel))
    if not out:
        raise ClassicsegError(f"suggest: no folder of frames under {inp} with masks under {msk}")
    return out


def load_video(frames_path, masks_path, labelled=None, name: str = "") -> tuple[Video, list[str]]:
    """Read a video's frames and predicted masks (named like the frames) and compute its
    :class:`Video`; returns it and the frames' names."""
    from pathlib import Path

    from classicseg.io.masks import read_indexed_mask
    from classicseg.io.sources import open_source

    src = open_source(str(frames_path), prefetch=0)
    try:
        frames = [(s.name, s.image) for s in src]
    finally:
        src.close()
    if not frames:
        raise ClassicsegError(f"suggest: no frames in {frames_path}")
    masks = []
    for n, img in frames:
        p = Path(masks_path) / f"{n}.png"
        if not p.is_file():
            raise ClassicsegError(f"suggest: no mask {p.name} in {masks_path} for frame {n}")
        masks.append(read_indexed_mask(p))
    emb = np.stack([embed(f) for _, f in frames])
    costs = transition_costs([f for _, f in frames], masks, embeddings=emb)
    lab = set(labelled) if labelled else {0}
    bad = sorted(k for k in lab if not 0 <= k < len(frames))
    if bad:
        raise ClassicsegError(f"suggest: labelled frame {bad[0]} does not exist ({len(frames)} frames: "
                              f"0..{len(frames) - 1})")
    return Video(costs, emb, lab, name), [n for n, _ in frames]


def suggest_folders(input_root, masks_root, budget: int, labelled=None) -> tuple[list[dict], int]:
    """``classicseg suggest``: the ``budget`` frames to correct next across one video or a
    folder of videos, best first, as ``{"video", "frame" (0-based position), "name"}``, and
    the number of videos.

    The budget is checked against the frame count before any flow is computed."""
    from classicseg.io.images import IMAGE_EXTS

    seqs = _sequence_dirs(input_root, masks_root)
    if budget < 1:
        raise ClassicsegError(f"budget must be at least 1, got {budget}")
    total = 0
    for _, d, _ in seqs:
        total += sum(1 for p in d.iterdir() if p.suffix.lower() in IMAGE_EXTS) if d.is_dir() else budget + 1
    if budget >= total:  # one frame per video is taken as annotated
        raise ClassicsegError(f"budget {budget} is larger than the video: {total} frames "
                              f"({total - len(seqs)} not yet annotated)")
    videos, names = [], []
    for name, d, m in seqs:
        v, n = load_video(d, m, labelled if len(seqs) == 1 else None, name)
        videos.append(v)
        names.append(n)
    picks = [{"video": videos[i].name, "frame": k, "name": names[i][k]} for i, k in suggest(videos, budget)]
    return picks, len(videos)
