"""SGD dictionary learning with unit-norm non-negative atoms (the baseline of Lin & Tang 2019, Fig. 4).

For each training sample x (batch size 1, as in the paper):

1. sparse code  a = argmin_{a >= 0} 1/2 ||x - D a||^2 + lam1 ||a||_1   (eq (6) with S = I);
2. gradient step, eq (7) with lambda_2 = 0:  D <- D - eta (D a - x) a^T;
3. projection onto the constraint set: D <- max(D, 0), then every atom (column) is
   rescaled to unit Euclidean norm.

Sparse coding solver (stated, as the brief asks): by default (``coder="cd"``) **exact
coordinate descent** on the non-negative LASSO with the Gram matrix G = D^T D, using
scikit-learn's compiled routine ``sklearn.linear_model._cd_fast.enet_coordinate_descent_gram``
(a private function; stopped at a duality gap below ``code_tol * ||x||^2``). G is kept up to
date incrementally: a step of eq (7) changes only the atoms active in the code, so only
their rows and columns of G are recomputed. ``coder="fista"`` uses FISTA instead (pure
numpy, no private API, started from a = 0, at most ``code_max_iter`` iterations, step 1/L
with L = 1.1 x ||D||_2^2); it is ~40x slower on the coherent random initial dictionaries
(which need hundreds of iterations), so it is meant for small problems. Both are checked
against the FISTA oracle :func:`~attractorlab.models.lasso.nonneg_lasso` in
``tests/test_baselines_dictionary.py``; all three solvers live in :mod:`attractorlab.models.lasso`.

Several learning rates (e.g. eta0, 2 eta0, 0.5 eta0) run in lockstep on the same sample
order: their dictionaries are stacked along a leading axis, so with ``coder="fista"`` each
FISTA iteration is one batched matrix product for all of them (the default coordinate-descent
coder loops over the rates).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import xarray as xr

from attractorlab.models.lasso import _cd_coder, nonneg_lasso_batched, nonneg_lasso_cd

__all__ = ["random_dictionary", "patch_dictionary", "initial_dictionary", "check_dict_init", "DICT_INITS",
           "sgd_dictionary", "default_snapshots"]


def random_dictionary(n_input: int, n_atoms: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """A random non-negative dictionary with unit-norm atoms (PAPERS I.7(7): U[0, 1], normalised).

    Returns
    -------
    (n_input, n_atoms) float64 array, atoms in columns.
    """
    if n_input < 1 or n_atoms < 1:
        raise ValueError(f"n_input and n_atoms must be >= 1, got {n_input}, {n_atoms}")
    rng = np.random.default_rng(seed)
    D = rng.uniform(0.0, 1.0, size=(n_input, n_atoms))
    return D / np.linalg.norm(D, axis=0, keepdims=True)


def patch_dictionary(X: np.ndarray, n_atoms: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """A dictionary of ``n_atoms`` training signals drawn without replacement, each scaled to
    unit norm (the usual data initialisation of dictionary learning; not the paper's).

    With a uniform random start (:func:`random_dictionary`) every atom points nearly the same
    way (pairwise cosine ~0.75); at a strong lambda_1 a few atoms win every sample and the rest
    are never recruited. Atoms drawn from the data start apart, each near some signal.

    Parameters
    ----------
    X : (P, M) array, non-negative
        Training signals in rows (those with zero norm are never drawn).
    n_atoms : int
        Number of atoms, at most the number of signals with non-zero norm.
    seed : int or Generator
        Which signals are drawn.

    Returns
    -------
    (M, n_atoms) float64 array, atoms in columns.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or np.any(X < 0):
        raise ValueError(f"X must be a non-negative (samples, inputs) array, got shape {X.shape}")
    norms = np.linalg.norm(X, axis=1)
    usable = np.flatnonzero(norms > 0)
    if not 1 <= n_atoms <= len(usable):
        raise ValueError(f"n_atoms must be between 1 and the {len(usable)} signals with non-zero norm, got {n_atoms}")
    idx = np.random.default_rng(seed).choice(usable, size=n_atoms, replace=False)
    return (X[idx] / norms[idx, None]).T.copy()


#: Initial dictionaries of a Lin & Tang run (``dict_init``): the paper's uniform random start
#: or training signals (:func:`patch_dictionary`).
DICT_INITS = ("uniform", "patches")


def check_dict_init(kind: str) -> None:
    """Raise ValueError naming ``dict_init`` unless ``kind`` is one of :data:`DICT_INITS`."""
    if kind not in DICT_INITS:
        raise ValueError(f"dict_init must be 'uniform' or 'patches', got {kind!r}")


def initial_dictionary(kind: str, X: np.ndarray, n_atoms: int, seed: int) -> np.ndarray:
    """The initial dictionary D0 of a run: ``"uniform"`` -> :func:`random_dictionary` with
    ``seed``; ``"patches"`` -> :func:`patch_dictionary` of the training signals ``X`` with
    ``seed + 5`` (a stream apart from the seeds of the patch positions and sample order)."""
    check_dict_init(kind)
    if kind == "patches":
        return patch_dictionary(X, n_atoms, seed + 5)
    return random_dictionary(np.shape(X)[1], n_atoms, seed)


def default_snapshots(n_samples: int) -> np.ndarray:
    """Sample counts 0, 1-2-5 steps per decade over the last three decades, and ``n_samples``.

    E.g. 100,000 gives 0, 100, 200, 500, 1000, ..., 50,000, 100,000 (Fig. 4's log axis).
    """
    lo = max(1.0, n_samples / 1000.0)
    marks = [0, n_samples] + [m * 10**k for k in range(0, 12) for m in (1, 2, 5)
                              if lo <= m * 10**k < n_samples]
    return np.unique(np.asarray(marks, dtype=np.int64))


def sgd_dictionary(
    X: np.ndarray,
    n_atoms: int,
    lam1: float,
    eta: float | Sequence[float],
    *,
    n_samples: int | None = None,
    D0: np.ndarray | None = None,
    seed: int = 0,
    snapshots: Sequence[int] | None = None,
    coder: str = "cd",
    code_tol: float | None = None,
    code_max_iter: int | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Online (batch size 1) SGD dictionary learning with non-negative unit-norm atoms.

    Parameters
    ----------
    X : (P, M) array
        Training signals, one per row (non-negative for the Lin & Tang data sets).
    n_atoms : int
        Number of atoms N.
    lam1 : float
        Sparsity weight lambda_1 of the non-negative LASSO (> 0).
    eta : float or sequence of floats
        Learning rate(s); several rates run on the same sample order (dimension ``eta``).
    n_samples : int, optional
        Number of SGD steps (samples seen); default P. Samples are visited in a random
        permutation (``seed``), reshuffled after each pass.
    D0 : (M, N) array, optional
        Initial dictionary; default :func:`random_dictionary` with ``seed``.
    seed : int
        Seed of the initial dictionary and of the sample order.
    snapshots : sequence of int, optional
        Sample counts at which the dictionary is stored; default :func:`default_snapshots`.
    coder : {"cd", "fista"}
        Per-sample sparse coder (see module docstring).
    code_tol, code_max_iter : float, int, optional
        Coder stopping rule: duality gap below ``code_tol * ||x||^2`` (cd, default 1e-6,
        1000 sweeps) or largest coefficient change below ``code_tol`` (fista, default 1e-4,
        300 iterations).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    xarray.Dataset
        ``D`` (eta, pixel, atom): final dictionaries; ``D_snapshots`` (eta, snapshot, pixel, atom)
        with coordinate ``snapshot`` = samples seen; ``nnz`` (eta, snapshot): mean number of
        non-zero coefficients per sample since the previous snapshot; attrs name the coder.
    """
    cfg = _SGDConfig.check(X, n_atoms, lam1, eta, n_samples, D0, seed, snapshots, coder, code_tol, code_max_iter)
    from tqdm.auto import tqdm

    X = cfg.X
    run = _SGDRun(cfg)
    rng = np.random.default_rng(seed)
    order = rng.permutation(cfg.P)
    bar = tqdm(total=cfg.n_samples, desc="SGD dictionary", unit="sample", disable=not progress, mininterval=1.0)
    pos = 0
    for step in range(1, cfg.n_samples + 1):
        if pos == cfg.P:
            order = rng.permutation(cfg.P)
            pos = 0
        x = X[order[pos]]
        pos += 1
        run.step(step, x)
        bar.update(1)
    bar.close()
    return run.dataset()


@dataclasses.dataclass
class _SGDConfig:
    """Validated arguments of :func:`sgd_dictionary`."""

    X: np.ndarray
    P: int
    M: int
    n_atoms: int
    lam1: float
    etas: np.ndarray
    n_samples: int
    D0: np.ndarray
    seed: int
    snaps: np.ndarray
    coder: str
    code_tol: float
    code_max_iter: int

    @classmethod
    def check(cls, X, n_atoms, lam1, eta, n_samples, D0, seed, snapshots, coder, code_tol,
              code_max_iter) -> "_SGDConfig":
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 1:
            raise ValueError(f"X must be a non-empty (P, M) array, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("X must be finite")
        P, M = X.shape
        if n_atoms < 1:
            raise ValueError(f"n_atoms must be >= 1, got {n_atoms}")
        if not (np.isfinite(lam1) and lam1 > 0):
            raise ValueError(f"lam1 must be > 0, got {lam1}")
        etas = np.atleast_1d(np.asarray(eta, dtype=np.float64))
        if etas.ndim != 1 or not (np.isfinite(etas).all() and (etas > 0).all()):
            raise ValueError(f"eta must be a positive number or sequence of positive numbers, got {eta!r}")
        if coder not in ("cd", "fista"):
            raise ValueError(f"coder must be 'cd' or 'fista', got {coder!r}")
        if coder == "cd" and _cd_coder() is None:  # pragma: no cover
            raise ValueError("coder='cd' needs scikit-learn's enet_coordinate_descent_gram; use coder='fista'")
        if code_tol is None:
            code_tol = 1e-6 if coder == "cd" else 1e-4
        if code_max_iter is None:
            code_max_iter = 1000 if coder == "cd" else 300
        n_samples = P if n_samples is None else int(n_samples)
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        if D0 is None:
            D0 = random_dictionary(M, n_atoms, seed)
        D0 = np.asarray(D0, dtype=np.float64)
        if D0.shape != (M, n_atoms) or (D0 < 0).any():
            raise ValueError(f"D0 must be a non-negative ({M}, {n_atoms}) array, got shape {D0.shape}")
        snaps = (default_snapshots(n_samples) if snapshots is None
                 else np.unique(np.asarray(snapshots, dtype=np.int64)))
        if snaps.size == 0 or snaps.min() < 0 or snaps.max() > n_samples:
            raise ValueError(f"snapshots must lie in [0, n_samples={n_samples}], got {snapshots!r}")
        return cls(X, P, M, int(n_atoms), float(lam1), etas, n_samples, D0, int(seed), snaps, coder,
                   float(code_tol), int(code_max_iter))


class _SGDRun:
    """State of the K lockstep SGD runs: dictionaries, the coder's cache, snapshots."""

    def __init__(self, cfg: _SGDConfig) -> None:
        self.cfg = cfg
        K = cfg.etas.size
        self.D = np.repeat(cfg.D0[None], K, axis=0).copy()
        self.cd = _cd_coder() if cfg.coder == "cd" else None
        if cfg.coder == "cd":
            self.G = np.stack([np.ascontiguousarray(Dk.T @ Dk) for Dk in self.D])
        else:
            self.L = self._lipschitz()
        self.snap_D = np.empty((K, cfg.snaps.size, cfg.M, cfg.n_atoms))
        self.nnz = np.full((K, cfg.snaps.size), np.nan)
        self.nnz_acc = np.zeros(K)
        self.nnz_count = 0
        self.si = 0
        if cfg.snaps[0] == 0:
            self.snap_D[:, 0] = self.D
            self.si = 1

    def _lipschitz(self) -> np.ndarray:
        return np.array([np.linalg.norm(Dk, 2) ** 2 for Dk in self.D]) * 1.1

    def code(self, step: int, x: np.ndarray) -> np.ndarray:
        """Codes (K, N) of ``x`` under the K dictionaries (step 1)."""
        cfg = self.cfg
        if cfg.coder == "fista":
            if step % 100 == 0:
                self.L = self._lipschitz()
            a, _ = nonneg_lasso_batched(self.D, x, cfg.lam1, self.L, tol=cfg.code_tol, max_iter=cfg.code_max_iter)
            return a
        return np.stack([nonneg_lasso_cd(self.G[k], self.D[k].T @ x, x, cfg.lam1, tol=cfg.code_tol,
                                         max_iter=cfg.code_max_iter, _cd=self.cd) for k in range(len(self.D))])

    def update(self, k: int, a: np.ndarray, x: np.ndarray) -> None:
        """Steps 2-3 for dictionary k: eq (7) with lambda_2 = 0 on the active atoms, projection."""
        act = np.flatnonzero(a > 0)
        if act.size == 0:
            return
        # eq (7) with lambda_2 = 0: D <- D - eta (D a - x) a^T; only active atoms move
        Dk = self.D[k]
        r = Dk[:, act] @ a[act] - x
        cols = Dk[:, act] - self.cfg.etas[k] * np.outer(r, a[act])
        np.maximum(cols, 0.0, out=cols)
        cols /= np.maximum(np.linalg.norm(cols, axis=0, keepdims=True), 1e-12)
        Dk[:, act] = cols
        if self.cfg.coder == "cd":
            g = Dk.T @ cols
            self.G[k][:, act] = g
            self.G[k][act, :] = g.T

    def step(self, step: int, x: np.ndarray) -> None:
        """One sample: code, update every dictionary, snapshot when due."""
        a = self.code(step, x)
        self.nnz_acc += (a > 0).sum(axis=1)
        self.nnz_count += 1
        for k in range(len(self.D)):
            self.update(k, a[k], x)
        snaps = self.cfg.snaps
        if self.si < snaps.size and step == snaps[self.si]:
            self.snap_D[:, self.si] = self.D
            self.nnz[:, self.si] = self.nnz_acc / max(self.nnz_count, 1)
            self.nnz_acc[:] = 0
            self.nnz_count = 0
            self.si += 1

    def dataset(self) -> xr.Dataset:
        cfg = self.cfg
        solver = (f"coordinate descent on the Gram matrix (sklearn enet_coordinate_descent_gram), exact to "
                  f"duality gap {cfg.code_tol}*||x||^2" if cfg.coder == "cd" else
                  f"FISTA from a=0, tol={cfg.code_tol}, max_iter={cfg.code_max_iter}, L=1.1*||D||_2^2")
        return xr.Dataset(
            {
                "D": (("eta", "pixel", "atom"), self.D.copy(),
                      {"long_name": "learned dictionary (atoms in columns)", "units": "1"}),
                "D_snapshots": (("eta", "snapshot", "pixel", "atom"), self.snap_D,
                                {"long_name": "dictionary during learning", "units": "1"}),
                "nnz": (("eta", "snapshot"), self.nnz,
                        {"long_name": "mean non-zero coefficients per sample since previous snapshot",
                         "units": "1"}),
            },
            coords={
                "eta": ("eta", cfg.etas, {"long_name": "learning rate", "units": "1"}),
                "snapshot": ("snapshot", cfg.snaps, {"long_name": "training samples seen", "units": "samples"}),
            },
            attrs={
                "method": "SGD, batch size 1, unit-norm non-negative atoms (Lin & Tang 2019 eq 7)",
                "coding_solver": solver,
                "lam1": float(cfg.lam1),
                "n_samples": int(cfg.n_samples),
                "seed": int(cfg.seed),
            },
        )
