"""Attractor analysis: convergence, fixed points, limit cycles and basins.

Works on trajectories given as numpy arrays, ``xarray`` objects or torch tensors with
time (iteration) on the first axis, ``(T, ...)``. Torch is never imported here: tensors
are converted with ``.detach().cpu().numpy()``. A model enters only through callables
(``energy(state)``, ``settle(evidence)``), so the same functions serve a CBAN, a Hopfield
net, the spiking dictionary network and its rate counterpart.

Definitions
-----------
* Change at iteration t: ``delta(t) = max_i |x_i(t) - x_i(t-1)|`` over the whole state
  (or over each sample when a sample axis is given), t = 1..T-1.
* Time to converge (CBAN §3.3): ``t* = min{t : delta(t) < theta}``; -1 when never.
* Cycle: the smallest period p >= 1 with ``max_i |x_i(t) - x_i(t-p)| <= tol`` for every t in
  the last ``n_check`` iterations (p = 1 is a fixed point).
* Basin: for evidence e and reference attractor x* = settle(e), the evidence is perturbed
  by a given size in random directions and re-settled; the attractor is "the same" when
  the end state is within ``tol`` (max-abs) of x*. The basin radius is the largest size at
  which at least ``level`` of the directions return to x*.
* Spiking: the cumulative rate a(t) = N(t) / t (spike count in (t0, t] over elapsed time),
  and the cumulative mean current u(t) = (1/t) ∫ mu (Lin & Tang eq 3), compared with a
  reference code a* (e.g. the non-negative LASSO solution) by ``||a(t) - a*|| / ||a*||``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import xarray as xr

__all__ = [
    "as_numpy",
    "convergence_curve",
    "time_to_converge",
    "fixed_point_distance",
    "detect_cycle",
    "basin_scan",
    "cumulative_rates",
    "cumulative_rates_from_counts",
    "cumulative_mean",
    "code_distance",
]


def as_numpy(x: Any) -> np.ndarray:
    """numpy view of an array, DataArray or (CPU/GPU) torch tensor, as float64."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if isinstance(x, xr.DataArray):
        x = x.values
    return np.asarray(x, dtype=np.float64)


def _flat(traj: np.ndarray, sample_axis: int | None) -> np.ndarray:
    """(T, ...) -> (T, S, F) with S samples (1 when no sample axis)."""
    if traj.ndim < 1 or traj.shape[0] < 1:
        raise ValueError(f"trajectory must have time on axis 0 with T >= 1, got shape {traj.shape}")
    if traj.ndim == 1:
        traj = traj[:, None]
    if sample_axis is None:
        return traj.reshape(traj.shape[0], 1, -1)
    if sample_axis < 1 or sample_axis >= traj.ndim:
        raise ValueError(f"sample_axis must be in 1..{traj.ndim - 1} (axis 0 is time), got {sample_axis}")
    t = np.moveaxis(traj, sample_axis, 1)
    return t.reshape(t.shape[0], t.shape[1], -1)


def convergence_curve(trajectory: Any, *, energy: Any = None, sample_axis: int | None = None,
                      theta: float | None = None, sustained: bool = False) -> xr.Dataset:
    """Maximum state change (and energy) per iteration.

    Parameters
    ----------
    trajectory : (T, ...) array or tensor
        States at iterations 0..T-1.
    energy : (T,) / (T, S) array, or callable ``energy(state) -> float or (S,)``, optional
        Energy per iteration; a callable is applied to each ``trajectory[t]``.
    sample_axis : int, optional
        Axis of independent samples (e.g. a batch); the change is then per sample.
    theta : float, optional
        Convergence threshold; adds ``t_star``.
    sustained : bool
        Passed to :func:`time_to_converge` (first step after which the change *stays*
        below theta; use for cumulative spike rates, which do not move before the first
        spike).

    Returns
    -------
    xr.Dataset
        ``delta`` (iteration[, sample]) with delta at iteration 0 = NaN; ``energy``
        (iteration[, sample]) when given; ``t_star`` when ``theta`` is given.
    """
    x = as_numpy(trajectory)
    f = _flat(x, sample_axis)
    T = f.shape[0]
    delta = np.full(f.shape[:2], np.nan)
    if T > 1:
        delta[1:] = np.abs(np.diff(f, axis=0)).max(axis=2)
    dims = ("iteration",) if sample_axis is None else ("iteration", "sample")
    squeeze = (lambda a: a[:, 0]) if sample_axis is None else (lambda a: a)
    data = {"delta": (dims, squeeze(delta), {"long_name": "max |x(t) - x(t-1)|", "units": "state units"})}
    if energy is not None:
        if callable(energy):
            e = np.stack([np.atleast_1d(as_numpy(energy(trajectory[t]))) for t in range(T)])
        else:
            e = as_numpy(energy)
        e = e.reshape(T, -1)
        if sample_axis is None:
            if e.shape[1] != 1:
                e = e.sum(axis=1, keepdims=True)
        data["energy"] = (dims, squeeze(e), {"long_name": "energy", "units": "energy units"})
    ds = xr.Dataset(data, coords={"iteration": np.arange(T)})
    if theta is not None:
        ts = time_to_converge(squeeze(delta), theta, sustained=sustained)
        ds["t_star"] = (() if sample_axis is None else ("sample",), ts,
                        {"long_name": f"first iteration with delta < {theta} (-1: never)"})
        ds.attrs["theta"] = float(theta)
        ds.attrs["sustained"] = int(sustained)
    return ds


def time_to_converge(delta: Any, theta: float, *, sustained: bool = False) -> Any:
    """First iteration t >= 1 with ``delta[t] < theta`` (``-1`` when never).

    With ``sustained``, the first t from which ``delta`` stays below theta to the end of
    the record (``-1`` when the last change is not below theta).

    Parameters
    ----------
    delta : (T,) or (T, S) array
        Output ``delta`` of :func:`convergence_curve` (delta[0] is ignored).
    theta : float
        Threshold (> 0), in state units.

    Returns
    -------
    int, or (S,) int array
    """
    if not theta > 0:
        raise ValueError(f"theta must be > 0, got {theta}")
    d = as_numpy(delta)
    one = d.ndim == 1
    d = d.reshape(d.shape[0], -1)[1:]
    below = d < theta
    if sustained:
        # last index that is not below; converged from the next one on
        above = ~below
        last_above = np.where(above.any(axis=0), d.shape[0] - 1 - np.argmax(above[::-1], axis=0), -1)
        idx = np.where(below[-1] if d.shape[0] else np.zeros(d.shape[1], bool), last_above + 2, -1)
    else:
        idx = np.where(below.any(axis=0), below.argmax(axis=0) + 1, -1)
    return int(idx[0]) if one else idx


def fixed_point_distance(a: Any, b: Any, *, norm: str = "l2", sample_axis: int | None = None) -> Any:
    """Distance between two states (e.g. fixed points of two runs).

    ``norm``: "l2" (Euclidean), "rms" (root mean square), "max" (max-abs) or "relative"
    (||a - b||_2 / ||b||_2). With ``sample_axis`` the distance is per sample.
    """
    a, b = as_numpy(a), as_numpy(b)
    if a.shape != b.shape:
        raise ValueError(f"states must have the same shape, got {a.shape} and {b.shape}")
    if sample_axis is not None:
        a = np.moveaxis(a, sample_axis, 0).reshape(a.shape[sample_axis], -1)
        b = np.moveaxis(b, sample_axis, 0).reshape(b.shape[sample_axis], -1)
    else:
        a, b = a.reshape(1, -1), b.reshape(1, -1)
    d = a - b
    if norm == "l2":
        out = np.sqrt((d * d).sum(1))
    elif norm == "rms":
        out = np.sqrt((d * d).mean(1))
    elif norm == "max":
        out = np.abs(d).max(1)
    elif norm == "relative":
        out = np.sqrt((d * d).sum(1)) / np.maximum(np.sqrt((b * b).sum(1)), 1e-300)
    else:
        raise ValueError(f"norm must be 'l2', 'rms', 'max' or 'relative', got {norm!r}")
    return float(out[0]) if sample_axis is None else out


def detect_cycle(trajectory: Any, *, tol: float = 1e-6, max_period: int | None = None,
                 n_check: int | None = None) -> dict[str, Any]:
    """Fixed point or limit cycle at the end of a trajectory.

    Parameters
    ----------
    trajectory : (T, ...) array or tensor
    tol : float
        Max-abs tolerance for a revisit (state units).
    max_period : int, optional
        Longest period searched (default T // 2).
    n_check : int, optional
        How many final iterations must all satisfy x(t) ≈ x(t - p) (default ``max(p, 3)``,
        capped by the trajectory length).

    Returns
    -------
    dict
        ``kind`` ("fixed_point", "cycle" or "none"), ``period`` (0 when none), ``onset``
        (first iteration from which the periodicity holds to the end; -1 when none),
        ``amplitude`` (max-abs spread of the states on the cycle).
    """
    x = as_numpy(trajectory)
    f = _flat(x, None)[:, 0, :]
    T = f.shape[0]
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    max_period = T // 2 if max_period is None else int(max_period)
    for p in range(1, max(1, max_period) + 1):
        if T <= p:
            break
        close = np.abs(f[p:] - f[:-p]).max(axis=1) <= tol  # close[t - p] for t = p..T-1
        need = min(max(p, 3) if n_check is None else n_check, close.size)
        if need < 1 or not close[-need:].all():
            continue
        # onset: start of the final run of revisits
        run = np.flatnonzero(~close)
        onset = int(run[-1] + 1) if run.size else 0  # index into x(t - p)
        cyc = f[-p:]
        amp = float((cyc.max(0) - cyc.min(0)).max()) if p > 1 else 0.0
        return {"kind": "fixed_point" if p == 1 else "cycle", "period": p, "onset": onset,
                "amplitude": amp}
    return {"kind": "none", "period": 0, "onset": -1, "amplitude": float("nan")}


def _perturb_gaussian(e: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    d = rng.standard_normal(e.shape)
    return e + size * d / np.linalg.norm(d)


def _perturb_flip(e: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    out = e.copy().ravel()
    k = int(round(size * out.size))
    idx = rng.choice(out.size, size=k, replace=False)
    out[idx] = -out[idx]
    return out.reshape(e.shape)


def basin_scan(settle: Callable[[Any], Any], evidence: Any, sizes: Sequence[float], *,
               n_directions: int = 16, perturbation: str | Callable = "gaussian", tol: float = 1e-3,
               level: float = 0.5, seed: int = 0, reference: Any = None) -> xr.Dataset:
    """How far evidence can move before the attractor changes.

    Parameters
    ----------
    settle : callable
        ``settle(evidence) -> final_state`` (numpy in; numpy or tensor out).
    evidence : array
        Unperturbed evidence e.
    sizes : sequence of float
        Perturbation sizes: the L2 norm of an additive Gaussian-direction step
        (``perturbation="gaussian"``), or the fraction of entries whose sign is flipped
        (``"flip"``, for +-1 states), or whatever a callable
        ``perturbation(evidence, size, rng)`` means by it.
    n_directions : int
        Random perturbations per size.
    tol : float
        Max-abs distance within which an end state counts as the reference attractor.
    level : float
        Fraction of returning directions that defines the basin radius.
    seed : int
        Seed of the random directions.
    reference : array, optional
        Reference attractor; default ``settle(evidence)``.

    Returns
    -------
    xr.Dataset
        ``same`` (size, direction) bool, ``distance`` (size, direction) max-abs distance of
        the end state to the reference, ``fraction_same`` (size), scalar ``radius`` (largest
        size with fraction_same >= level among a leading run of such sizes; NaN when the
        smallest fails).
    """
    e = as_numpy(evidence)
    sizes = np.asarray(sizes, float)
    if sizes.ndim != 1 or sizes.size == 0 or np.any(sizes < 0):
        raise ValueError(f"sizes must be a non-empty 1-D sequence of values >= 0, got {sizes}")
    if n_directions < 1:
        raise ValueError(f"n_directions must be >= 1, got {n_directions}")
    if callable(perturbation):
        perturb = perturbation
    elif perturbation == "gaussian":
        perturb = _perturb_gaussian
    elif perturbation == "flip":
        if np.any(sizes > 1):
            raise ValueError(f"sizes are fractions of flipped entries with perturbation='flip', got {sizes}")
        perturb = _perturb_flip
    else:
        raise ValueError(f"perturbation must be 'gaussian', 'flip' or a callable, got {perturbation!r}")
    ref = as_numpy(settle(e) if reference is None else reference)
    rng = np.random.default_rng(seed)
    dist = np.empty((sizes.size, n_directions))
    for i, s in enumerate(sizes):
        for j in range(n_directions):
            out = as_numpy(settle(perturb(e, float(s), rng)))
            dist[i, j] = float(np.abs(out - ref).max())
    same = dist <= tol
    frac = same.mean(axis=1)
    ok = frac >= level
    if ok[0]:
        first_bad = np.flatnonzero(~ok)
        radius = float(sizes[first_bad[0] - 1] if first_bad.size else sizes[-1])
    else:
        radius = float("nan")
    ds = xr.Dataset(
        {
            "same": (("size", "direction"), same, {"long_name": "end state equals the reference attractor"}),
            "distance": (("size", "direction"), dist, {"long_name": "max |x_end - x_ref|", "units": "state units"}),
            "fraction_same": ("size", frac, {"long_name": "fraction of perturbations returning to the attractor"}),
            "radius": ((), radius, {"long_name": f"largest size with fraction_same >= {level}"}),
        },
        coords={"size": sizes, "direction": np.arange(n_directions)},
    )
    kind = perturbation if isinstance(perturbation, str) else getattr(perturbation, "__name__", "custom")
    ds["size"].attrs["long_name"] = f"perturbation size ({kind})"
    ds.attrs.update({"tol": tol, "level": level, "seed": seed, "perturbation": kind})
    return ds


def cumulative_rates(spike_times: Any, spike_indices: Any, n_neurons: int, times: Any, *,
                     t_start: float = 0.0) -> xr.DataArray:
    """Cumulative firing rate a(t) = N_i(t_start, t] / (t - t_start) (Lin & Tang eq 3).

    Parameters
    ----------
    spike_times : (n_spikes,) array
        Spike times (model time units).
    spike_indices : (n_spikes,) int array
        Neuron index of each spike.
    n_neurons : int
    times : (n_times,) array
        Evaluation times (> t_start).
    t_start : float
        Start of the window (e.g. the start of a phase).

    Returns
    -------
    xr.DataArray (time, neuron), spikes per time unit.
    """
    st = as_numpy(spike_times).ravel()
    si = np.asarray(spike_indices).ravel().astype(int)
    tt = as_numpy(times).ravel()
    if st.shape != si.shape:
        raise ValueError(f"spike_times and spike_indices must have equal length, got {st.size} and {si.size}")
    if si.size and (si.min() < 0 or si.max() >= n_neurons):
        raise ValueError(f"spike_indices must be in 0..{n_neurons - 1}, got range {si.min()}..{si.max()}")
    if np.any(tt <= t_start):
        raise ValueError(f"times must all be > t_start={t_start}")
    keep = st > t_start
    st, si = st[keep], si[keep]
    counts = np.zeros((tt.size, n_neurons))
    order = np.argsort(st)
    st, si = st[order], si[order]
    for i in range(n_neurons):
        counts[:, i] = np.searchsorted(st[si == i], tt, side="right")
    rates = counts / (tt - t_start)[:, None]
    return xr.DataArray(rates, dims=("time", "neuron"), coords={"time": tt, "neuron": np.arange(n_neurons)},
                        attrs={"long_name": "cumulative rate a(t)", "units": "spikes / time unit"},
                        name="rate")


def cumulative_rates_from_counts(counts: Any, dt: float) -> xr.DataArray:
    """Cumulative rate a(t_k) = (sum of counts in bins 0..k) / ((k + 1) dt).

    Parameters
    ----------
    counts : (n_bins, neuron) array
        Spike counts per time bin of width ``dt`` (e.g. from a population rate monitor).
    dt : float
        Bin width (time units).

    Returns
    -------
    xr.DataArray (time, neuron) with time = bin end times, spikes per time unit.
    """
    c = as_numpy(counts)
    if c.ndim == 1:
        c = c[:, None]
    if not dt > 0:
        raise ValueError(f"dt must be > 0 time units, got {dt}")
    rates = cumulative_mean(c / dt, dt=dt)
    t = dt * np.arange(1, c.shape[0] + 1)
    return xr.DataArray(rates, dims=("time", "neuron"), coords={"time": t, "neuron": np.arange(c.shape[1])},
                        attrs={"long_name": "cumulative rate a(t)", "units": "spikes / time unit"}, name="rate")


def cumulative_mean(x: Any, times: Any | None = None, *, dt: float | None = None) -> np.ndarray:
    """Running time average (1/t) ∫_0^t x dt' of a sampled signal (T, ...), e.g. u(t) from mu(t).

    Samples are taken as piecewise constant over ``dt`` (uniform) or over the gaps of
    ``times``; the average at sample k covers [0, t_k + dt_k).
    """
    v = as_numpy(x)
    T = v.shape[0]
    if times is None:
        if dt is None or not dt > 0:
            raise ValueError(f"give times or dt > 0, got dt={dt}")
        w = np.full(T, float(dt))
    else:
        tt = as_numpy(times).ravel()
        if tt.size != T:
            raise ValueError(f"times has {tt.size} entries for {T} samples")
        w = np.diff(np.concatenate([[0.0], tt]))
        if np.any(w <= 0):
            raise ValueError("times must be increasing and > 0")
        # sample k stands for (t_{k-1}, t_k]
    wv = w.reshape((T,) + (1,) * (v.ndim - 1))
    return np.cumsum(v * wv, axis=0) / np.cumsum(w).reshape(wv.shape)


def code_distance(trajectory: Any, reference: Any, *, times: Any | None = None,
                  relative: bool = True) -> xr.DataArray:
    """Distance of a code trajectory a(t) (time, neuron) to a reference code a* (neuron,).

    ``relative``: ||a(t) - a*||_2 / ||a*||_2; else the plain L2 distance.
    """
    a = as_numpy(trajectory)
    r = as_numpy(reference).ravel()
    a = a.reshape(a.shape[0], -1)
    if a.shape[1] != r.size:
        raise ValueError(f"trajectory has {a.shape[1]} units per time, reference {r.size}")
    d = np.sqrt(((a - r) ** 2).sum(1))
    if relative:
        d = d / max(float(np.linalg.norm(r)), 1e-300)
    if times is None and isinstance(trajectory, xr.DataArray) and "time" in trajectory.coords:
        times = trajectory["time"].values
    tt = np.arange(a.shape[0]) if times is None else as_numpy(times).ravel()
    return xr.DataArray(d, dims="time", coords={"time": tt}, name="code_distance",
                        attrs={"long_name": "||a(t) - a*|| / ||a*||" if relative else "||a(t) - a*||",
                               "units": "1" if relative else "rate units"})
