"""Shared test configuration.

Fixtures here are read-only helpers; a test module that needs state builds its own.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

# Tests and notebooks run the small presets.
os.environ.setdefault("ATTRACTORLAB_SMOKE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def rng() -> np.random.Generator:
    """A numpy generator with a fixed seed (tests state their own seeds where it matters)."""
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _reset_brian_device():
    """Reset Brian2's device after each test that imported Brian2 (global state)."""
    yield
    b2 = sys.modules.get("brian2")
    if b2 is not None:
        try:
            b2.device.reinit()
            b2.device.activate()
            b2.set_device("runtime")
        except Exception:  # pragma: no cover - best effort cleanup
            pass


@pytest.fixture(autouse=True)
def _close_figures():
    """Close matplotlib figures a test opened."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@pytest.fixture
def one_torch_thread():
    """Run a test on one torch thread (tiny nets are faster so on a 2-core machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def docs_site():
    """Build the documentation site once per session (``python docs/build.py``, as ``make
    docs``) and return the HTML folder; the build fails on any warning or failing notebook
    cell. Notebook executions come from the cache when nothing they depend on changed."""
    import subprocess
    from pathlib import Path

    pytest.importorskip("sphinx", reason="the docs tools are in the dev/docs extras (make test installs them)")
    pytest.importorskip("myst_nb", reason="the docs tools are in the dev/docs extras (make test installs them)")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "docs" / "build.py")], cwd=root,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        import re

        lines = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr).splitlines()
        problems = [ln for ln in lines if re.search(r"(WARNING|ERROR|CRITICAL):|^\w*Error: ", ln)]
        pytest.fail(f"docs build failed (status {proc.returncode}):\n" + "\n".join(problems[:40] + ["..."] + lines[-10:]),
                    pytrace=False)
    return root / "docs" / "_build" / "html"
