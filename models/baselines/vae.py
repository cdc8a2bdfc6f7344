"""Convolutional denoising VAE (CD-VAE), the CBAN paper's completion baseline.

CBAN §4.3 / App D.3 compare with a convolutional denoising VAE "based on" a public
notebook and "the method of Im et al. (2017)" (denoising criterion: encode a corrupted
input, reconstruct the clean one) without giving its sizes (PAPERS.md II.7(15)). This is
our own small implementation of that idea:

* input: the masked image (missing pixels set to 0, the middle of [-1, 1]) stacked with
  the observation mask as one more channel, shape (B, C + 1, H, W);
* encoder: ``len(channels)`` blocks of 4x4 stride-2 convolution + LeakyReLU(0.2), each
  halving H and W (H and W must be divisible by 2**len(channels)), then linear maps to
  the posterior mean and log-variance of a ``latent_dim`` Gaussian;
* decoder: linear map back to the smallest feature map, mirrored 4x4 stride-2 transposed
  convolutions, tanh output in [-1, 1] (the image range);
* loss (negative ELBO per image): sum of squared errors between the reconstruction and
  the **clean** image (a Gaussian decoder with unit variance up to a constant factor 1/2
  absorbed into ``beta``) + ``beta`` * KL(q(z|x~) || N(0, I)).

At test time the completion is the decoding of the posterior mean (no sampling).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

__all__ = ["VAEParams", "ConvVAE", "vae_loss", "vae_input", "fit_denoising_vae"]


@dataclasses.dataclass(frozen=True)
class VAEParams:
    """Sizes of :class:`ConvVAE`.

    Attributes
    ----------
    image_channels : int
        Channels of the image (1 Omniglot, 3 CIFAR-10).
    image_size : int
        Side of the square image in pixels; divisible by ``2 ** len(channels)``.
    channels : tuple of int
        Feature channels of the encoder blocks (mirrored in the decoder).
    latent_dim : int
        Dimension of the latent Gaussian.
    beta : float
        Weight of the KL term (1 = the ELBO).
    """

    image_channels: int = 1
    image_size: int = 28
    channels: tuple[int, ...] = (32, 64)
    latent_dim: int = 64
    beta: float = 1.0

    def __post_init__(self):
        if self.image_channels < 1:
            raise ValueError(f"image_channels must be >= 1, got {self.image_channels}")
        if len(self.channels) < 1 or min(self.channels) < 1:
            raise ValueError(f"channels must be a non-empty tuple of positive ints, got {self.channels}")
        k = 2 ** len(self.channels)
        if self.image_size < k or self.image_size % k:
            raise ValueError(f"image_size must be a positive multiple of 2**len(channels) = {k}, got {self.image_size}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")


def vae_input(masked: Tensor, observed: Tensor) -> Tensor:
    """Network input: image with missing pixels set to 0, plus the mask channel.

    Parameters
    ----------
    masked : (B, C, H, W) image in [-1, 1] (values at missing pixels are ignored)
    observed : (B, 1 or C, H, W) bool or {0, 1}, True where the pixel is observed
    """
    obs = observed.to(masked.dtype)
    img = masked * obs
    mask_ch = obs if obs.shape[1] == 1 else obs[:, :1]
    return torch.cat([img, mask_ch], dim=1)


class ConvVAE(nn.Module):
    """Convolutional VAE mapping (masked image, mask) to a clean image; see module doc."""

    def __init__(self, params: VAEParams | None = None, **kwargs):
        super().__init__()
        params = params or VAEParams(**kwargs)
        self.params = params
        chans = (params.image_channels + 1,) + tuple(params.channels)
        enc = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            enc += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(*enc)
        self._side = params.image_size // 2 ** len(params.channels)
        flat = params.channels[-1] * self._side ** 2
        self.to_mu = nn.Linear(flat, params.latent_dim)
        self.to_logvar = nn.Linear(flat, params.latent_dim)
        self.from_z = nn.Linear(params.latent_dim, flat)
        dec = []
        rev = tuple(reversed(params.channels))
        for cin, cout in zip(rev[:-1], rev[1:]):
            dec += [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        dec += [nn.ConvTranspose2d(rev[-1], params.image_channels, 4, stride=2, padding=1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar), each (B, latent_dim), for input (B, C + 1, H, W)."""
        h = self.encoder(x).flatten(1)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        """Image (B, C, H, W) in [-1, 1] for latent (B, latent_dim)."""
        h = self.from_z(z).view(z.shape[0], self.params.channels[-1], self._side, self._side)
        return self.decoder(h)

    def forward(self, x: Tensor, *, sample: bool | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(reconstruction, mu, logvar). Samples z in training mode, uses mu in eval mode."""
        p = self.params
        if x.ndim != 4 or x.shape[1] != p.image_channels + 1 or x.shape[-1] != p.image_size \
                or x.shape[-2] != p.image_size:
            raise ValueError(
                f"x must have shape (B, {p.image_channels + 1}, {p.image_size}, {p.image_size}) "
                f"(image + mask channel), got {tuple(x.shape)}"
            )
        mu, logvar = self.encode(x)
        if sample is None:
            sample = self.training
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def complete(self, masked: Tensor, observed: Tensor) -> Tensor:
        """Completion (posterior-mean decoding) of masked images (B, C, H, W)."""
        was = self.training
        self.eval()
        out = self(vae_input(masked, observed))[0]
        self.train(was)
        return out


def vae_loss(recon: Tensor, target: Tensor, mu: Tensor, logvar: Tensor, beta: float = 1.0
             ) -> tuple[Tensor, Tensor, Tensor]:
    """Negative ELBO per image, averaged over the batch.

    Returns
    -------
    (total, reconstruction, kl) : scalar tensors; reconstruction = mean over images of the
    summed squared error, kl = mean over images of KL(N(mu, exp(logvar)) || N(0, I)).
    """
    rec = ((recon - target) ** 2).flatten(1).sum(1).mean()
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
    return rec + beta * kl, rec, kl


def fit_denoising_vae(model: ConvVAE, images: Tensor, make_mask: Callable[[Tensor, torch.Generator], Tensor], *,
                      epochs: int, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
                      checkpoint: str | Path | None = None, progress: bool = False,
                      lr_schedule: Callable[[int], float] | None = None, device: str = "cpu",
                      run_config: dict | None = None, callback: Callable[[int, list], None] | None = None,
                      history_extra: dict | None = None) -> list[float]:
    """Train ``model`` on masked -> clean pairs with Adam; masks new per batch and epoch.

    Parameters
    ----------
    images : (N, C, H, W) clean training images in [-1, 1]
    make_mask : callable(batch, generator) -> (B, 1, H, W) bool, True = observed
        The same mask generator the CBAN is trained with.
    epochs, batch_size, lr, seed : training budget; ``lr_schedule(epoch)`` multiplies ``lr``.
    checkpoint : path, optional
        Saved (atomically) after every epoch; training resumes from it if present, and
        refuses (ValueError naming each difference) when it was written with another
        model size, batch size, lr, seed, image set shape or ``run_config``.
    device : str
        Where the model is trained ("cpu", "cuda"); images and masks stay on the CPU
        and are moved per batch.
    run_config : dict, optional
        The caller's settings that define the run (e.g. the masks), stored in the
        checkpoint and compared on resume.
    callback : callable, optional
        ``callback(epoch, losses)`` after every epoch, before the checkpoint is written
        (e.g. to score the model on held-out images into ``history_extra``).
    history_extra : dict, optional
        The caller's per-epoch records (e.g. lists filled by ``callback``); saved in the
        checkpoint and restored into this dict on resume.

    Returns
    -------
    list of float
        Mean training loss (negative ELBO per image) of each epoch (all epochs, including
        those restored from the checkpoint).
    """
    from tqdm.auto import tqdm

    from attractorlab.results import atomic_path, check_resume, plain_config

    if epochs < 0 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}")
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    history: list[float] = []
    start = 0
    settings = {"model": dataclasses.asdict(model.params), "batch_size": batch_size, "lr": lr, "seed": seed,
                "images": list(images.shape), **(run_config or {})}
    if checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        check_resume(checkpoint, state.get("settings", {}), settings, "CD-VAE configuration")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"].cpu())
        history = list(state["history"])
        start = len(history)
        if history_extra is not None:
            history_extra.update(state.get("extra", {}))
    model.train()
    for epoch in tqdm(range(start, epochs), disable=not progress, desc="CD-VAE"):
        for g in opt.param_groups:
            g["lr"] = lr * (lr_schedule(epoch) if lr_schedule else 1.0)
        order = torch.randperm(len(images), generator=gen)
        total, count = 0.0, 0
        for s in range(0, len(images), batch_size):
            batch = images[order[s:s + batch_size]]
            obs = make_mask(batch, gen).to(device)
            batch = batch.to(device)
            recon, mu, logvar = model(vae_input(batch, obs))
            loss, _, _ = vae_loss(recon, batch, mu, logvar, model.params.beta)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
            count += len(batch)
        history.append(total / max(count, 1))
        if callback is not None:
            callback(epoch, history)
            model.train()
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                            "history": history, "settings": plain_config(settings),
                            "extra": dict(history_extra or {})}, tmp)
    return history
