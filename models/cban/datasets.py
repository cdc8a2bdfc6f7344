"""Image sets for the CBAN completion and super-resolution experiments, as torch tensors.

All images come out channel first, float32, in the tanh range [-1, 1] (the range of the
CBAN's visible units).

* **Omniglot 28 x 28** (CBAN §4.3, App D.3): the 19,280 images of ``images_background``,
  strokes = +1, background = -1 (PAPERS.md II.7(17)). The 105 x 105 binary images are
  reduced to 28 x 28 by exact **area averaging** (each output pixel is the mean of the
  input area it covers; 105/28 = 3.75 input pixels per output pixel, partial pixels
  weighted by their overlap; equal to nearest up-sampling by 4 to 420 x 420 followed by
  15 x 15 block means), which gives antialiased grey edges. The area-averaged stroke fraction s in [0, 1] maps to 2 s - 1.
  Train/test split: 15,424 / 3,856 from :func:`attractorlab.data.omniglot_split`.
* **CIFAR-10 32 x 32 x 3**: the lossless images of :func:`attractorlab.data.load_cifar10`:
  from the shared copy the first 20,000 training and 1,000 test images; from the official
  python pickles (``<data root>/cifar10/cifar-10-batches-py/``, when present) all 50,000
  training and 10,000 test images; and (kept apart, only on request) the lossy JPEG test
  set; RGB uint8 -> x / 127.5 - 1.
* **SR training patches from T91** (App D.5): HR patches and their bicubic inputs: the
  HR image is cropped to a multiple of ``scale``, down-scaled by MATLAB-style
  antialiased bicubic ``imresize`` (uint8), up-scaled back by bicubic (uint8), and
  aligned ``patch`` x ``patch`` crops are cut from both with ``stride``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "area_resize_matrix",
    "omniglot_images",
    "cifar10_images",
    "SRPatches",
    "sr_training_patches",
    "sr_test_images",
    "to_tanh_range",
    "from_tanh_range",
]


def to_tanh_range(x_uint8):
    """uint8 [0, 255] -> float32 [-1, 1]."""
    import torch

    return torch.as_tensor(np.asarray(x_uint8), dtype=torch.float32) / 127.5 - 1.0


def from_tanh_range(x):
    """[-1, 1] -> [0, 1] (clamped); accepts numpy or torch."""
    if isinstance(x, np.ndarray):
        return np.clip((x + 1.0) / 2.0, 0.0, 1.0)
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


def area_resize_matrix(in_len: int, out_len: int) -> np.ndarray:
    """(out_len, in_len) matrix of exact area averaging (box filter) along one axis.

    Output pixel i covers input interval [i r, (i + 1) r) with r = in_len / out_len;
    its value is the overlap-weighted mean of the input pixels. Rows sum to 1.
    """
    if out_len < 1 or in_len < out_len:
        raise ValueError(f"area averaging shrinks: need 1 <= out_len <= in_len, got {out_len}, {in_len}")
    r = in_len / out_len
    lo = np.arange(out_len)[:, None] * r
    hi = lo + r
    j = np.arange(in_len)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return overlap / r


def omniglot_images(split: str = "train", *, size: int = 28, seed: int = 0,
                    limit: int | None = None):
    """Omniglot background images as a float32 tensor (n, 1, size, size) in [-1, 1].

    Parameters
    ----------
    split : {"train", "test", "all"}
        15,424 / 3,856 split of :func:`attractorlab.data.omniglot_split` (``seed``).
    size : int
        Side after area averaging (28 in the paper).
    seed : int
        Seed of the train/test split.
    limit : int, optional
        Keep only the first ``limit`` images of the split (smoke runs).
    """
    import torch

    from attractorlab import data

    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    ds = data.load_omniglot("background")
    imgs = np.asarray(ds.images)
    if split == "all":
        idx = np.arange(len(imgs))
    else:
        train_idx, test_idx = data.omniglot_split(seed=seed)
        idx = np.asarray(train_idx if split == "train" else test_idx)
    if limit is not None:
        idx = idx[:limit]
    A = torch.from_numpy(area_resize_matrix(imgs.shape[1], size).astype(np.float32))
    out = torch.empty((len(idx), 1, size, size), dtype=torch.float32)
    for start in range(0, len(idx), 2048):
        chunk = torch.from_numpy(imgs[idx[start:start + 2048]].astype(np.float32))
        out[start:start + len(chunk), 0] = A @ chunk @ A.T
    return (out * 2.0 - 1.0).clamp_(-1.0, 1.0)  # float32 rounding of the weights


def cifar10_images(split: str = "train", *, limit: int | None = None):
    """CIFAR-10 images as float32 (n, 3, 32, 32) in [-1, 1].

    Parameters
    ----------
    split : {"train", "test", "test_lossy"}
        ``"train"``: the lossless training images (20,000 from the shared PNG batches, all
        50,000 from the official pickles; see :func:`attractorlab.data.cifar10_source`);
        ``"test"``: the lossless test images (the first 1,000, or all 10,000 from the
        pickles); ``"test_lossy"``: all 10,000 test images from the JPEG (quality 75)
        archive; report results on it apart from the lossless ones.
    limit : int, optional
        Keep the first ``limit`` images.
    """
    from attractorlab import data

    if split not in ("train", "test", "test_lossy"):
        raise ValueError(f"split must be 'train', 'test' or 'test_lossy', got {split!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    images, _labels = data.load_cifar10(split)
    images = np.asarray(images)
    if limit is not None:
        images = images[:limit]
    return to_tanh_range(images).permute(0, 3, 1, 2).contiguous()


class SRPatches(NamedTuple):
    """Aligned SR training patches, uint8, channel first.

    hr : (n, 3, patch, patch) uint8 ground truth
    lr_up : (n, 3, patch, patch) uint8 bicubic-up-scaled low-resolution input
    """

    hr: "object"
    lr_up: "object"


def _patches(img: np.ndarray, patch: int, stride: int) -> np.ndarray:
    h, w = img.shape[:2]
    out = [img[y:y + patch, x:x + patch] for y in range(0, h - patch + 1, stride)
           for x in range(0, w - patch + 1, stride)]
    return np.stack(out) if out else np.zeros((0, patch, patch, img.shape[2]), np.uint8)


def sr_training_patches(*, patch: int = 40, stride: int = 20, scale: int = 2,
                        set_name: str = "T91", limit_images: int | None = None) -> SRPatches:
    """HR / bicubic-LR patch pairs from an SR training set (T91 by default).

    Parameters
    ----------
    patch : int
        Patch side in HR pixels (40 in the paper).
    stride : int
        Step between patches (pixels; not given in the paper).
    scale : int
        Down-scaling factor (2).
    set_name : str
        Name for :func:`attractorlab.data.load_sr_set`.
    limit_images : int, optional
        Use only the first images (smoke runs).
    """
    import torch

    from attractorlab import data
    from attractorlab.models.baselines.bicubic import bicubic_degrade, bicubic_upscale

    if patch < 1 or stride < 1:
        raise ValueError(f"patch and stride must be >= 1, got {patch}, {stride}")
    images = data.load_sr_set(set_name)
    if limit_images is not None:
        images = images[:limit_images]
    hrs, lrs = [], []
    for hr in images:
        hr = np.asarray(hr)
        if hr.ndim == 2:
            hr = np.repeat(hr[..., None], 3, axis=2)
        hr = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
        up = bicubic_upscale(bicubic_degrade(hr, scale), scale)
        hrs.append(_patches(hr, patch, stride))
        lrs.append(_patches(up, patch, stride))
    hr_t = torch.from_numpy(np.concatenate(hrs)).permute(0, 3, 1, 2).contiguous()
    lr_t = torch.from_numpy(np.concatenate(lrs)).permute(0, 3, 1, 2).contiguous()
    return SRPatches(hr_t, lr_t)


def sr_test_images(name: str, *, limit: int | None = None) -> list[np.ndarray]:
    """HR test images (uint8 (H, W, 3); grey images replicated to 3 channels)."""
    from attractorlab import data

    images = data.load_sr_set(name)
    if limit is not None:
        images = images[:limit]
    out = []
    for im in images:
        im = np.asarray(im)
        out.append(np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im)
    return out
