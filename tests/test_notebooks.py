"""Every notebook runs top to bottom in smoke mode, and none is committed as .ipynb.

Notebooks are jupytext percent ``.py`` files; each is converted and executed with nbclient
in a kernel that runs this interpreter (a temporary kernelspec pointing at
``sys.executable``, so a fresh virtual environment works without ``ipykernel install``).
``ATTRACTORLAB_SMOKE=1`` (set in conftest) reaches the kernel through the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


@pytest.fixture
def venv_kernel(tmp_path, monkeypatch):
    """A kernelspec named 'attractorlab-test' that launches this Python."""
    kdir = tmp_path / "jupyter" / "kernels" / "attractorlab-test"
    kdir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "attractorlab (test)", "language": "python"}
    (kdir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter") + os.pathsep + os.environ.get("JUPYTER_PATH", ""))
    monkeypatch.setenv("ATTRACTORLAB_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("ATTRACTORLAB_RESULTS", str(tmp_path / "results"))
    return "attractorlab-test"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, venv_kernel, tmp_path):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nb = jupytext.read(path)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name=venv_kernel,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
