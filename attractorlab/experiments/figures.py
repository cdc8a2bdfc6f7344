"""Figure makers of ``attractorlab figure``: redraw a run's figures from its saved results
(no model is rerun).

``attractorlab figure lin_tang_A --results results/lin_tang_A/paper`` writes Figs 2, 3, 4, 6
(and 7 for Dataset A) as PNG next to the results or under ``--out``.

The CBAN experiments draw their figures at the end of each run (``cban_*`` have no figure
maker yet).
"""

from __future__ import annotations

from pathlib import Path

from attractorlab.experiments.lin_tang import write_figures
from attractorlab.experiments.registry import register_figure

__all__ = ["lin_tang_figures"]


def lin_tang_figures(results_dir: Path, out_dir: Path) -> list[Path]:
    """Figs 2, 3, 4, 6 (7) of Lin & Tang from ``results_dir`` (``results.nc`` etc.)."""
    return write_figures(results_dir, out_dir)


for _name in ("A", "B", "C"):
    register_figure(f"lin_tang_{_name}", experiment=f"lin_tang_{_name}",
                    description=f"Lin & Tang Dataset {_name}: Figs 2, 3, 4, 6" + (", 7" if _name == "A" else ""))(
        lin_tang_figures)
