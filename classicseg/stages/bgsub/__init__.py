"""Background subtraction stages (``bgsub.*``)."""
from classicseg.stages.bgsub import bgslibrary, classic, framediff, opencv, sense  # noqa: F401
