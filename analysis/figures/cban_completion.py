"""CBAN completion and super-resolution figures ([CB] Figs 5, 6 and 7).

Each function takes the Datasets written by ``cban_omniglot`` / ``cban_cifar10``
(``results.nc``) or ``cban_sr`` (``results.nc``), draws on given axes (or makes a
figure) and returns the axes; nothing is shown or saved here.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["completion_grid", "metric_bars", "completion_figure", "learning_curves", "convergence_figure",
           "sr_examples"]


def _to_rgb01(img: np.ndarray) -> np.ndarray:
    """(C, H, W) in [-1, 1] -> (H, W, 3) in [0, 1]."""
    x = np.clip((np.asarray(img, dtype=np.float64) + 1) / 2, 0, 1)
    x = np.moveaxis(x, 0, -1)
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def completion_grid(ds: xr.Dataset, *, models=None, n: int | None = None, ax=None):
    """Fig 5/6 left: rows target, evidence (hidden pixels red), one completion per model.

    Parameters
    ----------
    ds : Dataset with ``target`` (example, channel, y, x), ``observed`` (example, y, x)
        and ``completion`` (model, example, channel, y, x).
    models : list of str, optional
        Models (rows) in order; default all.
    n : int, optional
        Number of examples (columns).
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
    """
    import matplotlib.pyplot as plt

    models = list(ds.model.values) if models is None else list(models)
    n = ds.sizes["example"] if n is None else min(n, ds.sizes["example"])
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 * n + 1.5, 1.0 * (len(models) + 2)))
    h, w = ds.sizes["y"], ds.sizes["x"]
    pad = 2
    rows = []
    for i in range(n):
        tgt = _to_rgb01(ds.target.values[i])
        ev = tgt.copy()
        ev[ds.observed.values[i] == 0] = (1.0, 0.0, 0.0)
        col = [tgt, ev] + [_to_rgb01(ds.completion.sel(model=m).values[i]) for m in models]
        rows.append(col)
    canvas = np.ones(((len(models) + 2) * (h + pad), n * (w + pad), 3))
    for i, col in enumerate(rows):
        for r, img in enumerate(col):
            canvas[r * (h + pad):r * (h + pad) + h, i * (w + pad):i * (w + pad) + w] = img
    ax.imshow(canvas, interpolation="nearest")
    names = ["Target", "Evidence"] + [str(ds.model_name.sel(model=m).values) if "model_name" in ds.coords else m
                                      for m in models]
    ax.set_yticks([(r + 0.5) * (h + pad) for r in range(len(names))])
    ax.set_yticklabels(names)
    ax.set_xticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    return ax


def metric_bars(ds: xr.Dataset, metric: str = "psnr", *, models=None, ax=None):
    """Bars of the mean of ``metric`` over test images with +-1 standard error (Fig 5/6 right)."""
    import matplotlib.pyplot as plt

    from attractorlab.analysis.metrics import mean_sem

    if metric not in ds:
        raise ValueError(f"metric must be a variable of ds (e.g. 'psnr', 'ssim'), got {metric!r}")
    models = list(ds.model.values) if models is None else list(models)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 2.5))
    ms = [mean_sem(ds[metric].sel(model=m).values) for m in models]
    labels = [str(ds.model_name.sel(model=m).values) if "model_name" in ds.coords else m for m in models]
    ax.bar(range(len(models)), [m for m, _ in ms], yerr=[s for _, s in ms], capsize=3,
           color=["C0", "C1", "C2", "C3", "C4", "C5"][: len(models)])
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels(labels, rotation=45, ha="right")
    units = ds[metric].attrs.get("units", "")
    ax.set_ylabel(metric.upper() + (f" ({units})" if units not in ("", "1") else ""))
    lo = min(m - (s if np.isfinite(s) else 0) for m, s in ms)
    hi = max(m + (s if np.isfinite(s) else 0) for m, s in ms)
    span = max(hi - lo, 1e-6)
    ax.set_ylim(lo - 0.5 * span, hi + 0.2 * span)
    return ax


def completion_figure(ds: xr.Dataset, *, models=None, n: int | None = None, fig=None):
    """Figs 5 and 6: example grid (left) with PSNR and SSIM bars (right).

    Returns
    -------
    list of Axes: ``[grid, psnr_bars, ssim_bars]``
    """
    import matplotlib.pyplot as plt

    models = list(ds.model.values) if models is None else list(models)
    if fig is None:
        fig = plt.figure(figsize=(11, 4.5))
    gs = fig.add_gridspec(2, 2, width_ratios=(3, 1))
    a0 = fig.add_subplot(gs[:, 0])
    a1 = fig.add_subplot(gs[0, 1])
    a2 = fig.add_subplot(gs[1, 1])
    completion_grid(ds, models=models, n=n, ax=a0)
    metric_bars(ds, "psnr", models=models, ax=a1)
    metric_bars(ds, "ssim", models=models, ax=a2)
    a1.set_xticklabels([])
    fig.tight_layout()
    return [a0, a1, a2]


def _name(ds: xr.Dataset, m: str) -> str:
    return str(ds.model_name.sel(model=m).values) if "model_name" in ds.coords else str(m)


def learning_curves(ds: xr.Dataset, *, models=None, ax=None):
    """Mean PSNR on the monitor test images after every training epoch, one line per model.

    Shows whether training reached a plateau (``monitor_psnr`` (model, epoch) of the
    completion results).
    """
    import matplotlib.pyplot as plt

    if "monitor_psnr" not in ds:
        raise ValueError("ds has no 'monitor_psnr' (run with n_monitor > 0)")
    models = list(ds.model.values) if models is None else list(models)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3))
    for i, m in enumerate(models):
        y = ds.monitor_psnr.sel(model=m).values
        ok = np.isfinite(y)
        ax.plot(ds.epoch.values[ok] + 1, y[ok], marker="o", ms=3, label=_name(ds, m), color=f"C{i}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("monitor PSNR (dB)")
    ax.legend(fontsize="small", frameon=False)
    return ax


def convergence_figure(ds: xr.Dataset, *, models=None, fig=None):
    """Residual ``max |x(t) - x(t-1)|`` (log scale) and energy per iteration on traced test
    images, one colour per model: a symmetric net settles (residual falls, energy descends),
    an asymmetric one may keep cycling (residual stays up).

    Returns
    -------
    list of Axes: ``[residual, energy]``
    """
    import matplotlib.pyplot as plt

    for key in ("trace_residual", "trace_energy"):
        if key not in ds:
            raise ValueError(f"ds has no {key!r} (run with n_trace > 0)")
    models = [m for m in (list(ds.model.values) if models is None else list(models))
              if np.isfinite(ds.trace_residual.sel(model=m).values).any()]
    if fig is None:
        fig = plt.figure(figsize=(8, 3))
    a0, a1 = fig.subplots(1, 2)
    it = ds.iteration.values
    for i, m in enumerate(models):
        res = ds.trace_residual.sel(model=m).values
        en = ds.trace_energy.sel(model=m).values
        for j in range(res.shape[0]):
            lab = _name(ds, m) if j == 0 else None
            a0.semilogy(it, np.maximum(res[j], 1e-12), color=f"C{i}", alpha=0.6, lw=1, label=lab)
            a1.plot(it, en[j] - np.nanmin(en[j]), color=f"C{i}", alpha=0.6, lw=1, label=lab)
    a0.set_xlabel("iteration")
    a0.set_ylabel("residual max |x(t) - x(t-1)|")
    a1.set_xlabel("iteration")
    a1.set_ylabel("energy - its minimum")
    a0.legend(fontsize="small", frameon=False)
    fig.tight_layout()
    return [a0, a1]


def sr_examples(ds: xr.Dataset, *, ax=None):
    """Fig 7: per example a crop of the HR ground truth, the CBAN output, the SRCNN-style
    baseline's (when present) and bicubic.

    ``ds`` needs ``example_hr``, ``example_cban``, ``example_bicubic`` (example, y, x,
    channel) uint8, optionally ``example_srcnn`` and ``example_name``.
    """
    import matplotlib.pyplot as plt

    n = ds.sizes["example"]
    cols = [(k, lab) for k, lab in (("example_hr", "HR"), ("example_cban", "CBAN"), ("example_srcnn", "SRCNN-style"),
                                    ("example_bicubic", "bicubic")) if k in ds]
    if ax is None:
        _, ax = plt.subplots(figsize=(2.3 * len(cols), 2.4 * n))
    h, w = ds.sizes["crop_y"], ds.sizes["crop_x"]
    pad = 4
    canvas = np.ones((n * (h + pad), len(cols) * (w + pad), 3))
    for i in range(n):
        for j, (key, _) in enumerate(cols):
            canvas[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = ds[key].values[i] / 255.0
    ax.imshow(canvas, interpolation="nearest")
    ax.set_xticks([(j + 0.5) * (w + pad) for j in range(len(cols))])
    ax.set_xticklabels([lab for _, lab in cols])
    names = [str(v) for v in ds["example_name"].values] if "example_name" in ds else [str(i) for i in range(n)]
    ax.set_yticks([(i + 0.5) * (h + pad) for i in range(n)])
    ax.set_yticklabels(names)
    return ax


#: Paper figure id -> function (CBAN): Figs. 5 (Omniglot) and 6 (CIFAR-10) are completion
#: grids with PSNR/SSIM bars, Fig. 7 the SR examples, Fig. 9 the update-order comparison.
FIGURES = {
    "fig5": completion_figure,
    "fig6": completion_figure,
    "fig7": sr_examples,
    "fig9": completion_grid,
    "metric_bars": metric_bars,
}
