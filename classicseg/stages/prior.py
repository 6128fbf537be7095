"""Priors from other models (``prior.fuse``) and flow-aligned temporal smoothing
(``temporal.flow_smooth``).

``prior.fuse`` turns the ``prior`` slot (another model's mask, probability map or class
map, see :mod:`classicseg.io.priors`) into the ``prob`` slot: where a ``prob`` exists
(``vos.propagate`` ran before), the two are fused as a weighted sum of log-odds; where
none exists, the prior alone gives ``prob`` and ``fg``.

``temporal.flow_smooth`` makes a per-frame probability (or class map) temporally
consistent: the previous frames' smoothed class probabilities are carried to the
current frame along the backward flow and averaged with the current ones, except where
the flow is not to be trusted (occluded pixels, a large colour difference between the
pixel and where the flow says it came from). The chain
``flow.* -> prior.fuse -> temporal.flow_smooth -> refine.graphcut`` is the ``refine``
preset.

Multi-class maps (uint8 ids, 0 = background) are smoothed per id: each id present and
the background get a probability map (one-hot of the current map, softened by
``confidence``), all are averaged along the flow, and the ids are the arg-max; ``prob``
is one minus the background's probability. A refinement stage after it decides
foreground versus background and reassigns the smoothed ids to the pixels it keeps, so
ids are kept as they are (1 and 3 stay 1 and 3).
"""
from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from classicseg.errors import ClassicsegError
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.stages.flow import warp
from classicseg.stages.vos.logodds import fuse
from classicseg.types import Sample

__all__ = ["prior_prob", "fuse_prior", "flow_smooth", "warp_probs", "blend", "PriorFuse", "FlowSmooth"]

def prior_prob(prior: np.ndarray, confidence: float = 0.9) -> np.ndarray:
    """A prior as a foreground probability clipped to ``[1 - confidence, confidence]``.

    Parameters
    ----------
    prior : ndarray
        ``float (H, W)`` probability in [0, 1], ``bool`` mask, or ``uint8`` ids (any id
        > 0 is foreground).
    confidence : float
        In (0.5, 1): how far a hard 0/1 answer is trusted (0.9 -> log-odds ±2.2).

    Returns
    -------
    ndarray
        float32 ``(H, W)``.
    """
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence}")
    a = np.asarray(prior)
    if a.dtype == np.uint8 or a.dtype == bool:
        p = (a > 0).astype(np.float32)
    else:
        p = a.astype(np.float32)
    return np.clip(p, 1 - confidence, confidence)


def fuse_prior(prob: np.ndarray | None, prior: np.ndarray, weight: float = 1.0, confidence: float = 0.9) -> np.ndarray:
    """Fuse a prior into a probability: ``σ(logit(prob) + weight · logit(prior))``.

    Parameters
    ----------
    prob : ndarray or None
        float ``(H, W)`` probability from this pipeline (e.g. ``vos.propagate``), or None:
        then the prior alone gives ``σ(weight · logit(prior))``.
    prior : ndarray
        See :func:`prior_prob`.
    weight : float
        Weight of the prior's log-odds (0: the prior is ignored; no ``prob`` then gives 0.5).
    confidence : float
        See :func:`prior_prob`.

    Returns
    -------
    ndarray
        float32 ``(H, W)`` in [0, 1].

    References
    ----------
    G. E. Hinton, "Training Products of Experts by Minimizing Contrastive Divergence",
    Neural Computation 14(8), 2002 (a product of experts is a sum of log-odds).
    """
    q = prior_prob(prior, confidence)
    if prob is None:
        prob = np.full(q.shape, 0.5, np.float32)  # log-odds 0: no evidence
    elif np.shape(prob) != q.shape:
        raise ValueError(f"prob is {np.shape(prob)} but the prior is {q.shape}")
    return fuse(np.asarray(prob, np.float32), q, 1.0, weight)  # the vos log-odds sum


def _classes(prior: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, P)``: the labels (0 first) of an id map and their soft one-hot ``(K, H, W)``."""
    labels = np.unique(prior)
    if labels[0] != 0:
        labels = np.concatenate([[0], labels]).astype(np.uint8)
    k = len(labels)
    low = (1 - confidence) / max(k - 1, 1)
    onehot = (prior[None] == labels[:, None, None]).astype(np.float32)
    return labels, onehot * (confidence - low) + low


def warp_probs(previous: np.ndarray, flow: np.ndarray, image: np.ndarray | None = None,
               prev_image: np.ndarray | None = None, occlusion: np.ndarray | None = None,
               colour_threshold: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Carry probabilities of frame ``t − 1`` to frame ``t`` along the backward flow.

    Parameters
    ----------
    previous : ndarray
        float ``(H, W)`` or ``(K, H, W)`` probabilities of frame ``t − 1``.
    flow : ndarray
        float32 ``(H, W, 2)`` backward flow ``t -> t − 1``.
    image, prev_image : ndarray, optional
        uint8 frames ``t`` and ``t − 1`` for the colour check (skipped without them).
    occlusion : ndarray of bool, optional
        Pixels of frame ``t`` not visible in ``t − 1``.
    colour_threshold : float
        Colour difference (mean absolute over channels, 0..255) beyond which the flow
        is distrusted (0 disables the check).

    Returns
    -------
    warped : ndarray
        float32, the shape of ``previous``.
    trust : ndarray of bool
        ``(H, W)``: where the warped values may be used (flow inside the frame, not
        occluded, colours consistent).
    """
    prev = np.asarray(previous, np.float32)
    stack = prev if prev.ndim == 3 else prev[None]
    h, w = stack.shape[-2:]
    if flow.shape[:2] != (h, w):
        raise ValueError(f"flow is {flow.shape[1]}x{flow.shape[0]} but the probabilities are {w}x{h}")
    warped = np.empty_like(stack)
    for i in range(0, stack.shape[0], 4):  # cv2.remap takes up to 4 channels at once
        chunk = np.ascontiguousarray(np.moveaxis(stack[i:i + 4], 0, -1))
        out = warp(chunk, flow, border_value=-1.0)
        warped[i:i + 4] = out.reshape(h, w, -1).transpose(2, 0, 1)
    trust = warped[0] >= 0  # the flow stays inside the frame
    if occlusion is not None:
        trust &= ~occlusion
    if colour_threshold > 0 and image is not None and prev_image is not None:
        back = warp(prev_image, flow)
        diff = cv2.absdiff(image, back)
        d = diff.mean(axis=2) if diff.ndim == 3 else diff.astype(np.float32)
        trust &= d <= colour_threshold
    np.maximum(warped, 0, out=warped)
    return warped.reshape(prev.shape), trust


def blend(current: np.ndarray, warped: np.ndarray, trust: np.ndarray, alpha: float = 0.6,
          hold=None) -> np.ndarray:
    """``(1 − a)·current + a·warped`` with ``a = alpha`` where ``trust``, else 0.

    ``hold`` (one bool per channel of a ``(K, H, W)`` stack, or one bool for ``(H, W)``)
    marks channels the current frame missed: they take the warped past where it is
    trusted (``a = 1``).
    """
    if not 0 <= alpha < 1:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    cur = np.asarray(current, np.float32)
    if warped.shape != cur.shape:
        raise ValueError(f"previous is {warped.shape} but current is {cur.shape}")
    a = np.where(trust, np.float32(alpha), np.float32(0))
    out = (1 - a) * cur + a * warped
    if hold is not None:
        hold = np.atleast_1d(np.asarray(hold, bool))
        if cur.ndim == 2:
            if hold[0]:
                out = np.where(trust, warped, out)
        else:
            for k in np.flatnonzero(hold):
                out[k] = np.where(trust, warped[k], out[k])
    return out.astype(np.float32)


def flow_smooth(current: np.ndarray, previous: np.ndarray | None, flow: np.ndarray, image: np.ndarray | None = None,
                prev_image: np.ndarray | None = None, occlusion: np.ndarray | None = None, alpha: float = 0.6,
                colour_threshold: float = 30.0) -> np.ndarray:
    """One step of flow-aligned recursive averaging of class probabilities.

    ``S_t(x) = (1 − a(x))·P_t(x) + a(x)·S_{t−1}(x + f(x))`` with ``f`` the backward flow of
    frame ``t`` and ``a(x) = alpha`` where the flow is trusted, 0 where it is not: pixels
    in ``occlusion``, pixels whose flow leaves the frame, and pixels whose colour differs
    from the colour at ``x + f(x)`` in the previous frame by more than
    ``colour_threshold`` (see :func:`warp_probs` and :func:`blend`).

    Parameters
    ----------
    current : ndarray
        float ``(H, W)`` or ``(K, H, W)`` probabilities of frame ``t``.
    previous : ndarray or None
        The smoothed result of frame ``t − 1`` (same shape), or None (first frame: ``current``).
    flow, image, prev_image, occlusion, colour_threshold
        See :func:`warp_probs`.
    alpha : float
        In [0, 1): weight of the past (0: no smoothing; 0.6: the last ~2.5 frames count).

    Returns
    -------
    ndarray
        float32, the shape of ``current``.

    References
    ----------
    N. Märki, F. Perazzi, O. Wang, A. Sorkine-Hornung, "Bilateral Space Video
    Segmentation", CVPR 2016 and F. Perazzi et al., "Fully Connected Object Proposals
    for Video Segmentation", ICCV 2015 (temporal propagation of soft labels along
    flow); W.-S. Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018
    (flow-warped previous output blended with the current one, masked by a
    photometric occlusion test).
    """
    cur = np.asarray(current, np.float32)
    if not 0 <= alpha < 1:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    if previous is None or alpha == 0:
        return cur.copy()
    if previous.shape != cur.shape:
        raise ValueError(f"previous is {previous.shape} but current is {cur.shape}")
    warped, trust = warp_probs(previous, flow, image, prev_image, occlusion, colour_threshold)
    return blend(cur, warped, trust, alpha)


# --------------------------------------------------------------------------- stages
class PriorFuseParams(Params):
    weight: float = Field(1.0, ge=0, le=10, description="weight of the prior's log-odds (0: ignore the prior)")
    confidence: float = Field(0.9, gt=0.5, lt=1, description="a hard 0/1 prior counts as this probability")


@register
class PriorFuse(Stage):
    """Fuse another model's per-frame prior into prob (log-odds sum); alone it gives prob and fg.

    Reads the ``prior`` slot (set by ``classicseg run --prior DIR`` or
    :func:`classicseg.io.priors.attach_prior`). With a ``prob`` from an earlier stage,
    writes ``σ(logit(prob) + weight·logit(prior))``; a frame whose ``prob`` is exactly
    0/1 (a given annotation, e.g. the first frame of ``vos.propagate``) is left as it is.
    Without a ``prob``, the prior alone gives ``prob`` and ``fg = prob > 0.5``, and an id
    prior also gives ``ids``.
    """

    name = "prior.fuse"
    Params = PriorFuseParams
    requires = ("image", "prior")
    provides = ("prob", "fg", "ids")
    cite = "G. E. Hinton, Training Products of Experts by Minimizing Contrastive Divergence, Neural Computation 2002"

    def process(self, sample: Sample) -> Sample:
        prior = sample.data.get("prior")
        if prior is None:
            raise ClassicsegError(f"{self.name}: frame {sample.name} has no prior (give --prior DIR, or "
                                  f"attach_prior(source, prior) from Python)")
        if prior.shape != sample.shape:
            raise ClassicsegError(f"{self.name}: prior is {prior.shape[1]}x{prior.shape[0]} but the frame is "
                                  f"{sample.shape[1]}x{sample.shape[0]}")
        p = self.params
        prob = sample.data.get("prob")
        if prob is not None:
            if np.all((prob == 0) | (prob == 1)):
                return sample
            sample["prob"] = fuse_prior(prob, prior, p.weight, p.confidence)
            return sample
        sample["prob"] = fuse_prior(None, prior, p.weight, p.confidence)
        sample["fg"] = sample["prob"] > 0.5
        if prior.dtype == np.uint8 and "ids" not in sample:
            sample["ids"] = np.where(sample["fg"], prior, 0).astype(np.uint8)
        return sample


class FlowSmoothParams(Params):
    alpha: float = Field(0.6, ge=0, lt=1, description="weight of the flow-warped past (0: no smoothing)")
    colour_threshold: float = Field(15.0, ge=0, le=255,
                                    description="distrust the flow where colours differ by more than this (0: off)")
    confidence: float = Field(0.9, gt=0.5, lt=1, description="an id map counts as this probability for its id")
    miss_ratio: float = Field(
        0.2, ge=0, lt=1, description="an object whose area drops below this share of its flow-warped past "
        "counts as missed by the model: the past is carried over (0: off)")
    max_misses: int = Field(3, ge=0, le=100, description="consecutive frames an object may be carried over")


@register
class FlowSmooth(Stage):
    """Temporally consistent prob (and ids) by flow-aligned, occlusion-aware recursive averaging.

    Binary case: smooths ``prob``. Multi-class case (the sample's ``prior`` is a uint8 id
    map): smooths one probability map per id and the background, writes ``ids`` (the
    arg-max, where foreground) and ``prob`` (1 − background). Writes ``fg = prob > 0.5``;
    a refinement stage after it sharpens the boundary. A frame where an object (nearly)
    vanished while its flow-warped past is there (``miss_ratio``) is taken as a miss of
    the model: the object's past is carried over, for at most ``max_misses`` frames in a
    row (then the model is believed: the object has left).
    """

    name = "temporal.flow_smooth"
    bytes_per_pixel = 64  # per-pixel state, for the memory check before the first frame
    Params = FlowSmoothParams
    requires = ("image", "flow", "prob")
    provides = ("prob", "fg", "ids")
    cite = ("W.-S. Lai et al., Learning Blind Video Temporal Consistency, ECCV 2018; "
            "N. Märki et al., Bilateral Space Video Segmentation, CVPR 2016")

    def reset(self) -> None:
        self.prev: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.prev_image: np.ndarray | None = None
        self.misses: dict[int, int] = {}

    def _current(self, sample: Sample) -> tuple[np.ndarray, np.ndarray | None]:
        prior = sample.data.get("prior")
        if prior is None or prior.dtype != np.uint8:
            return sample["prob"][None], None
        labels, onehot = _classes(prior, self.params.confidence)
        # scale the id one-hot so that its foreground mass is the (fused) prob
        prob = sample["prob"]
        onehot[0] = 1 - prob
        fgmass = onehot[1:].sum(axis=0)
        onehot[1:] *= (prob / np.maximum(fgmass, 1e-6))[None]
        return onehot, labels

    def process(self, sample: Sample) -> Sample:
        p = self.params
        cur, labels = self._current(sample)
        prev = self.prev
        if labels is not None:
            known = self.labels if self.labels is not None else np.zeros(1, np.uint8)
            union = np.union1d(known, labels).astype(np.uint8)
            cur = _expand(cur, labels, union)
            if prev is not None:
                prev = _expand(prev, known, union) if prev.shape[0] == len(known) else None
            self.labels = union
        elif self.labels is not None and prev is not None and prev.shape[0] != 1:
            prev = (1 - prev[0])[None]  # the id maps stopped: keep only the foreground mass
            self.labels = None
        flow = sample["flow"]
        if self.prev_image is not None and self.prev_image.shape != sample.image.shape:
            prev = None
        if prev is None:
            out = cur.copy()
        else:
            warped, trust = warp_probs(prev, flow, sample.image, self.prev_image, sample.data.get("occlusion"),
                                       p.colour_threshold)
            hold = self._missed(cur, warped, trust)
            out = blend(cur, warped, trust, p.alpha, hold)
            if hold.any() and out.shape[0] > 1:
                c = p.confidence  # no more sure of the background than an id map is
                out[0] = np.clip(1 - out[1:].sum(axis=0), 1 - c, c)
        self.prev, self.prev_image = out, sample.image
        if out.shape[0] == 1:
            sample["prob"] = out[0]
        else:
            sample["prob"] = np.clip(1 - out[0], 0, 1).astype(np.float32)
            best = np.argmax(out[1:], axis=0)
            sample["ids"] = np.where(sample["prob"] > 0.5, self.labels[1:][best], 0).astype(np.uint8)
        sample["fg"] = sample["prob"] > 0.5
        return sample

    def _missed(self, cur: np.ndarray, warped: np.ndarray, trust: np.ndarray) -> np.ndarray:
        """Foreground channels the current frame (nearly) lost although the past has them."""
        p = self.params
        hold = np.zeros(cur.shape[0], bool)
        if p.miss_ratio <= 0 or p.max_misses == 0:
            return hold
        first = 0 if cur.shape[0] == 1 else 1
        for k in range(first, cur.shape[0]):
            key = -1 if first == 0 else int(self.labels[k])
            before = int(np.count_nonzero((warped[k] > 0.5) & trust))
            now = int(np.count_nonzero(cur[k] > 0.5))
            missed = before >= 16 and now < p.miss_ratio * before
            if not missed:
                self.misses[key] = 0
            elif self.misses.get(key, 0) < p.max_misses:  # past the limit: gone (until it is seen again)
                hold[k] = True
                self.misses[key] = self.misses.get(key, 0) + 1
        return hold


def _expand(stack: np.ndarray, labels: np.ndarray, union: np.ndarray) -> np.ndarray:
    """Class maps ``stack`` (one per ``labels``) as maps over ``union`` (absent ids: 0)."""
    if len(labels) == len(union) and np.array_equal(labels, union):
        return stack
    out = np.zeros((len(union),) + stack.shape[1:], np.float32)
    out[np.searchsorted(union, labels)] = stack
    return out
