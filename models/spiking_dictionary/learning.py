"""Algorithm 1 of Lin & Tang (2019) run inside the compiled simulation.

For every sample the network runs at gamma = 0 and then at gamma = kappa (states carry
over at the switch, mu = rho = 0 at each sample start); at the end of the sample, still
inside the C++ simulation (``run_regularly``, see :mod:`.equations`):

* input neuron k:  g_D,k = b_kappa,k - b_0,k                                   (eq 9)
* coding neuron i: g_H,i = (1-kappa) (H (a_0 - a_kappa))_i + (1-kappa) e_0,i - e_kappa,i
  with (W a)_i accumulated by the lateral synapses (no summed variables)      (eq 10)
* F_ij -= eta_D (a_kappa,i g_D,j / kappa + lam2 F_ij);  B_kj likewise            (eq 11)
* H_ij -= eta_H g_H,i a_kappa,j / kappa + 2 eta_D lam2 H_ij  (W off-diagonal, theta diag)
                                                                                (eq 12)
* projection: F, B, W clipped at 0, theta floored at ``theta_min``; s = diag(H).

Samples are processed in chunks of K (one ``device.run`` per chunk, weights passed back
through ``run_args``: one compilation serves any number of samples); weights are
snapshotted every ``snapshot_every`` samples and optionally checkpointed (atomic netCDF)
so an interrupted run resumes from the last checkpoint with identical results.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from attractorlab.models.spiking_dictionary.params import (
    LearningParams,
    NetworkParams,
    check_inputs,
    check_weights,
)

__all__ = ["init_weights", "learn_dictionary", "INIT_KINDS"]

INIT_KINDS = ("consistent", "random")


def consistent_weights(D: np.ndarray) -> dict[str, np.ndarray]:
    """Weights consistent with the dictionary ``D`` (M, N): F = D^T, B = D, H = D^T D,
    s = diag(H) (Algorithm 1, step 0; the LCA network of Fig. 1a). Fresh float64 copies."""
    D = np.array(D, dtype=np.float64)
    if D.ndim != 2:
        raise ValueError(f"D must be a 2-D (n_input, n_coding) array, got shape {D.shape}")
    H = D.T @ D
    return {"F": D.T.copy(), "B": D, "H": H, "s": np.diag(H).copy()}


def init_weights(n_input: int, n_coding: int, kind: str = "consistent", seed: int = 0) -> dict[str, np.ndarray]:
    """Initial weights for Algorithm 1.

    Parameters
    ----------
    n_input, n_coding : int
        M and N.
    kind : {"consistent", "random"}
        ``"consistent"`` (Algorithm 1, step 0): D ~ U[0, 1] with unit-norm columns
        (PAPERS.md I.7(7)), F = D^T, B = D, H = F B, s = 1.  ``"random"`` (section 4):
        F^T and B independent column-normalised U[0, 1] matrices, H ~ U[0, 1.5] with
        diagonal 1.5, s = diag(H).
    seed : int
        numpy seed.

    Returns
    -------
    dict
        ``F`` (N, M), ``B`` (M, N), ``H`` (N, N), ``s`` (N,), float64, all >= 0.
    """
    for name, v in (("n_input", n_input), ("n_coding", n_coding)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if kind not in INIT_KINDS:
        raise ValueError(f"kind must be one of {INIT_KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)

    def unit_columns(m: int, n: int) -> np.ndarray:
        D = rng.uniform(0.0, 1.0, size=(m, n))
        return D / np.linalg.norm(D, axis=0, keepdims=True)

    if kind == "consistent":
        w = consistent_weights(unit_columns(n_input, n_coding))
        w["s"] = np.ones(n_coding)  # diag(H) of unit-norm atoms, without rounding
        return w
    F = unit_columns(n_input, n_coding).T.copy()
    B = unit_columns(n_input, n_coding)
    H = rng.uniform(0.0, 1.5, size=(n_coding, n_coding))
    H[np.diag_indices(n_coding)] = 1.5
    return {"F": F, "B": B, "H": H, "s": np.diag(H).copy()}


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


def _result_dataset(w: Mapping[str, np.ndarray], snaps: Mapping[str, list], snap_at: list,
                    n_active: np.ndarray, gd_norm: np.ndarray, n_updates: int, seen: int,
                    first: tuple | None, last: tuple | None, params: NetworkParams,
                    attrs: Mapping[str, Any]) -> "xr.Dataset":  # noqa: F821
    import xarray as xr

    N, M = params.n_coding, params.n_input
    P = n_active.shape[0]
    ds = xr.Dataset(
        {
            "F": (("atom", "pixel"), w["F"], {"long_name": "feed-forward weights F", "units": "1"}),
            "B": (("pixel", "atom"), w["B"], {"long_name": "feedback weights B", "units": "1"}),
            "H": (("atom", "atom2"), w["H"], {"long_name": "H = W + diag(theta)", "units": "1"}),
            "s": (("atom",), w["s"], {"long_name": "l1 weights s = diag(H)", "units": "1"}),
            "F_snap": (("snapshot", "atom", "pixel"), np.stack(snaps["F"]), {"long_name": "F snapshots", "units": "1"}),
            "B_snap": (("snapshot", "pixel", "atom"), np.stack(snaps["B"]), {"long_name": "B snapshots", "units": "1"}),
            "H_snap": (("snapshot", "atom", "atom2"), np.stack(snaps["H"]), {"long_name": "H snapshots", "units": "1"}),
            "s_snap": (("snapshot", "atom"), np.stack(snaps["s"]), {"long_name": "s snapshots", "units": "1"}),
            "n_active": (("sample", "phase"), n_active, {"long_name": "coding neurons that spiked", "units": "neurons"}),
            "gD_norm": (("sample",), gd_norm, {"long_name": "||b_kappa - b_0|| (eq 9)", "units": "spikes per time unit"}),
            "n_updates": ((), int(n_updates), {"long_name": "per-sample updates applied in the simulation", "units": "1"}),
        },
        coords={"snapshot": np.arange(len(snap_at)),
                "samples_seen": ("snapshot", np.array(snap_at, dtype=np.int64), {"long_name": "samples seen", "units": "samples"}),
                "sample": np.arange(P),
                "phase": ("phase", np.array([0.0, params.kappa]), {"long_name": "feedback gate gamma", "units": "1"}),
                "atom": np.arange(N), "atom2": np.arange(N), "pixel": np.arange(M)},
    )
    rate = {"units": "spikes per time unit"}
    for name, pair in (("first", first), ("last", last)):
        if pair is not None:
            ds[f"a_{name}"] = (("phase", "atom"), np.asarray(pair[0]), dict(rate, long_name=f"coding rates, {name} sample"))
            ds[f"b_{name}"] = (("phase", "pixel"), np.asarray(pair[1]), dict(rate, long_name=f"input rates, {name} sample"))
    ds.attrs.update(attrs)
    ds.attrs["samples_done"] = int(seen)
    return ds


def learn_dictionary(
    X: Any,
    params: NetworkParams,
    learning: LearningParams,
    *,
    init: str | Mapping[str, Any] = "consistent",
    seed: int = 0,
    snapshot_every: int = 1000,
    checkpoint_path: str | os.PathLike | None = None,
    progress: bool = True,
    record_first_last_rates: bool = True,
    device: str = "standalone",
    chunk_size: int | None = None,
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
    init : "consistent", "random" or dict
        Initial weights (see :func:`init_weights`) or a dict ``F, B, H[, s]``.
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

    Returns
    -------
    xarray.Dataset
        ``F(atom, pixel)``, ``B(pixel, atom)``, ``H(atom, atom2)``, ``s(atom)``;
        ``F_snap, B_snap, H_snap, s_snap`` along ``snapshot`` (coordinate
        ``samples_seen``, the first entry is the initial state); ``n_active(sample,
        phase)`` (coding neurons that spiked), ``gD_norm(sample)`` = ||b_kappa - b_0||
        (eq 9, a reconstruction-error proxy); ``n_updates`` (== P); optionally
        ``a_first, a_last (phase, atom)``, ``b_first, b_last (phase, pixel)``.
    """
    from attractorlab.models.spiking_dictionary import runtime

    if not isinstance(params, NetworkParams):
        raise ValueError(f"params must be a NetworkParams, got {type(params).__name__}")
    if not isinstance(learning, LearningParams):
        raise ValueError(f"learning must be a LearningParams, got {type(learning).__name__}")
    if params.kappa <= 0:
        raise ValueError(f"params.kappa must be in (0, 1) for learning (eqs 9-12 divide by it), got {params.kappa}")
    if device not in runtime.DEVICES:
        raise ValueError(f"device must be one of {runtime.DEVICES}, got {device!r}")
    X = check_inputs(X, params)
    P, M = X.shape
    N = params.n_coding
    if isinstance(snapshot_every, bool) or not isinstance(snapshot_every, (int, np.integer)) or snapshot_every < 1:
        raise ValueError(f"snapshot_every must be an integer >= 1, got {snapshot_every!r}")
    K = _auto_chunk(int(snapshot_every)) if chunk_size is None else int(chunk_size)
    if K < 1 or snapshot_every % K:
        raise ValueError(f"chunk_size must be >= 1 and divide snapshot_every={snapshot_every}, got {chunk_size!r}")
    if isinstance(init, str):
        if init not in INIT_KINDS:
            raise ValueError(f"init must be one of {INIT_KINDS} or a weight dict, got {init!r}")
        w = init_weights(M, N, init, seed)
        init_desc = init
    else:
        w = check_weights(init, params)
        init_desc = "given:" + hashlib.sha1(b"".join(np.ascontiguousarray(w[k]).tobytes()
                                                     for k in ("F", "B", "H", "s"))).hexdigest()
    w = check_weights(w, params)

    fp = _fingerprint(X, params, learning, init_desc, seed, K, int(snapshot_every))
    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None
    seen = 0
    n_updates = 0
    snaps = {k: [w[k].copy()] for k in ("F", "B", "H", "s")}
    snap_at = [0]
    n_active = np.zeros((P, 2), dtype=np.int32)
    gd_norm = np.zeros(P)
    first = last = None
    attrs = {
        "model": "Lin & Tang (2019) Algorithm 1, in-simulation learning",
        "params": json.dumps(params.as_dict()),
        "learning": json.dumps(learning.as_dict()),
        "init": init_desc, "seed": int(seed), "device": device, "chunk_size": K,
        "snapshot_every": int(snapshot_every), "fingerprint": fp,
    }
    if ckpt is not None and ckpt.suffix != ".nc":
        raise ValueError(f"checkpoint_path must end in '.nc' (netCDF), got {str(ckpt)!r}")
    if ckpt is not None and ckpt.exists():
        from attractorlab.results import load_dataset

        z = load_dataset(ckpt)
        if z.attrs.get("fingerprint") != fp:
            raise ValueError(
                f"checkpoint_path {str(ckpt)!r} belongs to a different run (data, params or "
                "options differ); delete it or choose another path")
        seen = int(z.attrs["samples_done"])
        n_updates = int(z["n_updates"])
        w = {k: z[k].values.copy() for k in ("F", "B", "H", "s")}
        snaps = {k: list(z[f"{k}_snap"].values) for k in ("F", "B", "H", "s")}
        snap_at = [int(v) for v in z["samples_seen"].values]
        n_active[:seen] = z["n_active"].values[:seen]
        gd_norm[:seen] = z["gD_norm"].values[:seen]
        if "a_first" in z:
            first = (z["a_first"].values, z["b_first"].values)
        if "a_last" in z:
            last = (z["a_last"].values, z["b_last"].values)

    consts_base = {
        "etaD0": learning.eta_D, "etaH0": learning.eta_H, "lam2": learning.lam2,
        "kap": params.kappa, "p0": learning.p0,
        "sched": 0.0 if learning.schedule == "constant" else 1.0,
        "theta_min": params.theta_min,
    }
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=P, initial=seen, desc="learn_dictionary", unit="sample")
    T = params.phase_duration
    try:
        while seen < P:
            xc = X[seen:seen + K]
            n = xc.shape[0]
            if n < K:
                xc = np.vstack([xc, np.zeros((K - n, M))])
            consts = dict(consts_base, p_offset=float(seen))
            res = runtime.run_chunk(params, xc, w, gamma=(0.0, params.kappa), device=device,
                            learning=consts, n_valid=n, record="counts")
            if res["n_updates"] != n:
                raise RuntimeError(f"{res['n_updates']} in-simulation updates for {n} samples")
            n_updates += res["n_updates"]
            w = {k: res[k] for k in ("F", "B", "H", "s")}
            cc = res["cnt_coding"][:n]
            ci = res["cnt_input"][:n]
            n_active[seen:seen + n] = (cc > 0).sum(axis=2)
            gd_norm[seen:seen + n] = np.linalg.norm((ci[:, 1] - ci[:, 0]) / T, axis=1)
            if seen == 0:
                first = (cc[0] / T, ci[0] / T)
            last = (cc[n - 1] / T, ci[n - 1] / T)
            seen += n
            if bar is not None:
                bar.update(n)
            if seen % snapshot_every == 0 or seen == P:
                for k in snaps:
                    snaps[k].append(w[k].copy())
                snap_at.append(seen)
                if ckpt is not None:
                    from attractorlab.results import save_dataset

                    save_dataset(_result_dataset(w, snaps, snap_at, n_active, gd_norm, n_updates,
                                                 seen, first, last, params, attrs),
                                 ckpt, seed=int(seed))
    finally:
        if bar is not None:
            bar.close()
    if n_updates != P:
        raise RuntimeError(f"{n_updates} in-simulation updates for {P} samples")

    if not record_first_last_rates:
        first = last = None
    return _result_dataset(w, snaps, snap_at, n_active, gd_norm, n_updates, seen, first, last,
                           params, attrs)
