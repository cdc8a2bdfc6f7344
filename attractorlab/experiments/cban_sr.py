"""Experiment ``cban_sr``: CBAN x2 super-resolution ([CB] §4.5, App D.5, Table 1, Fig 7).

Trains the SR CBAN (:mod:`attractorlab.models.cban.sr`) on aligned 40 x 40 patches of
T91 and evaluates it and our bicubic baseline by the standard protocol (PAPERS.md Part
III): for each HR test image, LR = MATLAB bicubic /2 (uint8), input = bicubic x2 of LR
(uint8); the CBAN output (:func:`~attractorlab.models.cban.sr.super_resolve`) is rounded
to uint8 and scored on the BT.601 Y channel with 2 pixels shaved: PSNR (MAX 255) and SSIM
(11 x 11 Gaussian, sigma 1.5) (:func:`attractorlab.analysis.metrics.sr_scores`). Our
bicubic baseline is scored by the same code (:func:`evaluate_bicubic`). The paper's
Table 1 is printed beside ours; its bicubic row is below the standard protocol (Set5
32.21 vs 33.66 dB; PAPERS.md II.7(13)), so compare CBAN with *our* bicubic.

Writes ``results.nc``, ``table1.txt``, ``fig7.png`` and ``checkpoints/cban_sr.pt``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import xarray as xr

from attractorlab.analysis.metrics import mean_sem, sr_scores
from attractorlab.experiments.registry import register_experiment
from attractorlab.models.baselines.bicubic import bicubic_degrade, bicubic_upscale
from attractorlab.models.cban.module import CBAN
from attractorlab.models.cban.sr import build_sr_cban, center_crop, sr_batch, super_resolve
from attractorlab.models.cban.train import TrainConfig, step_milestones, train
from attractorlab.threads import torch_threads

__all__ = [
    "PAPER_TABLE1",
    "LITERATURE_BICUBIC",
    "evaluate_bicubic",
    "evaluate_sr",
    "format_sr_table",
    "sr_experiment",
]

#: [CB] Table 1 (x2; PSNR dB / SSIM), as printed.
PAPER_TABLE1 = {
    "Bicubic": {"Set5": (32.21, 0.921), "Set14": (29.21, 0.911), "BSD100": (28.67, 0.810), "Urban100": (25.63, 0.827)},
    "DRCN": {"Set5": (37.63, 0.959), "Set14": (32.94, 0.913), "BSD100": (31.85, 0.894), "Urban100": (30.76, 0.913)},
    "LapSRN": {"Set5": (37.52, 0.959), "Set14": (33.08, 0.913), "BSD100": (31.80, 0.895), "Urban100": (30.41, 0.910)},
    "CBAN": {"Set5": (34.18, 0.947), "Set14": (30.79, 0.953), "BSD100": (30.12, 0.872), "Urban100": (27.49, 0.915)},
}
#: Standard-protocol bicubic x2 (Kim et al. 2016 / VDSR table; PAPERS.md Part III), full-resolution sets.
LITERATURE_BICUBIC = {"Set5": (33.66, 0.9299), "Set14": (30.24, 0.8688), "BSD100": (29.56, 0.8431), "Urban100": (26.88, 0.8403)}


def evaluate_bicubic(images: Sequence[np.ndarray], scale: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Bicubic SR baseline by the standard protocol; per-image PSNR (dB) and SSIM.

    For each uint8 HR image: modcrop, LR = bicubic down-scale (uint8), SR = bicubic
    up-scale of LR (uint8), then :func:`attractorlab.analysis.metrics.sr_scores`
    (BT.601 Y, shave ``scale``, PSNR with MAX 255, SSIM 11x11 sigma 1.5).
    """
    ps, ss = [], []
    for hr in images:
        hr = np.asarray(hr)
        if hr.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {hr.dtype}")
        hr = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
        sr = bicubic_upscale(bicubic_degrade(hr, scale), scale)
        p, s = sr_scores(sr, hr, scale=scale)
        ps.append(p)
        ss.append(s)
    return np.array(ps), np.array(ss)


def evaluate_sr(model: CBAN | None, sets, *, scale: int = 2, limit: int | None = None, crop: int | None = None,
                tile: int | None = None, device: str = "cpu", progress: bool = False) -> dict:
    """Score the CBAN (if given) and bicubic on SR test sets by the standard protocol.

    Returns
    -------
    dict of lists, one entry per image: ``set``, ``name`` (index), ``psnr_cban``,
    ``ssim_cban``, ``iterations``, ``psnr_bicubic``, ``ssim_bicubic``, and the
    images ``hr``, ``cban``, ``bicubic`` (uint8) for the figure.
    """
    from tqdm.auto import tqdm

    from attractorlab.models.cban.datasets import sr_test_images

    out = {k: [] for k in ("set", "name", "psnr_cban", "ssim_cban", "iterations", "psnr_bicubic", "ssim_bicubic",
                           "hr", "cban", "bicubic")}
    for name in sets:
        images = sr_test_images(name, limit=limit)
        for i, hr in enumerate(tqdm(images, desc=name, disable=not progress)):
            hr = center_crop(hr, crop, scale)
            hr = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
            up = bicubic_upscale(bicubic_degrade(hr, scale), scale)
            pb, sb = sr_scores(up, hr, scale=scale)
            if model is not None:
                sr, it = super_resolve(model, up, tile=tile, device=device)
                pc, sc = sr_scores(sr, hr, scale=scale)
            else:
                sr, it, pc, sc = None, math.nan, math.nan, math.nan
            out["set"].append(name)
            out["name"].append(f"{name}/{i + 1:03d}")
            out["psnr_cban"].append(pc)
            out["ssim_cban"].append(sc)
            out["iterations"].append(it)
            out["psnr_bicubic"].append(pb)
            out["ssim_bicubic"].append(sb)
            out["hr"].append(hr)
            out["cban"].append(sr)
            out["bicubic"].append(up)
    return out


def _sr_dataset(ev: dict, sets, cfg: dict, hist: dict, n_examples: int, crop_size: int) -> xr.Dataset:
    n = len(ev["set"])
    per = {}
    for key, units, long in [
        ("psnr_cban", "dB", "CBAN PSNR, Y channel, shave 2, MAX 255"),
        ("ssim_cban", "1", "CBAN SSIM, Y channel, shave 2, 11x11 Gaussian sigma 1.5"),
        ("psnr_bicubic", "dB", "our MATLAB-style bicubic PSNR, same protocol"),
        ("ssim_bicubic", "1", "our MATLAB-style bicubic SSIM, same protocol"),
        ("iterations", "1", "mean settling iterations of the CBAN on the image (tiles averaged)"),
    ]:
        per[key] = xr.DataArray(np.asarray(ev[key], dtype=np.float64), dims=("image",), attrs={"units": units, "long_name": long})
    methods = ["CBAN (ours)", "Bicubic (ours)"]
    summ = {k: np.full((len(sets), 2), np.nan) for k in ("mean_psnr", "mean_ssim", "sem_psnr", "sem_ssim")}
    sets_arr = np.asarray(ev["set"])
    for i, s in enumerate(sets):
        sel = sets_arr == s
        for j, m in enumerate(("cban", "bicubic")):
            for met in ("psnr", "ssim"):
                vals = np.asarray(ev[f"{met}_{m}"], dtype=np.float64)[sel]
                if vals.size and np.isfinite(vals).all():
                    mu, se = mean_sem(vals) if vals.size > 1 else (float(vals[0]), math.nan)
                    summ[f"mean_{met}"][i, j] = mu
                    summ[f"sem_{met}"][i, j] = se
    paper_methods = list(PAPER_TABLE1)
    paper_psnr = np.array([[PAPER_TABLE1[m].get(s, (math.nan, math.nan))[0] for m in paper_methods] for s in sets])
    paper_ssim = np.array([[PAPER_TABLE1[m].get(s, (math.nan, math.nan))[1] for m in paper_methods] for s in sets])
    lit = np.array([LITERATURE_BICUBIC.get(s, (math.nan, math.nan)) for s in sets])
    # Fig 7 examples: a centre crop of the first images
    ex_idx = list(range(min(n_examples, n))) if ev["cban"] and ev["cban"][0] is not None else []
    crops = {"example_hr": [], "example_cban": [], "example_bicubic": []}
    for i in ex_idx:
        for key, src in (("example_hr", "hr"), ("example_cban", "cban"), ("example_bicubic", "bicubic")):
            crops[key].append(center_crop(ev[src][i], crop_size, 1)[:crop_size, :crop_size])
    cs = min([c.shape[0] for c in crops["example_hr"]] + [c.shape[1] for c in crops["example_hr"]] or [0])
    data = {
        **per,
        "mean_psnr": xr.DataArray(summ["mean_psnr"], dims=("set", "method"), attrs={"units": "dB", "long_name": "mean PSNR over the set (standard protocol)"}),
        "mean_ssim": xr.DataArray(summ["mean_ssim"], dims=("set", "method"), attrs={"units": "1", "long_name": "mean SSIM over the set (standard protocol)"}),
        "sem_psnr": xr.DataArray(summ["sem_psnr"], dims=("set", "method"), attrs={"units": "dB", "long_name": "standard error of mean_psnr"}),
        "sem_ssim": xr.DataArray(summ["sem_ssim"], dims=("set", "method"), attrs={"units": "1", "long_name": "standard error of mean_ssim"}),
        "paper_psnr": xr.DataArray(paper_psnr, dims=("set", "paper_method"), attrs={"units": "dB", "long_name": "[CB] Table 1 PSNR as printed (protocol not stated)"}),
        "paper_ssim": xr.DataArray(paper_ssim, dims=("set", "paper_method"), attrs={"units": "1", "long_name": "[CB] Table 1 SSIM as printed"}),
        "literature_bicubic_psnr": xr.DataArray(lit[:, 0], dims=("set",), attrs={"units": "dB", "long_name": "standard-protocol bicubic, Kim et al. 2016 (full-resolution sets)"}),
        "literature_bicubic_ssim": xr.DataArray(lit[:, 1], dims=("set",), attrs={"units": "1", "long_name": "standard-protocol bicubic SSIM, Kim et al. 2016"}),
        "train_loss": xr.DataArray(np.asarray(hist.get("loss", []), dtype=np.float64), dims=("epoch",), attrs={"units": "1", "long_name": "mean SE on HR outputs per unit, averaged over iterations"}),
        "train_iterations": xr.DataArray(np.asarray(hist.get("iters", []), dtype=np.float64), dims=("epoch",), attrs={"units": "1", "long_name": "mean settling iterations during training"}),
        "train_theta": xr.DataArray(np.asarray(hist.get("theta", []), dtype=np.float64), dims=("epoch",), attrs={"units": "1", "long_name": "convergence threshold in the epoch"}),
    }
    coords = {"image": np.arange(n), "image_set": ("image", np.asarray(ev["set"])), "image_name": ("image", np.asarray(ev["name"])),
              "set": list(sets), "method": methods, "paper_method": paper_methods, "epoch": np.arange(len(hist.get("loss", [])))}
    if ex_idx and cs > 0:
        for key in crops:
            data[key] = xr.DataArray(np.stack([c[:cs, :cs] for c in crops[key]]), dims=("example", "crop_y", "crop_x", "channel"),
                                     attrs={"units": "1", "long_name": key.replace("_", " ") + " (uint8 RGB crop)"})
        coords["example_name"] = ("example", [ev["name"][i] for i in ex_idx])
    ds = xr.Dataset(data, coords=coords)
    ds.attrs["long_name"] = "CBAN x2 super-resolution (standard protocol: Y, shave 2)"
    ds.attrs["note"] = ("Urban100 in the shared data is the half-resolution SelfExSR copy; Set14 has 13 images "
                        "(lenna held out). Paper Table 1's bicubic row is below the standard protocol.")
    return ds


def format_sr_table(ds: xr.Dataset) -> str:
    """Ours (CBAN, bicubic) beside the paper's Table 1 and the literature bicubic."""
    lines = ["method".ljust(22) + "".join(str(s).ljust(18) for s in ds.set.values)]
    for j, m in enumerate(ds.method.values):
        lines.append(str(m).ljust(22) + "".join(f"{ds.mean_psnr.values[i, j]:.2f} / {ds.mean_ssim.values[i, j]:.4f}".ljust(18)
                                                for i in range(ds.sizes["set"])))
    lines.append("Bicubic (literature)".ljust(22) + "".join(
        f"{ds.literature_bicubic_psnr.values[i]:.2f} / {ds.literature_bicubic_ssim.values[i]:.4f}".ljust(18) for i in range(ds.sizes["set"])))
    for j, m in enumerate(ds.paper_method.values):
        lines.append(f"[CB] {m}".ljust(22) + "".join(f"{ds.paper_psnr.values[i, j]:.2f} / {ds.paper_ssim.values[i, j]:.3f}".ljust(18)
                                                          for i in range(ds.sizes["set"])))
    return "\n".join(lines)


# Smoke: 4 T91 images, 8-channel hidden layers, lr 3e-3 (paper 5e-5) so that six epochs on
# 2 CPU cores learn something; evaluated on 64 x 64 centre crops of two Set5 images.
_SR_SMOKE = dict(
    n_train_images=4, patch=40, stride=20, scale=2, channels=[8, 8, 8], kernel_size=5, init_std=1e-3,
    epochs=6, batch_size=8, lr=3e-3, lr_steps=[100, 10, 1], theta=0.01, theta_late=0.1, max_iter=5,
    eval_sets=["Set5"], eval_limit=2, eval_crop=64, tile=None, n_examples=2, crop_size=48,
    device="cpu", bf16=False, compile=False, progress=False, seed=0, threads=1,
)
_SR_PAPER = dict(
    _SR_SMOKE, n_train_images=None, stride=20, channels=[300, 300, 300], epochs=20, batch_size=32, max_iter=100,
    lr=5e-5, lr_steps=[10, 10, 10],
    eval_sets=["Set5", "Set14", "BSD100", "Urban100"], eval_limit=None, eval_crop=None, tile=None, n_examples=4,
    crop_size=96, device="cuda", progress=True, threads=0,
)


@register_experiment(
    "cban_sr",
    presets={"smoke": _SR_SMOKE, "paper": _SR_PAPER},
    description="CBAN x2 super-resolution on T91, evaluated on Set5/Set14/BSD100/Urban100 (Table 1, Fig 7)",
)
def sr_experiment(config: dict, out_dir: Path) -> xr.Dataset:
    """Train the SR CBAN on T91 patches and evaluate it and bicubic by the standard protocol."""
    cfg = dict(config)
    with torch_threads(cfg.get("threads", 0)):
        return _sr_run(cfg, Path(out_dir))


def _sr_run(cfg: dict, out_dir: Path) -> xr.Dataset:
    from attractorlab.models.cban.datasets import sr_training_patches
    from attractorlab.results import save_dataset

    patches = sr_training_patches(patch=cfg["patch"], stride=cfg["stride"], scale=cfg["scale"],
                                  limit_images=cfg["n_train_images"])
    model = build_sr_cban(channels=cfg["channels"], kernel_size=cfg["kernel_size"], init_std=cfg["init_std"],
                          theta=cfg["theta"], max_iter=cfg["max_iter"], seed=cfg["seed"])
    start, every, count = cfg["lr_steps"]
    tc = TrainConfig(loss="se", td="td1", optimizer="adam", lr=cfg["lr"], lr_milestones=step_milestones(start, every, count),
                     theta_milestones=((cfg["epochs"] // 2, cfg["theta_late"]),) if cfg["epochs"] > 1 else (),
                     epochs=cfg["epochs"], device=cfg["device"], checkpoint_every=1, progress=cfg["progress"],
                     seed=cfg["seed"], bf16=cfg.get("bf16", False), compile=cfg.get("compile", False))
    bs = cfg["batch_size"]

    def batches(epoch, gen):
        order = torch.randperm(len(patches.hr), generator=gen)
        for s in range(0, len(order), bs):
            idx = order[s:s + bs]
            yield sr_batch(patches.hr[idx], patches.lr_up[idx])

    t0 = time.perf_counter()
    run_keys = ("patch", "stride", "scale", "n_train_images", "batch_size", "channels", "kernel_size", "init_std")
    hist = train(model, batches, tc, checkpoint=out_dir / "checkpoints" / "cban_sr.pt",
                 run_config={k: cfg.get(k) for k in run_keys})
    train_s = time.perf_counter() - t0
    # evaluate with the final training threshold
    model.with_params(theta=hist["theta"][-1] if hist.get("theta") else cfg["theta"])
    ev = evaluate_sr(model, cfg["eval_sets"], scale=cfg["scale"], limit=cfg["eval_limit"], crop=cfg["eval_crop"],
                     tile=cfg["tile"], device=cfg["device"], progress=cfg["progress"])
    ds = _sr_dataset(ev, cfg["eval_sets"], cfg, hist, cfg["n_examples"], cfg["crop_size"])
    ds.attrs["train_seconds"] = train_s
    ds.attrs["n_train_patches"] = int(len(patches.hr))
    save_dataset(ds, out_dir / "results.nc", params=cfg, seed=cfg["seed"])
    text = format_sr_table(ds)
    (out_dir / "table1.txt").write_text(text + "\n")
    print(text)
    if "example_hr" in ds:
        draw_sr_figure(ds, out_dir / "fig7.png")
    return ds


def draw_sr_figure(ds: xr.Dataset, path: Path, *, fmt: str | None = None) -> Path:
    """Fig 7: HR / CBAN / bicubic crops of a ``cban_sr`` ``results.nc`` Dataset, drawn in the
    project style and written to ``path`` (format from its suffix or ``fmt``)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from attractorlab.analysis.figures import style
    from attractorlab.analysis.figures.cban_completion import sr_examples

    with style.style_context():
        ax = sr_examples(ds)
        return style.save(ax.figure, path, fmt=fmt)
