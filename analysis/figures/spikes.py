"""Spike figures: raster, spiking-vs-rate scatter, error against simulation duration.

Each function takes data and ``ax=None`` and returns the axes.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import xarray as xr

__all__ = ["raster_plot", "rate_scatter", "error_vs_duration_plot"]


def _ax(ax, **kw):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(**kw)
    return ax


def raster_plot(raster: xr.Dataset, *, ax=None, phase_edges: Sequence[float] | None = None,
                color: str = "k", ylabel: str = "neuron", size: float = 2.0):
    """Spike raster from :func:`attractorlab.analysis.spikes.raster` (``t`` vs ``row``).

    ``phase_edges`` draws vertical lines at phase boundaries (e.g. the γ switch at t = 20).
    """
    ax = _ax(ax, figsize=(5, 2.8))
    ax.scatter(raster["t"].values, raster["row"].values, s=size, marker="|", color=color, linewidths=0.8)
    for e in phase_edges or ():
        ax.axvline(e, color="C3", lw=0.8, ls="--")
    ax.set_xlabel("time (model time units)")
    ax.set_ylabel(ylabel)
    if "t_range" in raster.attrs:
        ax.set_xlim(*raster.attrs["t_range"])
    return ax


def rate_scatter(comparison: dict | tuple, *, ax=None, label: str | None = None, color: str = "C0"):
    """Spiking rate against rate-model rate, with the identity line; ``comparison`` is the
    dict of ``compare_rates`` (or a tuple ``(rate_model, spiking)``)."""
    if isinstance(comparison, dict):
        x, y = np.asarray(comparison["x"]), np.asarray(comparison["y"])
        r, e = comparison.get("pearson_r"), comparison.get("relative_error")
    else:
        x, y = (np.asarray(v, float).ravel() for v in comparison)
        r = e = None
    ax = _ax(ax, figsize=(3.4, 3.2))
    ax.scatter(x, y, s=6, alpha=0.5, color=color, edgecolors="none", label=label)
    hi = float(max(x.max(initial=0), y.max(initial=0))) * 1.05 or 1.0
    ax.plot([0, hi], [0, hi], color="0.5", ls="--", lw=0.8)
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_xlabel("rate model $a_c$ (spikes / time unit)")
    ax.set_ylabel("spiking net $a$ (spikes / time unit)")
    if r is not None:
        ax.set_title(f"r = {r:.3f}, rel. error = {e:.3f}", fontsize=8)
    return ax


def error_vs_duration_plot(ds: xr.Dataset, *, ax=None, label: str | None = None, guide: bool = True):
    """Relative spiking-vs-rate error against simulation duration (log-log) with a 1/T guide."""
    ax = _ax(ax, figsize=(3.6, 2.8))
    T = ds["duration"].values.astype(float)
    err = ds["relative_error"].values
    ax.loglog(T, err, marker="o", label=label or f"slope {float(ds['loglog_slope']):.2f}")
    if guide and T.size > 1:
        ax.loglog(T, err[0] * T[0] / T, color="0.6", ls=":", label="∝ 1/T")
    ax.set_xlabel("simulation time T (model time units)")
    ax.set_ylabel(r"$\|a_{spk} - a_{rate}\| / \|a_{rate}\|$")
    ax.legend(fontsize=7, frameon=False)
    return ax
