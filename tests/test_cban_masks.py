"""Masks: Perlin (exact hidden fraction, spatial coherence), squares (coverage rule),
bar masks (exactly one consistent completion, checked by brute force)."""

from __future__ import annotations

import pytest
import torch

from attractorlab.models.cban import bar_images, bar_masks, perlin_mask, perlin_noise, square_mask
from attractorlab.models.cban.masks import consistent_count


def test_perlin_mask_hides_exact_fraction_and_is_coherent():
    g = torch.Generator().manual_seed(0)
    m = perlin_mask(64, (28, 28), fraction=1 / 3, frequency=7, generator=g)
    assert m.shape == (64, 28, 28) and m.dtype == torch.bool
    assert torch.all(m.flatten(1).sum(1) == round(784 / 3))
    # coherent blobs: neighbours agree far more often than for i.i.d. (Bernoulli) masks,
    # for which agreement is p² + (1-p)² = 5/9 ≈ 0.556
    agree = (m[:, 1:, :] == m[:, :-1, :]).float().mean()
    assert agree > 0.7
    # different images get different masks; the same seed gives the same masks
    assert not torch.equal(m[0], m[1])
    m2 = perlin_mask(64, (28, 28), fraction=1 / 3, frequency=7, generator=torch.Generator().manual_seed(0))
    assert torch.equal(m, m2)


def test_perlin_frequency_sets_blob_size():
    g = torch.Generator().manual_seed(1)
    lo = perlin_noise(32, (56, 56), 2, generator=g)
    hi = perlin_noise(32, (56, 56), 14, generator=g)

    def corr(x):  # lag-1 autocorrelation along x
        a, b = x[..., 1:].flatten(), x[..., :-1].flatten()
        return torch.corrcoef(torch.stack([a, b]))[0, 1]

    assert corr(lo) > corr(hi) + 0.1
    assert lo.abs().max() < 1.0


def test_square_mask_covers_fraction_of_white_pixels():
    g = torch.Generator().manual_seed(2)
    white = torch.rand(40, 28, 28, generator=g) < 0.12
    white[0] = False  # an empty image gets an empty mask
    m = square_mask(white, fraction=0.25, generator=g)
    cov = (m & white).flatten(1).sum(1).float() / white.flatten(1).sum(1).clamp_min(1)
    assert torch.all(cov[1:] >= 0.25)
    assert not m[0].any()
    # stops early: not much more than needed (one square of <= 36 px beyond the target)
    over = (m & white).flatten(1).sum(1)[1:] - 0.25 * white.flatten(1).sum(1)[1:]
    assert torch.all(over <= 36)
    # masks are unions of squares of side 3..6: every hidden pixel lies in a hidden 3x3 block
    mp = torch.nn.functional.max_pool2d
    eroded = -mp(-m.float()[:, None], 3, stride=1, padding=1)
    blocks = mp(eroded, 3, stride=1, padding=1)[:, 0]  # morphological opening
    assert torch.equal(blocks.bool(), m)
    with pytest.raises(ValueError, match="max_side"):
        square_mask(white, min_side=3, max_side=40)


def test_bar_images_are_the_twenty_bar_pairs():
    imgs = bar_images()
    assert imgs.shape == (20, 5, 5)
    assert len({tuple(i.flatten().tolist()) for i in imgs}) == 20
    assert torch.all(((imgs == 1).sum((1, 2))) == 10)  # two bars of 5 pixels


def test_bar_masks_leave_exactly_one_completion():
    imgs = bar_images()
    y = imgs.repeat(10, 1, 1)
    hid = bar_masks(y, generator=torch.Generator().manual_seed(3))
    assert hid.any((1, 2)).all()
    # brute force over the 20 images (independent of consistent_count)
    for k in range(len(y)):
        obs = ~hid[k]
        n_ok = sum(bool(torch.equal(c[obs], y[k][obs])) for c in imgs)
        assert n_ok == 1
    assert torch.all(consistent_count(y, hid, imgs) == 1)
    # an all-hidden mask is consistent with all 20
    assert int(consistent_count(y[:1], torch.ones(1, 5, 5, dtype=torch.bool), imgs)) == 20
    # the observed fraction spans the requested range
    frac = (~hid).flatten(1).float().mean(1)
    assert frac.min() < 0.3 < frac.max()


def test_mask_validation():
    with pytest.raises(ValueError, match="fraction"):
        perlin_mask(2, (8, 8), fraction=1.5)
    with pytest.raises(ValueError, match="frequency"):
        perlin_noise(2, (8, 8), 0)
    with pytest.raises(ValueError, match="p_observe"):
        bar_masks(bar_images(), p_observe=(0.0, 0.5))


def test_perlin_mask_fraction_extremes():
    for f in (0.0, 1.0):
        m = perlin_mask(3, (10, 12), fraction=f)
        assert m.float().mean() == f
