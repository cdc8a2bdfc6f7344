"""Spike-train statistics and the spiking-versus-rate-model comparison.

Input is spike times and neuron indices as arrays (as a Brian2 ``SpikeMonitor`` gives them
after ``np.asarray(mon.t / unit)``, ``np.asarray(mon.i)``), or rates as ``xarray`` objects;
no simulator is imported. Time is in model time units (Lin & Tang's time is
dimensionless, τ = 1); rates are spikes per time unit.

Spiking versus rate model
-------------------------
Lin & Tang (App E) relate a spiking net to its continuous-valued counterpart
``du/dt = β − u + W a``, ``a = max(u, 0)/θ``: the spiking rates over a window of length T
approach the rate model's fixed point as T grows, with an error of order 1/T (a spike
count is an integer: the rate's resolution is 1/T). :func:`compare_rates` gives scatter
data, Pearson correlation and relative error for one pair; :func:`error_vs_duration` does
so for every value of a ``duration`` coordinate and fits the log-log slope of the error.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

__all__ = [
    "window_rates",
    "phase_rates",
    "raster",
    "isi_stats",
    "compare_rates",
    "error_vs_duration",
]


def _arr(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if isinstance(x, xr.DataArray):
        x = x.values
    return np.asarray(x)


def _check_spikes(spike_times: Any, spike_indices: Any, n_neurons: int) -> tuple[np.ndarray, np.ndarray]:
    st = _arr(spike_times).astype(float).ravel()
    si = _arr(spike_indices).ravel()
    if st.shape != si.shape:
        raise ValueError(f"spike_times and spike_indices must have equal length, got {st.size} and {si.size}")
    if int(n_neurons) < 1:
        raise ValueError(f"n_neurons must be >= 1, got {n_neurons}")
    si = si.astype(np.int64)
    if si.size and (si.min() < 0 or si.max() >= n_neurons):
        raise ValueError(f"spike_indices must lie in 0..{n_neurons - 1}, got {si.min()}..{si.max()}")
    return st, si


def window_rates(spike_times: Any, spike_indices: Any, n_neurons: int, edges: Sequence[float]) -> xr.DataArray:
    """Rates in consecutive windows: spike count in [edges[k], edges[k+1]) / window length.

    Parameters
    ----------
    spike_times, spike_indices : (n_spikes,) arrays
        Times (time units) and neuron indices of the spikes.
    n_neurons : int
    edges : (n_windows + 1,) increasing array
        Window boundaries, e.g. ``np.arange(0, 40 * n_samples + 1, 20)`` for Lin & Tang's
        two 20-unit phases per sample.

    Returns
    -------
    xr.DataArray (window, neuron)
        Spikes per time unit; coords ``t_start``, ``t_stop`` on ``window``.
    """
    st, si = _check_spikes(spike_times, spike_indices, n_neurons)
    e = np.asarray(edges, float).ravel()
    if e.size < 2 or np.any(np.diff(e) <= 0):
        raise ValueError(f"edges must be strictly increasing with >= 2 entries, got {e}")
    counts = np.zeros((e.size - 1, n_neurons))
    k = np.searchsorted(e, st, side="right") - 1
    inside = (k >= 0) & (k < e.size - 1)
    np.add.at(counts, (k[inside], si[inside]), 1.0)
    rates = counts / np.diff(e)[:, None]
    return xr.DataArray(rates, dims=("window", "neuron"),
                        coords={"window": np.arange(e.size - 1), "neuron": np.arange(n_neurons),
                                "t_start": ("window", e[:-1]), "t_stop": ("window", e[1:])},
                        name="rate", attrs={"long_name": "firing rate", "units": "spikes / time unit"})


def phase_rates(spike_times: Any, spike_indices: Any, n_neurons: int,
                phases: Mapping[str, tuple[float, float]]) -> xr.DataArray:
    """Rates per named phase, e.g. ``{"gamma=0": (0, 20), "gamma=0.7": (20, 40)}``.

    Returns
    -------
    xr.DataArray (phase, neuron), spikes per time unit (count in [t0, t1) / (t1 - t0)).
    """
    st, si = _check_spikes(spike_times, spike_indices, n_neurons)
    if not phases:
        raise ValueError("phases must name at least one (t0, t1) window")
    names = list(phases)
    out = np.zeros((len(names), n_neurons))
    for k, name in enumerate(names):
        t0, t1 = (float(v) for v in phases[name])
        if not t1 > t0:
            raise ValueError(f"phase {name!r} must have t1 > t0, got ({t0}, {t1})")
        m = (st >= t0) & (st < t1)
        out[k] = np.bincount(si[m], minlength=n_neurons) / (t1 - t0)
    return xr.DataArray(out, dims=("phase", "neuron"),
                        coords={"phase": names, "neuron": np.arange(n_neurons),
                                "t_start": ("phase", [float(phases[n][0]) for n in names]),
                                "t_stop": ("phase", [float(phases[n][1]) for n in names])},
                        name="rate", attrs={"long_name": "firing rate", "units": "spikes / time unit"})


def raster(spike_times: Any, spike_indices: Any, *, t_range: tuple[float, float] | None = None,
           neurons: Sequence[int] | None = None) -> xr.Dataset:
    """Raster data: the spikes inside a time range and a neuron subset, sorted by time.

    Returns
    -------
    xr.Dataset (spike): ``t`` (time units) and ``neuron`` (original index), plus ``row``
    (0.. position of the neuron in ``neurons``, for plotting a subset compactly).
    """
    st = _arr(spike_times).astype(float).ravel()
    si = _arr(spike_indices).astype(np.int64).ravel()
    if st.shape != si.shape:
        raise ValueError(f"spike_times and spike_indices must have equal length, got {st.size} and {si.size}")
    m = np.ones(st.size, bool)
    if t_range is not None:
        m &= (st >= t_range[0]) & (st < t_range[1])
    if neurons is not None:
        neurons = np.asarray(neurons, np.int64)
        m &= np.isin(si, neurons)
        row_of = {int(n): r for r, n in enumerate(neurons)}
    st, si = st[m], si[m]
    order = np.argsort(st, kind="stable")
    st, si = st[order], si[order]
    rows = np.array([row_of[int(n)] for n in si], np.int64) if neurons is not None else si.copy()
    ds = xr.Dataset({"t": ("spike", st, {"long_name": "spike time", "units": "time unit"}),
                     "neuron": ("spike", si, {"long_name": "neuron index"}),
                     "row": ("spike", rows, {"long_name": "raster row"})})
    if t_range is not None:
        ds.attrs["t_range"] = [float(t_range[0]), float(t_range[1])]
    return ds


def isi_stats(spike_times: Any, spike_indices: Any, n_neurons: int, *, duration: float | None = None,
              min_spikes: int = 3) -> xr.Dataset:
    """Inter-spike-interval statistics per neuron.

    Parameters
    ----------
    duration : float, optional
        Recording length for the rate (default: the span from 0 to the last spike).
    min_spikes : int
        Neurons with fewer spikes get NaN ISI statistics.

    Returns
    -------
    xr.Dataset (neuron): ``n_spikes``, ``rate`` (spikes / time unit), ``isi_mean`` (time
    units), ``isi_cv`` (s.d./mean of the ISIs; 0 for a regular train, 1 for Poisson).
    """
    st, si = _check_spikes(spike_times, spike_indices, n_neurons)
    if min_spikes < 2:
        raise ValueError(f"min_spikes must be >= 2 (an ISI needs two spikes), got {min_spikes}")
    T = float(duration) if duration is not None else (float(st.max()) if st.size else np.nan)
    n = np.bincount(si, minlength=n_neurons).astype(float)
    mean = np.full(n_neurons, np.nan)
    cv = np.full(n_neurons, np.nan)
    order = np.lexsort((st, si))
    st, si = st[order], si[order]
    bounds = np.searchsorted(si, np.arange(n_neurons + 1))
    for i in range(n_neurons):
        t = st[bounds[i]:bounds[i + 1]]
        if t.size >= min_spikes:
            isi = np.diff(t)
            mean[i] = isi.mean()
            cv[i] = isi.std() / isi.mean() if isi.mean() > 0 else np.nan
    return xr.Dataset(
        {"n_spikes": ("neuron", n, {"long_name": "spike count"}),
         "rate": ("neuron", n / T if T and T > 0 else np.full(n_neurons, np.nan),
                  {"long_name": "mean rate", "units": "spikes / time unit"}),
         "isi_mean": ("neuron", mean, {"long_name": "mean ISI", "units": "time unit"}),
         "isi_cv": ("neuron", cv, {"long_name": "ISI coefficient of variation", "units": "1"})},
        coords={"neuron": np.arange(n_neurons)}, attrs={"duration": T, "min_spikes": min_spikes})


def compare_rates(spiking: Any, rate: Any) -> dict[str, Any]:
    """Compare spiking rates with rate-model rates on the same inputs.

    Parameters
    ----------
    spiking, rate : arrays of equal shape (e.g. (sample, neuron))
        Rates of the spiking net and of its rate counterpart (same units).

    Returns
    -------
    dict
        ``pearson_r`` (over all entries; NaN if either is constant), ``relative_error``
        ``||s - r||_2 / ||r||_2``, ``mean_abs_error``, ``x`` (rate model, flattened) and
        ``y`` (spiking, flattened) for a scatter plot.
    """
    s = _arr(spiking).astype(float)
    r = _arr(rate).astype(float)
    if s.shape != r.shape:
        raise ValueError(f"spiking and rate must have equal shapes, got {s.shape} and {r.shape}")
    s, r = s.ravel(), r.ravel()
    if s.size < 2:
        raise ValueError("need at least two rates to compare")
    pr = float(np.corrcoef(s, r)[0, 1]) if s.std() > 0 and r.std() > 0 else float("nan")
    return {"pearson_r": pr,
            "relative_error": float(np.linalg.norm(s - r) / max(np.linalg.norm(r), 1e-300)),
            "mean_abs_error": float(np.abs(s - r).mean()),
            "x": r, "y": s}


def error_vs_duration(spiking: xr.DataArray | xr.Dataset, rate: xr.DataArray | xr.Dataset, *,
                      var: str = "rate") -> xr.Dataset:
    """Spiking-vs-rate agreement as simulation time grows.

    Parameters
    ----------
    spiking : DataArray or Dataset with a ``duration`` dim/coord
        Spiking rates for several simulation durations, e.g. (duration, sample, neuron).
    rate : DataArray or Dataset
        Rate-model rates, with or without a ``duration`` dim (without: the same reference
        for every duration, e.g. the rate model's fixed point).
    var : str
        Variable to use when Datasets are passed.

    Returns
    -------
    xr.Dataset (duration): ``pearson_r``, ``relative_error``, ``mean_abs_error``; scalar
    ``loglog_slope`` (least-squares slope of log relative error vs log duration; about -1
    when the error is the 1/T count resolution).
    """
    s = spiking[var] if isinstance(spiking, xr.Dataset) else spiking
    r = rate[var] if isinstance(rate, xr.Dataset) else rate
    if "duration" not in s.dims:
        raise ValueError(f"spiking must have a 'duration' dim, got dims {s.dims}")
    durations = np.asarray(s["duration"].values, float)
    out = {k: np.empty(durations.size) for k in ("pearson_r", "relative_error", "mean_abs_error")}
    for k, d in enumerate(durations):
        sk = s.isel(duration=k)
        rk = r.isel(duration=k) if "duration" in r.dims else r
        sk, rk = xr.align(sk, rk, join="exact")
        c = compare_rates(sk.transpose(*rk.dims).values, rk.values)
        for name in out:
            out[name][k] = c[name]
    err = out["relative_error"]
    ok = (err > 0) & np.isfinite(err) & (durations > 0)
    slope = float(np.polyfit(np.log(durations[ok]), np.log(err[ok]), 1)[0]) if ok.sum() >= 2 else float("nan")
    ds = xr.Dataset(
        {"pearson_r": ("duration", out["pearson_r"], {"long_name": "Pearson r (spiking vs rate)", "units": "1"}),
         "relative_error": ("duration", err, {"long_name": "||a_spk - a_rate|| / ||a_rate||", "units": "1"}),
         "mean_abs_error": ("duration", out["mean_abs_error"], {"long_name": "mean |a_spk - a_rate|",
                                                                 "units": "spikes / time unit"}),
         "loglog_slope": ((), slope, {"long_name": "d log(relative error) / d log(duration)"})},
        coords={"duration": durations})
    ds["duration"].attrs.update(s["duration"].attrs or {"long_name": "simulation time", "units": "time unit"})
    return ds
