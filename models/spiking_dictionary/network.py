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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attractorlab.models.spiking_dictionary import equations as eq
from attractorlab.models.spiking_dictionary.params import NetworkParams

__all__ = ["build_network", "synapse_indices", "gamma_schedule", "RECORD_MODES"]

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
    M, N = params.n_input, params.n_coding
    T = params.phase_duration * b2.second
    b2.defaultclock.dt = params.dt * b2.second

    inputs = inputs or {}
    x = inputs.get("x", np.zeros((n_samples, M)))
    gam = inputs.get("gamma", gamma_schedule(n_samples, 0.0, params.kappa))
    valid = inputs.get("valid", np.ones(n_samples))
    x_ta = b2.TimedArray(np.asarray(x, dtype=np.float64), dt=2 * T, name="x_ta")
    gamma_ta = b2.TimedArray(np.asarray(gam, dtype=np.float64), dt=T, name="gamma_ta")
    valid_ta = b2.TimedArray(np.asarray(valid, dtype=np.float64), dt=2 * T, name="valid_ta")
    ns = {"tau": 1 * b2.second, "phase_len": T, "x_ta": x_ta, "gamma_ta": gamma_ta,
          "valid_ta": valid_ta}

    coding_eqs = eq.CODING_EQS + (eq.CODING_LEARNING_EQS if learning else "")
    input_eqs = eq.INPUT_EQS + (eq.INPUT_LEARNING_EQS if learning else "")
    coding = b2.NeuronGroup(N, coding_eqs, threshold=eq.CODING_THRESHOLD, reset=eq.RESET,
                            method="euler", name="coding", namespace=ns)
    inp = b2.NeuronGroup(M, input_eqs, threshold=eq.INPUT_THRESHOLD, reset=eq.RESET,
                         method="euler", name="input", namespace=ns)
    coding.theta = 1.0
    coding.s = 1.0
    coding.lam1 = params.lam1

    ff = b2.Synapses(inp, coding, eq.SYNAPSE_EQS, on_pre=eq.FF_ON_PRE, name="ff", namespace=ns)
    i, j = synapse_indices(M, N)
    ff.connect(i=i, j=j)
    fb = b2.Synapses(coding, inp, eq.SYNAPSE_EQS, on_pre=eq.FB_ON_PRE, name="fb", namespace=ns)
    i, j = synapse_indices(N, M)
    fb.connect(i=i, j=j)
    objects = [coding, inp, ff, fb]
    lat = None
    if N > 1:
        lat = b2.Synapses(coding, coding, eq.SYNAPSE_EQS,
                          on_pre=eq.LAT_ON_PRE_LEARNING if learning else eq.LAT_ON_PRE,
                          name="lat", namespace=ns)
        i, j = synapse_indices(N, N, exclude_self=True)
        lat.connect(i=i, j=j)
        objects.append(lat)

    if learning:
        coding.etaD0 = 0.0
        coding.etaH0 = 0.0
        coding.lam2 = 0.0
        coding.kap = params.kappa
        coding.p0 = 1.0
        coding.sched = 0.0
        coding.p_offset = 0.0
        coding.theta_min = params.theta_min
        coding.run_regularly(eq.LEARN_CODE_CODING, dt=T, when="start", order=0, name="coding_learn")
        inp.run_regularly(eq.LEARN_CODE_INPUT, dt=T, when="start", order=0, name="input_learn")
        ff.run_regularly(eq.LEARN_CODE_FF, dt=2 * T, when="start", order=1, name="ff_learn")
        fb.run_regularly(eq.LEARN_CODE_FB, dt=2 * T, when="start", order=1, name="fb_learn")
        if lat is not None:
            lat.run_regularly(eq.LEARN_CODE_LAT, dt=2 * T, when="start", order=1, name="lat_learn")
    else:
        coding.run_regularly(eq.PHASE_CODE_CODING, dt=T, when="start", order=0, name="coding_phase")
        inp.run_regularly(eq.PHASE_CODE_INPUT, dt=T, when="start", order=0, name="input_phase")

    if record != "none":
        cvars = ["cnt", "U"] if record == "full" else ["cnt"]
        ivars = ["cnt", "V"] if record == "full" else ["cnt"]
        # Records the totals of the phase that just ended, before the counters are reset.
        objects.append(b2.StateMonitor(coding, cvars, record=True, dt=T, when="start", order=-1,
                                       name="mon_coding"))
        objects.append(b2.StateMonitor(inp, ivars, record=True, dt=T, when="start", order=-1,
                                       name="mon_input"))
    if record_spikes:
        objects.append(b2.SpikeMonitor(coding, name="spk_coding"))
        objects.append(b2.SpikeMonitor(inp, name="spk_input"))

    net = b2.Network(*objects, name="lin_tang_net")
    duration = n_samples * 2 * T + b2.defaultclock.dt
    handles = {"net": net, "duration": duration, "x_ta": x_ta, "gamma_ta": gamma_ta,
               "valid_ta": valid_ta, "n_samples": n_samples, "learning": learning,
               "record": record, "record_spikes": record_spikes}
    for obj in objects:
        handles[obj.name] = obj
    handles.setdefault("lat", None)
    return net, handles
