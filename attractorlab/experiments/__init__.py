"""Experiments: the only code that wires a model, its baselines and the analysis together.

One module per paper experiment, each registering its runner(s) with presets:

* :mod:`.lin_tang`: ``lin_tang_A``, ``lin_tang_B``, ``lin_tang_C`` (Lin & Tang 2019, §4);
* :mod:`.cban_bars`: ``cban_bars`` (CBAN §4.1, Figs 2-3);
* :mod:`.cban_mnist`: ``cban_mnist`` (CBAN §4.2, Fig 4);
* :mod:`.cban_completion`: ``cban_omniglot``, ``cban_cifar10`` (CBAN §4.3-4.4, Figs 5-6,
  Tables 2-3);
* :mod:`.cban_sr`: ``cban_sr`` (CBAN §4.5, Table 1, Fig 7).

:mod:`.figures` registers the figure makers of ``attractorlab figure``; :mod:`.demo` and
:mod:`.demo_models` are the steps of ``attractorlab demo``; :mod:`.registry` holds the
tables and decorators.

The experiment modules are imported on the first lookup (:func:`list_experiments`,
:func:`get_experiment`, :func:`run_experiment`, :func:`list_figures`,
:func:`get_figure`), so that importing this package (e.g. for the demo's data steps) loads
neither Brian2 nor torch. Models and analysis never import this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from attractorlab.experiments import registry
from attractorlab.experiments.registry import (
    Experiment,
    Figure,
    parse_overrides,
    register_experiment,
    register_figure,
)

__all__ = [
    "Experiment",
    "Figure",
    "register_experiment",
    "register_figure",
    "get_experiment",
    "list_experiments",
    "parse_overrides",
    "run_experiment",
    "get_figure",
    "list_figures",
]

_loaded = False


def _load_all() -> None:
    """Import every experiment module once (their imports register the experiments and figures)."""
    global _loaded
    if _loaded:
        return
    from attractorlab.experiments import (  # noqa: F401  (imported for their registrations)
        cban_bars,
        cban_completion,
        cban_mnist,
        cban_sr,
        figures,
        lin_tang,
    )

    _loaded = True


def list_experiments() -> list[str]:
    """Names of all registered experiments, sorted."""
    _load_all()
    return sorted(registry._REGISTRY)


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; ValueError listing the known names otherwise."""
    _load_all()
    table = registry._REGISTRY
    if name not in table:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(sorted(table)) or '(none)'}")
    return table[name]


def run_experiment(
    name: str,
    preset: str = "smoke",
    overrides: Mapping[str, Any] | None = None,
    out_dir: str | Path | None = None,
):
    """Run experiment ``name`` with ``preset`` and ``overrides``; returns its Dataset.

    Results go to ``out_dir`` (default ``results/<name>/<preset>``).
    """
    from attractorlab.results import results_root

    exp = get_experiment(name)
    cfg = exp.config(preset, overrides)
    out = Path(out_dir) if out_dir is not None else results_root() / name / preset
    out.mkdir(parents=True, exist_ok=True)
    return exp.func(cfg, out)


def list_figures() -> list[str]:
    """Names of registered figure makers, sorted."""
    _load_all()
    return sorted(registry._FIGURES)


def get_figure(name: str) -> Figure:
    """The figure maker ``name``; ValueError listing the known ones otherwise."""
    _load_all()
    table = registry._FIGURES
    if name not in table:
        raise ValueError(f"unknown figure {name!r}; known: {', '.join(sorted(table)) or '(none registered yet)'}")
    return table[name]
