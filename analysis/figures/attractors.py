"""Attractor figures: convergence curves, cycle illustration, basin curve, code distance.

Each function takes data (Datasets from :mod:`attractorlab.analysis.attractors` or arrays)
and ``ax=None`` / ``axes=None`` and returns the axes.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["convergence_plot", "cycle_plot", "basin_plot", "code_distance_plot"]


def _ax(ax, **kw):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(**kw)
    return ax


def convergence_plot(curve: xr.Dataset, *, axes=None, theta: float | None = None, label: str | None = None,
                     color: str | None = None):
    """Δx (max-abs change, log y) and, when present, energy per iteration.

    Parameters
    ----------
    curve : Dataset from ``convergence_curve`` (``delta`` and optionally ``energy``; with a
        ``sample`` dim each sample is drawn thin and the median thick)
    axes : one axis (Δx only) or a pair (Δx, energy); None makes them
    theta : float, optional
        Convergence threshold drawn as a horizontal line (default ``curve.attrs['theta']``).
    """
    has_e = "energy" in curve
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2 if has_e else 1, figsize=(7 if has_e else 3.6, 2.8), squeeze=False)
        axes = axes[0]
    axes = np.atleast_1d(axes)
    it = curve["iteration"].values
    theta = curve.attrs.get("theta") if theta is None else theta

    def draw(ax, da, logy):
        v = da.values
        if v.ndim == 2:
            ax.plot(it, v, color=color or "C0", lw=0.5, alpha=0.3)
            with warnings.catch_warnings():  # iteration 0 has no change (NaN) in every sample
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(v, axis=1)
            ax.plot(it, med, color=color or "C0", lw=2, label=label or "median")
        else:
            ax.plot(it, v, color=color, lw=1.5, label=label)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("iteration")

    draw(axes[0], curve["delta"], True)
    axes[0].set_ylabel(r"$\max_i |x_i(t) - x_i(t-1)|$ (state units)")
    if theta is not None:
        axes[0].axhline(theta, color="k", ls=":", lw=1, label=rf"$\theta$ = {theta:g}")
    if "t_star" in curve and curve["t_star"].ndim == 0 and int(curve["t_star"]) >= 0:
        axes[0].axvline(int(curve["t_star"]), color="0.5", ls="--", lw=0.8, label=f"t* = {int(curve['t_star'])}")
    if has_e and axes.size > 1:
        draw(axes[1], curve["energy"], False)
        axes[1].set_ylabel("energy E (energy units)")
    if label or theta is not None:
        axes[0].legend(fontsize=7, frameon=False)
    return axes


def cycle_plot(trajectory: Any, *, ax=None, units: int | None = 6, cycle: dict | None = None, last: int | None = None):
    """A few state components against iteration, to show a fixed point or a limit cycle.

    Parameters
    ----------
    trajectory : (T, ...) array or tensor
    units : int
        Number of (highest-variance over the tail) components drawn.
    cycle : dict from ``detect_cycle``, optional; its kind/period go in the title.
    last : int, optional
        Draw only the last ``last`` iterations.
    """
    from attractorlab.analysis.attractors import as_numpy

    x = as_numpy(trajectory)
    x = x.reshape(x.shape[0], -1)
    T = x.shape[0]
    t0 = 0 if last is None else max(0, T - last)
    tail = x[max(0, T - 20):]
    order = np.argsort(tail.std(0))[::-1][: units or x.shape[1]]
    ax = _ax(ax, figsize=(4.2, 2.8))
    ax.plot(np.arange(t0, T), x[t0:, order], lw=1, marker=".", ms=3)
    ax.set_xlabel("iteration")
    ax.set_ylabel("unit state $x_i$ (state units)")
    if cycle is not None:
        txt = cycle["kind"].replace("_", " ")
        if cycle["kind"] == "cycle":
            txt += f", period {cycle['period']}"
        ax.set_title(txt, fontsize=9)
    return ax


def basin_plot(basin: xr.Dataset, *, ax=None, label: str | None = None, color: str | None = None):
    """Fraction of perturbations that return to the reference attractor against perturbation size."""
    ax = _ax(ax, figsize=(3.6, 2.8))
    ax.plot(basin["size"].values, basin["fraction_same"].values, marker="o", color=color, label=label)
    r = float(basin["radius"])
    if np.isfinite(r):
        ax.axvline(r, color=color or "0.4", ls="--", lw=0.8)
    ax.axhline(float(basin.attrs.get("level", 0.5)), color="0.7", ls=":", lw=0.8)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(basin["size"].attrs.get("long_name", "perturbation size"))
    ax.set_ylabel("fraction returning to the attractor")
    if label:
        ax.legend(fontsize=7, frameon=False)
    return ax


def code_distance_plot(distance: xr.DataArray, *, ax=None, label: str | None = None, reference_slope: bool = True):
    """Distance of a (cumulative-rate) code to a reference code against time, log-log,
    with a 1/t guide (the resolution of a spike count)."""
    ax = _ax(ax, figsize=(3.6, 2.8))
    t = np.asarray(distance["time"].values, float)
    d = np.asarray(distance.values, float)
    ok = (t > 0) & (d > 0)
    ax.loglog(t[ok], d[ok], label=label)
    if reference_slope and ok.sum() > 1:
        t0, d0 = t[ok][0], d[ok][0]
        ax.loglog(t[ok], d0 * t0 / t[ok], color="0.6", ls=":", lw=1, label="∝ 1/t")
    ax.set_xlabel("time (model time units)")
    ax.set_ylabel(distance.attrs.get("long_name", "distance"))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False)
    return ax
