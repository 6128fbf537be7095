"""OpenCV background subtractors: MOG2 and KNN (core) and the contrib ``bgsegm`` family.

Parameter names are OpenCV's in snake_case, with OpenCV's defaults, so they can be
checked against the OpenCV documentation. Every subtractor also takes the
learning-rate schedule of :class:`~classicseg.stages.bgsub.base.ScheduleParams`.
Shadow pixels (OpenCV's ``shadow_value``) go to the ``shadow`` slot, never to ``fg``.
"""
from __future__ import annotations

from typing import Literal

import cv2
from pydantic import Field

from classicseg.registry import register
from classicseg.stages.bgsub.base import BackgroundSubtractor, ScheduleParams

_MOTION_COMP = {"none": 0, "lk": 1}


def _bgsegm():
    """The contrib module, or a clear error when only core OpenCV is installed."""
    from classicseg.errors import ClassicsegError

    if not hasattr(cv2, "bgsegm"):
        raise ClassicsegError(
            "cv2.bgsegm is missing: install opencv-contrib-python-headless (and no other OpenCV wheel)"
        )
    return cv2.bgsegm


class MOG2Params(ScheduleParams):
    history: int = Field(500, ge=1, le=1_000_000, description="frames that shape the model")
    var_threshold: float = Field(16.0, gt=0, le=10_000, description="squared Mahalanobis distance deciding foreground")
    detect_shadows: bool = Field(True, description="mark shadows (Prati et al. 2003 chromaticity test)")
    n_mixtures: int = Field(5, ge=1, le=16, description="Gaussians per pixel")
    background_ratio: float = Field(0.9, gt=0, le=1, description="weight share that counts as background")
    var_threshold_gen: float = Field(9.0, gt=0, le=10_000, description="distance for matching an existing Gaussian")
    var_init: float = Field(15.0, gt=0, le=10_000, description="initial variance of a new Gaussian")
    var_min: float = Field(4.0, gt=0, le=10_000, description="lower bound of a Gaussian's variance")
    var_max: float = Field(75.0, gt=0, le=10_000, description="upper bound of a Gaussian's variance")
    complexity_reduction_threshold: float = Field(0.05, ge=0, le=1, description="CT prior that prunes mixtures")
    shadow_threshold: float = Field(0.5, gt=0, le=1, description="tau: how much darker a shadow may be")
    shadow_value: int = Field(127, ge=1, le=254, description="label OpenCV gives shadow pixels")


def configure_mog2(model, p: MOG2Params):
    """Apply every MOG2 parameter to an OpenCV MOG2 model (CPU or ``cv2.cuda``); returns it."""
    model.setNMixtures(p.n_mixtures)
    model.setBackgroundRatio(p.background_ratio)
    model.setVarThresholdGen(p.var_threshold_gen)
    model.setVarInit(p.var_init)
    model.setVarMin(p.var_min)
    model.setVarMax(p.var_max)
    model.setComplexityReductionThreshold(p.complexity_reduction_threshold)
    model.setShadowThreshold(p.shadow_threshold)
    model.setShadowValue(p.shadow_value)
    return model


@register
class MOG2(BackgroundSubtractor):
    """Adaptive Gaussian mixture per pixel (Zivkovic 2004/2006), OpenCV's MOG2."""

    name = "bgsub.mog2"
    bytes_per_pixel = 128  # per-pixel state, for the memory check before the first frame
    Params = MOG2Params
    cite = "Z. Zivkovic, Improved adaptive Gaussian mixture model for background subtraction, ICPR 2004"

    def make(self):
        p = self.params
        return configure_mog2(cv2.createBackgroundSubtractorMOG2(p.history, p.var_threshold, p.detect_shadows), p)


class KNNParams(ScheduleParams):
    history: int = Field(500, ge=1, le=1_000_000, description="frames that shape the model")
    dist2_threshold: float = Field(400.0, gt=0, le=200_000, description="squared distance deciding whether a sample is close")
    detect_shadows: bool = Field(True, description="mark shadows")
    knn_samples: int = Field(2, ge=1, le=64, description="close samples needed to call a pixel background (k)")
    n_samples: int = Field(7, ge=1, le=64, description="samples kept per pixel")
    shadow_threshold: float = Field(0.5, gt=0, le=1, description="tau: how much darker a shadow may be")
    shadow_value: int = Field(127, ge=1, le=254, description="label OpenCV gives shadow pixels")


@register
class KNN(BackgroundSubtractor):
    """K-nearest-neighbour background model (Zivkovic & van der Heijden 2006), OpenCV's KNN."""

    name = "bgsub.knn"
    Params = KNNParams
    cite = (
        "Z. Zivkovic, F. van der Heijden, Efficient adaptive density estimation per image pixel "
        "for the task of background subtraction, Pattern Recognition Letters 27(7), 2006"
    )

    def memory_per_pixel(self) -> int:
        return 32 + 12 * self.params.n_samples

    def make(self):
        p = self.params
        m = cv2.createBackgroundSubtractorKNN(p.history, p.dist2_threshold, p.detect_shadows)
        m.setkNNSamples(p.knn_samples)
        m.setNSamples(p.n_samples)
        m.setShadowThreshold(p.shadow_threshold)
        m.setShadowValue(p.shadow_value)
        return m


class MOGParams(ScheduleParams):
    history: int = Field(200, ge=1, le=1_000_000, description="frames that shape the model")
    n_mixtures: int = Field(5, ge=1, le=16, description="Gaussians per pixel")
    background_ratio: float = Field(0.7, gt=0, le=1, description="weight share that counts as background")
    noise_sigma: float = Field(0.0, ge=0, le=255, description="noise strength (0 = automatic)")


@register
class MOG(BackgroundSubtractor):
    """Gaussian mixture of KaewTraKulPong & Bowden 2001 (contrib bgsegm MOG)."""

    name = "bgsub.mog"
    bytes_per_pixel = 128  # per-pixel state, for the memory check before the first frame
    Params = MOGParams
    cite = (
        "P. KaewTraKulPong, R. Bowden, An improved adaptive background mixture model for "
        "real-time tracking with shadow detection, AVBS 2001"
    )

    def make(self):
        p = self.params
        return _bgsegm().createBackgroundSubtractorMOG(p.history, p.n_mixtures, p.background_ratio, p.noise_sigma)


class GMGParams(ScheduleParams):
    initialization_frames: int = Field(120, ge=1, le=100_000, description="frames used to build the initial model")
    decision_threshold: float = Field(0.8, gt=0, lt=1, description="posterior above which a pixel is foreground")
    smoothing_radius: int = Field(7, ge=0, le=50, description="radius of the morphological smoothing")
    default_learning_rate: float = Field(0.025, gt=0, le=1, description="learning rate when -1 is passed")
    quantization_levels: int = Field(16, ge=1, le=256, description="colour quantisation levels per channel")
    background_prior: float = Field(0.8, gt=0, lt=1, description="prior probability of background")
    max_features: int = Field(64, ge=1, le=256, description="histogram features kept per pixel")


@register
class GMG(BackgroundSubtractor):
    """Per-pixel Bayesian histogram model (Godbehere, Matsukawa & Goldberg 2012)."""

    name = "bgsub.gmg"
    Params = GMGParams
    cite = (
        "A. Godbehere, A. Matsukawa, K. Goldberg, Visual tracking of human visitors under "
        "variable-lighting conditions for a responsive audio art installation, ACC 2012"
    )

    def memory_per_pixel(self) -> int:
        return 64 + 8 * self.params.max_features

    def make(self):
        p = self.params
        m = _bgsegm().createBackgroundSubtractorGMG(p.initialization_frames, p.decision_threshold)
        m.setSmoothingRadius(p.smoothing_radius)
        m.setDefaultLearningRate(p.default_learning_rate)
        m.setQuantizationLevels(p.quantization_levels)
        m.setBackgroundPrior(p.background_prior)
        m.setMaxFeatures(p.max_features)
        return m


class CNTParams(ScheduleParams):
    min_pixel_stability: int = Field(15, ge=1, le=100_000, description="frames a pixel must be stable to become background")
    use_history: bool = Field(True, description="reward long-stable pixels with extra credit")
    max_pixel_stability: int = Field(15 * 60, ge=1, le=1_000_000, description="upper bound of the stability credit")
    is_parallel: bool = Field(True, description="run OpenCV's parallel loop (bounded by cv2.setNumThreads)")


@register
class CNT(BackgroundSubtractor):
    """Counting-based stability model (Zeevi 2016, contrib bgsegm CNT); very fast."""

    name = "bgsub.cnt"
    bytes_per_pixel = 64  # per-pixel state, for the memory check before the first frame
    Params = CNTParams
    cite = "S. Zeevi, BackgroundSubtractorCNT, OpenCV contrib, 2016"

    def make(self):
        p = self.params
        return _bgsegm().createBackgroundSubtractorCNT(
            p.min_pixel_stability, p.use_history, p.max_pixel_stability, p.is_parallel
        )


class _SampleConsensusParams(ScheduleParams):
    camera_motion: Literal["none", "lk"] = Field("none", description="compensate camera motion (Lucas-Kanade)")
    n_samples: int = Field(20, ge=1, le=64, description="samples kept per pixel")
    noise_removal_threshold_fac_bg: float = Field(0.0004, ge=0, le=1, description="noise removal strength (background)")
    noise_removal_threshold_fac_fg: float = Field(0.0008, ge=0, le=1, description="noise removal strength (foreground)")


class GSOCParams(_SampleConsensusParams):
    replace_rate: float = Field(0.003, ge=0, le=1, description="probability of replacing a sample")
    propagation_rate: float = Field(0.01, ge=0, le=1, description="probability of propagating to a neighbour")
    hits_threshold: int = Field(32, ge=1, le=100_000, description="hits after which a foreground sample becomes background")
    alpha: float = Field(0.01, ge=0, le=100, description="scale of the adaptive threshold")
    beta: float = Field(0.0022, ge=0, le=100, description="bias of the adaptive threshold")
    blinking_supression_decay: float = Field(0.1, ge=0, le=1, description="decay of blinking suppression")
    blinking_supression_multiplier: float = Field(0.1, ge=0, le=100, description="strength of blinking suppression")


@register
class GSOC(BackgroundSubtractor):
    """Sample-consensus colour model from Google Summer of Code 2017 (contrib bgsegm GSOC)."""

    name = "bgsub.gsoc"
    Params = GSOCParams
    cite = "V. Samsonov, BackgroundSubtractorGSOC, OpenCV contrib (GSoC 2017)"

    def memory_per_pixel(self) -> int:
        return 64 + 24 * self.params.n_samples

    def make(self):
        p = self.params
        return _bgsegm().createBackgroundSubtractorGSOC(
            _MOTION_COMP[p.camera_motion], p.n_samples, p.replace_rate, p.propagation_rate,
            p.hits_threshold, p.alpha, p.beta, p.blinking_supression_decay,
            p.blinking_supression_multiplier, p.noise_removal_threshold_fac_bg,
            p.noise_removal_threshold_fac_fg,
        )


class LSBPParams(_SampleConsensusParams):
    lsbp_radius: int = Field(16, ge=1, le=64, description="radius of the local SVD binary pattern")
    t_lower: float = Field(2.0, ge=0, le=1000, description="lower bound of the adaptive threshold T")
    t_upper: float = Field(32.0, ge=0, le=1000, description="upper bound of T")
    t_inc: float = Field(1.0, ge=0, le=1000, description="increase of T")
    t_dec: float = Field(0.05, ge=0, le=1000, description="decrease of T")
    r_scale: float = Field(10.0, ge=0, le=1000, description="scale of the distance threshold R")
    r_incdec: float = Field(0.005, ge=0, le=1, description="increase/decrease of R")
    lsbp_threshold: int = Field(8, ge=0, le=32, description="Hamming distance threshold of the descriptor")
    min_count: int = Field(2, ge=1, le=64, description="matching samples needed to call a pixel background")


@register
class LSBP(BackgroundSubtractor):
    """Local SVD binary pattern model (Guo et al. 2016, contrib bgsegm LSBP)."""

    name = "bgsub.lsbp"
    Params = LSBPParams
    cite = "L. Guo, D. Xu, Z. Qiang, Background subtraction using local SVD binary pattern, CVPRW 2016"

    def memory_per_pixel(self) -> int:
        return 64 + 32 * self.params.n_samples

    def make(self):
        p = self.params
        return _bgsegm().createBackgroundSubtractorLSBP(
            _MOTION_COMP[p.camera_motion], p.n_samples, p.lsbp_radius, p.t_lower, p.t_upper,
            p.t_inc, p.t_dec, p.r_scale, p.r_incdec, p.noise_removal_threshold_fac_bg,
            p.noise_removal_threshold_fac_fg, p.lsbp_threshold, p.min_count,
        )
