"""Background subtraction stages (``bgsub.*``)."""
from classicseg.stages.bgsub import framediff, opencv  # noqa: F401
