"""Benchmark-exact scoring: CDnet 2014 (change detection) and DAVIS 2016/2017 (VOS).

``classicseg.metrics.cdnet`` follows the official CDnet comparator (Goyette et al. 2012;
Wang et al. 2014); ``classicseg.metrics.davis`` follows the official DAVIS toolkits
(Perazzi et al. 2016; Pont-Tuset et al. 2017). Both raise
:class:`classicseg.errors.EvalError` when predictions and ground truth do not fit.
"""
from classicseg.metrics import cdnet, davis
from classicseg.metrics.cdnet import (
    MOTION,
    OUTSIDE_ROI,
    SHADOW,
    STATIC,
    UNKNOWN,
    CDnetAccumulator,
    DatasetResult,
    GroundTruthSequence,
    SequenceResult,
    confusion,
    load_gt_sequence,
    metrics_from_counts,
)
from classicseg.metrics.cdnet import evaluate_dataset as evaluate_cdnet_dataset
from classicseg.metrics.cdnet import evaluate_sequence as evaluate_cdnet_sequence
from classicseg.metrics.davis import (
    DavisDatasetResult,
    DavisSequenceResult,
    boundary_f,
    jaccard,
    read_indexed_mask,
    seg2bmap,
    statistics,
)
from classicseg.metrics.davis import evaluate_dataset as evaluate_davis_dataset
from classicseg.metrics.davis import evaluate_sequence as evaluate_davis_sequence

__all__ = [
    "cdnet", "davis",
    "STATIC", "SHADOW", "OUTSIDE_ROI", "UNKNOWN", "MOTION",
    "confusion", "metrics_from_counts", "CDnetAccumulator",
    "GroundTruthSequence", "load_gt_sequence", "SequenceResult", "DatasetResult",
    "evaluate_cdnet_sequence", "evaluate_cdnet_dataset",
    "jaccard", "boundary_f", "seg2bmap", "statistics", "read_indexed_mask",
    "DavisSequenceResult", "DavisDatasetResult",
    "evaluate_davis_sequence", "evaluate_davis_dataset",
]
