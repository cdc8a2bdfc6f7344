"""Algorithm 1 of Lin & Tang (2019) run inside the compiled simulation.

For every sample the network runs at gamma = 0 and then at gamma = kappa (states carry
over at the switch, mu = rho = 0 at each sample start); at the end of the sample, still
inside the C++ simulation (``run_regularly``, see :mod:`.equations`):

* input neuron k:  g_D,k = b_kappa,k - b_0,k                                   (eq 9)
* coding neuron i: g_H,i = (1-kappa) (H (a_0 - a_kappa))_i + (1-kappa) e_0,i - e_kappa,i
  with (W a)_i accumulated by the lateral synapses (no summed variables)      (eq 10)
* F_ij -= eta_D (a_kappa,i g_D,j / kappa + lam2_i F_ij);  B_kj likewise          (eq 11)
* H_ij -= eta_H g_H,i a_kappa,j / kappa + eta_D (lam2_i + lam2_j) H_ij  (W off-diagonal,
  theta diagonal)                                                              (eq 12)
* projection: F, B, W clipped at 0, theta floored at ``theta_min``; s = diag(H).

lam2_i = lam2 for every atom (the paper), or lam2 + g lambda_1 a_kappa,i theta_i with the
unit-norm rule (:class:`~.params.LearningParams`, ``lam2_rule``), whose gain g is adapted
after each chunk.

Samples are processed in chunks of K (one ``device.run`` per chunk, weights passed back
through ``run_args``: one compilation serves any number of samples); weights are
snapshotted every ``snapshot_every`` samples and optionally checkpointed (atomic netCDF)
so an interrupted run resumes from the last checkpoint with identical results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from attractorlab.models.spiking_dictionary.params import (LearningParams, NetworkParams, SpikingInputWarning,
                                                           check_inputs, warn_if_saturated)
from attractorlab.models.spiking_dictionary.weights import (
    INIT_KINDS,
    WEIGHT_NAMES,
    SpikingWeights,
    as_weights,
    consistent_weights,
    init_weights,
)

__all__ = ["init_weights", "consistent_weights", "learn_dictionary", "weights_of", "INIT_KINDS",
           "SpikingInputWarning", "warn_if_saturated"]


def weights_of(ds: Any, snapshot: int | None = None) -> SpikingWeights:
    """The weights stored in a :func:`learn_dictionary` Dataset (or checkpoint): the final
    ones, or those of snapshot number ``snapshot``."""
    if snapshot is None:
        return SpikingWeights.from_mapping(ds)
    return SpikingWeights(*(ds[f"{k}_snap"].values[snapshot] for k in WEIGHT_NAMES))


def _auto_chunk(snapshot_every: int) -> int:
    if snapshot_every <= 2000:
        return snapshot_every
    for k in range(2000, 0, -1):
        if snapshot_every % k == 0:
            return k
    return 1  # pragma: no cover


def _fingerprint(X: np.ndarray, params: NetworkParams, learning: LearningParams, init_desc: str,
                 seed: int, K: int, snapshot_every: int) -> str:
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(json.dumps([params.as_dict(), learning.as_dict(), init_desc, int(seed), K,
                         snapshot_every], sort_keys=True, default=str).encode())
    return h.hexdigest()


@dataclasses.dataclass
class _LearningState:
    """Everything a run has learned and recorded so far (what a checkpoint holds)."""

    w: SpikingWeights
    gain: float
    n_active: np.ndarray                     # (P, 2) coding neurons that spiked
    gd_norm: np.ndarray                      # (P,) ||b_kappa - b_0||
    snaps: dict[str, list]                   # F, B, H, s, gain at each snapshot
    snap_at: list[int]
    seen: int = 0
    n_updates: int = 0
    first: tuple | None = None
    last: tuple | None = None
    seconds: float = 0.0                     # wall time of the chunks run so far (all sessions)
    resumed_seconds: float = 0.0             # of it, before the last resume

    @classmethod
    def fresh(cls, w: SpikingWeights, gain: float, P: int) -> "_LearningState":
        snaps = {k: [np.array(getattr(w, k))] for k in WEIGHT_NAMES}
        snaps["gain"] = [float(gain)]
        return cls(w, float(gain), np.zeros((P, 2), dtype=np.int32), np.zeros(P), snaps, [0])

    @classmethod
    def resume(cls, z: Any, P: int, default_gain: float) -> "_LearningState":
        """The state saved in checkpoint Dataset ``z``."""
        seen = int(z.attrs["samples_done"])
        snaps = {k: list(z[f"{k}_snap"].values) for k in WEIGHT_NAMES}
        snaps["gain"] = (list(z["lam2_gain_snap"].values) if "lam2_gain_snap" in z
                         else [float(default_gain)] * len(snaps["F"]))
        state = cls(weights_of(z), float(snaps["gain"][-1]), np.zeros((P, 2), dtype=np.int32), np.zeros(P),
                    snaps, [int(v) for v in z["samples_seen"].values], seen, int(z["n_updates"]))
        state.seconds = state.resumed_seconds = float(z.attrs.get("learn_seconds", 0.0))
        state.n_active[:seen] = z["n_active"].values[:seen]
        state.gd_norm[:seen] = z["gD_norm"].values[:seen]
        if "a_first" in z:
            state.first = (z["a_first"].values, z["b_first"].values)
        if "a_last" in z:
            state.last = (z["a_last"].values, z["b_last"].values)
        return state

    def absorb(self, res: Mapping[str, Any], n: int, T: float, learning: LearningParams) -> None:
        """Take in the results of a chunk of ``n`` real samples."""
        if res["n_updates"] != n:
            raise RuntimeError(f"{res['n_updates']} in-simulation updates for {n} samples")
        self.n_updates += res["n_updates"]
        self.w = res["weights"]
        self.gain = learning.adapted_gain(self.gain, self.w.F, n)
        cc = res["cnt_coding"][:n]
        ci = res["cnt_input"][:n]
        s = self.seen
        self.n_active[s:s + n] = (cc > 0).sum(axis=2)
        self.gd_norm[s:s + n] = np.linalg.norm((ci[:, 1] - ci[:, 0]) / T, axis=1)
        if s == 0:
            self.first = (cc[0] / T, ci[0] / T)
        self.last = (cc[n - 1] / T, ci[n - 1] / T)
        self.seen += n

    def snapshot(self) -> None:
        for k in WEIGHT_NAMES:
            self.snaps[k].append(np.array(getattr(self.w, k)))
        self.snaps["gain"].append(self.gain)
        self.snap_at.append(self.seen)

    def dataset(self, params: NetworkParams, attrs: Mapping[str, Any], rates: bool = True) -> "xr.Dataset":  # noqa: F821
        """The Dataset of :func:`learn_dictionary` (also the checkpoint format)."""
        import xarray as xr

        N, M = params.n_coding, params.n_input
        w, snaps = self.w, self.snaps
        one = {"units": "1"}
        ds = xr.Dataset(
            {
                "F": (("atom", "pixel"), np.array(w.F), dict(one, long_name="feed-forward weights F")),
                "B": (("pixel", "atom"), np.array(w.B), dict(one, long_name="feedback weights B")),
                "H": (("atom", "atom2"), np.array(w.H), dict(one, long_name="H = W + diag(theta)")),
                "s": (("atom",), np.array(w.s), dict(one, long_name="l1 weights s = diag(H)")),
                "F_snap": (("snapshot", "atom", "pixel"), np.stack(snaps["F"]), dict(one, long_name="F snapshots")),
                "B_snap": (("snapshot", "pixel", "atom"), np.stack(snaps["B"]), dict(one, long_name="B snapshots")),
                "H_snap": (("snapshot", "atom", "atom2"), np.stack(snaps["H"]), dict(one, long_name="H snapshots")),
                "s_snap": (("snapshot", "atom"), np.stack(snaps["s"]), dict(one, long_name="s snapshots")),
                "n_active": (("sample", "phase"), self.n_active,
                             {"long_name": "coding neurons that spiked", "units": "neurons"}),
                "gD_norm": (("sample",), self.gd_norm,
                            {"long_name": "||b_kappa - b_0|| (eq 9)", "units": "spikes per time unit"}),
                "n_updates": ((), int(self.n_updates),
                              dict(one, long_name="per-sample updates applied in the simulation")),
                "lam2_gain_snap": (("snapshot",), np.asarray(snaps["gain"], dtype=np.float64),
                                   dict(one, long_name="gain of the unit-norm lambda_2 rule")),
            },
            coords={"snapshot": np.arange(len(self.snap_at)),
                    "samples_seen": ("snapshot", np.array(self.snap_at, dtype=np.int64),
                                     {"long_name": "samples seen", "units": "samples"}),
                    "sample": np.arange(self.n_active.shape[0]),
                    "phase": ("phase", np.array([0.0, params.kappa]), dict(one, long_name="feedback gate gamma")),
                    "atom": np.arange(N), "atom2": np.arange(N), "pixel": np.arange(M)},
        )
        rate = {"units": "spikes per time unit"}
        for name, pair in (("first", self.first), ("last", self.last)):
            if rates and pair is not None:
                ds[f"a_{name}"] = (("phase", "atom"), np.asarray(pair[0]), dict(rate, long_name=f"coding rates, {name} sample"))
                ds[f"b_{name}"] = (("phase", "pixel"), np.asarray(pair[1]), dict(rate, long_name=f"input rates, {name} sample"))
        ds.attrs.update(attrs)
        ds.attrs["samples_done"] = int(self.seen)
        ds.attrs["learn_seconds"] = float(self.seconds)
        ds.attrs["resumed_seconds"] = float(self.resumed_seconds)
        return ds


def learn_dictionary(
    X: Any,
    params: NetworkParams,
    learning: LearningParams,
    *,
    init: str | SpikingWeights | Mapping[str, Any] = "consistent",
    seed: int = 0,
    snapshot_every: int = 1000,
    checkpoint_path: str | os.PathLike | None = None,
    progress: bool = True,
    record_first_last_rates: bool = True,
    device: str = "standalone",
    chunk_size: int | None = None,
    p_offset: int = 0,
) -> "xr.Dataset":  # noqa: F821
    """Learn F, B, H (and s = diag(H)) with Algorithm 1, one pass over the rows of ``X``.

    Parameters
    ----------
    X : (P, M) array, >= 0
        Training samples in presentation order (shuffle beforehand for "pick a random
        sample").
    params : NetworkParams
        Network constants; ``kappa`` must be > 0.
    learning : LearningParams
        eta_D, eta_H, lam2 and the schedule.
    init : "consistent", "random" or SpikingWeights
        Initial weights (see :func:`~.weights.init_weights`), or given weights (a mapping
        ``F, B, H[, s]`` is converted).
    seed : int
        Seed of the initial weights (the simulation itself is deterministic).
    snapshot_every : int
        Samples between stored snapshots (and checkpoints); a multiple of the chunk size.
    checkpoint_path : path, optional
        netCDF file (``.nc``, written atomically with :func:`attractorlab.results.save_dataset`)
        holding the state at each snapshot, in the format of the returned Dataset plus
        ``attrs["samples_done"]``; if it exists (same data, params and options), training
        resumes from it.
    progress : bool
        tqdm bar (samples).
    record_first_last_rates : bool
        Store the spike rates of the first and the last sample (both phases).
    device : {"standalone", "numpy"}
        ``"numpy"`` is for tiny checks only.
    chunk_size : int, optional
        Samples per compiled simulation (default: ``snapshot_every`` up to 2000, else its
        largest divisor <= 2000).
    p_offset : int
        Samples learned before the rows of ``X`` (for the ``"inverse"`` rate schedule when a
        run is split into several calls).

    Returns
    -------
    xarray.Dataset
        ``F(atom, pixel)``, ``B(pixel, atom)``, ``H(atom, atom2)``, ``s(atom)``;
        ``F_snap, B_snap, H_snap, s_snap`` and ``lam2_gain_snap`` (the unit-norm rule's
        gain) along ``snapshot`` (coordinate ``samples_seen``, the first entry is the
        initial state); :func:`weights_of` reads the final weights back; ``n_active(sample,
        phase)`` (coding neurons that spiked), ``gD_norm(sample)`` = ||b_kappa - b_0||
        (eq 9, a reconstruction-error proxy); ``n_updates`` (== P); attrs ``learn_seconds``
        (wall time of the simulation chunks, summed over interrupted sessions) and
        ``resumed_seconds`` (the part before the last resume); optionally
        ``a_first, a_last (phase, atom)``, ``b_first, b_last (phase, pixel)``.
    """
    X, K, w0, init_desc = _check_learning_args(X, params, learning, init, seed, snapshot_every, chunk_size, device)
    P = X.shape[0]
    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None
    if ckpt is not None and ckpt.suffix != ".nc":
        raise ValueError(f"checkpoint_path must end in '.nc' (netCDF), got {str(ckpt)!r}")
    attrs = {
        "model": "Lin & Tang (2019) Algorithm 1, in-simulation learning",
        "params": json.dumps(params.as_dict()),
        "learning": json.dumps(learning.as_dict()),
        "init": init_desc, "seed": int(seed), "device": device, "chunk_size": K,
        "snapshot_every": int(snapshot_every),
        "fingerprint": _fingerprint(X, params, learning, init_desc, seed, K, int(snapshot_every))
        + (f"+p{int(p_offset)}" if p_offset else ""),
    }
    state = _resume_or_start(ckpt, attrs["fingerprint"], w0, learning, P)
    _learn_chunks(state, X, params, learning, K, int(snapshot_every), device, ckpt, attrs, seed, progress,
                  int(p_offset))
    if state.n_updates != P:
        raise RuntimeError(f"{state.n_updates} in-simulation updates for {P} samples")
    return state.dataset(params, attrs, rates=record_first_last_rates)


def _check_learning_args(X: Any, params: NetworkParams, learning: LearningParams, init: Any, seed: int,
                         snapshot_every: Any, chunk_size: int | None,
                         device: str) -> tuple[np.ndarray, int, SpikingWeights, str]:
    """Validated inputs, chunk size, initial weights and their description."""
    from attractorlab.models.spiking_dictionary.runtime import DEVICES

    if not isinstance(params, NetworkParams):
        raise ValueError(f"params must be a NetworkParams, got {type(params).__name__}")
    if not isinstance(learning, LearningParams):
        raise ValueError(f"learning must be a LearningParams, got {type(learning).__name__}")
    if params.kappa <= 0:
        raise ValueError(f"params.kappa must be in (0, 1) for learning (eqs 9-12 divide by it), got {params.kappa}")
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    X = check_inputs(X, params)
    warn_if_saturated(X, params, stacklevel=3)  # points at the caller of learn_dictionary
    if isinstance(snapshot_every, bool) or not isinstance(snapshot_every, (int, np.integer)) or snapshot_every < 1:
        raise ValueError(f"snapshot_every must be an integer >= 1, got {snapshot_every!r}")
    K = _auto_chunk(int(snapshot_every)) if chunk_size is None else int(chunk_size)
    if K < 1 or snapshot_every % K:
        raise ValueError(f"chunk_size must be >= 1 and divide snapshot_every={snapshot_every}, got {chunk_size!r}")
    if isinstance(init, str):
        if init not in INIT_KINDS:
            raise ValueError(f"init must be one of {INIT_KINDS} or weights, got {init!r}")
        return X, K, init_weights(params.n_input, params.n_coding, init, seed), init
    w = as_weights(init, params.n_input, params.n_coding)
    return X, K, w, "given:" + w.digest()


def _resume_or_start(ckpt: Path | None, fingerprint: str, w0: SpikingWeights, learning: LearningParams,
                     P: int) -> _LearningState:
    """The checkpoint's state when ``ckpt`` exists (same run), else a fresh one."""
    if ckpt is None or not ckpt.exists():
        return _LearningState.fresh(w0, learning.lam2_gain, P)
    from attractorlab.results import load_dataset

    z = load_dataset(ckpt)
    if z.attrs.get("fingerprint") != fingerprint:
        raise ValueError(
            f"checkpoint_path {str(ckpt)!r} belongs to a different run (data, params or "
            "options differ); delete it or choose another path")
    return _LearningState.resume(z, P, learning.lam2_gain)


def _learn_chunks(state: _LearningState, X: np.ndarray, params: NetworkParams, learning: LearningParams, K: int,
                  snapshot_every: int, device: str, ckpt: Path | None, attrs: dict, seed: int,
                  progress: bool, p_offset: int = 0) -> None:
    """Run the remaining samples chunk by chunk; snapshot (and checkpoint) when due."""
    from attractorlab.models.spiking_dictionary import runtime

    P, M = X.shape
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=P, initial=state.seen, desc="learn_dictionary", unit="sample")
    try:
        while state.seen < P:
            xc = X[state.seen:state.seen + K]
            n = xc.shape[0]
            if n < K:
                xc = np.vstack([xc, np.zeros((K - n, M))])
            t0 = time.perf_counter()
            res = runtime.run_chunk(params, xc, state.w, gamma=(0.0, params.kappa), device=device,
                                    learning=learning.run_values(p_offset + state.seen, state.gain), n_valid=n,
                                    record="counts")
            state.absorb(res, n, params.phase_duration, learning)
            state.seconds += time.perf_counter() - t0
            if bar is not None:
                bar.update(n)
            if state.seen % snapshot_every == 0 or state.seen == P:
                state.snapshot()
                if ckpt is not None:
                    from attractorlab.results import save_dataset

                    save_dataset(state.dataset(params, attrs), ckpt, seed=int(seed))
    finally:
        if bar is not None:
            bar.close()
