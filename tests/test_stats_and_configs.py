"""Paired claim tests (analysis.stats), the validated completion / SR configurations and the
SRCNN-style baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attractorlab.analysis.stats import claims_dataset, format_claims, paired_binary, paired_comparison
from attractorlab.models.baselines.srcnn import SRCNN, SRCNNParams, fit_srcnn, srcnn_like, srcnn_resolve
from attractorlab.models.cban.completion import CompletionConfig
from attractorlab.models.cban.sr import SRConfig


def test_paired_comparison_finds_a_planted_difference_and_not_a_null_one():
    rng = np.random.default_rng(0)
    base = rng.normal(20, 2, 300)
    better = base + 0.3 + rng.normal(0, 0.5, 300)  # paired: +0.3 dB on average
    r = paired_comparison(better, base, claim="a ahead of b", metric="psnr")
    assert r["holds"] and r["p_value"] < 1e-6 and r["mean_diff"] == pytest.approx(0.3, abs=0.1) and r["n"] == 300
    # the claim in the wrong direction does not hold, however significant
    assert not paired_comparison(base, better)["holds"]
    # lower is better (L1): b has the smaller errors
    assert paired_comparison(base, better, better="lower")["holds"]
    # no difference: p large, does not hold
    same = base + rng.normal(0, 0.5, 300)
    r0 = paired_comparison(same, base)
    assert r0["p_value"] > 0.01 and not (r0["holds"] and r0["p_value"] < 0.01)
    # identical scores: p = 1
    assert paired_comparison(base, base)["p_value"] == 1.0
    # non-finite pairs are dropped, shapes must match
    a = better.copy()
    a[:5] = np.nan
    assert paired_comparison(a, base)["n"] == 295
    with pytest.raises(ValueError, match="one score per item"):
        paired_comparison(base, base[:10])
    with pytest.raises(ValueError, match="better"):
        paired_comparison(base, base, better="up")


def test_paired_binary_is_an_exact_mcnemar_test():
    a = np.array([1] * 40 + [0] * 10, bool)
    b = np.array([0] * 30 + [1] * 20, bool)
    r = paired_binary(a, b, claim="fixed points")
    # discordant pairs: a only 30, b only 10 -> binomial(30 of 40, 1/2), two-sided
    from scipy.stats import binomtest

    assert r["p_value"] == pytest.approx(binomtest(30, 40, 0.5).pvalue) and r["holds"]
    assert r["mean_a"] == 0.8 and r["mean_b"] == 0.4


def test_claims_dataset_and_lines():
    rows = [paired_comparison(np.arange(10.0) + 1, np.arange(10.0), claim="x ahead of y", metric="psnr"),
            paired_comparison(np.arange(10.0), np.arange(10.0) + 1, claim="y ahead of x", metric="ssim")]
    ds = claims_dataset(rows)
    assert list(ds.holds.values) == [1, 0] and ds.sizes["claim"] == 2
    text = format_claims(ds).splitlines()
    assert text[0].startswith("x ahead of y [psnr]: holds") and "does not hold" in text[1] and "p = " in text[1]


@pytest.mark.parametrize("cls,bad,name", [
    (CompletionConfig, dict(mask="circles"), "mask"),
    (CompletionConfig, dict(mask_fraction=1.0), "mask_fraction"),
    (CompletionConfig, dict(channels=[8, 0]), "channels"),
    (CompletionConfig, dict(lr=float("nan")), "lr"),
    (CompletionConfig, dict(lr_steps=[1, 0, 1]), "lr_steps"),
    (CompletionConfig, dict(variants=["cban", "cban"]), "variants"),
    (CompletionConfig, dict(variants=["gan"]), "variant"),
    (CompletionConfig, dict(train_max_iter=0), "train_max_iter"),
    (CompletionConfig, dict(square_min=7, square_max=6), "square_min"),
    (CompletionConfig, dict(device="tpu"), "device"),
    (SRConfig, dict(activation="relu"), "activation"),
    (SRConfig, dict(patch=41), "patch"),
    (SRConfig, dict(variants=["cban", "edsr"]), "variants"),
    (SRConfig, dict(eval_sets=[]), "eval_sets"),
    (SRConfig, dict(srcnn_kernels=[9, 4, 5]), "srcnn_kernels"),
    (SRConfig, dict(n_patches=0), "n_patches"),
])
def test_configs_refuse_bad_settings_by_name(cls, bad, name):
    with pytest.raises(ValueError, match=name):
        cls(**bad)


def test_fingerprints_leave_out_runtime_settings_and_the_other_models_fields():
    a = CompletionConfig(n_test=100, workers=1, channels=(8, 8))
    b = CompletionConfig(n_test=None, workers=2, channels=(8, 8), vae_latent=32)
    assert a.fingerprint("cban") == b.fingerprint("cban")  # vae_latent is not the CBAN's
    assert a.fingerprint("cd_vae") != b.fingerprint("cd_vae")
    assert a.fingerprint("cban") != CompletionConfig(channels=(8, 16)).fingerprint("cban")
    assert "channels" not in a.fingerprint("cd_vae") and a.fingerprint("cban_asym")["variant"] == "cban_asym"
    s = SRConfig(eval_sets=("Set5",), tile=64)
    assert s.fingerprint("cban") == SRConfig().fingerprint("cban") and "srcnn_lr" not in s.fingerprint("cban")
    assert SRConfig(srcnn_lr=1e-4).fingerprint("srcnn") != SRConfig().fingerprint("srcnn")


def test_srcnn_size_matching_and_a_learning_residual_net(tmp_path):
    p = srcnn_like(20000)
    n = SRCNN(p).n_parameters()
    assert abs(n - 20000) / 20000 < 0.1 and p.channels[0] == 2 * p.channels[1]
    net = SRCNN(SRCNNParams(channels=(8, 4), kernels=(3, 3, 3)))
    x = torch.rand(4, 3, 12, 12) * 2 - 1
    torch.testing.assert_close(net(x), x)  # zero reconstruction layer: starts as the identity
    # learn to sharpen: the target is a fixed linear filter of the input
    g = torch.Generator().manual_seed(0)
    data = torch.rand(64, 3, 12, 12, generator=g) * 2 - 1
    target = (data + 0.3 * (data - torch.nn.functional.avg_pool2d(data, 3, 1, 1))).clamp(-1, 1)

    def batches(epoch, gen):
        for s in range(0, 64, 16):
            yield data[s:s + 16], target[s:s + 16]

    hist = fit_srcnn(net, batches, epochs=30, lr=3e-3, checkpoint=tmp_path / "s.pt")
    assert hist["loss"][-1] < 0.3 * hist["loss"][0]
    # resumes; refuses another configuration
    again = fit_srcnn(SRCNN(SRCNNParams(channels=(8, 4), kernels=(3, 3, 3))), batches, epochs=30, lr=3e-3,
                      checkpoint=tmp_path / "s.pt")
    assert again["loss"] == hist["loss"]
    with pytest.raises(ValueError, match="lr"):
        fit_srcnn(SRCNN(SRCNNParams(channels=(8, 4), kernels=(3, 3, 3))), batches, epochs=30, lr=1e-3,
                  checkpoint=tmp_path / "s.pt")
    out = srcnn_resolve(net, (np.random.default_rng(0).random((12, 12, 3)) * 255).astype(np.uint8))
    assert out.dtype == np.uint8 and out.shape == (12, 12, 3)
