"""Device handling: the only module that calls ``brian2.set_device``.

Two back ends run the same :func:`~.network.build_network` model:

* ``"standalone"`` (default): Brian2 ``cpp_standalone``, compiled once per network shape
  and chunk size in the cache of :mod:`.build_cache` and re-run with
  ``device.run(run_args=...)`` for new inputs, weights, gate schedule, lambda_1 and learning
  rates, without recompiling;
* ``"numpy"``: Brian2's runtime device with the numpy code-generation target (no compiler;
  slow; for small checks).

Both set the values of :func:`~.network.run_time_values` (the one table of what a run
sets).  The number of samples is baked into a compiled project (TimedArray shapes,
duration), so inputs are cut into chunks of fixed size; the last chunk is padded with
zeros and its padding outputs are discarded (padding samples never update weights).
"""

from __future__ import annotations

import json
import resource
from typing import Any, Mapping

import numpy as np

from attractorlab.models.spiking_dictionary.build_cache import current_build_dir, standalone_project, stats
from attractorlab.models.spiking_dictionary.network import (
    build_network,
    gamma_schedule,
    run_time_values,
    weights_from_brian,
)
from attractorlab.models.spiking_dictionary.params import NetworkParams, check_gamma, check_inputs, warn_if_saturated
from attractorlab.models.spiking_dictionary.weights import SpikingWeights, as_weights

__all__ = [
    "DEVICES",
    "current_build_dir",
    "default_chunk_size",
    "run_chunk",
    "run_network",
    "stats",
]

DEVICES = ("standalone", "numpy")


# --- one chunk ---------------------------------------------------------------------------

def run_chunk(
    params: NetworkParams,
    x: np.ndarray,
    weights: SpikingWeights,
    *,
    gamma: tuple[float, float],
    device: str = "standalone",
    learning: Mapping[str, float] | None = None,
    n_valid: int | None = None,
    record: str = "full",
    record_spikes: bool = False,
) -> dict[str, Any]:
    """Simulate one chunk of samples (already validated) and return raw numpy results.

    Parameters
    ----------
    x : (K, M) array
        Inputs of the chunk (K = chunk size, padding included).
    weights : SpikingWeights
        Weights at the start of the chunk.
    gamma : (float, float)
        Gate of phase 0 and phase 1.
    learning : dict, optional
        Algorithm 1's run-time constants (:meth:`~.params.LearningParams.run_values`) to
        run Algorithm 1.
    n_valid : int, optional
        Real samples at the start of the chunk (the rest is padding, never learned from).

    Returns
    -------
    dict with ``cnt_coding`` (K, 2, N), ``cnt_input`` (K, 2, M), and with
    ``record="full"`` ``U`` (K, 2, N), ``V`` (K, 2, M) (current integrals); with learning
    the final ``weights`` (SpikingWeights) and ``n_updates``; spikes ``spk_*_t/i`` if recorded.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    import brian2 as b2

    K = x.shape[0]
    n_valid = K if n_valid is None else int(n_valid)
    timed = {"x": x, "gamma": gamma_schedule(K, *gamma), "valid": (np.arange(K) < n_valid).astype(np.float64)}
    values = run_time_values(params, weights, learning)
    is_learning = learning is not None

    prev_device = b2.get_device()
    prev_target = b2.prefs.codegen.target
    prev_dtype = b2.prefs.core.default_float_dtype
    try:
        # state and weights in the requested precision (code generation and runtime arrays)
        b2.prefs.core.default_float_dtype = np.dtype(params.float_dtype).type
        if device == "numpy":
            h = _run_numpy(params, K, timed, values, is_learning, record, record_spikes)
        else:
            h = _run_standalone(params, K, timed, values, is_learning, record, record_spikes)
        out = _collect(h, params, K, record, record_spikes, is_learning)
        if device == "standalone":
            b2.device.delete(code=False, data=False, run_args=True, directory=False, force=True)
        return out
    finally:
        b2.prefs.codegen.target = prev_target
        b2.prefs.core.default_float_dtype = prev_dtype
        if device == "numpy":
            b2.device.reinit()
        if b2.get_device() is not prev_device:
            b2.set_device(prev_device, build_on_run=getattr(prev_device, "build_on_run", True),
                          **getattr(prev_device, "build_options", {}))


def _run_numpy(params: NetworkParams, K: int, timed: dict, values: dict, learning: bool, record: str,
               record_spikes: bool) -> dict:
    """Build on the runtime device with the inputs, assign the run-time values, run."""
    import brian2 as b2

    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    net, h = build_network(params, K, learning=learning, record=record, record_spikes=record_spikes,
                           inputs=timed)
    for (obj, var), value in values.items():
        setattr(h[obj], var, value)
    net.run(h["duration"], namespace={})
    return h


def _run_standalone(params: NetworkParams, K: int, timed: dict, values: dict, learning: bool, record: str,
                    record_spikes: bool) -> dict:
    """Run the compiled project with the inputs and run-time values as ``run_args``."""
    import brian2 as b2

    h, directory = standalone_project(params, K, learning, record, record_spikes)
    run_args = {h["x_ta"]: timed["x"], h["gamma_ta"]: timed["gamma"]}
    if learning:
        run_args[h["valid_ta"]] = timed["valid"]
    for (obj, var), value in values.items():
        run_args[getattr(h[obj], var)] = value
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    b2.device.run(directory=str(directory), run_args=run_args, with_output=False)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats["runs"] += 1
    stats["binary_cpu_seconds"] += (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    stats["binary_seconds"] += float(b2.device.timers.get("run_binary", 0.0))
    stats["sim_seconds"] += float(getattr(b2.device, "_last_run_time", 0.0))
    return h


def _collect(h: dict, params: NetworkParams, K: int, record: str, record_spikes: bool,
             learning: bool) -> dict[str, Any]:
    N, M = params.n_coding, params.n_input
    out: dict[str, Any] = {}
    if record != "none":
        mc, mi = h["mon_coding"], h["mon_input"]
        # records at t = 0, T, ..., 2 K T; entry k >= 1 holds the totals of phase k - 1
        cc = np.asarray(mc.cnt, dtype=np.float64)[:, 1:2 * K + 1]
        ci = np.asarray(mi.cnt, dtype=np.float64)[:, 1:2 * K + 1]
        out["cnt_coding"] = cc.T.reshape(K, 2, N)
        out["cnt_input"] = ci.T.reshape(K, 2, M)
        if record == "full":
            out["U"] = np.asarray(mc.U, dtype=np.float64)[:, 1:2 * K + 1].T.reshape(K, 2, N)
            out["V"] = np.asarray(mi.V, dtype=np.float64)[:, 1:2 * K + 1].T.reshape(K, 2, M)
    if record_spikes:
        for name in ("spk_coding", "spk_input"):
            out[f"{name}_t"] = np.asarray(h[name].t_[:], dtype=np.float64)
            out[f"{name}_i"] = np.asarray(h[name].i[:])
    if learning:
        c = h["coding"]
        lat = np.asarray(h["lat"].w[:]) if h["lat"] is not None else None
        out["weights"] = weights_from_brian(h["ff"].w[:], h["fb"].w[:], lat, np.asarray(c.theta[:]),
                                            np.asarray(c.s[:]), N, M)
        out["n_updates"] = int(round(float(np.asarray(c.n_updates[:]).ravel()[0])))
    return out



# --- public: run the network on many samples -----------------------------------------------

def default_chunk_size(params: NetworkParams) -> int:
    """Default samples per compiled simulation: 200, fewer for very large networks.

    Deliberately independent of the number of samples, so that runs on different data
    sizes share one build (a short input is padded; padding samples cost little).
    """
    per_sample = 4 * (params.n_coding + params.n_input) * 8   # recorded bytes per sample
    cap = max(1, int(2e8 // per_sample))
    return int(max(1, min(200, cap)))


def run_network(
    X: Any,
    weights: SpikingWeights | Mapping[str, Any],
    params: NetworkParams,
    *,
    device: str = "standalone",
    record_spikes: bool = False,
    chunk_size: int | None = None,
    gamma: tuple[float, float] | None = None,
    progress: bool = False,
) -> "xr.Dataset":  # noqa: F821
    """Run the network on every row of ``X`` (two phases per sample) with fixed weights.

    Parameters
    ----------
    X : (P, M) array, >= 0
        Input signals, one per row (pixel intensities, dimensionless).
    weights : SpikingWeights (or a mapping F, B, H[, s])
        ``F`` (N, M), ``B`` (M, N), ``H`` (N, N) with diag(H) = thresholds > 0, ``s`` (N,).
    params : NetworkParams
        Network constants.
    device : {"standalone", "numpy"}
        C++ standalone (compiled once per shape and chunk size) or Brian2's numpy runtime.
    record_spikes : bool
        Also return spike times and indices (``spike`` dim; a separate build).
    chunk_size : int, optional
        Samples per simulation (a build parameter: one compilation per value; default 200,
        see :func:`default_chunk_size`; all samples at once on the numpy runtime).
    gamma : (float, float), optional
        Gate of the two phases; default ``(0, params.kappa)``.
    progress : bool
        tqdm bar over chunks.

    Returns
    -------
    xarray.Dataset
        ``a(sample, phase, neuron)``, ``b(sample, phase, pixel)`` spike rates (spikes per
        time unit), ``u``, ``v`` mean currents, ``e = u - theta a``; phase coordinate is
        the gate value; with spikes ``spike_t``, ``spike_i``, ``spike_layer``
        (0 = input, 1 = coding), ``spike_sample``.
    """
    if not isinstance(params, NetworkParams):
        raise ValueError(f"params must be a NetworkParams, got {type(params).__name__}")
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    X = check_inputs(X, params)
    warn_if_saturated(X, params, stacklevel=2)  # points at the caller of run_network
    w = as_weights(weights, params.n_input, params.n_coding)
    g = check_gamma(gamma, params)
    P = X.shape[0]
    if chunk_size is None:
        # the numpy runtime compiles nothing: no reason to pad
        K = P if device == "numpy" else default_chunk_size(params)
    else:
        K = int(chunk_size)
    if K < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    parts, spikes = _run_chunks(X, w, params, g, K, device, record_spikes, progress)
    ds = _rates_dataset(parts, w, params, g)
    if record_spikes:
        _add_spikes(ds, spikes)
    ds.attrs.update({
        "model": "Lin & Tang (2019) spiking network",
        "params": json.dumps(params.as_dict()),
        "device": device,
        "gamma": json.dumps(list(g)),
        "chunk_size": K,
        "time_units": "model time units (tau = 1)",
    })
    return ds


_RATE_KEYS = ("cnt_coding", "cnt_input", "U", "V")


def _run_chunks(X: np.ndarray, w: SpikingWeights, params: NetworkParams, g: tuple[float, float], K: int,
                device: str, record_spikes: bool, progress: bool) -> tuple[dict[str, list], dict[str, list]]:
    """Every chunk of K samples (the last padded); per-chunk counts, integrals and spikes."""
    T = params.phase_duration
    parts: dict[str, list] = {k: [] for k in _RATE_KEYS}
    spikes: dict[str, list] = {"t": [], "i": [], "layer": [], "sample": []}
    starts = range(0, X.shape[0], K)
    if progress:
        from tqdm.auto import tqdm
        starts = tqdm(starts, desc="run_network", unit="chunk")
    for start in starts:
        xc = X[start:start + K]
        n = xc.shape[0]
        if n < K:
            xc = np.vstack([xc, np.zeros((K - n, params.n_input))])
        res = run_chunk(params, xc, w, gamma=g, device=device, n_valid=n, record="full",
                        record_spikes=record_spikes)
        for k in _RATE_KEYS:
            parts[k].append(res[k][:n])
        if record_spikes:
            for layer, name in ((0, "spk_input"), (1, "spk_coding")):
                t = res[f"{name}_t"]
                smp = np.floor(t / (2 * T) + 1e-9).astype(np.int64)
                keep = smp < n
                spikes["t"].append(t[keep] + start * 2 * T)
                spikes["i"].append(res[f"{name}_i"][keep])
                spikes["layer"].append(np.full(keep.sum(), layer, dtype=np.int8))
                spikes["sample"].append(smp[keep] + start)
    return parts, spikes


def _rates_dataset(parts: dict[str, list], w: SpikingWeights, params: NetworkParams,
                   g: tuple[float, float]) -> "xr.Dataset":  # noqa: F821
    """Rates, mean currents and e = u - theta a of every sample and phase."""
    import xarray as xr

    T = params.phase_duration
    cc, ci, U, V = (np.concatenate(parts[k]) for k in _RATE_KEYS)
    a, b = cc / T, ci / T
    u, v = U / T, V / T
    theta = np.diag(w.H)
    e = u - theta[None, None, :] * a
    return xr.Dataset(
        {
            "a": (("sample", "phase", "neuron"), a, {"long_name": "coding spike rate", "units": "spikes per time unit"}),
            "b": (("sample", "phase", "pixel"), b, {"long_name": "input spike rate", "units": "spikes per time unit"}),
            "u": (("sample", "phase", "neuron"), u, {"long_name": "coding mean current", "units": "1"}),
            "v": (("sample", "phase", "pixel"), v, {"long_name": "input mean current", "units": "1"}),
            "e": (("sample", "phase", "neuron"), e, {"long_name": "u - theta a (eq 8)", "units": "1"}),
        },
        coords={"sample": np.arange(a.shape[0]),
                "phase": ("phase", np.array(g), {"long_name": "feedback gate gamma", "units": "1"}),
                "neuron": np.arange(params.n_coding), "pixel": np.arange(params.n_input)},
    )


def _add_spikes(ds: "xr.Dataset", spikes: dict[str, list]) -> None:  # noqa: F821
    order_t = np.concatenate(spikes["t"]) if spikes["t"] else np.zeros(0)
    ds["spike_t"] = ("spike", order_t, {"long_name": "spike time", "units": "time units"})
    ds["spike_i"] = ("spike", np.concatenate(spikes["i"]).astype(np.int64), {"long_name": "neuron index within layer"})
    ds["spike_layer"] = ("spike", np.concatenate(spikes["layer"]), {"long_name": "layer (0 input, 1 coding)"})
    ds["spike_sample"] = ("spike", np.concatenate(spikes["sample"]), {"long_name": "sample index"})
