"""Sweeps: grid points run as separate processes and merged along ``run``."""

from __future__ import annotations

import os

import numpy as np
import pytest

from attractorlab.models.spiking_dictionary.sweeps import example_task, grid_points, merge_runs, run_grid

GRID = {"x": [1.0, 2.0], "y": [10.0, 20.0, 30.0]}


def _check(ds):
    assert ds.sizes["run"] == 6
    np.testing.assert_allclose(ds["product"].values, ds["x"].values * ds["y"].values)
    np.testing.assert_allclose(ds["ramp"].sel(k=2).values, 2 * ds["x"].values + ds["y"].values)
    assert list(ds["x"].values) == [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    assert ds.attrs["grid_parameters"] == ["x", "y"]


def test_grid_points_and_validation():
    pts = grid_points(GRID)
    assert pts[0] == {"x": 1.0, "y": 10.0} and pts[-1] == {"x": 2.0, "y": 30.0} and len(pts) == 6
    with pytest.raises(ValueError, match="grid\\['x'\\]"):
        grid_points({"x": []})
    with pytest.raises(ValueError, match="both fixed and swept"):
        run_grid(example_task, GRID, fixed={"x": 1.0})


def test_merge_in_process():
    pts = grid_points(GRID)
    _check(merge_runs([example_task(**p) for p in pts], pts))


def test_process_pool_runs_in_other_processes():
    ds = run_grid(example_task, GRID, fixed={"n": 4}, max_workers=2, progress=False)
    _check(ds)
    assert ds.sizes["k"] == 4
    assert os.getpid() not in set(ds["pid"].values)


def test_dask_local_cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        ds = run_grid(example_task, GRID, scheduler_address=cluster.scheduler_address, progress=False)
    _check(ds)
    assert os.getpid() not in set(ds["pid"].values)


def test_lin_tang_task_runs_the_spiking_learner_and_reports_its_measures():
    """The sweep task end to end on data set A (small): the scalars are the last snapshot's
    measures, ``lam2="auto"`` is the calibrated value, and learning lowers the objective."""
    pytest.importorskip("brian2")
    from attractorlab.data import data_root
    from attractorlab.models.spiking_dictionary.datasets import load_lin_tang_dataset
    from attractorlab.models.spiking_dictionary.measures import calibrate_lam2
    from attractorlab.models.spiking_dictionary.sweeps import lin_tang_task

    if not (data_root() / "olshausen_field").is_dir():
        pytest.skip("olshausen_field data set not available")
    kw = dict(dataset="A", n_train=600, n_test=100, n_atoms=16, snapshot_every=300, seed=1)
    ds = lin_tang_task(**kw)
    assert list(ds["samples_seen"].values) == [0, 300, 600]
    assert float(ds["final_objective"]) == float(ds["objective"][-1])
    assert float(ds["objective"][-1]) < float(ds["objective"][0])  # learning helps on held-out patches
    assert 0.0 <= float(ds["consistency"]) <= 1.0 and float(ds["wall_time"]) > 0
    data = load_lin_tang_dataset("A", n_train=600, n_test=100, seed=1)
    X = data.X_train[np.random.default_rng(1).permutation(600)]
    assert float(ds["lam2"]) == pytest.approx(calibrate_lam2(X, 0.3, n_atoms=16, seed=1))
    fixed = lin_tang_task(**kw, lam2=0.05)
    assert float(fixed["lam2"]) == 0.05


@pytest.mark.parametrize("lam2", ["autoo", -0.1, float("nan")])
def test_lin_tang_task_rejects_a_bad_lam2_before_loading_data(lam2):
    from attractorlab.models.spiking_dictionary.sweeps import lin_tang_task

    with pytest.raises(ValueError, match="lam2 must be a number >= 0 or 'auto' or 'unit_norm'"):
        lin_tang_task(dataset="A", n_train=10, n_test=10, lam2=lam2)
