"""Reliability (issue 18): a changed setting is never silently ignored, runs record what they
are, ``data check`` trusts no cache, files honour the umask, and the protocol details that
earlier tests could not see (SR border shave, "mix" evidence) are pinned by independent
computations."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from attractorlab import cli, experiments
from attractorlab.experiments import registry as reg
from attractorlab.results import read_run_record, run_status

REPO = Path(__file__).resolve().parent.parent
BARS = ["--set", "epochs=20", "--set", "n_eval_masks=2"]  # a small smoke run of cban_bars


@pytest.fixture
def results_root(tmp_path, monkeypatch):
    root = tmp_path / "results"
    monkeypatch.setenv("ATTRACTORLAB_RESULTS", str(root))
    return root


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("attractorlab: error: "), err
    return err[0]


# ---------------------------------------------------------------- 1. changed settings
def test_a_changed_training_setting_is_refused_in_the_same_folder_and_gets_its_own_folder(
        tmp_path, results_root, capsys, one_torch_thread):
    out = tmp_path / "run"
    assert cli.main(["run", "cban_bars", *BARS, "--out", str(out)]) == 0
    rec = read_run_record(out)
    assert rec["status"] == "complete" and rec["overrides"] == {"epochs": 20, "n_eval_masks": 2}
    assert rec["fingerprint"]["epochs"] == 20 and "n_eval_masks" not in rec["fingerprint"]
    results = (out / "results.nc").stat().st_mtime_ns
    capsys.readouterr()
    # another rate or number of epochs in the same folder: refused, naming the key, nothing touched
    for extra, key, old, new in ((["--set", "lr=0.1"], "lr", "0.03", "0.1"),
                                 (["--set", "epochs=30"], "epochs", "20", "30")):
        args = ["run", "cban_bars", *BARS, *extra, "--out", str(out)]
        assert cli.main(args) == 2
        line = _err(capsys)
        assert f"{key}: stored {old}, now {new}" in line and "different configuration" in line
        assert (out / "results.nc").stat().st_mtime_ns == results
    # an evaluation-only setting re-evaluates without retraining (the checkpoint is not rewritten)
    ckpt = (out / "checkpoint.pt").stat().st_mtime_ns
    loss = xr.load_dataset(out / "results.nc")["loss"].values
    assert cli.main(["run", "cban_bars", "--set", "epochs=20", "--set", "n_eval_masks=3", "--out", str(out)]) == 0
    assert (out / "checkpoint.pt").stat().st_mtime_ns == ckpt
    np.testing.assert_array_equal(xr.load_dataset(out / "results.nc")["loss"].values, loss)
    assert read_run_record(out)["overrides"]["n_eval_masks"] == 3
    # without --out every set of training settings has its own folder; eval-only settings do not count
    capsys.readouterr()
    assert cli.main(["run", "cban_bars", *BARS]) == 0
    assert cli.main(["run", "cban_bars", *BARS, "--set", "lr=0.1"]) == 0
    printed = capsys.readouterr().out
    first, second = results_root / "cban_bars" / "smoke+epochs=20", results_root / "cban_bars" / "smoke+epochs=20+lr=0.1"
    assert f"results in {first}" in printed and f"results in {second}" in printed
    assert read_run_record(first)["fingerprint"]["lr"] == 0.03 and read_run_record(second)["fingerprint"]["lr"] == 0.1
    assert sorted(p.name for p in (results_root / "cban_bars").iterdir()) == ["smoke+epochs=20", "smoke+epochs=20+lr=0.1"]


def test_bars_checkpoint_holds_every_setting_even_without_the_run_record(tmp_path, capsys, one_torch_thread):
    out = tmp_path / "run"
    assert cli.main(["run", "cban_bars", *BARS, "--out", str(out)]) == 0
    (out / "run.json").unlink()  # only the checkpoint is left to tell
    capsys.readouterr()
    for extra, key in ((["--set", "p_observe=[0.2, 0.5]"], "p_observe"), (["--set", "lr=0.1"], "lr"),
                       (["--set", "target_scale=0.9"], "target_scale")):
        assert cli.main(["run", "cban_bars", *BARS, *extra, "--out", str(out)]) == 2
        line = _err(capsys)
        assert "checkpoint.pt" in line and f"{key}: checkpoint" in line


def test_mnist_checkpoint_holds_the_dynamics_settings(tmp_path, capsys, one_torch_thread):
    out = tmp_path / "run"
    small = ["--set", "n_train=250", "--set", "batch_size=250", "--set", "hidden=[8, 4]", "--set", "n_test=20",
             "--set", "max_iter=5"]
    assert cli.main(["run", "cban_mnist", *small, "--out", str(out)]) == 0
    (out / "run.json").unlink()
    capsys.readouterr()
    assert cli.main(["run", "cban_mnist", *small, "--set", "theta=0.1", "--out", str(out)]) == 2
    assert "theta: checkpoint 0.01, now 0.1" in _err(capsys)
    # n_test is evaluation only: the rerun reuses the checkpoint
    assert cli.main(["run", "cban_mnist", *small[:-4], "--set", "max_iter=5", "--set", "n_test=30",
                     "--out", str(out)]) == 0
    assert xr.load_dataset(out / "results.nc").attrs["n_test"] == 30


def test_run_name_is_stable_readable_or_hashed():
    exp = experiments.get_experiment("cban_bars")
    assert exp.run_name(exp.config("smoke")) == "smoke"
    assert exp.run_name(exp.config("smoke", {"lr": 0.03, "n_eval_masks": 7, "progress": True})) == "smoke"
    assert exp.run_name(exp.config("smoke", {"lr": 0.1, "epochs": 60})) == "smoke+epochs=60+lr=0.1"
    assert exp.run_name(exp.config("smoke", {"hidden": (40, 20)})) == "smoke+hidden=40-20"
    long = exp.config("smoke", {"hidden": [100, 50, 25], "lr": 0.123456, "lr_final": 0.0123456, "lr_drop": 0.654321,
                                "activation": "leaky_sigmoid"})
    name = exp.run_name(long)
    assert name.startswith("smoke+overrides-") and len(name) == len("smoke+overrides-") + 10
    assert exp.run_name(dict(reversed(list(long.items())))) == name  # order of the overrides does not matter


def test_check_runs_before_the_experiment_and_the_record_tells_complete_from_stopped(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(reg, "_REGISTRY", {})
    monkeypatch.setattr(experiments, "_loaded", True)
    calls = []

    def check(config):
        if config["n"] > 10:
            raise ValueError(f"n must be <= 10, got {config['n']}")

    @experiments.register_experiment("toy", presets={"smoke": {"n": 2, "fail": False}, "paper": {"n": 5, "fail": False}},
                                     check=check)
    def run(config, out_dir):
        calls.append(run_status(out_dir))  # what a reader sees while the run goes
        xr.Dataset({"x": ("i", list(range(config["n"])))}).to_netcdf(out_dir / "results.nc")
        if config["fail"]:
            raise RuntimeError("stopped before the figures")
        return xr.Dataset()

    assert cli.main(["run", "toy", "--set", "n=11", "--out", str(tmp_path / "a")]) == 2
    assert "n must be <= 10, got 11" in _err(capsys) and calls == [] and not (tmp_path / "a").exists()
    experiments.run_experiment("toy", "smoke", None, tmp_path / "a")
    assert calls == ["running"] and run_status(tmp_path / "a") == "complete"
    with pytest.raises(RuntimeError):
        experiments.run_experiment("toy", "smoke", {"fail": True}, tmp_path / "b")
    rec = read_run_record(tmp_path / "b")
    assert rec["status"] == "failed" and "stopped before the figures" in rec["error"]
    assert (tmp_path / "b" / "results.nc").exists()  # a results file whose run did not complete
    assert run_status(tmp_path / "nothing") == "none"
    # a folder of another experiment is refused
    monkeypatch.setitem(reg._REGISTRY, "toy2", reg.Experiment("toy2", run, {"smoke": {"n": 1}, "paper": {"n": 1}}))
    with pytest.raises(ValueError, match="holds a run of experiment 'toy', not 'toy2'"):
        experiments.run_experiment("toy2", "smoke", None, tmp_path / "a")


def test_mnist_data_files_are_verified_before_any_work(tmp_path):
    from attractorlab.data import data_root

    src = data_root() / "mnist"
    if not (src / "train-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"no MNIST under {src} (set ATTRACTORLAB_DATA)")
    root = tmp_path / "data"
    (root / "mnist").mkdir(parents=True)
    for f in src.glob("*.gz"):
        (root / "mnist" / f.name).symlink_to(f)
    bad = root / "mnist" / "train-labels-idx1-ubyte.gz"
    bad.unlink()
    raw = bytearray((src / bad.name).read_bytes())
    raw[100] ^= 0xFF
    bad.write_bytes(bytes(raw))
    env = {**os.environ, "ATTRACTORLAB_DATA": str(root), "ATTRACTORLAB_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "attractorlab", "run", "cban_mnist", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert out.returncode == 1 and "train-labels-idx1-ubyte.gz" in out.stderr and "corrupt" in out.stderr
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- 4. data check re-hashes
def test_data_check_rehashes_a_file_corrupted_with_size_and_mtime_kept(tmp_path):
    from attractorlab.data import data_root

    src = data_root() / "mnist" / "t10k-labels-idx1-ubyte.gz"
    if not src.is_file():
        pytest.skip(f"{src} not found (set ATTRACTORLAB_DATA)")
    (tmp_path / "mnist").mkdir()
    dst = tmp_path / "mnist" / src.name
    shutil.copyfile(src, dst)
    env = {**os.environ, "ATTRACTORLAB_DATA": str(tmp_path), "ATTRACTORLAB_CACHE": str(tmp_path / "cache")}

    def check():
        return subprocess.run([sys.executable, "-m", "attractorlab", "data", "check"], capture_output=True,
                              text=True, cwd=REPO, env=env, timeout=120)

    assert check().returncode == 0  # verified, and remembered in the cache
    assert str(dst.resolve()) in json.loads((tmp_path / "cache" / "verified_sha256.json").read_text())
    st = dst.stat()
    raw = bytearray(dst.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    with open(dst, "r+b") as fh:  # in place: same inode, same size
        fh.write(bytes(raw))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert dst.stat().st_size == st.st_size and dst.stat().st_mtime_ns == st.st_mtime_ns
    out = check()
    assert out.returncode == 1 and "CORRUPT" in out.stdout and src.name in out.stdout
    # the corrupt file is dropped from the cache, so loads hash it again and refuse it too
    load = subprocess.run([sys.executable, "-c", f"from attractorlab.data import fetch; fetch('mnist/{src.name}')"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert load.returncode != 0 and "DataCorruptError" in load.stderr


# ---------------------------------------------------------------- 6. umask
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_results_figures_and_checkpoints_honour_the_umask(tmp_path, umask, mode):
    import matplotlib.pyplot as plt

    from attractorlab.models.cban import TrainConfig, build_fban, save_checkpoint
    from attractorlab.results import save_dataset, save_figure

    old = os.umask(umask)
    try:
        nc = save_dataset(xr.Dataset({"x": ("i", [1.0])}), tmp_path / "r.nc")
        png = save_figure(plt.figure(), tmp_path / "f.png")
        net = build_fban(sizes=(4, 3), seed=0)
        pt = save_checkpoint(tmp_path / "c.pt", net, torch.optim.SGD(net.parameters(), lr=0.1), 0, {},
                             TrainConfig(progress=False))
    finally:
        os.umask(old)
    for p in (nc, png, pt):
        assert stat.S_IMODE(p.stat().st_mode) == mode, (p, oct(p.stat().st_mode))


# ---------------------------------------------------------------- 7. protocol details
def test_sr_scores_shave_the_border_and_match_an_independent_computation():
    """PSNR/SSIM on the BT.601 Y channel with ``scale`` pixels shaved from each border,
    recomputed here with numpy and scikit-image. The test image pair differs a lot in the
    border and a little inside, so a score without the shave is off by many dB."""
    from skimage.metrics import structural_similarity

    from attractorlab.analysis.metrics import sr_scores

    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, size=(40, 36, 3)).astype(np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-3, 4, size=hr.shape), 0, 255)
    sr[:2], sr[-2:], sr[:, :2], sr[:, -2:] = 0, 255, 255, 0  # wrong borders
    sr = sr.astype(np.uint8)

    def y(img):
        x = img.astype(np.float64) / 255.0
        return 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]

    ys, yh = y(sr)[2:-2, 2:-2], y(hr)[2:-2, 2:-2]
    psnr_ref = 10 * np.log10(255.0**2 / np.mean((ys - yh) ** 2))
    ssim_ref = structural_similarity(ys, yh, data_range=255.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    p, s = sr_scores(sr, hr, scale=2)
    assert p == pytest.approx(psnr_ref, abs=1e-6) and s == pytest.approx(ssim_ref, abs=1e-6)
    unshaved = 10 * np.log10(255.0**2 / np.mean((y(sr) - y(hr)) ** 2))
    assert psnr_ref - unshaved > 10  # what a missing shave would report instead


def test_mix_evidence_weights_the_observation_by_mix_alpha():
    """"mix": observed units take alpha * observed + (1 - alpha) * f(net), unobserved ones
    f(net) (App A); checked by hand on one step of a small FBAN with alpha = 0.8."""
    from attractorlab.models.cban import CBANParams, Evidence, build_fban
    from attractorlab.models.cban.functional import activation, visible_update

    p = CBANParams(evidence_mode="mix", mix_alpha=0.8)
    v_net = torch.tensor([[0.3, -1.2, 2.0, 0.0]])
    ev = Evidence(torch.tensor([[1.0, -0.5, 0.25, 0.9]]), torch.tensor([[True, True, False, False]]))
    x0, free = visible_update(v_net, ev, p)
    f = torch.tanh(v_net)
    expected = torch.where(ev.mask, 0.8 * ev.value + 0.2 * f, f)
    torch.testing.assert_close(x0, expected, rtol=0, atol=1e-7)
    torch.testing.assert_close(free, f)
    # the same rule inside a whole step of the net (visible layer updated last in up-down)
    net = build_fban(sizes=(4, 3), seed=1, params=p, dtype=torch.float64)
    evd = Evidence(ev.value.double(), ev.mask)
    state = net.init_state(evd)
    new = net.step(state, evd)
    w, b = net.couplings[0], net.biases
    h = activation(w.up(state.x[0]) + b[1], p)
    f0 = torch.tanh(w.down(h) + b[0])
    torch.testing.assert_close(new.x[1], h)
    torch.testing.assert_close(new.x[0], torch.where(evd.mask, 0.8 * evd.value + 0.2 * f0, f0))
