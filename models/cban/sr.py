"""CBAN x2 super-resolution ([CB] §4.5, App D.5): the model, its training batches and inference.

Model (D.5): visible layer 40 x 40 x 6, replicated (App A): channels 0-2 are clamped to
the bicubic-up-scaled low-resolution patch (PAPERS.md II.7(12): LR placed by bicubic
up-scaling, RGB in [-1, 1]), channels 3-5 are free and read out as the HR estimate; three
hidden layers of 300 channels, 5 x 5 kernels, no pooling, kernel s.d. 1e-3, biases 0,
tanh (the paper names no f for SR; II.7(4)). Loss: mean squared error of the output
channels against the HR patch at every iteration (TD(1)); Adam 5e-5, divided by 10
every 10 epochs; convergence threshold 0.01, raised to 0.1 half way through training.
Training data: aligned 40 x 40 patches of T91 (HR) and its MATLAB-bicubic x2
down/up-scaled version (:func:`.datasets.sr_training_patches`).

Inference (:func:`super_resolve`): the CBAN settles on the **whole** bicubic-up-scaled
image (it is fully convolutional without pooling) or on overlapping tiles (``tile``) whose
borders are discarded; the output is rounded to uint8. The experiment ``cban_sr`` and its
evaluation by the standard protocol (Y channel, shave 2, our bicubic baseline beside) are
:mod:`attractorlab.experiments.cban_sr`.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .functional import CBANParams, replicated_evidence
from .module import CBAN, build_cban
from .train import Batch, TrainConfig, read_checkpoint, step_milestones, train
from .validation import check_int, check_lr_steps, check_number

__all__ = [
    "SRConfig",
    "build_sr_cban",
    "sr_batch",
    "sr_train_config",
    "train_sr_cban",
    "load_sr_cban",
    "super_resolve",
    "center_crop",
]

SR_MODELS = ("cban", "srcnn")
#: SRConfig fields that say how a run executes or is scored, not what a model learns.
SR_RUNTIME_FIELDS = ("device", "progress", "threads", "workers", "channels_last", "compile", "variants",
                     "eval_sets", "eval_limit", "eval_crop", "tile", "n_examples", "crop_size")
#: Fields only the SRCNN baseline reads / only the CBAN reads.
SRCNN_FIELDS = ("srcnn_kernels", "srcnn_lr")
SR_CBAN_FIELDS = ("channels", "activation", "kernel_size", "init_std", "lr", "theta", "theta_late", "max_iter", "train_max_iter",
                  "bf16")


@dataclasses.dataclass(frozen=True)
class SRConfig:
    """Settings of the x2 super-resolution run (defaults: App D.5); validated on creation.

    Data: ``n_train_images`` of T91 (None = all 91), aligned ``patch`` x ``patch`` HR/LR
    patches every ``stride`` pixels, ``n_patches`` of them drawn at random with ``seed``
    (None = all), down-scaling factor ``scale``. CBAN: hidden ``channels`` (300, 300, 300),
    ``activation`` f (not named in D.5: "tanh" or "leaky_sigmoid"),
    ``kernel_size`` 5, ``init_std`` 1e-3, Adam ``lr`` 5e-5 divided by 10 at the epochs of
    ``lr_steps`` = (start, every, count), convergence threshold ``theta`` 0.01 raised to
    ``theta_late`` 0.1 half way through, iteration cap ``max_iter`` (``train_max_iter``
    while training; None = the same). SRCNN baseline: ``srcnn_kernels`` (9, 5, 5), widths
    chosen for the CBAN's parameter count, Adam ``srcnn_lr`` with the same steps. Both train
    on the same patches for ``epochs`` in batches of ``batch_size``. Running and scoring
    (:data:`SR_RUNTIME_FIELDS`): ``device``, ``progress``, ``threads``, ``workers``,
    ``channels_last``, ``compile``, ``variants`` (models), ``eval_sets``, ``eval_limit``
    (images per set), ``eval_crop`` (centre crop side), ``tile`` (inference tiles),
    ``n_examples``, ``crop_size`` (Fig 7 crops).
    """

    n_train_images: int | None = None
    n_patches: int | None = None
    patch: int = 40
    stride: int = 20
    scale: int = 2
    channels: tuple = (300, 300, 300)
    activation: str = "tanh"
    kernel_size: int = 5
    init_std: float = 1e-3
    epochs: int = 20
    batch_size: int = 32
    lr: float = 5e-5
    lr_steps: tuple = (10, 10, 1)
    theta: float = 0.01
    theta_late: float = 0.1
    max_iter: int = 100
    train_max_iter: int | None = None
    seed: int = 0
    bf16: bool = False
    srcnn_kernels: tuple = (9, 5, 5)
    srcnn_lr: float = 1e-3
    device: str = "cpu"
    progress: bool = False
    threads: int = 0
    workers: int = 1
    channels_last: bool = False
    compile: bool = False
    variants: tuple = ("cban",)
    eval_sets: tuple = ("Set5", "Set14", "BSD100", "Urban100")
    eval_limit: int | None = None
    eval_crop: int | None = None
    tile: int | None = None
    n_examples: int = 4
    crop_size: int = 96

    def __post_init__(self):
        for name in ("channels", "lr_steps", "srcnn_kernels", "variants", "eval_sets"):
            v = getattr(self, name)
            if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
                raise ValueError(f"{name} must be a list, got {v!r}")
            object.__setattr__(self, name, tuple(v))
        for name in ("n_train_images", "n_patches", "train_max_iter", "eval_limit", "eval_crop", "tile"):
            check_int(name, getattr(self, name), none_ok=True)
        for name in ("patch", "stride", "scale", "kernel_size", "epochs", "batch_size", "max_iter", "workers",
                     "crop_size"):
            check_int(name, getattr(self, name))
        for name in ("seed", "threads", "n_examples"):
            check_int(name, getattr(self, name), lo=0)
        for name in ("lr", "theta", "theta_late", "srcnn_lr"):
            check_number(name, getattr(self, name))
        check_number("init_std", self.init_std, zero_ok=True)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (half padding), got {self.kernel_size}")
        if self.activation not in ("tanh", "leaky_sigmoid"):
            raise ValueError(f"activation must be 'tanh' or 'leaky_sigmoid', got {self.activation!r}")
        if not self.channels or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in self.channels):
            raise ValueError(f"channels must list positive ints, got {list(self.channels)}")
        if len(self.srcnn_kernels) != 3 or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0
                                               for k in self.srcnn_kernels):
            raise ValueError(f"srcnn_kernels must be three positive odd ints, got {list(self.srcnn_kernels)}")
        check_lr_steps(self.lr_steps)
        if not self.variants or any(v not in SR_MODELS for v in self.variants) or len(set(self.variants)) != len(self.variants):
            raise ValueError(f"variants must list distinct models of {SR_MODELS}, got {list(self.variants)}")
        if self.patch < self.scale or self.patch % self.scale:
            raise ValueError(f"patch must be a multiple of scale ({self.scale}), got {self.patch}")
        if not self.eval_sets:
            raise ValueError("eval_sets must name at least one test set")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")

    @classmethod
    def from_dict(cls, config: dict) -> "SRConfig":
        """Build from an experiment's configuration dict (keys that are not fields are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in names})

    def fingerprint(self, model: str) -> dict:
        """The settings that define what ``model`` ("cban" or "srcnn") learns."""
        if model not in SR_MODELS:
            raise ValueError(f"model must be one of {SR_MODELS}, got {model!r}")
        skip = set(SR_RUNTIME_FIELDS) | set(SRCNN_FIELDS if model == "cban" else SR_CBAN_FIELDS)
        return {"model": model, **{k: v for k, v in dataclasses.asdict(self).items() if k not in skip}}

    def lr_milestones(self) -> tuple[int, ...]:
        return step_milestones(*self.lr_steps)


def build_sr_cban(*, channels=(300, 300, 300), kernel_size: int = 5, init_std: float = 1e-3,
                  theta: float = 0.01, max_iter: int = 100, symmetric: bool = True, seed: int | None = 0,
                  activation: str = "tanh") -> CBAN:
    """The SR CBAN of App D.5: visible (6, H, W), hidden ``channels``, no pooling.

    ``activation``: the paper names no f for SR (PAPERS II.7(4)); tanh by default, the leaky
    sigmoid of §3.3 as an option.
    """
    params = CBANParams(activation=activation, theta=theta, max_iter=max_iter)
    # visible spatial size is irrelevant for the couplings (convolutions, no pooling)
    return build_cban(visible_shape=(6, 40, 40), channels=tuple(channels), kernel_size=kernel_size, pool=False,
                      params=params, symmetric=symmetric, init_std=init_std, seed=seed)


def sr_train_config(cfg: SRConfig) -> TrainConfig:
    """TD(1) SE training of the SR CBAN: Adam, rate steps, theta raised half way (D.5)."""
    return TrainConfig(
        loss="se", td="td1", optimizer="adam", lr=cfg.lr, lr_milestones=cfg.lr_milestones(),
        theta_milestones=((cfg.epochs // 2, cfg.theta_late),) if cfg.epochs > 1 else (),
        max_iter=cfg.train_max_iter, epochs=cfg.epochs, device=cfg.device, checkpoint_every=1,
        progress=cfg.progress, seed=cfg.seed, bf16=cfg.bf16, compile=cfg.compile, channels_last=cfg.channels_last,
    )


def train_sr_cban(hr_u8: torch.Tensor, lr_up_u8: torch.Tensor, cfg: SRConfig, ckpt_dir: Path, *,
                  callback: Callable | None = None):
    """Train the SR CBAN on aligned uint8 patches (N, 3, p, p); resumable from ``ckpt_dir/cban_sr.pt``.

    Returns ``(model, history)``; ``callback(model, epoch, history)`` runs after every epoch.
    The model's threshold is the one of the last training epoch (``theta_late``).
    """
    model = build_sr_cban(channels=cfg.channels, kernel_size=cfg.kernel_size, init_std=cfg.init_std,
                          theta=cfg.theta, max_iter=cfg.max_iter, seed=cfg.seed, activation=cfg.activation)
    bs = cfg.batch_size

    def batches(epoch, gen):
        order = torch.randperm(len(hr_u8), generator=gen)
        for s in range(0, len(order), bs):
            idx = order[s:s + bs]
            yield sr_batch(hr_u8[idx], lr_up_u8[idx])

    ckpt = Path(ckpt_dir) / "cban_sr.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    cb = None if callback is None else (lambda epoch, hist: callback(model, epoch, hist))
    hist = train(model, batches, sr_train_config(cfg), checkpoint=ckpt,
                 run_config={**cfg.fingerprint("cban"), "n_patches_used": int(len(hr_u8))}, callback=cb)
    theta = hist["theta"][-1] if hist.get("theta") else cfg.theta
    return model.with_params(theta=theta), hist


def load_sr_cban(run_dir: str | Path) -> CBAN:
    """The trained SR CBAN of a ``cban_sr`` run folder (rebuilt from its checkpoint's settings)."""
    path = Path(run_dir) / "checkpoints" / "cban_sr.pt"
    if not path.exists():
        raise FileNotFoundError(f"no SR CBAN checkpoint at {str(path)!r}; train it with the run's command first")
    blob = read_checkpoint(path, map_location="cpu")
    fp = blob.get("run_config", {})
    names = {f.name for f in dataclasses.fields(SRConfig)}
    cfg = SRConfig(**{k: v for k, v in fp.items() if k in names})
    model = build_sr_cban(channels=cfg.channels, kernel_size=cfg.kernel_size, init_std=cfg.init_std,
                          theta=cfg.theta, max_iter=cfg.max_iter, seed=cfg.seed, activation=cfg.activation)
    model.load_state_dict(blob["model"])
    theta = blob["history"]["theta"][-1] if blob["history"].get("theta") else cfg.theta
    return model.with_params(theta=theta).eval()


def _u8_to_tanh(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 127.5 - 1.0


def sr_batch(hr_u8: torch.Tensor, lr_up_u8: torch.Tensor) -> Batch:
    """Training :class:`Batch` from uint8 patches (B, 3, h, w): LR clamped, loss on HR outputs."""
    lr = _u8_to_tanh(lr_up_u8)
    hr = _u8_to_tanh(hr_u8)
    ev, out = replicated_evidence(lr)
    target = torch.cat([lr, hr], 1)
    weight = torch.zeros((1, 6, 1, 1))
    weight[:, out] = 1.0
    return Batch(ev, target, weight)


def _at_size(model: CBAN, h: int, w: int) -> CBAN:
    """The same net (shared couplings and biases) for a visible layer of h x w pixels.

    :class:`CBAN` fixes its layer shapes at construction; without pooling every
    coupling is a same-size convolution, so only the recorded shapes change.
    """
    if tuple(model.layer_shapes[0][1:]) == (h, w):
        return model
    net = CBAN((model.layer_shapes[0][0], h, w), list(model.couplings), model.params)
    net.biases = model.biases
    net._sweep_fn = model._sweep_fn
    return net


@torch.no_grad()
def _settle_outputs(model: CBAN, lr_up: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ev, out = replicated_evidence(lr_up)
    res = _at_size(model, *lr_up.shape[-2:]).settle(ev)
    return res.state.x[0][:, out], res.iters_per_sample


@torch.no_grad()
def super_resolve(model: CBAN, lr_up_u8: np.ndarray, *, tile: int | None = None, overlap: int = 8,
                  device: str = "cpu") -> tuple[np.ndarray, float]:
    """CBAN output for a bicubic-up-scaled LR image.

    Parameters
    ----------
    lr_up_u8 : (H, W, 3) uint8
        Bicubic x2 of the LR image (the clamped input).
    tile : int, optional
        Settle on tiles of ``tile`` x ``tile`` pixels plus ``overlap`` context on each
        side (kept only in the centre) to bound memory; None = the whole image at once.

    Returns
    -------
    (sr, iterations) : (H, W, 3) uint8 and the mean settling iterations.
    """
    if lr_up_u8.ndim != 3 or lr_up_u8.shape[2] != 3:
        raise ValueError(f"lr_up_u8 must be (H, W, 3), got {lr_up_u8.shape}")
    model = model.to(device).eval()
    x = _u8_to_tanh(torch.from_numpy(np.ascontiguousarray(lr_up_u8))).permute(2, 0, 1)[None].to(device)
    h, w = x.shape[-2:]
    if tile is None:
        out, it = _settle_outputs(model, x)
        iters = [float(it.float().mean())]
    else:
        if tile < 1 or overlap < 0:
            raise ValueError(f"tile must be >= 1 and overlap >= 0, got {tile}, {overlap}")
        out = torch.zeros_like(x)
        iters = []
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                ya, yb = max(0, y0 - overlap), min(h, y0 + tile + overlap)
                xa, xb = max(0, x0 - overlap), min(w, x0 + tile + overlap)
                o, it = _settle_outputs(model, x[..., ya:yb, xa:xb])
                iters.append(float(it.float().mean()))
                ty, tx = min(tile, h - y0), min(tile, w - x0)
                out[..., y0:y0 + ty, x0:x0 + tx] = o[..., y0 - ya:y0 - ya + ty, x0 - xa:x0 - xa + tx]
    sr = ((out[0].permute(1, 2, 0).float().cpu() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    return sr, float(np.mean(iters))


def center_crop(img: np.ndarray, size: int | None, scale: int) -> np.ndarray:
    """The central ``size`` x ``size`` crop of ``img`` (H, W[, C]) with ``size`` and the corner
    rounded down to multiples of ``scale`` (None: ``img`` itself)."""
    if size is None:
        return img
    size -= size % scale
    h, w = img.shape[:2]
    y0, x0 = max(0, (h - size) // 2), max(0, (w - size) // 2)
    y0 -= y0 % scale
    x0 -= x0 % scale
    return img[y0:y0 + size, x0:x0 + size]
