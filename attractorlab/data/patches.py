"""Random image patches, preprocessed as in Lin & Tang (2019), footnote 4.

Patches are mean-subtracted, normalised and split into a positive and a negative channel
(Hoyer 2004): ``[max(p, 0); max(-p, 0)]``, so a signed k x k patch becomes 2k² non-negative
inputs. "Normalised" is not defined in the paper; the project's choice (PAPERS.md I.7(5))
is zero mean and unit variance per patch (``normalize="std"``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["sample_patches", "hoyer_split", "hoyer_merge"]

_NORMALIZE = ("std", "l2", None)
_FLAT = 1e-10  # divisor below which a patch counts as flat and is skipped
_BATCH = 8192  # candidate patches cut per round (bounds memory)
_STACK_MAX = 64  # equal-sized images in a list are stacked (vectorised cutting) up to this many


def hoyer_split(p: np.ndarray) -> np.ndarray:
    """``[max(p, 0), max(-p, 0)]`` along the last axis: (..., m) -> (..., 2m), non-negative."""
    p = np.asarray(p, dtype=np.float64)
    return np.concatenate([np.maximum(p, 0.0), np.maximum(-p, 0.0)], axis=-1)


def hoyer_merge(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hoyer_split`: (..., 2m) -> (..., m) as positive minus negative half."""
    x = np.asarray(x, dtype=np.float64)
    m = x.shape[-1] // 2
    if x.shape[-1] != 2 * m:
        raise ValueError(f"last axis must have even length, got {x.shape[-1]}")
    return x[..., :m] - x[..., m:]


def _as_image_list(images) -> list[np.ndarray]:
    if isinstance(images, np.ndarray):
        if images.ndim == 2:
            return [images]
        if images.ndim == 3:
            return list(images)
        raise ValueError(f"images must be (H, W), (N, H, W) or a list of (H, W) arrays, got shape {images.shape}")
    out = list(images)
    for im in out:
        if np.ndim(im) != 2:
            raise ValueError(f"each image must be 2-D (grey), got shape {np.shape(im)}")
    return out


def sample_patches(
    images: np.ndarray | Sequence[np.ndarray],
    k: int,
    n: int,
    seed: int | None = 0,
    *,
    remove_mean: bool = True,
    normalize: str | None = "std",
    split_sign: bool = True,
) -> np.ndarray:
    """Draw ``n`` random ``k x k`` patches, preprocess and flatten them.

    Each patch: pick an image uniformly at random, then a position uniformly among the
    positions where the patch fits; flatten row-major; subtract the patch mean
    (``remove_mean``); divide by its standard deviation (``"std"``: unit variance per
    patch) or its L2 norm (``"l2"``) or not at all (``None``); then, if ``split_sign``,
    return ``[max(p, 0), max(-p, 0)]``. Patches whose divisor is ~0 (flat patches, std or
    norm < 1e-10) are skipped and redrawn rather than divided by zero.

    Parameters
    ----------
    images : ndarray (H, W) or (N, H, W), or list of (H, W) arrays
        Grey images, any real dtype (bool/uint8 are converted to float64 as is, not rescaled).
    k : int
        Patch side in pixels (>= 1 and no larger than the smallest image side).
    n : int
        Number of patches (>= 0).
    seed : int or None
        Seed of ``numpy.random.default_rng``; the same seed gives the same patches.
    remove_mean : bool
        Subtract each patch's mean.
    normalize : {"std", "l2", None}
        Per-patch scaling (see above).
    split_sign : bool
        Split into positive and negative channels (Hoyer 2004).

    Returns
    -------
    ndarray, float64
        (n, 2k²) and non-negative when ``split_sign``, else (n, k²) signed.
        ``out[:, :k²] - out[:, k²:]`` recovers the signed patches.

    Raises
    ------
    ValueError
        Bad ``k``, ``n`` or ``normalize``, images smaller than ``k``, or images so flat
        that no usable patch is found.
    """
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be one of {_NORMALIZE}, got {normalize!r}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (patch side, pixels) must be an integer >= 1, got {k!r}")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n (number of patches) must be an integer >= 0, got {n!r}")
    imgs = [np.asarray(im) for im in _as_image_list(images)]  # views; converted patch by patch
    if not imgs:
        raise ValueError("images must contain at least one image")
    for im in imgs:
        if not (np.issubdtype(im.dtype, np.number) or im.dtype == bool):
            raise ValueError(f"images must be numeric or bool, got dtype {im.dtype}")
    shapes = np.array([im.shape for im in imgs])
    if (shapes < k).any():
        raise ValueError(f"k={k} is larger than an image side; smallest image shape {tuple(shapes.min(axis=0))}")
    k, n = int(k), int(n)
    # one array for a stack of equal-sized images, so patches are cut by fancy indexing
    stack = np.asarray(images) if isinstance(images, np.ndarray) and np.ndim(images) == 3 else None
    if stack is None and len({im.shape for im in imgs}) == 1 and len(imgs) <= _STACK_MAX:
        stack = np.stack(imgs)
    if stack is not None and np.ndim(stack) == 2:
        stack = stack[None]
    rng = np.random.default_rng(seed)
    dim = k * k
    span = np.arange(k)
    out = np.empty((n, 2 * dim if split_sign else dim), dtype=np.float64)
    filled, attempts = 0, 0
    while filled < n:
        batch = min(_BATCH, max(64, 2 * (n - filled)))
        attempts += batch
        which = rng.integers(len(imgs), size=batch)
        u = rng.random((2, batch))
        r = (u[0] * (shapes[which, 0] - k + 1)).astype(np.int64)
        c = (u[1] * (shapes[which, 1] - k + 1)).astype(np.int64)
        if stack is not None:
            p = stack[which[:, None, None], (r[:, None] + span)[:, :, None], (c[:, None] + span)[:, None, :]]
            p = p.reshape(batch, dim).astype(np.float64)
        else:
            p = np.empty((batch, dim))
            for j in range(batch):
                p[j] = imgs[which[j]][r[j]:r[j] + k, c[j]:c[j] + k].ravel()
        if remove_mean:
            p -= p.mean(axis=1, keepdims=True)
        if normalize is not None:
            if normalize == "std" and not remove_mean:
                div = p.std(axis=1)
            else:  # sqrt of the sum of squares (/dim for std of a zero-mean patch)
                div = np.sqrt(np.einsum("ij,ij->i", p, p) / (dim if normalize == "std" else 1))
            keep = div > _FLAT
            p = p[keep] if not keep.all() else p
            p /= div[keep, None]
        take = min(len(p), n - filled)
        if split_sign:  # Hoyer split written straight into the output
            np.maximum(p[:take], 0.0, out=out[filled:filled + take, :dim])
            np.negative(p[:take], out=p[:take])
            np.maximum(p[:take], 0.0, out=out[filled:filled + take, dim:])
        else:
            out[filled:filled + take] = p[:take]
        filled += take
        if filled < n and attempts > 100 * n + 10_000:
            raise ValueError(
                f"images are too flat: only {filled} of {n} patches with non-zero "
                f"{'std' if normalize == 'std' else 'norm'} found in {attempts} draws"
            )
    return out
