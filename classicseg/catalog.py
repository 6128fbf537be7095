"""Every stage classicseg knows: the built-ins and third-party plug-ins.

Importing :mod:`classicseg.stages` registers the built-ins (:mod:`classicseg.registry`);
third-party packages add theirs through the ``classicseg.stages`` entry-point group (each
entry point names a Stage subclass). Config files and the command line look stage names up
here, which loads both on first use.
"""
from __future__ import annotations

import logging
from importlib.metadata import entry_points

from classicseg import registry
from classicseg.errors import ConfigError
from classicseg.stage import Stage

_loaded = False


def load() -> None:
    """Register the built-in stages and the plug-ins (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import classicseg.stages  # noqa: F401  (registers the built-ins)

    for ep in entry_points(group="classicseg.stages"):
        try:
            registry.register(ep.load())
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break the built-ins
            logging.getLogger("classicseg").warning("plug-in stage %s not loaded: %s", ep.name, exc)


def names() -> list[str]:
    load()
    return sorted(registry.registered())


def get(name: str) -> type[Stage]:
    """The stage class registered as ``name``; :class:`ConfigError` with the nearest name otherwise."""
    load()
    stages = registry.registered()
    try:
        return stages[name]
    except KeyError:
        raise ConfigError(f"unknown stage {name!r}{registry.nearest(name, stages)}") from None


def all_stages() -> dict[str, type[Stage]]:
    load()
    return dict(sorted(registry.registered().items()))


def providers(slot: str) -> list[str]:
    """Names of the stages that write ``slot``."""
    return sorted(n for n, c in all_stages().items() if slot in c.provides)
