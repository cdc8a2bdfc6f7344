"""Invariants of the CBAN dynamics (float64, tiny random nets).

* energy (eq 5) never increases, per layer update and per iteration, for symmetric
  dense and convolutional nets (with pooling), both update orders, tanh and leaky sigmoid;
* couplings and their reverse are exact adjoints (the paper's pooling is 4x that);
* every layer update is the minimiser of the energy in that layer;
* an asymmetric net can cycle (period 2) where its symmetric twin reaches a fixed point.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from attractorlab.models.cban import (
    CBANParams,
    ConvCoupling,
    DenseCoupling,
    Evidence,
    activation,
    barrier,
    build_cban,
    build_fban,
    find_cycle,
    inverse_activation,
    replicated_evidence,
    update_groups,
)
from attractorlab.models.cban.functional import net_input, visible_update

F64 = torch.float64
# Energy may rise only by rounding: a few eps of its magnitude.
REL_TOL = 1e-11


def _random_evidence(shape, seed, frac_obs=0.5):
    g = torch.Generator().manual_seed(seed)
    value = torch.rand(shape, generator=g, dtype=F64) * 2 - 1
    mask = torch.rand(shape, generator=g) < frac_obs
    return Evidence(value, mask)


def _nets(seed, act, order):
    params = CBANParams(activation=act, order=order, max_iter=20, theta=1e-9)
    dense = build_fban(sizes=(12, 9, 7, 5), params=params, init_std=0.8, seed=seed, dtype=F64)
    conv = build_cban(visible_shape=(2, 8, 8), channels=(3, 4, 3), kernel_size=3, params=params,
                      init_std=0.5, seed=seed, dtype=F64)
    with torch.no_grad():
        for b in itertools.chain(dense.biases, conv.biases):
            b.normal_(0, 0.3)
    return [(dense, (4, 12)), (conv, (3, 2, 8, 8))]


@pytest.mark.parametrize("act", ["tanh", "leaky_sigmoid"])
@pytest.mark.parametrize("order", ["up_down", "odd_even"])
@pytest.mark.parametrize("seed", [0, 1])
def test_energy_never_increases_per_layer_update(act, order, seed):
    for net, shape in _nets(seed, act, order):
        ev = _random_evidence(shape, seed + 100)
        state = net.init_state(ev)
        x = list(state.x)
        w = net.weights()
        e_prev = net.energy(x, ev)
        with torch.no_grad():
            for _ in range(6):
                for group in update_groups(net.n_layers, order):
                    for l in group:
                        nt = net_input(l, x, w)
                        x[l] = visible_update(nt, ev, net.params)[0] if l == 0 else activation(nt, net.params)
                        e = net.energy(x, ev)
                        tol = REL_TOL * (1 + e_prev.abs())
                        assert torch.all(e <= e_prev + tol), (act, order, l, (e - e_prev).max())
                        e_prev = e
        # did anything happen: the energy went down substantially from the start
        assert torch.all(e_prev < net.energy(state.x, ev) - 1e-3)


@pytest.mark.parametrize("act", ["tanh", "leaky_sigmoid"])
@pytest.mark.parametrize("order", ["up_down", "odd_even"])
def test_energy_never_increases_along_settle(act, order):
    for seed in (3, 4):
        for net, shape in _nets(seed, act, order):
            ev = _random_evidence(shape, seed)
            with torch.no_grad():
                res = net.settle(ev, record=True)
            e = torch.stack([net.energy(s, ev) for s in res.trajectory])
            assert res.n_iter >= 3
            assert torch.all(e[1:] <= e[:-1] + REL_TOL * (1 + e[:-1].abs()))


def test_energy_monotone_with_bias_evidence_and_clamped_units_fixed():
    params = CBANParams(evidence_mode="bias", bias_gain=0.7, max_iter=30, theta=1e-9)
    net = build_fban(sizes=(10, 8, 6), params=params, init_std=0.8, seed=5, dtype=F64)
    ev = _random_evidence((5, 10), 6)
    with torch.no_grad():
        res = net.settle(ev, record=True)
    e = torch.stack([net.energy(s, ev) for s in res.trajectory])
    assert torch.all(e[1:] <= e[:-1] + REL_TOL * (1 + e[:-1].abs()))
    # clamp mode: observed units equal the evidence at every iteration
    net = net.with_params(evidence_mode="clamp")
    with torch.no_grad():
        res = net.settle(ev, record=True)
    for s in res.trajectory:
        assert torch.equal(s.x[0][ev.mask], ev.value[ev.mask])
    # unclamped units start at 0
    st = net.init_state(ev)
    assert torch.all(st.x[0][~ev.mask] == 0) and all(torch.all(h == 0) for h in st.x[1:])


@pytest.mark.parametrize("k,pool", [(3, False), (3, True), (5, False), (5, True), (1, True)])
def test_conv_coupling_is_exact_adjoint(k, pool):
    torch.manual_seed(0)
    c = ConvCoupling(3, 4, k, pool=pool, init_std=1.0).to(F64)
    x = torch.randn(2, 3, 8, 10, dtype=F64)
    y = torch.randn(2, 4, *c.high_shape((3, 8, 10))[1:], dtype=F64)
    lhs = (c.up(x) * y).sum()
    rhs = (x * c.down(y)).sum()
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)
    # the downward map is the convolution with channels swapped and kernel flipped (eq 4)
    if not pool:
        flipped = c.weight.transpose(0, 1).flip(-1, -2)
        ref = torch.nn.functional.conv2d(y, flipped, padding=k // 2)
        torch.testing.assert_close(c.down(y), ref, rtol=1e-12, atol=1e-12)


def test_paper_pool_adjoint_is_four_times_exact():
    torch.manual_seed(1)
    c = ConvCoupling(2, 3, 3, pool=True, pool_adjoint="paper", init_std=1.0).to(F64)
    x = torch.randn(1, 2, 6, 6, dtype=F64)
    y = torch.randn(1, 3, 3, 3, dtype=F64)
    torch.testing.assert_close((x * c.down(y)).sum(), 4 * (c.up(x) * y).sum(), rtol=1e-12, atol=1e-12)


def test_dense_coupling_adjoint_and_asymmetric_differs():
    torch.manual_seed(2)
    c = DenseCoupling(7, 5, init_std=1.0).to(F64)
    x, y = torch.randn(3, 7, dtype=F64), torch.randn(3, 5, dtype=F64)
    torch.testing.assert_close((c.up(x) * y).sum(), (x * c.down(y)).sum(), rtol=1e-12, atol=1e-12)
    a = DenseCoupling(7, 5, symmetric=False, init_std=1.0).to(F64)
    assert a.weight_down is not None
    assert not torch.allclose((a.up(x) * y).sum(), (x * a.down(y)).sum())


@pytest.mark.parametrize("act", ["tanh", "leaky_sigmoid"])
def test_layer_update_minimises_energy_in_that_layer(act):
    params = CBANParams(activation=act)
    for net, shape in _nets(7, act, "up_down"):
        net.params = params
        ev = _random_evidence(shape, 8)
        g = torch.Generator().manual_seed(9)
        x = [torch.rand(s.shape, generator=g, dtype=F64) * 1.6 - 0.8 for s in net.init_state(ev).x]
        w = net.weights()
        for l in range(1, net.n_layers):
            xs = [t.detach().clone() for t in x]
            xs[l] = activation(net_input(l, xs, w), params).detach().requires_grad_(True)
            e = net.energy(xs).sum()
            (grad,) = torch.autograd.grad(e, xs[l])
            assert grad.abs().max() < 1e-9, (l, grad.abs().max())
            with torch.no_grad():
                e0 = net.energy(xs)
                for _ in range(5):
                    pert = [t.clone() for t in xs]
                    pert[l] = (xs[l] + 0.05 * torch.randn(xs[l].shape, generator=g, dtype=F64)).clamp(-0.999, 0.999)
                    assert torch.all(net.energy(pert) > e0)


@pytest.mark.parametrize("act", ["tanh", "leaky_sigmoid"])
def test_barrier_derivative_is_inverse_activation(act):
    p = CBANParams(activation=act, leak=0.2)
    x = torch.linspace(-0.99, 0.99, 41, dtype=F64) if act == "tanh" else torch.linspace(-2.5, 2.5, 41, dtype=F64)
    x.requires_grad_(True)
    (d,) = torch.autograd.grad(barrier(x, p).sum(), x)
    torch.testing.assert_close(d, inverse_activation(x.detach(), p), rtol=1e-9, atol=1e-9)
    z = torch.linspace(-4, 4, 33, dtype=F64)
    torch.testing.assert_close(inverse_activation(activation(z, p), p), z, rtol=1e-9, atol=1e-9)


def test_asymmetric_net_cycles_with_period_two_symmetric_twin_converges():
    # One visible and one hidden unit; up weight +5, down weight -5 (anti-symmetric).
    # v -> h = tanh(5 v) -> v = tanh(-5 h) flips sign each iteration: a 2-cycle.
    params = CBANParams(evidence_mode="init", max_iter=60, theta=1e-12)
    c = DenseCoupling(1, 1, symmetric=False).to(F64)
    with torch.no_grad():
        c.weight.fill_(5.0)
        c.weight_down.fill_(-5.0)
    from attractorlab.models.cban import CBAN

    asym = CBAN((1,), [c], params).to(F64)
    ev = Evidence(torch.tensor([[0.5], [-0.3]], dtype=F64), torch.ones(2, 1, dtype=torch.bool))
    with torch.no_grad():
        res = asym.settle(ev, record=True)
    assert res.n_iter == 60 and not res.converged.any()
    assert torch.equal(find_cycle(res.trajectory), torch.tensor([2, 2]))
    with torch.no_grad():
        c.weight_down.fill_(5.0)  # now symmetric: a fixed point
        res = asym.settle(ev, record=True)
    assert torch.equal(find_cycle(res.trajectory), torch.tensor([1, 1]))


def test_replicated_evidence_clamps_inputs_and_frees_outputs():
    net = build_cban(visible_shape=(6, 8, 8), channels=(4,), pool=False, kernel_size=5, init_std=0.3,
                     seed=0, dtype=F64)
    lr = torch.rand(2, 3, 8, 8, dtype=F64) * 2 - 1
    ev, out = replicated_evidence(lr)
    assert ev.value.shape == (2, 6, 8, 8) and out == slice(3, 6)
    with torch.no_grad():
        res = net.settle(ev)
    torch.testing.assert_close(res.state.x[0][:, :3], lr)
    assert res.state.x[0][:, out].abs().sum() > 0


def test_update_groups_orders():
    assert update_groups(5, "up_down") == [[1], [2], [3], [4], [3], [2], [1], [0]]  # 8 steps (Fig 1c)
    assert update_groups(4, "odd_even") == [[1, 3], [0, 2]]
    assert update_groups(2, "up_down") == [[1], [0]]


def test_bad_parameters_raise_value_error_naming_them():
    with pytest.raises(ValueError, match="leak"):
        CBANParams(leak=0.0)
    with pytest.raises(ValueError, match="order"):
        CBANParams(order="random")
    with pytest.raises(ValueError, match="kernel_size"):
        ConvCoupling(1, 2, 4)
    with pytest.raises(ValueError, match="even spatial size"):
        build_cban(visible_shape=(1, 7, 7), channels=(2, 2))
    net = build_fban(sizes=(4, 3))
    with pytest.raises(ValueError, match="evidence.value"):
        net.settle(Evidence(torch.zeros(2, 5), torch.zeros(2, 5, dtype=torch.bool)))


def _reference_step(state, ev, net):
    """One iteration written out from the paper (Fig 1c, App E.2), independent of
    ``update_groups`` and ``cban_step``: up-down = 1, ..., L, L-1, ..., 0; odd-even = odd
    layers, then even layers; net input recomputed from the couplings every time."""
    x = list(state.x)
    top = len(x) - 1
    cs, bs = net.couplings, net.biases
    order = list(range(1, top + 1)) + list(range(top - 1, -1, -1)) if net.params.order == "up_down" else \
        [l for l in range(top + 1) if l % 2] + [l for l in range(top + 1) if not l % 2]
    v_net, v_free = state.v_net, state.v_free
    for l in order:
        net_in = bs[l]
        if l > 0:
            net_in = net_in + cs[l - 1].up(x[l - 1])
        if l < top:
            net_in = net_in + cs[l].down(x[l + 1])
        if l == 0:
            v_net = net_in
            v_free = activation(net_in, net.params)
            x[0] = torch.where(ev.mask, ev.value, v_free)
        else:
            x[l] = activation(net_in, net.params)
    return type(state)(tuple(x), v_net, v_free)


@pytest.mark.parametrize("order", ["up_down", "odd_even"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_step_and_settle_follow_the_update_order_bit_for_bit(order, symmetric):
    # 3 hidden layers, so that skipping or reordering any part of a sweep changes the state
    params = CBANParams(order=order, theta=1e-12, max_iter=12)
    nets = [build_fban(sizes=(12, 9, 7, 5), params=params, init_std=0.8, seed=1, symmetric=symmetric, dtype=F64),
            build_cban(visible_shape=(2, 8, 8), channels=(3, 4, 3), kernel_size=3, params=params, init_std=0.5,
                       seed=1, symmetric=symmetric, dtype=F64)]
    for net, shape in zip(nets, [(4, 12), (3, 2, 8, 8)]):
        with torch.no_grad():
            for b in net.biases:
                b.normal_(0, 0.3)
        ev = _random_evidence(shape, 7)
        ref = [net.init_state(ev)]
        for _ in range(12):
            ref.append(_reference_step(ref[-1], ev, net))
        # one step from any state
        for s0, s1 in zip(ref[:-1], ref[1:]):
            got = net.step(s0, ev)
            assert all(torch.equal(a, b) for a, b in zip(got.x, s1.x)) and torch.equal(got.v_net, s1.v_net)
        # settle carries a cache of coupling products between iterations: still the same states
        res = net.settle(ev, min_iter=12, max_iter=12, record=True)
        for t, (got, want) in enumerate(zip(res.trajectory, ref[1:])):
            assert all(torch.equal(a, b) for a, b in zip(got.x, want.x)), (order, symmetric, t)
            assert torch.equal(got.v_free, want.v_free)
        assert res.state.x[1].abs().sum() > 0


def test_settle_gradients_match_the_reference_dynamics():
    # the cached products are shared by two updates: autograd must sum both paths
    from attractorlab.models.cban import trajectory_loss

    params = CBANParams(theta=1e-12, max_iter=6)
    net = build_cban(visible_shape=(1, 8, 8), channels=(3, 4, 3), kernel_size=3, params=params, init_std=0.5,
                     seed=2, dtype=F64)
    ev = _random_evidence((3, 1, 8, 8), 3)
    res = net.settle(ev, min_iter=6, record=True)
    g_fast = torch.autograd.grad(trajectory_loss(res.trajectory, ev.value, kind="se", params=params), list(net.parameters()))
    traj, s = [], net.init_state(ev)
    for _ in range(6):
        s = _reference_step(s, ev, net)
        traj.append(s)
    g_ref = torch.autograd.grad(trajectory_loss(traj, ev.value, kind="se", params=params), list(net.parameters()))
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)
    assert max(float(g.abs().max()) for g in g_ref) > 1e-3


def test_settle_traces_residual_and_energy_on_request():
    params = CBANParams(theta=1e-6, max_iter=40)
    net = build_cban(visible_shape=(1, 8, 8), channels=(3, 4), kernel_size=3, params=params, init_std=0.3, seed=0,
                     dtype=F64)
    ev = _random_evidence((2, 1, 8, 8), 1)
    res = net.settle(ev, trace_energy=True)
    assert res.energies.shape == res.changes.shape == (res.n_iter, 2)
    for t, s in enumerate(net.settle(ev, record=True).trajectory):
        torch.testing.assert_close(res.energies[t], net.energy(s, ev))
    assert torch.all(res.energies[1:] <= res.energies[:-1] + 1e-9)  # symmetric: energy descends
    assert net.settle(ev).energies is None


def test_with_params_returns_a_new_net_that_shares_the_weights():
    net = build_fban(sizes=(6, 4), params=CBANParams(theta=0.01), seed=0)
    fast = net.with_params(theta=1.0)
    assert fast is not net and net.params.theta == 0.01 and fast.params.theta == 1.0
    assert all(a is b for a, b in zip(net.parameters(), fast.parameters()))
    with torch.no_grad():
        fast.couplings[0].weight.add_(1.0)
    assert torch.equal(net.couplings[0].weight, fast.couplings[0].weight)
