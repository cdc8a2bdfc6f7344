"""Experiment registry: presets, overrides, validation, output folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from attractorlab import experiments


@pytest.fixture
def registry(monkeypatch):
    """A private registry holding one toy experiment (model modules are not imported)."""
    monkeypatch.setattr(experiments, "_REGISTRY", {})
    monkeypatch.setattr(experiments, "_loaded", True)
    calls = []

    @experiments.register_experiment(
        "toy", presets={"smoke": {"n": 3, "eta": 0.1}, "paper": {"n": 1000, "eta": 0.01}}
    )
    def toy(config: dict, out_dir: Path) -> xr.Dataset:
        """Toy experiment: a ramp of length n."""
        calls.append((dict(config), out_dir))
        return xr.Dataset({"ramp": ("i", list(range(config["n"])))})

    return calls


def test_register_requires_smoke_and_paper():
    with pytest.raises(ValueError, match="paper"):
        experiments.register_experiment("bad", presets={"smoke": {}})


def test_config_merges_overrides_and_names_the_preset(registry):
    exp = experiments.get_experiment("toy")
    assert exp.description == "Toy experiment: a ramp of length n."
    assert exp.config("paper", {"eta": 0.5}) == {"n": 1000, "eta": 0.5, "preset": "paper"}
    assert exp.presets["paper"]["eta"] == 0.01  # presets are not mutated


def test_unknown_setting_preset_or_name_is_a_clear_error(registry):
    exp = experiments.get_experiment("toy")
    with pytest.raises(ValueError, match=r"unknown setting 'm'.*allowed: eta, n"):
        exp.config("smoke", {"m": 1})
    with pytest.raises(ValueError, match=r"preset must be one of \['paper', 'smoke'\].*'huge'"):
        exp.config("huge")
    with pytest.raises(ValueError, match="unknown experiment 'toyy'; known: toy"):
        experiments.get_experiment("toyy")
    assert experiments.list_experiments() == ["toy"]


def test_parse_overrides_reads_python_literals():
    got = experiments.parse_overrides(["n=5", "eta=1e-3", "sizes=[8, 8]", "name=lena", "flag=True", "s='x=y'"])
    assert got == {"n": 5, "eta": 1e-3, "sizes": [8, 8], "name": "lena", "flag": True, "s": "x=y"}
    with pytest.raises(ValueError, match="key=value"):
        experiments.parse_overrides(["n"])


def test_run_experiment_uses_preset_and_default_folder(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("ATTRACTORLAB_RESULTS", str(tmp_path / "res"))
    ds = experiments.run_experiment("toy", "smoke", {"n": 4})
    assert ds["ramp"].values.tolist() == [0, 1, 2, 3]
    config, out = registry[-1]
    assert config == {"n": 4, "eta": 0.1, "preset": "smoke"}
    assert out == tmp_path / "res" / "toy" / "smoke" and out.is_dir()
    experiments.run_experiment("toy", "paper", None, tmp_path / "elsewhere")
    assert registry[-1][1] == tmp_path / "elsewhere"
    with pytest.raises(ValueError, match="unknown setting"):
        experiments.run_experiment("toy", "smoke", {"bogus": 1}, tmp_path / "never")
    assert not (tmp_path / "never").exists()  # validated before any work
