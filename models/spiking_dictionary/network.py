"""Build the Lin & Tang network as a Brian2 ``Network`` of named objects (no device handling).

``build_network`` creates, for a fixed number of samples ``n_samples`` (the chunk size),

* ``input`` (M neurons) and ``coding`` (N neurons), eqs in :mod:`.equations`;
* ``ff`` (input -> coding, weights F), ``fb`` (coding -> input, weights gamma B) and
  ``lat`` (coding -> coding, i != j, weights -W), all-to-all with explicit index arrays in
  presynaptic-major order;
* per-phase bookkeeping with ``run_regularly`` (``dt`` = one phase, ``when='start'``):
  counters reset each phase, mu = rho = 0 at each sample start;
* optionally Algorithm 1 (``learning=True``): g_D, g_H, F, B, W, theta updates after each
  sample (order 0: neurons, order 1: synapses), guarded against t = 0 and padding samples;
* ``StateMonitor`` objects at each phase boundary (``record``: "full" = spike counts and
  current integrals, "counts" = spike counts only, "none") and optional ``SpikeMonitor`` objects.

The placeholder inputs (``x_ta``: zeros (n_samples, M); ``gamma_ta``: [0, kappa] per sample;
``valid_ta``: ones) and weights are replaced at run time through ``run_args``.

This module also converts the weights to and from the synapses' arrays
(:func:`brian_weight_arrays`, :func:`weights_from_brian`) and lists every value a run sets
(:func:`run_time_values`): weights, lambda_1 and Algorithm 1's constants, the one table the
numpy runtime (attribute assignment) and the standalone device (``run_args``) both apply.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attractorlab.models.spiking_dictionary import equations as eq
from attractorlab.models.spiking_dictionary.params import NetworkParams
from attractorlab.models.spiking_dictionary.weights import SpikingWeights

__all__ = ["build_network", "synapse_indices", "gamma_schedule", "RECORD_MODES", "brian_weight_arrays",
           "weights_from_brian", "run_time_values"]

RECORD_MODES = ("full", "counts", "none")


def synapse_indices(n_pre: int, n_post: int, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All-to-all (i = pre, j = post) index arrays in presynaptic-major order."""
    i = np.repeat(np.arange(n_pre, dtype=np.int32), n_post)
    j = np.tile(np.arange(n_post, dtype=np.int32), n_pre)
    if exclude_self:
        keep = i != j
        i, j = i[keep], j[keep]
    return i, j


def gamma_schedule(n_samples: int, gamma0: float, gamma1: float) -> np.ndarray:
    """Gate values, one per phase: [gamma0, gamma1] repeated n_samples times."""
    return np.tile(np.array([gamma0, gamma1], dtype=np.float64), n_samples)


def build_network(
    params: NetworkParams,
    n_samples: int,
    *,
    learning: bool = False,
    record: str = "full",
    record_spikes: bool = False,
    inputs: dict[str, np.ndarray] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Create the network for ``n_samples`` samples of two phases each.

    Parameters
    ----------
    params : NetworkParams
        Sizes and constants; ``dt`` and ``phase_duration`` are structural.
    n_samples : int
        Samples per simulation (fixed by the TimedArray shapes and the duration).
    learning : bool
        Add Algorithm 1's in-simulation updates.
    record : {"full", "counts", "none"}
        What the phase-boundary monitors store.
    record_spikes : bool
        Add (recording) ``SpikeMonitor`` objects on both layers.
    inputs : dict, optional
        Actual ``x`` (n_samples, M), ``gamma`` (2 n_samples,) and ``valid`` (n_samples,)
        arrays for the runtime device (standalone passes them through ``run_args``).

    Returns
    -------
    net : brian2.Network
        Named objects; call ``net.run(duration)``.
    handles : dict
        ``net``, ``duration`` (Quantity), the TimedArrays ``x_ta``, ``gamma_ta``,
        ``valid_ta`` and each named object.
    """
    import brian2 as b2

    if record not in RECORD_MODES:
        raise ValueError(f"record must be one of {RECORD_MODES}, got {record!r}")
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
    n_samples = int(n_samples)
    b2.defaultclock.dt = params.dt * b2.second
    timed = _timed_arrays(params, n_samples, inputs or {})
    ns = dict(params.as_namespace(), **timed)
    coding, inp = _neuron_groups(params, ns, learning)
    synapses = _synapses(params, ns, coding, inp, learning)
    if learning:
        _add_learning(params, ns, coding, inp, synapses)
    else:
        T = ns["phase_len"]
        coding.run_regularly(eq.PHASE_CODE_CODING, dt=T, when="start", order=0, name="coding_phase")
        inp.run_regularly(eq.PHASE_CODE_INPUT, dt=T, when="start", order=0, name="input_phase")
    objects = [coding, inp] + [s for s in synapses.values() if s is not None]
    objects += _monitors(ns["phase_len"], coding, inp, record, record_spikes)

    net = b2.Network(*objects, name="lin_tang_net")
    duration = n_samples * 2 * ns["phase_len"] + b2.defaultclock.dt
    handles = {"net": net, "duration": duration, **timed, "n_samples": n_samples, "learning": learning,
               "record": record, "record_spikes": record_spikes}
    for obj in objects:
        handles[obj.name] = obj
    handles.setdefault("lat", None)
    return net, handles


def _timed_arrays(params: NetworkParams, n_samples: int, inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Input rows (one per sample), gate (one per phase) and the real-sample flags."""
    import brian2 as b2

    T = params.phase_duration * b2.second
    x = inputs.get("x", np.zeros((n_samples, params.n_input)))
    gam = inputs.get("gamma", gamma_schedule(n_samples, 0.0, params.kappa))
    valid = inputs.get("valid", np.ones(n_samples))
    return {"x_ta": b2.TimedArray(np.asarray(x, dtype=np.float64), dt=2 * T, name="x_ta"),
            "gamma_ta": b2.TimedArray(np.asarray(gam, dtype=np.float64), dt=T, name="gamma_ta"),
            "valid_ta": b2.TimedArray(np.asarray(valid, dtype=np.float64), dt=2 * T, name="valid_ta")}


def _neuron_groups(params: NetworkParams, ns: dict, learning: bool) -> tuple[Any, Any]:
    import brian2 as b2

    coding_eqs = eq.CODING_EQS + (eq.CODING_LEARNING_EQS if learning else "")
    input_eqs = eq.INPUT_EQS + (eq.INPUT_LEARNING_EQS if learning else "")
    coding = b2.NeuronGroup(params.n_coding, coding_eqs, threshold=eq.CODING_THRESHOLD, reset=eq.RESET,
                            method="euler", name="coding", namespace=ns)
    inp = b2.NeuronGroup(params.n_input, input_eqs, threshold=eq.INPUT_THRESHOLD, reset=eq.RESET,
                         method="euler", name="input", namespace=ns)
    coding.theta = 1.0
    coding.s = 1.0
    coding.lam1 = params.lam1
    return coding, inp


def _synapses(params: NetworkParams, ns: dict, coding: Any, inp: Any, learning: bool) -> dict[str, Any]:
    """``ff`` (input -> coding), ``fb`` (coding -> input), ``lat`` (coding -> coding, None if N = 1)."""
    import brian2 as b2

    M, N = params.n_input, params.n_coding
    ff = b2.Synapses(inp, coding, eq.SYNAPSE_EQS, on_pre=eq.FF_ON_PRE, name="ff", namespace=ns)
    i, j = synapse_indices(M, N)
    ff.connect(i=i, j=j)
    fb = b2.Synapses(coding, inp, eq.SYNAPSE_EQS, on_pre=eq.FB_ON_PRE, name="fb", namespace=ns)
    i, j = synapse_indices(N, M)
    fb.connect(i=i, j=j)
    lat = None
    if N > 1:
        lat = b2.Synapses(coding, coding, eq.SYNAPSE_EQS,
                          on_pre=eq.LAT_ON_PRE_LEARNING if learning else eq.LAT_ON_PRE,
                          name="lat", namespace=ns)
        i, j = synapse_indices(N, N, exclude_self=True)
        lat.connect(i=i, j=j)
    return {"ff": ff, "fb": fb, "lat": lat}


def _add_learning(params: NetworkParams, ns: dict, coding: Any, inp: Any, synapses: dict[str, Any]) -> None:
    """Algorithm 1's per-phase (order 0) and per-sample synaptic (order 1) updates."""
    T = ns["phase_len"]
    # placeholders of the run-time constants (run_time_values sets them for each run)
    for name in ("etaD0", "etaH0", "lam2", "lam2_gain", "sched", "p_offset"):
        setattr(coding, name, 0.0)
    coding.kap = params.kappa
    coding.p0 = 1.0
    coding.theta_min = params.theta_min
    coding.run_regularly(eq.LEARN_CODE_CODING, dt=T, when="start", order=0, name="coding_learn")
    inp.run_regularly(eq.LEARN_CODE_INPUT, dt=T, when="start", order=0, name="input_learn")
    code = {"ff": eq.LEARN_CODE_FF, "fb": eq.LEARN_CODE_FB, "lat": eq.LEARN_CODE_LAT}
    for name, syn in synapses.items():
        if syn is not None:
            syn.run_regularly(code[name], dt=2 * T, when="start", order=1, name=f"{name}_learn")


def _monitors(T: Any, coding: Any, inp: Any, record: str, record_spikes: bool) -> list[Any]:
    import brian2 as b2

    out = []
    if record != "none":
        cvars = ["cnt", "U"] if record == "full" else ["cnt"]
        ivars = ["cnt", "V"] if record == "full" else ["cnt"]
        # Records the totals of the phase that just ended, before the counters are reset.
        out.append(b2.StateMonitor(coding, cvars, record=True, dt=T, when="start", order=-1, name="mon_coding"))
        out.append(b2.StateMonitor(inp, ivars, record=True, dt=T, when="start", order=-1, name="mon_input"))
    if record_spikes:
        out.append(b2.SpikeMonitor(coding, name="spk_coding"))
        out.append(b2.SpikeMonitor(inp, name="spk_input"))
    return out


# --- weights <-> Brian arrays, and every value a run sets -----------------------------------

def brian_weight_arrays(w: SpikingWeights) -> dict[str, np.ndarray]:
    """Synapse weight vectors in connection order (see :func:`synapse_indices`), thresholds
    and l1 weights: ``ff``, ``fb``, ``lat`` (None if N = 1), ``theta``, ``s``."""
    F, B, H = w.F, w.B, w.H
    N = H.shape[0]
    ff = F.T.ravel()                      # pre = input k (major), post = coding i: F[i, k]
    fb = B.T.ravel()                      # pre = coding j (major), post = input k: B[k, j]
    off = ~np.eye(N, dtype=bool)
    lat = H.T[off] if N > 1 else None     # pre = coding j (major), post = coding i: W[i, j]
    return {"ff": ff, "fb": fb, "lat": lat, "theta": np.diag(H).copy(), "s": np.array(w.s)}


def weights_from_brian(ff: np.ndarray, fb: np.ndarray, lat: np.ndarray | None, theta: np.ndarray,
                       s: np.ndarray, N: int, M: int) -> SpikingWeights:
    """Inverse of :func:`brian_weight_arrays`."""
    F = np.asarray(ff, dtype=np.float64).reshape(M, N).T.copy()
    B = np.asarray(fb, dtype=np.float64).reshape(N, M).T.copy()
    HT = np.zeros((N, N))
    if N > 1:
        HT[~np.eye(N, dtype=bool)] = lat
    H = HT.T.copy()
    H[np.diag_indices(N)] = theta
    return SpikingWeights(F, B, H, np.asarray(s, dtype=np.float64).copy())


def run_time_values(params: NetworkParams, weights: SpikingWeights,
                    learning: dict[str, float] | None = None) -> dict[tuple[str, str], Any]:
    """Every value a run sets, as ``{(object name, variable): value}``.

    The weights (``ff.w``, ``fb.w``, ``lat.w``, ``coding.theta``, ``coding.s``), the coding
    group's run-time constants (:meth:`NetworkParams.run_values`) and, for learning,
    Algorithm 1's constants (``learning``, e.g. :meth:`LearningParams.run_values`).  The
    numpy runtime assigns them to the objects, the standalone device passes them as
    ``run_args``: both read this one table.
    """
    arrs = brian_weight_arrays(weights)
    out: dict[tuple[str, str], Any] = {
        ("coding", "theta"): arrs["theta"], ("coding", "s"): arrs["s"],
        ("ff", "w"): arrs["ff"], ("fb", "w"): arrs["fb"],
    }
    if arrs["lat"] is not None:
        out[("lat", "w")] = arrs["lat"]
    constants = dict(params.run_values(learning=learning is not None), **(learning or {}))
    for name, value in constants.items():
        out[("coding", name)] = float(value)
    return out
