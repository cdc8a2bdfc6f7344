"""Supervised MNIST with an FBAN ([CB] §4.2, App D.2).

The visible layer has 812 units: the 784 pixels followed by 28 label units; the first
20 code the class in pairs (class ``c`` -> units ``2c, 2c+1`` at +0.999, the others at
-0.999) and the last 8 are unused (target -0.999). Pixels are scaled to
``[-0.999, 0.999]``. During training the label units are always unobserved and a
thresholded Perlin mask (frequency 7) hides one third of the pixels, redrawn per
example and epoch. Classification = the argmax over classes of the pair-averaged label
units of the settled visible state (PAPERS II.7(16)).

Net: 812 -> 200 -> 50, tanh, L_ΔE+ with TD(1), SGD-Linf lr 0.01, batch 250, θ 0.01.

Pixel coding (``pixel_range``): ``"symmetric"`` (default, D.2 read literally) maps
ink/background to +0.999/-0.999; ``"unit"`` (a documented deviation) maps them to
0.999/0, labels unchanged. With symmetric coding the ~80 % background pixels, clamped
at -0.999, feed a large common input into the tied 812x200 coupling; under SGD-Linf
(lr 0.01) most of hidden layer 1 saturates and label accuracy stalls. Unit coding
(background silent) keeps layer 1 graded; the accuracies of both codings, each with the
command that measured it, are in ``references/README.md``.

Loss units (``loss_units``): ΔE+ sums over every visible unit, clamped ones included
through their unclamped value ṽ (§3.2, default). With full images that is mostly the
reconstruction of 784 clamped pixels, and label accuracy levels off near 95 %;
``"unobserved"`` (a deviation) sums only over the units the evidence hides, which with
full images is a pure label loss (with Adam: 97.4 %, see ``references/README.md``).

Augmentation (``max_shift`` and ``max_rotation``, deviations; none in D.2): training
images moved by random integer offsets of up to ``max_shift`` pixels and rotated by
random angles of up to ``max_rotation`` degrees, redrawn per example and epoch. The
label-only model fits its training images far better than its test images; the shifts
close most of that gap (numbers and commands in ``references/README.md``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from .functional import CBANParams, Evidence
from .masks import perlin_mask
from .module import CBAN, build_fban
from .train import OPTIMIZERS, TRAIN_TD, Batch, TrainConfig, train

__all__ = [
    "N_PIXELS",
    "N_LABEL_UNITS",
    "MNISTConfig",
    "encode_mnist",
    "decode_labels",
    "mnist_evidence",
    "mnist_batches",
    "shift_images",
    "rotate_images",
    "classify",
    "evaluate_mnist",
    "train_mnist",
    "load_mnist_model",
    "checkpoint_accuracy",
]

N_PIXELS = 784
N_LABEL_UNITS = 28
TARGET_SCALE = 0.999  # targets in [-0.999, 0.999] (D.2)
MASK_MODES = ("perlin", "none")
PIXEL_RANGES = ("symmetric", "unit")
LOSS_UNITS = ("all", "unobserved")


@dataclasses.dataclass(frozen=True)
class MNISTConfig:
    """Settings of the supervised MNIST run (defaults: App D.2).

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer sizes (200, 50).
    mask : {"perlin", "none"}
        Training pixel masks: Perlin (one third hidden) or none ("full image, labels
        unobserved" set-up, 98.5 % in §4.2).
    fraction, frequency : float
        Perlin hidden fraction (1/3) and lattice frequency (7).
    n_train : int or None
        Training images used (None = all 60,000).
    batch_size : int
        250.
    epochs : int
    lr : float
        0.01 (SGD-Linf).
    max_iter, theta : int, float
        Settling cap (100) and threshold (0.01).
    max_minutes : float or None
        Stop training after the epoch in which this wall time is exceeded.
    seed : int
    pixel_range : {"symmetric", "unit"}
        Pixel coding of :func:`encode_mnist`: background -0.999 (paper, default) or 0
        (deviation that avoids hidden-layer saturation; see the module docstring).
    lr_milestones : tuple of int
        Epochs at whose start lr is divided by 10. ``()`` = constant lr 0.01 as D.2 states
        (default); e.g. ``(10,)`` is a deviation borrowed from D.1's 0.01 -> 0.001 drop.
    optimizer : str
        ``"sgd_linf"`` (D.2, default) or another :class:`.train.TrainConfig` optimiser
        (e.g. ``"adam"``, the optimiser of the paper's convolutional runs).
    loss_units : {"all", "unobserved"}
        Visible units the ΔE+ loss is summed over: every unit, clamped ones included
        through their unclamped value ṽ (§3.2, default), or only the units the evidence
        hides (labels and masked pixels; a deviation). With full images the latter is a
        pure label loss, so hidden layer 1 is not also asked to reconstruct 784 clamped
        pixels from 200 units.
    weight_decay : float
        L2 weight decay of the optimiser (0, as in D.2; see :class:`.train.TrainConfig`).
    max_shift : int
        Training augmentation (a deviation; 0 = none, as in D.2): each training image is
        translated by an integer offset drawn uniformly from ``[-max_shift, max_shift]``
        in each direction, redrawn per example and epoch, the uncovered border filled with
        background (:func:`shift_images`). Test images are never shifted.
    max_rotation : float
        Training augmentation (a deviation; 0 = none, as in D.2): each training image is
        rotated about its centre by an angle drawn uniformly from
        ``[-max_rotation, max_rotation]`` degrees (bilinear, background outside the
        frame; :func:`rotate_images`), before the shift. Test images are never rotated.
    td : str
        Credit assignment over the settling trajectory: ``"td1"`` (D.2, default: the loss
        averaged over every iteration's state) or another :class:`.train.TrainConfig` mode,
        e.g. ``"final"`` (the loss of the settled state only, back-propagated through all
        iterations; a deviation).
    """

    hidden: tuple = (200, 50)
    mask: str = "perlin"
    fraction: float = 1 / 3
    frequency: float = 7.0
    n_train: int | None = None
    batch_size: int = 250
    epochs: int = 10
    lr: float = 0.01
    optimizer: str = "sgd_linf"
    max_iter: int = 100
    theta: float = 0.01
    max_minutes: float | None = None
    seed: int = 0
    pixel_range: str = "symmetric"
    lr_milestones: tuple = ()
    loss_units: str = "all"
    weight_decay: float = 0.0
    max_shift: int = 0
    max_rotation: float = 0.0
    td: str = "td1"

    def __post_init__(self):
        for name in ("batch_size", "epochs", "max_iter", "seed"):
            value = getattr(self, name)
            if not _is_int(value) or value < (0 if name == "seed" else 1):
                raise ValueError(f"{name} must be an integer >= {0 if name == 'seed' else 1}, got {value!r}")
        if self.n_train is not None and not (_is_int(self.n_train) and 1 <= self.n_train <= 60_000):
            raise ValueError(f"n_train must be an integer in [1, 60000] or None, got {self.n_train!r}")
        if self.batch_size > (60_000 if self.n_train is None else self.n_train):
            raise ValueError(f"batch_size must be <= n_train (else an epoch holds no batch), got batch_size "
                             f"{self.batch_size} with n_train {self.n_train}")
        for name in ("lr", "theta", "frequency"):
            value = getattr(self, name)
            if not (_is_number(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if self.max_minutes is not None and not (_is_number(self.max_minutes) and self.max_minutes >= 0):
            raise ValueError(f"max_minutes must be a finite number >= 0 or None, got {self.max_minutes!r}")
        for name in ("fraction", "weight_decay"):
            if not _is_number(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        if (not isinstance(self.hidden, (tuple, list)) or len(self.hidden) < 1
                or not all(_is_int(h) and h >= 1 for h in self.hidden)):
            raise ValueError(f"hidden must list >= 1 positive integer sizes, got {self.hidden!r}")
        if not isinstance(self.lr_milestones, (tuple, list)) or not all(_is_int(m) for m in self.lr_milestones):
            raise ValueError(f"lr_milestones must be a list of integer epochs, got {self.lr_milestones!r}")
        if self.pixel_range not in PIXEL_RANGES:
            raise ValueError(f"pixel_range must be one of {PIXEL_RANGES}, got {self.pixel_range!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.td not in TRAIN_TD:
            raise ValueError(f"td must be one of {TRAIN_TD}, got {self.td!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.loss_units not in LOSS_UNITS:
            raise ValueError(f"loss_units must be one of {LOSS_UNITS}, got {self.loss_units!r}")
        if not (isinstance(self.max_shift, (int, np.integer)) and 0 <= self.max_shift < 14):
            raise ValueError(f"max_shift must be an integer in [0, 13] pixels, got {self.max_shift!r}")
        if not (isinstance(self.max_rotation, (int, float, np.integer, np.floating))
                and 0 <= self.max_rotation <= 180):
            raise ValueError(f"max_rotation must be a number of degrees in [0, 180], got {self.max_rotation!r}")
        if self.mask not in MASK_MODES:
            raise ValueError(f"mask must be one of {MASK_MODES}, got {self.mask!r}")
        if not 0 <= self.fraction <= 1:
            raise ValueError(f"fraction must be in [0, 1], got {self.fraction}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.n_train is not None and self.n_train < 1:
            raise ValueError(f"n_train must be >= 1 or None, got {self.n_train}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if len(self.hidden) < 1 or min(self.hidden) < 1:
            raise ValueError(f"hidden must list >= 1 positive sizes, got {self.hidden}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if any(int(m) < 0 for m in self.lr_milestones):
            raise ValueError(f"lr_milestones must be epochs >= 0, got {self.lr_milestones}")
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))
        self.params()  # CBANParams and TrainConfig name any other bad value
        self.train_config()

    def params(self) -> CBANParams:
        """Dynamics settings of the MNIST FBAN (tanh, ``theta``, ``max_iter``)."""
        return CBANParams(activation="tanh", theta=self.theta, max_iter=self.max_iter)

    def train_config(self, progress: bool = False) -> TrainConfig:
        """The :class:`~attractorlab.models.cban.train.TrainConfig` of this run (ΔE+, checkpoint every epoch)."""
        return TrainConfig(loss="delta_e_plus", td=self.td, optimizer=self.optimizer, lr=self.lr,
                           epochs=self.epochs, progress=progress, seed=self.seed, checkpoint_every=1,
                           lr_milestones=self.lr_milestones, weight_decay=self.weight_decay)


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


#: MNISTConfig fields that say how a run executes, not what it learns (left out of the
#: checkpoint's run settings: a resumed run may change them).
RUNTIME_FIELDS = ("max_minutes",)


def encode_mnist(images: np.ndarray | Tensor, labels: np.ndarray | Tensor, *,
                 pixel_range: str = "symmetric") -> Tensor:
    """Visible targets (n, 812): pixels and pair-coded labels (±0.999).

    Parameters
    ----------
    images : array, shape (n, 28, 28), uint8 in [0, 255]
    labels : array, shape (n,), int in 0..9
    pixel_range : {"symmetric", "unit"}
        Pixels in [-0.999, 0.999] (paper D.2) or in [0, 0.999] (background 0).
    """
    if pixel_range not in PIXEL_RANGES:
        raise ValueError(f"pixel_range must be one of {PIXEL_RANGES}, got {pixel_range!r}")
    img = torch.as_tensor(np.asarray(images), dtype=torch.float32).reshape(len(images), -1)
    if img.shape[1] != N_PIXELS:
        raise ValueError(f"images must be (n, 28, 28), got {tuple(np.shape(images))}")
    lab = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if lab.numel() and (lab.min() < 0 or lab.max() > 9):
        raise ValueError("labels must be in 0..9")
    pix = (img / 255.0 * 2 - 1) * TARGET_SCALE if pixel_range == "symmetric" else img / 255.0 * TARGET_SCALE
    code = -torch.ones(len(lab), N_LABEL_UNITS)
    idx = torch.arange(len(lab))
    code[idx, 2 * lab] = 1.0
    code[idx, 2 * lab + 1] = 1.0
    return torch.cat([pix, code * TARGET_SCALE], 1)


def decode_labels(visible: Tensor) -> Tensor:
    """Class = argmax of the pair-averaged first 20 label units; (n, 812) -> (n,) int64."""
    lab = visible[:, N_PIXELS: N_PIXELS + 20].reshape(-1, 10, 2).mean(-1)
    return lab.argmax(1)


def shift_images(targets: Tensor, max_shift: int, *, background: float,
                 generator: torch.Generator | None = None) -> Tensor:
    """Translate the pixel part of visible targets by random integer offsets.

    Each row's 28x28 image moves by ``(dy, dx)``, both drawn uniformly from
    ``[-max_shift, max_shift]``; pixels shifted in from outside the frame take the value
    ``background`` and the label units are left unchanged.

    Parameters
    ----------
    targets : Tensor, shape (n, 812)
    max_shift : int
        Largest offset in pixels (0 returns ``targets`` itself).
    background : float
        Coded value of an empty pixel (0 for unit coding, -0.999 for symmetric coding).
    """
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    if max_shift == 0:
        return targets
    n, s = targets.shape[0], int(max_shift)
    img = targets[:, :N_PIXELS].reshape(n, 28, 28)
    padded = torch.nn.functional.pad(img, (s, s, s, s), value=background)
    dy, dx = torch.randint(-s, s + 1, (2, n, 1), generator=generator).to(targets.device)
    grid = torch.arange(28, device=targets.device)
    rows = (grid + s - dy)[:, :, None]  # output pixel (r, c) reads input (r - dy, c - dx)
    cols = (grid + s - dx)[:, None, :]
    moved = padded[torch.arange(n, device=targets.device)[:, None, None], rows, cols]
    return torch.cat([moved.reshape(n, N_PIXELS), targets[:, N_PIXELS:]], 1)


def rotate_images(targets: Tensor, max_degrees: float, *, background: float,
                  generator: torch.Generator | None = None) -> Tensor:
    """Rotate the pixel part of visible targets about the image centre by random angles.

    Each row's 28x28 image turns by an angle drawn uniformly from
    ``[-max_degrees, max_degrees]`` (bilinear interpolation); points that come from
    outside the frame take the value ``background``, and the label units are unchanged.

    Parameters
    ----------
    targets : Tensor, shape (n, 812)
    max_degrees : float
        Largest angle in degrees (0 returns ``targets`` itself).
    background : float
        Coded value of an empty pixel (0 for unit coding, -0.999 for symmetric coding).
    """
    if not 0 <= max_degrees <= 180:
        raise ValueError(f"max_degrees must be in [0, 180], got {max_degrees}")
    if max_degrees == 0:
        return targets
    n = targets.shape[0]
    angle = (2 * torch.rand(n, generator=generator) - 1) * (max_degrees * np.pi / 180)
    cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros(n)
    # affine_grid maps output coordinates (in [-1, 1]) to the input point they sample
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    theta = theta.to(device=targets.device, dtype=targets.dtype)
    img = targets[:, :N_PIXELS].reshape(n, 1, 28, 28) - background  # zero padding = background
    grid = torch.nn.functional.affine_grid(theta, [n, 1, 28, 28], align_corners=False)
    turned = torch.nn.functional.grid_sample(img, grid, mode="bilinear", padding_mode="zeros",
                                             align_corners=False) + background
    return torch.cat([turned.reshape(n, N_PIXELS), targets[:, N_PIXELS:]], 1)


def mnist_evidence(targets: Tensor, mask: str, *, fraction: float = 1 / 3, frequency: float = 7.0,
                   generator: torch.Generator | None = None) -> Evidence:
    """Evidence for a batch of targets: label units always unobserved, pixels hidden by
    a Perlin mask (``mask="perlin"``) or all observed (``"none"``)."""
    n = targets.shape[0]
    if mask == "perlin":
        hidden = perlin_mask(n, (28, 28), fraction, frequency, generator=generator, device=targets.device)
        obs_pix = ~hidden.flatten(1)
    elif mask == "none":
        obs_pix = torch.ones(n, N_PIXELS, dtype=torch.bool, device=targets.device)
    else:
        raise ValueError(f"mask must be one of {MASK_MODES}, got {mask!r}")
    obs = torch.cat([obs_pix, torch.zeros(n, N_LABEL_UNITS, dtype=torch.bool, device=targets.device)], 1)
    return Evidence(targets, obs)


def mnist_batches(targets: Tensor, cfg: MNISTConfig):
    """``batches(epoch, generator)`` for :func:`.train.train`: shuffled, fresh masks (and
    rotations and shifts, when ``cfg.max_rotation`` or ``cfg.max_shift`` > 0) each epoch."""
    background = -TARGET_SCALE if cfg.pixel_range == "symmetric" else 0.0

    def batches(epoch: int, gen: torch.Generator) -> Iterator[Batch]:
        perm = torch.randperm(len(targets), generator=gen)
        for i in range(0, len(targets) - cfg.batch_size + 1, cfg.batch_size):
            y = rotate_images(targets[perm[i: i + cfg.batch_size]], cfg.max_rotation, background=background,
                              generator=gen)
            y = shift_images(y, cfg.max_shift, background=background, generator=gen)
            ev = mnist_evidence(y, cfg.mask, fraction=cfg.fraction, frequency=cfg.frequency, generator=gen)
            weight = (~ev.mask).to(y.dtype) if cfg.loss_units == "unobserved" else None
            yield Batch(ev, y, weight)

    return batches


@torch.no_grad()
def classify(model: CBAN, targets: Tensor, mask: str, *, batch_size: int = 1000, seed: int = 0) -> dict:
    """Settle on test evidence; returns predictions, settled visible states, dreams, iterations.

    Returns
    -------
    dict with ``pred`` (n,), ``visible`` (n, 812), ``dream`` (n, 812), ``iters`` (n,),
    ``hidden`` (n, 812) bool (unobserved units)
    """
    gen = torch.Generator().manual_seed(seed)
    preds, vis, dream, iters, hidden = [], [], [], [], []
    for i in range(0, len(targets), batch_size):
        y = targets[i: i + batch_size]
        ev = mnist_evidence(y, mask, generator=gen)
        r = model.settle(ev)
        preds.append(decode_labels(r.state.x[0]))
        vis.append(r.state.x[0])
        dream.append(r.state.v_free)
        iters.append(r.iters_per_sample)
        hidden.append(~ev.mask)
    return {"pred": torch.cat(preds), "visible": torch.cat(vis), "dream": torch.cat(dream),
            "iters": torch.cat(iters), "hidden": torch.cat(hidden)}


def evaluate_mnist(model: CBAN, images: np.ndarray, labels: np.ndarray, *, seed: int = 0,
                   pixel_range: str = "symmetric", modes: tuple[str, ...] = MASK_MODES) -> dict:
    """Accuracy (``acc_<mode>``) and mean settling iterations (``iters_<mode>``) for each
    evidence mode in ``modes``: Perlin-masked and clean images, labels unobserved in both.

    ``pixel_range`` must match the coding the model was trained with.
    """
    bad = [m for m in modes if m not in MASK_MODES]
    if bad:
        raise ValueError(f"modes must be drawn from {MASK_MODES}, got {bad}")
    y = encode_mnist(images, labels, pixel_range=pixel_range)
    lab = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    out = {}
    for mode in modes:
        c = classify(model, y, mode, seed=seed)
        out[f"acc_{mode}"] = float((c["pred"] == lab).float().mean())
        out[f"iters_{mode}"] = float(c["iters"].float().mean())
    return out


def train_mnist(cfg: MNISTConfig, *, checkpoint: str | Path | None = None, progress: bool = True,
                eval_images=None, eval_labels=None, eval_every: int = 1,
                run_config: dict | None = None) -> tuple[CBAN, dict]:
    """Train the D.2 FBAN on MNIST; returns ``(model, history)``.

    ``eval_images``/``eval_labels`` (e.g. a held-out subset) are scored after every
    ``eval_every`` epochs into ``history["eval_epoch"]``, ``["acc_perlin"]``, ``["acc_none"]``.
    Training stops early after the epoch in which ``cfg.max_minutes`` is exceeded
    (the checkpoint then holds that epoch; rerun with the same checkpoint to continue).

    The checkpoint records every field of ``cfg`` but :data:`RUNTIME_FIELDS`, and the
    caller's ``run_config`` (e.g. an experiment's fingerprint); resuming under any other
    value raises ValueError naming it.
    """
    from attractorlab.data import load_mnist

    images, labels = load_mnist("train")
    if cfg.n_train is not None:
        images, labels = images[: cfg.n_train], labels[: cfg.n_train]
    targets = encode_mnist(images, labels, pixel_range=cfg.pixel_range)
    model = build_fban(sizes=(N_PIXELS + N_LABEL_UNITS, *cfg.hidden), params=cfg.params(), seed=cfg.seed)
    tcfg = cfg.train_config(progress)
    t0 = time.monotonic()
    earlier = []  # wall time of the runs this one resumes (from the checkpoint's history)

    def callback(epoch, hist):
        if not earlier:
            earlier.append(hist["wall_s"][-1] if hist.get("wall_s") else 0.0)
        if eval_images is not None and (epoch % eval_every == 0 or epoch == cfg.epochs - 1):
            ev = evaluate_mnist(model, eval_images, eval_labels, seed=cfg.seed + 1,
                                pixel_range=cfg.pixel_range)
            for k in ("eval_epoch", "acc_perlin", "acc_none"):
                hist.setdefault(k, [])
            hist["eval_epoch"].append(epoch)
            hist["acc_perlin"].append(ev["acc_perlin"])
            hist["acc_none"].append(ev["acc_none"])
        hist.setdefault("wall_s", []).append(earlier[0] + time.monotonic() - t0)  # cumulative over resumes
        return cfg.max_minutes is not None and time.monotonic() - t0 > 60 * cfg.max_minutes

    own = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in RUNTIME_FIELDS}
    run_config = {**(run_config or {}), **own}
    history = train(model, mnist_batches(targets, cfg), tcfg, checkpoint=checkpoint, callback=callback,
                    run_config=run_config)
    return model, history


def load_mnist_model(checkpoint: str | Path) -> tuple[CBAN, dict]:
    """The FBAN stored in a :func:`train_mnist` checkpoint and the run settings it was
    trained under (``hidden``, ``pixel_range``, ``mask``, ...; see ``run_config``)."""
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist; train with train_mnist(cfg, checkpoint=...)")
    blob = torch.load(path, map_location="cpu", weights_only=False)
    run = blob.get("run_config", {})
    if "hidden" not in run or "pixel_range" not in run:
        raise ValueError(f"checkpoint {str(path)!r} holds no MNIST run settings (hidden, pixel_range)")
    model = build_fban(sizes=(N_PIXELS + N_LABEL_UNITS, *run["hidden"]), params=CBANParams(**blob["params"]))
    model.load_state_dict(blob["model"])
    return model, run


def checkpoint_accuracy(checkpoint: str | Path, split: str = "test", n: int | None = None) -> float:
    """Label accuracy of a trained MNIST FBAN on full, unshifted images of ``split``
    ("train" or "test"; the first ``n`` images, all when None), labels unobserved.

    With ``split="train"`` it measures how well the model fits its training images, to
    set beside the test accuracy.
    """
    from attractorlab.data import load_mnist

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    model, run = load_mnist_model(checkpoint)
    images, labels = load_mnist(split)
    if n is not None:
        if n < 1:
            raise ValueError(f"n must be >= 1 or None, got {n}")
        images, labels = images[:n], labels[:n]
    return evaluate_mnist(model, images, labels, pixel_range=run["pixel_range"], modes=("none",))["acc_none"]
