"""CBAN losses: closed forms against the energy, TD forms, and BPTT gradients against
finite differences (torch.autograd.gradcheck, float64, tiny net, fixed iteration count)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from attractorlab.models.cban import CBANParams, Evidence, build_fban, trajectory_loss
from attractorlab.models.cban.losses import (
    delta_e_loss,
    delta_e_plus_loss,
    se_loss,
    state_loss,
    td_lambda_targets,
)

F64 = torch.float64


def _setup(act="tanh", seed=0):
    params = CBANParams(activation=act)
    net = build_fban(sizes=(6, 4, 3), params=params, init_std=0.7, seed=seed, dtype=F64)
    g = torch.Generator().manual_seed(seed + 10)
    y = (torch.rand(5, 6, generator=g, dtype=F64) * 2 - 1) * 0.95
    mask = torch.rand(5, 6, generator=g) < 0.5
    return net, Evidence(y, mask), y


@pytest.mark.parametrize("act", ["tanh", "leaky_sigmoid"])
def test_delta_e_equals_energy_difference_and_is_nonnegative(act):
    net, ev, y = _setup(act)
    with torch.no_grad():
        s = net.settle(ev, max_iter=3, min_iter=3).state
        e_target = net.energy((y,) + s.x[1:])
        e_free = net.energy((s.v_free,) + s.x[1:])
        d = delta_e_loss(s.v_net, s.v_free, y, net.params)
    torch.testing.assert_close(d, e_target - e_free, rtol=1e-10, atol=1e-10)
    assert torch.all(d >= -1e-12)
    assert torch.all(delta_e_plus_loss(s.v_net, s.v_free, y, net.params) >= math.log(2) - 1e-12)
    # zero exactly when the target is the free visible state
    torch.testing.assert_close(delta_e_loss(s.v_net, s.v_free, s.v_free, net.params), torch.zeros(5, dtype=F64))


def test_se_loss_weighted_mean():
    v = torch.tensor([[0.0, 1.0, 0.5, -1.0]], dtype=F64)
    y = torch.zeros(1, 4, dtype=F64)
    torch.testing.assert_close(se_loss(v, y), torch.tensor([(0 + 1 + 0.25 + 1) / 4], dtype=F64))
    w = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=F64)
    torch.testing.assert_close(se_loss(v, y, w), torch.tensor([1.25 / 2], dtype=F64))


def test_td_lambda_one_is_td1_and_targets_recursion():
    net, ev, y = _setup()
    res = net.settle(ev, record=True, max_iter=5, min_iter=5)
    l1 = trajectory_loss(res.trajectory, y, kind="delta_e_plus", params=net.params, td="td1")
    llam = trajectory_loss(res.trajectory, y, kind="delta_e_plus", params=net.params, td="td_lambda", lam=1.0)
    torch.testing.assert_close(l1, llam)
    z = td_lambda_targets(res.trajectory, y, 0.0)  # TD(0): predict the next free visible state
    torch.testing.assert_close(z[0], res.trajectory[1].v_free.detach())
    assert z[-1] is y
    final = trajectory_loss(res.trajectory, y, kind="se", params=net.params, td="final")
    torch.testing.assert_close(final, state_loss(res.trajectory[-1], y, "se", net.params).mean())


@pytest.mark.parametrize("kind", ["se", "delta_e", "delta_e_plus", "hinge"])
@pytest.mark.parametrize("td", ["td1", "td_lambda", "final"])
def test_bptt_gradients_match_finite_differences(kind, td):
    """TD(λ) targets hold sg(ṽ): the reference freezes them at the unperturbed weights."""
    net, ev, y = _setup("tanh", seed=3)
    names = [n for n, _ in net.named_parameters()]
    params0 = tuple(p.detach().clone() for p in net.parameters())

    def settle(ps):
        return functional_call(net, dict(zip(names, ps)), (ev,), {"record": True, "max_iter": 4, "min_iter": 4})

    with torch.no_grad():
        frozen = td_lambda_targets(settle(params0).trajectory, y, 0.6)

    def f(*ps):
        traj = settle(ps).trajectory
        return trajectory_loss(traj, y, kind=kind, params=net.params, td=td, lam=0.6)

    def f_ref(*ps):  # same loss with the TD(λ) targets held fixed
        traj = settle(ps).trajectory
        return sum(state_loss(s, z, kind, net.params).mean() for s, z in zip(traj, frozen)) / len(traj)

    inputs = tuple(p.requires_grad_(True) for p in params0)
    if td != "td_lambda":
        assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)
    else:
        assert torch.autograd.gradcheck(f_ref, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)
        g = torch.autograd.grad(f(*inputs), inputs)
        g_ref = torch.autograd.grad(f_ref(*inputs), inputs)
        for a, b in zip(g, g_ref):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_loss_validation():
    net, ev, y = _setup()
    res = net.settle(ev, record=True, max_iter=2, min_iter=2)
    with pytest.raises(ValueError, match="kind"):
        trajectory_loss(res.trajectory, y, kind="mse", params=net.params)
    with pytest.raises(ValueError, match="td"):
        trajectory_loss(res.trajectory, y, kind="se", params=net.params, td="td2")
    with pytest.raises(ValueError, match="lam"):
        td_lambda_targets(res.trajectory, y, 1.5)


def test_delta_e_tanh_is_finite_where_tanh_saturates():
    """Float32 tanh rounds to ±1 beyond |net| ~ 9, where rho' is infinite; the log-cosh form
    of ΔE keeps value and gradient finite and equals the textbook form where both exist."""
    from attractorlab.models.cban.functional import CBANParams, barrier
    from attractorlab.models.cban.losses import delta_e_loss

    params = CBANParams(activation="tanh")
    net = torch.tensor([[-12.0, -3.0, 0.5, 2.0, 15.0]], requires_grad=True)
    y = torch.tensor([[-0.999, 0.2, 0.999, -0.5, 0.999]])
    loss = delta_e_loss(net, torch.tanh(net), y, params)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(net.grad).all()
    # where tanh is not saturated, the two forms agree (float64)
    n64 = net.detach().double()[:, 1:4]
    v64, y64 = torch.tanh(n64), y.double()[:, 1:4]
    direct = ((v64 - y64) * n64 + barrier(y64, params) - barrier(v64, params)).sum(1)
    torch.testing.assert_close(delta_e_loss(n64, v64, y64, params), direct)
    # d(ΔE)/d net = tanh(net) - y
    torch.testing.assert_close(net.grad, torch.tanh(net.detach()) - y)
