"""Measures of Lin & Tang (2019, §4) on learned weights, and the lambda_2 calibration.

* :func:`dictionary_objective` (from :mod:`attractorlab.models.lasso`): the surrogate
  dictionary objective (Mairal et al. 2009) on a test set, mean over x of
  min_{a >= 0} 1/2 ||x - D a||^2 + lam1 ||a||_1 with D = F^T (PAPERS I.7(6): S = I, same
  lam1 for every method), solved by exact coordinate descent (duality gap 1e-8 ||x||^2).
* :func:`consistency`: 1 - ||H - F B||_F / ||H||_F.
* :func:`symmetry`: mean over atoms i of the cosine between row i of F and column i of B.
* :func:`atom_norms`: Euclidean norms of the atoms (rows of F).
* :func:`calibrate_lam2`: the weight decay lambda_2 whose fixed point keeps the mean atom
  norm at 1 (see its docstring for the derivation).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from attractorlab.models.lasso import dictionary_objective, nonneg_codes

__all__ = [
    "dictionary_objective",
    "consistency",
    "symmetry",
    "atom_norms",
    "calibrate_lam2",
    "nonneg_codes",
    "spiking_measures",
]


def consistency(F: np.ndarray, B: np.ndarray, H: np.ndarray) -> float:
    """Weight consistency 1 - ||H - F B||_F / ||H||_F (Fig. 3); 1 when H = F B."""
    F, B, H = (np.asarray(m, dtype=np.float64) for m in (F, B, H))
    return float(1.0 - np.linalg.norm(H - F @ B) / np.linalg.norm(H))


def symmetry(F: np.ndarray, B: np.ndarray) -> float:
    """Mean over atoms i of <F[i, :], B[:, i]> / (||F[i, :]|| ||B[:, i]||) (Fig. 3)."""
    F = np.asarray(F, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    num = np.einsum("ij,ji->i", F, B)
    den = np.linalg.norm(F, axis=1) * np.linalg.norm(B, axis=0)
    return float(np.mean(num / np.maximum(den, 1e-300)))


def atom_norms(F: np.ndarray) -> np.ndarray:
    """Euclidean norm of each atom (row of F, i.e. column of D = F^T)."""
    return np.linalg.norm(np.asarray(F, dtype=np.float64), axis=1)


def calibrate_lam2(X: np.ndarray, lam1: float, D: np.ndarray | None = None, *, n_atoms: int | None = None,
                   n_samples: int = 2000, seed: int = 0) -> float:
    """Weight decay lambda_2 at which unit-norm atoms are a fixed point of the norm dynamics.

    Method. Under eq (11) an atom d_i (column i of B, row i of F) moves by
    -eta (a_i (D a - x) + lambda_2 d_i), so the expected change of ||d_i||^2 is
    -2 eta (E[a_i d_i^T (D a - x)] + lambda_2 ||d_i||^2). For the (weighted) non-negative
    LASSO code, the KKT conditions give d_i^T (x - D a) = lambda_1 s_i whenever a_i > 0,
    hence E[a_i d_i^T (x - D a)] = lambda_1 s_i E[a_i]. With s_i = H_ii = ||d_i||^2 = 1 at
    the target norm, the norm is stationary when lambda_2 = lambda_1 E[a_i]. Averaging over
    atoms (Lin & Tang tune lambda_2 so that the *mean* atom norm converges to about 1):

        lambda_2 = lambda_1 * E_x[ ||a*(x)||_1 ] / N,

    with a*(x) the exact non-negative LASSO code of x under a unit-norm dictionary D.
    The codes of a learned dictionary differ from those of a random one, so ``D`` should
    be a learned unit-norm dictionary; without ``D`` (as the ``lin_tang`` experiments call
    it), a short SGD run (5,000 samples, eta = 0.02, ``n_atoms``
    atoms) provides one.

    Parameters
    ----------
    X : (P, M) array, training signals.
    lam1 : float, sparsity weight.
    D : (M, N) array, optional; its columns are renormalised to unit norm.
    n_atoms : int, optional; dictionary size N of the short SGD run used when D is None.
    n_samples : int, signals used for the average.
    seed : int, choice of the signals.

    Returns
    -------
    float
    """
    X = np.asarray(X, dtype=np.float64)
    if not (np.isfinite(lam1) and lam1 > 0):
        raise ValueError(f"lam1 must be > 0, got {lam1}")
    if D is None:
        if n_atoms is None:
            raise ValueError("give D (a unit-norm dictionary) or n_atoms (for a short SGD run)")
        from attractorlab.models.baselines.sgd_dictionary import sgd_dictionary

        D = sgd_dictionary(X, n_atoms, lam1, 0.02, n_samples=min(5000, 5 * X.shape[0]), seed=seed,
                           snapshots=[0], progress=False)["D"].values[0]
    D = np.asarray(D, dtype=np.float64)
    D = D / np.maximum(np.linalg.norm(D, axis=0, keepdims=True), 1e-12)
    rng = np.random.default_rng(seed)
    idx = rng.choice(X.shape[0], min(n_samples, X.shape[0]), replace=False)
    A = nonneg_codes(D, X[idx], lam1, tol=1e-6)
    return float(lam1 * A.sum(axis=1).mean() / D.shape[1])


def spiking_measures(ds: xr.Dataset, X_test: np.ndarray, lam1: float, *, progress: bool = False) -> xr.Dataset:
    """Objective, consistency, symmetry and atom norms along a ``learn_dictionary`` run.

    Parameters
    ----------
    ds : Dataset from ``learn_dictionary`` (``F_snap, B_snap, H_snap`` along ``snapshot``
         with coordinate ``samples_seen``).
    X_test : (P, M) test signals.
    lam1 : float.

    Returns
    -------
    Dataset over ``snapshot`` (coordinate ``samples_seen``): ``objective``, ``nnz``,
    ``consistency``, ``symmetry``, ``mean_atom_norm``.
    """
    from tqdm.auto import tqdm

    n = ds.sizes["snapshot"]
    out = {k: np.empty(n) for k in ("objective", "nnz", "consistency", "symmetry", "mean_atom_norm")}
    for j in tqdm(range(n), desc="objective", disable=not progress):
        F = ds["F_snap"].values[j]
        B = ds["B_snap"].values[j]
        H = ds["H_snap"].values[j]
        out["objective"][j], out["nnz"][j] = dictionary_objective(F.T, X_test, lam1, return_nnz=True)
        out["consistency"][j] = consistency(F, B, H)
        out["symmetry"][j] = symmetry(F, B)
        out["mean_atom_norm"][j] = atom_norms(F).mean()
    return _measures_dataset(out, ds["samples_seen"].values)


def _measures_dataset(out: dict, samples: np.ndarray) -> xr.Dataset:
    attrs = {
        "objective": {"long_name": "test objective 1/2||x-Da||^2 + lam1||a||_1", "units": "1"},
        "nnz": {"long_name": "mean non-zero coefficients per test signal", "units": "1"},
        "consistency": {"long_name": "consistency 1 - ||H-FB||_F/||H||_F", "units": "1"},
        "symmetry": {"long_name": "symmetry, mean cosine(F row i, B column i)", "units": "1"},
        "mean_atom_norm": {"long_name": "mean atom norm", "units": "1"},
    }
    return xr.Dataset(
        {k: (("snapshot",), np.asarray(v), attrs[k]) for k, v in out.items()},
        coords={"samples_seen": ("snapshot", np.asarray(samples), {"long_name": "training samples seen",
                                                                   "units": "samples"})},
    )
