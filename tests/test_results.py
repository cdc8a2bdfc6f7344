"""Results store: netCDF round trip with provenance, and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from attractorlab import results


def _example() -> xr.Dataset:
    w = np.array([[0.5, np.nan, -1.25], [np.inf, 0.0, 3.0]])
    ds = xr.Dataset(
        {
            "weights": (("atom", "pixel"), w, {"units": "1", "long_name": "dictionary élément ω"}),
            "label": (("atom",), np.array(["œil", "日本語"], dtype=object)),
            "rate": (("time",), np.array([1.0, np.nan, 2.0]), {"units": "Hz"}),
        },
        coords={"atom": [0, 1], "time": ("time", [0.0, 0.1, 0.2], {"units": "s"})},
        attrs={"title": "Lin & Tang — essai ✓", "flags": {"a": [1, 2], "b": None}, "converged": True},
    )
    return ds


def test_round_trip_keeps_values_unicode_nans_and_attrs(tmp_path):
    ds = _example()
    params = {"lam1": 0.3, "name": "Ω-test", "sizes": [8, 8], "nested": {"x": None}}
    path = results.save_dataset(ds, tmp_path / "run.nc", params=params, seed=7)
    back = results.load_dataset(path)
    np.testing.assert_array_equal(back["weights"].values, ds["weights"].values)  # NaN == NaN here
    np.testing.assert_array_equal(back["rate"].values, ds["rate"].values)
    assert list(back["label"].values) == ["œil", "日本語"]
    assert back["weights"].attrs["long_name"] == "dictionary élément ω"
    assert back["time"].attrs["units"] == "s"
    assert back.attrs["title"] == "Lin & Tang — essai ✓"
    assert back.attrs["flags"] == {"a": [1, 2], "b": None} and back.attrs["converged"] is True
    assert results.params_of(back) == params
    assert int(back.attrs["seed"]) == 7
    for key in ("params", "seed", "versions", "git_commit", "created_utc"):
        assert key in back.attrs
    assert json.loads(back.attrs["versions"])["numpy"] == np.__version__
    assert "T" in back.attrs["created_utc"]
    assert ds.attrs["flags"] == {"a": [1, 2], "b": None} and "params" not in ds.attrs  # input untouched


def test_the_commit_is_read_once_per_process(tmp_path, monkeypatch):
    """Results written hours into a run name the commit the run started on, not a later one."""
    first = results.git_commit()
    if first is None:
        pytest.skip("not a git checkout")

    def later_commit(*args, **kwargs):
        raise AssertionError("git was asked again")

    monkeypatch.setattr(results.subprocess, "run", later_commit)
    back = results.load_dataset(results.save_dataset(_example(), tmp_path / "late.nc"))
    assert back.attrs["git_commit"] == first


def test_resave_keeps_recorded_params_unless_replaced(tmp_path):
    first = results.load_dataset(results.save_dataset(_example(), tmp_path / "a.nc", params={"k": 1}, seed=5))
    again = results.load_dataset(results.save_dataset(first, tmp_path / "b.nc", seed=6))
    assert results.params_of(again) == {"k": 1} and int(again.attrs["seed"]) == 6
    third = results.load_dataset(results.save_dataset(again, tmp_path / "c.nc", params={"k": 2}))
    assert results.params_of(third) == {"k": 2} and int(third.attrs["seed"]) == 6


def test_params_are_json_of_numpy_and_dataclass_values(tmp_path):
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class P:
        eta: float = 1e-3
        shape: tuple = (16, 16)

    path = results.save_dataset(xr.Dataset({"x": ("i", [1, 2])}), tmp_path / "p.nc",
                                params={"p": P(), "n": np.int64(5), "a": np.arange(3)})
    assert results.params_of(results.load_dataset(path)) == {"p": {"eta": 1e-3, "shape": [16, 16]}, "n": 5, "a": [0, 1, 2]}


def test_save_rejects_non_netcdf_suffix(tmp_path):
    with pytest.raises(ValueError, match=".nc"):
        results.save_dataset(_example(), tmp_path / "run.h5")
    with pytest.raises(FileNotFoundError, match="no results file"):
        results.load_dataset(tmp_path / "absent.nc")


def test_failed_write_leaves_no_file_and_no_temp(tmp_path, monkeypatch):
    def partial_then_fail(self, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"CDF\x01 half a file")
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", partial_then_fail)
    with pytest.raises(RuntimeError, match="simulated"):
        results.save_dataset(_example(), tmp_path / "run.nc")
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_file(tmp_path, monkeypatch):
    path = results.save_dataset(_example(), tmp_path / "run.nc", seed=1)
    before = path.read_bytes()
    with pytest.raises(KeyError):
        with results.atomic_path(path) as tmp:
            tmp.write_bytes(b"garbage")
            raise KeyError("interrupted")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]


def test_atomic_path_for_figures(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    target = tmp_path / "figs" / "line.png"
    with results.atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in target.parent.iterdir()] == ["line.png"]


def test_check_resume_names_differences_including_keys_only_one_side_has():
    from attractorlab.results import check_resume, plain_config

    assert plain_config({"h": (200, 50), "p": Path("a")}) == {"h": [200, 50], "p": "a"}
    check_resume("ck.pt", {"h": [200, 50], "lr": 0.1}, {"h": (200, 50), "lr": 0.1}, "run")  # tuple == list
    with pytest.raises(ValueError, match=r"'ck.pt'.*another run \(lr: checkpoint 0.1, now 0.2, seed: checkpoint 0, now 1\)"):
        check_resume("ck.pt", {"lr": 0.1, "seed": 0}, {"lr": 0.2, "seed": 1}, "run")
    # a setting the checkpoint was written without (an older version) is a difference too
    with pytest.raises(ValueError, match=r"max_rotation: checkpoint '<absent>', now 10"):
        check_resume("ck.pt", {"lr": 0.1}, {"lr": 0.1, "max_rotation": 10}, "run")
    with pytest.raises(ValueError, match=r"old_key: checkpoint 1, now '<absent>'"):
        check_resume("ck.pt", {"lr": 0.1, "old_key": 1}, {"lr": 0.1}, "run")