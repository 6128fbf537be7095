"""Built-in stages, one algorithm per module, grouped by family.

Importing this package registers every built-in stage with
:mod:`classicseg.registry`.
"""
from classicseg.stages import bgsub, blobs, detect, events, flow, morph, refine, roi, temporal, track, vos  # noqa: F401
from classicseg.stages import motion, randomwalker  # noqa: F401
from classicseg.stages import prior  # noqa: F401
