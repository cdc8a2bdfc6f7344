"""SGD and scikit-learn dictionary baselines (Lin & Tang 2019, Fig. 4) on planted data."""

from __future__ import annotations

import numpy as np
import pytest

from attractorlab.models.baselines.sgd_dictionary import (
    default_snapshots,
    patch_dictionary,
    random_dictionary,
    sgd_dictionary,
)
from attractorlab.models.lasso import (
    lasso_objective,
    nonneg_lasso,
    nonneg_lasso_batched,
    nonneg_lasso_cd,
    surrogate_objective,
)
from attractorlab.models.baselines.sklearn_dictionary import sklearn_dictionary, sklearn_sparse_code
from attractorlab.models.spiking_dictionary.datasets import planted_dictionary_data

LAM = 0.1


@pytest.fixture(scope="module")
def planted():
    X, D = planted_dictionary_data(32, 16, 2500, n_active=3, seed=1)
    Xte = planted_dictionary_data(32, 16, 200, n_active=3, seed=1)[0][::-1].copy()
    return X, Xte, D


def _matched(D, Dtrue, thr=0.9):
    Dn = D / np.maximum(np.linalg.norm(D, axis=0), 1e-12)
    return float((np.max(Dn.T @ Dtrue, axis=0) > thr).mean())


def test_coders_match_fista_oracle(rng):
    D = random_dictionary(20, 30, 3)
    X = np.abs(rng.standard_normal((20, 5)))
    ref = nonneg_lasso(D, X, LAM, tol=1e-12, max_iter=100000)
    f_ref = lasso_objective(D, X, ref, LAM)
    G = np.ascontiguousarray(D.T @ D)
    cd = np.stack([nonneg_lasso_cd(G, D.T @ X[:, p], X[:, p], LAM, tol=1e-10) for p in range(5)], axis=1)
    np.testing.assert_allclose(lasso_objective(D, X, cd, LAM), f_ref, rtol=1e-6)
    L = np.array([np.linalg.norm(D, 2) ** 2 * 1.1])
    fi = np.stack([nonneg_lasso_batched(D[None], X[:, p], LAM, L, tol=1e-9, max_iter=20000)[0][0]
                   for p in range(5)], axis=1)
    np.testing.assert_allclose(lasso_objective(D, X, fi, LAM), f_ref, rtol=1e-6)
    sk = sklearn_sparse_code(D, X.T, LAM).T  # sklearn's alpha scaling equals lam1 here
    assert (sk >= 0).all()
    np.testing.assert_allclose(lasso_objective(D, X, sk, LAM), f_ref, rtol=1e-5)


def test_sgd_lowers_objective_and_recovers_planted_atoms(planted):
    X, Xte, Dtrue = planted
    ds = sgd_dictionary(X, 16, LAM, [0.05, 0.1], seed=0, progress=False)
    D0 = ds["D_snapshots"].isel(snapshot=0).values[0]
    f0 = surrogate_objective(D0, Xte, LAM)
    for k in range(2):
        D = ds["D"].values[k]
        assert (D >= 0).all()
        np.testing.assert_allclose(np.linalg.norm(D, axis=0), 1.0, atol=1e-9)  # unit-norm atoms
        f = surrogate_objective(D, Xte, LAM)
        assert f < 0.5 * f0
        assert f < 1.15 * surrogate_objective(Dtrue, Xte, LAM)
        assert _matched(D, Dtrue) >= 0.8
    assert list(ds["snapshot"].values) == list(default_snapshots(len(X)))
    assert ds["D_snapshots"].dims == ("eta", "snapshot", "pixel", "atom")


def test_sgd_fista_coder_agrees_with_cd(planted):
    X, Xte, _ = planted
    a = sgd_dictionary(X[:80], 16, LAM, 0.05, coder="cd", code_tol=1e-12, progress=False)
    b = sgd_dictionary(X[:80], 16, LAM, 0.05, coder="fista", code_tol=1e-10, code_max_iter=20000,
                       progress=False)
    np.testing.assert_allclose(a["D"].values, b["D"].values, atol=1e-5)


def test_sklearn_wrapper_nonnegative_and_beats_random(planted):
    X, Xte, Dtrue = planted
    ds = sklearn_dictionary(X, 16, LAM, batch_size=32, seed=0, progress=False,
                            snapshots=[0, 500, len(X)])
    D = ds["D"].values
    assert D.shape == (32, 16) and ds["D"].dims == ("pixel", "atom")
    assert (D >= 0).all()
    assert np.all(np.linalg.norm(D, axis=0) <= 1 + 1e-9)
    f_rand = surrogate_objective(random_dictionary(32, 16, 5), Xte, LAM)
    assert surrogate_objective(D, Xte, LAM) < 0.5 * f_rand
    s = ds["snapshot"].values
    assert s[0] == 0 and s[-1] == len(X) and np.all(np.diff(s) > 0)
    np.testing.assert_array_equal(ds["D_snapshots"].values[-1], D)


@pytest.mark.parametrize("bad", [dict(lam1=0.0), dict(eta=-1.0), dict(n_atoms=0), dict(coder="omp")])
def test_sgd_rejects_bad_input(planted, bad):
    X = planted[0][:10]
    kw = dict(n_atoms=4, lam1=LAM, eta=0.1, progress=False)
    kw.update(bad)
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        sgd_dictionary(X, **kw)


def test_patch_dictionary_draws_distinct_signals_at_unit_norm(planted):
    X = planted[0].copy()
    X[:5] = 0.0                                    # zero signals are never drawn
    D = patch_dictionary(X, 40, seed=3)
    assert D.shape == (X.shape[1], 40)
    np.testing.assert_allclose(np.linalg.norm(D, axis=0), 1.0, atol=1e-12)
    Xn = X[5:] / np.linalg.norm(X[5:], axis=1, keepdims=True)
    hit = np.isclose(Xn @ D, 1.0, atol=1e-12)      # every atom is one of the signals, scaled
    assert hit.any(axis=0).all()
    assert len(set(np.argmax(hit, axis=0))) == 40  # drawn without replacement
    np.testing.assert_array_equal(D, patch_dictionary(X, 40, seed=3))
    # far less alike than the uniform start, whose atoms all lie near the diagonal
    off = ~np.eye(40, dtype=bool)
    R = random_dictionary(X.shape[1], 40, 3)
    assert (D.T @ D)[off].mean() < (R.T @ R)[off].mean() - 0.2


@pytest.mark.parametrize("n_atoms", [0, 2496])
def test_patch_dictionary_rejects_more_atoms_than_signals(planted, n_atoms):
    X = planted[0].copy()
    X[:5] = 0.0
    with pytest.raises(ValueError, match="n_atoms must be between 1 and the 2495"):
        patch_dictionary(X, n_atoms)
