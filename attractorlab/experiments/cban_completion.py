"""Experiments ``cban_omniglot`` and ``cban_cifar10``: image completion ([CB] §4.3-4.4, App D.3-D.4, E).

Registered experiments (``attractorlab run NAME --preset smoke|paper``):

``cban_omniglot``
    28 x 28 Omniglot, square masks hiding >= 25 % of the stroke pixels (D.3). Trains the
    CBAN (symmetric, TD(1), up-down, theta 0.01) and the comparison models on the same
    data, masks and epochs: CBAN-asym (untied kernels), CBAN-noTD (loss at the final
    iteration only), the convolutional denoising VAE, and for App E the CBAN with
    theta = 1.0 (Table 2) and with the odd-even update order (Table 3). Writes
    ``results.nc`` (per test image PSNR, SSIM, L1, settling iterations, limit-cycle
    period; example completions; training histories), ``table2.nc``, ``table3.nc``,
    ``tables.txt`` and ``fig5.png``.
``cban_cifar10``
    32 x 32 x 3 CIFAR-10, Perlin masks hiding 40 % of the pixels (D.4): CBAN, CBAN-asym,
    CBAN-noTD, CD-VAE. Evaluated on the lossless test images; the lossy JPEG test set is
    evaluated apart (``n_test_lossy`` > 0) in ``results_lossy.nc``. Writes ``fig6.png``.

The comparison models, masks, training and completion are
:mod:`attractorlab.models.cban.completion`; this module wires them to the data, scores the
completions (:mod:`attractorlab.analysis.metrics`), writes the results, tables and figures.

Choices the paper leaves open (PAPERS.md II.7) and that we made: metrics on the whole
image mapped to [0, 1] (PSNR with MAX 1, SSIM with L 1; II.7(14)); completions of all
models keep the observed pixels (the CBAN clamps them; the VAE's output is overwritten
there too, so all models are scored on the same task); unclamped units start at 0;
Perlin frequency for CIFAR-10 (not given) 4 lattice cells per side; batch size 32;
the Omniglot top layer has 512 channels (D.3; §4.3 says 256).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from attractorlab.analysis.metrics import l1_error, mean_sem, psnr, ssim
from attractorlab.experiments.registry import register_experiment
from attractorlab.models.cban.completion import complete_images, fixed_masks, train_completion_model
from attractorlab.threads import torch_threads

__all__ = [
    "evaluate_completion",
    "completion_scores",
    "run_completion",
    "omniglot_experiment",
    "cifar10_experiment",
    "format_table",
]

_LONG = {
    "cban": "CBAN",
    "cban_asym": "CBAN-asym",
    "cban_notd": "CBAN-noTD",
    "cd_vae": "CD-VAE",
    "cban_theta1": "CBAN (theta 1.0)",
    "cban_oddeven": "CBAN (odd-even)",
}


@torch.no_grad()
def evaluate_completion(model, images: torch.Tensor, observed: torch.Tensor, *, batch_size: int = 100,
                        device: str = "cpu", cycle_check: bool = True, max_period: int = 10,
                        cycle_atol: float = 1e-3) -> dict:
    """Complete masked test images (:func:`~attractorlab.models.cban.completion.complete_images`)
    and score them.

    Parameters are those of ``complete_images``.

    Returns
    -------
    dict of numpy arrays, per image: ``completion`` (N, C, H, W) in [-1, 1], ``psnr``
    (dB, MAX 1 on [0, 1]), ``ssim``, ``l1_sum``, ``l1_mean`` (on [0, 1]), ``iterations``,
    ``converged``, ``cycle_period`` (NaN / -1 for the VAE).
    """
    out = complete_images(model, images, observed, batch_size=batch_size, device=device, cycle_check=cycle_check,
                          max_period=max_period, cycle_atol=cycle_atol)
    comp = out["completion"]
    return {"completion": comp.numpy(), **completion_scores(comp, images),
            **{k: out[k] for k in ("iterations", "converged", "cycle_period")}}


def completion_scores(completion: torch.Tensor, images: torch.Tensor) -> dict:
    """PSNR (MAX 1), SSIM, summed and mean L1 per image, all on images mapped from [-1, 1] to [0, 1]."""
    pred = ((completion + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1).double()
    tgt = ((images + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1).double()
    if pred.shape[-1] == 1:
        pred, tgt = pred[..., 0], tgt[..., 0]
    return {
        "psnr": psnr(pred, tgt, data_range=1.0, batched=True).numpy(),
        "ssim": ssim(pred, tgt, data_range=1.0, batched=True).numpy(),
        "l1_sum": l1_error(pred, tgt, batched=True).numpy(),
        "l1_mean": l1_error(pred, tgt, batched=True, reduction="mean").numpy(),
    }


def _results_dataset(evals: dict, images: torch.Tensor, observed: torch.Tensor, hists: dict,
                     cfg: dict, n_examples: int, train_seconds: dict) -> xr.Dataset:
    models = list(evals)
    n, c, h, w = images.shape
    ne = min(n_examples, n)
    per = {}
    for key, units, long in [
        ("psnr", "dB", "PSNR of the completion (whole image in [0, 1], MAX 1)"),
        ("ssim", "1", "SSIM of the completion (11x11 Gaussian, sigma 1.5, L 1)"),
        ("l1_sum", "1", "sum over pixels of |completion - target| in [0, 1]"),
        ("l1_mean", "1", "per-pixel mean |completion - target| in [0, 1]"),
        ("iterations", "1", "settling iterations t* (max_iter when not converged)"),
        ("cycle_period", "1", "period p of the final state: max|x(T) - x(T - p)| <= cycle_atol (1 fixed point, 0 none <= max_period, -1 n/a)"),
    ]:
        per[key] = xr.DataArray(np.stack([evals[m][key] for m in models]).astype(np.float64),
                                dims=("model", "image"), attrs={"units": units, "long_name": long})
    per["converged"] = xr.DataArray(np.stack([evals[m]["converged"] for m in models]).astype(np.int8),
                                    dims=("model", "image"), attrs={"units": "1", "long_name": "reached theta (1) or not (0)"})
    n_ep = max(len(hists[m]["loss"]) for m in models)

    def pad(v):
        v = list(v) + [math.nan] * (n_ep - len(v))
        return np.asarray(v, dtype=np.float64)

    ds = xr.Dataset(
        {
            **per,
            "target": xr.DataArray(images[:ne].numpy(), dims=("example", "channel", "y", "x"),
                                   attrs={"units": "1", "long_name": "target image in [-1, 1]"}),
            "observed": xr.DataArray(observed[:ne, 0].numpy().astype(np.int8), dims=("example", "y", "x"),
                                     attrs={"units": "1", "long_name": "evidence mask (1 observed, 0 hidden)"}),
            "completion": xr.DataArray(np.stack([evals[m]["completion"][:ne] for m in models]),
                                       dims=("model", "example", "channel", "y", "x"),
                                       attrs={"units": "1", "long_name": "completion in [-1, 1]"}),
            "train_loss": xr.DataArray(np.stack([pad(hists[m]["loss"]) for m in models]), dims=("model", "epoch"),
                                       attrs={"units": "1", "long_name": "training loss per epoch (CBAN: mean SE per unit over iterations; VAE: negative ELBO per image)"}),
            "train_iterations": xr.DataArray(np.stack([pad(hists[m]["iters"]) for m in models]), dims=("model", "epoch"),
                                             attrs={"units": "1", "long_name": "mean settling iterations during training"}),
            "train_seconds": xr.DataArray([train_seconds[m] for m in models], dims=("model",),
                                          attrs={"units": "s", "long_name": "wall-clock training time (this run, incl. resumes)"}),
        },
        coords={
            "model": models,
            "model_name": ("model", [_LONG[m] for m in models]),
            "image": np.arange(n),
            "example": np.arange(ne),
            "epoch": np.arange(n_ep),
        },
    )
    ds.attrs.update(
        long_name="CBAN image completion",
        hidden_fraction_mean=float(1 - observed.float().mean()),
    )
    return ds


def _public(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if not k.startswith("_")}


def _mean_sem_str(values) -> str:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "n/a"
    m, s = mean_sem(v) if v.size > 1 else (float(v[0]), math.nan)
    return f"{m:.4f} ± {s:.4f}"


def format_table(ds: xr.Dataset, models: list[str], *, title: str, iterations: bool = False) -> str:
    """Plain-text table (mean ± s.e.m. over test images) of PSNR, SSIM, L1 for ``models``."""
    cols = ["PSNR (dB)", "SSIM", "L1 (sum)", "L1 (mean)"] + (["iter (mean)", "iter (median)"] if iterations else [])
    lines = [title, "model".ljust(20) + "".join(c.ljust(22) for c in cols)]
    for m in models:
        if m not in ds.model.values:
            continue
        d = ds.sel(model=m)
        row = [_mean_sem_str(d.psnr.values), _mean_sem_str(d.ssim.values), _mean_sem_str(d.l1_sum.values),
               _mean_sem_str(d.l1_mean.values)]
        if iterations:
            it = d.iterations.values
            ok = np.isfinite(it)
            row += [f"{it[ok].mean():.2f}", f"{np.median(it[ok]):.2f}"] if ok.any() else ["n/a", "n/a"]
        lines.append(str(d.model_name.values).ljust(20) + "".join(r.ljust(22) for r in row))
    return "\n".join(lines)


def _table_dataset(ds: xr.Dataset, models: list[str], paper: dict, setting_name: str) -> xr.Dataset:
    models = [m for m in models if m in ds.model.values]
    data = {}
    for key in ("psnr", "ssim", "l1_sum", "l1_mean", "iterations"):
        ms = [mean_sem(ds[key].sel(model=m).values) if np.isfinite(ds[key].sel(model=m).values).all()
              else (math.nan, math.nan) for m in models]
        data[key] = ("model", [a for a, _ in ms], dict(ds[key].attrs))
        data[key + "_sem"] = ("model", [b for _, b in ms], {"units": ds[key].attrs["units"], "long_name": "standard error of " + key})
    data["iterations_median"] = ("model", [float(np.median(ds.iterations.sel(model=m).values)) for m in models],
                                 {"units": "1", "long_name": "median settling iterations (test)"})
    data["train_iterations_mean"] = ("model", [float(np.nanmean(ds.train_iterations.sel(model=m).values)) for m in models],
                                     {"units": "1", "long_name": "mean settling iterations over training epochs"})
    for key, vals in paper.items():
        data["paper_" + key] = ("model", [vals.get(m, math.nan) for m in models],
                                {"units": "", "long_name": f"[CB] {setting_name}: {key} as printed in the paper"})
    out = xr.Dataset(data, coords={"model": models, "model_name": ("model", [_LONG[m] for m in models])})
    return out


# --------------------------------------------------------------------------- experiment driver


def run_completion(cfg: dict, out_dir: Path, *, train_images: torch.Tensor, test_images: torch.Tensor,
                   figure: str, lossy_images: torch.Tensor | None = None) -> xr.Dataset:
    """Train every model of ``cfg["variants"]``, evaluate on fixed test masks, save, plot."""
    with torch_threads(cfg.get("threads", 0)):
        return _run_completion(cfg, Path(out_dir), train_images, test_images, figure, lossy_images)


def draw_completion_figure(ds: xr.Dataset, path: Path, *, fmt: str | None = None) -> Path:
    """Figs 5 / 6: completion examples with PSNR and SSIM bars of a ``results.nc`` Dataset,
    drawn in the project style and written to ``path`` (format from its suffix or ``fmt``)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from attractorlab.analysis.figures import style
    from attractorlab.analysis.figures.cban_completion import completion_figure

    fig_models = [m for m in ("cban", "cban_asym", "cban_notd", "cd_vae") if m in ds.model.values]
    with style.style_context():
        axes = completion_figure(ds, models=fig_models)
        return style.save(axes[0].figure, path, fmt=fmt)


def _run_completion(cfg, out_dir, train_images, test_images, figure, lossy_images):
    from attractorlab.results import save_dataset

    observed = fixed_masks(test_images, cfg, cfg["seed"] + 1)
    evals, hists, secs = {}, {}, {}
    for v in cfg["variants"]:
        t0 = time.perf_counter()
        model, hist = train_completion_model(v, train_images, cfg, out_dir / "checkpoints")
        secs[v] = time.perf_counter() - t0
        hists[v] = hist
        evals[v] = evaluate_completion(model, test_images, observed, batch_size=cfg["eval_batch"],
                                       device=cfg["device"], cycle_check=cfg["cycle_check"],
                                       max_period=cfg["max_period"], cycle_atol=cfg["cycle_atol"])
        if lossy_images is not None and len(lossy_images):
            obs_l = fixed_masks(lossy_images, cfg, cfg["seed"] + 2)
            ev_l = evaluate_completion(model, lossy_images, obs_l, batch_size=cfg["eval_batch"],
                                       device=cfg["device"], cycle_check=False)
            evals.setdefault("_lossy", {})[v] = ev_l
    lossy = evals.pop("_lossy", None)
    ds = _results_dataset(evals, test_images, observed, hists, cfg, cfg["n_examples"], secs)
    ds.attrs.update(n_train_images=int(len(train_images)), n_test_images=int(len(test_images)),
                    **cfg.get("_data_attrs", {}))
    save_dataset(ds, out_dir / "results.nc", params=_public(cfg), seed=cfg["seed"])
    if lossy is not None:
        obs_l = fixed_masks(lossy_images, cfg, cfg["seed"] + 2)
        ds_l = _results_dataset(lossy, lossy_images, obs_l, hists, cfg, cfg["n_examples"], secs)
        ds_l.attrs["long_name"] = "CBAN image completion on the LOSSY (JPEG q75) CIFAR-10 test images"
        save_dataset(ds_l, out_dir / "results_lossy.nc", params=_public(cfg), seed=cfg["seed"])
    draw_completion_figure(ds, out_dir / f"{figure}.png")
    text = [format_table(ds, list(ds.model.values), title=f"{figure}: completion on {len(test_images)} test images "
                         f"(mean ± s.e.m.; preset {cfg.get('preset')})", iterations=True)]
    if lossy is not None:
        text.append(format_table(ds_l, list(ds_l.model.values), title="lossy (JPEG q75) test images, reported apart"))
    (out_dir / "tables.txt").write_text("\n\n".join(text) + "\n")
    print("\n\n".join(text))
    return ds


_PAPER_TABLE2 = {"psnr": {"cban": 24.1136, "cban_theta1": 24.4494}, "ssim": {"cban": 0.9275, "cban_theta1": 0.9440},
                 "l1_sum": {"cban": 11.7243, "cban_theta1": 10.3813},
                 "iterations_mean": {"cban": 45.00, "cban_theta1": 3.01},
                 "iterations_median": {"cban": 44.63, "cban_theta1": 3.00}}
_PAPER_TABLE3 = {"psnr": {"cban_oddeven": 21.0335, "cban": 22.3537}, "ssim": {"cban_oddeven": 0.9075, "cban": 0.9259},
                 "l1_sum": {"cban_oddeven": 14.3044, "cban": 12.0323}}

# Smoke: tiny nets, a few hundred images, a raised learning rate (3e-3) and kernel s.d.
# so that a few epochs on 2 CPU cores show learning; paper presets restore D.3-D.4.
_COMMON_SMOKE = dict(
    epochs=3, batch_size=16, max_iter=10, theta=0.01, eval_batch=64, n_examples=6, cycle_check=True, max_period=10, cycle_atol=1e-3,
    device="cpu", bf16=False, compile=False, progress=False, seed=0, vae_channels=[8, 16], vae_latent=8, vae_beta=1.0, vae_lr=1e-3,
    lr=3e-3, kernel_size=3, threads=1,
)

_OMNI_SMOKE = dict(
    _COMMON_SMOKE, n_train=256, n_test=24, channels=[4, 8, 8], init_std=0.05, lr_steps=[100, 20, 5],
    mask="squares", mask_fraction=0.25, square_min=3, square_max=6, perlin_frequency=7.0,
    variants=["cban", "cban_asym", "cban_notd", "cd_vae", "cban_theta1", "cban_oddeven"],
)
_OMNI_PAPER = dict(
    _OMNI_SMOKE, n_train=None, n_test=None, channels=[128, 256, 512], init_std=0.01, lr=5e-4, epochs=140,
    batch_size=32, max_iter=100,
    eval_batch=200, n_examples=12, device="cuda", progress=True, vae_channels=[32, 64], vae_latent=64, threads=0,
)


@register_experiment(
    "cban_omniglot",
    presets={"smoke": _OMNI_SMOKE, "paper": _OMNI_PAPER},
    description="CBAN Omniglot completion vs CBAN-asym, CBAN-noTD, CD-VAE; Tables 2-3 (Fig 5, App E)",
)
def omniglot_experiment(config: dict, out_dir: Path) -> xr.Dataset:
    """CBAN on 28 x 28 Omniglot with square masks (§4.3, App D.3, E.1-E.2)."""
    from attractorlab.models.cban.datasets import omniglot_images
    from attractorlab.results import save_dataset

    cfg = dict(config)
    cfg["_data_attrs"] = {"data": "Omniglot images_background, 105 -> 28 by exact area averaging, strokes +1, "
                                  "background -1; split attractorlab.data.omniglot_split(seed)"}
    train_x = omniglot_images("train", limit=cfg["n_train"], seed=cfg["seed"])
    test_x = omniglot_images("test", limit=cfg["n_test"], seed=cfg["seed"])
    ds = run_completion(cfg, out_dir, train_images=train_x, test_images=test_x, figure="fig5")
    t2 = _table_dataset(ds, ["cban", "cban_theta1"], _PAPER_TABLE2, "Table 2")
    t2.attrs["long_name"] = "Table 2 (App E.1): convergence threshold 0.01 vs 1.0 (test means)"
    t3 = _table_dataset(ds, ["cban_oddeven", "cban"], _PAPER_TABLE3, "Table 3")
    t3.attrs["long_name"] = "Table 3 (App E.2): odd-even vs up-down update order (test means)"
    save_dataset(t2, Path(out_dir) / "table2.nc", params=_public(cfg), seed=cfg["seed"])
    save_dataset(t3, Path(out_dir) / "table3.nc", params=_public(cfg), seed=cfg["seed"])
    text = [
        format_table(ds, ["cban", "cban_theta1"], title="Table 2 (ours): theta 0.01 vs 1.0", iterations=True),
        "paper: theta 0.01: 24.1136 dB, SSIM 0.9275, L1 11.7243, iters 45.00 / 44.63; "
        "theta 1.0: 24.4494 dB, 0.9440, 10.3813, 3.01 / 3.00",
        format_table(ds, ["cban_oddeven", "cban"], title="Table 3 (ours): odd-even vs up-down"),
        "paper: odd-even 21.0335 dB, SSIM 0.9075, L1 14.3044; up-down 22.3537 dB, 0.9259, 12.0323",
    ]
    print("\n".join(text))
    with open(Path(out_dir) / "tables.txt", "a") as fh:
        fh.write("\n" + "\n".join(text) + "\n")
    return ds


_CIFAR_SMOKE = dict(
    _COMMON_SMOKE, n_train=256, n_test=24, n_test_lossy=8, channels=[4, 8, 8], init_std=0.05, lr_steps=[150, 20, 5],
    mask="perlin", mask_fraction=0.4, perlin_frequency=4.0, square_min=3, square_max=6,
    variants=["cban", "cban_asym", "cban_notd", "cd_vae"],
)
_CIFAR_PAPER = dict(
    _CIFAR_SMOKE, n_train=None, n_test=None, n_test_lossy=10000, channels=[40, 120, 440], init_std=1e-4, lr=5e-4,
    epochs=190,
    batch_size=32, max_iter=100, eval_batch=200, n_examples=12, device="cuda", progress=True,
    vae_channels=[32, 64], vae_latent=128, threads=0,
)


@register_experiment(
    "cban_cifar10",
    presets={"smoke": _CIFAR_SMOKE, "paper": _CIFAR_PAPER},
    description="CBAN CIFAR-10 completion (Perlin 40 %) vs CBAN-asym, CBAN-noTD, CD-VAE (Fig 6)",
)
def cifar10_experiment(config: dict, out_dir: Path) -> xr.Dataset:
    """CBAN on CIFAR-10 with Perlin masks (§4.4, App D.4)."""
    from attractorlab import data
    from attractorlab.models.cban.datasets import cifar10_images

    cfg = dict(config)
    missing = data.cifar10_missing_batches("train")
    cfg["_data_attrs"] = {"data": "CIFAR-10 lossless training batches present on disk; lossless test images 0-999",
                          "missing_train_batches": json.dumps(list(map(int, missing)))}
    train_x = cifar10_images("train", limit=cfg["n_train"])
    test_x = cifar10_images("test", limit=cfg["n_test"])
    lossy = cifar10_images("test_lossy", limit=cfg["n_test_lossy"]) if cfg["n_test_lossy"] else None
    return run_completion(cfg, out_dir, train_images=train_x, test_images=test_x, figure="fig6", lossy_images=lossy)
