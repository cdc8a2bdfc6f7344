"""Metrics shared by the experiments.

* Image metrics (PAPERS.md Part III): :func:`psnr`, :func:`ssim` (Wang et al. 2004:
  11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, valid filtering, mean of the map),
  :func:`rgb_to_y` (ITU-R BT.601 luma in [16, 235]), :func:`shave`, :func:`l1_error`,
  :func:`mean_sem` and the super-resolution protocol :func:`sr_scores`.

The image metrics accept numpy arrays or torch tensors; they compute in float64 and
return the type they were given (numpy -> numpy / float, torch -> torch on the input's
device). Images are ``(H, W)`` or ``(H, W, C)`` (channel last); ``batched=True`` adds a
leading image axis and returns one value per image.

The dictionary-learning test objective of Lin & Tang (2019) needs a LASSO solve for every
test signal, so it lives with the solver:
:func:`attractorlab.models.lasso.surrogate_objective` (analysis imports no model).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "psnr",
    "ssim",
    "rgb_to_y",
    "shave",
    "l1_error",
    "mean_sem",
    "sr_scores",
]


# --------------------------------------------------------------------------- image metrics


def _as_torch(x, name: str):
    """(float64 tensor, was_numpy) for a numpy array or torch tensor."""
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64), False
    arr = np.asarray(x)
    if arr.dtype == object:
        raise ValueError(f"{name} must be a numeric array or tensor, got dtype object")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64)), True


def _out(t, was_numpy: bool):
    if not was_numpy:
        return t
    arr = t.cpu().numpy()
    return float(arr) if arr.ndim == 0 else arr


def _check_pair(pred, target, data_range) -> None:
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    if data_range is not None and not (float(data_range) > 0):
        raise ValueError(f"data_range must be > 0, got {data_range}")


def _image_ndim(t, batched: bool, name: str) -> int:
    nd = t.ndim - (1 if batched else 0)
    if nd not in (2, 3):
        raise ValueError(
            f"{name} must be an image (H, W) or (H, W, C){' with a leading batch axis' if batched else ''}, "
            f"got shape {tuple(t.shape)}"
        )
    return nd


def psnr(pred, target, *, data_range: float, batched: bool = False):
    """Peak signal-to-noise ratio, 10 log10(MAX^2 / MSE), in dB, per image.

    Parameters
    ----------
    pred, target : array or tensor, (H, W[, C]) or (N, H, W[, C]) with ``batched``
        Images in the same units.
    data_range : float
        MAX, the range of the data (1.0 for [0, 1], 255 for 8-bit, 2.0 for [-1, 1]).
    batched : bool
        Leading axis indexes images; one PSNR per image is returned (average them
        afterwards: PAPERS.md Part III computes PSNR per image, then the mean).

    Returns
    -------
    float or (N,) array / tensor
        PSNR in dB (``inf`` for identical images).
    """
    p, was_np = _as_torch(pred, "pred")
    t, _ = _as_torch(target, "target")
    _check_pair(p, t, data_range)
    _image_ndim(p, batched, "pred")
    err = (p - t) ** 2
    mse = err.flatten(1).mean(1) if batched else err.mean()
    val = 10.0 * (float(data_range) ** 2 / mse).log10()
    return _out(val, was_np)


def _gaussian_window(size: int, sigma: float):
    import torch

    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(x ** 2) / (2.0 * sigma ** 2))
    return g / g.sum()


def ssim(pred, target, *, data_range: float, batched: bool = False, win_size: int = 11,
         sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03, return_map: bool = False):
    """Structural similarity of Wang et al. (2004), per image.

    Gaussian window ``win_size`` x ``win_size`` with s.d. ``sigma`` (normalised to sum 1),
    local statistics with population (biased) variances, ``valid`` filtering (no
    padding), the mean of the SSIM map. Colour images ``(H, W, C)`` give the mean over
    channels of the per-channel SSIM. Matches ``skimage.metrics.structural_similarity(
    ..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=...)``.

    Parameters
    ----------
    pred, target : array or tensor, (H, W[, C]) or (N, H, W[, C]) with ``batched``
    data_range : float
        L in C1 = (K1 L)^2, C2 = (K2 L)^2 (255 for the SR protocol, 1.0 for [0, 1]).
    win_size, sigma, k1, k2 : window side (odd, pixels), window s.d. (pixels), constants.
    return_map : bool
        Also return the SSIM map(s), shape (N, C, H - win + 1, W - win + 1).

    Returns
    -------
    float or (N,) array / tensor (and the map when ``return_map``)
    """
    import torch
    import torch.nn.functional as F

    if win_size < 1 or win_size % 2 == 0:
        raise ValueError(f"win_size must be a positive odd integer, got {win_size}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    p, was_np = _as_torch(pred, "pred")
    t, _ = _as_torch(target, "target")
    _check_pair(p, t, data_range)
    nd = _image_ndim(p, batched, "pred")
    if not batched:
        p, t = p[None], t[None]
    if nd == 2:
        p, t = p[..., None], t[..., None]
    h, w = p.shape[1:3]
    if h < win_size or w < win_size:
        raise ValueError(f"images must be at least win_size={win_size} pixels on each side, got {h}x{w}")
    n, c = p.shape[0], p.shape[3]
    x = p.permute(0, 3, 1, 2).reshape(n * c, 1, h, w)
    y = t.permute(0, 3, 1, 2).reshape(n * c, 1, h, w)
    g = _gaussian_window(win_size, sigma).to(x.device)
    gy, gx = g.view(1, 1, -1, 1), g.view(1, 1, 1, -1)

    def filt(z):
        return F.conv2d(F.conv2d(z, gy), gx)

    mx, my = filt(x), filt(y)
    sxx = filt(x * x) - mx * mx
    syy = filt(y * y) - my * my
    sxy = filt(x * y) - mx * my
    c1 = (k1 * float(data_range)) ** 2
    c2 = (k2 * float(data_range)) ** 2
    smap = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    smap = smap.reshape(n, c, *smap.shape[-2:])
    val = smap.mean(dim=(1, 2, 3))
    if not batched:
        val = val[0]
    if return_map:
        return _out(val, was_np), _out(smap, was_np)
    return _out(val, was_np)


def rgb_to_y(rgb, *, data_range: float | None = None):
    """ITU-R BT.601 luma: Y = 16 + 65.481 R + 128.553 G + 24.966 B for RGB in [0, 1].

    Parameters
    ----------
    rgb : array or tensor, (..., 3), channel last
    data_range : float, optional
        Range of ``rgb`` (255 for uint8, 1.0 for floats in [0, 1]). Default: 255 for
        integer arrays, 1.0 otherwise.

    Returns
    -------
    array or tensor, (...)
        Y in [16, 235] (float64; not rounded).
    """
    if data_range is None:
        if not isinstance(rgb, np.ndarray) and hasattr(rgb, "is_floating_point"):
            is_int = not rgb.is_floating_point()
        else:
            is_int = np.issubdtype(np.asarray(rgb).dtype, np.integer)
        data_range = 255.0 if is_int else 1.0
    x, was_np = _as_torch(rgb, "rgb")
    if x.shape[-1] != 3:
        raise ValueError(f"rgb must have 3 channels in its last axis, got shape {tuple(x.shape)}")
    if not float(data_range) > 0:
        raise ValueError(f"data_range must be > 0, got {data_range}")
    x = x / float(data_range)
    y = 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]
    return _out(y, was_np)


def shave(img, border: int, *, axes: tuple[int, int] = (0, 1)):
    """Crop ``border`` pixels from each side of the two spatial ``axes``.

    ``axes`` defaults to (0, 1) for ``(H, W[, C])`` images; use (1, 2) for a batch
    ``(N, H, W[, C])`` or (-2, -1) for ``(..., H, W)``.
    """
    if int(border) != border or border < 0:
        raise ValueError(f"border must be a non-negative integer, got {border}")
    border = int(border)
    if border == 0:
        return img
    idx = [slice(None)] * img.ndim
    for ax in axes:
        if img.shape[ax] <= 2 * border:
            raise ValueError(f"border={border} leaves nothing of axis {ax} of size {img.shape[ax]}")
        idx[ax] = slice(border, img.shape[ax] - border)
    return img[tuple(idx)]


def l1_error(pred, target, *, reduction: str = "sum", batched: bool = False):
    """L1 reconstruction error per image (PAPERS.md Part III suggestion).

    Parameters
    ----------
    pred, target : array or tensor, images in [0, 1] (map [-1, 1] with (x + 1) / 2 first)
    reduction : {"sum", "mean"}
        ``"sum"``: sum over pixels (and channels) of ``|error|`` (the L1 column of CBAN
        Tables 2-3); ``"mean"``: the per-pixel mean.
    batched : bool
        Leading axis indexes images; returns one value per image.
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    p, was_np = _as_torch(pred, "pred")
    t, _ = _as_torch(target, "target")
    _check_pair(p, t, None)
    e = (p - t).abs()
    if batched:
        e = e.flatten(1)
        val = e.sum(1) if reduction == "sum" else e.mean(1)
    else:
        val = e.sum() if reduction == "sum" else e.mean()
    return _out(val, was_np)


def mean_sem(values, axis: int = 0):
    """Mean and standard error of the mean (s.d. with ddof=1 over sqrt(n)) along ``axis``.

    Non-finite values (e.g. PSNR = inf for a perfect image) are an error: decide how to
    treat them before averaging.

    Returns
    -------
    (mean, sem) : floats (or arrays for multi-dimensional input); sem is nan for n = 1.
    """
    import torch

    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("values must not be empty")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite (got inf or nan); handle perfect reconstructions first")
    n = v.shape[axis]
    mean = v.mean(axis=axis)
    sem = v.std(axis=axis, ddof=1) / math.sqrt(n) if n > 1 else np.full_like(mean, np.nan)
    if np.ndim(mean) == 0:
        return float(mean), float(sem)
    return mean, sem


def sr_scores(sr, hr, *, scale: int, data_range: float | None = None) -> tuple[float, float]:
    """Super-resolution PSNR and SSIM by the standard protocol (PAPERS.md Part III).

    BT.601 Y channel of both RGB images (greyscale ``(H, W)`` images are used as
    they are, scaled to [0, 255]), ``scale`` pixels shaved from each border, PSNR
    with MAX = 255 and SSIM (11x11 Gaussian, sigma 1.5, L = 255, valid, mean of map).

    Parameters
    ----------
    sr, hr : array or tensor, (H, W, 3) RGB or (H, W) grey, same shape
        Reconstruction and ground truth (uint8, or floats with ``data_range``).
    scale : int
        Up-scaling factor; also the border shaved.
    data_range : float, optional
        Range of the inputs (default 255 for integers, 1.0 for floats).

    Returns
    -------
    (psnr_db, ssim) : floats
    """
    if tuple(sr.shape) != tuple(hr.shape):
        raise ValueError(f"sr and hr must have the same shape, got {tuple(sr.shape)} and {tuple(hr.shape)}")
    if sr.ndim == 3 and sr.shape[-1] == 3:
        ys, yh = rgb_to_y(sr, data_range=data_range), rgb_to_y(hr, data_range=data_range)
    elif sr.ndim == 2:
        # grey image: R = G = B, so Y = 16 + 219 * v
        y1 = rgb_to_y(np.stack([np.asarray(sr)] * 3, -1), data_range=data_range)
        y2 = rgb_to_y(np.stack([np.asarray(hr)] * 3, -1), data_range=data_range)
        ys, yh = y1, y2
    else:
        raise ValueError(f"sr must be (H, W, 3) or (H, W), got shape {tuple(sr.shape)}")
    ys, yh = shave(ys, scale), shave(yh, scale)
    return float(psnr(ys, yh, data_range=255.0)), float(ssim(ys, yh, data_range=255.0))
