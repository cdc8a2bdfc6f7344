"""MNIST coding, the registered experiments (smoke size) and the figure functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attractorlab.experiments import get_experiment, run_experiment
from attractorlab.models.cban.mnist import N_LABEL_UNITS, N_PIXELS, decode_labels, encode_mnist, mnist_evidence
from attractorlab.results import load_dataset


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_mnist_coding_roundtrip_and_evidence():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=30)
    y = encode_mnist(imgs, labels)
    assert y.shape == (30, N_PIXELS + N_LABEL_UNITS)
    assert y.abs().max() <= 0.999 + 1e-6
    assert torch.equal(decode_labels(y), torch.as_tensor(labels))
    # pair coding: exactly two label units on, the 8 spare units off
    assert torch.all((y[:, N_PIXELS:N_PIXELS + 20] > 0).sum(1) == 2)
    assert torch.all(y[:, N_PIXELS + 20:] < 0)
    ev = mnist_evidence(y, "perlin", generator=torch.Generator().manual_seed(0))
    assert not ev.mask[:, N_PIXELS:].any()  # labels always unobserved
    assert torch.all((~ev.mask[:, :N_PIXELS]).sum(1) == round(784 / 3))
    assert mnist_evidence(y, "none").mask[:, :N_PIXELS].all()
    with pytest.raises(ValueError, match="labels"):
        encode_mnist(imgs[:1], [11])


def test_mnist_unit_pixel_range_keeps_labels_and_silences_background():
    from attractorlab.models.cban.mnist import MNISTConfig

    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    imgs[:, :3] = 0  # background rows
    labels = rng.integers(0, 10, size=12)
    sym = encode_mnist(imgs, labels)
    unit = encode_mnist(imgs, labels, pixel_range="unit")
    # labels identical (±0.999), pixels an affine map of the symmetric coding
    assert torch.equal(unit[:, N_PIXELS:], sym[:, N_PIXELS:])
    assert torch.allclose(unit[:, :N_PIXELS], (sym[:, :N_PIXELS] + 0.999) / 2, atol=1e-6)
    assert torch.all(unit.reshape(12, -1)[:, : 3 * 28] == 0)  # background silent
    assert torch.all(sym.reshape(12, -1)[:, : 3 * 28] == -0.999 * torch.ones(1))
    assert unit[:, :N_PIXELS].min() >= 0 and unit[:, :N_PIXELS].max() <= 0.999 + 1e-6
    assert torch.equal(decode_labels(unit), torch.as_tensor(labels))
    with pytest.raises(ValueError, match="pixel_range"):
        encode_mnist(imgs, labels, pixel_range="zero_one")
    with pytest.raises(ValueError, match="pixel_range"):
        MNISTConfig(pixel_range="bad")
    assert MNISTConfig().pixel_range == "symmetric"  # paper coding stays the default
    assert MNISTConfig().lr_milestones == ()  # constant lr 0.01 (D.2) stays the default
    assert MNISTConfig(lr_milestones=[10]).lr_milestones == (10,)
    with pytest.raises(ValueError, match="lr_milestones"):
        MNISTConfig(lr_milestones=(-1,))


def test_mnist_loss_units_unobserved_drops_clamped_pixels_from_the_loss():
    from attractorlab.models.cban import CBANParams, build_fban
    from attractorlab.models.cban.mnist import MNISTConfig, mnist_batches
    from attractorlab.models.cban.train import TrainConfig, make_optimizer, train_step

    rng = np.random.default_rng(2)
    y = encode_mnist(rng.integers(0, 256, size=(8, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=8),
                     pixel_range="unit")
    grads = {}
    for units in ("all", "unobserved"):
        for mask in ("none", "perlin"):
            cfg = MNISTConfig(mask=mask, batch_size=8, loss_units=units)
            batch = next(iter(mnist_batches(y, cfg)(0, torch.Generator().manual_seed(0))))
            if units == "unobserved":
                assert torch.equal(batch.weight, (~batch.evidence.mask).float())
            else:
                assert batch.weight is None
            model = build_fban(sizes=(812, 16, 8), params=CBANParams(activation="tanh", max_iter=5), seed=0)
            tcfg = TrainConfig(loss="delta_e_plus", optimizer="sgd", lr=1e-3, progress=False)
            train_step(model, batch, tcfg, make_optimizer(model, tcfg))
            grads[units, mask] = model.biases[0].grad.detach().clone()
    # clamped pixels reach the loss only through their own ṽ, i.e. only through the visible biases
    assert grads["all", "none"][:N_PIXELS].abs().max() > 1e-4
    assert torch.all(grads["unobserved", "none"][:N_PIXELS] == 0)
    assert grads["unobserved", "none"][N_PIXELS:].abs().max() > 1e-4  # the labels still learn
    assert grads["unobserved", "perlin"][:N_PIXELS].abs().max() > 1e-4  # hidden pixels still count
    with pytest.raises(ValueError, match="loss_units"):
        MNISTConfig(loss_units="clamped")
    with pytest.raises(ValueError, match="optimizer"):
        MNISTConfig(optimizer="rmsprop")
    assert MNISTConfig().loss_units == "all" and MNISTConfig().optimizer == "sgd_linf"  # D.2 defaults
    assert MNISTConfig().td == "td1" and MNISTConfig(td="final").td == "final"
    with pytest.raises(ValueError, match="td must be one of"):
        MNISTConfig(td="td0")


def test_mnist_shift_images_matches_a_loop_reference():
    from attractorlab.models.cban.mnist import MNISTConfig, mnist_batches, shift_images

    y = torch.randn(30, N_PIXELS + N_LABEL_UNITS)
    out = shift_images(y, 2, background=-7.0, generator=torch.Generator().manual_seed(5))
    dy, dx = torch.randint(-2, 3, (2, 30, 1), generator=torch.Generator().manual_seed(5))
    assert (dy != 0).any() and (dx != 0).any()
    for i in range(30):
        img, a, b = y[i, :N_PIXELS].reshape(28, 28).numpy(), int(dy[i]), int(dx[i])
        ref = np.full((28, 28), -7.0, dtype=np.float32)
        for r in range(28):
            for c in range(28):
                if 0 <= r - a < 28 and 0 <= c - b < 28:
                    ref[r, c] = img[r - a, c - b]
        np.testing.assert_array_equal(out[i, :N_PIXELS].reshape(28, 28).numpy(), ref)
    assert torch.equal(out[:, N_PIXELS:], y[:, N_PIXELS:])  # labels never move
    assert shift_images(y, 0, background=0.0) is y
    # in training batches the border fills with the coding's background value
    cfg = MNISTConfig(mask="none", batch_size=30, max_shift=3, pixel_range="unit")
    ones = torch.cat([torch.full((30, N_PIXELS), 0.5), y[:, N_PIXELS:]], 1)
    batch = next(iter(mnist_batches(ones, cfg)(0, torch.Generator().manual_seed(0))))
    assert set(batch.target[:, :N_PIXELS].unique().tolist()) == {0.0, 0.5}
    assert MNISTConfig().max_shift == 0  # D.2: no augmentation by default
    for bad in (-1, 14, 1.5):
        with pytest.raises(ValueError, match="max_shift"):
            MNISTConfig(max_shift=bad)


def test_mnist_rotate_images_matches_scipy_ndimage_rotate():
    """Bilinear rotation about the centre with background outside the frame is what
    scipy.ndimage.rotate does with order=1 and mode="grid-constant" (an independent code)."""
    from scipy import ndimage

    from attractorlab.models.cban.mnist import MNISTConfig, mnist_batches, rotate_images

    y = torch.rand(12, N_PIXELS + N_LABEL_UNITS, dtype=torch.float64)
    out = rotate_images(y, 40.0, background=-0.5, generator=torch.Generator().manual_seed(3))
    angles = (2 * torch.rand(12, generator=torch.Generator().manual_seed(3)) - 1) * 40.0
    assert angles.abs().max() > 20  # large turns: the corners come from outside the frame
    for i in range(12):
        ref = ndimage.rotate(y[i, :N_PIXELS].reshape(28, 28).numpy(), float(angles[i]), reshape=False,
                             order=1, mode="grid-constant", cval=-0.5)
        np.testing.assert_allclose(out[i, :N_PIXELS].reshape(28, 28).numpy(), ref, atol=1e-5)
    assert torch.equal(out[:, N_PIXELS:], y[:, N_PIXELS:])  # labels never move
    assert rotate_images(y, 0, background=0.0) is y
    # in training batches, rotation is on when max_rotation > 0 and fills with the background
    cfg = MNISTConfig(mask="none", batch_size=12, max_rotation=30, pixel_range="unit")
    flat = torch.cat([torch.full((12, N_PIXELS), 0.5), y[:, N_PIXELS:]], 1).float()
    batch = next(iter(mnist_batches(flat, cfg)(0, torch.Generator().manual_seed(0))))
    corners = batch.target[:, :N_PIXELS].reshape(12, 28, 28)[:, 0, 0]
    assert corners.min() < 0.5 and corners.min() >= 0.0
    assert MNISTConfig().max_rotation == 0  # D.2: no augmentation by default
    for bad in (-1, 181, "10"):
        with pytest.raises(ValueError, match="max_rotation"):
            MNISTConfig(max_rotation=bad)


def test_cban_bars_smoke_experiment(tmp_path):
    assert set(get_experiment("cban_bars").presets) >= {"smoke", "paper"}
    ds = run_experiment("cban_bars", "smoke", {"epochs": 60, "n_eval_masks": 5}, out_dir=tmp_path)
    for f in ("results.nc", "fig2_bars.png", "fig3_bar_weights.png", "training_curve.png"):
        assert (tmp_path / f).exists(), f
    back = load_dataset(tmp_path / "results.nc")
    assert back["loss"].sizes["epoch"] == 60
    assert back["weights_visible_hidden"].shape == (48, 5, 5)
    assert 0.5 < float(back["pixel_accuracy"]) <= 1.0
    assert back["accuracy_per_iteration"].attrs["units"] == "1"
    assert back.attrs["seed"] == 0
    assert float(ds["train_seconds"]) > 0


def test_cban_mnist_smoke_experiment(tmp_path):
    # a 2-epoch run paused after its first epoch by max_minutes (a runtime setting)
    ov = {"n_train": 250, "n_test": 50, "hidden": [40, 20], "td": "final", "max_shift": 1, "max_rotation": 10.0,
          "epochs": 2}
    ds = run_experiment("cban_mnist", "smoke", {**ov, "max_minutes": 0.0}, out_dir=tmp_path)
    assert ds["loss"].sizes["epoch"] == 1
    for f in ("results.nc", "fig4_mnist.png", "checkpoint.pt"):
        assert (tmp_path / f).exists(), f
    back = load_dataset(tmp_path / "results.nc")
    assert back["weights_visible_hidden"].shape == (40, 812)
    for k in ("accuracy_perlin", "accuracy_clean"):  # a smoke run: only the stored values
        assert float(back[k]) == pytest.approx(float(ds[k])) and 0.0 <= float(back[k]) <= 1.0
    assert ds.attrs["train_mask"] == "perlin"
    assert ds.attrs["pixel_range"] == "symmetric"
    blob = torch.load(tmp_path / "checkpoint.pt", weights_only=False)  # the options reach training
    assert ds.attrs["td"] == blob["config"]["td"] == "final" and blob["run_config"]["max_shift"] == 1
    assert blob["run_config"]["max_rotation"] == 10.0 == ds.attrs["max_rotation"]
    # the stored model, rebuilt from its checkpoint, scores what the run reported
    from attractorlab.models.cban.mnist import checkpoint_accuracy

    assert checkpoint_accuracy(tmp_path / "checkpoint.pt", "test", n=50) == pytest.approx(float(ds["accuracy_clean"]))
    with pytest.raises(ValueError, match="split"):
        checkpoint_accuracy(tmp_path / "checkpoint.pt", "val")
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        checkpoint_accuracy(tmp_path / "nowhere.pt")
    from attractorlab.data import load_mnist
    from attractorlab.models.cban.mnist import evaluate_mnist, load_mnist_model

    with pytest.raises(ValueError, match="modes.*'blur'"):
        evaluate_mnist(load_mnist_model(tmp_path / "checkpoint.pt")[0], *load_mnist("test"), modes=("none", "blur"))
    # the rerun resumes and adds its epochs and its wall time to those of the run it continues
    # (the stored time is set to 1000 s so that the sum cannot be mistaken for one epoch's time)
    assert float(ds["train_seconds"]) > 0
    blob["history"]["wall_s"][-1] = 1000.0
    torch.save(blob, tmp_path / "checkpoint.pt")
    more = run_experiment("cban_mnist", "smoke", ov, out_dir=tmp_path)
    assert more["loss"].sizes["epoch"] == 2 and float(more["loss"][0]) == pytest.approx(float(ds["loss"][0]))
    assert 1000.0 < float(more["train_seconds"]) < 1000.0 + 600


def test_figure_functions_return_axes():
    import matplotlib.pyplot as plt

    from attractorlab.analysis.figures import cban as figs
    from attractorlab.models.cban import bar_images

    y = bar_images()[:4]
    hid = torch.zeros(4, 5, 5, dtype=torch.bool)
    hid[:, :2] = True
    rgb = figs.evidence_rgb(y, hid)
    assert rgb.shape == (4, 5, 5, 3)
    assert np.allclose(rgb[0, 0, 0], [0.85, 0.1, 0.1])
    axes = figs.plot_bar_completions(y, hid, torch.stack([y * 0.5, y]), iteration=1)
    assert axes.shape == (3, 4)
    ax = figs.plot_accuracy_per_iteration([0.9, 0.99, 1.0])
    assert ax.get_xlabel() == "iteration"
    axes = figs.plot_hidden_weights(torch.randn(10, 25), n=10, ncols=5)
    assert axes.shape == (2, 5)
    v = torch.rand(3, 812) * 2 - 1
    axes = figs.plot_mnist_completions(v, v > 0.5, v, v)
    assert axes.shape == (4, 3)
    plt.close("all")
