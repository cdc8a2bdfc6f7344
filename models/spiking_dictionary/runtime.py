"""Device handling: the only module that calls ``brian2.set_device``.

Two back ends run the same :func:`~.network.build_network` model:

* ``"standalone"`` (default): Brian2 ``cpp_standalone``.  The C++ project is generated
  and compiled once per *build key* (network shape, chunk size, options, Brian2/compiler
  setup) into ``$ATTRACTORLAB_BUILD_DIR/<key>`` (default ``~/.cache/attractorlab/brian2``)
  and then re-run with ``device.run(run_args=...)`` for new inputs, weights, gate schedule,
  lambda_1 and learning rates, without recompiling.  A process binds itself to one build
  folder, holding an ``fcntl`` lock on it; a second process (pytest-xdist, a process pool)
  finds it locked and works in a replica ``<key>.1``, ``<key>.2``, ... copied from the
  compiled original with its timestamps, so ``make`` has nothing to recompile.
* ``"numpy"``: Brian2's runtime device with the numpy code-generation target (no compiler;
  slow; for small checks).

The generated C++ goes through the rewrites of :mod:`.codegen` (per-step clock read moved
after the loop; all-to-all pathways without the spike queue), which leave the simulation
unchanged.

The number of samples is baked into a compiled project (TimedArray shapes, duration), so
inputs are cut into chunks of fixed size; the last chunk is padded with zeros and its
padding outputs are discarded (padding samples never update weights).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import resource
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from attractorlab.models.spiking_dictionary import codegen
from attractorlab.models.spiking_dictionary.network import build_network, gamma_schedule
from attractorlab.models.spiking_dictionary.params import (
    NetworkParams,
    check_gamma,
    check_inputs,
    check_weights,
)

__all__ = [
    "DEVICES",
    "build_root",
    "build_key",
    "current_build_dir",
    "run_chunk",
    "run_network",
    "run_parallel",
    "stats",
    "weights_to_arrays",
    "arrays_to_weights",
]

DEVICES = ("standalone", "numpy")
_BUILT_MARKER = ".attractorlab_built"

#: Counters for this process: ``builds`` (standalone code generations), ``compiles``
#: (builds after which the binary changed, i.e. ``make`` really compiled), ``runs``;
#: ``binary_seconds`` (wall time of the compiled program), ``sim_seconds`` (its own
#: measurement of the simulation loop), ``binary_cpu_seconds`` (its user + system CPU
#: time, robust to a busy machine).
stats = {"builds": 0, "compiles": 0, "runs": 0, "compile_seconds": 0.0, "binary_seconds": 0.0,
         "sim_seconds": 0.0, "binary_cpu_seconds": 0.0}


def build_root() -> Path:
    """Root folder of the compiled-project cache (``ATTRACTORLAB_BUILD_DIR``)."""
    env = os.environ.get("ATTRACTORLAB_BUILD_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "attractorlab" / "brian2"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def build_key(params: NetworkParams, n_samples: int, learning: bool, record: str,
              record_spikes: bool) -> str:
    """Name of the build folder for this structure (anything not settable by run_args)."""
    import brian2 as b2

    spec = {
        "M": params.n_input, "N": params.n_coding, "T": params.phase_duration, "dt": params.dt,
        "K": int(n_samples), "learning": bool(learning), "record": record,
        "spikes": bool(record_spikes),
        "brian2": b2.__version__, "python": sys.version.split()[0],
        "cflags": list(b2.prefs.codegen.cpp.extra_compile_args_gcc),
        "cpu": _cpu_model(), "machine": platform.machine(), "v": 2,
    }
    if params.float_dtype != "float64":   # keeps the keys of existing float64 builds
        spec["float"] = params.float_dtype
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    kind = "learn" if learning else "run"
    return f"lt-{kind}-N{params.n_coding}-M{params.n_input}-K{int(n_samples)}-{digest}"


# --- weights <-> Brian arrays --------------------------------------------------------------

def weights_to_arrays(w: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Synapse weight vectors in connection order (see ``network.synapse_indices``)."""
    F, B, H = w["F"], w["B"], w["H"]
    N = H.shape[0]
    ff = F.T.ravel()                      # pre = input k (major), post = coding i: F[i, k]
    fb = B.T.ravel()                      # pre = coding j (major), post = input k: B[k, j]
    off = ~np.eye(N, dtype=bool)
    lat = H.T[off]                        # pre = coding j (major), post = coding i: W[i, j]
    return {"ff": ff, "fb": fb, "lat": lat, "theta": np.diag(H).copy(), "s": np.asarray(w["s"])}


def arrays_to_weights(ff: np.ndarray, fb: np.ndarray, lat: np.ndarray | None, theta: np.ndarray,
                      s: np.ndarray, N: int, M: int) -> dict[str, np.ndarray]:
    """Inverse of :func:`weights_to_arrays`."""
    F = np.asarray(ff, dtype=np.float64).reshape(M, N).T.copy()
    B = np.asarray(fb, dtype=np.float64).reshape(N, M).T.copy()
    HT = np.zeros((N, N))
    if N > 1:
        HT[~np.eye(N, dtype=bool)] = lat
    H = HT.T.copy()
    H[np.diag_indices(N)] = theta
    return {"F": F, "B": B, "H": H, "s": np.asarray(s, dtype=np.float64).copy()}


# --- standalone build cache ----------------------------------------------------------------

@dataclass
class _Bound:
    key: str
    directory: Path
    lock_fd: int
    handles: dict
    code_objects: Any


_BOUND: list[_Bound] = []          # at most one entry: the project this process is bound to


def _try_lock(path: Path, blocking: bool = False) -> int | None:
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _release_bound() -> None:
    while _BOUND:
        b = _BOUND.pop()
        _unlock(b.lock_fd)


def current_build_dir() -> Path | None:
    """Build folder this process is bound to (None before the first standalone run)."""
    return _BOUND[0].directory if _BOUND else None


def _binary_mtime(directory: Path) -> float | None:
    p = directory / "main"
    return p.stat().st_mtime_ns if p.exists() else None


def _copy_project(src: Path, dst: Path) -> None:
    """Copy a compiled project keeping timestamps (so make sees it up to date).

    ``init_*`` files are ``run_args`` values of runs in progress elsewhere (possibly half
    written); they are not copied."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True, copy_function=shutil.copy2,
                    ignore=shutil.ignore_patterns("results", "results_*", "*.lock", "init_*"))


def _standalone_handles(params: NetworkParams, n_samples: int, learning: bool, record: str,
                        record_spikes: bool) -> tuple[dict, Path]:
    """Return the handles of a built standalone project for this key (building if needed)."""
    import brian2 as b2
    from brian2.devices.device import all_devices

    key = build_key(params, n_samples, learning, record, record_spikes)
    sd = all_devices["cpp_standalone"]
    if _BOUND:
        b = _BOUND[0]
        if b.key == key and sd.code_objects is b.code_objects and sd.project_dir is not None:
            if b2.get_device() is not sd:
                b2.set_device("cpp_standalone", build_on_run=False)
            return b.handles, b.directory
        del b
        _release_bound()

    # Fresh standalone device state; drop the old objects so that generated names (and
    # hence the code) are the same as in a fresh process.
    import gc

    sd.reinit()
    gc.collect()
    b2.set_device("cpp_standalone", build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    net, handles = build_network(params, n_samples, learning=learning, record=record,
                                 record_spikes=record_spikes)
    net.run(handles["duration"], namespace={})

    root = build_root()
    root.mkdir(parents=True, exist_ok=True)
    canonical = root / key
    chosen: Path | None = None
    fd: int | None = None
    # Build the canonical project once (serialised across processes by a build lock).
    build_fd = _try_lock(root / f"{key}.build.lock", blocking=True)
    try:
        if not (canonical / _BUILT_MARKER).exists():
            fd = _try_lock(root / f"{key}.use.lock", blocking=True)
            chosen = canonical
            try:
                _do_build(canonical, dense_pathways(params))
            except BaseException:
                _unlock(fd)
                raise
            (canonical / _BUILT_MARKER).touch()
    finally:
        _unlock(build_fd)
    if chosen is None:
        for idx in range(64):
            d = canonical if idx == 0 else root / f"{key}.{idx}"
            fd = _try_lock(root / f"{d.name}.use.lock")
            if fd is None:
                continue
            try:
                if not (d / _BUILT_MARKER).exists():
                    _copy_project(canonical, d)
                _do_build(d, dense_pathways(params))
            except BaseException:
                _unlock(fd)
                raise
            chosen = d
            break
        else:  # pragma: no cover - 64 concurrent processes
            raise RuntimeError(f"no free build folder for {key} under {root}")
    _BOUND.append(_Bound(key, chosen, fd, handles, b2.get_device().code_objects))
    return handles, chosen


def dense_pathways(params: NetworkParams) -> list[codegen.DensePathway]:
    """The all-to-all pathways of :func:`~.network.build_network` (see :mod:`.codegen`)."""
    M, N = params.n_input, params.n_coding
    paths = [codegen.DensePathway("ff", "input", M, N, True),
             codegen.DensePathway("fb", "coding", N, M, True)]
    if N > 1:
        paths.append(codegen.DensePathway("lat", "coding", N, N - 1, False))
    return paths


@contextlib.contextmanager
def _order_insensitive_writer(pathways: Sequence[codegen.DensePathway] = ()) -> Iterator[set[str]]:
    """Write the generated project through the rewrites of :mod:`.codegen`, and keep an
    existing generated file whose lines differ from the new code only in order.

    Brian2 2.9 emits some initialisation lines (one per clock) by iterating over a set of
    objects, so two processes generate the same program with lines in a different order;
    without this, every new process would rewrite ``main.cpp`` and recompile.  Yields the
    set of files a dense-pathway rewrite was applied to.
    """
    from brian2.devices.cpp_standalone.device import CPPWriter

    orig = CPPWriter.write
    by_file = {}
    for p in pathways:
        by_file[p.code_file] = (codegen.dense_pathway, p)
        by_file[p.push_file] = (codegen.no_push, p)
    rewritten: set[str] = set()

    def write(self, filename, contents):  # noqa: ANN001
        if isinstance(contents, str) and filename == "network.cpp":
            contents = codegen.untimed_step_loop(contents)
        if isinstance(contents, str) and filename in by_file:
            rewrite, p = by_file[filename]
            new = rewrite(contents, p)
            if new != contents:
                rewritten.add(filename)
            contents = new
        if isinstance(contents, str):
            full = os.path.join(self.project_dir, filename)
            if os.path.exists(full):
                with open(full) as f:
                    old = f.read()
                if old != contents and sorted(old.splitlines()) == sorted(contents.splitlines()):
                    contents = old
        return orig(self, filename, contents)

    CPPWriter.write = write
    try:
        yield rewritten
    finally:
        CPPWriter.write = orig


def _do_build(directory: Path, pathways: Sequence[codegen.DensePathway]) -> None:
    import brian2 as b2

    before = _binary_mtime(directory)
    t0 = time.perf_counter()
    with _order_insensitive_writer(pathways) as rewritten:
        b2.device.build(directory=str(directory), compile=True, run=False, clean=False,
                        with_output=False)
        # Both halves of a dense pathway, or neither (the push alone would lose spikes).
        for p in pathways:
            if (p.code_file in rewritten) != (p.push_file in rewritten):
                raise RuntimeError(
                    f"attractorlab: the dense rewrite of pathway {p.synapses!r} matched only one of "
                    f"{p.code_file} and {p.push_file}; unexpected code from this Brian2 version")
    stats["builds"] += 1
    if _binary_mtime(directory) != before:
        stats["compiles"] += 1
        stats["compile_seconds"] += time.perf_counter() - t0


# --- one chunk ---------------------------------------------------------------------------

def run_chunk(
    params: NetworkParams,
    x: np.ndarray,
    weights: Mapping[str, np.ndarray],
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
    weights : dict
        Validated ``F, B, H, s``.
    gamma : (float, float)
        Gate of phase 0 and phase 1.
    learning : dict, optional
        ``etaD0, etaH0, lam2, kap, p0, sched, p_offset`` to run Algorithm 1.
    n_valid : int, optional
        Real samples at the start of the chunk (the rest is padding, never learned from).

    Returns
    -------
    dict with ``cnt_coding`` (K, 2, N), ``cnt_input`` (K, 2, M), and with
    ``record="full"`` ``U`` (K, 2, N), ``V`` (K, 2, M) (current integrals); with learning
    the final weights ``F, B, H, s`` and ``n_updates``; spikes ``spk_*_t/i`` if recorded.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    import brian2 as b2

    K, M = x.shape
    n_valid = K if n_valid is None else int(n_valid)
    valid = (np.arange(K) < n_valid).astype(np.float64)
    gam = gamma_schedule(K, *gamma)
    arrs = weights_to_arrays(weights)
    is_learning = learning is not None

    prev_device = b2.get_device()
    prev_target = b2.prefs.codegen.target
    prev_dtype = b2.prefs.core.default_float_dtype
    try:
        # state and weights in the requested precision (code generation and runtime arrays)
        b2.prefs.core.default_float_dtype = np.dtype(params.float_dtype).type
        if device == "numpy":
            b2.set_device("runtime")
            b2.prefs.codegen.target = "numpy"
            net, h = build_network(params, K, learning=is_learning, record=record,
                                   record_spikes=record_spikes,
                                   inputs={"x": x, "gamma": gam, "valid": valid})
            h["coding"].theta = arrs["theta"]
            h["coding"].s = arrs["s"]
            h["coding"].lam1 = params.lam1
            h["ff"].w = arrs["ff"]
            h["fb"].w = arrs["fb"]
            if h["lat"] is not None:
                h["lat"].w = arrs["lat"]
            if is_learning:
                for k, v in learning.items():
                    setattr(h["coding"], k, v)
            net.run(h["duration"], namespace={})
        else:
            h, directory = _standalone_handles(params, K, is_learning, record, record_spikes)
            run_args = {
                h["x_ta"]: x, h["gamma_ta"]: gam,
                h["coding"].theta: arrs["theta"], h["coding"].s: arrs["s"],
                h["coding"].lam1: float(params.lam1),
                h["ff"].w: arrs["ff"], h["fb"].w: arrs["fb"],
            }
            if h["lat"] is not None:
                run_args[h["lat"].w] = arrs["lat"]
            if is_learning:
                run_args[h["valid_ta"]] = valid
                for k, v in learning.items():
                    run_args[getattr(h["coding"], k)] = float(v)
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            b2.device.run(directory=str(directory), run_args=run_args, with_output=False)
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            stats["runs"] += 1
            stats["binary_cpu_seconds"] += (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
            stats["binary_seconds"] += float(b2.device.timers.get("run_binary", 0.0))
            stats["sim_seconds"] += float(getattr(b2.device, "_last_run_time", 0.0))
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
        out.update(arrays_to_weights(h["ff"].w[:], h["fb"].w[:], lat, np.asarray(c.theta[:]),
                                     np.asarray(c.s[:]), N, M))
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
    weights: Mapping[str, Any],
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
    weights : dict
        ``F`` (N, M), ``B`` (M, N), ``H`` (N, N) with diag(H) = thresholds > 0, ``s`` (N,)
        (defaults to diag(H)); all >= 0.
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
    import xarray as xr

    if not isinstance(params, NetworkParams):
        raise ValueError(f"params must be a NetworkParams, got {type(params).__name__}")
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    X = check_inputs(X, params)
    w = check_weights(weights, params)
    g = check_gamma(gamma, params)
    P = X.shape[0]
    if chunk_size is None:
        # the numpy runtime compiles nothing: no reason to pad
        K = P if device == "numpy" else default_chunk_size(params)
    else:
        K = int(chunk_size)
    if K < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    T = params.phase_duration
    keys = ("cnt_coding", "cnt_input", "U", "V")
    parts: dict[str, list] = {k: [] for k in keys}
    spikes = {"t": [], "i": [], "layer": [], "sample": []}
    starts = range(0, P, K)
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
        for k in keys:
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
    cc, ci, U, V = (np.concatenate(parts[k]) for k in keys)
    a, b = cc / T, ci / T
    u, v = U / T, V / T
    theta = np.diag(w["H"])
    e = u - theta[None, None, :] * a
    phase = np.array(g)
    ds = xr.Dataset(
        {
            "a": (("sample", "phase", "neuron"), a, {"long_name": "coding spike rate", "units": "spikes per time unit"}),
            "b": (("sample", "phase", "pixel"), b, {"long_name": "input spike rate", "units": "spikes per time unit"}),
            "u": (("sample", "phase", "neuron"), u, {"long_name": "coding mean current", "units": "1"}),
            "v": (("sample", "phase", "pixel"), v, {"long_name": "input mean current", "units": "1"}),
            "e": (("sample", "phase", "neuron"), e, {"long_name": "u - theta a (eq 8)", "units": "1"}),
        },
        coords={"sample": np.arange(P), "phase": ("phase", phase, {"long_name": "feedback gate gamma", "units": "1"}),
                "neuron": np.arange(params.n_coding), "pixel": np.arange(params.n_input)},
    )
    if record_spikes:
        order_t = np.concatenate(spikes["t"]) if spikes["t"] else np.zeros(0)
        ds["spike_t"] = ("spike", order_t, {"long_name": "spike time", "units": "time units"})
        ds["spike_i"] = ("spike", np.concatenate(spikes["i"]).astype(np.int64), {"long_name": "neuron index within layer"})
        ds["spike_layer"] = ("spike", np.concatenate(spikes["layer"]), {"long_name": "layer (0 input, 1 coding)"})
        ds["spike_sample"] = ("spike", np.concatenate(spikes["sample"]), {"long_name": "sample index"})
    ds.attrs.update({
        "model": "Lin & Tang (2019) spiking network",
        "params": json.dumps(params.as_dict()),
        "device": device,
        "gamma": json.dumps(list(g)),
        "chunk_size": K,
        "time_units": "model time units (tau = 1)",
    })
    return ds


# --- independent runs in separate processes ------------------------------------------------

def _call(fn_and_kwargs: tuple[Callable, dict]) -> Any:
    fn, kwargs = fn_and_kwargs
    return fn(**kwargs)


def run_parallel(fn: Callable[..., Any], kwargs_list: Sequence[Mapping[str, Any]],
                 max_workers: int = 2) -> list[Any]:
    """Run ``fn(**kwargs)`` for each entry in separate processes (one thread each).

    Every worker process binds to its own build folder (the compiled original or a
    timestamp-preserving copy of it), so runs never share results or ``run_args`` files.
    ``fn`` must be importable (a module-level function), e.g. :func:`run_network` or
    :func:`~.learning.learn_dictionary`.  Results come back in input order.
    """
    import multiprocessing as mp

    if int(max_workers) < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers!r}")
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=int(max_workers), mp_context=ctx) as ex:
        return list(ex.map(_call, [(fn, dict(k)) for k in kwargs_list]))
