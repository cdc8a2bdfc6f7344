"""``attractorlab demo`` / ``make demo``: a tour of the suite in a few minutes on 2 CPU cores.

The demo is a list of steps, :data:`DEMO_STEPS`; each is a ``(title, func)`` pair where
``func(out_dir: Path)`` prints what it does and writes its files under ``out_dir``
(atomically): the data steps here (:data:`DATA_STEPS`), then the model steps of
:mod:`attractorlab.experiments.demo_models` (:data:`DEMO_MODEL_STEPS`), which import
their simulators only when they run, so the data part (``attractorlab demo --data-only``)
needs neither Brian2 nor torch.

Steps that need a dataset that is absent say so and carry on, so the demo also works on a
fresh machine with only the bundled scikit-image pictures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from attractorlab.experiments.demo_models import DEMO_MODEL_STEPS

__all__ = ["DATA_STEPS", "DEMO_STEPS", "run_demo", "data_report", "dataset_figure"]


def data_report(out_dir: Path) -> None:
    """Print the data root and, per dataset, how many registered files are present / missing / corrupt."""
    from attractorlab.data.report import data_report as _report

    print(_report())


def _samples() -> list[tuple[str, list[np.ndarray], str]]:
    """(row title, images, note) for each dataset; images empty when the dataset is absent."""
    from attractorlab import data

    rows: list[tuple[str, list[np.ndarray], str]] = []

    def attempt(title: str, make: Callable[[], tuple[list[np.ndarray], str]]) -> None:
        try:
            imgs, note = make()
        except data.DataError as exc:
            imgs, note = [], f"not available: {type(exc).__name__}"
        rows.append((title, imgs, note))

    def mnist():
        x, y = data.load_mnist("test")
        return [x[i] for i in range(8)], "labels " + " ".join(str(int(v)) for v in y[:8])

    def omniglot():
        return list(data.omniglot_sample(8, seed=0)), "background set, strokes = True"

    def olshausen():
        imgs = data.load_olshausen()
        crops = [imgs[i, 128:256, 128:256] for i in (0, 4, 9)]
        return crops, "whitened, 128x128 crops of images 0, 4, 9"

    def sr():
        imgs = data.load_sr_set("Set5")
        return imgs, "Set5 HR (x2 ground truth)"

    def cifar():
        x, y = data.load_cifar10("test", batches=[50])
        return [x[i] for i in range(8)], " ".join(data.CIFAR10_CLASSES[int(v)][:4] for v in y[:8])

    def bundled():
        img = data.bundled_image("camera")
        return [img], "scikit-image 'camera' (bundled)"

    attempt("MNIST", mnist)
    attempt("Omniglot", omniglot)
    attempt("Olshausen & Field", olshausen)
    attempt("SR benchmarks", sr)
    attempt("CIFAR-10 (lossless test)", cifar)
    attempt("bundled image", bundled)
    return rows


def dataset_figure(out_dir: Path) -> Path:
    """Write ``out_dir/datasets.png``: a few samples of each present dataset (one row each)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from attractorlab.results import save_figure

    rows = _samples()
    ncol = 8
    fig, axes = plt.subplots(len(rows), ncol, figsize=(ncol * 1.3, len(rows) * 1.55), squeeze=False)
    for r, (title, imgs, note) in enumerate(rows):
        for c in range(ncol):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(imgs):
                img = imgs[c]
                if img.dtype == bool:
                    ax.imshow(~img, cmap="gray", interpolation="nearest")
                elif img.ndim == 2:
                    ax.imshow(img, cmap="gray", interpolation="nearest")
                else:
                    ax.imshow(img, interpolation="nearest")
        axes[r, 0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=9)
        axes[r, ncol - 1].text(1.05, 0.5, note, transform=axes[r, ncol - 1].transAxes, fontsize=7,
                               va="center", ha="left")
        print(f"  {title:<26} {len(imgs):>2} samples  {note}")
    fig.suptitle("attractorlab datasets (sha256-verified)", fontsize=11)
    fig.tight_layout()
    path = Path(out_dir) / "datasets.png"
    save_figure(fig, path, bbox_inches="tight")
    print(f"  wrote {path}")
    return path


#: The data part of the demo (seconds): report and a page of samples per dataset.
DATA_STEPS: list[tuple[str, Callable[[Path], object]]] = [
    ("data report", data_report),
    ("dataset samples", dataset_figure),
]

#: Ordered demo steps: (title, func(out_dir)): the data steps, then the model steps
#: (spiking dictionary, receptive fields vs V1, CBAN bar task, summary page).
DEMO_STEPS: list[tuple[str, Callable[[Path], object]]] = DATA_STEPS + DEMO_MODEL_STEPS


def run_demo(out_dir: str | Path | None = None, *, steps=None) -> Path:
    """Run every demo step in order, printing a header and the time of each.

    Parameters
    ----------
    out_dir : path, optional
        Output folder (default ``results/demo`` under :func:`attractorlab.results.results_root`).
    steps : list of (title, func), optional
        Steps to run instead of :data:`DEMO_STEPS`.

    Returns
    -------
    Path
        The output folder.
    """
    from attractorlab.results import results_root

    out = Path(out_dir) if out_dir is not None else results_root() / "demo"
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    for i, (title, func) in enumerate(DEMO_STEPS if steps is None else steps, 1):
        print(f"[{i}] {title}", flush=True)
        t0 = time.perf_counter()
        func(out)
        print(f"    ({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"demo done in {time.perf_counter() - t_all:.1f} s; outputs in {out}")
    return out
