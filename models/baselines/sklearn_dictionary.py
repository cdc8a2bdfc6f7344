"""scikit-learn's online dictionary learner (Mairal et al. 2009) on the Lin & Tang objective.

:class:`sklearn.decomposition.MiniBatchDictionaryLearning` minimises, per mini-batch,
``1/2 ||X - U V||_F^2 + alpha ||U||_{1,1}`` with atoms (rows of V) of norm <= 1. Its
coordinate-descent coder divides ``alpha`` by ``n_features`` internally to undo the
``1/(2 n)`` scaling of :class:`sklearn.linear_model.Lasso`, so ``alpha = lam1`` is exactly
the lambda_1 of ``1/2 ||x - D a||^2 + lam1 ||a||_1`` used for the surrogate objective (checked
in ``tests/test_baselines_dictionary.py`` against the FISTA oracle). Codes and dictionary
are constrained non-negative (``positive_code=True``, ``positive_dict=True``); the coder is
coordinate descent (``fit_algorithm="cd"``), the only one sklearn allows with positive codes.

Snapshots of the dictionary are taken between ``partial_fit`` calls.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import xarray as xr

from attractorlab.models.baselines.sgd_dictionary import default_snapshots, random_dictionary

__all__ = ["sklearn_dictionary", "sklearn_sparse_code"]


def sklearn_sparse_code(D: np.ndarray, X: np.ndarray, lam1: float) -> np.ndarray:
    """Non-negative LASSO codes by scikit-learn's coordinate descent.

    Parameters
    ----------
    D : (M, N) array, atoms in columns.
    X : (P, M) array, signals in rows.
    lam1 : float, the lambda_1 of 1/2 ||x - D a||^2 + lam1 ||a||_1.

    Returns
    -------
    (P, N) array of codes.
    """
    from sklearn.decomposition import sparse_encode

    return sparse_encode(np.asarray(X, dtype=np.float64), np.asarray(D, dtype=np.float64).T,
                         algorithm="lasso_cd", alpha=lam1, positive=True, max_iter=2000)


def sklearn_dictionary(
    X: np.ndarray,
    n_atoms: int,
    lam1: float,
    *,
    n_samples: int | None = None,
    batch_size: int = 256,
    D0: np.ndarray | None = None,
    seed: int = 0,
    snapshots: Sequence[int] | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Learn a non-negative dictionary with ``MiniBatchDictionaryLearning.partial_fit``.

    Parameters
    ----------
    X : (P, M) array
        Training signals in rows.
    n_atoms : int
        Number of atoms N.
    lam1 : float
        Sparsity weight (sklearn's ``alpha``; same scaling as the surrogate objective).
    n_samples : int, optional
        Samples to present (default P); drawn as a random permutation (reshuffled per pass).
    batch_size : int
        Mini-batch size (sklearn's default 256; the paper's SGD uses 1).
    D0 : (M, N) array, optional
        Initial dictionary; default :func:`random_dictionary` with ``seed`` (same as the SGD
        baseline and the spiking net's consistent init for a given seed).
    seed : int
        Seed of the sample order, the initial dictionary and sklearn's ``random_state``.
    snapshots : sequence of int, optional
        Sample counts at which to store the dictionary (rounded up to whole batches);
        default :func:`~attractorlab.models.baselines.sgd_dictionary.default_snapshots`.
    progress : bool
        tqdm progress bar.

    Returns
    -------
    xarray.Dataset
        ``D`` (pixel, atom) final dictionary and ``D_snapshots`` (snapshot, pixel, atom) with
        coordinate ``snapshot`` = samples seen.
    """
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from tqdm.auto import tqdm

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"X must be a non-empty (P, M) array, got shape {X.shape}")
    P, M = X.shape
    if n_atoms < 1:
        raise ValueError(f"n_atoms must be >= 1, got {n_atoms}")
    if not (np.isfinite(lam1) and lam1 > 0):
        raise ValueError(f"lam1 must be > 0, got {lam1}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n_samples = P if n_samples is None else int(n_samples)
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    D0 = random_dictionary(M, n_atoms, seed) if D0 is None else np.asarray(D0, dtype=np.float64)
    if D0.shape != (M, n_atoms):
        raise ValueError(f"D0 must have shape ({M}, {n_atoms}), got {D0.shape}")
    want = default_snapshots(n_samples) if snapshots is None else np.unique(np.asarray(snapshots, dtype=np.int64))
    if want.size == 0 or want.min() < 0 or want.max() > n_samples:
        raise ValueError(f"snapshots must lie in [0, n_samples={n_samples}], got {snapshots!r}")

    learner = MiniBatchDictionaryLearning(
        n_components=n_atoms, alpha=lam1, batch_size=batch_size, positive_code=True,
        positive_dict=True, fit_algorithm="cd", transform_algorithm="lasso_cd",
        transform_alpha=lam1, dict_init=D0.T.copy(), random_state=seed,
    )
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(P)
    pos = 0
    seen = 0
    got_snaps: list[int] = []
    got_D: list[np.ndarray] = []
    wi = 0
    if want[0] == 0:
        got_snaps.append(0)
        got_D.append(D0.copy())
        wi = 1
    bar = tqdm(total=n_samples, desc="sklearn dictionary", unit="sample", disable=not progress, mininterval=1.0)
    while seen < n_samples:
        nb = min(batch_size, n_samples - seen)
        idx = []
        while len(idx) < nb:
            take = min(nb - len(idx), P - pos)
            idx.extend(order[pos:pos + take])
            pos += take
            if pos == P:
                order = rng.permutation(P)
                pos = 0
        learner.partial_fit(X[np.asarray(idx)])
        seen += nb
        bar.update(nb)
        while wi < want.size and want[wi] <= seen:
            wi += 1
            got_snaps.append(seen)
            got_D.append(learner.components_.T.copy())
    bar.close()
    snaps, first = np.unique(np.asarray(got_snaps), return_index=True)
    D_snap = np.stack([got_D[i] for i in first])
    return xr.Dataset(
        {
            "D": (("pixel", "atom"), learner.components_.T.copy(),
                  {"long_name": "learned dictionary (atoms in columns)", "units": "1"}),
            "D_snapshots": (("snapshot", "pixel", "atom"), D_snap,
                            {"long_name": "dictionary during learning", "units": "1"}),
        },
        coords={"snapshot": ("snapshot", snaps, {"long_name": "training samples seen", "units": "samples"})},
        attrs={
            "method": "sklearn MiniBatchDictionaryLearning (positive code and dictionary, cd coder)",
            "lam1": float(lam1), "batch_size": int(batch_size), "n_samples": int(n_samples), "seed": int(seed),
        },
    )
