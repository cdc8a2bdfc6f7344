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

import numpy as np
import torch

from .functional import CBANParams, replicated_evidence
from .module import CBAN, build_cban
from .train import Batch

__all__ = [
    "build_sr_cban",
    "sr_batch",
    "super_resolve",
    "center_crop",
]


def build_sr_cban(*, channels=(300, 300, 300), kernel_size: int = 5, init_std: float = 1e-3,
                  theta: float = 0.01, max_iter: int = 100, symmetric: bool = True, seed: int | None = 0) -> CBAN:
    """The SR CBAN of App D.5: visible (6, H, W), hidden ``channels``, no pooling."""
    params = CBANParams(activation="tanh", theta=theta, max_iter=max_iter)
    # visible spatial size is irrelevant for the couplings (convolutions, no pooling)
    return build_cban(visible_shape=(6, 40, 40), channels=tuple(channels), kernel_size=kernel_size, pool=False,
                      params=params, symmetric=symmetric, init_std=init_std, seed=seed)


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
