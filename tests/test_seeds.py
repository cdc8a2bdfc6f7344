"""Results over seeds (attractorlab.experiments.seeds) on run folders written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from attractorlab.experiments.seeds import format_seed_summary, seed_summary
from attractorlab.results import save_dataset, write_run_record

PIXEL = {0: 0.99991, 1: 0.99990, 2: 1.0, 3: 0.99989, 4: 0.99990}


def _run(folder, seed, pixel, image=0.9998, *, experiment="cban_bars", status="complete", **settings):
    folder.mkdir(parents=True)
    ds = xr.Dataset({"pixel_accuracy": ((), pixel, {"units": "1", "long_name": "masked pixels completed correctly"}),
                     "image_accuracy": ((), image, {"units": "1"}),
                     "loss": ("epoch", [1.0, 0.5])})
    save_dataset(ds, folder / "results.nc", params={"seed": seed}, seed=seed)
    fp = {"hidden": [100, 50], "epochs": 1200, "seed": seed, **settings}
    write_run_record(folder, {"experiment": experiment, "fingerprint": fp, "status": status})
    return folder


@pytest.fixture
def runs(tmp_path):
    # given in another order than the seeds: the summary sorts them
    return [_run(tmp_path / f"s{s}", s, PIXEL[s]) for s in (3, 0, 4, 1, 2)]


def test_mean_sem_per_seed_and_tests_against_a_reference(runs):
    ds = seed_summary(runs, ["pixel_accuracy", "image_accuracy"], reference={"pixel_accuracy": 0.99995})
    x = np.array([PIXEL[s] for s in range(5)])
    assert ds.seed.values.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(ds.pixel_accuracy.values, x)
    assert ds.run_dir.values[0].endswith("s0")
    assert math.isclose(float(ds.pixel_accuracy_mean), x.mean(), rel_tol=1e-15)
    assert math.isclose(float(ds.pixel_accuracy_sem), x.std(ddof=1) / math.sqrt(5), rel_tol=1e-12)
    assert math.isclose(float(ds.pixel_accuracy_t_p), stats.ttest_1samp(x, 0.99995).pvalue, rel_tol=1e-12)
    assert math.isclose(float(ds.pixel_accuracy_wilcoxon_p), stats.wilcoxon(x - 0.99995).pvalue, rel_tol=1e-12)
    assert float(ds.pixel_accuracy_wilcoxon_p) >= 2 / 2**5  # the floor of the signed-rank test with 5 seeds
    assert float(ds.image_accuracy_sem) < 1e-12  # identical values: s.e.m. 0 to rounding
    assert "image_accuracy_t_p" not in ds
    assert ds.pixel_accuracy.attrs["units"] == "1" and ds.attrs["n_seeds"] == 5
    text = format_seed_summary(ds, percent=True)
    assert "pixel_accuracy: 99.9920 +/- 0.0020 % (mean +/- s.e.m., 5 seeds; 0: 99.9910, 1: 99.9900" in text
    assert "reference 99.9950 %" in text and "image_accuracy: 99.9800 +/- 0.0000 %" in text
    # a reference the seeds sit on cannot be rejected; one far away is
    far = seed_summary(runs, ["pixel_accuracy"], reference={"pixel_accuracy": 0.999})
    assert float(far.pixel_accuracy_t_p) < 1e-5  # t = 45 on 4 degrees of freedom


def test_runs_must_differ_only_in_seed(tmp_path, runs):
    other = _run(tmp_path / "lr", 7, 0.9999, lr=0.1)
    with pytest.raises(ValueError, match=r"differ in settings other than seed \(lr: '<absent>' vs 0.1\)"):
        seed_summary(runs + [other])
    with pytest.raises(ValueError, match="different experiments"):
        seed_summary(runs + [_run(tmp_path / "mnist", 8, 0.9, experiment="cban_mnist")])
    with pytest.raises(ValueError, match=r"seeds \[3\] come more than once"):
        seed_summary(runs + [_run(tmp_path / "again", 3, 0.9999)])
    with pytest.raises(ValueError, match="not complete"):
        seed_summary(runs + [_run(tmp_path / "running", 9, 0.9999, status="running")])


@pytest.mark.parametrize("kw,match", [
    (dict(variables=["nope"]), "'nope' is not in"),
    (dict(variables=["loss"]), "not a scalar"),
    (dict(variables=[]), "at least one variable"),
    (dict(reference={"image_accuracy": 1.0}), "not in variables"),
    (dict(reference={"pixel_accuracy": float("nan")}), "finite number"),
])
def test_bad_requests_are_named(runs, kw, match):
    with pytest.raises(ValueError, match=match):
        seed_summary(runs, **kw)


def test_needs_two_complete_run_folders(tmp_path, runs):
    with pytest.raises(ValueError, match="at least 2"):
        seed_summary(runs[:1])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no run.json"):
        seed_summary([runs[0], tmp_path / "empty"])


def test_the_seeds_command_prints_and_saves_the_summary(tmp_path, runs, capsys):
    from attractorlab import cli
    from attractorlab.results import load_dataset

    out = tmp_path / "summary.nc"
    rc = cli.main(["seeds", *map(str, runs), "--var", "pixel_accuracy", "--reference", "pixel_accuracy=0.99995",
                   "--percent", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0 and "pixel_accuracy: 99.9920 +/- 0.0020 %" in printed and "reference 99.9950 %" in printed
    assert float(load_dataset(out).pixel_accuracy_reference) == 0.99995
    assert cli.main(["seeds", *map(str, runs), "--reference", "pixel_accuracy"]) == 2
    assert "NAME=NUMBER" in capsys.readouterr().err
