"""Figures of Lin & Tang (2019): rasters (Fig. 2), consistency and symmetry (Fig. 3), test
objective curves (Fig. 4), learned atoms (Fig. 6) and denoising (Fig. 7).

Every function takes Datasets or arrays, an optional ``ax``/``axes`` and returns the axes;
none calls ``plt.show()``. Time is in model time units (tau = 1).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import xarray as xr

__all__ = [
    "plot_raster",
    "fig2_rasters",
    "fig3_consistency_symmetry",
    "fig4_objective",
    "atom_images",
    "fig6_atoms",
    "fig7_denoising",
    "fig7_psnr_table",
    "sweep_nxny",
    "sweep_scores",
]


def _axes(ax, n=1, figsize=None):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    fig, axes = plt.subplots(1, n, figsize=figsize or (4.5 * n, 3.5), squeeze=False)
    return axes[0] if n > 1 else axes[0, 0]


def plot_raster(run: xr.Dataset, sample: int = 0, *, n_coding: int = 40, n_input: int = 40,
                ax=None, title: str | None = None):
    """Spike raster of one sample of a ``run_network(..., record_spikes=True)`` Dataset.

    Coding neurons (the ``n_coding`` most active in the sample) are drawn above input
    neurons (the ``n_input`` most active); a dashed line marks the switch from gamma = 0 to
    gamma = kappa. Time is relative to the sample start, in model time units.
    """
    ax = _axes(ax)
    if "spike_t" not in run:
        raise ValueError("run must come from run_network(..., record_spikes=True) (no spike_t variable)")
    T = float(run.attrs.get("phase_duration", 0) or 0) or _phase_duration(run)
    sel = run["spike_sample"].values == sample
    t = run["spike_t"].values[sel] - sample * 2 * T
    i = run["spike_i"].values[sel]
    layer = run["spike_layer"].values[sel]
    y0 = 0
    ticks, labels = [], []
    for lay, n_show, name, color in ((0, n_input, "input", "tab:blue"), (1, n_coding, "coding", "tab:red")):
        m = layer == lay
        ids, counts = np.unique(i[m], return_counts=True)
        chosen = np.sort(ids[np.argsort(-counts, kind="stable")[:n_show]])
        row = {nid: y0 + k for k, nid in enumerate(chosen)}
        keep = np.isin(i[m], chosen)
        ys = np.array([row[v] for v in i[m][keep]])
        ax.scatter(t[m][keep], ys, marker="|", s=12, color=color, linewidths=0.8)
        ticks.append(y0 + max(len(chosen), 1) / 2)
        labels.append(f"{name}\n({len(chosen)})")
        y0 += max(len(chosen), 1) + 2
    ax.axvline(T, color="k", ls="--", lw=0.8)
    ax.set_xlim(0, 2 * T)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_ylabel("most active neurons (count)")
    ax.set_xlabel("time in sample (model time units, tau = 1)")
    gam = run["phase"].values
    ax.text(T / 2, y0, f"gamma = {gam[0]:g}", ha="center", va="bottom", fontsize=8)
    ax.text(1.5 * T, y0, f"gamma = {gam[1]:g}", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(-1, y0 + 3)
    if title:
        ax.set_title(title)
    return ax


def _phase_duration(run: xr.Dataset) -> float:
    import json

    params = run.attrs.get("params")
    if isinstance(params, str):
        params = json.loads(params)
    return float((params or {}).get("phase_duration", 20.0))


def fig2_rasters(before: xr.Dataset, after: xr.Dataset, *, before_sample: int = 0, after_sample: int = 0,
                 axes=None, labels: Sequence[str] = ("before learning (first sample)",
                                                     "after learning (last sample)")):
    """Fig. 2: rasters before and after learning (two axes)."""
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    plot_raster(before, before_sample, ax=axes[0], title=labels[0])
    plot_raster(after, after_sample, ax=axes[1], title=labels[1])
    return axes


def fig3_consistency_symmetry(results: xr.Dataset, *, axes=None):
    """Fig. 3: consistency 1 - ||H-FB||/||H|| and symmetry vs samples, one line per init.

    ``results`` has ``consistency(init, snapshot)``, ``symmetry(init, snapshot)`` and
    ``samples_seen(learner, snapshot)`` with learners ``spiking_<init>``.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for init in results["init"].values:
        x = _samples(results, f"spiking_{init}")
        for ax, var in zip(axes, ("consistency", "symmetry")):
            y = results[var].sel(init=init).values
            ok = (x > 0) & np.isfinite(y)
            ax.plot(x[ok], y[ok], marker="o", ms=3, label=f"SpikingNet ({init} init)")
    for ax, var in zip(axes, ("consistency", "symmetry")):
        ax.set_xscale("log")
        ax.set_xlabel("training samples")
        ax.set_ylabel(var)
        ax.set_title(results[var].attrs.get("long_name", var), fontsize=8)
        ax.set_ylim(top=1.02)
        ax.legend(fontsize=8)
    return axes


def _samples(results: xr.Dataset, method: str) -> np.ndarray:
    return results["samples_seen"].sel(learner=method).values.astype(float)


def fig4_objective(results: xr.Dataset, *, ax=None, title: str | None = None):
    """Fig. 4: test objective vs training samples (log x), one curve per method."""
    ax = _axes(ax)
    styles = {"spiking_consistent": dict(color="k", ls="-"), "spiking_random": dict(color="k", ls="--"),
              "sklearn": dict(color="tab:green", ls="-", marker="^")}
    markers = iter(["*", "s", "o", "D", "v"])
    for m in results["learner"].values:
        m = str(m)
        x = _samples(results, m)
        y = results["objective"].sel(learner=m).values
        ok = (x > 0) & np.isfinite(y)
        if not ok.any():
            continue
        st = styles.get(m, dict(marker=next(markers, "x")))
        ax.plot(x[ok], y[ok], ms=4, label=_label(m, results), **st)
    ax.set_xscale("log")
    ax.set_xlabel("training samples")
    ax.set_ylabel("test objective 1/2||x-Da||^2 + lam1||a||_1")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def _label(method: str, results: xr.Dataset) -> str:
    if method.startswith("spiking_"):
        return f"SpikingNet ({method[8:]} init)"
    if method.startswith("sgd_"):
        return f"SGD (eta = {method[4:]} eta0)"
    if method == "sklearn":
        return "sklearn MiniBatchDictionaryLearning"
    return method


def atom_images(D: np.ndarray, image_shape: tuple[int, int], split_sign: bool) -> np.ndarray:
    """Atoms (columns of D, (M, N)) as images (N, h, w); split atoms shown as positive minus negative half."""
    D = np.asarray(D, dtype=np.float64)
    h, w = image_shape
    if split_sign:
        if D.shape[0] != 2 * h * w:
            raise ValueError(f"D must have {2 * h * w} rows for split {h}x{w} patches, got {D.shape[0]}")
        D = D[: h * w] - D[h * w:]
    elif D.shape[0] != h * w:
        raise ValueError(f"D must have {h * w} rows for {h}x{w} images, got {D.shape[0]}")
    return D.T.reshape(-1, h, w)


def fig6_atoms(D: np.ndarray, image_shape: tuple[int, int], split_sign: bool, *, n_show: int = 100,
               order: str = "norm", ax=None, title: str | None = None):
    """Fig. 6: a grid of learned atoms (each scaled to its own ``max |value|``; grey = 0 for split data)."""
    ax = _axes(ax, figsize=(6, 6))
    imgs = atom_images(D, image_shape, split_sign)
    if order == "norm":
        imgs = imgs[np.argsort(-np.linalg.norm(np.asarray(D), axis=0), kind="stable")]
    imgs = imgs[:n_show]
    n = len(imgs)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    h, w = image_shape
    canvas = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1), np.nan)
    for k, im in enumerate(imgs):
        r, c = divmod(k, cols)
        scale = np.max(np.abs(im)) or 1.0
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = im / scale
    if split_sign:
        ax.imshow(canvas, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    else:
        ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"{n} atoms ({h}x{w}{', positive - negative' if split_sign else ''})", fontsize=9)
    return ax


def fig7_denoising(result: xr.Dataset, *, axes=None):
    """Fig. 7: noisy / denoised / clean images with PSNRs (``denoise_image`` result)."""
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 3, figsize=(12, 4.3))
    for ax, var in zip(axes, ("noisy", "denoised", "clean")):
        ax.imshow(result[var].values, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        name = {"noisy": f"noisy (sigma = {result.attrs.get('sigma', '?')} on 0-255)",
                "denoised": "denoised", "clean": "clean"}[var]
        if var != "clean":
            name += f"\nPSNR = {float(result.attrs[f'psnr_{var}']):.2f} dB"
        if var == "denoised":
            name += f", {float(result.attrs['mean_nonzeros']):.1f} non-zeros/patch"
        ax.set_title(name, fontsize=9)
    return axes


def fig7_psnr_table(result: xr.Dataset, *, ax=None):
    """Fig. 7, right: denoised PSNR per test image for each dictionary (``denoise.nc`` of a
    multi-image run: ``psnr_denoised_table(learner, image)``, ``psnr_noisy_table(image)``),
    with the mean non-zeros per patch and the chosen lambda in the legend."""
    ax = _axes(ax, figsize=(5, 4))
    images = [str(v) for v in result["image"].values]
    learners = [str(v) for v in result["learner"].values]
    x = np.arange(len(images))
    width = 0.8 / (len(learners) + 1)
    ax.bar(x - 0.4 + width / 2, result["psnr_noisy_table"].values, width, color="0.75", label="noisy")
    for k, m in enumerate(learners):
        nnz = float(np.mean(result["mean_nonzeros_table"].sel(learner=m).values))
        lam = float(result["lam_chosen"].sel(learner=m)) if "lam_chosen" in result else float("nan")
        ax.bar(x - 0.4 + width * (k + 1.5), result["psnr_denoised_table"].sel(learner=m).values, width,
               label=f"{m} (lambda {lam:.2f}, {nnz:.1f} nz/patch)")
    ax.set_xticks(x)
    ax.set_xticklabels(images, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("PSNR (dB)")
    lo = float(np.nanmin(result["psnr_noisy_table"].values)) - 1.0
    ax.set_ylim(lo, float(np.nanmax(result["psnr_denoised_table"].values)) + 1.5)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"sigma = {result.attrs.get('sigma', '?')}; lambda chosen on {result.attrs.get('lam_chosen_on', '?')}",
                 fontsize=9)
    return ax


def sweep_nxny(sweep: xr.Dataset, *, axes=None):
    """One Ringach plot per run of a lambda_1 sweep (``lin_tang_C_lam1``'s ``sweep.nc``):
    the accepted atoms' (nx, ny) over the V1 histogram, with the fraction accepted."""
    from attractorlab.analysis.figures.receptive_fields import ringach_plot

    n = sweep.sizes["run"]
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6))
    for r, ax in zip(range(n), np.atleast_1d(axes)):
        d = sweep.isel(run=r)
        good = d["good"].values.astype(bool)
        ringach_plot((d["nx"].values[good], d["ny"].values[good]), ax=ax, colorbar=False,
                     label=f"lambda_1 = {float(d['lam1']):g}")
        txt = f"{good.sum()} of {good.size} accepted ({good.mean():.0%})"
        if "v1_ks_ceiled_mean" in d and np.isfinite(float(d["v1_ks_ceiled_mean"])):
            txt += f"; Brain-Score {float(d['v1_ks_ceiled_mean']):.2f}"
        ax.set_title(txt, fontsize=8)
    return axes


def sweep_scores(sweep: xr.Dataset, *, ax=None):
    """Acceptance fractions, Brain-Score similarity / ceiling and non-zeros per patch
    against lambda_1 (a lambda_1 sweep's ``sweep.nc``)."""
    ax = _axes(ax, figsize=(4.5, 3.6))
    lam = sweep["lam1"].values.astype(float)
    ax.plot(lam, sweep["frac_accepted"].values, "o-", label="accepted (R^2 >= 0.5, s.d. >= 1 px)")
    ax.plot(lam, sweep["frac_accepted_long"].values, "s-", label="accepted, longer s.d. >= 2 px")
    if "v1_ks_ceiled_mean" in sweep:
        ax.plot(lam, sweep["v1_ks_ceiled_mean"].values, "^-", label="Brain-Score nx-ny / ceiling")
    ax.set_xscale("log")
    ax.set_xlabel("lambda_1 (unit-variance 16x16 patches)")
    ax.set_ylabel("fraction / score")
    ax.set_ylim(0, 1.05)
    ax2 = ax.twinx()
    ax2.plot(lam, sweep["final_nnz"].values, "k:", marker="x", label="non-zeros / patch")
    ax2.set_yscale("log")
    ax2.set_ylabel("non-zeros per patch (dotted)")
    ax.legend(fontsize=7, loc="center left")
    return ax

