"""Experiment registry: presets, overrides, validation, output folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from attractorlab import experiments
from attractorlab.experiments import registry as reg


@pytest.fixture
def registry(monkeypatch):
    """A private registry holding one toy experiment (model modules are not imported)."""
    monkeypatch.setattr(reg, "_REGISTRY", {})
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
    # an override gets a folder of its own beside the preset's
    assert out == tmp_path / "res" / "toy" / "smoke+n=4" and out.is_dir()
    experiments.run_experiment("toy", "smoke", {"n": 3})  # the preset's own value: the preset's folder
    assert registry[-1][1] == tmp_path / "res" / "toy" / "smoke"
    experiments.run_experiment("toy", "paper", None, tmp_path / "elsewhere")
    assert registry[-1][1] == tmp_path / "elsewhere"
    with pytest.raises(ValueError, match="unknown setting"):
        experiments.run_experiment("toy", "smoke", {"bogus": 1}, tmp_path / "never")
    assert not (tmp_path / "never").exists()  # validated before any work


def test_registering_a_name_twice_is_an_error(registry, monkeypatch):
    with pytest.raises(ValueError, match="experiment 'toy' is registered already"):
        experiments.register_experiment("toy", presets={"smoke": {}, "paper": {}})(lambda config, out_dir: None)
    assert experiments.get_experiment("toy").description == "Toy experiment: a ramp of length n."  # kept
    monkeypatch.setattr(reg, "_FIGURES", {})
    experiments.register_figure("toy_fig", experiment="toy")(lambda results_dir, out_dir: [])
    with pytest.raises(ValueError, match="figure 'toy_fig' is registered already"):
        experiments.register_figure("toy_fig", experiment="toy")(lambda results_dir, out_dir: [])


def test_the_paper_experiments_and_figures_are_registered():
    assert experiments.list_experiments() == ["cban_bars", "cban_cifar10", "cban_mnist", "cban_omniglot", "cban_sr",
                                              "lin_tang_A", "lin_tang_B", "lin_tang_C", "lin_tang_C_lam1"]
    assert experiments.list_figures() == ["cban_bars", "cban_cifar10", "cban_omniglot", "cban_sr",
                                          "lin_tang_A", "lin_tang_B", "lin_tang_C"]
    for name in experiments.list_experiments():
        assert experiments.get_experiment(name).func.__module__.startswith("attractorlab.experiments."), name


def test_importing_the_package_and_the_demo_loads_no_simulator():
    """Experiment modules load on the first lookup; the demo's data part needs neither
    Brian2 nor torch (nor does ``attractorlab --help``)."""
    import subprocess
    import sys

    code = ("import sys; import attractorlab.experiments, attractorlab.experiments.demo, attractorlab.cli; "
            "print(sorted(m for m in ('torch', 'brian2', 'attractorlab.models', 'attractorlab.analysis') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_torch_threads_is_scoped_and_validated():
    import torch

    from attractorlab.threads import torch_threads

    before = torch.get_num_threads()
    want = 1 if before != 1 else 2
    with torch_threads(want):
        assert torch.get_num_threads() == want
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="boom"):
        with torch_threads(want):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(0):
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match=r"n \(torch threads\) must be an integer >= 0 or None, got -1"):
        with torch_threads(-1):
            pass


def test_cban_bars_restores_the_thread_count(tmp_path):
    import torch

    before = torch.get_num_threads()
    experiments.run_experiment("cban_bars", "smoke", {"epochs": 2, "n_eval_masks": 2}, tmp_path)
    assert torch.get_num_threads() == before
