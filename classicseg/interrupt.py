"""Interrupts that wait for a safe point.

The CLI turns SIGINT, SIGTERM and SIGHUP into :class:`~classicseg.errors.Interrupted`. Raised
in the middle of handing a frame to the sinks, it would leave one output with the frame and
another without it (a mask written, the overlay's encoder cut mid-frame). Code that must not
be cut there runs inside :func:`deferred`; an interrupt that arrives meanwhile is raised when
the block ends, so every output holds the same frames.
"""
from __future__ import annotations

from contextlib import contextmanager

__all__ = ["deferred", "deliver"]

_depth = 0
_pending: BaseException | None = None


@contextmanager
def deferred():
    """Hold interrupts delivered through :func:`deliver` until the block ends."""
    global _depth, _pending
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _pending is not None:
            exc, _pending = _pending, None
            raise exc


def deliver(exc: BaseException) -> None:
    """Raise ``exc`` now, or at the end of the current :func:`deferred` block (from a signal handler)."""
    global _pending
    if _depth > 0:
        if _pending is None:
            _pending = exc
        return
    raise exc
