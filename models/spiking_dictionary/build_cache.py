"""The cache of compiled standalone projects, and the locks that share it between processes.

The C++ project of :func:`~.network.build_network` is generated and compiled once per
*build key* (network shape, chunk size, options, Brian2/compiler setup; :func:`build_key`)
into ``$ATTRACTORLAB_BUILD_DIR/<key>`` (default ``~/.cache/attractorlab/brian2``), through
the guarded rewrites of :mod:`.codegen`, and then re-run with ``device.run(run_args=...)``.

A process binds itself to one build folder, holding an ``fcntl`` lock on it
(:func:`standalone_project`); a second process (pytest-xdist, a process pool) finds it
locked and works in a replica ``<key>.1``, ``<key>.2``, ... copied from the compiled
original with its timestamps, so ``make`` has nothing to recompile.  Building the original
is serialised across processes by a separate build lock.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gc
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from attractorlab.models.spiking_dictionary import codegen
from attractorlab.models.spiking_dictionary.network import build_network
from attractorlab.models.spiking_dictionary.params import NetworkParams

__all__ = ["build_root", "build_key", "current_build_dir", "standalone_project", "dense_pathways", "stats"]

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
        "cpu": _cpu_model(), "machine": platform.machine(), "v": 3,
    }
    if params.float_dtype != "float64":   # keeps the keys of existing float64 builds
        spec["float"] = params.float_dtype
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    kind = "learn" if learning else "run"
    return f"lt-{kind}-N{params.n_coding}-M{params.n_input}-K{int(n_samples)}-{digest}"


def dense_pathways(params: NetworkParams) -> list[codegen.DensePathway]:
    """The all-to-all pathways of :func:`~.network.build_network` (see :mod:`.codegen`)."""
    M, N = params.n_input, params.n_coding
    paths = [codegen.DensePathway("ff", "input", M, N, True),
             codegen.DensePathway("fb", "coding", N, M, True)]
    if N > 1:
        paths.append(codegen.DensePathway("lat", "coding", N, N - 1, False))
    return paths


# --- locks ---------------------------------------------------------------------------------

@dataclasses.dataclass
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


# --- building ------------------------------------------------------------------------------

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


def _do_build(directory: Path, pathways: Sequence[codegen.DensePathway]) -> None:
    import brian2 as b2

    before = _binary_mtime(directory)
    t0 = time.perf_counter()
    with codegen.patched_writer(pathways) as rewritten:
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


def _generate(params: NetworkParams, n_samples: int, learning: bool, record: str,
              record_spikes: bool) -> dict:
    """Record the network on a fresh standalone device (nothing is written yet)."""
    import brian2 as b2
    from brian2.devices.device import all_devices

    sd = all_devices["cpp_standalone"]
    # Fresh standalone device state; drop the old objects so that generated names (and
    # hence the code) are the same as in a fresh process.
    sd.reinit()
    gc.collect()
    b2.set_device("cpp_standalone", build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    net, handles = build_network(params, n_samples, learning=learning, record=record,
                                 record_spikes=record_spikes)
    net.run(handles["duration"], namespace={})
    return handles


def _build_canonical(root: Path, key: str, pathways: Sequence[codegen.DensePathway]) -> int | None:
    """Build ``root/key`` once for all processes; returns its use lock if this process built it."""
    canonical = root / key
    build_fd = _try_lock(root / f"{key}.build.lock", blocking=True)
    try:
        if (canonical / _BUILT_MARKER).exists():
            return None
        fd = _try_lock(root / f"{key}.use.lock", blocking=True)
        try:
            _do_build(canonical, pathways)
        except BaseException:
            _unlock(fd)
            raise
        (canonical / _BUILT_MARKER).touch()
        return fd
    finally:
        _unlock(build_fd)


def _bind_free_folder(root: Path, key: str, pathways: Sequence[codegen.DensePathway]) -> tuple[Path, int]:
    """Lock the original or a replica (copied from it) that no other process uses, and
    bring it up to date."""
    canonical = root / key
    for idx in range(64):
        d = canonical if idx == 0 else root / f"{key}.{idx}"
        fd = _try_lock(root / f"{d.name}.use.lock")
        if fd is None:
            continue
        try:
            if not (d / _BUILT_MARKER).exists():
                _copy_project(canonical, d)
            _do_build(d, pathways)
        except BaseException:
            _unlock(fd)
            raise
        return d, fd
    raise RuntimeError(f"no free build folder for {key} under {root}")  # pragma: no cover


def standalone_project(params: NetworkParams, n_samples: int, learning: bool, record: str,
                       record_spikes: bool) -> tuple[dict, Path]:
    """Handles of the built standalone project for this key and its folder (building,
    or binding to a free replica, if needed)."""
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

    handles = _generate(params, n_samples, learning, record, record_spikes)
    root = build_root()
    root.mkdir(parents=True, exist_ok=True)
    pathways = dense_pathways(params)
    fd = _build_canonical(root, key, pathways)
    if fd is not None:
        chosen = root / key
    else:
        chosen, fd = _bind_free_folder(root, key, pathways)
    _BOUND.append(_Bound(key, chosen, fd, handles, b2.get_device().code_objects))
    return handles, chosen
