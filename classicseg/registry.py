"""Name -> stage class registry.

Built-in stages register themselves with :func:`register` when
``classicseg.stages`` is imported; third-party packages add theirs through the
``classicseg.stages`` entry-point group (each entry point names a Stage subclass).
"""
from __future__ import annotations

import difflib
from importlib.metadata import entry_points

from classicseg.errors import ConfigError
from classicseg.stage import Stage

_STAGES: dict[str, type[Stage]] = {}
_loaded = False


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    if cls.name in _STAGES and _STAGES[cls.name] is not cls:
        raise TypeError(f"stage name {cls.name!r} registered twice")
    _STAGES[cls.name] = cls
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import classicseg.stages  # noqa: F401  (registers the built-ins)

    for ep in entry_points(group="classicseg.stages"):
        try:
            register(ep.load())
        except Exception as exc:  # a broken plug-in must not break the built-ins
            import logging

            logging.getLogger(__name__).warning("plug-in stage %s not loaded: %s", ep.name, exc)


def names() -> list[str]:
    _load()
    return sorted(_STAGES)


def nearest(name: str, candidates) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    close = difflib.get_close_matches(str(name), list(candidates), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get(name: str) -> type[Stage]:
    _load()
    try:
        return _STAGES[name]
    except KeyError:
        raise ConfigError(f"unknown stage {name!r}{nearest(name, _STAGES)}") from None


def all_stages() -> dict[str, type[Stage]]:
    _load()
    return dict(sorted(_STAGES.items()))
