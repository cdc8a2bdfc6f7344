"""Continuous-valued (rate) counterpart of the spiking network (Lin & Tang 2019, App. E).

Eqs (28)-(31): the average current u and rate a of a spiking neuron obey, up to terms that
vanish as t grows, du/dt = beta - u + W a with a = max(u, 0) / theta.  For the two-layer
network of Fig. 1b this gives::

    du/dt = -(1 - gamma) lam1 s + F b - W a - u,      a = max(u, 0) / theta   (coding)
    dv/dt = (1 - gamma) x + gamma B a - v,             b = max(v, 0)           (input)

with W = H - diag(theta).  At gamma = 0 and F^T = B = D, H = D^T D its fixed point is the
non-negative LASSO solution of eq (16) (a locally competitive algorithm with ReLU).
Integrated with forward Euler; used to compare spike rates with their rate-model limit.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from attractorlab.models.spiking_dictionary.params import NetworkParams, check_gamma, check_inputs
from attractorlab.models.spiking_dictionary.weights import SpikingWeights, as_weights

__all__ = ["simulate_rate"]


def simulate_rate(X: Any, weights: SpikingWeights | Mapping[str, Any], params: NetworkParams, *,
                  gamma: tuple[float, float] | None = None, duration: float | None = None,
                  dt: float | None = None) -> dict[str, np.ndarray]:
    """Integrate the rate model for each row of ``X``, two phases per sample.

    Parameters
    ----------
    X : (P, M) array, >= 0
        Inputs.
    weights : SpikingWeights (or a mapping F, B, H[, s])
        As for the spiking network.
    params : NetworkParams
        Constants (lam1, kappa, phase_duration, dt).
    gamma : (float, float), optional
        Gates of the two phases (default ``(0, kappa)``); the state carries over.
    duration, dt : float, optional
        Phase length and Euler step in model time units (default: from ``params``).

    Returns
    -------
    dict
        ``a`` (P, 2, N), ``b`` (P, 2, M): rates at the end of each phase; ``a_mean``,
        ``b_mean``: rates averaged over each phase (what spike counts estimate).
    """
    X = check_inputs(X, params)
    w = as_weights(weights, params.n_input, params.n_coding)
    g = check_gamma(gamma, params)
    T = params.phase_duration if duration is None else float(duration)
    h = params.dt if dt is None else float(dt)
    if not (T > 0 and 0 < h <= T):
        raise ValueError(f"need 0 < dt <= duration, got dt={h}, duration={T}")
    steps = int(round(T / h))
    F, B, H, s = w.F, w.B, w.H, w.s
    theta = np.diag(H)
    W = H - np.diag(theta)
    P = X.shape[0]
    N, M = F.shape
    out = {k: np.zeros((P, 2, n)) for k, n in (("a", N), ("b", M), ("a_mean", N), ("b_mean", M))}
    u = np.zeros((P, N))
    v = np.zeros((P, M))
    for ph, gam in enumerate(g):
        acc_a = np.zeros((P, N))
        acc_b = np.zeros((P, M))
        for _ in range(steps):
            a = np.maximum(u, 0.0) / theta
            b = np.maximum(v, 0.0)
            acc_a += a
            acc_b += b
            du = -(1 - gam) * params.lam1 * s + b @ F.T - a @ W.T - u
            dv = (1 - gam) * X + gam * (a @ B.T) - v
            u = u + h * du
            v = v + h * dv
        out["a"][:, ph] = np.maximum(u, 0.0) / theta
        out["b"][:, ph] = np.maximum(v, 0.0)
        out["a_mean"][:, ph] = acc_a / steps
        out["b_mean"][:, ph] = acc_b / steps
    return out
