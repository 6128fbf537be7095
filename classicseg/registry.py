"""Name -> stage class registry.

Stage modules register their classes with :func:`register`; this module imports no
stage. :mod:`classicseg.catalog` loads the built-ins and third-party plug-ins and is what
config files and the command line look names up in.
"""
from __future__ import annotations

import difflib

from classicseg.stage import Stage, check_declarations

_STAGES: dict[str, type[Stage]] = {}


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make ``cls`` available under ``cls.name``.

    Raises
    ------
    TypeError
        No name, a name taken by another class, or declarations that name unknown slots
        or needs (see :func:`classicseg.stage.check_declarations`).
    """
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    if cls.name in _STAGES and _STAGES[cls.name] is not cls:
        raise TypeError(f"stage name {cls.name!r} registered twice")
    problems = check_declarations(cls)
    if problems:
        raise TypeError("; ".join(problems))
    _STAGES[cls.name] = cls
    return cls


def registered() -> dict[str, type[Stage]]:
    """The classes registered so far (without loading anything)."""
    return dict(_STAGES)


def nearest(name: str, candidates) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    close = difflib.get_close_matches(str(name), list(candidates), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""
