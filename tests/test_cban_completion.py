"""CBAN completion / SR pipelines: datasets on the real files, smoke runs end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attractorlab.models.cban.datasets import (
    area_resize_matrix,
    cifar10_images,
    omniglot_images,
    sr_training_patches,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_area_resize_is_exact_area_average(rng):
    A = area_resize_matrix(105, 28)
    assert A.shape == (28, 105) and np.allclose(A.sum(1), 1.0)
    img = (rng.random((105, 105)) > 0.7).astype(np.float64)
    ours = A @ img @ A.T
    # independent: 105 * 4 = 420 = 28 * 15, so nearest x4 then 15 x 15 block means is the exact area mean
    up = np.repeat(np.repeat(img, 4, 0), 4, 1)
    ref = up.reshape(28, 15, 28, 15).mean(axis=(1, 3))
    assert np.allclose(ours, ref, atol=1e-12)


def test_omniglot_images_real_data():
    x = omniglot_images("test", limit=40)
    assert x.shape == (40, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == -1.0 and float(x.max()) <= 1.0
    frac = float((x > 0).float().mean())
    assert 0.02 < frac < 0.3, frac  # strokes (+1) are the minority, background is -1
    # the first test image is not the first training image (split applied)
    assert not torch.equal(x[0], omniglot_images("train", limit=1)[0])


def test_cifar10_images_real_data():
    x = cifar10_images("train", limit=8)
    t = cifar10_images("test", limit=4)
    assert x.shape == (8, 3, 32, 32) and t.shape == (4, 3, 32, 32)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0 and float(x.std()) > 0.2


def test_sr_training_patches_are_aligned():
    p = sr_training_patches(limit_images=1, patch=40, stride=40)
    assert p.hr.shape == p.lr_up.shape and p.hr.shape[1:] == (3, 40, 40) and p.hr.dtype == torch.uint8
    hr, lr = p.hr.double(), p.lr_up.double()
    # bicubic x2 of the down-scaled image stays close to the HR patch but loses detail
    err = (hr - lr).abs().mean()
    assert 0.3 < float(err) < 20.0
    corr = np.corrcoef(hr.flatten().numpy(), lr.flatten().numpy())[0, 1]
    assert corr > 0.9


def _tiny(overrides):
    base = dict(n_train=32, n_test=8, epochs=2, max_iter=4, channels=[2, 4, 4], n_examples=3,
                vae_channels=[4, 8], vae_latent=4)
    base.update(overrides)
    return base


def test_omniglot_smoke_pipeline_and_resume(tmp_path):
    from attractorlab.experiments import run_experiment
    from attractorlab.results import load_dataset

    ov = _tiny(dict(variants=["cban", "cban_asym", "cd_vae", "cban_theta1", "cban_oddeven"]))
    ds = run_experiment("cban_omniglot", "smoke", overrides=ov, out_dir=tmp_path)
    for f in ("results.nc", "table2.nc", "table3.nc", "fig5.png", "tables.txt"):
        assert (tmp_path / f).stat().st_size > 0, f
    for v in ov["variants"]:
        assert (tmp_path / "checkpoints" / f"{v}.pt").exists()
    saved = load_dataset(tmp_path / "results.nc")
    assert list(saved.model.values) == ov["variants"]
    assert saved.psnr.dims == ("model", "image") and saved.psnr.shape == (5, 8)
    assert saved.completion.shape == (5, 3, 1, 28, 28)
    assert saved.psnr.attrs["units"] == "dB" and saved.attrs["params"]
    assert np.isfinite(saved.psnr.values).all() and (saved.ssim.values <= 1).all()
    # iterations within [1, max_iter] for the CBANs, NaN for the VAE; theta 1.0 settles faster
    it = saved.iterations
    assert np.isnan(it.sel(model="cd_vae")).all()
    assert ((it.sel(model="cban") >= 1) & (it.sel(model="cban") <= 4)).all()
    assert float(it.sel(model="cban_theta1").mean()) <= float(it.sel(model="cban").mean())
    # converged symmetric nets end in a fixed point (period 1)
    conv = saved.converged.sel(model="cban").values.astype(bool)
    assert (saved.cycle_period.sel(model="cban").values[conv] == 1).all()
    # the completion keeps the evidence on observed pixels
    obs = saved.observed.values.astype(bool)
    for m in ov["variants"]:
        assert np.allclose(saved.completion.sel(model=m).values[:, 0][obs], saved.target.values[:, 0][obs], atol=1e-6)
    t2 = load_dataset(tmp_path / "table2.nc")
    assert list(t2.model.values) == ["cban", "cban_theta1"] and float(t2.paper_psnr.sel(model="cban")) == 24.1136
    # a second run resumes from the finished checkpoints: same numbers
    ds2 = run_experiment("cban_omniglot", "smoke", overrides=ov, out_dir=tmp_path)
    assert np.allclose(ds2.psnr.values, ds.psnr.values)
    # other test-time iteration caps: at the run's own cap, the run's own images, masks and scores
    import json

    from attractorlab.experiments.cban_completion import settling_budget

    cap = json.loads((tmp_path / "run.json").read_text())["config"]["max_iter"]
    sb = settling_budget(tmp_path, iterations=(1, cap), n_images=6, batch_size=4)
    assert sb.psnr.dims == ("model", "max_iter", "image") and sb.psnr.shape == (2, 2, 6)
    for m in ("cban", "cban_asym"):
        np.testing.assert_allclose(sb.psnr.sel(model=m, max_iter=cap).values, saved.psnr.sel(model=m).values[:6],
                                   rtol=1e-5)
    assert not np.allclose(sb.psnr.sel(max_iter=1).values, sb.psnr.sel(max_iter=cap).values)
    with pytest.raises(ValueError, match=r"iterations must be a non-empty list of caps >= 1, got \[0\]"):
        settling_budget(tmp_path, iterations=[0])



def test_settling_budget_claims_per_cap():
    """One paired test per cap and metric, in the stated direction, with scipy's Wilcoxon p."""
    import xarray as xr
    from scipy.stats import wilcoxon

    from attractorlab.experiments.cban_completion import settling_budget_claims

    rng = np.random.default_rng(0)
    base = rng.normal(21.0, 1.0, 40)
    noise = rng.normal(0.0, 0.2, (2, 40))
    # cban ahead by 0.5 dB at cap 10, behind by 0.5 dB at cap 20 (per image, same images)
    psnr = np.stack([np.stack([base + 0.5 + noise[0], base - 0.5 + noise[1]]), np.stack([base, base])])
    ssim = psnr / 30.0
    ds = xr.Dataset({"psnr": (("model", "max_iter", "image"), psnr), "ssim": (("model", "max_iter", "image"), ssim)},
                    coords={"model": ["cban", "cban_asym"], "max_iter": [10, 20], "image": np.arange(40)})
    cl = settling_budget_claims(ds)
    assert list(cl.metric.values) == ["psnr", "ssim", "psnr", "ssim"]
    assert list(cl.holds.values) == [1, 1, 0, 0]
    assert "at 20 iterations" in str(cl.claim_text.values[2])
    np.testing.assert_allclose(cl.mean_diff.values[[0, 2]], [np.mean(psnr[0, 0] - psnr[1, 0]),
                                                            np.mean(psnr[0, 1] - psnr[1, 1])])
    np.testing.assert_allclose(cl.p_value.values[2], wilcoxon(psnr[0, 1], psnr[1, 1]).pvalue)
    with pytest.raises(ValueError, match=r"b='vae' is not a model of this settling budget"):
        settling_budget_claims(ds, b="vae")


def test_sr_smoke_pipeline(tmp_path):
    from attractorlab.experiments import run_experiment
    from attractorlab.experiments.cban_sr import evaluate_bicubic
    from attractorlab.models.cban.datasets import sr_test_images
    from attractorlab.models.cban.sr import center_crop
    from attractorlab.results import load_dataset

    ov = dict(n_train_images=1, stride=40, epochs=1, channels=[3, 3, 3], max_iter=3, eval_limit=2, eval_crop=40,
              crop_size=24)
    ds = run_experiment("cban_sr", "smoke", overrides=ov, out_dir=tmp_path)
    for f in ("results.nc", "fig7.png", "table1.txt", "checkpoints/cban_sr.pt"):
        assert (tmp_path / f).exists(), f
    saved = load_dataset(tmp_path / "results.nc")
    assert saved.psnr_cban.shape == (2,) and np.isfinite(saved.psnr_cban).all()
    assert saved.mean_psnr.dims == ("set", "method") and saved.example_cban.shape == (2, 24, 24, 3)
    assert float(saved.paper_psnr.sel(set="Set5", paper_method="CBAN")) == 34.18
    # the bicubic column is the protocol of evaluate_bicubic on the same crops
    crops = [center_crop(im, 40, 2) for im in sr_test_images("Set5", limit=2)]
    p, s = evaluate_bicubic(crops, 2)
    assert np.allclose(saved.psnr_bicubic.values, p) and np.allclose(saved.ssim_bicubic.values, s)
    assert ds.attrs["n_train_patches"] > 0


def test_super_resolve_tiling_stitches_exactly():
    from attractorlab.models.cban.sr import build_sr_cban, super_resolve

    net = build_sr_cban(channels=(3, 3, 3), kernel_size=3, init_std=0.3, max_iter=3, seed=0)
    img = (np.random.default_rng(0).random((20, 28, 3)) * 255).astype(np.uint8)
    whole, _ = super_resolve(net, img)
    # with context covering the whole image every tile sees the full image: identical result
    tiled, _ = super_resolve(net, img, tile=8, overlap=32)
    assert np.array_equal(whole, tiled)
    assert whole.shape == img.shape and whole.dtype == np.uint8
