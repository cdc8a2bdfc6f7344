"""The notebooks are jupytext percent ``.py`` files, none is committed as ``.ipynb``.

That every notebook runs top to bottom in smoke mode is checked by the documentation
build (``tests/test_docs.py``): it converts each notebook, executes it in a kernel that runs
this interpreter with ``ATTRACTORLAB_SMOKE=1``, fails on the first cell that raises, and
the tests there check each executed page. The execution is cached by the notebook's code
and a hash of the package sources, so the notebooks run once per change, not once per test
session.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def test_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    for expected in ("01_spiking_sparse_coding.py", "02_dictionary_learning_v1.py",
                     "03_cban_attractor_dynamics.py", "04_model_comparison.py"):
        assert expected in names


def test_no_committed_ipynb():
    try:
        out = subprocess.run(["git", "ls-files", "--", "notebooks"], cwd=ROOT, capture_output=True,
                             text=True, timeout=30)
    except OSError:
        pytest.skip("git not available")
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    committed = [f for f in out.stdout.split() if f.endswith(".ipynb")]
    assert committed == [], f"notebooks must be jupytext .py files without outputs; committed: {committed}"
