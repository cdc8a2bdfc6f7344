"""Command line: help, version, one-line errors with exit 2, data commands, run/figure/bench."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

from attractorlab import cli, experiments
from attractorlab.experiments import registry
from attractorlab.data import data_root

REPO = Path(__file__).resolve().parent.parent


def _cli(*args, env=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "attractorlab", *args], capture_output=True, text=True,
                          cwd=REPO, env=full_env, timeout=120)


def test_help_and_version():
    out = _cli("--help")
    assert out.returncode == 0
    for cmd in ("demo", "data", "run", "figure", "bench", "ATTRACTORLAB_DATA"):
        assert cmd in out.stdout
    ver = _cli("--version")
    assert ver.returncode == 0 and ver.stdout.strip() == "attractorlab 0.1.0"


@pytest.mark.parametrize("args", [("frobnicate",), ("run", "--preset"), ("data", "delete"), ("run", "x", "--set", "a")])
def test_bad_arguments_one_line_exit_2(args):
    out = _cli(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("attractorlab: error: ")
    assert "Traceback" not in out.stderr


def test_data_list_and_check_on_real_data():
    if not (data_root() / "mnist").is_dir():
        pytest.skip(f"no data under {data_root()} (set ATTRACTORLAB_DATA)")
    out = _cli("data", "list")
    assert out.returncode == 0
    for ds in ("mnist", "omniglot", "olshausen_field", "sr_benchmarks", "cifar10", "v1_receptive_fields"):
        assert ds in out.stdout
    check = _cli("data", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert " 0 corrupt" in check.stdout
    cifar = data_root() / "cifar10"
    if (cifar / "convnetjs_batches").is_dir() and not (cifar / "cifar-10-batches-py").is_dir():
        # the shared copy keeps 20,000 training images for good: batches 20-49 are not provided, not missing
        assert "cifar10: 20,000 training images present" in check.stdout
        assert "30 batches not provided by the shared copy" in check.stdout
        assert " 0 missing, 30 not provided" in check.stdout and "MISSING" not in check.stdout
        row = next(ln for ln in out.stdout.splitlines() if ln.startswith("cifar10 "))
        assert row.split()[1:] == ["53", "23", "0", "0", "30"]  # files, present, missing, corrupt, not provided


def test_data_check_fails_on_a_corrupted_copy(tmp_path):
    src = data_root() / "mnist" / "t10k-labels-idx1-ubyte.gz"
    if not src.is_file():
        pytest.skip(f"{src} not found (set ATTRACTORLAB_DATA)")
    (tmp_path / "mnist").mkdir()
    dst = tmp_path / "mnist" / src.name
    shutil.copyfile(src, dst)
    env = {"ATTRACTORLAB_DATA": str(tmp_path), "ATTRACTORLAB_CACHE": str(tmp_path / "cache")}
    assert _cli("data", "check", env=env).returncode == 0
    assert _cli("data", "check", "--strict", env=env).returncode == 1  # other files are missing
    raw = bytearray(dst.read_bytes())
    raw[-1] ^= 0xFF
    dst.write_bytes(bytes(raw))
    out = _cli("data", "check", env=env)
    assert out.returncode == 1 and "CORRUPT" in out.stdout and "t10k-labels" in out.stdout
    listing = _cli("data", "list", env=env)
    row = next(ln for ln in listing.stdout.splitlines() if ln.startswith("mnist "))
    assert row.split()[1:] == ["4", "1", "3", "1", "0"]  # files, present, missing, corrupt, not provided


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(experiments, "_loaded", True)

    @experiments.register_experiment("toy", presets={"smoke": {"n": 2}, "paper": {"n": 100}}, description="toy run")
    def run(config, out_dir):
        if config["n"] < 0:
            raise ValueError(f"n must be >= 0, got {config['n']}")
        ds = xr.Dataset({"x": ("i", list(range(config["n"])))})
        (out_dir / "done.txt").write_text(str(config["n"]))
        return ds


def test_run_list_run_and_config_errors(toy, tmp_path, capsys):
    assert cli.main(["run", "--list"]) == 0
    assert "toy" in capsys.readouterr().out
    assert cli.main(["run", "toy", "--set", "n=5", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "done.txt").read_text() == "5"
    for bad in (["run", "toy", "--set", "m=1"], ["run", "toy", "--preset", "huge"],
                ["run", "toy", "--set", "n=-1", "--out", str(tmp_path / "o")], ["run", "nope"], ["run"]):
        capsys.readouterr()
        assert cli.main(bad) == 2, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("attractorlab: error: "), (bad, err)


def test_figure_registry_regenerates_from_saved_results(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(registry, "_FIGURES", {})
    monkeypatch.setattr(experiments, "_loaded", True)

    @experiments.register_figure("toy_fig", experiment="toy", description="a toy figure")
    def make(results_dir, out_dir, fmt="png"):
        out = out_dir / "fig.txt"
        out.write_text((results_dir / "r.txt").read_text().upper())
        return [out]

    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "r.txt").write_text("abc")
    assert cli.main(["figure", "--list"]) == 0 and "toy_fig" in capsys.readouterr().out
    assert cli.main(["figure", "toy_fig", "--results", str(tmp_path / "res"), "--out", str(tmp_path / "f")]) == 0
    assert (tmp_path / "f" / "fig.txt").read_text() == "ABC"
    monkeypatch.setenv("ATTRACTORLAB_RESULTS", str(tmp_path / "empty"))
    assert cli.main(["figure", "toy_fig"]) == 2
    assert "attractorlab run toy" in capsys.readouterr().err
    assert cli.main(["figure", "nofig"]) == 2


@pytest.mark.parametrize("bad", ["jpeg", "PDFX", ""])
def test_figure_bad_format_is_one_line_exit_2(tmp_path, bad):
    res = tmp_path / "res"
    res.mkdir()
    out = _cli("figure", "lin_tang_A", "--results", str(res), "--out", str(tmp_path / "o"), "--format", bad)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("attractorlab: error: "), out.stderr
    assert repr(bad) in lines[0] and "png, svg, pdf" in lines[0] and "--format" in lines[0]
    assert not (tmp_path / "o").exists()


def test_bench_runs_scripts_and_rejects_unknown(tmp_path, monkeypatch, capsys):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "ok.py").write_text("print('ratio 2.0')\n")
    (tmp_path / "benchmarks" / "fail.py").write_text("raise SystemExit(3)\n")
    monkeypatch.setattr(cli, "_REPO_ROOT", tmp_path)
    assert cli.main(["bench", "--list"]) == 0 and capsys.readouterr().out.split() == ["fail", "ok"]
    assert cli.main(["bench", "ok"]) == 0
    assert cli.main(["bench"]) == 1
    assert cli.main(["bench", "missing"]) == 2


def test_demo_writes_the_dataset_page(tmp_path):
    from attractorlab.experiments.demo import DATA_STEPS, run_demo

    seen = []
    out = run_demo(tmp_path / "demo", steps=DATA_STEPS + [("extra", seen.append)])
    png = out / "datasets.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and seen == [out]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_demo_and_data_list_without_any_data(tmp_path, monkeypatch, capsys):
    from attractorlab import data
    from attractorlab.experiments.demo import DATA_STEPS, run_demo

    monkeypatch.setenv("ATTRACTORLAB_DATA", str(tmp_path / "nodata"))
    monkeypatch.setenv("ATTRACTORLAB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(data.DataMissingError, match="cifar10_batch_0.png"):
        data.load_cifar10("train")
    out = run_demo(tmp_path / "demo", steps=DATA_STEPS)
    assert (out / "datasets.png").is_file()
    text = capsys.readouterr().out
    assert "not available: DataMissingError" in text and "1 samples  scikit-image" in text
    assert cli.main(["data", "list"]) == 0
    assert "mnist                    4        0        4        0" in capsys.readouterr().out
