"""Sphinx configuration of the classicseg documentation: gallery + API reference.

Build it with ``python -m classicseg.docs`` (or ``classicseg docs``): offline, warnings
are errors. The gallery's scripts are ``samples/gallery/plot_*.py``; each runs and its
figures go into the page.
"""
import os
import sys
from pathlib import Path

ROOT = Path(os.environ.get("CLASSICSEG_DOCS_ROOT", Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("MPLBACKEND", "Agg")

import classicseg  # noqa: E402

project = "classicseg"
author = "the classicseg authors"
copyright = "classicseg authors, MIT licence"  # noqa: A001
release = version = classicseg.__version__

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path: list = []
exclude_patterns = ["_build", "**.ipynb_checkpoints", "sg_execution_times.rst"]
html_theme = "pydata_sphinx_theme"
html_title = f"classicseg {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list = []
html_show_sourcelink = False

autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "samples" / "gallery"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.TeachingOrder",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "show_signature": False,
    "image_scrapers": ("matplotlib",),
    "reference_url": {},
    "backreferences_dir": None,
    "plot_gallery": os.environ.get("CLASSICSEG_DOCS_GALLERY", "True"),
    "write_computation_times": False,
}
