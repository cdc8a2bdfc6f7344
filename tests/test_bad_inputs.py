"""A table of bad inputs per public entry point: each gives one clear error naming the parameter.

Command line (``attractorlab ...``): exit status 2 (1 for data problems), one line
``attractorlab: error: ...`` on stderr that names the key (and the value), no traceback,
and no work done (no output folder). API: the exception type and a message naming the
argument.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from attractorlab import cli

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- command line: run
# (arguments after "run", words the one-line message must contain)
RUN_BAD = [
    (["cban_bars", "--set", "lr=nan"], ["'lr'", "'nan'", "a finite number"]),
    (["cban_bars", "--set", "lr=inf"], ["'lr'", "'inf'", "a finite number"]),
    (["cban_bars", "--set", "lr=1e999"], ["'lr'", "inf", "a finite number"]),
    (["cban_bars", "--set", "lr=-0.1"], ["lr", "-0.1", "> 0"]),
    (["cban_bars", "--set", "hidden=abc"], ["'hidden'", "'abc'", "a list of integers"]),
    (["cban_bars", "--set", "hidden=[48, 'x']"], ["'hidden'", "'x'", "a list of integers"]),
    (["cban_bars", "--set", "hidden=[48, 0]"], ["hidden", "0", "positive"]),
    (["cban_bars", "--set", "epochs=2.5"], ["'epochs'", "2.5", "an integer"]),
    (["cban_bars", "--set", "epochs=0"], ["epochs", "0", ">= 1"]),
    (["cban_bars", "--set", "progress=1"], ["'progress'", "1", "True or False"]),
    (["cban_bars", "--set", "p_observe=[0.5, 0.1]"], ["p_observe", "0.5", "low <= high"]),
    (["cban_bars", "--set", "activation=relu"], ["activation", "'relu'", "tanh"]),
    (["cban_bars", "--set", "loss=l2"], ["loss", "'l2'", "delta_e_plus"]),
    (["cban_bars", "--set", "n_eval_masks=0"], ["n_eval_masks", "0", ">= 1"]),
    (["cban_bars", "--set", "bogus=1"], ["'bogus'", "allowed:"]),
    (["cban_bars", "--set", "lr"], ["--set", "key=value", "'lr'"]),
    (["cban_bars", "--preset", "huge"], ["preset", "'huge'", "'paper'"]),
    (["cban_mnist", "--set", "n_train=1000.7"], ["'n_train'", "1000.7", "an integer"]),
    (["cban_mnist", "--set", "n_train=abc"], ["'n_train'", "'abc'", "an integer or None"]),
    (["cban_mnist", "--set", "n_train=70000"], ["n_train", "70000", "60000"]),
    (["cban_mnist", "--set", "n_test=0"], ["n_test", "0", "10000"]),
    (["cban_mnist", "--set", "batch_size=600"], ["batch_size", "600", "n_train"]),
    (["cban_mnist", "--set", "max_minutes=nan"], ["'max_minutes'", "'nan'", "a finite number or None"]),
    (["cban_mnist", "--set", "lr_milestones=[1.5]"], ["'lr_milestones'", "1.5", "a list of integers"]),
    (["cban_mnist", "--set", "mask=blur"], ["mask", "'blur'", "perlin"]),
    (["cban_omniglot", "--set", "seed=abc"], ["'seed'", "'abc'", "an integer"]),
    (["cban_omniglot", "--set", "lr=nan"], ["'lr'", "'nan'", "a finite number"]),
    (["cban_sr", "--set", "epochs=1.5"], ["'epochs'", "1.5", "an integer"]),
    (["lin_tang_A", "--set", "n_train=abc"], ["'n_train'", "'abc'", "an integer"]),
    (["lin_tang_A", "--set", "n_train=1000.7"], ["'n_train'", "1000.7", "an integer"]),
    (["lin_tang_A", "--set", "lam2=aut"], ["'lam2'", "'aut'", "'auto'", "a finite number"]),
    (["lin_tang_A", "--set", "lam2=-1"], ["lam2", "-1", "a number"]),
    (["lin_tang_A", "--set", "image=nosuchimage"], ["image", "'nosuchimage'"]),
    (["lin_tang_A", "--set", "denoise_scaling=huge"], ["denoise_scaling", "'huge'", "noise"]),
    (["lin_tang_A", "--set", "denoise_max_nonzeros=0"], ["denoise_max_nonzeros", "0", "a number > 0"]),
    (["lin_tang_B", "--set", "chunk_sizes=[300]"], ["chunk size", "300", "n_train"]),
    (["lin_tang_C", "--set", "kappa=nan"], ["'kappa'", "'nan'", "a finite number"]),
]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("attractorlab: error: "), err
    return err[0]


@pytest.mark.parametrize("args, words", RUN_BAD, ids=[" ".join(a) for a, _ in RUN_BAD])
def test_run_bad_setting_is_one_line_exit_2_before_any_work(args, words, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ATTRACTORLAB_RESULTS", str(tmp_path / "results"))
    assert cli.main(["run", *args]) == 2
    line = _one_line_error(capsys)
    for w in words:
        assert w in line, (w, line)
    assert not (tmp_path / "results").exists()  # nothing written: refused before any work


def test_run_bad_value_through_a_real_process_has_no_traceback(tmp_path):
    env = {**os.environ, "ATTRACTORLAB_RESULTS": str(tmp_path / "results")}
    for bad in ("n_train=1000.7", "lr=nan"):
        out = subprocess.run([sys.executable, "-m", "attractorlab", "run", "cban_mnist", "--set", bad],
                             capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert out.stderr.count("\n") == 1 and bad.split("=")[0] in out.stderr
    assert not (tmp_path / "results").exists()


def test_run_out_at_an_existing_file_is_one_line_exit_2(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    assert cli.main(["run", "cban_bars", "--out", str(f)]) == 2
    line = _one_line_error(capsys)
    assert str(f) in line and "is an existing file" in line
    assert cli.main(["run", "cban_bars", "--out", str(f / "sub")]) == 2  # a file on the way
    assert "is a file, not a folder" in _one_line_error(capsys)
    assert f.read_text() == "x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_run_out_in_a_read_only_folder_is_one_line_exit_2(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert cli.main(["run", "cban_bars", "--out", str(ro / "run")]) == 2
        line = _one_line_error(capsys)
        assert str(ro) in line and "read-only" in line
    finally:
        ro.chmod(0o755)


def test_run_out_read_only_message(tmp_path, monkeypatch, capsys):
    """The read-only refusal itself (os.access says no, as it does for a non-root user)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == tmp_path else real(p, mode, **kw))
    assert cli.main(["run", "cban_bars", "--out", str(tmp_path / "run")]) == 2
    line = _one_line_error(capsys)
    assert str(tmp_path) in line and "read-only" in line
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- command line: data
def test_data_check_on_an_absent_root_or_a_file_is_an_error_naming_it(tmp_path):
    for root, words in ((tmp_path / "nowhere", "does not exist"), (tmp_path / "file", "is a file")):
        if root.name == "file":
            root.write_text("x")
        env = {**os.environ, "ATTRACTORLAB_DATA": str(root), "ATTRACTORLAB_CACHE": str(tmp_path / "cache")}
        out = subprocess.run([sys.executable, "-m", "attractorlab", "data", "check"], capture_output=True, text=True,
                             cwd=REPO, env=env, timeout=120)
        assert out.returncode == 1, out.stdout
        assert str(root) in out.stderr and words in out.stderr and "ATTRACTORLAB_DATA" in out.stderr
        assert "Traceback" not in out.stderr and "missing" not in out.stdout


# ---------------------------------------------------------------- API: experiments
def test_run_experiment_api_refuses_bad_values_by_name(tmp_path):
    from attractorlab.experiments import run_experiment

    cases = [({"lr": float("nan")}, "'lr'"), ({"epochs": 10.5}, "'epochs'"), ({"seed": "abc"}, "'seed'"),
             ({"hidden": (48, 24.5)}, "'hidden'"), ({"p_observe": [0.1, float("inf")]}, "'p_observe'")]
    for ov, word in cases:
        with pytest.raises(ValueError, match=word):
            run_experiment("cban_bars", "smoke", ov, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_overrides_are_converted_to_the_presets_types():
    from attractorlab.experiments import get_experiment

    exp = get_experiment("cban_mnist")
    cfg = exp.config("smoke", {"n_train": 1e3, "lr": 1, "max_minutes": 2, "hidden": (40, 20)})
    assert cfg["n_train"] == 1000 and isinstance(cfg["n_train"], int)
    assert cfg["lr"] == 1.0 and isinstance(cfg["lr"], float)
    assert cfg["max_minutes"] == 2.0 and cfg["hidden"] == [40, 20]
    assert exp.config("smoke", {"n_train": None})["n_train"] is None  # None-able: None in the paper preset
    assert exp.config("smoke", {"max_minutes": None})["max_minutes"] is None
    with pytest.raises(ValueError, match=r"setting 'n_test' of experiment 'cban_mnist' must be an integer, got None"):
        exp.config("smoke", {"n_test": None})
    with pytest.raises(ValueError, match="must be True or False, got 0"):
        exp.config("smoke", {"progress": 0})


# ---------------------------------------------------------------- API: CBAN
def _fban():
    from attractorlab.models.cban import build_fban

    return build_fban(sizes=(6, 4, 3), seed=0)


def _ev(value=None, mask=None, b=2, n=6):
    from attractorlab.models.cban import Evidence

    value = torch.zeros(b, n) if value is None else value
    mask = torch.ones(b, n, dtype=torch.bool) if mask is None else mask
    return Evidence(value, mask)


def _nan_value():
    v = torch.zeros(2, 6)
    v[1, 3] = float("nan")
    return v


def _inf_value():
    v = torch.zeros(2, 6)
    v[0, 0] = -float("inf")
    return v


# (description, call, exception type, regex the message must match)
CBAN_BAD = [
    ("NaN evidence", lambda net: net.settle(_ev(_nan_value())), ValueError, r"evidence\.value holds 1 NaN"),
    ("inf evidence", lambda net: net.settle(_ev(_inf_value())), ValueError, r"evidence\.value holds 1 NaN or inf"),
    ("NaN in an unobserved unit", lambda net: net.complete(_ev(_nan_value(), torch.zeros(2, 6, dtype=torch.bool))),
     ValueError, r"evidence\.value.*NaN"),
    ("float64 evidence", lambda net: net.settle(_ev(torch.zeros(2, 6, dtype=torch.float64))), TypeError,
     r"evidence\.value has dtype torch\.float64 but the network's weights are torch\.float32"),
    ("float16 evidence", lambda net: net.settle(_ev(torch.zeros(2, 6, dtype=torch.float16))), TypeError,
     r"evidence\.value has dtype torch\.float16"),
    ("integer evidence", lambda net: net.settle(_ev(torch.zeros(2, 6, dtype=torch.int64))), TypeError,
     r"evidence\.value must be a floating-point tensor"),
    ("numpy value", lambda net: net.settle(_ev(np.zeros((2, 6), np.float32))), TypeError,
     r"evidence\.value must be a torch\.Tensor, got numpy\.ndarray"),
    ("numpy mask", lambda net: net.settle(_ev(mask=np.ones((2, 6), bool))), TypeError,
     r"evidence\.mask must be a torch\.Tensor, got numpy\.ndarray"),
    ("float mask", lambda net: net.settle(_ev(mask=torch.ones(2, 6))), TypeError,
     r"evidence\.mask must be a bool tensor.*torch\.float32"),
    ("wrong mask shape", lambda net: net.settle(_ev(mask=torch.ones(2, 5, dtype=torch.bool))), ValueError,
     r"evidence\.mask has shape \(2, 5\), which does not broadcast to evidence\.value's shape \(2, 6\)"),
    ("mask with more dims", lambda net: net.settle(_ev(mask=torch.ones(1, 2, 6, dtype=torch.bool))), ValueError,
     r"evidence\.mask has shape \(1, 2, 6\)"),
    ("wrong value shape", lambda net: net.settle(_ev(torch.zeros(2, 7), torch.ones(2, 7, dtype=torch.bool))),
     ValueError, r"evidence\.value must have shape \(B, 6\), got \(2, 7\)"),
    ("not an Evidence", lambda net: net.settle(torch.zeros(2, 6)), TypeError, r"evidence must be an Evidence"),
    ("init_state NaN", lambda net: net.init_state(_ev(_nan_value())), ValueError, r"evidence\.value holds"),
    ("energy with bad evidence", lambda net: net.energy(net.init_state(_ev()), _ev(_nan_value())), ValueError,
     r"evidence\.value holds"),
    ("settle from a state of another shape", lambda net: net.settle(_ev(b=3), net.init_state(_ev())), ValueError,
     r"evidence\.value has shape \(3, 6\) but the state's visible layer has shape \(2, 6\)"),
]


@pytest.mark.parametrize("what, call, exc, match", CBAN_BAD, ids=[c[0] for c in CBAN_BAD])
def test_cban_module_refuses_bad_evidence_by_name(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call(_fban())


def test_cban_functional_api_refuses_bad_evidence_by_name():
    from attractorlab.models.cban import functional as F

    net = _fban()
    state = net.init_state(_ev())
    with pytest.raises(ValueError, match=r"evidence\.value holds 1 NaN"):
        F.settle(state, _ev(_nan_value()), net.weights(), net.params)
    with pytest.raises(TypeError, match=r"evidence\.value has dtype torch\.float64"):
        F.settle(state, _ev(torch.zeros(2, 6, dtype=torch.float64)), net.weights(), net.params)
    with pytest.raises(ValueError, match=r"evidence\.value holds"):
        F.init_state(_ev(_nan_value()), net.layer_shapes, net.params)
    with pytest.raises(TypeError, match=r"evidence\.mask must be a bool tensor"):
        F.init_state(_ev(mask=torch.ones(2, 6)), net.layer_shapes, net.params)
    # good evidence still settles; no evidence is allowed in the functional API
    assert F.settle(state, None, net.weights(), net.params).state.x[0].shape == (2, 6)


def test_conv_cban_refuses_a_mask_of_the_wrong_shape_and_accepts_a_broadcast_one():
    from attractorlab.models.cban import Evidence, build_cban

    net = build_cban(visible_shape=(2, 8, 8), channels=(3,), seed=0)
    v = torch.zeros(4, 2, 8, 8)
    with pytest.raises(ValueError, match=r"evidence\.mask has shape \(4, 2, 7, 8\)"):
        net.settle(Evidence(v, torch.ones(4, 2, 7, 8, dtype=torch.bool)))
    ok = net.settle(Evidence(v, torch.ones(1, 2, 1, 1, dtype=torch.bool)))  # a channel mask broadcasts
    assert ok.state.x[0].shape == v.shape


@pytest.mark.parametrize("kw, word", [
    ({"init_std": float("nan")}, "init_std"), ({"init_std": float("inf")}, "init_std"), ({"init_std": -0.1}, "init_std"),
    ({"init_std": [0.1, float("nan")]}, "init_std"), ({"init_scale": float("nan")}, "init_scale"),
    ({"init_scale": 0.0}, "init_scale"),
])
def test_build_fban_refuses_bad_init(kw, word):
    from attractorlab.models.cban import build_fban

    with pytest.raises(ValueError, match=rf"{word} must be a finite number"):
        build_fban(sizes=(6, 4, 3), **kw)


@pytest.mark.parametrize("std", [float("nan"), float("inf"), -1.0])
def test_build_cban_refuses_bad_init_std(std):
    from attractorlab.models.cban import build_cban

    with pytest.raises(ValueError, match=r"init_std must be a finite number >= 0"):
        build_cban(visible_shape=(1, 8, 8), channels=(2,), init_std=std)


@pytest.mark.parametrize("cls, kw, word", [
    ("BarsConfig", {"lr": float("nan")}, "lr"), ("BarsConfig", {"lr_final": float("inf")}, "lr_final"),
    ("BarsConfig", {"hidden": (48, 0)}, "hidden"), ("BarsConfig", {"epochs": 2.5}, "epochs"),
    ("BarsConfig", {"p_observe": (0.5, 0.1)}, "p_observe"), ("BarsConfig", {"activation": "relu"}, "activation"),
    ("BarsConfig", {"optimizer": "rmsprop"}, "optimizer"), ("BarsConfig", {"theta": 0.0}, "theta"),
    ("MNISTConfig", {"n_train": 1000.7}, "n_train"), ("MNISTConfig", {"lr": float("nan")}, "lr"),
    ("MNISTConfig", {"batch_size": 600, "n_train": 500}, "batch_size"),
    ("MNISTConfig", {"max_minutes": float("nan")}, "max_minutes"), ("MNISTConfig", {"theta": -1.0}, "theta"),
    ("MNISTConfig", {"max_iter": 0}, "max_iter"),
])
def test_task_configs_refuse_bad_values_by_name(cls, kw, word):
    from attractorlab.models.cban import bars, mnist

    config = getattr(bars, cls, None) or getattr(mnist, cls)
    with pytest.raises(ValueError, match=rf"^{word} must"):
        config(**kw)


# ---------------------------------------------------------------- API: data and results
def test_data_api_refuses_bad_names_and_roots(tmp_path, monkeypatch):
    from attractorlab import data

    with pytest.raises(ValueError, match=r"part must be one of \('train', 'test'\) for dataset 'mnist', got 'val'"):
        data.data_files("mnist", "val")
    with pytest.raises(ValueError, match=r"dataset must be one of .*'nope'"):
        data.data_files("nope")
    with pytest.raises(ValueError, match=r"part must be one of .*'Set55'"):
        data.data_files("sr_benchmarks", "Set55")
    with pytest.raises(ValueError, match=r"'mnist/nope.gz' is not a registered data file"):
        data.verify_files(["mnist/nope.gz"])
    monkeypatch.setenv("ATTRACTORLAB_DATA", str(tmp_path / "none"))
    with pytest.raises(data.DataRootError, match=r"none' does not exist \(from ATTRACTORLAB_DATA="):
        data.check_data_root()
    with pytest.raises(data.DataMissingError, match="train-images-idx3-ubyte.gz"):
        data.verify_files(data.data_files("mnist", "train"))


def test_damaged_results_file_is_named_with_what_to_do(tmp_path):
    from attractorlab.results import load_dataset

    bad = tmp_path / "results.nc"
    bad.write_bytes(b"CDF\x01 truncated")
    with pytest.raises(ValueError, match=r"results\.nc' cannot be read.*Delete it"):
        load_dataset(bad)


def test_nan_stays_refused_for_every_float_setting_of_every_experiment():
    """Every float setting of every registered experiment refuses NaN and inf by name."""
    from attractorlab import experiments

    for name in experiments.list_experiments():
        exp = experiments.get_experiment(name)
        for key, kinds in exp.setting_types().items():
            if float in kinds:
                for bad in (math.nan, math.inf):
                    with pytest.raises(ValueError, match=rf"setting '{key}' of experiment '{name}'"):
                        exp.config("smoke", {key: bad})
