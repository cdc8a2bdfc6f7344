"""A feed-forward super-resolution CNN in the style of SRCNN (Dong et al. 2014), as a baseline
for the CBAN of [CB] §4.5.

Three convolutions on the bicubic-up-scaled image, as in SRCNN: patch extraction
(``kernels[0]``, ``channels[0]`` maps, ReLU), non-linear mapping (``kernels[1]``,
``channels[1]`` maps, ReLU) and reconstruction (``kernels[2]``, 3 maps), with zero padding
so that the output has the input's size. One change from the original, which an SR user
would make today (VDSR, Kim et al. 2016): the net predicts the residual, ``out = input +
net(input)``, so that it starts from the bicubic image instead of from zero. RGB in
[-1, 1], like the CBAN's visible layer.

:func:`srcnn_like` picks the widths of a net with about a given number of parameters,
so that the baseline and the CBAN it is compared with are of a size.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SRCNNParams", "SRCNN", "srcnn_like", "fit_srcnn", "srcnn_resolve"]


@dataclasses.dataclass(frozen=True)
class SRCNNParams:
    """Widths and kernel sizes of the three layers (SRCNN 9-5-5 with 64 and 32 maps by default)."""

    channels: tuple = (64, 32)
    kernels: tuple = (9, 5, 5)
    image_channels: int = 3
    residual: bool = True

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "kernels", tuple(int(k) for k in self.kernels))
        if len(self.channels) != 2 or min(self.channels) < 1:
            raise ValueError(f"channels must be two positive ints, got {self.channels!r}")
        if len(self.kernels) != 3 or any(k < 1 or k % 2 == 0 for k in self.kernels):
            raise ValueError(f"kernels must be three positive odd ints, got {self.kernels!r}")
        if self.image_channels < 1:
            raise ValueError(f"image_channels must be >= 1, got {self.image_channels}")


class SRCNN(nn.Module):
    """Three-layer SR CNN on bicubic-up-scaled images (B, C, H, W) in [-1, 1]."""

    def __init__(self, params: SRCNNParams = SRCNNParams()):
        super().__init__()
        if not isinstance(params, SRCNNParams):
            raise ValueError(f"params must be an SRCNNParams, got {type(params).__name__}")
        self.params = params
        c = params.image_channels
        (n1, n2), (k1, k2, k3) = params.channels, params.kernels
        self.extract = nn.Conv2d(c, n1, k1, padding=k1 // 2)
        self.map = nn.Conv2d(n1, n2, k2, padding=k2 // 2)
        self.reconstruct = nn.Conv2d(n2, c, k3, padding=k3 // 2)
        nn.init.zeros_(self.reconstruct.weight)  # starts as the identity (residual) / zero map
        nn.init.zeros_(self.reconstruct.bias)

    def forward(self, x: Tensor) -> Tensor:
        y = self.reconstruct(F.relu(self.map(F.relu(self.extract(x)))))
        return x + y if self.params.residual else y

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def srcnn_like(n_params: int, *, kernels=(9, 5, 5), image_channels: int = 3, ratio: float = 2.0) -> SRCNNParams:
    """SRCNN widths ``(n1, n2 = n1 / ratio)`` whose parameter count is closest to ``n_params``."""
    if n_params < 1:
        raise ValueError(f"n_params must be >= 1, got {n_params}")
    k1, k2, k3 = kernels
    best = None
    for n1 in range(2, 1025):
        n2 = max(1, round(n1 / ratio))
        count = (image_channels * k1 * k1 + 1) * n1 + (n1 * k2 * k2 + 1) * n2 + (n2 * k3 * k3 + 1) * image_channels
        if best is None or abs(count - n_params) < abs(best[0] - n_params):
            best = (count, n1, n2)
        if count > 2 * n_params:
            break
    return SRCNNParams(channels=(best[1], best[2]), kernels=tuple(kernels), image_channels=image_channels)


def fit_srcnn(model: SRCNN, batches: Callable[[int, torch.Generator], Iterable[tuple[Tensor, Tensor]]], *,
              epochs: int, lr: float, lr_schedule: Callable[[int], float] | None = None, seed: int = 0,
              checkpoint: str | Path | None = None, run_config: dict | None = None, device: str = "cpu",
              callback: Callable[[int, dict], None] | None = None, progress: bool = False) -> dict:
    """Train ``model`` with Adam on the mean squared error, resumable from ``checkpoint``.

    Parameters
    ----------
    batches : callable
        ``batches(epoch, generator)`` yields ``(inputs, targets)`` (B, C, H, W) in [-1, 1]
        (the same patches the CBAN is trained on).
    epochs, lr, lr_schedule, seed
        Budget; ``lr_schedule(epoch)`` multiplies ``lr``; the generator passed to
        ``batches`` is seeded by ``seed`` and the epoch.
    checkpoint : path, optional
        Written atomically after every epoch; an existing one is resumed if it was written
        under the same ``run_config`` and model size (ValueError naming the differences
        otherwise).
    callback : callable, optional
        ``callback(epoch, history)`` after every epoch (may add keys to ``history``).

    Returns
    -------
    dict of per-epoch lists: ``loss`` (mean squared error) and ``epoch_seconds``.
    """
    import time

    from tqdm.auto import tqdm

    from attractorlab.results import atomic_path, check_resume, plain_config

    if not isinstance(epochs, int) or epochs < 1 or not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"need epochs an int >= 1 and lr > 0; got {epochs!r}, {lr!r}")
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    settings = {"model": dataclasses.asdict(model.params), "lr": lr, "epochs": epochs, "seed": seed,
                **(run_config or {})}
    history: dict = {"loss": [], "epoch_seconds": []}
    start = 0
    if checkpoint is not None and Path(checkpoint).exists():
        try:
            blob = torch.load(checkpoint, map_location=device, weights_only=False)
        except Exception as exc:
            raise ValueError(f"checkpoint {str(checkpoint)!r} cannot be read ({type(exc).__name__}); it is damaged. "
                             "Delete it to start this run again from scratch.") from None
        check_resume(checkpoint, blob.get("settings", {}), settings, "SRCNN configuration")
        model.load_state_dict(blob["model"])
        opt.load_state_dict(blob["opt"])
        history = dict(blob["history"])
        start = len(history["loss"])
    for epoch in tqdm(range(start, epochs), desc="SRCNN", disable=not progress, leave=False):
        t0 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = lr * (lr_schedule(epoch) if lr_schedule else 1.0)
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + epoch)
        model.train()
        total, count = 0.0, 0
        for x, y in batches(epoch, gen):
            x, y = x.to(device), y.to(device)
            loss = F.mse_loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(x)
            count += len(x)
        if count == 0:
            raise ValueError(f"batches({epoch}, generator) yielded no batch")
        history["loss"].append(total / count)
        history["epoch_seconds"].append(time.perf_counter() - t0)
        if callback is not None:
            callback(epoch, history)
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "history": history,
                            "settings": plain_config(settings)}, tmp)
    return history


@torch.no_grad()
def srcnn_resolve(model: SRCNN, lr_up_u8, *, device: str = "cpu"):
    """SR output (H, W, 3) uint8 of ``model`` for a bicubic-up-scaled image (H, W, 3) uint8."""
    import numpy as np

    if lr_up_u8.ndim != 3 or lr_up_u8.shape[2] != model.params.image_channels:
        raise ValueError(f"lr_up_u8 must be (H, W, {model.params.image_channels}), got {lr_up_u8.shape}")
    model = model.to(device).eval()
    x = torch.from_numpy(np.ascontiguousarray(lr_up_u8)).float().div(127.5).sub(1.0).permute(2, 0, 1)[None].to(device)
    y = model(x).clamp(-1, 1)[0].permute(1, 2, 0).cpu()
    return ((y + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
