"""Figures of the CBAN paper, bar task and MNIST (Figs 2-4 of [CB]).

Every function takes plain arrays (numpy or torch, values in [-1, 1] unless stated),
draws into ``ax``/``fig`` when given (a new figure otherwise) and returns the axes; none
calls ``plt.show()``. Hidden (unobserved) pixels of the evidence are drawn in red, as in
the paper.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "evidence_rgb",
    "plot_bar_completions",
    "plot_accuracy_per_iteration",
    "plot_hidden_weights",
    "plot_mnist_completions",
    "plot_training_curve",
]

_RED = np.array([0.85, 0.1, 0.1])


def _np(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=float)


def evidence_rgb(values, hidden) -> np.ndarray:
    """Grey image of ``values`` (in [-1, 1]; -1 black, +1 white) with ``hidden`` pixels red.

    Parameters
    ----------
    values : array, shape (..., H, W)
    hidden : bool array broadcastable to ``values``

    Returns
    -------
    ndarray, shape (..., H, W, 3), floats in [0, 1]
    """
    v = np.clip((_np(values) + 1) / 2, 0, 1)
    rgb = np.repeat(v[..., None], 3, axis=-1)
    h = np.broadcast_to(np.asarray(_np(hidden), dtype=bool), v.shape)
    rgb[h] = _RED
    return rgb


def _grey(ax, img):
    ax.imshow(np.clip((_np(img) + 1) / 2, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _grid(fig, nrows, ncols, size=1.0):
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(size * ncols, size * nrows + 0.3))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def plot_bar_completions(targets, hidden, trajectory, *, iteration: int = 1, fig=None):
    """Fig 2 (top): completion, the state after ``iteration`` iterations, and evidence.

    Parameters
    ----------
    targets : array, shape (n, 5, 5)
    hidden : bool array, shape (n, 5, 5)
    trajectory : array, shape (T, n, 5, 5)
        Visible state after each iteration (the last is the completion).
    iteration : int
        Iteration shown in the middle row (1-based; the paper shows 1).

    Returns
    -------
    ndarray of Axes, shape (3, n)
    """
    traj = _np(trajectory)
    n = traj.shape[1]
    fig, axes = _grid(fig, 3, n, 0.7)
    it = min(max(iteration, 1), traj.shape[0])
    rows = [("completion", traj[-1]), (f"iteration {it}", traj[it - 1]), ("evidence", None)]
    for r, (label, imgs) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            if imgs is None:
                ax.imshow(evidence_rgb(_np(targets)[i], _np(hidden)[i]), interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                _grey(ax, imgs[i])
        axes[r, 0].set_ylabel(label, fontsize=8)
    return axes


def plot_accuracy_per_iteration(accuracy, *, ax=None, label: str | None = None):
    """Fig 2 (bottom): masked-pixel accuracy (%) of the visible state vs iteration.

    Parameters
    ----------
    accuracy : array, shape (T,)
        Fraction correct after iteration 1..T.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    acc = _np(accuracy)
    ax.plot(np.arange(1, len(acc) + 1), 100 * acc, marker="o", label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("masked pixels correct (%)")
    ax.set_ylim(min(50.0, 100 * acc.min()), 100.5)
    ax.grid(alpha=0.3)
    if label:
        ax.legend()
    return ax


def plot_hidden_weights(weights, *, shape=(5, 5), n: int | None = None, ncols: int = 8, fig=None):
    """Fig 3: weights of hidden units as Hinton diagrams (colour = sign, area = magnitude).

    Parameters
    ----------
    weights : array, shape (n_hidden, H*W)
        Visible-to-first-hidden weights (``DenseCoupling.weight``).
    shape : (H, W)
        Visible image shape.
    n : int, optional
        Number of hidden units shown (default all).

    Returns
    -------
    ndarray of Axes
    """
    from matplotlib.patches import Rectangle

    w = _np(weights)
    n = w.shape[0] if n is None else min(n, w.shape[0])
    nrows = int(np.ceil(n / ncols))
    fig, axes = _grid(fig, nrows, ncols, 0.9)
    scale = np.abs(w[:n]).max() or 1.0
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.axis("off")
            continue
        img = w[k].reshape(shape)
        ax.set_facecolor("0.85")
        for (r, c), val in np.ndenumerate(img):
            side = np.sqrt(abs(val) / scale)
            ax.add_patch(Rectangle((c - side / 2, r - side / 2), side, side,
                                   color="white" if val > 0 else "black"))
        ax.set_xlim(-0.5, shape[1] - 0.5)
        ax.set_ylim(shape[0] - 0.5, -0.5)
        ax.set_aspect("equal")
    return axes


def _mnist_image(v):
    """(n, 812) -> (n, 29, 28): the 28 label units as an extra bottom row."""
    v = _np(v)
    return np.concatenate([v[:, :784].reshape(-1, 28, 28), v[:, 784:812].reshape(-1, 1, 28)], 1)


def plot_mnist_completions(targets, hidden, completions, dreams, *, fig=None):
    """Fig 4: targets, completions, evidence (hidden in red) and top-down dream state.

    Parameters
    ----------
    targets, completions, dreams : array, shape (n, 812)
        Visible vectors (784 pixels + 28 label units, shown as the bottom row).
    hidden : bool array, shape (n, 812)
        True where a unit was unobserved.

    Returns
    -------
    ndarray of Axes, shape (4, n)
    """
    t, c, d = _mnist_image(targets), _mnist_image(completions), _mnist_image(dreams)
    h = _mnist_image(_np(hidden)) > 0.5
    n = t.shape[0]
    fig, axes = _grid(fig, 4, n, 0.8)
    for i in range(n):
        _grey(axes[0, i], t[i])
        _grey(axes[1, i], c[i])
        axes[2, i].imshow(evidence_rgb(t[i], h[i]), interpolation="nearest")
        axes[2, i].set_xticks([])
        axes[2, i].set_yticks([])
        _grey(axes[3, i], d[i])
    for r, label in enumerate(("target", "completion", "evidence", "dream")):
        axes[r, 0].set_ylabel(label, fontsize=8)
    return axes


def plot_training_curve(epoch, loss, *, iters=None, ax=None, ylabel: str = "training loss"):
    """Loss per epoch (log scale) and, on a twin axis, mean settling iterations."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(_np(epoch), _np(loss), color="C0")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel, color="C0")
    ax.set_yscale("log")
    if iters is not None:
        ax2 = ax.twinx()
        ax2.plot(_np(epoch), _np(iters), color="C1", alpha=0.7)
        ax2.set_ylabel("mean settling iterations", color="C1")
    return ax


#: Paper figure id -> function (CBAN, ICLR 2020 submission); "attractors.convergence" in
#: :data:`attractorlab.analysis.figures.FIGURES` draws the energy descent of Fig. 1.
FIGURES = {
    "fig2": plot_bar_completions,
    "fig2_accuracy": plot_accuracy_per_iteration,
    "fig3": plot_hidden_weights,
    "fig4": plot_mnist_completions,
    "fig8": plot_hidden_weights,
    "fig10": plot_mnist_completions,
    "training_curve": plot_training_curve,
}
