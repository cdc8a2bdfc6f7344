"""Spike statistics on synthetic trains and the spiking-vs-rate comparison on synthetic pairs."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from attractorlab.analysis import spikes as sp


def _poisson(rates, T, rng):
    times, idx = [], []
    for i, r in enumerate(rates):
        n = rng.poisson(r * T)
        times.append(np.sort(rng.uniform(0, T, n)))
        idx.append(np.full(n, i))
    return np.concatenate(times), np.concatenate(idx)


def _regular(rates, T, offset=0.0):
    times, idx = [], []
    for i, r in enumerate(rates):
        t = offset + np.arange(0, T, 1.0 / r)
        t = t[t < T]
        times.append(t)
        idx.append(np.full(t.size, i))
    return np.concatenate(times), np.concatenate(idx)


def test_poisson_rates_and_cv():
    """Poisson trains: rate within 4 s.e. (sqrt(r/T)) and ISI CV within 0.1 of 1 (seed 0)."""
    rng = np.random.default_rng(0)
    rates = np.array([2.0, 5.0, 10.0])
    T = 400.0
    st, si = _poisson(rates, T, rng)
    stats = sp.isi_stats(st, si, 3, duration=T)
    assert np.all(np.abs(stats["rate"].values - rates) < 4 * np.sqrt(rates / T))
    np.testing.assert_allclose(stats["isi_cv"].values, 1.0, atol=0.1)
    np.testing.assert_allclose(stats["isi_mean"].values, 1 / rates, rtol=0.1)


def test_regular_trains_have_zero_cv_and_exact_window_rates():
    rates = np.array([0.5, 2.0, 4.0])
    st, si = _regular(rates, 40.0, offset=0.125)
    stats = sp.isi_stats(st, si, 4, duration=40.0)  # neuron 3 silent
    np.testing.assert_allclose(stats["isi_cv"].values[:3], 0.0, atol=1e-12)
    assert np.isnan(stats["isi_cv"].values[3]) and stats["n_spikes"].values[3] == 0
    w = sp.window_rates(st, si, 4, np.arange(0, 41, 20))  # Lin & Tang: two 20-unit phases
    np.testing.assert_allclose(w.values[:, :3], np.tile(rates, (2, 1)))
    p = sp.phase_rates(st, si, 4, {"gamma=0": (0, 20), "gamma=0.7": (20, 40)})
    np.testing.assert_allclose(p.sel(phase="gamma=0.7").values, [0.5, 2.0, 4.0, 0.0])
    assert p.attrs["units"] == "spikes / time unit"
    with pytest.raises(ValueError, match="spike_indices"):
        sp.window_rates(st, si, 2, [0, 20])
    with pytest.raises(ValueError, match="edges"):
        sp.window_rates(st, si, 4, [20, 0])


def test_raster_subset():
    st = np.array([3.0, 1.0, 2.0, 5.0])
    si = np.array([2, 0, 2, 1])
    r = sp.raster(st, si, t_range=(0, 4), neurons=[2, 0])
    np.testing.assert_array_equal(r["t"].values, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(r["neuron"].values, [0, 2, 2])
    np.testing.assert_array_equal(r["row"].values, [1, 0, 0])


def test_compare_rates_and_error_vs_duration():
    """Synthetic pair: spiking = floor(rate * T) / T, the count resolution of a window of
    length T. Relative error falls as ~1/T (log-log slope near -1) and r -> 1."""
    rng = np.random.default_rng(2)
    ref = rng.gamma(2.0, 0.5, size=(20, 30))  # (sample, neuron) rates of the rate model
    ref[ref < 0.4] = 0.0  # sparse, like a LASSO code
    durations = np.array([5.0, 20.0, 80.0, 320.0])
    phase = rng.uniform(0, 1, size=ref.shape)  # where in its period each neuron starts
    spk = np.stack([np.floor(ref * T + phase) / T for T in durations])
    s = xr.DataArray(spk, dims=("duration", "sample", "neuron"), coords={"duration": durations})
    r = xr.DataArray(ref, dims=("sample", "neuron"))
    ds = sp.error_vs_duration(s, r)
    err = ds["relative_error"].values
    assert np.all(np.diff(err) < 0)
    assert -1.3 < float(ds["loglog_slope"]) < -0.7
    assert ds["pearson_r"].values[-1] > 0.999
    c = sp.compare_rates(spk[0], ref)
    assert c["relative_error"] == pytest.approx(err[0])
    assert c["x"].shape == (600,)
    # identical rates: zero error, r = 1
    same = sp.compare_rates(ref, ref)
    assert same["relative_error"] == 0.0 and same["pearson_r"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="duration"):
        sp.error_vs_duration(r, r)


def test_spike_figures():
    import matplotlib

    matplotlib.use("Agg")
    from attractorlab.analysis.figures import spikes as sf

    st, si = _regular(np.array([0.5, 2.0]), 40.0)
    ax = sf.raster_plot(sp.raster(st, si, t_range=(0, 40)), phase_edges=[20])
    assert "time" in ax.get_xlabel() and ax.get_xlim() == (0, 40)
    ref = np.linspace(0, 2, 10)
    ax = sf.rate_scatter(sp.compare_rates(ref + 0.01, ref))
    assert "r = " in ax.get_title()
    T = np.array([10.0, 100.0])
    s = xr.DataArray(np.stack([ref + 1 / t for t in T]), dims=("duration", "neuron"), coords={"duration": T})
    ax = sf.error_vs_duration_plot(sp.error_vs_duration(s, xr.DataArray(ref, dims="neuron")))
    assert ax.get_xscale() == "log"
