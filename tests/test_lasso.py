"""The non-negative LASSO module (models/lasso.py): FISTA against scikit-learn.

scikit-learn's ``Lasso`` minimises 1/(2 n) ||y - X w||^2 + alpha ||w||_1 with n the number
of rows of X (here the M pixels), so our lam corresponds to alpha = lam / M.
"""

from __future__ import annotations

import numpy as np
import pytest

from attractorlab.models.lasso import lasso_objective, nonneg_lasso

sklearn_linear = pytest.importorskip("sklearn.linear_model")


def _problem(M: int, N: int, seed: int):
    rng = np.random.default_rng(seed)
    D = rng.uniform(0.0, 1.0, size=(M, N))
    D /= np.linalg.norm(D, axis=0, keepdims=True)
    a = rng.exponential(1.0, size=N) * (rng.random(N) < 0.2)
    x = D @ a + 0.05 * rng.standard_normal(M)
    return D, x


@pytest.mark.parametrize("M,N,seed,lam", [(8, 16, 0, 0.1), (20, 40, 1, 0.3), (32, 16, 2, 0.05)])
def test_fista_matches_sklearn_positive_lasso(M, N, seed, lam):
    D, x = _problem(M, N, seed)
    a = nonneg_lasso(D, x, lam, tol=1e-12, max_iter=100000)
    model = sklearn_linear.Lasso(alpha=lam / M, positive=True, fit_intercept=False,
                                 tol=1e-12, max_iter=200000)
    model.fit(D, x)
    a_sk = model.coef_
    assert (a >= 0).all()
    f_ours = lasso_objective(D, x, a, lam)[0]
    f_sk = lasso_objective(D, x, a_sk, lam)[0]
    # same optimum value (ours never worse) and the same minimiser
    assert f_ours <= f_sk + 1e-9
    assert abs(f_ours - f_sk) <= 1e-7 * max(1.0, f_sk)
    np.testing.assert_allclose(a, a_sk, atol=2e-4)


def test_fista_kkt_and_weighted_l1():
    """KKT conditions of eq (16)-(18) with per-atom weights s."""
    D, x = _problem(12, 24, 3)
    s = np.linspace(0.5, 2.0, 24)
    lam = 0.2
    a = nonneg_lasso(D, x, lam, s=s, tol=1e-13, max_iter=200000)
    g = D.T @ x - lam * s - D.T @ D @ a
    assert (g <= 1e-6).all()
    assert np.abs(a * g).max() <= 1e-6


def test_fista_batch_equals_columns():
    D, x1 = _problem(10, 15, 4)
    _, x2 = _problem(10, 15, 5)
    X = np.stack([x1, x2], axis=1)
    A = nonneg_lasso(D, X, 0.1, tol=1e-12)
    np.testing.assert_allclose(A[:, 0], nonneg_lasso(D, x1, 0.1, tol=1e-12), atol=1e-8)
    np.testing.assert_allclose(A[:, 1], nonneg_lasso(D, x2, 0.1, tol=1e-12), atol=1e-8)


def test_fista_rejects_bad_input():
    D, x = _problem(6, 8, 0)
    with pytest.raises(ValueError, match="lam"):
        nonneg_lasso(D, x, -1.0)
    with pytest.raises(ValueError, match="X"):
        nonneg_lasso(D, np.ones(5), 0.1)
