"""Non-negative LASSO by FISTA (Beck & Teboulle 2009): the exact sparse-coding oracle.

Solves, for each column x of X,

    a* = argmin_{a >= 0}  1/2 ||x - D a||^2 + lam * ||s * a||_1

which is eq (16) of Lin & Tang (2019) (with S = diag(s); s = 1 gives the plain
non-negative LASSO of eq (6) used for the surrogate objective).

:func:`surrogate_objective` is the dictionary-learning test objective of Lin & Tang
(2019), after Mairal et al. (2009): for each test signal x, the minimum over a >= 0 of
1/2 ||x - D a||^2 + lambda_1 ||a||_1 with D = F^T, averaged over the test set, solved
exactly by :func:`nonneg_lasso`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nonneg_lasso", "lasso_objective", "surrogate_objective"]


def _check(D: np.ndarray, X: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray, bool]:
    D = np.asarray(D, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if D.ndim != 2:
        raise ValueError(f"D must be a 2-D (M x N) dictionary, got shape {D.shape}")
    single = X.ndim == 1
    if single:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] != D.shape[0]:
        raise ValueError(f"X must have shape (M,) or (M, P) with M = {D.shape[0]}, got {X.shape}")
    if not np.isfinite(D).all() or not np.isfinite(X).all():
        raise ValueError("D and X must be finite (no NaN or inf)")
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam}")
    return D, X, single


def nonneg_lasso(
    D: np.ndarray,
    X: np.ndarray,
    lam: float,
    s: np.ndarray | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 20000,
    a0: np.ndarray | None = None,
) -> np.ndarray:
    """Solve the non-negative (weighted) LASSO for every column of ``X``.

    Parameters
    ----------
    D : (M, N) array
        Dictionary (atoms in columns).
    X : (M,) or (M, P) array
        Signals.
    lam : float
        l1 weight lambda_1 (>= 0).
    s : (N,) array, optional
        Per-atom weights of the l1 term (S = diag(s)); default ones.
    tol : float
        Stop when the largest change of any coefficient, relative to ``max(1, max |a|)``, is below tol.
    max_iter : int
        Iteration cap.
    a0 : (N,) or (N, P) array, optional
        Warm start.

    Returns
    -------
    (N,) or (N, P) array of non-negative codes.
    """
    D, X, single = _check(D, X, lam)
    n = D.shape[1]
    s = np.ones(n) if s is None else np.asarray(s, dtype=np.float64)
    if s.shape != (n,) or (s < 0).any():
        raise ValueError(f"s must be a non-negative vector of length {n}, got shape {s.shape}")
    G = D.T @ D
    L = float(np.linalg.eigvalsh(G)[-1]) if n else 0.0
    if L <= 0:
        out = np.zeros((n, X.shape[1]))
        return out[:, 0] if single else out
    DtX = D.T @ X
    thr = (lam * s / L)[:, None]
    a = np.zeros((n, X.shape[1])) if a0 is None else np.array(a0, dtype=np.float64).reshape(n, -1).copy()
    y = a.copy()
    t = 1.0
    for _ in range(max_iter):
        a_new = np.maximum(y - (G @ y - DtX) / L - thr, 0.0)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        y = a_new + ((t - 1.0) / t_new) * (a_new - a)
        step = np.max(np.abs(a_new - a)) / max(1.0, float(np.max(np.abs(a_new), initial=0.0)))
        a = a_new
        t = t_new
        if step < tol:
            break
    return a[:, 0] if single else a


def lasso_objective(D: np.ndarray, X: np.ndarray, A: np.ndarray, lam: float) -> np.ndarray:
    """Per-sample value of 1/2 ||x - D a||^2 + lam ||a||_1 (columns of X and A)."""
    D = np.asarray(D, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64).reshape(D.shape[0], -1)
    A = np.asarray(A, dtype=np.float64).reshape(D.shape[1], -1)
    R = X - D @ A
    return 0.5 * np.sum(R * R, axis=0) + lam * np.sum(np.abs(A), axis=0)


def surrogate_objective(D: np.ndarray, X: np.ndarray, lam1: float, *, tol: float = 1e-8,
                        max_iter: int = 5000, batch: int = 2000) -> float:
    """Mean non-negative LASSO objective of the test signals under dictionary ``D``.

    Parameters
    ----------
    D : (M, N) array
        Dictionary, atoms in columns (for the spiking net, ``D = F.T``).
    X : (P, M) array
        Test signals, one per row.
    lam1 : float
        Sparsity weight lambda_1 (the same for every method compared).
    tol, max_iter : float, int
        FISTA stopping rule (see :func:`nonneg_lasso`).
    batch : int
        Signals solved together (memory bound).

    Returns
    -------
    float
        Mean of 1/2 ||x - D a*||^2 + lam1 ||a*||_1 over the rows of ``X``.
    """
    X = np.asarray(X, dtype=np.float64)
    D = np.asarray(D, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != D.shape[0]:
        raise ValueError(f"X must have shape (P, M) with M = {D.shape[0]}, got {X.shape}")
    total = 0.0
    for start in range(0, X.shape[0], batch):
        Xb = X[start:start + batch].T
        A = nonneg_lasso(D, Xb, lam1, tol=tol, max_iter=max_iter)
        total += float(lasso_objective(D, Xb, A, lam1).sum())
    return total / X.shape[0]
