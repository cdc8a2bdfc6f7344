"""Masks that hide parts of an image from a CBAN (evidence = the unhidden pixels).

Every function returns a boolean ``hidden`` tensor (True = masked / unobserved); the
evidence mask of :class:`~.functional.Evidence` is ``~hidden``. All are vectorised over
the batch and take an optional ``torch.Generator`` for reproducibility.

* :func:`perlin_noise`, :func:`perlin_mask` -- thresholded Perlin gradient noise
  (Perlin 1985): coherent blobs, a fixed fraction hidden per image (MNIST: frequency 7,
  one third, App D.2; CIFAR-10: 40 %, D.4).
* :func:`square_mask` -- random squares of side 3-6 until at least a fraction of the
  white pixels is hidden (Omniglot, D.3; PAPERS II.7(3)).
* :func:`bar_images`, :func:`bar_masks` -- the 5x5 bar task (§4.1): masks that leave
  exactly one consistent completion among the 20 images.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["perlin_noise", "perlin_mask", "square_mask", "bar_images", "bar_masks", "consistent_count"]


def _fade(t: Tensor) -> Tensor:
    return t * t * t * (t * (t * 6 - 15) + 10)


def _rand(shape, generator, device, dtype=torch.float32):
    return torch.rand(shape, generator=generator, dtype=dtype).to(device)


def perlin_noise(
    batch: int,
    shape: tuple[int, int],
    frequency: float = 7.0,
    *,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> Tensor:
    """2-D Perlin gradient noise, one independent field per image.

    Parameters
    ----------
    batch : int
        Number of fields.
    shape : (H, W)
        Field size in pixels.
    frequency : float
        Lattice cells across each image side (7 for MNIST, App D.2); > 0.
    generator : torch.Generator, optional
        CPU generator for the random gradients and phase offsets.

    Returns
    -------
    Tensor, shape (batch, H, W), float32, values roughly in [-0.7, 0.7]
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if not frequency > 0:
        raise ValueError(f"frequency must be > 0, got {frequency}")
    h, w = int(shape[0]), int(shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"shape must be positive (H, W), got {shape}")
    n = int(torch.tensor(float(frequency)).ceil().item()) + 2  # lattice points per side (+ phase room)
    ang = _rand((batch, n, n), generator, device) * (2 * torch.pi)
    gx, gy = torch.cos(ang), torch.sin(ang)
    off = _rand((batch, 2), generator, device)  # random phase per image, in cells
    ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h * frequency
    xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w * frequency
    u = ys[None, :, None] + off[:, 0, None, None]  # (B, H, 1)
    v = xs[None, None, :] + off[:, 1, None, None]  # (B, 1, W)
    u = u.expand(batch, h, w)
    v = v.expand(batch, h, w)
    i0, j0 = u.floor().long(), v.floor().long()
    fu, fv = u - i0, v - j0
    bidx = torch.arange(batch, device=device)[:, None, None].expand(batch, h, w)

    def dot(di, dj):
        gi, gj = i0 + di, j0 + dj
        return gx[bidx, gi, gj] * (fu - di) + gy[bidx, gi, gj] * (fv - dj)

    su, sv = _fade(fu), _fade(fv)
    top = dot(0, 0) + sv * (dot(0, 1) - dot(0, 0))
    bot = dot(1, 0) + sv * (dot(1, 1) - dot(1, 0))
    return top + su * (bot - top)


def perlin_mask(
    batch: int,
    shape: tuple[int, int],
    fraction: float = 1 / 3,
    frequency: float = 7.0,
    *,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> Tensor:
    """Thresholded Perlin noise hiding exactly ``round(fraction * H * W)`` pixels per image.

    The threshold is each image's own noise quantile (the highest values are hidden),
    so the hidden fraction is exact.

    Parameters
    ----------
    batch : int
    shape : (H, W)
    fraction : float
        Hidden fraction in [0, 1] (1/3 MNIST, 0.4 CIFAR-10).
    frequency : float
        See :func:`perlin_noise`.

    Returns
    -------
    Tensor of bool, shape (batch, H, W); True = hidden.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    noise = perlin_noise(batch, shape, frequency, generator=generator, device=device).flatten(1)
    k = int(round(fraction * noise.shape[1]))
    hidden = torch.zeros_like(noise, dtype=torch.bool)
    if k > 0:
        idx = noise.topk(k, dim=1).indices
        hidden.scatter_(1, idx, True)
    return hidden.view(batch, *shape)


def square_mask(
    images: Tensor,
    *,
    fraction: float = 0.25,
    min_side: int = 3,
    max_side: int = 6,
    generator: torch.Generator | None = None,
    max_rounds: int = 10_000,
) -> Tensor:
    """Random squares until at least ``fraction`` of each image's white pixels are hidden.

    Squares of uniform side in ``[min_side, max_side]`` are placed uniformly inside the
    image (overlap allowed), one per image per round, vectorised over the batch, until
    ``hidden & white`` covers ``>= fraction`` of the white pixels (D.3; Omniglot uses 3-6
    and 25 %, PAPERS II.7(3)). Images without white pixels get an empty mask.

    Parameters
    ----------
    images : Tensor, shape (B, H, W)
        Bool (True = white / stroke) or float: white means ``images > 0.5`` when all
        values are >= 0 (range [0, 1]), else ``images > 0`` (range [-1, 1]).
    fraction : float
        In [0, 1].
    min_side, max_side : int
        Square sides in pixels, ``1 <= min_side <= max_side <= min(H, W)``.

    Returns
    -------
    Tensor of bool, shape (B, H, W); True = hidden.
    """
    if images.dim() != 3:
        raise ValueError(f"images must have shape (B, H, W), got {tuple(images.shape)}")
    b, h, w = images.shape
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if not (1 <= min_side <= max_side <= min(h, w)):
        raise ValueError(f"need 1 <= min_side <= max_side <= min(H, W)={min(h, w)}, got {min_side}, {max_side}")
    if images.dtype == torch.bool:
        white = images
    else:
        thr = 0.5 if float(images.min()) >= 0 else 0.0
        white = images > thr
    dev = images.device
    n_white = white.flatten(1).sum(1).float()
    need = fraction * n_white
    hidden = torch.zeros((b, h, w), dtype=torch.bool, device=dev)
    rows = torch.arange(h, device=dev)[None, :, None]
    cols = torch.arange(w, device=dev)[None, None, :]
    covered = torch.zeros(b, device=dev)
    active = (covered < need) & (n_white > 0)
    for _ in range(max_rounds):
        if not bool(active.any()):
            break
        side = torch.randint(min_side, max_side + 1, (b,), generator=generator).to(dev)
        y0 = (_rand((b,), generator, dev) * (h - side + 1).float()).floor().long()
        x0 = (_rand((b,), generator, dev) * (w - side + 1).float()).floor().long()
        sq = (
            (rows >= y0[:, None, None]) & (rows < (y0 + side)[:, None, None])
            & (cols >= x0[:, None, None]) & (cols < (x0 + side)[:, None, None])
        )
        hidden = hidden | (sq & active[:, None, None])
        covered = (hidden & white).flatten(1).sum(1).float()
        active = (covered < need) & (n_white > 0)
    return hidden


def bar_images(size: int = 5) -> Tensor:
    """All images of two horizontal or two vertical bars (§4.1), values in {-1, +1}.

    Returns
    -------
    Tensor, shape (size*(size-1), size, size), float32
        First the ``C(size, 2)`` horizontal pairs (rows ``i < j``), then the vertical ones;
        20 images for ``size = 5``.
    """
    if size < 2:
        raise ValueError(f"size must be >= 2, got {size}")
    out = []
    for i in range(size):
        for j in range(i + 1, size):
            img = -torch.ones(size, size)
            img[[i, j], :] = 1.0
            out.append(img)
    out = out + [img.T.clone() for img in out]
    return torch.stack(out)


def consistent_count(images: Tensor, hidden: Tensor, candidates: Tensor) -> Tensor:
    """How many ``candidates`` agree with ``images`` on every unhidden pixel.

    Parameters
    ----------
    images : Tensor, shape (B, H, W)
    hidden : Tensor of bool, shape (B, H, W)
    candidates : Tensor, shape (K, H, W)

    Returns
    -------
    Tensor of int64, shape (B,)
    """
    obs = (~hidden).flatten(1).float()  # (B, P)
    x = images.flatten(1).float()
    c = candidates.flatten(1).float()
    diff = (x[:, None, :] != c[None, :, :]).float()  # (B, K, P)
    mism = (diff * obs[:, None, :]).sum(-1)
    return (mism == 0).sum(1)


def bar_masks(
    targets: Tensor,
    *,
    p_observe: tuple[float, float] = (0.1, 0.5),
    generator: torch.Generator | None = None,
    max_rounds: int = 10_000,
) -> Tensor:
    """Masks for bar images leaving exactly one consistent completion (§4.1, D.1).

    Each pixel is observed with probability ``p`` (``p`` uniform in ``p_observe`` per
    draw); draws are repeated (vectorised) until exactly one of the 20 bar images agrees
    with the observed pixels. The paper does not state the observed fraction; this
    range is our choice.

    Parameters
    ----------
    targets : Tensor, shape (B, 5, 5)
        Bar images in {-1, +1} (from :func:`bar_images`).
    p_observe : (low, high)
        Range of the per-draw observation probability, ``0 < low <= high <= 1``.

    Returns
    -------
    Tensor of bool, shape (B, 5, 5); True = hidden.
    """
    lo, hi = p_observe
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"p_observe must satisfy 0 < low <= high <= 1, got {p_observe}")
    b, h, w = targets.shape
    cands = bar_images(h).to(targets.device)
    hidden = torch.ones((b, h, w), dtype=torch.bool, device=targets.device)
    todo = torch.ones(b, dtype=torch.bool, device=targets.device)
    for _ in range(max_rounds):
        idx = todo.nonzero().flatten()
        if idx.numel() == 0:
            break
        n = idx.numel()
        p = lo + (hi - lo) * _rand((n, 1, 1), generator, targets.device)
        hid = _rand((n, h, w), generator, targets.device) >= p
        ok = consistent_count(targets[idx], hid, cands) == 1
        hidden[idx[ok]] = hid[ok]
        todo[idx[ok]] = False
    if bool(todo.any()):
        raise RuntimeError(f"bar_masks: no unique-completion mask found within max_rounds={max_rounds}")
    return hidden
