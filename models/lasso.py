"""The non-negative LASSO: one module for every place that solves it.

Solves, for a signal x and a non-negative dictionary D (atoms in columns),

    a* = argmin_{a >= 0}  1/2 ||x - D a||^2 + lam ||S a||_1,    S = diag(s), s >= 0,

which is eq (16) of Lin & Tang (2019); s = 1 gives the plain non-negative LASSO of eq (6).
Its users: the dictionary-learning test objective (Mairal et al. 2009, Lin & Tang Fig. 4),
the SGD baseline's per-sample coder, denoising (Fig. 7) and the tests' oracle.

Solvers
-------
* :func:`nonneg_lasso`: FISTA (Beck & Teboulle 2009), weighted l1, many signals at once;
  pure numpy, the exact oracle of the tests (slow on coherent dictionaries).
* :func:`nonneg_lasso_batched`: FISTA for one signal under K stacked dictionaries (the SGD
  baseline's ``coder="fista"``, several learning rates in lockstep).
* :func:`nonneg_lasso_cd`: exact coordinate descent on the Gram matrix for one signal
  (scikit-learn's compiled ``enet_coordinate_descent_gram``, a private function; stopped at
  a duality gap below ``tol * ||x||^2``).
* :func:`nonneg_codes`: :func:`nonneg_lasso_cd` for every row of X (the objective and
  denoising), ~25x faster than FISTA on the coherent dictionaries of this paper and exact
  like it (checked in ``tests/test_lasso.py``).

Objectives
----------
* :func:`lasso_objective`: per-signal 1/2 ||x - D a||^2 + lam ||a||_1.
* :func:`dictionary_objective`: the surrogate objective, mean over test signals of
  min_{a >= 0} 1/2 ||x - D a||^2 + lam1 ||a||_1 (coordinate descent; optionally the mean
  number of non-zeros); :func:`surrogate_objective` is the same quantity by FISTA.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "nonneg_lasso",
    "nonneg_lasso_batched",
    "nonneg_lasso_cd",
    "nonneg_codes",
    "lasso_objective",
    "dictionary_objective",
    "surrogate_objective",
    "cd_available",
]


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


# --------------------------------------------------------------------------------------
# FISTA
# --------------------------------------------------------------------------------------
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
    """Solve the non-negative (weighted) LASSO for every column of ``X`` by FISTA.

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


def nonneg_lasso_batched(
    D: np.ndarray,
    x: np.ndarray,
    lam: float,
    L: np.ndarray,
    *,
    tol: float = 1e-4,
    max_iter: int = 300,
) -> tuple[np.ndarray, int]:
    """FISTA for one signal under K stacked dictionaries.

    Parameters
    ----------
    D : (K, M, N) array
        K dictionaries, atoms in columns.
    x : (M,) array
        Signal.
    lam : float
        l1 weight.
    L : (K,) array
        Step-size constants (upper bounds of ||D_k||_2^2).
    tol, max_iter
        Stopping rule: largest coefficient change below ``tol * max(1, max a)``.

    Returns
    -------
    a : (K, N) array of non-negative codes, and the number of iterations used.
    """
    K, M, N = D.shape
    Dt = D.transpose(0, 2, 1)
    Dtx = Dt @ x  # (K, N)
    invL = (1.0 / L)[:, None]
    thr = lam * invL
    a = np.zeros((K, N))
    y = a
    t = 1.0
    it = 0
    for it in range(1, max_iter + 1):
        grad = (Dt @ (D @ y[:, :, None]))[:, :, 0] - Dtx
        a_new = np.maximum(y - grad * invL - thr, 0.0)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        diff = a_new - a
        y = a_new + ((t - 1.0) / t_new) * diff
        a = a_new
        t = t_new
        if np.max(np.abs(diff)) < tol * max(1.0, float(a.max(initial=0.0))):
            break
    return a, it


# --------------------------------------------------------------------------------------
# Coordinate descent
# --------------------------------------------------------------------------------------
def _cd_coder():
    """scikit-learn's compiled Gram coordinate descent, or None when unavailable."""
    try:
        from sklearn.linear_model._cd_fast import enet_coordinate_descent_gram
    except ImportError:  # pragma: no cover - depends on the sklearn version
        return None
    return enet_coordinate_descent_gram


def cd_available() -> bool:
    """Whether the compiled coordinate-descent routine of scikit-learn can be used."""
    return _cd_coder() is not None


def nonneg_lasso_cd(G: np.ndarray, Dtx: np.ndarray, x: np.ndarray, lam: float, *,
                    tol: float = 1e-6, max_iter: int = 1000, _cd=None) -> np.ndarray:
    """Exact non-negative LASSO of one signal by coordinate descent on the Gram matrix.

    Parameters
    ----------
    G : (N, N) C-contiguous array, D^T D.
    Dtx : (N,) array, D^T x.
    x : (M,) array, the signal (used for the duality-gap tolerance ``tol * ||x||^2``).
    lam : float, l1 weight.

    Returns
    -------
    (N,) array of non-negative codes.
    """
    cd = _cd or _cd_coder()
    if cd is None:
        raise RuntimeError("scikit-learn's enet_coordinate_descent_gram is unavailable; use the FISTA solvers")
    w = np.zeros(G.shape[0])
    cd(w, float(lam), 0.0, G, np.ascontiguousarray(Dtx), np.ascontiguousarray(x), int(max_iter), float(tol),
       np.random.RandomState(0), 0, 1)
    return np.maximum(w, 0.0)


def nonneg_codes(D: np.ndarray, X: np.ndarray, lam1: float, *, tol: float = 1e-8,
                 max_iter: int = 5000) -> np.ndarray:
    """Exact non-negative LASSO codes of the rows of ``X`` (P, M) under ``D`` (M, N) -> (P, N)."""
    D = np.asarray(D, dtype=np.float64)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if X.shape[1] != D.shape[0]:
        raise ValueError(f"X must have shape (P, {D.shape[0]}), got {X.shape}")
    cd = _cd_coder()
    if cd is None:  # pragma: no cover - public fallback (sklearn's own tolerance)
        from sklearn.decomposition import sparse_encode

        return sparse_encode(X, D.T, algorithm="lasso_cd", alpha=lam1, positive=True, max_iter=max_iter)
    G = np.ascontiguousarray(D.T @ D)
    DtX = X @ D
    out = np.zeros((X.shape[0], D.shape[1]))
    for p in range(X.shape[0]):
        out[p] = nonneg_lasso_cd(G, DtX[p], X[p], lam1, tol=tol, max_iter=max_iter, _cd=cd)
    return out


# --------------------------------------------------------------------------------------
# Objectives
# --------------------------------------------------------------------------------------
def lasso_objective(D: np.ndarray, X: np.ndarray, A: np.ndarray, lam: float) -> np.ndarray:
    """Per-sample value of 1/2 ||x - D a||^2 + lam ||a||_1 (columns of X and A)."""
    D = np.asarray(D, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64).reshape(D.shape[0], -1)
    A = np.asarray(A, dtype=np.float64).reshape(D.shape[1], -1)
    R = X - D @ A
    return 0.5 * np.sum(R * R, axis=0) + lam * np.sum(np.abs(A), axis=0)


def dictionary_objective(D: np.ndarray, X: np.ndarray, lam1: float, *, return_nnz: bool = False,
                         tol: float = 1e-8, per_sample: bool = False):
    """Surrogate objective: mean over rows x of X of min_{a>=0} 1/2||x - Da||^2 + lam1||a||_1.

    Parameters
    ----------
    D : (M, N) array, atoms in columns (for the spiking net ``D = F.T``).
    X : (P, M) array, test signals.
    lam1 : float, sparsity weight (> 0).
    return_nnz : bool, also return the mean number of non-zero coefficients per signal.
    per_sample : bool, return the (P,) values per signal (and non-zeros per signal) instead
        of their means, for paired tests between dictionaries.

    Returns
    -------
    float (and float) -- objective in the units of 1/2 ||x||^2; arrays with ``per_sample``.
    """
    if not (np.isfinite(lam1) and lam1 > 0):
        raise ValueError(f"lam1 must be > 0, got {lam1}")
    D = np.asarray(D, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    A = nonneg_codes(D, X, lam1, tol=tol)
    R = X - A @ D.T
    obj = 0.5 * np.sum(R * R, axis=1) + lam1 * A.sum(axis=1)
    nnz = (A > 0).sum(axis=1)
    if not per_sample:
        obj, nnz = float(np.mean(obj)), float(np.mean(nnz))
    return (obj, nnz) if return_nnz else obj


def surrogate_objective(D: np.ndarray, X: np.ndarray, lam1: float, *, tol: float = 1e-8,
                        max_iter: int = 5000, batch: int = 2000) -> float:
    """:func:`dictionary_objective` solved by FISTA (the oracle; slower).

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
