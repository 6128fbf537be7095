"""Semi-supervised video object segmentation by mask propagation (``vos.propagate``).

Given the object's mask on the first frame, each later frame gets a foreground
probability (``prob``) that fuses these cues, as in ObjectFlow (Tsai et al. 2016) and
its predecessors:

* **motion**: the previous frame's final mask carried to the current frame along the
  backward optical flow (``flow`` slot, see :mod:`classicseg.stages.flow`), blurred in
  proportion to the local motion so that its edge is uncertain where the flow is; pixels
  in the ``occlusion`` slot get no motion evidence (:func:`~classicseg.stages.vos.cues.motion_prior`);
* **appearance**: colour histograms of the object and of the background around it
  (:mod:`~classicseg.stages.vos.appearance`), built on the first frame; optionally a
  second, recent colour model and a colour-and-texture classifier
  (:mod:`~classicseg.stages.vos.texture`), both learned from the first frame and from the
  pixels of later frames that independent cues label with confidence
  (:func:`~classicseg.stages.vos.cues.confident_labels`), so that they follow the object
  into shade without learning the mask's own errors;
* **motion coherence** (``w_flow``): pixels that move with the object rather than with
  its surroundings (:func:`~classicseg.stages.vos.cues.motion_coherence`);
* **shape** (``w_shape``): the first-frame mask carried by the object's accumulated
  affine motion (:class:`~classicseg.stages.vos.shape.ShapeTemplate`), weighted by how
  rigid the object's motion has been.

The cues are combined as a sum of weighted log-odds (a product of experts,
:mod:`~classicseg.stages.vos.logodds`). The warped mask's own confidence is bounded
(``motion_confidence``) so that the other cues can correct it where it drifted, and
(``linked``) parts of ``prob > 0.5`` that do not touch the warped mask are dropped. A
refinement stage (``refine.graphcut``) then turns ``prob`` into the final ``fg``; the
stage declares ``fg`` as feedback, so the pipeline hands it that final mask
(:meth:`Propagate.observe`) before the next frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from classicseg.errors import ClassicsegError
from classicseg.geometry import roi_box
from classicseg.io.masks import check_init_mask, read_init_mask
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.stages.vos.appearance import ColorModel, TwoColourModels, fuse_in_box, model_regions, to_colour_space
from classicseg.stages.vos.cues import (confident_labels, flow_consistency, motion_coherence, motion_prior,
                                        main_parts, superpixel_mean, trusted_prior, bounded_prior, unlinked_capped)
from classicseg.stages.vos.ids import warp_ids
from classicseg.stages.vos.local import local_classifiers
from classicseg.stages.vos.logodds import logit, sigmoid
from classicseg.stages.vos.redetect import Redetector
from classicseg.stages.vos.shape import ShapeTemplate
from classicseg.stages.vos.texture import PixelClassifier, pixel_features
from classicseg.types import Sample

__all__ = ["PropagateParams", "Propagation", "propagate", "Propagate"]


class PropagateParams(Params):
    init_mask: str | None = Field(None, description="first-frame mask PNG (DAVIS: Annotations/480p/<seq>/00000.png)")
    mode: Literal["global", "local"] = Field(
        "global", description="global: warped mask + one colour model; local: Video SnapCut local classifiers "
        "along the contour, then the global colour model")
    sigma: float = Field(2.0, ge=0, le=50, description="base blur of the warped mask (px)")
    motion_sigma: float = Field(0.1, ge=0, le=5, description="extra blur per pixel of object motion")
    w_motion: float = Field(1.0, ge=0, le=10, description="weight of the motion log-odds")
    w_colour: float = Field(1.0, ge=0, le=10, description="weight of the colour log-odds (0: motion only)")
    bins: int = Field(32, ge=2, le=64, description="colour histogram levels per channel")
    colour_limit: float = Field(0.0, ge=0, le=10, description="clip of the colour log-odds (0: none; the "
                                "posterior is then kept within [0.001, 0.999])")
    colour_space: Literal["bgr", "lab", "hsv"] = Field("lab", description="colour space of the histograms")
    band: int = Field(2000, ge=1, le=10000, description="background model: pixels within this distance of the object (px)")
    confident: int = Field(5, ge=0, le=100, description="learn only pixels this far (px) inside/outside the mask")
    rate: float = Field(0.0, ge=0, le=1, description="colour model update rate per frame (0: first frame only)")
    margin: float = Field(0.15, ge=0, le=2, description="work box around the warped mask, fraction of its size")
    min_margin: int = Field(16, ge=0, le=500, description="smallest work-box margin (px)")
    motion_confidence: float = Field(
        1.0, gt=0.5, le=1, description="largest probability the warped mask alone gives (1: trusted fully; lower "
        "lets a confident colour overrule it)")
    motion_floor: float = Field(
        0.0, ge=0, lt=0.5, description="smallest probability the warped mask gives outside it (0: 1 - "
        "motion_confidence; higher lets a confident appearance grow back a part the warp lost)")
    floor_centred: bool = Field(
        False, description="motion_floor: map the warped mask's [0, 0.5] to [floor, 0.5] and [0.5, 1] to [0.5, "
        "motion_confidence], so that its edge (0.5) stays where the flow put it; off: one line from floor to "
        "confidence, which moves the edge outwards when floor > 1 - confidence")
    w_flow: float = Field(0.0, ge=0, le=10, description="weight of the motion-coherence log-odds (0: off)")
    coherence_model: Literal["translation", "affine"] = Field(
        "translation", description="motion coherence: the object's and the surroundings' motion as one "
        "translation each (median flow) or as affine maps (RANSAC; objects that turn or zoom)")
    linked: bool = Field(False, description="lower components of prob > 0.5 that do not touch the warped mask")
    link_radius: int = Field(0, ge=0, le=100, description="linked: components within this distance (px) of "
                             "the warped mask count as touching it")
    min_part: float = Field(0.0, ge=0, lt=1, description="linked: only pieces of the warped mask with at least "
                            "this share of the largest piece's area count (0: all)")
    recent_weight: float = Field(
        0.0, ge=0, le=1, description="a second colour model learned from the confidently labelled pixels of "
        "recent frames (see recent_gate, coherence_gate): its share of the colour log-odds (0: off)")
    recent_combine: Literal["mix", "max"] = Field(
        "mix", description="mix: (1 - w) * first-frame + w * recent log-odds; max: the larger of the two")
    recent_rate: float = Field(0.3, gt=0, le=1, description="update rate per frame of the recent colour model")
    recent_band: int = Field(60, ge=5, le=2000, description="recent models learn background within this distance "
                             "(px) outside the object (and inside the work box)")
    recent_gate: float = Field(
        0.9, ge=0.5, le=1, description="recent models learn a pixel only where the motion prior gave its final "
        "label at least this probability")
    coherence_gate: float = Field(
        0.0, ge=0, le=4, description="recent models learn a mask pixel as background when its motion-coherence "
        "log-odds are at most minus this (it moves with the surroundings), and not a pixel outside it whose "
        "log-odds are at least this (0: off; needs w_flow > 0)")
    colour_gate: float = Field(
        1.0, ge=0, le=1, description="recent models learn a pixel outside the mask as background only where the "
        "first-frame colour model gives it at most this object probability (1: off)")
    w_texture: float = Field(
        0.0, ge=0, le=10, description="weight of the colour-and-texture classifier's log-odds (0: off)")
    texture_limit: float = Field(4.0, gt=0, le=20, description="clip of the classifier's log-odds")
    texture_memory: int = Field(
        3, ge=0, le=50, description="recent frames whose confidently labelled pixels train the classifier "
        "besides the first frame (0: first frame only)")
    texture_samples: int = Field(3000, ge=100, le=100000, description="classifier: pixels per class and frame")
    consistency_sigma: float = Field(
        0.0, ge=0, le=255, description="temporal edges: the warped mask's confidence at a pixel is scaled by "
        "exp(-(e/sigma)^2), e the colour difference to where the flow says it came from (0: off)")
    trust_sigma: float = Field(
        0.0, ge=0, le=255, description="beyond trust_reach px outside the warped mask, lower its background "
        "probability towards 1 - trust_confidence as far as the flow is consistent there (colour difference e to "
        "where it says the pixel came from, weight exp(-(e/sigma)^2)) (0: off)")
    trust_confidence: float = Field(0.97, gt=0.5, lt=1, description="trust_sigma: background probability 1 - c "
                                    "where the flow is fully consistent")
    trust_reach: float = Field(10.0, ge=0, le=200, description="trust_sigma: distance (px) outside the warped "
                               "mask beyond which the trust applies (a lost part nearer may grow back)")
    superpixel: int = Field(0, ge=0, le=100, description="superpixel-level appearance: side (px) of the SLIC "
                            "superpixels the fused log-odds are averaged over (0: off)")
    w_superpixel: float = Field(0.5, ge=0, le=1, description="share of the superpixel average in the log-odds")
    redetect: bool = Field(
        False, description="search the whole frame with the appearance models when the object is lost (its area "
        "below lost_ratio of its recent size) and re-seed the propagation from a confident match")
    lost_ratio: float = Field(0.2, gt=0, lt=1, description="redetect: the object is lost below this share of "
                              "its recent area (recent models do not learn from such frames)")
    redetect_accept: float = Field(0.75, gt=0.5, le=1, description="redetect: smallest mean appearance "
                                   "probability of a re-detected region")
    w_shape: float = Field(0.0, ge=0, le=20, description="weight of the shape template's evidence (0: off)")
    shape_floor: float = Field(0.5, ge=0, lt=1, description="rigidity at which the template starts to count")
    shape_depth: int = Field(10, ge=0, le=200, description="template evidence only this far (px) inside it")
    shape_outside: float = Field(0.0, ge=0, le=1, description="share of the template's weight given as "
                                 "background evidence beyond shape_depth px outside it (0: positive only)")
    win: int = Field(60, ge=8, le=400, description="local mode: classifier window side (px)")
    local_bins: int = Field(8, ge=2, le=32, description="local mode: histogram levels per channel")


@dataclass
class Propagation:
    """What :func:`propagate` computed for one frame.

    Attributes
    ----------
    prob : ndarray
        float32 ``(H, W)`` foreground probability in [0, 1].
    prior : ndarray
        float32 ``(H, W)`` motion prior (the warped previous mask, softened).
    box : (y0, y1, x0, x1) or None
        The work box around the warped mask (``None``: the object was lost).
    features : ndarray or None
        The box's :func:`~classicseg.stages.vos.texture.pixel_features` (when the classifier ran).
    coherence : ndarray or None
        The box's motion-coherence log-odds (when ``w_flow`` > 0).
    """

    prob: np.ndarray
    prior: np.ndarray
    box: tuple[int, int, int, int] | None
    features: np.ndarray | None = None
    coherence: np.ndarray | None = None


def propagate(image, prev_mask, flow, params: PropagateParams | None = None,
              colour: ColorModel | TwoColourModels | None = None, occlusion=None,
              classifier: PixelClassifier | None = None, shape: ShapeTemplate | None = None,
              prev_image: np.ndarray | None = None) -> Propagation:
    """Foreground probability of frame ``t`` from the previous mask, the flow and a colour model.

    Parameters
    ----------
    image : ndarray
        uint8 ``(H, W, 3)`` frame ``t`` (the colour space the model was built in).
    prev_mask : ndarray
        bool ``(H, W)`` final mask of frame ``t - 1``.
    flow : ndarray
        float32 ``(H, W, 2)`` backward flow ``t -> t - 1``.
    params : PropagateParams, optional
        The weights and sizes (defaults: :class:`PropagateParams`'s). Those used here:
        ``sigma``, ``motion_sigma`` (:func:`~classicseg.stages.vos.cues.motion_prior`);
        ``w_motion``, ``w_colour`` (the two log-odds of the colour fusion); ``margin``,
        ``min_margin`` (the cues are applied only inside the bounding box of the warped
        mask grown by ``margin`` × its size, at least ``min_margin`` px; the probability
        is 0 outside it); ``motion_confidence`` (the largest probability the warped mask
        alone gives: with ``c < 1`` the motion prior is mapped from [0, 1] to [1 − c, c]
        before the fusion, so that a confident colour can overrule it; ``motion_floor``, when
        set, replaces the lower end ``1 − c``; ``floor_centred`` keeps 0.5 at 0.5,
        :func:`~classicseg.stages.vos.cues.bounded_prior`); ``trust_sigma``, ``trust_confidence``,
        ``trust_reach`` (background beyond ``trust_reach`` px of the warped mask made firmer where
        the flow is consistent, :func:`~classicseg.stages.vos.cues.trusted_prior`); ``linked``
        (components of ``prob > 0.5`` that do not touch the warped mask are lowered to
        ``1 − motion_confidence``); ``w_flow`` (motion coherence); ``w_texture``,
        ``texture_limit`` (the classifier's log-odds, clipped); ``w_shape`` (the shape
        template's evidence).
    colour : ColorModel or TwoColourModels, optional
        Appearance model; ``None`` (or not ready) uses motion only.
    occlusion : ndarray of bool, optional
        See :func:`~classicseg.stages.vos.cues.motion_prior`.
    classifier : PixelClassifier, optional
        Colour-and-texture classifier (used when ready and ``w_texture`` > 0).
    shape : ShapeTemplate, optional
        Advanced by this frame's flow (used when ``w_shape`` > 0).
    prev_image : ndarray, optional
        Frame ``t - 1`` in the colour space of ``image``: with ``consistency_sigma`` > 0 the
        warped mask's evidence at each pixel is scaled by
        :func:`~classicseg.stages.vos.cues.flow_consistency` (a temporal edge).

    Returns
    -------
    Propagation
        The probability and what the learning step reuses (prior, box, features, coherence).

    References
    ----------
    Y.-H. Tsai, M.-H. Yang, M. J. Black, "Video Segmentation via Object Flow", CVPR 2016.
    """
    p = params if params is not None else PropagateParams()
    if not 0.5 < p.motion_confidence <= 1.0:
        raise ValueError(f"motion_confidence must be in (0.5, 1], got {p.motion_confidence}")
    pm = motion_prior(prev_mask, flow, occlusion, p.sigma, p.motion_sigma)
    core = pm > 0.5
    box = roi_box(core, p.margin, p.min_margin)
    out = Propagation(pm, pm, box)
    if colour is None:
        return out
    c = p.motion_confidence
    floor = p.motion_floor or 1.0 - c  # the warped mask's evidence is mapped from [0, 1] to [floor, c]
    if p.motion_floor and p.floor_centred:
        soft = bounded_prior(pm, floor, c)
    else:
        soft = floor + (c - floor) * pm
    if p.consistency_sigma > 0 and prev_image is not None and box is not None:
        soft = 0.5 + (soft - 0.5) * flow_consistency(image, prev_image, flow, p.consistency_sigma, box)
    if p.trust_sigma > 0 and prev_image is not None and box is not None:
        soft = trusted_prior(soft, core, flow_consistency(image, prev_image, flow, p.trust_sigma, box),
                             p.trust_confidence, p.trust_reach)
    prob = fuse_in_box(soft, image, colour, p.w_motion, p.w_colour, p.margin, p.min_margin, box=box,
                       limit=p.colour_limit)
    use_texture = classifier is not None and classifier.ready and p.w_texture > 0
    use_shape = shape is not None and p.w_shape > 0
    if use_shape:
        shape.step(flow, core)
    if box is not None and (p.w_flow > 0 or use_texture or use_shape or p.superpixel > 0):
        y0, y1, x0, x1 = box
        z = logit(prob[y0:y1, x0:x1])
        if p.w_flow > 0:
            coh = motion_coherence(flow, core, box, model=p.coherence_model)[y0:y1, x0:x1]
            z += p.w_flow * coh
            out.coherence = coh
        if use_texture:
            feats = pixel_features(image, box)
            z += p.w_texture * np.clip(classifier.logit(feats), -p.texture_limit, p.texture_limit)
            out.features = feats
        if use_shape:
            z += p.w_shape * shape.evidence()[y0:y1, x0:x1]
        if p.superpixel > 0:
            z = (1 - p.w_superpixel) * z + p.w_superpixel * superpixel_mean(image[y0:y1, x0:x1], z, p.superpixel)
        prob[y0:y1, x0:x1] = sigmoid(z)
    if p.linked:
        prob = unlinked_capped(prob, main_parts(core, p.min_part), 1.0 - c, p.link_radius)
    out.prob = prob
    return out


@register
class Propagate(Stage):
    """Object probability from the previous mask warped by the flow, fused with colour models.

    Needs the first-frame mask (``init_mask``, or :meth:`set_init_mask`, which a run's
    ``--init-mask`` uses); on the first frame it writes that mask as ``prob``, ``fg`` and
    ``ids``. On later frames it writes ``prob``, ``ids`` and its own ``fg = prob > 0.5``,
    which a refinement stage after it replaces. The final ``fg`` of each frame comes back
    to it through :meth:`observe` (declared ``feedback``) and is the mask it carries to the
    next frame. A lost object (empty previous mask) is searched for from the last
    non-empty mask.
    """

    name = "vos.propagate"
    bytes_per_pixel = 400  # per-pixel state, for the memory check before the first frame
    Params = PropagateParams
    requires = ("image", "flow")
    provides = ("prob", "ids", "fg")
    feedback = ("fg", "ids")
    needs = ("init_mask",)
    cite = ("Y.-H. Tsai, M.-H. Yang, M. J. Black, Video Segmentation via Object Flow, CVPR 2016; "
            "X. Bai et al., Video SnapCut, SIGGRAPH 2009; M. A. Fischler, R. C. Bolles, Random Sample "
            "Consensus, CACM 1981; T. Ojala et al., Multiresolution Gray-Scale and "
            "Rotation Invariant Texture Classification with Local Binary Patterns, TPAMI 2002")

    def reset(self) -> None:
        self.init: np.ndarray | None = None
        if self.params.init_mask is not None:
            self.init = read_init_mask(self.params.init_mask)
        self.prev_ids: np.ndarray | None = None     # ids of the previous frame's sample
        self.prev_img: np.ndarray | None = None     # the previous frame in the models' colour space
        self.final: np.ndarray | None = None        # the previous frame's final fg (feedback)
        self.last: np.ndarray | None = None
        self.colour = ColorModel(self.params.bins)
        p = self.params
        self.classifier = PixelClassifier(p.texture_samples, p.texture_memory) if p.w_texture > 0 else None
        self.parts: Propagation | None = None
        self.shape: ShapeTemplate | None = None
        self.redetector = Redetector(p.lost_ratio, p.redetect_accept) if p.redetect else None
        self.colour_pair = (TwoColourModels(self.colour, ColorModel(p.bins), p.recent_weight, p.recent_combine)
                            if p.recent_weight > 0 else None)

    def set_init_mask(self, ids: np.ndarray) -> None:
        """Give the first-frame object ids (or a bool mask) directly instead of ``init_mask``."""
        ids = np.asarray(ids)
        if ids.dtype == bool:
            ids = ids.view(np.uint8)
        check_init_mask(ids, None)
        self.init = ids.astype(np.uint8)
        self.prev_img = None

    def observe(self, sample: Sample) -> None:
        """The finished sample of the frame just processed: its ``fg`` and ``ids`` (as a
        refinement stage left them) are what is carried to the next frame."""
        self.final = sample.data.get("fg")
        self.prev_ids = sample.data.get("ids")

    def _learn(self, image: np.ndarray, mask: np.ndarray, rate: float) -> None:
        fg, bg = model_regions(mask, self.params.band, self.params.confident)
        self.colour.update(image, fg, bg, rate)

    def _confident(self, mask: np.ndarray, first: bool):
        """The previous frame's work box and the pixels in it to learn from: on the first
        frame all of them (:func:`model_regions`), later :func:`confident_labels`."""
        p, parts = self.params, self.parts
        if parts is None or parts.box is None:
            return None
        y0, y1, x0, x1 = parts.box
        if first:
            fg, bg = model_regions(mask, p.recent_band, p.confident)
            return parts.box, fg[y0:y1, x0:x1], bg[y0:y1, x0:x1]
        coh = parts.coherence if p.coherence_gate > 0 else None
        col = self.colour.posterior(self.prev_img[y0:y1, x0:x1]) if p.colour_gate < 1 else None
        fg, bg = confident_labels(mask[y0:y1, x0:x1], parts.prior[y0:y1, x0:x1], coh, p.confident,
                                  p.recent_band, p.recent_gate, p.coherence_gate, col, p.colour_gate)
        return parts.box, fg, bg

    def _learn_recent(self, mask: np.ndarray, first: bool) -> None:
        lab = self._confident(mask, first)
        if lab is None:
            return
        (y0, y1, x0, x1), fg, bg = lab
        feats = self.parts.features
        if self.classifier is not None and feats is not None:
            self.classifier.add(feats, fg, bg, anchor=first)
        if self.colour_pair is not None and not first and fg.any() and bg.any():
            self.colour_pair.recent.update(self.prev_img[y0:y1, x0:x1], fg, bg,
                                           1.0 if not self.colour_pair.recent.ready else self.params.recent_rate)

    def _appearance(self, img: np.ndarray) -> np.ndarray:
        """Appearance-only object probability of the whole frame: the first-frame colour model
        and the colour-and-texture classifier, fused as in :func:`propagate` (no location prior)."""
        p = self.params
        z = p.w_colour * logit(self.colour.posterior(img))
        if self.classifier is not None and self.classifier.ready and p.w_texture > 0:
            z += p.w_texture * np.clip(self.classifier.logit(pixel_features(img)), -p.texture_limit, p.texture_limit)
        return sigmoid(z)

    def _object_id(self) -> int:
        """The id of the (single or largest) object in the first-frame ids."""
        ids = self.init[self.init > 0]
        return int(np.bincount(ids).argmax()) if ids.size else 1

    def _first(self, sample: Sample, img: np.ndarray) -> Sample:
        p = self.params
        if self.init is None:
            raise ClassicsegError(f"{self.name}: no first-frame mask (set init_mask, or --init-mask)")
        check_init_mask(self.init, sample.shape, "init mask")
        mask = self.init > 0
        self._learn(img, mask, 1.0)
        if self.colour_pair is not None:  # a new first frame (e.g. a keyframe): forget the recent colours
            self.colour_pair.recent = ColorModel(p.bins)
        if self.classifier is not None:
            box = roi_box(mask, p.margin, p.min_margin)
            self.parts = Propagation(mask.astype(np.float32), mask.astype(np.float32), box,
                                     features=pixel_features(img, box))
            self._learn_recent(mask, first=True)
            self.parts = None
        self.shape = (ShapeTemplate(mask, p.shape_floor, p.shape_depth, outside=p.shape_outside)
                      if p.w_shape > 0 else None)
        if self.redetector is not None:
            self.redetector = Redetector(p.lost_ratio, p.redetect_accept)
            self.redetector.observe(mask)
        sample["prob"] = mask.astype(np.float32)
        sample["ids"] = self.init
        sample["fg"] = mask
        self.prev_ids, self.prev_img, self.last, self.final = self.init, img, mask, mask
        return sample

    def process(self, sample: Sample) -> Sample:
        p = self.params
        img = to_colour_space(sample.image, p.colour_space)
        if self.prev_img is None:
            return self._first(sample, img)
        prev = self.final
        lost = self.redetector is not None and self.redetector.observe(prev)
        if prev.any() and not lost:
            self.last = prev
            if p.rate > 0:
                self._learn(self.prev_img, prev, p.rate)
            if self.colour_pair is not None or (self.classifier is not None and self.classifier.memory > 0):
                self._learn_recent(prev, first=False)
        elif not prev.any():
            prev = self.last
        flow = sample["flow"]
        if flow.shape[:2] != sample.shape:
            raise ClassicsegError(f"{self.name}: flow is {flow.shape[1]}x{flow.shape[0]} but the frame is "
                                  f"{sample.shape[1]}x{sample.shape[0]}")
        prev_ids, prev_img = self.prev_ids, self.prev_img
        if lost:
            found = self.redetector.search(self._appearance(img))
            if found is not None:  # re-seed: the match is on this frame already, nothing to carry
                prev, flow, prev_img = found, np.zeros_like(flow), None
                prev_ids = np.where(found, self._object_id(), 0).astype(np.uint8)
        occ = sample.data.get("occlusion")
        if p.mode == "local":
            pl, _ = local_classifiers(self.prev_img, prev, img, flow, p.win, p.local_bins)
            prob = fuse_in_box(pl, img, self.colour, p.w_motion, p.w_colour, p.margin, p.min_margin)
            self.parts = None
        else:
            self.parts = propagate(img, prev, flow, p, self.colour_pair or self.colour, occ, self.classifier,
                                   self.shape, prev_img)
            prob = self.parts.prob
        sample["prob"] = prob
        sample["fg"] = prob > 0.5
        ids = warp_ids(prev_ids, flow)
        sample["ids"] = ids
        self.prev_ids, self.prev_img, self.final = ids, img, sample["fg"]
        return sample
