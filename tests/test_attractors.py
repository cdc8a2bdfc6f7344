"""Attractor measures on systems with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attractorlab.analysis import attractors as at


def _iterate(step, x0, n):
    xs = [np.asarray(x0, float)]
    for _ in range(n - 1):
        xs.append(step(xs[-1]))
    return np.stack(xs)


def test_two_cycle_x_to_minus_x():
    traj = _iterate(lambda x: -x, np.array([0.3, -1.2, 2.0]), 20)
    cyc = at.detect_cycle(traj, tol=1e-12)
    assert cyc["kind"] == "cycle" and cyc["period"] == 2 and cyc["onset"] == 0
    assert cyc["amplitude"] == pytest.approx(4.0)
    curve = at.convergence_curve(traj, theta=0.01)
    np.testing.assert_allclose(curve["delta"].values[1:], 4.0)
    assert int(curve["t_star"]) == -1
    # a 3-cycle after a transient
    pts = [np.array([5.0]), np.array([4.0])] + [np.array([v]) for v in [1.0, 2.0, 3.0] * 5]
    c3 = at.detect_cycle(np.stack(pts), tol=1e-9)
    assert c3["period"] == 3 and c3["onset"] == 2


def test_contraction_fixed_point_and_convergence_time():
    rng = np.random.default_rng(0)
    n = 6
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.linspace(0.2, 0.8, n)) @ Q.T  # symmetric, spectral radius 0.8
    b = rng.standard_normal(n)
    x_star = np.linalg.solve(np.eye(n) - A, b)
    traj = _iterate(lambda x: A @ x + b, np.zeros(n), 120)
    assert at.fixed_point_distance(traj[-1], x_star) < 1e-9
    assert at.fixed_point_distance(traj[-1], x_star, norm="relative") < 1e-9
    assert at.detect_cycle(traj, tol=1e-9)["kind"] == "fixed_point"
    d = at.convergence_curve(traj)["delta"].values
    # asymptotic decay rate of the change is the spectral radius
    assert d[60] / d[59] == pytest.approx(0.8, rel=1e-3)
    # scalar contraction x <- r x + c: delta(t) = r^(t-1) (1 - r) |x0 - x*|, so t* is analytic
    r, c, theta = 0.5, 1.0, 1e-3
    tr = _iterate(lambda x: r * x + c, np.array([0.0]), 40)
    t_star = math.floor(math.log(theta / ((1 - r) * 2.0)) / math.log(r)) + 2
    assert at.time_to_converge(at.convergence_curve(tr)["delta"], theta) == t_star
    # sustained: a record that is flat at first (no spikes yet), then moves, then settles
    delta = np.array([np.nan, 0.0, 0.0, 0.5, 0.2, 0.005, 0.001])
    assert at.time_to_converge(delta, 0.01) == 1
    assert at.time_to_converge(delta, 0.01, sustained=True) == 5
    assert at.time_to_converge(np.array([np.nan, 0.0, 0.5]), 0.01, sustained=True) == -1


def test_convergence_curve_per_sample_and_energy():
    rng = np.random.default_rng(1)
    x0 = 1.0 + np.abs(rng.standard_normal((4, 3)))  # 4 samples
    rates = np.array([0.1, 0.5, 0.9, 0.999])[:, None]
    traj = np.stack([x0 * rates ** t for t in range(80)])  # each sample contracts to 0 at its rate
    ds = at.convergence_curve(traj, sample_axis=1, theta=1e-3, energy=lambda x: (x ** 2).sum(axis=1))
    assert ds["delta"].dims == ("iteration", "sample")
    ts = ds["t_star"].values
    assert ts[0] < ts[1] < ts[2] and ts[3] == -1
    assert np.all(np.diff(ds["energy"].values, axis=0) <= 0)


def _hopfield(seed=0, n=100, p=3):
    rng = np.random.default_rng(seed)
    pats = rng.choice([-1.0, 1.0], size=(p, n))
    W = pats.T @ pats / n
    np.fill_diagonal(W, 0.0)

    def settle(x, max_sweeps=50):
        x = np.sign(np.asarray(x, float)).copy()
        x[x == 0] = 1.0
        for _ in range(max_sweeps):
            changed = False
            for i in range(n):  # asynchronous, fixed order: converges (energy descent)
                s = 1.0 if W[i] @ x >= 0 else -1.0
                if s != x[i]:
                    x[i] = s
                    changed = True
            if not changed:
                break
        return x

    return pats, W, settle


def test_hopfield_basins_small_vs_large_corruption():
    pats, W, settle = _hopfield()
    for pat in pats:
        np.testing.assert_array_equal(settle(pat), pat)  # stored patterns are fixed points
    ds = at.basin_scan(settle, pats[0], [0.05, 0.15, 0.5], n_directions=12, perturbation="flip",
                       tol=0.5, seed=0)
    frac = ds["fraction_same"].values
    assert frac[0] == 1.0 and frac[1] >= 0.9
    assert frac[2] <= 0.3  # half the bits flipped: no memory of the pattern left
    assert 0.15 <= float(ds["radius"]) < 0.5
    # energy -1/2 x W x never rises along an asynchronous trajectory
    rng = np.random.default_rng(5)
    x = pats[1] * np.where(rng.random(100) < 0.2, -1, 1)
    states = [x.copy()]
    for i in np.arange(300) % 100:
        x = x.copy()
        x[i] = 1.0 if W[i] @ x >= 0 else -1.0
        states.append(x)
    e = at.convergence_curve(np.stack(states), energy=lambda s: -0.5 * s @ W @ s)["energy"].values
    assert np.all(np.diff(e) <= 1e-12)
    assert at.detect_cycle(np.stack(states), tol=0)["kind"] == "fixed_point"


def test_basin_scan_gaussian_on_linear_attractors():
    # settle: nearest of two points; evidence at 0.3 from point a, 1.7 from point b (distance 2)
    a, b = np.array([0.0, 0.0]), np.array([2.0, 0.0])

    def settle(e):
        return a if np.linalg.norm(e - a) <= np.linalg.norm(e - b) else b

    # a step of size r crosses the midline x = 1 iff cos(angle) > 0.7 / r: for r = 0.8 that is
    # a fraction acos(0.875) / pi = 0.161 of directions; r = 0.1 never crosses
    ds = at.basin_scan(settle, np.array([0.3, 0.0]), [0.1, 0.8], n_directions=400, seed=2, level=0.9)
    frac = ds["fraction_same"].values
    assert frac[0] == 1.0
    assert frac[1] == pytest.approx(1 - math.acos(0.875) / math.pi, abs=0.06)  # 3 binomial s.d.
    assert float(ds["radius"]) == 0.1
    with pytest.raises(ValueError, match="sizes"):
        at.basin_scan(settle, np.zeros(2), [-1.0])


def test_cumulative_rates_converge_to_reference_code():
    # regular trains at rates r (spikes per time unit): a(t) = floor(r t) / t -> r, error <= 1/t
    rates = np.array([0.5, 2.0, 0.0, 1.25])
    T = 200.0
    times, idx = [], []
    for i, r in enumerate(rates):
        if r > 0:
            s = np.arange(1, int(r * T) + 1) / r
            times.append(s)
            idx.append(np.full(s.size, i))
    st, si = np.concatenate(times), np.concatenate(idx)
    grid = np.array([10.0, 50.0, 100.0, 200.0])
    a = at.cumulative_rates(st, si, 4, grid)
    assert np.all(np.abs(a.values - rates) <= 1.0 / grid[:, None] + 1e-12)
    dist = at.code_distance(a, rates)
    assert np.all(np.diff(dist.values) <= 1e-12) and dist.values[-1] < 1e-9
    # with t_start: only spikes after the start count
    a2 = at.cumulative_rates(st, si, 4, np.array([200.0]), t_start=100.0)
    np.testing.assert_allclose(a2.values[0], rates, atol=1 / 100)
    with pytest.raises(ValueError, match="spike_indices"):
        at.cumulative_rates(st, si, 2, grid)
    # from binned counts: identical to the spike-time version at the bin ends (random
    # continuous times, so no spike sits on a bin edge)
    rng = np.random.default_rng(4)
    pt = rng.uniform(0, T, 500)
    pi = rng.integers(0, 4, 500)
    dt = 2.5
    edges = np.arange(0, T + dt / 2, dt)
    counts = np.stack([np.histogram(pt[pi == i], bins=edges)[0] for i in range(4)], 1)
    a3 = at.cumulative_rates_from_counts(counts, dt)
    np.testing.assert_allclose(a3.values, at.cumulative_rates(pt, pi, 4, edges[1:]).values, rtol=1e-12)


def test_cumulative_mean_of_relaxing_current():
    # mu(t) = u_inf + (mu0 - u_inf) e^{-t}: (1/t) ∫ mu = u_inf + (mu0 - u_inf)(1 - e^{-t})/t
    dt = 1e-3
    t = np.arange(1, 20001) * dt
    mu = 2.0 + (5.0 - 2.0) * np.exp(-(t - dt / 2))  # midpoint samples
    u = at.cumulative_mean(mu, dt=dt)
    exact = 2.0 + 3.0 * (1 - np.exp(-t)) / t
    np.testing.assert_allclose(u, exact, rtol=1e-6)
    np.testing.assert_allclose(at.cumulative_mean(mu, times=t), u)


def test_attractor_figures():
    import matplotlib

    matplotlib.use("Agg")
    from attractorlab.analysis.figures import attractors as af

    traj = _iterate(lambda x: 0.5 * x + 1.0, np.zeros(3), 30)
    curve = at.convergence_curve(traj, energy=lambda x: float((x - 2.0) @ (x - 2.0)), theta=1e-3)
    axes = af.convergence_plot(curve)
    assert len(axes) == 2 and axes[0].get_yscale() == "log" and "iteration" in axes[0].get_xlabel()
    cyc2 = _iterate(lambda x: -x, np.array([1.0, 0.5]), 10)
    ax = af.cycle_plot(cyc2, cycle=at.detect_cycle(cyc2))
    assert "period 2" in ax.get_title()
    _, _, settle = _hopfield()
    b = at.basin_scan(settle, _hopfield()[0][0], [0.05, 0.5], n_directions=4, perturbation="flip", tol=0.5)
    assert "fraction" in af.basin_plot(b).get_ylabel()
    d = at.code_distance(np.ones((5, 2)) + 1.0 / np.arange(1, 6)[:, None], np.ones(2), times=np.arange(1, 6))
    assert af.code_distance_plot(d).get_xscale() == "log"
