"""Sphinx configuration of prefstat's documentation: the API reference from the docstrings (autodoc +
napoleon for the numpy-style sections) and docs/methods.md rendered by myst-parser.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (warnings are errors; tests/test_docs_build.py
runs exactly this).
"""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import prefstat  # noqa: E402

project = "prefstat"
author = "prefstat developers"
release = version = prefstat.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# numpy-style sections (Parameters / Attributes / Returns) in the docstrings
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the docstrings state the types; signatures stay readable
autodoc_default_options = {"members": True, "show-inheritance": False}
# sklearn's BaseEstimator methods (get_params, set_params, ...) are documented by scikit-learn
autodoc_inherit_docstrings = False

# methods.md: $...$ / $$...$$ math and heading anchors for the links between its sections
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_fence_as_directive = ["math"]  # GitHub-style ```math blocks



def _skip_foreign(app, what, name, obj, skip, options):
    """Document only prefstat's own members: scikit-learn's inherited helpers (``set_fit_request``,
    ``get_params``, ...) are documented by scikit-learn and their cross-references do not resolve here."""
    module = getattr(obj, "__module__", None) or ""
    if callable(obj) and module and not module.startswith("prefstat"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign)


html_theme = "alabaster"
html_static_path = []
