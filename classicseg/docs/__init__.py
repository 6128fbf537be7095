"""Building the HTML documentation: the gallery of ``samples/gallery`` and the API reference.

::

    python -m classicseg.docs [--output docs/_build/html] [--no-gallery]
    classicseg docs [...]

Sphinx with sphinx-gallery, numpydoc and the PyData theme (``pip install
'classicseg[docs]'``). Nothing is downloaded: the gallery's scripts make their data with
:mod:`classicseg.synth` or read the photographs scikit-image ships, and no extension that
fetches inventories is used. Any Sphinx warning fails the build.

The sources (``docs/``, ``samples/gallery/``) come with a source checkout. They are copied
to ``OUTPUT/.source`` before the build, so that sphinx-gallery's generated pages never land
in the checkout.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from classicseg.errors import ClassicsegError

__all__ = ["DocsError", "source_root", "build_docs", "DOCS_PACKAGES"]

#: Import name -> distribution of what the build needs.
DOCS_PACKAGES = {"sphinx": "sphinx", "sphinx_gallery": "sphinx-gallery", "numpydoc": "numpydoc",
                 "pydata_sphinx_theme": "pydata-sphinx-theme", "matplotlib": "matplotlib"}


class DocsError(ClassicsegError):
    """The documentation cannot be built (sources or packages missing, Sphinx warnings)."""

    exit_code = 9


def source_root() -> Path:
    """The checkout whose ``docs/conf.py`` and ``samples/gallery/`` are built."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "docs" / "conf.py").is_file() or not (root / "samples" / "gallery").is_dir():
        raise DocsError(f"the documentation sources (docs/conf.py, samples/gallery/) are not beside the package at "
                        f"{root}: build the docs from a source checkout of classicseg")
    return root


def _check_packages() -> None:
    import importlib.util

    missing = [dist for mod, dist in DOCS_PACKAGES.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise DocsError(f"building the docs needs {', '.join(missing)}: pip install 'classicseg[docs]'")


def build_docs(output=None, gallery: bool = True, strict: bool = True, quiet: bool = True) -> Path:
    """Build the HTML documentation and return the path of its ``index.html``.

    Parameters
    ----------
    output : path-like, optional
        The HTML folder (default ``docs/_build/html`` in the checkout).
    gallery : bool
        Run the gallery's scripts and show their figures (False: their code only; faster).
    strict : bool
        Fail on any Sphinx warning (``-W``; every warning is reported first).
    quiet : bool
        Only warnings and errors on the console.

    Raises
    ------
    DocsError
        Sources or packages missing, or the build failed (a script raised, a docstring
        did not parse, a warning with ``strict``).
    """
    _check_packages()
    root = source_root()
    out = Path(output) if output is not None else root / "docs" / "_build" / "html"
    out.mkdir(parents=True, exist_ok=True)
    staging = out / ".source"
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(root / "docs", staging, ignore=shutil.ignore_patterns("_build", "auto_examples", "*.patch",
                                                                          "__pycache__"))
    from sphinx.cmd.build import build_main

    args = ["-b", "html", "-E", "-d", str(out / ".doctrees"), str(staging), str(out)]
    if strict:
        args += ["-W", "--keep-going"]
    if quiet:
        args.append("-q")
    env = {"CLASSICSEG_DOCS_ROOT": str(root), "CLASSICSEG_DOCS_GALLERY": "True" if gallery else "False",
           "MPLBACKEND": "Agg"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        rc = build_main(args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if rc != 0:
        raise DocsError(f"the documentation build failed (sphinx exit status {rc}; its messages are above)")
    return out / "index.html"
