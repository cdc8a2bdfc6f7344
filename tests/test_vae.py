"""Convolutional denoising VAE: shapes, loss terms, gradients, and that training lowers the loss."""

from __future__ import annotations

import math

import pytest
import torch

from attractorlab.models.baselines.vae import ConvVAE, VAEParams, fit_denoising_vae, vae_input, vae_loss


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("c,size", [(1, 28), (3, 32)])
def test_forward_shapes_and_range(c, size):
    torch.manual_seed(0)
    m = ConvVAE(VAEParams(image_channels=c, image_size=size, channels=(8, 16), latent_dim=5))
    x = torch.rand(4, c, size, size) * 2 - 1
    obs = torch.rand(4, 1, size, size) > 0.3
    rec, mu, logvar = m(vae_input(x, obs))
    assert rec.shape == x.shape and mu.shape == (4, 5) and logvar.shape == (4, 5)
    assert rec.abs().max() <= 1.0
    assert m.complete(x, obs).shape == x.shape
    with pytest.raises(ValueError, match="image \\+ mask"):
        m(x)


def test_loss_terms_analytic_and_backward():
    # KL of N(mu, sigma^2) vs N(0, 1): 0.5 (mu^2 + sigma^2 - 1 - ln sigma^2) per dimension
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)]])
    rec = torch.zeros(1, 1, 2, 2)
    tgt = torch.full((1, 1, 2, 2), 0.5)
    total, r, kl = vae_loss(rec, tgt, mu, logvar, beta=2.0)
    assert float(r) == pytest.approx(1.0)
    assert float(kl) == pytest.approx(0.5 * 1 + 0.5 * (4 - 1 - math.log(4)))
    assert float(total) == pytest.approx(float(r) + 2 * float(kl))
    m = ConvVAE(image_channels=1, image_size=8, channels=(4,), latent_dim=3)
    x = torch.rand(2, 1, 8, 8)
    out = m(vae_input(x, torch.ones(2, 1, 8, 8, dtype=torch.bool)))
    vae_loss(out[0], x, out[1], out[2])[0].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


def test_params_validation():
    with pytest.raises(ValueError, match="image_size"):
        VAEParams(image_size=30, channels=(8, 16))
    with pytest.raises(ValueError, match="beta"):
        VAEParams(beta=-1)


def test_training_lowers_loss_and_resumes(tmp_path):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    # structured images: vertical bars at random positions
    imgs = -torch.ones(64, 1, 8, 8)
    for i, col in enumerate(torch.randint(0, 8, (64,), generator=g)):
        imgs[i, 0, :, col] = 1.0

    def mask(batch, gen):
        return torch.rand(batch.shape[0], 1, 8, 8, generator=gen) > 0.25

    m = ConvVAE(image_channels=1, image_size=8, channels=(8, 16), latent_dim=4, beta=0.1)
    ck = tmp_path / "vae.pt"
    h = fit_denoising_vae(m, imgs, mask, epochs=2, batch_size=16, lr=3e-3, checkpoint=ck)
    assert ck.exists() and len(h) == 2
    h = fit_denoising_vae(m, imgs, mask, epochs=15, batch_size=16, lr=3e-3, checkpoint=ck)
    assert len(h) == 15
    assert h[-1] < 0.7 * h[0], h  # 48 -> 27 measured (seeded)
    # a checkpoint written under other settings is refused, naming what differs
    with pytest.raises(ValueError, match="lr: checkpoint 0.003, now 0.001"):
        fit_denoising_vae(m, imgs, mask, epochs=16, batch_size=16, lr=1e-3, checkpoint=ck)
    ck2 = tmp_path / "vae_squares.pt"
    fit_denoising_vae(m, imgs, mask, epochs=1, batch_size=16, checkpoint=ck2, run_config={"mask": "squares"})
    with pytest.raises(ValueError, match="mask: checkpoint 'squares', now 'perlin'"):
        fit_denoising_vae(m, imgs, mask, epochs=2, batch_size=16, checkpoint=ck2, run_config={"mask": "perlin"})
