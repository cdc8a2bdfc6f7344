"""Plain numpy simulation of the Lin & Tang network and of Algorithm 1 (test oracle).

Independent of Brian2: it integrates the same discrete equations (forward Euler, step
``dt``) in Brian2's schedule order for each step t_n = n dt:

1. ``start``: at a phase boundary, phase totals are stored and the counters reset; at a
   sample boundary mu = rho = 0; after a full sample Algorithm 1 is applied (learning);
2. ``groups``: mu += dt (beta - mu), rho += dt mu_old, U += dt mu_old (all from the old
   state);
3. ``thresholds``: coding spikes where rho >= theta, input spikes where rho >= 1;
4. ``synapses``: mu_coding += F s_in - W s_cod; mu_input += gamma B s_cod;
5. ``resets``: rho = 0 and the spike counter += 1 for the neurons that spiked.

Algorithm 1 (:func:`algorithm1_update`) is written from the paper's matrix formulas
(eqs 9-12), not from the per-synapse code of the simulation.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from attractorlab.models.spiking_dictionary.params import (LearningParams, NetworkParams, check_gamma, check_inputs,
                                                           warn_if_saturated)
from attractorlab.models.spiking_dictionary.weights import SpikingWeights, as_weights

__all__ = ["simulate_sample", "simulate_reference", "algorithm1_update", "learn_reference"]


def simulate_sample(x: np.ndarray, w: SpikingWeights, params: NetworkParams,
                    gamma: tuple[float, float]) -> dict[str, np.ndarray]:
    """Simulate one sample (two phases, start state mu = rho = 0).

    Returns
    -------
    dict
        ``cnt_coding`` (2, N), ``cnt_input`` (2, M) spike counts, ``U`` (2, N), ``V`` (2, M)
        integrals of the current over each phase, ``inh`` (2, N) = W @ counts.
    """
    F, B, H, s = w.F, w.B, w.H, w.s
    theta = np.diag(H).copy()
    W = H - np.diag(theta)
    N, M = F.shape
    dt = params.dt
    S = params.steps_per_phase
    mu_c = np.zeros(N)
    rho_c = np.zeros(N)
    mu_i = np.zeros(M)
    rho_i = np.zeros(M)
    out = {"cnt_coding": np.zeros((2, N)), "cnt_input": np.zeros((2, M)),
           "U": np.zeros((2, N)), "V": np.zeros((2, M)), "inh": np.zeros((2, N))}
    for ph in range(2):
        g = gamma[ph]
        beta_c = -(1.0 - g) * params.lam1 * s
        beta_i = (1.0 - g) * x
        cc = out["cnt_coding"][ph]
        ci = out["cnt_input"][ph]
        U = out["U"][ph]
        V = out["V"][ph]
        for _ in range(S):
            U += dt * mu_c
            V += dt * mu_i
            new_mu_c = mu_c + dt * (beta_c - mu_c)
            rho_c = rho_c + dt * mu_c
            new_mu_i = mu_i + dt * (beta_i - mu_i)
            rho_i = rho_i + dt * mu_i
            mu_c, mu_i = new_mu_c, new_mu_i
            sc = rho_c >= theta
            si = rho_i >= 1.0
            if sc.any() or si.any():
                fc = sc.astype(np.float64)
                fi = si.astype(np.float64)
                mu_c = mu_c + F @ fi - W @ fc
                mu_i = mu_i + g * (B @ fc)
                rho_c[sc] = 0.0
                rho_i[si] = 0.0
                cc += fc
                ci += fi
        out["inh"][ph] = W @ cc
    return out


def simulate_reference(X: Any, weights: SpikingWeights | Mapping[str, Any], params: NetworkParams,
                       gamma: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
    """Simulate every row of ``X`` with fixed weights.

    Returns
    -------
    dict
        ``a`` (P, 2, N), ``b`` (P, 2, M) rates; ``u`` (P, 2, N), ``v`` (P, 2, M) mean
        currents; ``e = u - theta a``; ``cnt_coding``, ``cnt_input`` counts.
    """
    X = check_inputs(X, params)
    warn_if_saturated(X, params, stacklevel=2)
    w = as_weights(weights, params.n_input, params.n_coding)
    g = check_gamma(gamma, params)
    res = [simulate_sample(x, w, params, g) for x in X]
    out = {k: np.stack([r[k] for r in res]) for k in res[0]}
    T = params.phase_duration
    out["a"] = out["cnt_coding"] / T
    out["b"] = out["cnt_input"] / T
    out["u"] = out["U"] / T
    out["v"] = out["V"] / T
    out["e"] = out["u"] - np.diag(w.H)[None, None, :] * out["a"]
    return out


def algorithm1_update(w: SpikingWeights, sample: Mapping[str, np.ndarray],
                      params: NetworkParams, learning: LearningParams, p: int,
                      gain: float | None = None) -> SpikingWeights:
    """One step of Algorithm 1 (eqs 9-12 and the projection) from one sample's statistics.

    Parameters
    ----------
    w : SpikingWeights
        Current weights.
    sample : dict
        ``cnt_coding`` (2, N), ``cnt_input`` (2, M), ``U`` (2, N) of the sample, simulated
        with ``w`` at gamma = (0, kappa).
    p : int
        Number of samples seen before this one (learning-rate schedule).
    gain : float, optional
        Gain of the unit-norm lambda_2 rule (default ``learning.lam2_gain``).

    Returns
    -------
    SpikingWeights
        Updated weights (s = diag(H)).
    """
    T = params.phase_duration
    kap = params.kappa
    kc = 1.0 - kap
    F, B, H = w.F, w.B, w.H
    theta = np.diag(H)
    a0, ak = sample["cnt_coding"] / T
    b0, bk = sample["cnt_input"] / T
    u0, uk = sample["U"] / T
    e0, ek = u0 - theta * a0, uk - theta * ak
    etaD, etaH = learning.rates_at(p)
    if gain is not None:
        learning = dataclasses.replace(learning, lam2_gain=gain)
    lam2 = learning.decay_per_atom(params.lam1, ak, theta)   # (N,): lambda_2 of each atom
    gD = bk - b0                                              # eq (9)
    gH = kc * H @ (a0 - ak) + (kc * e0 - ek)                  # eq (10)
    F_new = F - etaD * (np.outer(ak, gD) / kap + lam2[:, None] * F)    # eq (11)
    B_new = B - etaD * (np.outer(gD, ak) / kap + lam2[None, :] * B)
    H_new = H - etaH * np.outer(gH, ak) / kap - etaD * (lam2[:, None] + lam2[None, :]) * H   # eq (12)
    F_new = np.maximum(F_new, 0.0)
    B_new = np.maximum(B_new, 0.0)
    th = np.maximum(np.diag(H_new), params.theta_min)
    H_new = np.maximum(H_new, 0.0)
    H_new[np.diag_indices_from(H_new)] = th
    return SpikingWeights(F_new, B_new, H_new, th.copy())


def learn_reference(X: Any, weights: SpikingWeights | Mapping[str, Any], params: NetworkParams,
                    learning: LearningParams, p_offset: int = 0) -> tuple[SpikingWeights, list[dict]]:
    """Algorithm 1 with the numpy oracle: simulate each sample, then update (the gain of
    the unit-norm rule stays at ``learning.lam2_gain``: it is adapted between chunks only).

    Returns the final weights and the per-sample statistics (spike counts) used.
    """
    X = check_inputs(X, params)
    w = as_weights(weights, params.n_input, params.n_coding)
    stats = []
    for k, x in enumerate(X):
        st = simulate_sample(x, w, params, (0.0, params.kappa))
        stats.append(st)
        w = algorithm1_update(w, st, params, learning, p_offset + k)
    return w, stats
