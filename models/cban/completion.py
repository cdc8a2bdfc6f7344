"""Image completion with a CBAN and its comparison models ([CB] §4.3-4.4, App D.3-D.4).

Model-level pieces of the completion experiments (the experiments themselves, with
presets, scores, tables and figures, are :mod:`attractorlab.experiments.cban_completion`):

* :data:`COMPLETION_VARIANTS` / :func:`completion_variant`: the comparison models
  (CBAN, CBAN-asym with untied kernels, CBAN-noTD with the loss at the final iteration
  only, the convolutional denoising VAE, and for App E the CBAN with theta = 1.0 and with
  the odd-even update order);
* :func:`make_mask_fn`, :func:`fixed_masks`: square (Omniglot, D.3) and Perlin (CIFAR-10,
  D.4) evidence masks;
* :func:`train_completion_model`: train one variant (checkpointed, resumable);
* :func:`complete_images`: complete masked images and report the settling iterations,
  convergence and the limit-cycle period of the final state.

Choices the paper leaves open (PAPERS.md II.7): completions of all models keep the
observed pixels (the CBAN clamps them; the VAE's output is overwritten there too, so all
models are scored on the same task); unclamped units start at 0.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch

from .functional import CBANParams, Evidence, find_cycle
from .masks import perlin_mask, square_mask
from .module import CBAN, build_cban
from .train import Batch, TrainConfig, step_milestones, train

__all__ = [
    "COMPLETION_VARIANTS",
    "completion_variant",
    "make_mask_fn",
    "fixed_masks",
    "train_completion_model",
    "complete_images",
]

#: Comparison models: name -> (symmetric, td, order, theta override or None). "cd_vae" is the VAE.
COMPLETION_VARIANTS: dict[str, dict] = {
    "cban": dict(symmetric=True, td="td1", order="up_down", theta=None),
    "cban_asym": dict(symmetric=False, td="td1", order="up_down", theta=None),
    "cban_notd": dict(symmetric=True, td="final", order="up_down", theta=None),
    "cd_vae": dict(vae=True),
    "cban_theta1": dict(symmetric=True, td="td1", order="up_down", theta=1.0),
    "cban_oddeven": dict(symmetric=True, td="td1", order="odd_even", theta=None),
}


def completion_variant(name: str) -> dict:
    """Settings of comparison model ``name`` (see :data:`COMPLETION_VARIANTS`)."""
    if name not in COMPLETION_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(COMPLETION_VARIANTS)}, got {name!r}")
    return COMPLETION_VARIANTS[name]


# --------------------------------------------------------------------------- masks


def make_mask_fn(cfg: dict) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """``mask(images (B, C, H, W), generator) -> observed (B, 1, H, W) bool``."""
    kind = cfg["mask"]
    if kind == "squares":
        def fn(images, gen):
            hidden = square_mask(images[:, 0].cpu(), fraction=cfg["mask_fraction"], min_side=cfg["square_min"],
                                 max_side=cfg["square_max"], generator=gen)
            return ~hidden[:, None]
    elif kind == "perlin":
        def fn(images, gen):
            hidden = perlin_mask(images.shape[0], tuple(images.shape[-2:]), cfg["mask_fraction"],
                                 cfg["perlin_frequency"], generator=gen)
            return ~hidden[:, None]
    else:
        raise ValueError(f"mask must be 'squares' or 'perlin', got {kind!r}")
    return fn


def fixed_masks(images: torch.Tensor, cfg: dict, seed: int) -> torch.Tensor:
    """Evidence masks (N, 1, H, W) bool for ``images``, drawn in blocks of 256 from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    fn = make_mask_fn(cfg)
    return torch.cat([fn(images[s:s + 256], gen) for s in range(0, len(images), 256)])


# --------------------------------------------------------------------------- training


def _build(cfg: dict, variant: str, visible_shape) -> CBAN:
    v = completion_variant(variant)
    params = CBANParams(
        activation="tanh", order=v["order"], theta=v["theta"] or cfg["theta"], max_iter=cfg["max_iter"],
    )
    return build_cban(
        visible_shape=visible_shape, channels=tuple(cfg["channels"]), kernel_size=cfg["kernel_size"],
        params=params, symmetric=v["symmetric"], init_std=cfg["init_std"], seed=cfg["seed"],
    )


def _train_config(cfg: dict, td: str) -> TrainConfig:
    start, every, count = cfg["lr_steps"]
    return TrainConfig(
        loss="se", td=td, optimizer="adam", lr=cfg["lr"],
        lr_milestones=step_milestones(start, every, count), lr_gamma=0.1,
        epochs=cfg["epochs"], device=cfg["device"], bf16=cfg.get("bf16", False), compile=cfg.get("compile", False),
        checkpoint_every=1, progress=cfg["progress"], seed=cfg["seed"],
    )


def _batches(images: torch.Tensor, cfg: dict, mask_fn) -> Callable:
    bs = cfg["batch_size"]

    def batches(epoch: int, gen: torch.Generator):
        order = torch.randperm(len(images), generator=gen)
        for s in range(0, len(images), bs):
            x = images[order[s:s + bs]]
            obs = mask_fn(x, gen)
            yield Batch(Evidence(x, obs), x)

    return batches


def train_completion_model(variant: str, images: torch.Tensor, cfg: dict, ckpt_dir: Path):
    """Train comparison model ``variant`` on ``images`` (N, C, H, W) in [-1, 1].

    Returns ``(model, history)``; history has ``loss`` and ``iters`` per epoch (VAE:
    negative ELBO per image, no iterations). Checkpoints to ``ckpt_dir/<variant>.pt``
    after every epoch and resumes from it.
    """
    from attractorlab.models.baselines.vae import ConvVAE, VAEParams, fit_denoising_vae

    v = completion_variant(variant)
    mask_fn = make_mask_fn(cfg)
    ckpt = Path(ckpt_dir) / f"{variant}.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    run_keys = ("n_train", "batch_size", "channels", "kernel_size", "init_std", "mask", "mask_fraction",
                "square_min", "square_max", "perlin_frequency")
    run_config = {"variant": variant, **{k: cfg.get(k) for k in run_keys}}
    if v.get("vae"):
        torch.manual_seed(cfg["seed"])
        model = ConvVAE(VAEParams(image_channels=images.shape[1], image_size=images.shape[-1],
                                  channels=tuple(cfg["vae_channels"]), latent_dim=cfg["vae_latent"],
                                  beta=cfg["vae_beta"]))
        start, every, count = cfg["lr_steps"]
        milestones = step_milestones(start, every, count)
        loss = fit_denoising_vae(
            model, images, mask_fn, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["vae_lr"],
            seed=cfg["seed"], checkpoint=ckpt, progress=cfg["progress"], device=cfg["device"],
            lr_schedule=lambda e: 0.1 ** sum(1 for m in milestones if e >= m), run_config=run_config,
        )
        return model, {"loss": loss, "iters": [math.nan] * len(loss)}
    model = _build(cfg, variant, tuple(images.shape[1:]))
    hist = train(model, _batches(images, cfg, mask_fn), _train_config(cfg, v["td"]), checkpoint=ckpt,
                 run_config=run_config)
    return model, hist


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def _settle_eval(model: CBAN, ev: Evidence, cycle_check: bool, max_period: int, atol: float):
    res = model.settle(ev)
    period = torch.zeros(ev.value.shape[0], dtype=torch.long)
    if cycle_check:
        # continue from the final state for max_period + 1 iterations and look for a repeat
        traj = [res.state]
        state = res.state
        for _ in range(max_period + 1):
            state = model.step(state, ev)
            traj.append(state)
        period = find_cycle(traj, max_period=max_period, atol=atol).cpu()
    return res.state.x[0], res.iters_per_sample.cpu(), res.converged.cpu(), period


@torch.no_grad()
def complete_images(model, images: torch.Tensor, observed: torch.Tensor, *, batch_size: int = 100,
                    device: str = "cpu", cycle_check: bool = True, max_period: int = 10,
                    cycle_atol: float = 1e-3) -> dict:
    """Complete masked images with a CBAN (settling, evidence clamped) or the VAE.

    Parameters
    ----------
    model : CBAN or ConvVAE
    images : (N, C, H, W) clean images in [-1, 1]
    observed : (N, 1, H, W) bool, True = observed (the same for every model)
    cycle_check : bool
        After settling, run ``max_period + 1`` more iterations and report the smallest
        period p <= max_period with max|x(T) - x(T - p)| <= ``cycle_atol`` over the whole
        state (1 = fixed point, 0 = none found).

    Returns
    -------
    dict, per image: ``completion`` (N, C, H, W) float32 tensor in [-1, 1] (the VAE's
    output with the observed pixels kept), and numpy ``iterations``, ``converged``,
    ``cycle_period`` (NaN / False / -1 for the VAE).
    """
    from attractorlab.models.baselines.vae import ConvVAE

    is_vae = isinstance(model, ConvVAE)
    model = model.to(device).eval()
    outs, iters, conv, period = [], [], [], []
    for s in range(0, len(images), batch_size):
        x = images[s:s + batch_size].to(device)
        obs = observed[s:s + batch_size].to(device)
        if is_vae:
            out = model.complete(x, obs)
            out = torch.where(obs.expand_as(x), x, out)  # keep the observed pixels, as clamping does
            n = len(x)
            iters.append(torch.full((n,), math.nan))
            conv.append(torch.zeros(n, dtype=torch.bool))
            period.append(torch.full((n,), -1, dtype=torch.long))
        else:
            out, it, cv, pr = _settle_eval(model, Evidence(x, obs), cycle_check, max_period, cycle_atol)
            iters.append(it.float())
            conv.append(cv)
            period.append(pr)
        outs.append(out.float().cpu())
    return {
        "completion": torch.cat(outs),
        "iterations": torch.cat(iters).numpy(),
        "converged": torch.cat(conv).numpy(),
        "cycle_period": torch.cat(period).numpy(),
    }
