r"""CBAN training losses ([CB] §3.2-3.3, App B) and their temporal-difference forms.

All losses compare the target visible state ``y`` with the *unclamped* visible value
``ṽ = f(v_net)``, ``v_net = down_0(h) + b^0`` (clamped units count too, §3.2):

``"se"``
    ``L_SE = mean_i w_i (ṽ_i - y_i)²`` per sample (a weighted mean, PAPERS II.7(10)).
``"delta_e"``
    ``L_ΔE = E(y, h) - E(ṽ, h) = sum_i w_i [f^{-1}(ṽ_i)(ṽ_i - y_i) + rho(y_i) - rho(ṽ_i)]``
    (App B.1; ``f^{-1}(ṽ)`` is ``v_net`` exactly). It is >= 0.
``"hinge"``
    ``max(0, L_ΔE)`` (App B.1).
``"delta_e_plus"``
    ``L_ΔE+ = log(1 + exp(L_ΔE))`` (App B.2; minimum log 2).

Over a settling trajectory of states ``t = 1..T`` (:func:`trajectory_loss`):

``"td1"``
    transient TD(1): the loss at every iteration, averaged over iterations (BPTT through
    all of them; used for every paper run).
``"td_lambda"``
    the loss at iteration ``t`` uses target ``z_t`` with ``z_T = y`` and
    ``z_t = (1 - λ) sg(ṽ_{t+1}) + λ z_{t+1}`` (PAPERS II.7(9); λ = 1 is TD(1)).
``"final"``
    loss at the last iteration only (CBAN-noTD).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .functional import CBANParams, CBANState, barrier

__all__ = [
    "LOSSES",
    "TD_MODES",
    "se_loss",
    "delta_e_loss",
    "delta_e_plus_loss",
    "hinge_loss",
    "state_loss",
    "td_lambda_targets",
    "trajectory_loss",
]

#: Names of the per-state losses (see the module docstring).
LOSSES = ("se", "delta_e", "delta_e_plus", "hinge")
#: Names of the ways a loss is taken over a settling trajectory.
TD_MODES = ("td1", "td_lambda", "final")


def _weights(v: Tensor, weight: Tensor | None) -> Tensor | None:
    if weight is None:
        return None
    return weight.to(v.dtype).expand_as(v)


def se_loss(v_free: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Squared error of ṽ, weighted mean over units, per sample (B,).

    Parameters
    ----------
    v_free : Tensor, shape (B, ...)
        Unclamped visible value ṽ.
    target : Tensor, shape of ``v_free``
    weight : Tensor, optional, broadcastable to ``v_free``
        Per-unit weights (e.g. 1 on SR output channels, 0 on input channels).
    """
    d2 = (v_free - target.to(v_free.dtype)) ** 2
    w = _weights(v_free, weight)
    if w is None:
        return d2.flatten(1).mean(1)
    return (w * d2).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1e-12)


def delta_e_loss(
    v_net: Tensor, v_free: Tensor, target: Tensor, params: CBANParams, weight: Tensor | None = None
) -> Tensor:
    """``E(y, h) - E(ṽ, h)`` per sample (B,), App B.1 (summed over units, weighted).

    ``(ṽ - y) * v_net + rho(y) - rho(ṽ)`` per unit, with ``v_net = f^{-1}(ṽ)``.

    For tanh, ``ṽ * v_net - rho(ṽ) = log cosh(v_net)`` (rho is the convex conjugate of
    log cosh), which is evaluated as ``softplus(2 v_net) - v_net - log 2``: the same value
    without the NaN gradient of rho at ṽ = ±1, where float32 tanh saturates (``|v_net| > ~9``).
    """
    y = target.to(v_free.dtype)
    if params.activation == "tanh":
        log_cosh = F.softplus(2 * v_net) - v_net - math.log(2.0)
        per_unit = log_cosh - y * v_net + barrier(y, params)
    else:
        per_unit = (v_free - y) * v_net + barrier(y, params) - barrier(v_free, params)
    w = _weights(v_free, weight)
    if w is not None:
        per_unit = per_unit * w
    return per_unit.flatten(1).sum(1)


def delta_e_plus_loss(
    v_net: Tensor, v_free: Tensor, target: Tensor, params: CBANParams, weight: Tensor | None = None
) -> Tensor:
    """``log(1 + exp(E(y, h) - E(ṽ, h)))`` per sample (B,), App B.2."""
    return F.softplus(delta_e_loss(v_net, v_free, target, params, weight))


def hinge_loss(
    v_net: Tensor, v_free: Tensor, target: Tensor, params: CBANParams, weight: Tensor | None = None
) -> Tensor:
    """``max(0, E(y, h) - E(ṽ, h))`` per sample (B,), App B.1."""
    return torch.relu(delta_e_loss(v_net, v_free, target, params, weight))


def state_loss(
    state: CBANState, target: Tensor, kind: str, params: CBANParams, weight: Tensor | None = None
) -> Tensor:
    """Loss ``kind`` (one of :data:`LOSSES`) of one state, per sample (B,)."""
    if kind == "se":
        return se_loss(state.v_free, target, weight)
    if kind == "delta_e":
        return delta_e_loss(state.v_net, state.v_free, target, params, weight)
    if kind == "delta_e_plus":
        return delta_e_plus_loss(state.v_net, state.v_free, target, params, weight)
    if kind == "hinge":
        return hinge_loss(state.v_net, state.v_free, target, params, weight)
    raise ValueError(f"loss kind must be one of {LOSSES}, got {kind!r}")


def td_lambda_targets(trajectory: Sequence[CBANState], target: Tensor, lam: float) -> list[Tensor]:
    """TD(λ) targets ``z_1..z_T``: ``z_T = y``, ``z_t = (1-λ) sg(ṽ_{t+1}) + λ z_{t+1}``."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    T = len(trajectory)
    z = [None] * T
    z[-1] = target
    for t in range(T - 2, -1, -1):
        z[t] = (1 - lam) * trajectory[t + 1].v_free.detach() + lam * z[t + 1]
    return z


def trajectory_loss(
    trajectory: Sequence[CBANState],
    target: Tensor,
    *,
    kind: str,
    params: CBANParams,
    td: str = "td1",
    lam: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Scalar training loss over a settling trajectory (batch mean).

    Parameters
    ----------
    trajectory : sequence of CBANState
        States after iterations 1..T (``settle(..., record=True).trajectory``).
    target : Tensor, shape of the visible layer
    kind : str
        One of :data:`LOSSES`.
    params : CBANParams
        Needed for the barrier of the energy losses.
    td : {"td1", "td_lambda", "final"}
    lam : float
        λ for ``"td_lambda"``.
    weight : Tensor, optional
        Per-unit weights, broadcastable to the visible layer.
    """
    if kind not in LOSSES:
        raise ValueError(f"kind must be one of {LOSSES}, got {kind!r}")
    if td not in TD_MODES:
        raise ValueError(f"td must be one of {TD_MODES}, got {td!r}")
    if len(trajectory) == 0:
        raise ValueError("trajectory is empty; settle with record=True")
    if td == "final":
        return state_loss(trajectory[-1], target, kind, params, weight).mean()
    targets = td_lambda_targets(trajectory, target, lam) if td == "td_lambda" else [target] * len(trajectory)
    total = 0.0
    for s, z in zip(trajectory, targets):
        total = total + state_loss(s, z, kind, params, weight).mean()
    return total / len(trajectory)
