"""The figure gallery: one small example per id of ``attractorlab.analysis.figures.FIGURES``.

Each example builds a small synthetic input (with the analysis functions where they are
cheap) and calls the figure function; the page shows the image, the function's first
docstring line, a link to its API entry and the example's source. An id without an example
fails the docs build, so a new figure function must come with one here.

Images are rendered with the project style (:mod:`attractorlab.analysis.figures.style`
when present) and re-rendered only when the analysis sources or this file change.
"""

from __future__ import annotations

import hashlib
import inspect
import textwrap
from pathlib import Path
from typing import Callable

import numpy as np
import xarray as xr

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]

EXAMPLES: dict[str, Callable] = {}


def example(*ids: str):
    """Register ``func(figure_function) -> Figure`` as the example of ``ids``."""

    def deco(func):
        for i in ids:
            EXAMPLES[i] = func
        return func

    return deco


# ---------------------------------------------------------------- synthetic inputs
def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _settling(n_units: int = 20, T: int = 30, seed: int = 0) -> np.ndarray:
    """A trajectory relaxing geometrically to a fixed point, (T, n_units)."""
    rng = _rng(seed)
    x_star = np.tanh(rng.normal(size=n_units))
    x0 = rng.normal(size=n_units)
    rate = rng.uniform(0.55, 0.8, size=n_units)
    t = np.arange(T)[:, None]
    return x_star + (x0 - x_star) * rate ** t


def _fits(n: int = 16, size: int = 12, seed: int = 0) -> xr.Dataset:
    from attractorlab.analysis import receptive_fields as rf

    rng = _rng(seed)
    atoms = []
    for _ in range(n):
        atoms.append(rf.gabor((size, size), x0=rng.uniform(4, 8), y0=rng.uniform(4, 8),
                              theta=rng.uniform(0, np.pi), frequency=rng.uniform(0.12, 0.3),
                              phase=rng.uniform(0, 2 * np.pi), sigma_x=rng.uniform(1.2, 2.5),
                              sigma_y=rng.uniform(1.5, 3.0)) + 0.05 * rng.normal(size=(size, size)))
    return rf.fit_gabors(np.stack(atoms), n_starts=2, progress=False)


def _v1_counts() -> tuple[np.ndarray, np.ndarray]:
    """Macaque V1 histogram from the data root; a made-up stand-in (labelled) without data."""
    from attractorlab.analysis import receptive_fields as rf

    try:
        return rf.v1_nxny()
    except Exception:  # noqa: BLE001 - no data root: the example still draws
        counts = np.array([[2, 6, 4, 1, 0], [4, 14, 10, 2, 0], [2, 9, 11, 3, 1], [0, 2, 4, 2, 0], [0, 0, 1, 1, 0]])
        return counts.astype(float), np.asarray(rf.V1_EDGES, float)


def _spikes(n: int = 30, T: float = 40.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng(seed)
    rates = rng.uniform(0.05, 0.8, size=n)
    t, i = [], []
    for k, r in enumerate(rates):
        s = np.cumsum(rng.exponential(1 / r, size=int(3 * r * T) + 5))
        s = s[s < T]
        t.append(s)
        i.append(np.full(s.size, k))
    return np.concatenate(t), np.concatenate(i)


def _bars(n: int = 6, seed: int = 0):
    rng = _rng(seed)
    targets = -np.ones((n, 5, 5))
    for k in range(n):
        targets[k, rng.integers(5), :] = 1
        targets[k, :, rng.integers(5)] = 1
    hidden = rng.random((n, 5, 5)) < 0.4
    T = 6
    noise = rng.normal(scale=0.6, size=(T, n, 5, 5)) * (0.5 ** np.arange(T))[:, None, None, None]
    traj = np.clip(np.where(hidden, 0.0, targets)[None] * 0 + targets[None] + noise, -1, 1)
    return targets, hidden, traj


def _completion_ds(n: int = 5, size: int = 16, channels: int = 1, seed: int = 0) -> xr.Dataset:
    rng = _rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    target = np.stack([np.sin(2 * np.pi * (xx * (k % 3 + 1) + yy * (k % 2))) for k in range(n)])
    target = np.repeat(target[:, None], channels, axis=1)
    observed = (rng.random((n, size, size)) > 0.3).astype(np.int8)
    models = ["cban", "cban_asym", "vae"]
    comp = np.stack([np.clip(target + rng.normal(scale=s, size=target.shape) * (1 - observed[:, None]), -1, 1)
                     for s in (0.2, 0.35, 0.5)])
    psnr = np.stack([rng.normal(m, 0.5, size=n) for m in (22.0, 20.5, 19.0)])
    ssim = np.stack([rng.normal(m, 0.02, size=n) for m in (0.80, 0.74, 0.70)])
    return xr.Dataset(
        {"target": (("example", "channel", "y", "x"), target),
         "observed": (("example", "y", "x"), observed),
         "completion": (("model", "example", "channel", "y", "x"), comp),
         "psnr": (("model", "example"), psnr, {"units": "dB"}),
         "ssim": (("model", "example"), ssim, {"units": "1"})},
        coords={"model": models, "model_name": ("model", ["CBAN", "CBAN-asym", "CD-VAE"])})


def _learning_results(seed: int = 0) -> xr.Dataset:
    rng = _rng(seed)
    learners = ["spiking_consistent", "spiking_random", "sgd_1", "sklearn"]
    snaps = np.array([1e2, 1e3, 1e4, 1e5])
    obj = np.stack([10.5 - 3 * np.log10(snaps) / 5 + d + rng.normal(0, 0.05, snaps.size)
                    for d in (0.0, 0.3, 0.9, 0.7)])
    cons = np.stack([1 - 0.12 * np.log10(snaps) / 5, 0.5 + 0.38 * np.log10(snaps) / 5])
    sym = np.stack([np.full(snaps.size, 0.99), 0.75 + 0.25 * np.log10(snaps) / 5])
    return xr.Dataset(
        {"objective": (("learner", "snapshot"), obj),
         "samples_seen": (("learner", "snapshot"), np.tile(snaps, (len(learners), 1))),
         "consistency": (("init", "snapshot"), cons, {"long_name": "consistency 1 - ||H - FB|| / ||H||"}),
         "symmetry": (("init", "snapshot"), sym, {"long_name": "symmetry of H"})},
        coords={"learner": learners, "init": ["consistent", "random"]})


def _run(seed: int = 0) -> xr.Dataset:
    """Shaped like ``run_network(..., record_spikes=True)``: one sample, two phases of 20."""
    t_in, i_in = _spikes(40, 40.0, seed)
    t_c, i_c = _spikes(20, 40.0, seed + 1)
    t = np.concatenate([t_in, t_c])
    return xr.Dataset(
        {"spike_t": ("spike", t), "spike_i": ("spike", np.concatenate([i_in, i_c])),
         "spike_layer": ("spike", np.r_[np.zeros(t_in.size, int), np.ones(t_c.size, int)]),
         "spike_sample": ("spike", np.zeros(t.size, int))},
        coords={"phase": [0.0, 0.7]}, attrs={"phase_duration": 20.0})


# ---------------------------------------------------------------- examples
@example("attractors.convergence")
def ex_convergence(plot):
    from attractorlab.analysis import attractors

    traj = _settling()
    curve = attractors.convergence_curve(traj, energy=-np.cumsum(np.abs(np.diff(traj, axis=0, prepend=traj[:1])).sum(1)),
                                         theta=1e-3)
    return plot(curve)[0].figure


@example("attractors.cycle")
def ex_cycle(plot):
    from attractorlab.analysis import attractors

    t = np.arange(40)
    traj = np.stack([np.sign(np.sin(np.pi * t / 2 + k)) * (0.5 + 0.1 * k) for k in range(6)], 1)
    return plot(traj, cycle=attractors.detect_cycle(traj)).figure


@example("attractors.basin")
def ex_basin(plot):
    from attractorlab.analysis import attractors

    patterns = np.sign(_rng(1).normal(size=(3, 16)))

    def settle(e):  # nearest stored pattern (a toy attractor network)
        return patterns[np.argmax(patterns @ np.asarray(e).ravel())]

    basin = attractors.basin_scan(settle, patterns[0], [0.0, 2.0, 4.0, 6.0, 8.0, 12.0], n_directions=16)
    return plot(basin).figure


@example("attractors.code_distance")
def ex_code_distance(plot):
    from attractorlab.analysis import attractors

    t, i = _spikes(30, 200.0)
    times = np.geomspace(1, 200, 30)
    rates = attractors.cumulative_rates(t, i, 30, times)
    return plot(attractors.code_distance(rates.values, rates.values[-1], times=times)).figure


@example("spikes.raster")
def ex_raster(plot):
    from attractorlab.analysis import spikes

    t, i = _spikes(30, 40.0)
    return plot(spikes.raster(t, i, t_range=(0.0, 40.0)), phase_edges=[20.0]).figure


@example("spikes.rate_scatter")
def ex_rate_scatter(plot):
    from attractorlab.analysis import spikes

    rng = _rng(2)
    rate = np.maximum(rng.normal(0.3, 0.3, size=(10, 20)), 0)
    spiking = np.round((rate + rng.normal(0, 0.02, rate.shape)).clip(0) * 40) / 40
    return plot(spikes.compare_rates(spiking, rate)).figure


@example("spikes.error_vs_duration")
def ex_error_vs_duration(plot):
    from attractorlab.analysis import spikes

    rng = _rng(3)
    rate = np.maximum(rng.normal(0.3, 0.3, size=(5, 20)), 0)
    durations = np.array([5.0, 10.0, 20.0, 40.0, 80.0])
    spiking = xr.DataArray(np.stack([np.floor(rate * T + rng.random(rate.shape)) / T for T in durations]),
                           dims=("duration", "sample", "neuron"), coords={"duration": durations})
    return plot(spikes.error_vs_duration(spiking, xr.DataArray(rate, dims=("sample", "neuron")))).figure


@example("rf.ringach")
def ex_ringach(plot):
    counts, edges = _v1_counts()
    return plot(_fits(), v1_counts=counts, edges=edges).figure


@example("rf.marginals")
def ex_marginals(plot):
    from attractorlab.analysis import receptive_fields as rf

    counts, edges = _v1_counts()
    cmp = rf.compare_with_v1(_fits(), v1_counts=counts, edges=edges, n_boot=50)
    return plot(cmp)[0].figure


@example("rf.orientation")
def ex_orientation(plot):
    return plot(_fits()).figure


@example("rf.frequency")
def ex_frequency(plot):
    return plot(_fits()).figure


@example("rf.atoms")
def ex_atoms(plot):
    return plot(_fits()).figure


@example("lin_tang.fig2_rasters")
def ex_lt_fig2(plot):
    return plot(_run(0), _run(5))[0].figure


@example("lin_tang.fig3_consistency_symmetry")
def ex_lt_fig3(plot):
    return plot(_learning_results())[0].figure


@example("lin_tang.fig4_objective")
def ex_lt_fig4(plot):
    return plot(_learning_results()).figure


@example("lin_tang.fig6_atoms")
def ex_lt_fig6(plot):
    fits = _fits(25, 8)
    D = fits["rf"].values.reshape(25, -1).T
    D2 = np.concatenate([np.maximum(D, 0), np.maximum(-D, 0)])
    return plot(D2, (8, 8), True).figure


@example("lin_tang.fig7_denoising")
def ex_lt_fig7(plot):
    rng = _rng(5)
    yy, xx = np.mgrid[:64, :64]
    clean = 128 + 80 * np.sin(xx / 6.0) * np.cos(yy / 9.0)
    noisy = np.clip(clean + rng.normal(0, 30, clean.shape), 0, 255)
    den = 0.7 * clean + 0.3 * noisy
    res = xr.Dataset({"clean": (("y", "x"), clean), "noisy": (("y", "x"), noisy), "denoised": (("y", "x"), den)},
                     attrs={"sigma": 30, "psnr_noisy": 18.9, "psnr_denoised": 26.0, "mean_nonzeros": 7.5})
    return plot(res)[0].figure


@example("lin_tang.fig7_psnr_table")
def ex_lt_fig7_table(plot):
    images, learners = ["barbara", "boat", "house"], ["spiking", "sgd"]
    noisy = np.array([18.6, 18.7, 18.5])
    gain = np.array([[8.0, 7.5, 9.1], [7.2, 6.8, 8.4]])
    res = xr.Dataset({"psnr_noisy_table": (("image",), noisy),
                      "psnr_denoised_table": (("learner", "image"), noisy + gain),
                      "mean_nonzeros_table": (("learner", "image"), np.array([[7.8, 8.1, 6.9], [8.4, 8.8, 7.5]])),
                      "lam_chosen": (("learner",), np.array([2.5, 2.5]))},
                     coords={"image": images, "learner": learners},
                     attrs={"sigma": 30, "lam_chosen_on": "astronaut"})
    return plot(res).figure


@example("cban.fig2")
def ex_cban_fig2(plot):
    targets, hidden, traj = _bars()
    return plot(targets, hidden, traj).flat[0].figure


@example("cban.fig2_accuracy")
def ex_cban_fig2_acc(plot):
    return plot(1 - 0.3 * 0.4 ** np.arange(8)).figure


@example("cban.fig3", "cban.fig8")
def ex_cban_fig3(plot):
    rng = _rng(6)
    w = rng.normal(size=(16, 25)) * (rng.random((16, 25)) < 0.4)
    return plot(w, shape=(5, 5)).flat[0].figure


@example("cban.fig4", "cban.fig10")
def ex_cban_fig4(plot):
    rng = _rng(7)
    n = 4
    yy, xx = np.mgrid[:28, :28]
    imgs = np.stack([np.where(((xx - 14) ** 2 + (yy - 14) ** 2 < (6 + 2 * k) ** 2), 0.9, -0.9).ravel()
                     for k in range(n)])
    labels = -0.9 * np.ones((n, 28))
    for k in range(n):
        labels[k, 2 * k:2 * k + 3] = 0.9
    targets = np.concatenate([imgs, labels], 1)
    hidden = np.zeros_like(targets, bool)
    hidden[:, 784:] = True
    hidden[:, :784] = rng.random((n, 784)) < 0.3
    completions = np.clip(targets + rng.normal(0, 0.2, targets.shape), -1, 1)
    dreams = np.clip(0.6 * targets + rng.normal(0, 0.3, targets.shape), -1, 1)
    return plot(targets, hidden, completions, dreams).flat[0].figure


@example("cban.training_curve")
def ex_cban_curve(plot):
    epoch = np.arange(1, 21)
    return plot(epoch, 0.5 * epoch ** -0.7, iters=12 - 0.3 * epoch).figure


@example("cban_completion.fig5", "cban_completion.fig6")
def ex_completion_figure(plot):
    return plot(_completion_ds())[0].figure


@example("cban_completion.fig9")
def ex_completion_grid(plot):
    return plot(_completion_ds()).figure


@example("cban_completion.metric_bars")
def ex_metric_bars(plot):
    return plot(_completion_ds(), "psnr").figure


@example("cban_completion.fig7")
def ex_sr(plot):
    rng = _rng(8)
    n, h, w = 2, 40, 40
    yy, xx = np.mgrid[:h, :w]
    hr = np.stack([np.repeat((127 + 120 * np.sin(xx / (3 + k)) * np.cos(yy / 5))[..., None], 3, -1)
                   for k in range(n)]).astype(np.uint8)
    blur = np.clip(hr + rng.normal(0, 8, hr.shape), 0, 255).astype(np.uint8)
    ds = xr.Dataset({"example_hr": (("example", "crop_y", "crop_x", "channel"), hr),
                     "example_cban": (("example", "crop_y", "crop_x", "channel"), blur),
                     "example_bicubic": (("example", "crop_y", "crop_x", "channel"), blur),
                     "example_name": ("example", ["baby", "bird"])})
    return plot(ds).figure


# ---------------------------------------------------------------- page
def _digest() -> str:
    h = hashlib.sha256(HERE.read_bytes())
    for p in sorted((ROOT / "analysis").rglob("*.py")):
        h.update(p.read_bytes())
    for p in sorted((ROOT / "attractorlab").glob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()


def _style_context():
    try:
        from attractorlab.analysis.figures.style import style_context
    except ImportError:  # the style module is optional for the gallery
        import contextlib

        return contextlib.nullcontext()
    return style_context()


def makers_table() -> list[str]:
    """A section listing the figure makers of ``attractorlab figure`` (redraw from results)."""
    from attractorlab import experiments

    lines = ["# Figure makers of the command line", "",
             "`attractorlab figure NAME --results DIR [--out DIR] [--format png|svg|pdf]` redraws a run's "
             "figures from its saved results, in the project style "
             "({py:mod}`attractorlab.analysis.figures.style`), never by rerunning a model.", "",
             "| NAME | reads results of | draws |", "|---|---|---|"]
    for name in experiments.list_figures():
        fig = experiments.get_figure(name)
        lines.append(f"| `{name}` | `attractorlab run {fig.experiment}` | {fig.description} |")
    return lines + [""]


def figure_ids() -> list[str]:
    from attractorlab.analysis.figures import FIGURES

    return list(FIGURES)


def write_gallery(out: Path) -> Path:
    """Render every example into ``out`` and write ``out/gallery.md``; return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from attractorlab.analysis.figures import FIGURES

    ids = figure_ids()
    missing = [i for i in ids if i not in EXAMPLES]
    if missing:
        from sphinx.errors import ExtensionError

        raise ExtensionError(f"figure ids without a gallery example in docs/_ext/gallery.py: {', '.join(missing)}")
    out.mkdir(parents=True, exist_ok=True)
    digest = _digest()
    stamp = out / ".digest"
    fresh = stamp.is_file() and stamp.read_text() == digest and all((out / f"{i}.png").is_file() for i in ids)
    lines = ["<!-- generated by docs/_ext/gallery.py; do not edit -->", ""]
    for fid in ids:
        func = FIGURES[fid]
        if not fresh:
            with _style_context():
                fig = EXAMPLES[fid](func)
                fig.savefig(out / f"{fid}.png", dpi=72, bbox_inches="tight")
                plt.close("all")
        target = f"{func.__module__}.{func.__qualname__}"
        doc = inspect.getdoc(func) or ""
        summary = " ".join(doc.split("\n\n")[0].split())
        src = textwrap.dedent(inspect.getsource(EXAMPLES[fid]))
        src = "\n".join(line for line in src.splitlines() if not line.startswith("@example"))
        lines += [f"# `{fid}`", "", f"{{py:func}}`{target}` — {summary}", "",
                  f"```{{image}} /_generated/gallery/{fid}.png", f":alt: example of {fid}", ":width: 480px", "```", "",
                  "Example (synthetic data):", "", "```python", src, "```", ""]
    lines += makers_table()
    if not fresh:
        stamp.write_text(digest)
    page = out / "gallery.md"
    text = "\n".join(lines)
    if not page.is_file() or page.read_text() != text:
        page.write_text(text)
    return page
