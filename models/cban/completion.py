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

import dataclasses
import math
from pathlib import Path
from typing import Callable

import torch

from .functional import CBANParams, Evidence, find_cycle
from .masks import perlin_mask, square_mask
from .module import CBAN, build_cban
from .train import Batch, TrainConfig, step_milestones, train
from .validation import check_int, check_lr_steps, check_number

__all__ = [
    "COMPLETION_VARIANTS",
    "CompletionConfig",
    "completion_variant",
    "make_mask_fn",
    "fixed_masks",
    "build_completion_model",
    "build_completion_vae",
    "completion_train_config",
    "train_completion_model",
    "load_completion_model",
    "complete_images",
    "trace_settling",
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


# --------------------------------------------------------------------------- settings

MASKS = ("squares", "perlin")
#: CompletionConfig fields that say how a run executes or is scored, not what a model learns:
#: they may change between a run and its resumption (or a re-evaluation) without retraining.
RUNTIME_FIELDS = ("device", "progress", "threads", "workers", "channels_last", "compile", "variants",
                  "n_test", "n_test_lossy", "eval_batch", "n_examples", "cycle_check", "max_period", "cycle_atol",
                  "n_trace", "trace_iters")
#: Fields that only the CD-VAE reads / only the CBANs read (each model's fingerprint omits the other's).
VAE_FIELDS = ("vae_channels", "vae_latent", "vae_beta", "vae_lr")
CBAN_FIELDS = ("channels", "kernel_size", "init_std", "theta", "max_iter", "train_max_iter", "lr", "bf16")


@dataclasses.dataclass(frozen=True)
class CompletionConfig:
    """Settings of an image-completion run (Omniglot D.3, CIFAR-10 D.4); validated on creation.

    Data and masks
        ``n_train`` training images (None = all), ``mask`` ("squares": squares of side
        ``square_min``..``square_max`` until >= ``mask_fraction`` of the stroke pixels are
        hidden, D.3; "perlin": thresholded Perlin noise of ``perlin_frequency`` lattice cells
        per side hiding ``mask_fraction`` of the pixels, D.4).
    CBAN
        ``channels`` hidden channels (D.3: 128, 256, 512), ``kernel_size`` (3), ``init_std``
        kernel s.d. (0.01 Omniglot, 1e-4 CIFAR), ``theta`` convergence threshold (0.01),
        ``max_iter`` iteration cap (100), ``train_max_iter`` cap while training (None = max_iter).
    Training (the same for every model)
        ``epochs``, ``batch_size``, ``lr`` (Adam; 5e-4), ``lr_steps`` = (start, every, count):
        lr divided by 10 at epochs start, start + every, ... (Omniglot: after 100 every 20),
        ``seed``, ``n_monitor`` test images scored after every epoch (a learning curve; no
        model selection uses it), ``bf16``.
    CD-VAE
        ``vae_channels``, ``vae_latent``, ``vae_beta``, ``vae_lr``.
    Running and scoring (:data:`RUNTIME_FIELDS`; may change on resume)
        ``device``, ``progress``, ``threads`` (torch threads per process, 0 = leave),
        ``workers`` (models trained side by side in that many processes), ``channels_last``,
        ``compile``, ``variants`` (which models), ``n_test``, ``n_test_lossy``, ``eval_batch``,
        ``n_examples``, ``cycle_check``, ``max_period``, ``cycle_atol``, ``n_trace`` test images
        whose residual and energy are traced for ``trace_iters`` iterations.
    """

    n_train: int | None = None
    mask: str = "squares"
    mask_fraction: float = 0.25
    square_min: int = 3
    square_max: int = 6
    perlin_frequency: float = 7.0
    channels: tuple = (128, 256, 512)
    kernel_size: int = 3
    init_std: float = 0.01
    theta: float = 0.01
    max_iter: int = 100
    train_max_iter: int | None = None
    epochs: int = 140
    batch_size: int = 32
    lr: float = 5e-4
    lr_steps: tuple = (100, 20, 2)
    seed: int = 0
    n_monitor: int = 0
    bf16: bool = False
    vae_channels: tuple = (32, 64)
    vae_latent: int = 64
    vae_beta: float = 1.0
    vae_lr: float = 1e-3
    device: str = "cpu"
    progress: bool = False
    threads: int = 0
    workers: int = 1
    channels_last: bool = False
    compile: bool = False
    variants: tuple = ("cban", "cban_asym", "cban_notd", "cd_vae")
    n_test: int | None = None
    n_test_lossy: int = 0
    eval_batch: int = 100
    n_examples: int = 12
    cycle_check: bool = True
    max_period: int = 10
    cycle_atol: float = 1e-3
    n_trace: int = 0
    trace_iters: int = 60

    def __post_init__(self):
        for name in ("channels", "lr_steps", "vae_channels", "variants"):
            v = getattr(self, name)
            if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
                raise ValueError(f"{name} must be a list, got {v!r}")
            object.__setattr__(self, name, tuple(v))
        if self.mask not in MASKS:
            raise ValueError(f"mask must be one of {MASKS}, got {self.mask!r}")
        for name in ("n_train", "n_test", "train_max_iter"):
            check_int(name, getattr(self, name), none_ok=True)
        for name in ("square_min", "square_max", "kernel_size", "max_iter", "epochs", "batch_size", "vae_latent",
                     "workers", "eval_batch", "max_period", "trace_iters"):
            check_int(name, getattr(self, name))
        for name in ("n_monitor", "threads", "n_test_lossy", "n_examples", "n_trace", "seed"):
            check_int(name, getattr(self, name), lo=0)
        if self.square_min > self.square_max:
            raise ValueError(f"square_min must be <= square_max, got {self.square_min} > {self.square_max}")
        if not (isinstance(self.mask_fraction, (int, float)) and 0 < self.mask_fraction < 1):
            raise ValueError(f"mask_fraction must be in (0, 1), got {self.mask_fraction!r}")
        for name in ("perlin_frequency", "theta", "lr", "vae_lr", "cycle_atol"):
            check_number(name, getattr(self, name))
        for name in ("init_std", "vae_beta"):
            check_number(name, getattr(self, name), zero_ok=True)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (half padding), got {self.kernel_size}")
        for name in ("channels", "vae_channels"):
            for c in getattr(self, name):
                check_int(f"{name} entries", c)
        if len(self.channels) < 1:
            raise ValueError("channels must list at least one hidden layer")
        check_lr_steps(self.lr_steps)
        if not self.variants:
            raise ValueError("variants must name at least one model")
        for v in self.variants:
            completion_variant(v)
        if len(set(self.variants)) != len(self.variants):
            raise ValueError(f"variants must not repeat a model, got {list(self.variants)}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")

    @classmethod
    def from_dict(cls, config: dict) -> "CompletionConfig":
        """Build from an experiment's configuration dict (keys that are not fields are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in names})

    def fingerprint(self, variant: str) -> dict:
        """The settings that define what model ``variant`` learns (stored in its checkpoint)."""
        v = completion_variant(variant)
        skip = set(RUNTIME_FIELDS) | set(CBAN_FIELDS if v.get("vae") else VAE_FIELDS)
        out = {"variant": variant}
        out.update({k: val for k, val in dataclasses.asdict(self).items() if k not in skip})
        return out

    def lr_milestones(self) -> tuple[int, ...]:
        """Epochs at whose start the rate is divided by 10."""
        return step_milestones(*self.lr_steps)


# --------------------------------------------------------------------------- masks


def make_mask_fn(cfg: CompletionConfig) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """``mask(images (B, C, H, W), generator) -> observed (B, 1, H, W) bool``."""
    if cfg.mask == "squares":
        def fn(images, gen):
            hidden = square_mask(images[:, 0].cpu(), fraction=cfg.mask_fraction, min_side=cfg.square_min,
                                 max_side=cfg.square_max, generator=gen)
            return ~hidden[:, None]
    else:
        def fn(images, gen):
            hidden = perlin_mask(images.shape[0], tuple(images.shape[-2:]), cfg.mask_fraction,
                                 cfg.perlin_frequency, generator=gen)
            return ~hidden[:, None]
    return fn


def fixed_masks(images: torch.Tensor, cfg: CompletionConfig, seed: int) -> torch.Tensor:
    """Evidence masks (N, 1, H, W) bool for ``images``, drawn in blocks of 256 from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    fn = make_mask_fn(cfg)
    return torch.cat([fn(images[s:s + 256], gen) for s in range(0, len(images), 256)])


# --------------------------------------------------------------------------- training


def build_completion_model(cfg: CompletionConfig, variant: str, visible_shape) -> CBAN:
    """The (untrained) CBAN of comparison model ``variant`` for images of ``visible_shape``."""
    v = completion_variant(variant)
    if v.get("vae"):
        raise ValueError(f"variant {variant!r} is the VAE, not a CBAN")
    params = CBANParams(activation="tanh", order=v["order"], theta=v["theta"] or cfg.theta, max_iter=cfg.max_iter)
    return build_cban(
        visible_shape=visible_shape, channels=cfg.channels, kernel_size=cfg.kernel_size,
        params=params, symmetric=v["symmetric"], init_std=cfg.init_std, seed=cfg.seed,
    )


def build_completion_vae(cfg: CompletionConfig, image_shape):
    """The (untrained) CD-VAE for images of ``image_shape`` (C, H, W)."""
    from attractorlab.models.baselines.vae import ConvVAE, VAEParams

    torch.manual_seed(cfg.seed)
    return ConvVAE(VAEParams(image_channels=image_shape[0], image_size=image_shape[-1], channels=cfg.vae_channels,
                             latent_dim=cfg.vae_latent, beta=cfg.vae_beta))


def completion_train_config(cfg: CompletionConfig, td: str) -> TrainConfig:
    """The :class:`TrainConfig` of a CBAN comparison model trained with ``td``."""
    return TrainConfig(
        loss="se", td=td, optimizer="adam", lr=cfg.lr, lr_milestones=cfg.lr_milestones(), lr_gamma=0.1,
        epochs=cfg.epochs, max_iter=cfg.train_max_iter, device=cfg.device, bf16=cfg.bf16, compile=cfg.compile,
        channels_last=cfg.channels_last, checkpoint_every=1, progress=cfg.progress, seed=cfg.seed,
    )


def _batches(images: torch.Tensor, cfg: CompletionConfig, mask_fn) -> Callable:
    bs = cfg.batch_size

    def batches(epoch: int, gen: torch.Generator):
        order = torch.randperm(len(images), generator=gen)
        for s in range(0, len(images), bs):
            x = images[order[s:s + bs]]
            obs = mask_fn(x, gen)
            yield Batch(Evidence(x, obs), x)

    return batches


def train_completion_model(variant: str, images: torch.Tensor, cfg: CompletionConfig, ckpt_dir: Path, *,
                           callback: Callable | None = None, should_stop: Callable[[], bool] | None = None):
    """Train comparison model ``variant`` on ``images`` (N, C, H, W) in [-1, 1].

    Returns ``(model, history)``; history has ``loss`` and ``iters`` per epoch (VAE:
    negative ELBO per image, no iterations) and whatever ``callback(model, epoch,
    history)`` adds after each epoch (e.g. a monitor score). Checkpoints to
    ``ckpt_dir/<variant>.pt`` after every epoch and resumes from it; a checkpoint written
    under another :meth:`CompletionConfig.fingerprint` is refused (ValueError naming the
    differences). ``should_stop()``, asked after every CBAN batch, ends training with a checkpoint
    (:class:`~attractorlab.models.cban.train.TrainingInterrupted`; the VAE ignores it).
    """
    from attractorlab.models.baselines.vae import fit_denoising_vae

    v = completion_variant(variant)
    mask_fn = make_mask_fn(cfg)
    ckpt = Path(ckpt_dir) / f"{variant}.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    fingerprint = {**cfg.fingerprint(variant), "image_shape": list(images.shape[1:])}
    if v.get("vae"):
        model = build_completion_vae(cfg, tuple(images.shape[1:]))
        milestones = cfg.lr_milestones()
        hist: dict = {}
        cb = None if callback is None else (lambda epoch, losses: callback(model, epoch, hist))
        loss = fit_denoising_vae(
            model, images, mask_fn, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.vae_lr,
            seed=cfg.seed, checkpoint=ckpt, progress=cfg.progress, device=cfg.device,
            lr_schedule=lambda e: 0.1 ** sum(1 for m in milestones if e >= m), run_config=fingerprint,
            callback=cb, history_extra=hist,
        )
        hist.update(loss=loss, iters=[math.nan] * len(loss))
        return model, hist
    model = build_completion_model(cfg, variant, tuple(images.shape[1:]))
    cb = None if callback is None else (lambda epoch, history: callback(model, epoch, history))
    hist = train(model, _batches(images, cfg, mask_fn), completion_train_config(cfg, v["td"]), checkpoint=ckpt,
                 run_config=fingerprint, callback=cb, should_stop=should_stop)
    return model, hist


def load_completion_model(run_dir: str | Path, variant: str, image_shape=None):
    """A trained comparison model from a finished (or running) completion run folder.

    Reads ``run_dir/checkpoints/<variant>.pt`` and rebuilds the model from the settings
    stored in it (its fingerprint), so no configuration is needed. ``image_shape``
    (C, H, W) is only needed for checkpoints that do not record it.

    Returns
    -------
    CBAN or ConvVAE, in eval mode, on the CPU.
    """
    from .train import read_checkpoint

    path = Path(run_dir) / "checkpoints" / f"{variant}.pt"
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint for variant {variant!r} at {str(path)!r}; "
                                f"train it with the run's command first")
    v = completion_variant(variant)
    if v.get("vae"):
        blob = torch.load(path, map_location="cpu", weights_only=False)
        fp = dict(blob.get("settings", {}))
    else:
        blob = read_checkpoint(path, map_location="cpu")
        fp = dict(blob.get("run_config", {}))
    shape = fp.get("image_shape", image_shape)
    if shape is None:
        raise ValueError(f"checkpoint {str(path)!r} does not record the image shape; pass image_shape=(C, H, W)")
    names = {f.name for f in dataclasses.fields(CompletionConfig)}
    cfg = CompletionConfig(**{k: val for k, val in fp.items() if k in names})
    if v.get("vae"):
        model = build_completion_vae(cfg, tuple(shape))
        model.load_state_dict(blob["model"])
    else:
        model = build_completion_model(cfg, variant, tuple(shape))
        model.load_state_dict(blob["model"])
    return model.eval()


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


@torch.no_grad()
def trace_settling(model: CBAN, images: torch.Tensor, observed: torch.Tensor, iters: int) -> dict:
    """Residual and energy of every iteration when settling on masked ``images``.

    Runs exactly ``iters`` iterations (no early stop), so that a fixed point shows as a
    residual falling towards 0 and a limit cycle as a residual that stays up.

    Returns
    -------
    dict of numpy arrays, shape (iters, N): ``residual`` = ``max |x(t) - x(t-1)|`` over the
    whole state, ``energy`` = eq (5) of the state after iteration t (a Lyapunov function
    only for symmetric couplings).
    """
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    model = model.eval()
    res = model.settle(Evidence(images, observed), theta=1e-30, max_iter=iters, min_iter=iters, trace_energy=True)
    return {"residual": res.changes.double().numpy(), "energy": res.energies.double().numpy()}
