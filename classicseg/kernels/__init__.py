"""numba kernels for the per-pixel loops that libraries do not already do fast.

Each module here holds one kernel family: a ``@njit(cache=True)`` kernel and its
plain-numpy (or OpenCV / scikit-image) twin with the same signature and result; the
tests in ``tests/kernels`` check that the two agree. numba is optional (the ``fast``
and ``all`` extras): without it :data:`HAVE_NUMBA` is False, the kernel modules
still import (``njit`` becomes a no-op), and the stages keep their numpy/OpenCV path.

Kernels run single-threaded; none uses ``parallel=True``. Set
``CLASSICSEG_NO_NUMBA=1`` to force the fallback paths (to compare or to debug).

``cache=True`` writes compiled code next to the module (``__pycache__``); on a
read-only install numba would fail to, so :func:`set_cache_dir` (called on import,
before numba is imported) points ``NUMBA_CACHE_DIR`` at a per-user folder then.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

__all__ = ["HAVE_NUMBA", "njit", "set_cache_dir", "user_cache_dir", "enabled"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def user_cache_dir() -> Path:
    """The per-user cache folder for compiled kernels.

    ``$XDG_CACHE_HOME/classicseg/numba`` (``~/.cache/classicseg/numba`` when unset);
    on Windows ``%LOCALAPPDATA%\\classicseg\\numba``; on macOS
    ``~/Library/Caches/classicseg/numba``.
    """
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "classicseg" / "numba"


def _writable(folder: Path) -> bool:
    """Whether numba could write its cache next to the modules in ``folder``."""
    cache = folder / "__pycache__"
    target = cache if cache.is_dir() else folder
    return os.access(target, os.W_OK | os.X_OK)


def set_cache_dir(path: str | os.PathLike | None = None, package_dir: str | os.PathLike | None = None,
                  force: bool = False) -> str | None:
    """Make ``cache=True`` work when the package folder is read-only.

    Parameters
    ----------
    path : path, optional
        Cache folder to use (default: :func:`user_cache_dir`).
    package_dir : path, optional
        The folder holding the kernel modules (default: this package); only its
        writability is checked.
    force : bool
        Point numba at ``path`` even when the package folder is writable.

    Returns
    -------
    str or None
        The folder now in ``NUMBA_CACHE_DIR``, or None when numba keeps its default
        (the ``__pycache__`` beside each module). A ``NUMBA_CACHE_DIR`` the user set
        is never overridden.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    folder = Path(package_dir) if package_dir is not None else _PACKAGE_DIR
    if not force and _writable(folder):
        return None
    target = Path(path) if path is not None else user_cache_dir()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:  # no home either: numba then compiles without caching
        return None
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba already imported: its config was read at import
        config.CACHE_DIR = str(target)
    return str(target)


def enabled() -> bool:
    """Whether the stages should use the numba kernels (numba importable, not disabled)."""
    return HAVE_NUMBA and os.environ.get("CLASSICSEG_NO_NUMBA", "") in ("", "0")


set_cache_dir()

#: numba is installed. Checked without importing it: numba (about 0.3 s) is imported
#: only when a kernel module is, i.e. on the first call of a stage that uses one.
HAVE_NUMBA = importlib.util.find_spec("numba") is not None


def njit(*args, **kwargs):
    """``numba.njit`` (``cache=True`` unless given), or a no-op decorator without numba."""
    if HAVE_NUMBA:
        import numba

        kwargs.setdefault("cache", True)
        return numba.njit(*args, **kwargs)
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda fn: fn
