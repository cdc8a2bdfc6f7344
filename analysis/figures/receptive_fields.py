"""Receptive-field figures: Ringach nx-ny plot over the V1 histogram, marginals,
orientation / spatial-frequency histograms and an atom grid with fitted Gabor overlays.

Every function takes data (Datasets from :mod:`attractorlab.analysis.receptive_fields` or
arrays) and ``ax=None`` (a new figure is made when None) and returns the axes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["ringach_plot", "nxny_marginals", "orientation_histogram", "frequency_histogram", "atom_grid"]


def _ax(ax, **kw):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(layout="constrained", **kw)
    return ax


def _nxny(fits: Any, good_only: bool) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(fits, xr.Dataset):
        m = fits["good"].values.astype(bool) if (good_only and "good" in fits) else np.ones(fits.sizes["atom"], bool)
        return fits["nx"].values[m], fits["ny"].values[m]
    nx, ny = fits
    return np.asarray(nx, float), np.asarray(ny, float)


def ringach_plot(fits: Any, *, v1_counts: Any = None, edges: Any = None, ax=None, good_only: bool = True,
                 label: str = "model", color: str = "C3", comparison: xr.Dataset | None = None,
                 colorbar: bool = True):
    """The classic Ringach (2002) plot: model (nx, ny) scattered over the V1 histogram, log axes.

    Parameters
    ----------
    fits : Dataset from ``fit_gabors`` or a tuple ``(nx, ny)``
    v1_counts, edges : arrays, optional
        V1 histogram (rows nx, cols ny); default ``attractorlab.data.load_v1_nxny()``.
    good_only : bool
        Plot only accepted fits.
    comparison : Dataset from ``compare_with_v1``, optional
        Its distance and interval are written in the title.
    colorbar : bool
        Add a colour bar for the V1 counts.
    """
    from attractorlab.analysis.receptive_fields import V1_EDGES, v1_nxny

    if v1_counts is None:
        v1_counts, e = v1_nxny()
        edges = e if edges is None else edges
    edges = np.asarray(V1_EDGES if edges is None else edges, float)
    v1_counts = np.asarray(v1_counts, float)
    ax = _ax(ax, figsize=(5.0, 4.2))
    # pcolormesh: x axis = ny? Ringach plots nx horizontally, ny vertically.
    mesh = ax.pcolormesh(edges, edges, v1_counts.T, cmap="Greys", shading="flat", alpha=0.8)
    nx, ny = _nxny(fits, good_only)
    ok = (nx > 0) & (ny > 0) & np.isfinite(nx) & np.isfinite(ny)
    lo = min(edges[0], nx[ok].min() if ok.any() else edges[0], ny[ok].min() if ok.any() else edges[0]) / 1.3
    hi = max(edges[-1], nx[ok].max() if ok.any() else edges[-1], ny[ok].max() if ok.any() else edges[-1]) * 1.3
    ax.scatter(nx[ok], ny[ok], s=10, color=color, alpha=0.7, edgecolors="none", label=f"{label} (n={int(ok.sum())})")
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$n_x = \sigma_x f$ (carrier periods across)")
    ax.set_ylabel(r"$n_y = \sigma_y f$ (carrier periods along)")
    ax.legend(loc="upper left", fontsize=7, title=f"grey: macaque V1 (n={int(v1_counts.sum())})",
              title_fontsize=7, frameon=False)
    if comparison is not None:
        d = float(comparison["distance"])
        units = comparison["distance"].attrs.get("units", "")
        title = (f"{comparison.attrs.get('metric', '').upper()} distance {d:.3f} {units} "
                 f"[{float(comparison['ci_low']):.3f}, {float(comparison['ci_high']):.3f}]; "
                 f"V1 vs V1 (95%): < {float(comparison['null_q95']):.3f}")
        if "ks_ceiled" in comparison:
            ks = comparison["ks_ceiled"].values
            title += f"\nBrain-Score similarity / ceiling: nx {ks[0]:.2f}, ny {ks[1]:.2f}"
        if "frac_accepted" in comparison and np.isfinite(float(comparison["frac_accepted"])):
            title += (f"\n{int(comparison['n_model'])} of {int(comparison['n_atoms'])} atoms accepted "
                      f"({float(comparison['frac_accepted']):.0%})")
        ax.set_title(title, fontsize=7)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, shrink=0.6, label="V1 cells per bin")
    return ax


def nxny_marginals(comparison: xr.Dataset, *, axes=None):
    """Model vs V1 marginal distributions of nx and ny (fractions per log bin).

    ``comparison`` is the Dataset of ``compare_with_v1``; ``axes`` a pair of axes (or None).
    Returns the pair.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(6.5, 2.6), sharey=True)
    edges = np.asarray(comparison["nx_edge"].values, float)
    width = np.diff(np.log10(edges))
    left = np.log10(edges[:-1])
    for ax, key in zip(axes, ("nx", "ny")):
        ax.bar(left, comparison[f"v1_{key}"].values, width=width * 0.45, align="edge", color="0.5", label="V1")
        ax.bar(left + width * 0.5, comparison[f"model_{key}"].values, width=width * 0.45, align="edge",
               color="C3", label="model")
        ax.set_xticks(np.log10(edges))
        ax.set_xticklabels([f"{e:.2g}" for e in edges], fontsize=7)
        ax.set_xlabel(f"${key[0]}_{key[1]}$ (log bins; outer bins include values beyond)")
    axes[0].set_ylabel("fraction of cells / atoms")
    axes[0].legend(fontsize=7, frameon=False)
    return axes


def orientation_histogram(fits: xr.Dataset, *, ax=None, bins: int = 12, good_only: bool = True):
    """Histogram of preferred (stripe) orientation in degrees, 0-180."""
    ax = _ax(ax, figsize=(3.2, 2.6))
    m = fits["good"].values.astype(bool) if good_only and "good" in fits else slice(None)
    ax.hist(fits["orientation"].values[m], bins=np.linspace(0, 180, bins + 1), color="C0", edgecolor="white")
    ax.set_xlabel("preferred orientation (deg)")
    ax.set_ylabel("atoms")
    ax.set_xticks([0, 45, 90, 135, 180])
    return ax


def frequency_histogram(fits: xr.Dataset, *, ax=None, bins: int = 12, good_only: bool = True):
    """Histogram of spatial frequency (cycles/pixel) on a log axis."""
    ax = _ax(ax, figsize=(3.2, 2.6))
    m = fits["good"].values.astype(bool) if good_only and "good" in fits else slice(None)
    f = fits["frequency"].values[m]
    f = f[f > 0]
    lo = max(f.min() if f.size else 0.01, 1e-3)
    ax.hist(f, bins=np.geomspace(lo, 0.5, bins + 1), color="C2", edgecolor="white")
    ax.set_xscale("log")
    ax.set_xlabel("spatial frequency (cycles/pixel)")
    ax.set_ylabel("atoms")
    return ax


def atom_grid(fits: Any, *, ax=None, n: int | None = None, ncols: int | None = None, overlay: bool = True,
              show_rejected: bool = True):
    """Mosaic of receptive fields with the fitted Gabor envelopes drawn on top.

    Parameters
    ----------
    fits : Dataset from ``fit_gabors`` (needs ``rf``), or an (n, H, W) array (no overlay)
    n : int, optional
        Show the first n atoms.
    overlay : bool
        Draw the 1-sigma envelope ellipse and the carrier direction (green: accepted fit;
        red: rejected, with its reason in the title counts).
    show_rejected : bool
        Also draw the envelopes of rejected fits.
    """
    from matplotlib.patches import Ellipse

    if isinstance(fits, xr.Dataset):
        rfs = fits["rf"].values
    else:
        rfs = np.asarray(fits, float)
        overlay = False
    N = rfs.shape[0] if n is None else min(n, rfs.shape[0])
    H, W = rfs.shape[1:]
    ncols = ncols or int(math.ceil(math.sqrt(N)))
    nrows = int(math.ceil(N / ncols))
    pad = 1
    mosaic = np.full((nrows * (H + pad) - pad, ncols * (W + pad) - pad), np.nan)
    for k in range(N):
        r, c = divmod(k, ncols)
        a = rfs[k]
        s = np.abs(a).max() or 1.0
        mosaic[r * (H + pad): r * (H + pad) + H, c * (W + pad): c * (W + pad) + W] = a / s
    ax = _ax(ax, figsize=(min(10, 0.6 * ncols + 1), min(10, 0.6 * nrows + 1)))
    ax.imshow(mosaic, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    if overlay:
        good = fits["good"].values.astype(bool)
        for k in range(N):
            r, c = divmod(k, ncols)
            x0 = c * (W + pad) + float(fits["x0"][k])
            y0 = r * (H + pad) + float(fits["y0"][k])
            th = float(fits["theta"][k])
            if not (good[k] or show_rejected):
                continue
            col = "lime" if good[k] else "red"
            sx, sy = float(fits["sigma_x"][k]), float(fits["sigma_y"][k])
            if max(sx, sy) > 3 * max(H, W):
                continue
            ax.add_patch(Ellipse((x0, y0), 2 * sx, 2 * sy, angle=math.degrees(th), fill=False, lw=0.6,
                                 color=col, clip_on=True))
        extra = "" if show_rejected else ", rejected not drawn"
        ax.set_title(f"{int(good[:N].sum())}/{N} fits accepted (green){extra}; envelope 1σ ellipses", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
