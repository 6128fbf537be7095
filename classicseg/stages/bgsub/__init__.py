"""Background subtraction stages (``bgsub.*``)."""
from classicseg.stages.bgsub import bgslibrary, framediff, opencv, sense  # noqa: F401
