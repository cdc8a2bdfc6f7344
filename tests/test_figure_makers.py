"""Every registered figure maker (``attractorlab figure NAME``) redraws its figures from a
results folder in each format: valid PNG, SVG (text kept as text) and PDF (TrueType fonts
embedded). The results here are small synthetic Datasets shaped like each experiment's
``results.nc``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from attractorlab import cli, experiments
from attractorlab.results import save_dataset


def _lin_tang(rng) -> xr.Dataset:
    learners = ["spiking_consistent", "sgd_1", "sklearn"]
    return xr.Dataset(
        {"objective": (("learner", "snapshot"), np.array([[10, 9, 8], [10, 9.5, 9], [10, 8.5, 8.2]], float)),
         "samples_seen": (("learner", "snapshot"), np.tile([10, 100, 1000], (3, 1))),
         "consistency": (("init", "snapshot"), np.array([[1.0, 0.95, 0.93]])),
         "symmetry": (("init", "snapshot"), np.array([[1.0, 1.0, 1.0]])),
         "D": (("learner", "pixel", "atom"), np.abs(rng.normal(size=(3, 128, 16))))},
        coords={"learner": learners, "init": ["consistent"], "snapshot": np.arange(3)},
        attrs={"dataset": "A", "image_shape": [8, 8], "split_sign": 1, "n_atoms": 16})


def _completion(rng) -> xr.Dataset:
    n, size = 4, 12
    target = np.tanh(rng.normal(size=(n, 1, size, size)))
    models = ["cban", "cban_asym", "cd_vae"]
    return xr.Dataset(
        {"target": (("example", "channel", "y", "x"), target),
         "observed": (("example", "y", "x"), (rng.random((n, size, size)) > 0.3).astype(np.int8)),
         "completion": (("model", "example", "channel", "y", "x"), np.stack([target * 0.9] * 3)),
         "psnr": (("model", "example"), rng.normal(20, 1, (3, n)), {"units": "dB"}),
         "ssim": (("model", "example"), rng.uniform(0.6, 0.8, (3, n)), {"units": "1"})},
        coords={"model": models, "model_name": ("model", ["CBAN", "CBAN-asym", "CD-VAE"])})


def _sr(rng) -> xr.Dataset:
    crops = rng.integers(0, 255, size=(2, 16, 16, 3)).astype(np.uint8)
    dims = ("example", "crop_y", "crop_x", "channel")
    return xr.Dataset({"example_hr": (dims, crops), "example_cban": (dims, crops), "example_bicubic": (dims, crops),
                       "example_name": ("example", ["baby", "bird"])})


def _bars(rng) -> xr.Dataset:
    return xr.Dataset(
        {"loss": ("epoch", np.linspace(1, 0.1, 5)), "settle_iterations": ("epoch", np.linspace(9, 3, 5)),
         "accuracy_per_iteration": ("iteration", np.array([0.9, 0.99, 0.999])),
         "weights_visible_hidden": (("hidden_unit", "y", "x"), rng.normal(size=(8, 5, 5)))},
        coords={"epoch": np.arange(1, 6), "iteration": [1, 2, 3]})


#: maker -> (synthetic results, files it writes without suffix)
CASES = {
    "lin_tang_A": (_lin_tang, ["fig3_consistency_symmetry", "fig4_objective", "fig6_atoms"]),
    "lin_tang_B": (_lin_tang, ["fig3_consistency_symmetry", "fig4_objective", "fig6_atoms"]),
    "lin_tang_C": (_lin_tang, ["fig3_consistency_symmetry", "fig4_objective", "fig6_atoms"]),
    "cban_omniglot": (_completion, ["fig5"]),
    "cban_cifar10": (_completion, ["fig6"]),
    "cban_sr": (_sr, ["fig7"]),
    "cban_bars": (_bars, ["fig2_accuracy", "fig3_bar_weights", "training_curve"]),
}


def check_figure_file(path: Path, fmt: str) -> bool:
    """``path`` is a valid file of format ``fmt`` whose text, if any, is kept as text (SVG
    ``<text>`` elements, no glyph outlines; PDF TrueType fonts embedded, no Type 3 fonts).
    Returns whether the file holds text."""
    raw = path.read_bytes()
    if fmt == "png":
        from PIL import Image

        assert raw[:8] == b"\x89PNG\r\n\x1a\n", path
        with Image.open(path) as im:
            im.verify()
        return False
    if fmt == "svg":
        root = ET.fromstring(raw)
        assert root.tag.endswith("svg"), path
        assert b"DejaVuSans-" not in raw, f"{path}: glyphs drawn as paths"
        return any(t.tag.endswith("text") and "".join(t.itertext()).strip() for t in root.iter())
    assert raw.startswith(b"%PDF-") and raw.rstrip().endswith(b"%%EOF"), path
    assert b"/Type3" not in raw, f"{path}: Type 3 fonts"
    has_fonts = b"/FontDescriptor" in raw
    assert not has_fonts or b"/FontFile2" in raw, f"{path}: fonts not embedded as TrueType"
    return has_fonts


def test_every_registered_maker_is_covered():
    assert set(experiments.list_figures()) == set(CASES)


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_maker_writes_valid_files_in_each_format(tmp_path, capsys, name, fmt):
    make, stems = CASES[name]
    res = tmp_path / "res"
    res.mkdir()
    save_dataset(make(np.random.default_rng(0)), res / "results.nc", params={"synthetic": True}, seed=0)
    out = tmp_path / "figs"
    assert cli.main(["figure", name, "--results", str(res), "--out", str(out), "--format", fmt]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}.{fmt}" for s in stems)
    has_text = [check_figure_file(path, fmt) for path in out.iterdir()]
    assert fmt == "png" or any(has_text), "no figure holds text as text"
    printed = capsys.readouterr().out
    assert all(f"wrote {out / f'{s}.{fmt}'}" in printed for s in stems), printed


def test_maker_without_results_file_says_so(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="results.nc"):
        experiments.get_figure("cban_sr").func(tmp_path / "empty", tmp_path / "o", fmt="png")
