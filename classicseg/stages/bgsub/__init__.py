"""Background subtraction stages (``bgsub.*``)."""
from classicseg.stages.bgsub import framediff, opencv, sense  # noqa: F401
