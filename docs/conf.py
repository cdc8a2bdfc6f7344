"""Sphinx configuration of the attractorlab documentation site (``make docs``).

The build is strict: ``make docs`` runs ``sphinx-build -W --keep-going -n`` (warnings are
errors, nitpicky cross-references). Notebooks in ``notebooks/`` are converted by
``_ext/attractorlab_docs.py`` and executed by myst-nb with a cache under
``docs/_build/.jupyter_cache``; the cache key includes a hash of the package sources, so a
notebook is re-executed only when it or the code it runs changed.

Environment
-----------
ATTRACTORLAB_DOCS_NOTEBOOKS
    ``smoke`` (default): notebooks run with ``ATTRACTORLAB_SMOKE=1`` (small sizes, about
    2 minutes on 2 cores, saved results are used where the notebook looks for them);
    ``full``: the notebooks' full mode (longer runs; paper results from ``results/``).
ATTRACTORLAB_RESULTS
    Results root read by the paper pages and notebooks (default ``results/`` of the repo).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

# Kernels started for the notebooks inherit this environment: results are read from the
# repo's results root, and figures must reach the notebook as inline images (the tests set
# MPLBACKEND=Agg, which would make the notebooks render nowhere).
os.environ["ATTRACTORLAB_RESULTS"] = str((ROOT / os.environ.get("ATTRACTORLAB_RESULTS", "results")).resolve())
os.environ.pop("MPLBACKEND", None)

project = "attractorlab"
author = "the attractorlab authors"
copyright = "the attractorlab authors, MIT licence"  # noqa: A001 - Sphinx's name

try:
    from importlib.metadata import version as _version

    release = _version("attractorlab")
except Exception:  # noqa: BLE001 - not installed: still build
    release = "0.1.0"
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "myst_nb",
    "attractorlab_docs",
]

# _generated holds fragments that pages {include} and images; it is not a source folder.
exclude_patterns = ["_build", "_ext", "_generated", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# ---------------------------------------------------------------- MyST / myst-nb
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_in_temp = True          # notebooks never write into docs/
nb_execution_timeout = 900           # per cell, seconds
nb_execution_raise_on_error = True   # a failing cell fails the build (and `make test`)
nb_execution_show_tb = True
nb_merge_streams = True
nb_output_stderr = "remove"          # progress bars and library warnings stay out of the pages

# ---------------------------------------------------------------- autodoc / napoleon
# API pages (docs/api/, written by _ext/attractorlab_docs.py): every module documents what it
# defines (public, non-imported names; ``__all__`` ignored), so a package's re-exports are
# documented once, on the page of the module that defines them.
# Undocumented public functions and classes are listed too; a module constant is documented
# (and can be referenced) when it has a ``#:`` comment; values are not shown (some are large).
autodoc_default_options = {"members": True, "undoc-members": True, "no-value": True, "show-inheritance": False,
                           "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_mock_imports: list[str] = []
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_param = False  # numpy-style type prose ("(N, M) array") stays text, not cross-references
napoleon_use_ivar = True

intersphinx_mapping = {}  # no network at build time: third-party types are not linked

# Nitpicky (-n): every cross-reference must resolve. The docstrings name types in prose
# (numpy style: "array-like", "(N, M) array", "Dataset from fit_gabors"), and a few
# third-party classes have no inventory without network. Those are ignored here, by
# pattern, and nothing else: a broken reference to attractorlab's own API still fails.
nitpicky = True
nitpick_ignore_regex = [
    # private modules (attractorlab._*) are not in the API reference; their public names are
    # re-exported (attractorlab.AttractorlabWarning)
    (r"py:.*", r"attractorlab\._[a-z].*"),
    # third-party types (no intersphinx inventories offline)
    (r"py:.*", r"(np|numpy|xr|xarray|torch|nn|pd|plt|mpl|matplotlib|brian2|b2|scipy|sklearn|dask)\..*"),
    (r"py:class", r"(ndarray|Dataset|DataArray|Tensor|Parameter|Module|Figure|Axes|Generator|Quantity|Network)"),
    (r"py:class", r"(Path|PathLike|Any|Callable|Sequence|Mapping|Iterator|Iterable|Literal|Self)"),
    (r"py:.*", r"(pathlib|os|typing|collections\.abc|concurrent\.futures|argparse|dataclasses)\..*"),
    # numpy-docstring prose in "Attributes" types ("ndarray, int64, shape (n, 28)"): napoleon
    # turns each word into a class reference; lower-case words, numbers and one-letter
    # dimension names are never our classes.
    (r"py:class", r"[a-z_][a-z0-9_.]*|-?[0-9]+|[A-Z]|[A-Z]_[a-z]+|[A-Z]_[a-z]+_?[a-z]*"),
    # ... and a "type" with a space ("tuple of Tensor, length L") is prose, never a name
    (r"py:class", r".* .*"),
]
# ---------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = "attractorlab"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False
