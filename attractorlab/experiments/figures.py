"""Figure makers of ``attractorlab figure``: redraw a run's figures from its saved results
(no model is rerun).

``attractorlab figure lin_tang_A --results results/lin_tang_A/paper --format pdf`` writes
Figs 2, 3, 4, 6 (and 7 for Dataset A) as PDF (or PNG, the default, or SVG) next to the
results or under ``--out``, in the project style (:mod:`attractorlab.analysis.figures.style`).

The CBAN completion and super-resolution runs are redrawn the same way
(``cban_omniglot``: Fig 5, ``cban_cifar10``: Fig 6, ``cban_sr``: Fig 7), and ``cban_bars``
redraws Fig 3 (hidden weights), the accuracy per iteration of Fig 2 and the training
curve (Fig 2's completion examples need the trained model and are drawn by the run only).
"""

from __future__ import annotations

from pathlib import Path

from attractorlab.experiments.lin_tang import write_figures
from attractorlab.experiments.registry import register_figure


def _results(results_dir: Path):
    from attractorlab.results import load_dataset

    path = Path(results_dir) / "results.nc"
    if not path.is_file():
        raise FileNotFoundError(f"no results.nc in {str(results_dir)!r}")
    return load_dataset(path)

__all__ = ["lin_tang_figures", "completion_figures", "sr_figures", "bars_figures"]


def lin_tang_figures(results_dir: Path, out_dir: Path, fmt: str = "png") -> list[Path]:
    """Figs 2, 3, 4, 6 (7) of Lin & Tang from ``results_dir`` (``results.nc`` etc.)."""
    return write_figures(results_dir, out_dir, fmt=fmt)


for _name in ("A", "B", "C"):
    register_figure(f"lin_tang_{_name}", experiment=f"lin_tang_{_name}",
                    description=f"Lin & Tang Dataset {_name}: Figs 2, 3, 4, 6" + (", 7" if _name == "A" else ""))(
        lin_tang_figures)


@register_figure("cban_omniglot", experiment="cban_omniglot", description="CBAN Fig 5: Omniglot completions, PSNR/SSIM")
def _omniglot(results_dir: Path, out_dir: Path, fmt: str = "png") -> list[Path]:
    return completion_figures(results_dir, out_dir, fmt, "fig5")


@register_figure("cban_cifar10", experiment="cban_cifar10", description="CBAN Fig 6: CIFAR-10 completions, PSNR/SSIM")
def _cifar10(results_dir: Path, out_dir: Path, fmt: str = "png") -> list[Path]:
    return completion_figures(results_dir, out_dir, fmt, "fig6")


def completion_figures(results_dir: Path, out_dir: Path, fmt: str = "png", name: str = "fig5") -> list[Path]:
    """Fig 5 or 6 of a ``cban_omniglot`` / ``cban_cifar10`` run from its ``results.nc``."""
    from attractorlab.experiments.cban_completion import draw_completion_diagnostics, draw_completion_figure

    ds = _results(results_dir)
    return [draw_completion_figure(ds, Path(out_dir) / name, fmt=fmt)] + \
        draw_completion_diagnostics(ds, Path(out_dir), fmt=fmt)


@register_figure("cban_sr", experiment="cban_sr", description="CBAN Fig 7: super-resolution examples")
def sr_figures(results_dir: Path, out_dir: Path, fmt: str = "png") -> list[Path]:
    """Fig 7 of a ``cban_sr`` run from its ``results.nc`` (needs its example crops)."""
    from attractorlab.experiments.cban_sr import draw_sr_figure

    ds = _results(results_dir)
    if "example_hr" not in ds:
        raise ValueError(f"results in {str(results_dir)!r} hold no example crops (n_examples=0); Fig 7 needs them")
    return [draw_sr_figure(ds, Path(out_dir) / "fig7", fmt=fmt)]


@register_figure("cban_bars", experiment="cban_bars", description="CBAN Fig 3 weights, Fig 2 accuracy per iteration")
def bars_figures(results_dir: Path, out_dir: Path, fmt: str = "png") -> list[Path]:
    """Fig 3 (hidden weights), Fig 2's accuracy per iteration and the training curve of a
    ``cban_bars`` run from its ``results.nc``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from attractorlab.analysis.figures import cban as figs
    from attractorlab.analysis.figures import style

    ds = _results(results_dir)
    out = Path(out_dir)
    written = []
    with style.style_context():
        w = ds["weights_visible_hidden"].values
        fig = plt.figure(figsize=(8 * 0.9, 3 * 0.9 + 0.3))
        figs.plot_hidden_weights(w.reshape(w.shape[0], -1), shape=w.shape[1:], n=24, fig=fig)
        written.append(style.save(fig, out / "fig3_bar_weights", fmt=fmt))
        ax = figs.plot_accuracy_per_iteration(ds["accuracy_per_iteration"].values)
        written.append(style.save(ax.figure, out / "fig2_accuracy", fmt=fmt))
        ax = figs.plot_training_curve(ds["epoch"].values, ds["loss"].values, iters=ds["settle_iterations"].values)
        written.append(style.save(ax.figure, out / "training_curve", fmt=fmt))
    return written
