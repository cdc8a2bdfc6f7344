"""Bar-imputation task ([CB] §4.1, App D.1).

Images are 5x5 arrays of two horizontal or two vertical bars (20 images, values ±1).
Evidence is a random subset of pixels that leaves exactly one consistent image
(:func:`.masks.bar_masks`), redrawn every epoch; the FBAN fills in the rest.

Defaults follow D.1: FBAN 25 -> 48 -> 24 (PAPERS II.7(1); ``hidden=(50,)`` is §4.1),
tanh, L_ΔE+ with TD(1), SGD-L2, lr 0.01 dropped to 0.001, batch 20 (the whole set),
θ 0.01. Accuracy counts masked pixels whose sign is right; we also report whole images
completed without error (PAPERS II.7(14)).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from pathlib import Path

import torch

from .functional import CBANParams, Evidence
from .masks import bar_images, bar_masks
from .module import CBAN, build_fban
from .train import Batch, TrainConfig, train

__all__ = ["BarsConfig", "bar_batches", "evaluate_bars", "train_bars"]


@dataclasses.dataclass(frozen=True)
class BarsConfig:
    """Bar-task settings (defaults: App D.1).

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer sizes, (48, 24) (D.1) or (50,) (§4.1).
    epochs : int
        Epochs; one epoch = one batch of all 20 images with fresh masks.
    lr, lr_final : float
        SGD-L2 learning rate, dropped from ``lr`` to ``lr_final`` at ``lr_drop`` * epochs.
    lr_drop : float
        Fraction of training after which the rate drops, in (0, 1].
    loss, td, optimizer : str
        See :class:`.train.TrainConfig` (ΔE+, TD(1), SGD-L2 in D.1).
    repeats : int
        Copies of the 20 images per batch (1 = batch 20 as in D.1).
    p_observe : (float, float)
        Range of the per-mask pixel observation probability (our choice; not in the paper).
    theta, max_iter : float, int
        Convergence threshold (0.01) and cap.
    activation : {"tanh", "leaky_sigmoid"}
        Unit nonlinearity (tanh in D.1).
    target_scale : float
        Pixel values (targets and evidence) are ``±target_scale``; in (0, 1]. D.1 does
        not say; D.2 (MNIST) uses 0.999. Below 1, L_ΔE can reach 0 with tanh units.
    seed : int
    """

    hidden: tuple = (48, 24)
    epochs: int = 2000
    lr: float = 0.01
    lr_final: float = 0.001
    lr_drop: float = 0.8
    loss: str = "delta_e_plus"
    td: str = "td1"
    optimizer: str = "sgd_l2"
    repeats: int = 1
    p_observe: tuple = (0.1, 0.5)
    theta: float = 0.01
    max_iter: int = 100
    activation: str = "tanh"
    target_scale: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if (not isinstance(self.hidden, (tuple, list)) or len(self.hidden) < 1
                or not all(_is_int(h) and h >= 1 for h in self.hidden)):
            raise ValueError(f"hidden must list >= 1 positive integer sizes, got {self.hidden!r}")
        for name in ("epochs", "repeats", "max_iter", "seed"):
            value = getattr(self, name)
            if not _is_int(value) or value < (0 if name == "seed" else 1):
                raise ValueError(f"{name} must be an integer >= {0 if name == 'seed' else 1}, got {value!r}")
        for name in ("lr", "lr_final", "theta"):
            value = getattr(self, name)
            if not (_is_number(value) and 0 < value < math.inf):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not (_is_number(self.lr_drop) and 0 < self.lr_drop <= 1):
            raise ValueError(f"lr_drop must be in (0, 1], got {self.lr_drop!r}")
        if not (_is_number(self.target_scale) and 0 < self.target_scale <= 1):
            raise ValueError(f"target_scale must be in (0, 1], got {self.target_scale!r}")
        p = self.p_observe
        if (not isinstance(p, (tuple, list)) or len(p) != 2 or not all(_is_number(x) for x in p)
                or not 0 < p[0] <= p[1] <= 1):
            raise ValueError(f"p_observe must be (low, high) with 0 < low <= high <= 1, got {p!r}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "p_observe", tuple(float(x) for x in self.p_observe))
        self.params()  # activation, theta, max_iter: CBANParams names a bad one
        self.train_config()  # loss, td, optimizer: TrainConfig names a bad one

    def params(self) -> CBANParams:
        """Dynamics settings of the bar-task FBAN."""
        return CBANParams(activation=self.activation, theta=self.theta, max_iter=self.max_iter)

    def train_config(self, progress: bool = False) -> TrainConfig:
        """The :class:`~attractorlab.models.cban.train.TrainConfig` of this run (rate dropped to ``lr_final`` at
        ``lr_drop * epochs``)."""
        drop = int(round(self.lr_drop * self.epochs))
        return TrainConfig(
            loss=self.loss, td=self.td, optimizer=self.optimizer, lr=self.lr, lr_milestones=(drop,),
            lr_gamma=self.lr_final / self.lr, epochs=self.epochs, progress=progress, seed=self.seed,
        )


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def bar_batches(repeats: int = 1, p_observe=(0.1, 0.5), target_scale: float = 1.0):
    """``batches(epoch, generator)``: one batch of ``20 * repeats`` images with fresh masks."""
    imgs = bar_images()

    def batches(epoch: int, gen: torch.Generator):
        y = imgs.repeat(repeats, 1, 1)
        hidden = bar_masks(y, p_observe=p_observe, generator=gen)
        y = y * target_scale
        yield Batch(Evidence(y.flatten(1), ~hidden.flatten(1)), y.flatten(1))

    return batches


@torch.no_grad()
def evaluate_bars(model: CBAN, *, n_masks: int = 500, seed: int = 1, p_observe=(0.1, 0.5),
                  max_iter: int | None = None, target_scale: float = 1.0) -> dict:
    """Completion accuracy over all 20 images x ``n_masks`` random unique-completion masks.

    Returns
    -------
    dict
        ``pixel_accuracy`` (fraction of masked pixels with the right sign),
        ``image_accuracy`` (fraction of evidence states completed without error),
        ``accuracy_per_iteration`` (masked-pixel accuracy of the visible state after
        iteration t = 1..T; the whole batch iterates until every sample has converged), ``iters`` (mean t*),
        ``n_masked_pixels``, and ``targets``/``hidden``/``trajectory`` of the first 20
        evidence states (for Fig 2).
    """
    imgs = bar_images().to(next(model.parameters()).device)
    gen = torch.Generator().manual_seed(seed)
    y = imgs.repeat(n_masks, 1, 1)
    hidden = bar_masks(y.cpu(), p_observe=p_observe, generator=gen).to(y.device)
    ev = Evidence(y.flatten(1) * target_scale, ~hidden.flatten(1))
    res = model.settle(ev, record=True, max_iter=max_iter)
    v = res.state.x[0].view_as(y)
    right = (torch.sign(v) == y) | ~hidden
    traj = torch.stack([s.x[0] for s in res.trajectory]).view(len(res.trajectory), *y.shape)
    acc_t = [float((torch.sign(traj[t]) == y)[hidden].float().mean()) for t in range(len(traj))]
    return {
        "pixel_accuracy": float(right[hidden].float().mean()),
        "image_accuracy": float(right.flatten(1).all(1).float().mean()),
        "accuracy_per_iteration": acc_t,
        "iters": float(res.iters_per_sample.float().mean()),
        "n_masked_pixels": int(hidden.sum()),
        "targets": y[:20].cpu(),
        "hidden": hidden[:20].cpu(),
        "trajectory": traj[:, :20].cpu(),
    }


def train_bars(cfg: BarsConfig = BarsConfig(), *, progress: bool = False, checkpoint: str | Path | None = None,
               eval_every: int = 0, n_eval_masks: int = 100, run_config: dict | None = None) -> tuple[CBAN, dict]:
    """Train the D.1 FBAN on the bar task; returns ``(model, history)``.

    ``history`` is that of :func:`.train.train` plus ``train_seconds`` (wall) and
    ``train_cpu_seconds`` (CPU time of this process, less sensitive to load), and, when
    ``eval_every > 0``, ``eval_epoch``/``eval_pixel_accuracy`` every ``eval_every`` epochs
    (on ``n_eval_masks`` masks per image).

    The checkpoint records every field of ``cfg`` and the caller's ``run_config`` (e.g. an
    experiment's fingerprint); resuming under any other value raises ValueError naming it.
    """
    model = build_fban(sizes=(25, *cfg.hidden), params=cfg.params(), seed=cfg.seed)
    tcfg = cfg.train_config(progress)

    def callback(epoch, hist):
        if eval_every and (epoch % eval_every == 0 or epoch == cfg.epochs - 1):
            ev = evaluate_bars(model, n_masks=n_eval_masks, seed=cfg.seed + 7, p_observe=cfg.p_observe,
                               target_scale=cfg.target_scale)
            hist.setdefault("eval_epoch", []).append(epoch)
            hist.setdefault("eval_pixel_accuracy", []).append(ev["pixel_accuracy"])

    t0, c0 = time.perf_counter(), time.process_time()
    run_config = {**(run_config or {}), **dataclasses.asdict(cfg)}
    hist = train(model, bar_batches(cfg.repeats, cfg.p_observe, cfg.target_scale), tcfg, checkpoint=checkpoint,
                 callback=callback, run_config=run_config)
    hist["train_seconds"] = time.perf_counter() - t0
    hist["train_cpu_seconds"] = time.process_time() - c0
    return model, hist
