"""Semi-supervised video object segmentation: the ``vos.propagate`` stage and its parts.

* :mod:`~classicseg.stages.vos.propagate`: the stage and :func:`propagate` (one frame);
* :mod:`~classicseg.stages.vos.cues`: the warped previous mask, motion coherence, the
  pixels safe to learn from;
* :mod:`~classicseg.stages.vos.appearance`: colour histograms (first frame, recent);
* :mod:`~classicseg.stages.vos.texture`: colour-and-texture features and classifier;
* :mod:`~classicseg.stages.vos.shape`: the rigid shape template;
* :mod:`~classicseg.stages.vos.ids`: object ids along the flow;
* :mod:`~classicseg.stages.vos.logodds`: the log-odds arithmetic the cues are fused with;
* :mod:`~classicseg.stages.vos.local`: Video SnapCut's local classifiers (``mode: local``).

Other stages import the part they use from its module (``motion`` the colour models,
``prior`` the log-odds, ``refine`` the ids), never from this package.
"""
from classicseg.stages.vos.propagate import Propagate, PropagateParams, Propagation, propagate

__all__ = ["Propagate", "PropagateParams", "Propagation", "propagate"]
