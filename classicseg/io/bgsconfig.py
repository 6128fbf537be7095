"""The file-system and console side of pybgs (BGSLibrary's Python binding).

BGSLibrary algorithms take their parameters only from an XML file,
``./config/<AlgorithmName>.xml`` relative to the *current directory*, read when the
algorithm object is constructed (and written with the defaults when it is missing).
Its C++ code also prints object lifetimes and progress notes on standard output.
This module keeps both away from the rest of classicseg:

* :func:`build` constructs an algorithm from a private temporary folder holding the
  parameters it is given, so a ``config/`` folder in the user's directory is neither
  read nor written;
* :func:`default_config` reads the parameters and defaults an algorithm writes for
  itself;
* :func:`quiet_stdout` sends what the C++ code prints to ``/dev/null`` (the CLI's
  ``--json`` output stays parseable).

The current directory is process-wide: it is changed only while an algorithm object is
constructed, under a lock, and restored at once.
"""
from __future__ import annotations

import ctypes
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import cv2

from classicseg.errors import ClassicsegError

_LOCK = threading.RLock()
_depth = 0
_saved_fd: int | None = None
_libc = None

#: Written as 0 whatever the caller says: with it, the algorithms open windows.
HIDDEN = ("showOutput",)


def _flush_c_stdio() -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None)
    _libc.fflush(None)


@contextmanager
def quiet_stdout():
    """Send everything written to file descriptor 1 (C, C++ and Python) to /dev/null.

    Re-entrant and thread-safe; C's stdio buffers are flushed before the descriptor is
    restored, so nothing printed inside leaks out later.
    """
    global _depth, _saved_fd
    with _LOCK:
        if _depth == 0:
            try:
                sys.stdout.flush()
            except (AttributeError, ValueError, OSError):
                pass
            _flush_c_stdio()
            devnull = os.open(os.devnull, os.O_WRONLY)
            _saved_fd = os.dup(1)
            os.dup2(devnull, 1)
            os.close(devnull)
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
            if _depth == 0:
                _flush_c_stdio()
                os.dup2(_saved_fd, 1)
                os.close(_saved_fd)
                _saved_fd = None


def _write_config(path: Path, values: dict) -> None:
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    try:
        for key, value in values.items():
            fs.write(key, int(value) if isinstance(value, (bool, int)) else float(value))
        for key in HIDDEN:
            fs.write(key, 0)
    finally:
        fs.release()


def _read_config(path: Path) -> dict:
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    try:
        root = fs.root()
        out = {}
        for key in root.keys():
            node = root.getNode(key)
            if node.isInt():
                out[key] = int(node.real())
            elif node.isReal():
                out[key] = float(node.real())
        return out
    finally:
        fs.release()


@contextmanager
def _config_folder():
    """A temporary folder with an empty ``config/``, made the current directory."""
    try:
        tmp = tempfile.TemporaryDirectory(prefix="classicseg-pybgs-")
    except OSError as exc:
        raise ClassicsegError(f"pybgs: cannot create a temporary folder for its parameters: {exc}") from None
    with tmp as d, _LOCK:
        (Path(d) / "config").mkdir()
        back = os.open(".", os.O_RDONLY)
        try:
            os.chdir(d)
            yield Path(d) / "config"
        finally:
            os.fchdir(back)
            os.close(back)


def build(factory, values: dict | None = None):
    """Construct ``factory()`` (a pybgs class) with ``values`` as its configuration.

    Parameters
    ----------
    factory : callable
        A pybgs algorithm class, e.g. ``pybgs.SuBSENSE``.
    values : dict, optional
        Every parameter of the algorithm by its BGSLibrary name (see
        :func:`default_config`); ``None`` lets the algorithm use its own defaults.
    """
    with _config_folder() as cfg, quiet_stdout():
        if values is not None:
            _write_config(cfg / f"{factory.__name__}.xml", values)
        return factory()


def default_config(factory) -> tuple[dict, object]:
    """The parameters ``factory`` writes for itself, ``{name: int | float}`` in its order
    (:data:`HIDDEN` ones left out), and the object built to find them (some pybgs objects
    crash when destroyed unused: the caller decides what to do with it)."""
    with _config_folder() as cfg, quiet_stdout():
        model = factory()
        written = sorted(cfg.glob("*.xml"))
        values = _read_config(written[0]) if written else {}
    return {k: v for k, v in values.items() if k not in HIDDEN}, model
