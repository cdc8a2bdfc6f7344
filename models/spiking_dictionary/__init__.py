"""Spiking dictionary learning of Lin & Tang (ICLR 2019) in Brian2.

Two populations of non-leaky integrate-and-fire neurons (tau = 1, one model time unit =
one Brian2 second): M *input* neurons (threshold 1, bias (1-gamma) x, feedback gamma B)
and N *coding* neurons (thresholds theta = diag(H), bias -(1-gamma) lam1 s, feed-forward
F, lateral inhibition W = H - diag(theta)).  Each sample is shown for two phases,
gamma = 0 then gamma = kappa; many samples run inside one compiled C++ simulation
(Brian2 ``cpp_standalone``, built once per network shape and re-run with ``run_args``).

Public API
----------
* ``NetworkParams(n_input, n_coding, lam1=0.3, kappa=0.7, phase_duration=20.0, dt=1/32,
  theta_min=1e-3)``: frozen, validated network parameters (model time units).
* ``LearningParams(eta_D, eta_H=None (-> 15 eta_D), lam2=0.0, schedule="constant"|"inverse",
  p0=1e4, lam2_rule="constant"|"unit_norm"|"mean_norm", lam2_gain=1.0, norm_tau=5000)``:
  learning rates of Algorithm 1; ``"inverse"``: eta(p) = eta0 / (1 + p / p0); the lambda_2
  rule: fixed, per-atom unit-norm, or the shared lambda_2 with its gain adapted to hold the
  mean atom norm at 1.
* ``init_weights(n_input, n_coding, kind="consistent"|"random", seed=0) -> dict`` and
  ``consistent_weights(D) -> dict`` (F = D^T, B = D, H = D^T D, s = diag H):
  ``{"F": (N, M), "B": (M, N), "H": (N, N), "s": (N,)}`` numpy float64 arrays.
* ``run_network(X, weights, params, *, device="standalone"|"numpy", record_spikes=False,
  chunk_size=None (-> 200), gamma=None (-> (0, kappa)), progress=False) -> xr.Dataset``:
  X is (P, M) >= 0.  Variables ``a(sample, phase, neuron)``, ``b(sample, phase, pixel)``
  (spike rates, spikes per time unit), ``u``, ``v`` (mean currents per phase),
  ``e = u - theta a``; ``phase`` coordinate = gamma of the phase ([0, kappa]).  With
  ``record_spikes=True`` also ``spike_t``/``spike_i``/``spike_layer`` (dim ``spike``).
* ``learn_dictionary(X, params, learning, *, init="consistent"|"random"|SpikingWeights, seed=0,
  snapshot_every=1000, checkpoint_path=None, progress=True, record_first_last_rates=True,
  device="standalone", chunk_size=None (-> snapshot_every, or its largest divisor <= 2000))
  -> xr.Dataset``: Algorithm 1 inside the simulation.  Final ``F(atom, pixel)``,
  ``B(pixel, atom)``, ``H(atom, atom2)``, ``s(atom)``; snapshots ``F_snap, B_snap, H_snap,
  s_snap`` along dim ``snapshot`` (coordinate ``samples_seen``, first entry = initial
  weights); ``n_updates`` (== P, asserted); ``n_active(sample, phase)`` (coding neurons that
  spiked) and ``gD_norm(sample)`` = ``||b_kappa - b_0||`` (eq 9, reconstruction-error
  proxy); with ``record_first_last_rates`` the rates ``a_first``/``b_first`` and
  ``a_last``/``b_last`` (dims ``phase`` and ``neuron``/``pixel``) of the first and last
  sample.  Resumes from ``checkpoint_path`` when that file exists.
* ``simulate_reference(X, weights, params, gamma=None) -> dict`` (module ``reference``):
  plain numpy simulation of the same discrete equations (test oracle);
  ``reference.learn_reference`` runs Algorithm 1 on it; ``rate.simulate_rate`` is the rate
  model.
* ``run_parallel(fn, list_of_kwargs, max_workers=2)`` (module ``runtime``): independent runs
  in separate processes, each with its own build directory.

The compiled project depends on (N, M, chunk size, phase_duration, dt, learning or not,
record_spikes): each new combination compiles once (15-60 s), then is cached.

Environment: ``ATTRACTORLAB_BUILD_DIR`` is the root of the compiled-project cache
(default ``~/.cache/attractorlab/brian2``); one sub-folder per network shape and option set.
"""

from attractorlab.models.spiking_dictionary.params import LearningParams, NetworkParams
from attractorlab.models.spiking_dictionary.weights import SpikingWeights, consistent_weights, init_weights
from attractorlab.models.spiking_dictionary.learning import learn_dictionary, weights_of
from attractorlab.models.spiking_dictionary.runtime import run_network
from attractorlab.models.spiking_dictionary.sweeps import run_parallel
from attractorlab.models.spiking_dictionary.reference import simulate_reference

__all__ = [
    "NetworkParams",
    "LearningParams",
    "SpikingWeights",
    "weights_of",
    "init_weights",
    "consistent_weights",
    "run_network",
    "learn_dictionary",
    "run_parallel",
    "simulate_reference",
]
