"""Gabor fits, effective receptive fields and the comparison with macaque V1."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from attractorlab.analysis import receptive_fields as rf

def _v1_source_md() -> Path:
    """The V1 data set's SOURCE.md under the data root (ATTRACTORLAB_DATA, as the loaders use)."""
    from attractorlab.data import data_root

    return data_root() / "v1_receptive_fields" / "SOURCE.md"


def _v1_source_table() -> np.ndarray:
    """V1 counts (5, 5) read from the shared SOURCE.md table (independent of the loader)."""
    text = _v1_source_md().read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        m = re.match(r"\|\s*\d\.\d+.\d\.\d+\s*\|((\s*\d+\s*\|){6})\s*$", line.strip())
        if m:
            rows.append([int(v) for v in m.group(1).split("|") if v.strip()][:5])
    counts = np.array(rows, float)
    assert counts.shape == (5, 5), counts
    return counts


def _v1_from_source() -> tuple[np.ndarray, np.ndarray]:
    """V1 histogram from the data loader when present, else from SOURCE.md."""
    try:
        return rf.v1_nxny()
    except (ImportError, RuntimeError):
        return _v1_source_table(), rf.V1_EDGES


def test_v1_loader_matches_source_table():
    if not _v1_source_md().exists():
        pytest.skip(f"no {_v1_source_md()} (set ATTRACTORLAB_DATA to the data folder)")
    counts, edges = _v1_from_source()
    np.testing.assert_array_equal(counts, _v1_source_table())
    np.testing.assert_allclose(edges, rf.V1_EDGES, rtol=1e-3)


def _angle_and_phase_errors(fit: dict, theta: float, phase: float) -> tuple[float, float]:
    """Orientation error (deg, mod 180) and phase error (rad) allowing the (theta+pi, -phase) symmetry."""
    dth = (fit["theta"] - theta + math.pi / 2) % math.pi - math.pi / 2
    turns = round((fit["theta"] - theta - dth) / math.pi)
    ph_true = phase if turns % 2 == 0 else -phase
    dph = (fit["phase"] - ph_true + math.pi) % (2 * math.pi) - math.pi
    return abs(math.degrees(dth)), abs(dph)


def test_gabor_jacobian_matches_finite_differences(rng):
    yy, xx = np.mgrid[0:12, 0:14].astype(float)
    p = np.array([6.3, 5.1, 0.7, 0.15, 0.4, 2.1, 3.3, 1.2, 0.1])
    J = rf._gabor_jac(p, xx, yy)
    h = 1e-6
    Jn = np.stack([(rf._gabor_eval(p + h * e, xx, yy) - rf._gabor_eval(p - h * e, xx, yy)).ravel() / (2 * h)
                   for e in np.eye(9)], axis=1)
    np.testing.assert_allclose(J, Jn, atol=1e-7)


def test_fit_recovers_planted_gabors_with_noise():
    """24 random parameter sets on 16x16 patches, noise s.d. 0.1 of the amplitude.

    Parameters are drawn with nx = sigma_x f in [0.3, 0.7]: below ~0.2 the carrier is not
    identifiable (a Gabor with one lobe looks like a Gaussian derivative). Tolerances:
    orientation 5 deg, frequency 10 %, sigma 20 %, phase 0.4 rad, centre 0.6 px (seed 7;
    the largest errors seen over 60 sets were 2.5 deg, 3.4 %, 11 %, 0.26 rad, 0.37 px).
    """
    rng = np.random.default_rng(7)
    for _ in range(24):
        f = rng.uniform(0.1, 0.25)
        sx = rng.uniform(max(0.3 / f, 1.5), min(0.7 / f, 4.0))
        sy = rng.uniform(1.5, 4.5)
        th = rng.uniform(0, math.pi)
        ph = rng.uniform(-math.pi, math.pi)
        x0, y0 = rng.uniform(6, 9, 2)
        g = rf.gabor((16, 16), x0=x0, y0=y0, theta=th, frequency=f, phase=ph, sigma_x=sx, sigma_y=sy)
        fit = rf.fit_gabor(g + 0.1 * rng.standard_normal(g.shape))
        dth, dph = _angle_and_phase_errors(fit, th, ph)
        assert fit["good"], fit["reason"]
        assert not fit["low_pass"]
        assert dth < 5.0
        assert dph < 0.4
        assert abs(fit["frequency"] / f - 1) < 0.10
        assert abs(fit["sigma_x"] / sx - 1) < 0.20
        assert abs(fit["sigma_y"] / sy - 1) < 0.20
        assert math.hypot(fit["x0"] - x0, fit["y0"] - y0) < 0.6
        assert fit["nx"] == pytest.approx(fit["sigma_x"] * fit["frequency"])
        assert 0 <= fit["theta"] < math.pi and -math.pi < fit["phase"] <= math.pi
        assert fit["orientation"] == pytest.approx((math.degrees(fit["theta"]) + 90) % 180)


def test_noise_only_fits_are_rejected():
    rng = np.random.default_rng(3)
    ds = rf.fit_gabors(rng.standard_normal((8, 16, 16)))
    assert not ds["good"].values.any()
    assert set(ds["reason"].values) == {"low_r2"}
    assert float(ds["r2"].max()) < 0.3


def test_blob_is_flagged_low_pass():
    yy, xx = np.mgrid[0:12, 0:12]
    blob = np.exp(-((xx - 5.5) ** 2 + (yy - 6.0) ** 2) / (2 * 1.5 ** 2))
    fit = rf.fit_gabor(blob + 0.01 * np.random.default_rng(1).standard_normal(blob.shape))
    assert fit["good"] and fit["r2"] > 0.95
    assert fit["low_pass"] and fit["nx"] < 0.1 and fit["ny"] < 0.1


def test_off_patch_centre_is_rejected():
    g = rf.gabor((16, 16), x0=17.5, y0=8.0, theta=0.3, frequency=0.2, phase=0.0, sigma_x=2.5, sigma_y=3.0)
    fit = rf.fit_gabor(g + 1e-3 * np.random.default_rng(0).standard_normal(g.shape))
    assert fit["r2"] > 0.8  # well fit, but outside the patch
    assert fit["reason"] == "centre_outside" and not fit["good"]


def test_single_pixel_fields_fit_perfectly_but_are_rejected():
    one = np.zeros((16, 16))
    one[7, 8] = 1.0
    pair = one.copy()
    pair[7, 9] = -1.0
    for img in (one, pair):
        fit = rf.fit_gabor(img)
        assert fit["r2"] > 0.99 and min(fit["sigma_x"], fit["sigma_y"]) < 0.5  # unresolved envelope
        assert fit["reason"] == "sigma_too_small" and not fit["good"]
        assert rf.fit_gabor(img, min_sigma=0)["reason"] != "sigma_too_small"
    narrow = rf.gabor((16, 16), x0=7.5, y0=7.5, theta=0.3, frequency=0.25, phase=0.0, sigma_x=1.2, sigma_y=1.5)
    assert rf.fit_gabor(narrow)["good"]  # an envelope s.d. above one pixel is a resolved field
    with pytest.raises(ValueError, match="min_sigma"):
        rf.fit_gabor(one, min_sigma=-1)


def test_fit_gabors_dataset_and_signed_atoms(rng):
    k = 8
    g1 = rf.gabor((k, k), x0=3.5, y0=3.5, theta=0.4, frequency=0.2, phase=0.0, sigma_x=1.8, sigma_y=2.5)
    g2 = rf.gabor((k, k), x0=3.0, y0=4.0, theta=2.0, frequency=0.25, phase=1.5, sigma_x=1.5, sigma_y=2.0)
    S = np.stack([g1, g2]).reshape(2, -1).T  # (64, 2) signed
    D = np.concatenate([np.maximum(S, 0), np.maximum(-S, 0)])  # (128, 2) pos/neg split
    atoms = rf.signed_atoms(D)
    np.testing.assert_allclose(atoms, np.stack([g1, g2]))
    ds = rf.fit_gabors(atoms)
    assert ds.sizes["atom"] == 2 and ds["good"].all()
    assert ds["frequency"].attrs["units"] == "cycles/pixel"
    np.testing.assert_allclose(ds["fit"].values, np.stack([g1, g2]), atol=1e-3)
    with pytest.raises(ValueError, match="even number of rows"):
        rf.signed_atoms(D[:-1])
    with pytest.raises(ValueError, match="shape"):
        rf.fit_gabors(np.zeros((4, 4)))


def test_effective_receptive_field_recovers_linear_nonlinear_filter():
    g = rf.gabor((10, 10), x0=4.5, y0=4.5, theta=1.0, frequency=0.2, phase=0.5, sigma_x=1.8, sigma_y=2.5)
    w = np.stack([g, -g.T]).reshape(2, -1)

    def response(images):  # rectified linear units, (n, 10, 10) -> (n, 2)
        return np.maximum(images.reshape(len(images), -1) @ w.T, 0.0) ** 2

    for method in ("sta", "rwa"):
        erf = rf.effective_receptive_fields(response, (10, 10), n_probes=6000, batch=1000, seed=1, method=method)
        assert erf.shape == (2, 10, 10)
        for unit, target in zip(erf, (g, -g.T)):
            c = np.corrcoef(unit.ravel(), target.ravel())[0, 1]
            assert c > 0.9, (method, c)


def test_effective_rf_accepts_torch_callable():
    torch = pytest.importorskip("torch")
    w = torch.randn(3, 36, generator=torch.Generator().manual_seed(0))

    def response(x):
        assert isinstance(x, torch.Tensor)
        return torch.relu(x.reshape(x.shape[0], -1) @ w.T)

    erf = rf.effective_receptive_fields(response, (1, 6, 6), n_probes=4000, as_torch=True, seed=2)
    assert erf.shape == (3, 1, 6, 6)
    c = np.corrcoef(erf[0].ravel(), w[0].numpy())[0, 1]
    assert c > 0.9


def test_bin_and_distances():
    counts, edges = _v1_from_source()
    assert counts.sum() == 79
    np.testing.assert_array_equal(counts.sum(1), [3, 22, 42, 12, 0])
    np.testing.assert_array_equal(counts.sum(0), [11, 11, 25, 25, 7])
    nx, ny = rf.v1_samples_from_histogram(counts, edges)
    c2, frac = rf.bin_nxny(nx, ny, edges)
    np.testing.assert_array_equal(c2, counts)
    assert frac == 0.0
    for metric in ("js", "tv", "emd"):
        assert rf.nxny_distance(counts, counts, metric=metric, edges=edges) == pytest.approx(0.0, abs=1e-9)
    # a point mass moved one bin along nx costs one bin width in decades under EMD
    a = np.zeros((5, 5)); a[1, 2] = 1
    b = np.zeros((5, 5)); b[2, 2] = 1
    assert rf.nxny_distance(a, b, metric="emd", edges=edges) == pytest.approx(0.24, abs=1e-3)
    assert rf.nxny_distance(a, b, metric="js") == pytest.approx(1.0)
    assert rf.nxny_distance(a, b, metric="tv") == pytest.approx(1.0)
    # values beyond the edges are clipped into the outer bins
    c3, frac3 = rf.bin_nxny([5.0, 0.01], [0.2, 0.2], edges)
    assert c3[4, 1] == 1 and c3[0, 1] == 1 and frac3 == 1.0
    with pytest.raises(ValueError, match="metric"):
        rf.nxny_distance(counts, counts, metric="kl")


def test_compare_with_v1_self_vs_shifted():
    counts, edges = _v1_from_source()
    nx, ny = rf.v1_samples_from_histogram(counts, edges)
    same = rf.compare_with_v1(nx, ny, v1_counts=counts, edges=edges, n_boot=300, seed=0)
    assert float(same["distance"]) == pytest.approx(0.0, abs=1e-12)
    assert float(same["p_value"]) > 0.5
    # a population with 3x larger nx and ny (the sparse-coding direction) is far from V1
    shifted = rf.compare_with_v1(3 * nx, 3 * ny, v1_counts=counts, edges=edges, n_boot=300, seed=0)
    d = float(shifted["distance"])
    assert d > 0.5 and d > float(shifted["null_q95"])
    assert float(shifted["p_value"]) < 0.01
    assert float(shifted["ci_low"]) <= d <= float(shifted["ci_high"])
    # a mildly shifted population: interval still contains the estimate, and distance is between
    mild = rf.compare_with_v1(1.4 * nx, 1.4 * ny, v1_counts=counts, edges=edges, n_boot=300, seed=0)
    dm = float(mild["distance"])
    assert 0.0 < dm < d
    assert float(mild["ci_low"]) <= dm <= float(mild["ci_high"])
    np.testing.assert_allclose(float(mild["model_nx"].sum()), 1.0)
    with pytest.raises(ValueError, match="ci"):
        rf.compare_with_v1(nx, ny, v1_counts=counts, ci=1.5)


def test_receptive_field_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from attractorlab.analysis.figures import FIGURES
    from attractorlab.analysis.figures import receptive_fields as rff

    counts, edges = _v1_from_source()
    rng = np.random.default_rng(0)
    atoms = np.stack([rf.gabor((12, 12), x0=5.5, y0=5.5, theta=t, frequency=0.2, phase=0.3, sigma_x=2.0,
                               sigma_y=3.0) for t in np.linspace(0, 3, 6)] + [rng.standard_normal((12, 12))])
    fits = rf.fit_gabors(atoms)
    cmp_ = rf.compare_with_v1(fits, v1_counts=counts, edges=edges, n_boot=50)
    assert int(cmp_["n_model"]) == 6  # the noise atom was rejected
    ax = FIGURES["rf.ringach"](fits, v1_counts=counts, edges=edges, comparison=cmp_)
    assert ax.get_xscale() == "log" and "sigma_x" in ax.get_xlabel()
    assert len(ax.collections) >= 2  # V1 mesh + model scatter
    axes = rff.nxny_marginals(cmp_)
    assert len(axes) == 2
    assert "deg" in rff.orientation_histogram(fits).get_xlabel()
    assert "cycles/pixel" in rff.frequency_histogram(fits).get_xlabel()
    ax = rff.atom_grid(fits)
    assert len(ax.patches) == 7
    ax.figure.savefig(tmp_path / "grid.png")
    assert all(callable(FIGURES[key]) for key in FIGURES)  # per-paper modules that exist import cleanly
    with pytest.raises(KeyError, match="unknown figure"):
        FIGURES["no.such"]


def test_acceptance_needs_a_one_pixel_envelope_and_reports_fractions():
    """Issue 19: a field whose envelope s.d. is below 1 pixel is rejected however well it
    fits; accepted fields with a longer s.d. >= 2 pixels are flagged long_envelope; the
    fractions of all atoms are reported with the fits and beside the V1 statistics."""
    def g(sx, sy, theta=0.5):
        return rf.gabor((16, 16), x0=7.5, y0=7.0, theta=theta, frequency=0.2, phase=0.3, sigma_x=sx, sigma_y=sy)

    atoms = np.stack([g(0.7, 1.6), g(1.4, 2.8), g(1.4, 1.6), g(1.5, 3.0, 2.0)])
    noise = 1e-3 * np.random.default_rng(0).standard_normal(atoms.shape)
    fits = rf.fit_gabors(atoms + noise)
    np.testing.assert_array_equal(fits["good"].values, [False, True, True, True])
    assert fits["reason"].values[0] == "sigma_too_small" and fits["r2"].values[0] > 0.99
    np.testing.assert_array_equal(fits["long_envelope"].values, [False, True, False, True])
    assert fits.attrs["frac_accepted"] == 0.75 and fits.attrs["frac_accepted_long"] == 0.5
    assert fits.attrs["n_atoms"] == 4 and fits.attrs["min_sigma"] == 1.0
    assert rf.fit_gabors(atoms + noise, min_sigma=0.5)["good"].values[0]  # the old, looser rule
    cmp = rf.compare_with_v1(fits, n_boot=50)
    assert float(cmp["frac_accepted"]) == 0.75 and int(cmp["n_atoms"]) == 4 and int(cmp["n_model"]) == 3
    assert float(rf.v1_similarity(fits, n_boot=20)["frac_accepted"]) == 0.75
    with pytest.raises(ValueError, match="long_sigma"):
        rf.fit_gabors(atoms, long_sigma=-1)


def test_ks_similarity_bounds():
    q = np.array([3, 22, 42, 12, 0])
    assert rf.ks_similarity(q, q) == pytest.approx(1.0)
    assert rf.ks_similarity(2 * q, q) == pytest.approx(1.0)         # counts or probabilities
    assert rf.ks_similarity([0, 0, 0, 0, 1], q) == pytest.approx(0.0)  # as far as possible
    # KS = 0.5 at the first bin boundary; KS_max of this q is 1 (all mass in the last bin)
    assert rf.ks_similarity([1, 1, 0, 0, 0], [0, 1, 1, 0, 0]) == pytest.approx(0.5)
    # a reference with mass at both ends: KS_max = 0.75 (all mass in the first or last bin)
    assert rf.ks_similarity([0, 0, 1], [1, 2, 1]) == pytest.approx(0.0)
    assert rf.ks_similarity([0, 1, 0], [1, 2, 1]) == pytest.approx(1 - 0.25 / 0.75)
    with pytest.raises(ValueError, match="same bins"):
        rf.ks_similarity([1, 2], [1, 2, 3])


def _population_from_v1(n: int, seed: int):
    """(nx, ny) of n cells drawn from the V1 joint histogram, log-uniform within each bin."""
    counts, edges = rf.v1_nxny()
    rng = np.random.default_rng(seed)
    cell = rng.choice(counts.size, n, p=(counts / counts.sum()).ravel())
    i, j = np.unravel_index(cell, counts.shape)
    le = np.log10(edges)

    def draw(b):
        return 10 ** rng.uniform(le[b], le[b + 1])
    return draw(i), draw(j)


def test_v1_similarity_planted_populations():
    """A population drawn from the V1 histogram scores near the ceiling (score / ceiling
    ~ 1); one with every nx in V1's empty last bin and every ny in its first bin scores
    near 0."""
    nx, ny = _population_from_v1(500, seed=1)
    sim = rf.v1_similarity(nx, ny, n_boot=400, seed=0)
    assert list(sim["property"].values) == ["nx", "ny"] and int(sim["n_v1"]) == 79
    assert (sim["ceiling"].values > 0.8).all() and (sim["ceiling"].values < 1).all()
    np.testing.assert_allclose(sim["ceiled"].values, 1.0, atol=0.06)
    far = rf.v1_similarity(np.full(300, 1.2), np.full(300, 0.12), n_boot=100, seed=0)
    assert (far["ceiled"].values < 0.1).all(), far["ceiled"].values
    # values beyond the outer edges count in the outer bins (as in Brain-Score)
    clipped = rf.v1_similarity(np.full(300, 9.0), np.full(300, 0.01), n_boot=100, seed=0)
    np.testing.assert_allclose(clipped["score"].values, far["score"].values)
    half = rf.v1_similarity(np.r_[nx[:250], np.full(250, 1.2)], np.r_[ny[:250], np.full(250, 0.12)],
                            n_boot=400, seed=0)
    assert (half["ceiled"].values < sim["ceiled"].values - 0.2).all()
    with pytest.raises(ValueError, match="ny is required"):
        rf.v1_similarity(nx)
