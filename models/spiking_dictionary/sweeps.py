"""Parameter grids (seeds, learning rates, data sets) run as independent processes.

Each grid point is one call ``task(**fixed, **point) -> xarray.Dataset`` in its own
process, so each Brian2 run compiles (or reuses) its own standalone project and runs
single-threaded (BRIAN2.md §5: one thread per simulation, many simulations at once). The
results are concatenated along a new ``run`` dimension whose coordinates are the grid
parameters.

Two back ends, no home-made scheduler:

* one machine: :class:`concurrent.futures.ProcessPoolExecutor` (``max_workers``, default 2);
* a cluster: Dask. Pass the address of a running ``dask.distributed`` scheduler. With
  dask-jobqueue on SLURM or PBS, create the cluster yourself and pass its address::

      from dask_jobqueue import SLURMCluster          # or PBSCluster
      cluster = SLURMCluster(cores=1, processes=1, memory="4GB", walltime="02:00:00",
                             job_extra_directives=["--cpus-per-task=1"])
      cluster.scale(jobs=16)                          # 16 single-core workers
      ds = run_grid(lin_tang_task, {"seed": range(8), "eta_D": [0.01, 0.02]},
                    fixed={"dataset": "A", "n_train": 100_000},
                    scheduler_address=cluster.scheduler_address)

  Use one thread per worker (``processes=1`` with ``cores=1``, or ``nthreads=1``): Brian2's
  standalone runs are single-threaded, and the compiled-project cache
  (``ATTRACTORLAB_BUILD_DIR``) must be on a file system the workers share or local to each
  node (each process locks its own build folder, see ``runtime``).

Example (one machine)::

    from attractorlab.models.spiking_dictionary.sweeps import run_grid, lin_tang_task
    ds = run_grid(lin_tang_task, {"eta_D": [0.005, 0.01, 0.02], "seed": [0, 1]},
                  fixed={"dataset": "A", "n_train": 20_000, "n_test": 2_000})
    ds.final_objective.to_series()       # one row per (eta_D, seed)
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import xarray as xr

__all__ = ["grid_points", "run_grid", "merge_runs", "run_parallel", "lin_tang_task", "example_task"]


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The Cartesian product of ``grid`` as a list of dicts (first key varies slowest)."""
    if not grid:
        raise ValueError("grid must name at least one parameter with a list of values")
    keys = list(grid)
    values = []
    for k in keys:
        v = grid[k]
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            raise ValueError(f"grid[{k!r}] must be a sequence of values, got {v!r}")
        v = list(v)
        if not v:
            raise ValueError(f"grid[{k!r}] is empty")
        values.append(v)
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _call(task: Callable[..., xr.Dataset], kwargs: dict[str, Any]) -> xr.Dataset:
    return task(**kwargs)


def _call_pair(fn_and_kwargs: tuple[Callable, dict]) -> Any:
    fn, kwargs = fn_and_kwargs
    return fn(**kwargs)


def run_parallel(fn: Callable[..., Any], kwargs_list: Sequence[Mapping[str, Any]],
                 max_workers: int = 2) -> list[Any]:
    """Run ``fn(**kwargs)`` for each entry in separate processes (one thread each).

    Every worker process binds to its own build folder (the compiled original or a
    timestamp-preserving copy of it, see :mod:`.build_cache`), so runs never share results
    or ``run_args`` files.  ``fn`` must be importable (a module-level function), e.g.
    :func:`~.runtime.run_network` or :func:`~.learning.learn_dictionary`.  Results come
    back in input order.
    """
    import concurrent.futures as cf
    import multiprocessing as mp

    if int(max_workers) < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers!r}")
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=int(max_workers), mp_context=ctx) as ex:
        return list(ex.map(_call_pair, [(fn, dict(k)) for k in kwargs_list]))


def merge_runs(results: Sequence[xr.Dataset], points: Sequence[Mapping[str, Any]]) -> xr.Dataset:
    """Concatenate per-point Datasets along ``run`` with the grid parameters as coordinates."""
    if len(results) != len(points):
        raise ValueError(f"{len(results)} results for {len(points)} grid points")
    ds = xr.concat(list(results), dim="run", join="outer", combine_attrs="drop_conflicts")
    ds = ds.assign_coords(run=np.arange(len(points)))
    for key in points[0]:
        vals = [p[key] for p in points]
        arr = np.asarray(vals, dtype=object if any(isinstance(v, str) for v in vals) else None)
        if arr.dtype == object:
            arr = arr.astype(str)
        ds = ds.assign_coords({key: ("run", arr)})
    ds.attrs["grid_parameters"] = list(points[0])
    return ds


def run_grid(
    task: Callable[..., xr.Dataset],
    grid: Mapping[str, Sequence[Any]],
    *,
    fixed: Mapping[str, Any] | None = None,
    max_workers: int = 2,
    scheduler_address: str | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Run ``task(**fixed, **point)`` for every point of ``grid`` in separate processes.

    Parameters
    ----------
    task : callable
        A module-level (picklable) function returning an ``xarray.Dataset``.
    grid : mapping name -> sequence
        Parameters to sweep; their Cartesian product is run.
    fixed : mapping, optional
        Keyword arguments shared by all runs.
    max_workers : int
        Processes on this machine (ignored with ``scheduler_address``).
    scheduler_address : str, optional
        ``dask.distributed`` scheduler address (e.g. ``cluster.scheduler_address`` of a
        dask-jobqueue cluster); runs are submitted there instead of a local process pool.
    progress : bool
        tqdm bar over finished runs.

    Returns
    -------
    xarray.Dataset
        The runs' Datasets concatenated along ``run``; each grid parameter is a
        coordinate on ``run``.
    """
    if not callable(task):
        raise ValueError(f"task must be callable, got {task!r}")
    if max_workers < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers}")
    points = grid_points(grid)
    fixed = dict(fixed or {})
    clash = set(fixed) & set(grid)
    if clash:
        raise ValueError(f"parameters {sorted(clash)} are both fixed and swept")
    kwargs = [dict(fixed, **p) for p in points]
    from tqdm.auto import tqdm

    results: list[xr.Dataset | None] = [None] * len(points)
    bar = tqdm(total=len(points), desc="sweep", unit="run", disable=not progress)
    if scheduler_address is not None:
        from dask.distributed import Client, as_completed

        with Client(scheduler_address) as client:
            futures = [client.submit(_call, task, kw, pure=False) for kw in kwargs]
            index = {f.key: i for i, f in enumerate(futures)}
            for fut in as_completed(futures):
                results[index[fut.key]] = fut.result()
                bar.update(1)
    else:
        import concurrent.futures as cf
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # fresh interpreters: no inherited Brian2 device state
        with cf.ProcessPoolExecutor(max_workers=max_workers, mp_context=ctx) as pool:
            futs = {pool.submit(_call, task, kw): i for i, kw in enumerate(kwargs)}
            for fut in cf.as_completed(futs):
                results[futs[fut]] = fut.result()
                bar.update(1)
    bar.close()
    return merge_runs(results, points)


def lin_tang_task(
    *,
    dataset: str = "A",
    n_train: int = 10_000,
    n_test: int = 2_000,
    n_atoms: int | None = None,
    lam1: float = 0.3,
    eta_D: float = 0.01,
    lam2: float | str = "auto",
    init: str = "consistent",
    seed: int = 0,
    snapshot_every: int | None = None,
    chunk_size: int | None = None,
    return_dictionary: bool = False,
    checkpoint_path: str | None = None,
    dict_init: str = "uniform",
) -> xr.Dataset:
    """One spiking dictionary-learning run (for sweeps): final test objective and measures.

    ``lam2`` is a number, ``"auto"`` (:func:`~.measures.calibrate_lam2`) or ``"unit_norm"``
    (the per-atom rule of :class:`~.params.LearningParams`).  Returns a small Dataset:
    scalars ``final_objective``, ``final_nnz``, ``mean_atom_norm``, ``consistency``,
    ``symmetry``, ``lam2``, ``wall_time`` (s) and the curve ``objective(snapshot)`` with
    ``samples_seen(snapshot)``; with ``return_dictionary`` also the final ``D = F^T``
    (pixel, atom) and the data set's ``image_shape`` and ``split_sign`` in attrs.
    ``checkpoint_path`` (``.nc``) checkpoints the learning at every snapshot and resumes
    from it (:func:`~.learning.learn_dictionary`); ``wall_time`` then counts the
    sessions before the resume too. ``dict_init`` is the initial dictionary of the consistent
    init: ``"uniform"`` (the paper's) or ``"patches"`` (training signals, as ``lin_tang_C``).
    """
    import time

    from attractorlab.models.baselines.sgd_dictionary import check_dict_init, initial_dictionary
    from attractorlab.models.spiking_dictionary.datasets import load_lin_tang_dataset
    from attractorlab.models.spiking_dictionary.learning import learn_dictionary
    from attractorlab.models.spiking_dictionary.measures import calibrate_lam2, spiking_measures
    from attractorlab.models.spiking_dictionary.params import LearningParams, NetworkParams
    from attractorlab.models.spiking_dictionary.weights import consistent_weights

    if lam2 not in ("auto", "unit_norm") and (isinstance(lam2, str) or not float(lam2) >= 0):
        raise ValueError(f"lam2 must be a number >= 0 or 'auto' or 'unit_norm', got {lam2!r}")
    check_dict_init(dict_init)
    data = load_lin_tang_dataset(dataset, n_train=n_train, n_test=n_test, seed=seed)
    N = data.n_atoms if n_atoms is None else int(n_atoms)
    X = data.X_train[np.random.default_rng(seed).permutation(n_train)]
    if lam2 == "unit_norm":
        learning = LearningParams(eta_D=eta_D, lam2_rule="unit_norm")
    else:
        learning = LearningParams(eta_D=eta_D, lam2=calibrate_lam2(X, lam1, n_atoms=N, seed=seed)
                                  if lam2 == "auto" else float(lam2))
    D0 = initial_dictionary(dict_init, X, N, seed)
    init_w: Any = consistent_weights(D0) if init == "consistent" else init
    params = NetworkParams(data.n_input, N, lam1=lam1)
    every = snapshot_every or max(1, n_train // 10)
    t0 = time.perf_counter()
    ds = learn_dictionary(X, params, learning, init=init_w, seed=seed, snapshot_every=every,
                          chunk_size=chunk_size, progress=False, checkpoint_path=checkpoint_path)
    wall = time.perf_counter() - t0 + float(ds.attrs.get("resumed_seconds", 0.0))
    m = spiking_measures(ds, data.X_test, lam1)
    out = xr.Dataset(
        {
            "objective": m["objective"],
            "final_objective": ((), float(m["objective"].values[-1]), m["objective"].attrs),
            "final_nnz": ((), float(m["nnz"].values[-1]), m["nnz"].attrs),
            "mean_atom_norm": ((), float(m["mean_atom_norm"].values[-1]), m["mean_atom_norm"].attrs),
            "consistency": ((), float(m["consistency"].values[-1]), m["consistency"].attrs),
            "symmetry": ((), float(m["symmetry"].values[-1]), m["symmetry"].attrs),
            "lam2": ((), float(learning.lam2), {"long_name": "weight decay lambda_2 (shared part)", "units": "1"}),
            "lam2_gain": ((), float(ds["lam2_gain_snap"].values[-1]),
                          {"long_name": "final gain of the unit-norm lambda_2 rule", "units": "1"}),
            "wall_time": ((), wall, {"long_name": "learning wall time", "units": "s"}),
        },
        coords={"samples_seen": m["samples_seen"]},
    )
    if return_dictionary:
        out["D"] = (("pixel", "atom"), ds["F"].values.T.copy(), {"long_name": "learned dictionary F^T", "units": "1"})
        out.attrs.update(image_shape=list(data.image_shape), split_sign=int(data.split_sign))
    return out


def example_task(*, x: float, y: float, n: int = 3) -> xr.Dataset:
    """A tiny task for checking a sweep set-up (no Brian2): ``product = x * y`` and
    ``ramp(k) = x * k + y`` for k < n, plus the id of the process that ran it."""
    import os

    k = np.arange(n)
    return xr.Dataset(
        {"product": ((), float(x) * float(y)), "ramp": (("k",), float(x) * k + float(y)),
         "pid": ((), os.getpid())},
        coords={"k": k},
    )
