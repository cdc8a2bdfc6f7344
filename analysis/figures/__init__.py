"""Figures. Each function takes data, ``ax=None`` (or ``axes=None``) and returns the axes.

:data:`FIGURES` maps figure ids to functions, importing modules only when looked up:

* shared analysis figures: ``"rf.ringach"``, ``"rf.marginals"``, ``"rf.orientation"``,
  ``"rf.frequency"``, ``"rf.atoms"``, ``"attractors.convergence"``, ``"attractors.cycle"``,
  ``"attractors.basin"``, ``"attractors.code_distance"``, ``"spikes.raster"``,
  ``"spikes.rate_scatter"``, ``"spikes.error_vs_duration"``;
* per-paper figures from ``lin_tang``, ``cban`` and ``cban_completion``: ids
  ``"<module>.<name>"`` (e.g. ``"lin_tang.fig2"``) for every entry of the module's own
  ``FIGURES`` dict if it defines one, else for every public function whose name starts with
  ``fig`` or ``tab``, else for every function in its ``__all__``.

Example
-------
>>> from attractorlab.analysis.figures import FIGURES
>>> "rf.ringach" in FIGURES
True
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Callable, Iterator

__all__ = ["FIGURES", "get_figure"]

_PKG = "attractorlab.analysis.figures"

_SHARED: dict[str, tuple[str, str]] = {
    "rf.ringach": ("receptive_fields", "ringach_plot"),
    "rf.marginals": ("receptive_fields", "nxny_marginals"),
    "rf.orientation": ("receptive_fields", "orientation_histogram"),
    "rf.frequency": ("receptive_fields", "frequency_histogram"),
    "rf.atoms": ("receptive_fields", "atom_grid"),
    "attractors.convergence": ("attractors", "convergence_plot"),
    "attractors.cycle": ("attractors", "cycle_plot"),
    "attractors.basin": ("attractors", "basin_plot"),
    "attractors.code_distance": ("attractors", "code_distance_plot"),
    "spikes.raster": ("spikes", "raster_plot"),
    "spikes.rate_scatter": ("spikes", "rate_scatter"),
    "spikes.error_vs_duration": ("spikes", "error_vs_duration_plot"),
}

#: Per-paper figure modules.
_PAPER_MODULES = ("lin_tang", "cban", "cban_completion")


def _paper_figures(module: str) -> dict[str, Callable]:
    mod = importlib.import_module(f"{_PKG}.{module}")
    table = getattr(mod, "FIGURES", None)
    if isinstance(table, Mapping):
        return {f"{module}.{k}": v for k, v in table.items()}
    names = getattr(mod, "__all__", [n for n in dir(mod) if not n.startswith("_")])
    funcs = {n: getattr(mod, n) for n in names if callable(getattr(mod, n, None))}
    figs = {n: f for n, f in funcs.items() if n.startswith(("fig", "tab"))}
    return {f"{module}.{n}": f for n, f in (figs or funcs).items()}


class _FigureIndex(Mapping):
    """Read-only mapping id -> figure function; modules are imported on first use."""

    def __init__(self) -> None:
        self._paper: dict[str, Callable] | None = None

    def _load_paper(self) -> dict[str, Callable]:
        if self._paper is None:
            out: dict[str, Callable] = {}
            for m in _PAPER_MODULES:
                out.update(_paper_figures(m))
            self._paper = out
        return self._paper

    def __getitem__(self, key: str) -> Callable:
        if key in _SHARED:
            mod, name = _SHARED[key]
            return getattr(importlib.import_module(f"{_PKG}.{mod}"), name)
        paper = self._load_paper()
        if key in paper:
            return paper[key]
        raise KeyError(f"unknown figure id {key!r}; known: {', '.join(sorted(self))}")

    def __iter__(self) -> Iterator[str]:
        yield from _SHARED
        yield from self._load_paper()

    def __len__(self) -> int:
        return len(_SHARED) + len(self._load_paper())

    def __contains__(self, key: object) -> bool:
        return key in _SHARED or key in self._load_paper()

    def refresh(self) -> None:
        """Forget the per-paper table (after a module was added)."""
        self._paper = None


#: Figure id -> function (lazy).
FIGURES = _FigureIndex()


def get_figure(figure_id: str) -> Callable:
    """The figure function for ``figure_id`` (see :data:`FIGURES`)."""
    return FIGURES[figure_id]
