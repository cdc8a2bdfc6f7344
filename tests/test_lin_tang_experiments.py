"""Lin & Tang experiments: planted-dictionary recovery by the spiking learner, measures,
denoising, figures and a smoke run of ``lin_tang_A``.

The spiking tests use the network shape M = 128 inputs, N = 64 coding neurons and chunks
of 500 samples, so they share one compiled Brian2 project (cached per shape).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from attractorlab.models.lasso import surrogate_objective
from attractorlab.models.baselines.sgd_dictionary import random_dictionary
from attractorlab.models.spiking_dictionary.datasets import planted_dictionary_data
from attractorlab.models.spiking_dictionary.measures import (
    atom_norms,
    calibrate_lam2,
    consistency,
    symmetry,
    dictionary_objective,
)

M, N, K = 128, 64, 500
LAM1 = 0.3


def _matched(D, Dtrue, thr=0.9):
    Dn = D / np.maximum(np.linalg.norm(D, axis=0), 1e-12)
    return float((np.max(Dn.T @ Dtrue, axis=0) > thr).mean())


@pytest.fixture(scope="module")
def planted():
    X, D = planted_dictionary_data(M, N, 2300, n_active=3, seed=3)
    return X[:2000], X[2000:], D


def test_measures_on_known_weights(rng):
    D = random_dictionary(10, 6, 1)
    F, B = D.T, D
    assert consistency(F, B, F @ B) == pytest.approx(1.0)
    assert symmetry(F, B) == pytest.approx(1.0)
    H = F @ B
    assert consistency(F, B, 2 * H) == pytest.approx(0.5)
    assert symmetry(F, np.roll(B, 1, axis=1)) < 0.999
    np.testing.assert_allclose(atom_norms(3 * F), 3.0)
    X = np.abs(rng.standard_normal((40, 10)))
    # coordinate-descent objective equals the shared FISTA oracle
    assert dictionary_objective(D, X, LAM1) == pytest.approx(surrogate_objective(D, X, LAM1), rel=1e-6)
    # per signal (for paired tests): each value is that signal's own FISTA optimum
    per, nnz = dictionary_objective(D, X, LAM1, per_sample=True, return_nnz=True)
    assert per.shape == nnz.shape == (40,)
    for i in (0, 17, 39):
        assert per[i] == pytest.approx(surrogate_objective(D, X[i:i + 1], LAM1), rel=1e-6)
    assert per.mean() == pytest.approx(dictionary_objective(D, X, LAM1), rel=1e-12)


def test_calibrate_lam2_is_lam1_times_mean_code_mass(planted):
    X, _, Dtrue = planted
    lam2 = calibrate_lam2(X, LAM1, Dtrue, n_samples=300)
    # planted codes: 3 atoms with coefficients ~U[1, 2] -> ||a||_1 ~ 4.5 (shrunk by lam1)
    assert 0.6 * LAM1 * 4.5 / N < lam2 < LAM1 * 4.5 / N
    with pytest.raises(ValueError, match="lam1"):
        calibrate_lam2(X, 0.0, Dtrue)


@pytest.mark.standalone
def test_spiking_learner_recovers_planted_dictionary(planted):
    from attractorlab.models.spiking_dictionary import (
        LearningParams, NetworkParams, consistent_weights, learn_dictionary,
    )

    X, Xte, Dtrue = planted
    D0 = random_dictionary(M, N, 0)
    init = consistent_weights(D0)
    lam2 = calibrate_lam2(X, LAM1, Dtrue)
    ds = learn_dictionary(X, NetworkParams(M, N, lam1=LAM1), LearningParams(eta_D=0.04, lam2=lam2), init=init,
                          snapshot_every=K, chunk_size=K, progress=False)
    D = ds["F"].values.T
    f0 = dictionary_objective(D0, Xte, LAM1)
    f1 = dictionary_objective(D, Xte, LAM1)
    assert f1 < 0.65 * f0
    assert _matched(D, Dtrue, 0.9) >= 0.7  # measured 0.875 (2,000 samples)
    assert _matched(D0, Dtrue, 0.9) == 0.0
    assert 0.6 < atom_norms(ds["F"].values).mean() < 1.3  # lambda_2 keeps norms near 1


@pytest.mark.standalone
def test_random_init_becomes_consistent_and_symmetric(planted):
    from attractorlab.models.spiking_dictionary import LearningParams, NetworkParams, learn_dictionary

    X, _, Dtrue = planted
    lam2 = calibrate_lam2(X, LAM1, Dtrue)
    ds = learn_dictionary(X[:1000], NetworkParams(M, N, lam1=LAM1), LearningParams(eta_D=0.04, lam2=lam2),
                          init="random", seed=1, snapshot_every=K, chunk_size=K, progress=False)
    c = [consistency(ds.F_snap.values[j], ds.B_snap.values[j], ds.H_snap.values[j]) for j in range(3)]
    s = [symmetry(ds.F_snap.values[j], ds.B_snap.values[j]) for j in range(3)]
    assert c[2] > c[0] + 0.15  # measured 0.51 -> 0.80
    assert s[2] > s[0] + 0.05  # measured 0.75 -> 0.90


def test_denoise_improves_psnr_with_a_patch_dictionary():
    from attractorlab.data import bundled_image, sample_patches
    from attractorlab.models.baselines.sklearn_dictionary import sklearn_dictionary
    from attractorlab.models.spiking_dictionary.denoise import denoise_image, psnr

    img = bundled_image("camera")[200:296, 200:296] * 255.0
    X = sample_patches(img / 255.0, 8, 3000, 0)
    D = sklearn_dictionary(X, 64, LAM1, progress=False, snapshots=[3000])["D"].values
    res = denoise_image(img, D, sigma=30.0, stride=2, progress=False)
    mse = np.mean((res["noisy"].values - img) ** 2)  # PSNR by hand, not by the function under test
    assert res.attrs["psnr_noisy"] == pytest.approx(10 * np.log10(255.0 ** 2 / mse))
    assert psnr(res["denoised"].values, img) == pytest.approx(res.attrs["psnr_denoised"])
    assert 18.3 < res.attrs["psnr_noisy"] < 21.0  # sigma = 30 -> 18.6 dB; clipping at 0 and 255 raises it
    assert res.attrs["psnr_denoised"] > res.attrs["psnr_noisy"] + 3.0
    assert res.attrs["mean_nonzeros"] > 0
    assert np.isfinite(res["denoised"].values).all()
    with pytest.raises(ValueError, match="0-255"):
        denoise_image(img / 255.0, D)
    with pytest.raises(ValueError, match="stride"):
        denoise_image(img, D, stride=9)
    with pytest.raises(ValueError, match="scaling"):
        denoise_image(img, D, scaling="global")
    # the training preprocessing (unit-std patches) as the alternative scale
    per_patch = denoise_image(img, D, sigma=30.0, stride=2, scaling="patch", progress=False)
    assert per_patch.attrs["scaling"] == "patch" and res.attrs["scaling"] == "noise"
    assert per_patch.attrs["psnr_denoised"] > per_patch.attrs["psnr_noisy"] + 3.0


def test_choose_lambda_picks_the_best_of_its_grid_on_the_calibration_image():
    from attractorlab.data import bundled_image, sample_patches
    from attractorlab.models.baselines.sklearn_dictionary import sklearn_dictionary
    from attractorlab.models.spiking_dictionary.denoise import choose_lambda, denoise_image

    img = bundled_image("camera")[200:296, 200:296] * 255.0
    calib = bundled_image("astronaut")[100:196, 200:296] * 255.0
    D = sklearn_dictionary(sample_patches(img / 255.0, 8, 3000, 0), 64, LAM1, progress=False,
                           snapshots=[3000])["D"].values
    grid = (0.5, 2.5, 8.0)
    lam, scores = choose_lambda(calib, D, grid=grid, stride=4)
    assert lam in grid and scores["psnr"].sel(lam=lam) == scores["psnr"].max()
    assert scores["psnr"].max() - scores["psnr"].min() > 1.0  # the choice matters
    assert (np.diff(scores["mean_nonzeros"].values) < 0).all()
    single = denoise_image(calib, D, lam=lam, stride=4, seed=1, progress=False)
    assert single.attrs["psnr_denoised"] == pytest.approx(float(scores["psnr"].max()))
    assert scores.attrs["bracketed"] == 1
    # a grid whose best value lies on its edge is extended until the optimum is bracketed
    lam2_, ext = choose_lambda(calib, D, grid=(6.0, 8.0), stride=4, step=2.0)
    assert ext.attrs["bracketed"] == 1 and ext["lam"].min() < lam2_ < ext["lam"].max()
    assert ext.sizes["lam"] > 2 and ext["lam"].min() < 6.0
    assert ext["psnr"].sel(lam=lam2_) == ext["psnr"].max()
    with pytest.raises(ValueError, match="grid"):
        choose_lambda(calib, D, grid=())
    # a sparseness budget: the best lam whose calibration codes stay within it
    dense = float(scores["mean_nonzeros"].sel(lam=lam))
    same, free = choose_lambda(calib, D, grid=grid, stride=4, max_nonzeros=dense + 1.0)
    assert same == lam and free.attrs["constrained"] == 0
    budget = 0.5 * dense
    lam_b, sparse = choose_lambda(calib, D, grid=grid, stride=4, max_nonzeros=budget, refine=3)
    nnz = sparse["mean_nonzeros"]
    assert sparse.attrs["constrained"] == 1 and sparse.attrs["max_nonzeros"] == budget
    assert lam_b > lam and float(nnz.sel(lam=lam_b)) <= budget
    below = sparse["lam"].values[sparse["lam"].values < lam_b]
    assert float(nnz.sel(lam=below.max())) > budget  # the next lam down breaks the budget ...
    assert lam_b / below.max() < 5.0 ** (1 / 2 ** 3) + 1e-9  # ... and is close: the grid's widest gap (x5) halved 3 times
    assert float(sparse["psnr"].sel(lam=lam_b)) < float(scores["psnr"].max())  # sparseness costs PSNR here
    with pytest.raises(ValueError, match="max_nonzeros"):
        choose_lambda(calib, D, grid=grid, stride=4, max_nonzeros=0.0)


def test_figures_accept_results_and_return_axes():
    import matplotlib.pyplot as plt

    from attractorlab.analysis.figures import lin_tang as figs

    learners = ["spiking_consistent", "sgd_1", "sklearn"]
    S = 3
    ds = xr.Dataset(
        {"objective": (("learner", "snapshot"), np.array([[10, 9, 8], [10, 9.5, 9], [10, 8.5, 8.2]], float)),
         "samples_seen": (("learner", "snapshot"), np.array([[0, 100, 1000]] * 3)),
         "consistency": (("init", "snapshot"), np.array([[1.0, 0.95, 0.93]])),
         "symmetry": (("init", "snapshot"), np.array([[1.0, 1.0, 1.0]]))},
        coords={"learner": learners, "init": ["consistent"], "snapshot": np.arange(S)})
    ax = figs.fig4_objective(ds)
    assert len(ax.get_lines()) == 3 and ax.get_xscale() == "log"
    axes = figs.fig3_consistency_symmetry(ds)
    assert len(axes) == 2
    ax = figs.fig6_atoms(random_dictionary(128, 16, 0), (8, 8), True)
    assert ax.images[0].get_array().shape == (4 * 9 + 1, 4 * 9 + 1)
    with pytest.raises(ValueError, match="rows"):
        figs.atom_images(np.ones((10, 3)), (8, 8), True)
    plt.close("all")


@pytest.mark.standalone
def test_lin_tang_A_smoke_end_to_end(tmp_path):
    from attractorlab.experiments import run_experiment
    from attractorlab.results import load_dataset

    ds = run_experiment("lin_tang_A", "smoke", {"denoise_stride": 8}, out_dir=tmp_path)
    for name in ("results.nc", "fig2_rasters.png", "fig3_consistency_symmetry.png", "fig4_objective.png",
                 "fig6_atoms.png", "fig7_denoising.png", "denoise.nc", "raster_before.nc"):
        assert (tmp_path / name).stat().st_size > 0, name
    # receptive fields of the learned atoms against V1, added to the finished run
    from attractorlab.experiments.lin_tang import receptive_fields_from_results

    cmp = receptive_fields_from_results(tmp_path, progress=False, max_atoms=12)
    fits = load_dataset(tmp_path / "gabor_fits.nc")
    assert fits.sizes["atom"] == 12 and int(cmp["n_model"]) == int(fits["good"].sum()) > 0
    assert 0.0 <= float(cmp["distance"]) <= 1.0 and (tmp_path / "nxny_vs_v1.png").stat().st_size > 0
    # the initial dictionary rebuilt from the saved settings is the one the run started from
    from attractorlab.experiments.lin_tang import _training_data, atom_recruitment
    from attractorlab.models.lasso import dictionary_objective
    from attractorlab.results import params_of

    rec = atom_recruitment(tmp_path)
    cfg = params_of(load_dataset(tmp_path / "results.nc"))
    X_eval = _training_data("A", cfg)[2]
    start = float(ds["objective"].sel(learner="spiking_consistent").isel(snapshot=0))
    assert dictionary_objective(rec["D0"].values, X_eval, float(cfg["lam1"])) == pytest.approx(start, rel=1e-9)
    assert rec.sizes["atom"] == 64 and 0 < float(rec["frac_recruited"]) <= 1
    assert 0 <= float(rec["frac_accepted_recruited"]) <= 1   # gabor_fits.nc of the 12 atoms fitted above
    # Fig. 7 on every test image with both dictionaries, lambda bracketed on the calibration image
    first = load_dataset(tmp_path / "denoise.nc")
    assert list(first["learner"].values) == ["spiking_consistent", "sklearn"]
    assert list(first["image"].values) == ["camera", "moon"] and first.attrs["lam_chosen_on"] == "astronaut"
    assert (first["lam_bracketed"].values == 1).all()
    assert (first["psnr_denoised_table"].values > first["psnr_noisy_table"].values).all()
    for a, lam in enumerate(first["lam_chosen"].values):  # the chosen lambda is the calibration optimum
        cal = first["calibration_psnr"].isel(learner=a)
        assert float(cal.sel(lam_tried=lam)) == pytest.approx(float(cal.max()), abs=0.01)
    # Fig. 7 redone with the current preset's method (one image and dictionary, to save time)
    from attractorlab.experiments.lin_tang import denoise_from_results

    den = denoise_from_results(tmp_path, progress=False, denoise_stride=8, denoise_images=["camera"],
                               denoise_learners=["spiking_consistent"])
    assert list(den["image"].values) == ["camera"] and list(den["learner"].values) == ["spiking_consistent"]
    assert den.attrs["lam_chosen_on"] == "astronaut" and den.attrs["scaling"] == "noise"
    assert den.attrs["stride"] == 8 and den.attrs["psnr_denoised"] > den.attrs["psnr_noisy"]
    with pytest.raises(FileNotFoundError, match="results"):
        denoise_from_results(tmp_path / "nowhere")
    saved = load_dataset(tmp_path / "results.nc")
    for var in ("objective", "samples_seen", "final_objective", "consistency", "symmetry", "D", "F_consistent",
                "wall_time", "mean_atom_norm"):
        assert var in saved, var
    assert set(saved["learner"].values) == {"spiking_consistent", "spiking_random", "sgd_1", "sklearn"}
    obj = saved["objective"]
    for learner in saved["learner"].values:  # every learner improves on the shared random init
        assert obj.sel(learner=learner).values[-1] < obj.sel(learner=learner).values[0]
    # the unit-norm lambda_2 rule: its gain per snapshot, atoms near unit norm
    assert saved.attrs["lam2_method"].startswith("unit_norm") and "lam2_gain" in saved
    assert np.abs(saved["final_atom_norm"].sel(learner=["spiking_consistent", "spiking_random"]).values - 1).max() < 0.1
    assert saved["consistency"].sel(init="consistent").values[0] == pytest.approx(1.0)
    np.testing.assert_allclose(saved["objective"].values, ds["objective"].values)
    # the paired per-signal test behind "spiking below SGD / scikit-learn" reproduces the finals
    from attractorlab.experiments.lin_tang import paired_objectives

    pair = paired_objectives(tmp_path, "spiking_consistent", "sklearn")
    finals = saved["final_objective"].sel(learner=["spiking_consistent", "sklearn"]).values
    np.testing.assert_allclose(pair["objective"].mean("sample").values, finals, rtol=1e-9)
    assert float(pair["mean_difference"]) == pytest.approx(finals[0] - finals[1], rel=1e-9)
    assert pair.sizes["sample"] == int(cfg["n_test"]) and 0 < float(pair["wilcoxon_p"]) <= 1
    with pytest.raises(ValueError, match="second='sgd_9'"):
        paired_objectives(tmp_path, "spiking_consistent", "sgd_9")
    # figures are redrawn from the saved files through the figure registry
    from attractorlab.experiments import get_figure

    written = get_figure("lin_tang_A").func(tmp_path, tmp_path / "redrawn")
    assert len(written) == 5 and all(p.stat().st_size > 0 for p in written)
    # checkpoints of this run are not silently reused by a different configuration
    with pytest.raises(ValueError, match="different configuration"):
        run_experiment("lin_tang_A", "smoke", {"eta0": 0.02}, out_dir=tmp_path)


def test_lam1_sweep_smoke_runs_on_the_process_pool(tmp_path, monkeypatch):
    """``lin_tang_C_lam1`` (smoke): each lambda_1 runs in a worker process of the sweep
    machinery; the table and figure are written and sparseness grows with lambda_1."""
    from attractorlab.experiments import run_experiment
    from attractorlab.experiments.lin_tang import sweep_table

    ds = run_experiment("lin_tang_C_lam1", "smoke", out_dir=tmp_path)
    assert list(ds["lam1"].values) == [0.3, 4.8]
    nnz = ds["final_nnz"].values
    assert nnz[1] < nnz[0]                         # a larger lambda_1 gives sparser codes
    assert ((ds["frac_accepted"] >= 0) & (ds["frac_accepted"] <= 1)).all()
    assert (ds["frac_accepted_long"] <= ds["frac_accepted"]).all()
    assert ds.sizes["atom"] == 16 and "good" in ds and "lam2_gain" in ds
    table = sweep_table(ds)
    assert table.count("\n") == 1 + ds.sizes["run"] and "| 4.8 |" in table
    for name in ("sweep.nc", "sweep_lam1.md", "sweep_lam1.png"):
        assert (tmp_path / name).stat().st_size > 0
    # every point is kept: a rerun (e.g. after the session ended) reads it instead of learning again,
    # and refuses a point written under other settings
    from attractorlab.experiments.lin_tang import lam1_sweep_task
    from attractorlab.models.spiking_dictionary import sweeps

    ckpt = tmp_path / "checkpoints"
    assert (ckpt / "lam1_4.8.nc").exists() and (ckpt / "lam1_4.8_learning.nc").exists()

    def no_learning(**kwargs):
        raise AssertionError("a finished sweep point was learned again")

    monkeypatch.setattr(sweeps, "lin_tang_task", no_learning)
    kw = dict(lam1=4.8, n_train=500, n_test=100, n_atoms=16, eta_D=0.003, seed=0, chunk_size=500, n_boot=50,
              checkpoint_dir=str(ckpt), dict_init="patches")
    again = lam1_sweep_task(**kw)
    assert float(again["final_nnz"]) == float(ds["final_nnz"][1])
    np.testing.assert_array_equal(again["good"].values, ds["good"].values[1])
    with pytest.raises(ValueError, match=r"n_boot: checkpoint 50, now 60"):
        lam1_sweep_task(**{**kw, "n_boot": 60})
    with pytest.raises(ValueError, match=r"dict_init: checkpoint 'patches', now 'uniform'"):
        lam1_sweep_task(**{**kw, "dict_init": "uniform"})


@pytest.mark.standalone
def test_long_segment_checkpoints_inside_and_resumes_identically(tmp_path, monkeypatch):
    """A segment longer than _PARTIAL_EVERY checkpoints inside; an interrupted run resumes
    from the last partial checkpoint with the same weights as an uninterrupted one."""
    from attractorlab.experiments import lin_tang as lt
    from attractorlab.models.spiking_dictionary import LearningParams, NetworkParams, runtime

    monkeypatch.setattr(lt, "_PARTIAL_EVERY", 100)
    assert lt._partial_every(300, 50) == 100 and lt._partial_every(80, 40) == 80
    X = planted_dictionary_data(8, 16, 300, n_active=2, seed=4)[0]
    p, L = NetworkParams(8, 16, lam1=0.1), LearningParams(eta_D=0.02, lam2_rule="unit_norm", norm_tau=100)
    marks, seg_k = np.array([0, 300]), [50]
    (tmp_path / "a").mkdir()
    full, _, gains = lt._learn_segmented(X, p, L, "consistent", 3, marks, seg_k, tmp_path / "a", "c", False)
    calls = {"n": 0}
    real = runtime.run_chunk

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    (tmp_path / "b").mkdir()
    monkeypatch.setattr(runtime, "run_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lt._learn_segmented(X, p, L, "consistent", 3, marks, seg_k, tmp_path / "b", "c", False)
    assert (tmp_path / "b" / "c_300.partial.nc").exists() and not (tmp_path / "b" / "c_300.npz").exists()
    monkeypatch.setattr(runtime, "run_chunk", real)
    resumed, _, gains2 = lt._learn_segmented(X, p, L, "consistent", 3, marks, seg_k, tmp_path / "b", "c", False)
    assert resumed[-1].equals(full[-1]) and gains2 == gains
    assert not (tmp_path / "b" / "c_300.partial.nc").exists() and (tmp_path / "b" / "c_300.npz").exists()


@pytest.mark.standalone
def test_segments_continue_the_rate_schedule_and_the_gain():
    """Learning in segments (the experiments' checkpoints) equals one uninterrupted run,
    also with the decaying rate schedule and the unit-norm rule's adapted gain."""
    from attractorlab.experiments import lin_tang as lt
    from attractorlab.models.spiking_dictionary import LearningParams, NetworkParams, learn_dictionary

    X = planted_dictionary_data(8, 16, 200, n_active=2, seed=5)[0]
    p = NetworkParams(8, 16, lam1=0.1)
    L = LearningParams(eta_D=0.05, schedule="inverse", p0=50, lam2_rule="unit_norm", norm_tau=100)
    whole = learn_dictionary(X, p, L, init="consistent", seed=2, snapshot_every=100, chunk_size=50, progress=False)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        snaps, _, gains = lt._learn_segmented(X, p, L, "consistent", 2, np.array([0, 100, 200]), [50, 50], Path(d),
                                              "c", False)
    np.testing.assert_array_equal(snaps[-1].F, whole["F"].values)
    np.testing.assert_array_equal(snaps[-1].H, whole["H"].values)
    assert gains[-1] == float(whole["lam2_gain_snap"].values[-1])


def test_damaged_segment_checkpoint_is_named_with_how_to_start_over(tmp_path):
    """A truncated or foreign ``.npz`` learning-segment checkpoint stops the run with an
    error naming the file and what to delete, before any learning."""
    from attractorlab.experiments import lin_tang as lt
    from attractorlab.models.spiking_dictionary import LearningParams, NetworkParams

    bad = tmp_path / "c_100.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match=r"c_100\.npz.*damaged.*Delete it"):
        lt._load_segment(bad)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, wall=1.0)                       # a valid npz without the weights
    with pytest.raises(ValueError, match=r"foreign\.npz.*Delete it"):
        lt._load_segment(foreign)
    # through the segmented learner: the damaged first segment is read, not recomputed
    X = planted_dictionary_data(8, 16, 100, n_active=2, seed=4)[0]
    p, L = NetworkParams(8, 16, lam1=0.1), LearningParams(eta_D=0.02)
    with pytest.raises(ValueError, match=r"c_100\.npz.*cannot be read"):
        lt._learn_segmented(X, p, L, "consistent", 3, np.array([0, 100]), [50], tmp_path, "c", False)
    with pytest.raises(FileNotFoundError):
        lt._load_segment(tmp_path / "missing.npz")


def test_saturating_inputs_warn_before_learning():
    """Inputs with max(x) * dt >= 1 would be clipped to one spike per step: learn_dictionary
    warns (SpikingInputWarning, an error under the test suite's filter) before simulating."""
    import warnings

    from attractorlab.models.spiking_dictionary import LearningParams, NetworkParams, learn_dictionary
    from attractorlab.models.spiking_dictionary.learning import SpikingInputWarning, warn_if_saturated

    p = NetworkParams(8, 16, lam1=0.1)                 # dt = 1/32: at most 32 spikes per time unit
    ok = np.full((3, 8), 0.99 / p.dt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_saturated(ok, p)                        # just below the limit: silent
    with pytest.warns(SpikingInputWarning, match=r"max\(X\) \* dt = 1 >= 1.*1/dt = 32"):
        warn_if_saturated(ok / 0.99, p)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpikingInputWarning)
        with pytest.raises(SpikingInputWarning, match="saturates the input neurons"):
            learn_dictionary(np.full((4, 8), 40.0), p, LearningParams(eta_D=0.01), progress=False)
        # every entry point that simulates spikes warns: the Brian2 runtime and the numpy oracle
        from attractorlab.models.spiking_dictionary import init_weights, run_network
        from attractorlab.models.spiking_dictionary.reference import simulate_reference

        w = init_weights(8, 16, seed=0)
        with pytest.raises(SpikingInputWarning, match="saturates the input neurons"):
            run_network(np.full((1, 8), 40.0), w, p, device="numpy")
        with pytest.raises(SpikingInputWarning, match="saturates the input neurons"):
            simulate_reference(np.full((1, 8), 40.0), w, p)


@pytest.mark.parametrize("override, words", [
    ({"lam1s": []}, "lam1s must be a non-empty list"),
    ({"lam1s": [0.3, -1.0]}, "lam1s must be a non-empty list of numbers > 0"),
    ({"lam1s": [0.3, 0.3]}, "lam1s must not repeat"),
    ({"chunk_size": 300}, "chunk_size must divide n_train=500, got 300"),
    ({"eta_D": 0.0}, "eta_D must be > 0"),
    ({"dict_init": "data"}, "dict_init must be 'uniform' or 'patches', got 'data'"),
])
def test_lam1_sweep_refuses_bad_settings_before_learning(tmp_path, override, words):
    from attractorlab.experiments import run_experiment

    with pytest.raises(ValueError, match=words):
        run_experiment("lin_tang_C_lam1", "smoke", override, out_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "sweep.nc").exists()


@pytest.mark.parametrize("override, words", [
    ({"dict_init": "patch"}, "dict_init must be 'uniform' or 'patches', got 'patch'"),
    ({"schedule": "cosine"}, "schedule must be 'constant' or 'inverse', got 'cosine'"),
])
def test_lin_tang_C_refuses_bad_settings_before_learning(tmp_path, override, words):
    from attractorlab.experiments import run_experiment

    with pytest.raises(ValueError, match=words):
        run_experiment("lin_tang_C", "smoke", override, out_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "results.nc").exists()


def test_lam1_sweep_point_learns_from_its_initial_dictionary(tmp_path, monkeypatch):
    from attractorlab.experiments.lin_tang import lam1_sweep_task
    from attractorlab.models.spiking_dictionary import sweeps

    class Called(Exception):
        pass

    def spy(**kwargs):
        raise Called(kwargs)

    monkeypatch.setattr(sweeps, "lin_tang_task", spy)
    with pytest.raises(Called) as got:
        lam1_sweep_task(lam1=2.4, n_train=500, n_test=100, n_atoms=16, eta_D=0.003, seed=0, chunk_size=500,
                        n_boot=50, checkpoint_dir=str(tmp_path), dict_init="patches")
    assert got.value.args[0]["dict_init"] == "patches" and got.value.args[0]["lam1"] == 2.4
