"""Experiment ``cban_mnist``: supervised MNIST FBAN 812-200-50 ([CB] §4.2, App D.2, Fig 4).

Run with ``attractorlab run cban_mnist --preset smoke`` (or ``paper``); writes
``results.nc`` (label accuracies, loss curve, weights; provenance attrs) and PNG figures
into the output folder. The model, its coding and training live in
:mod:`attractorlab.models.cban.mnist`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import xarray as xr

from attractorlab.experiments.registry import register_experiment
from attractorlab.threads import torch_threads

__all__ = ["run_mnist"]


def _savefig(fig, path: Path) -> None:
    from attractorlab.analysis.figures import style

    style.save(fig, path)


_MNIST_SMOKE = {
    "hidden": [200, 50], "mask": "perlin", "n_train": 500, "n_test": 200, "epochs": 1, "batch_size": 250,
    "lr": 0.01, "max_iter": 100, "theta": 0.01, "max_minutes": None, "seed": 0, "progress": False,
    # "symmetric" = D.2 pixel coding (background -0.999); "unit" = background 0, a
    # documented deviation that avoids saturating hidden layer 1 (see models/cban/mnist.py).
    "pixel_range": "symmetric",
    # () = constant lr (D.2); e.g. [10] divides lr by 10 from epoch 10 (deviation).
    "lr_milestones": [],
    # "sgd_linf" (D.2) or e.g. "adam"; "all" visible units in the loss (§3.2) or only
    # the "unobserved" ones (deviation; see mnist.MNISTConfig).
    "optimizer": "sgd_linf", "loss_units": "all", "weight_decay": 0.0,
    # random training translations of up to max_shift pixels and rotations of up to
    # max_rotation degrees (0 = none, D.2; deviations).
    "max_shift": 0, "max_rotation": 0.0,
    # "td1" = loss over every settling iteration (D.2); "final" = settled state only (deviation).
    "td": "td1",
}
_MNIST_PAPER = dict(_MNIST_SMOKE, n_train=None, n_test=10000, epochs=50, progress=True)


# settings that do not change the checkpoint: a rerun that changes only these re-evaluates
# (max_minutes only says when a run pauses; the next run resumes)
_EVAL_KEYS = ("n_test", "progress", "max_minutes")


def _mnist_config(config: dict):
    from attractorlab.models.cban.mnist import MNISTConfig

    # every MNISTConfig field the preset (or --set) gives; the others keep their D.2 defaults
    fields = {f.name for f in dataclasses.fields(MNISTConfig)}
    return MNISTConfig(**{k: v for k, v in config.items() if k in fields})


def _check(config: dict) -> None:
    """Every setting of a ``cban_mnist`` run and the four MNIST files (sha256), before training."""
    from attractorlab.data import data_files, verify_files

    _mnist_config(config)  # MNISTConfig, CBANParams and TrainConfig name a bad value
    n = config["n_test"]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10_000:
        raise ValueError(f"n_test must be an integer in [1, 10000] (MNIST test images), got {n!r}")
    verify_files(data_files("mnist", "train") + data_files("mnist", "test"))


@register_experiment(
    "cban_mnist",
    presets={"smoke": _MNIST_SMOKE, "paper": _MNIST_PAPER},
    description="supervised MNIST FBAN 812-200-50 (CBAN §4.2, D.2): label accuracy, Fig 4",
    eval_keys=_EVAL_KEYS,
    check=_check,
    types={"max_minutes": (float, None), "lr_milestones": list[int]},
)
def run_mnist(config: dict, out_dir: Path) -> xr.Dataset:
    """Train (resumable, ``checkpoint.pt``) and evaluate the supervised-MNIST FBAN.

    ``mask="perlin"``: Perlin-masked training, scored on masked and clean test images
    (paper 87.5 % / 89.9 %). ``mask="none"``: full images, labels unobserved (98.5 %).
    """
    with torch_threads(1):  # tiny dense nets: threads only add overhead
        return _run_mnist(config, Path(out_dir))


def _run_mnist(config: dict, out_dir: Path) -> xr.Dataset:
    import matplotlib.pyplot as plt

    from attractorlab.analysis.figures import cban as figs
    from attractorlab.data import load_mnist
    from attractorlab.experiments.registry import fingerprint
    from attractorlab.models.cban.mnist import classify, encode_mnist, evaluate_mnist, train_mnist
    from attractorlab.results import save_dataset

    cfg = _mnist_config(config)
    x_test, y_test = load_mnist("test")
    n_test = int(config["n_test"])
    x_test, y_test = x_test[:n_test], y_test[:n_test]
    # the checkpoint holds every setting that changes it (the run's fingerprint)
    model, hist = train_mnist(cfg, checkpoint=out_dir / "checkpoint.pt", progress=bool(config.get("progress", False)),
                              run_config=fingerprint(config, _EVAL_KEYS))
    ev = evaluate_mnist(model, x_test, y_test, seed=cfg.seed + 1, pixel_range=cfg.pixel_range)

    ds = xr.Dataset(
        {
            "loss": ("epoch", np.asarray(hist["loss"]), {"long_name": "training loss (ΔE+ TD(1), epoch mean)", "units": "1"}),
            "settle_iterations": ("epoch", np.asarray(hist["iters"]),
                                  {"long_name": "mean settling iterations t*", "units": "iterations"}),
            "accuracy_perlin": ((), ev["acc_perlin"], {"long_name": "label accuracy, Perlin-masked test images", "units": "1"}),
            "accuracy_clean": ((), ev["acc_none"], {"long_name": "label accuracy, unmasked test images", "units": "1"}),
            "weights_visible_hidden": (("hidden_unit", "visible_unit"),
                                       model.couplings[0].weight.detach().cpu().numpy(),
                                       {"long_name": "visible-to-hidden-1 weights", "units": "1"}),
            "train_seconds": ((), hist["wall_s"][-1],
                              {"long_name": "training wall time, summed over resumed runs", "units": "s"}),
        },
        coords={"epoch": np.asarray(hist["epoch"])},
        attrs={"experiment": "cban_mnist", "train_mask": cfg.mask, "n_test": n_test,
               "pixel_range": cfg.pixel_range, "optimizer": cfg.optimizer, "loss_units": cfg.loss_units,
               "weight_decay": cfg.weight_decay, "max_shift": cfg.max_shift,
               "max_rotation": cfg.max_rotation, "td": cfg.td,
               "paper_accuracy": "87.5% Perlin-masked, 89.9% clean; 98.5% full-image training (CB §4.2)"},
    )
    save_dataset(ds, out_dir / "results.nc", params=config, seed=cfg.seed)

    from attractorlab.analysis.figures import style

    with style.style_context():  # the project figure style
        y = encode_mnist(x_test[:20], y_test[:20], pixel_range=cfg.pixel_range)
        c = classify(model, y, "perlin", seed=cfg.seed + 2)
        fig = plt.figure(figsize=(16, 4))
        figs.plot_mnist_completions(y, c["hidden"], c["visible"], c["dream"], fig=fig)
        _savefig(fig, out_dir / "fig4_mnist.png")
        ax = figs.plot_training_curve(hist["epoch"], hist["loss"], iters=hist["iters"])
        _savefig(ax.figure, out_dir / "training_curve.png")
    return ds
