"""classicseg: classical computer-vision video segmentation.

Background subtraction, morphology, connected components and temporal filtering
behind one validated, config-driven pipeline, with benchmark-exact scoring
(CDnet 2014, DAVIS).
"""

__version__ = "0.1.0"

from classicseg.errors import ClassicsegError, ConfigError, SourceError, EvalError  # noqa: E402
from classicseg.types import Sample, Blob  # noqa: E402

__all__ = ["ClassicsegError", "ConfigError", "SourceError", "EvalError", "Sample", "Blob", "__version__"]
