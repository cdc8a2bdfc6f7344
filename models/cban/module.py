"""``nn.Module`` owning the weights of a (convolutional) bipartite attractor net.

The dynamics live in :mod:`.functional`; :class:`CBAN` holds the couplings and biases,
knows the layer shapes and calls the pure functions. Builders:

* :func:`build_fban` -- fully connected (FBAN; bar task, MNIST; App D.1-D.2),
* :func:`build_cban` -- convolutional (Omniglot, CIFAR-10, SR; App D.3-D.5).

Examples
--------
>>> import torch
>>> from attractorlab.models.cban import build_fban, Evidence
>>> net = build_fban(sizes=(25, 48, 24), seed=0)
>>> ev = Evidence(torch.zeros(4, 25), torch.zeros(4, 25, dtype=torch.bool))
>>> res = net.settle(ev)
>>> res.state.x[0].shape
torch.Size([4, 25])
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from .functional import (
    CBANParams,
    CBANState,
    CBANWeights,
    Evidence,
    SettleResult,
    cban_sweep,
    energy,
    init_state,
    settle,
)
from .layers import ConvCoupling, DenseCoupling, glorot01_std
from .validation import check_evidence, check_init

__all__ = ["CBAN", "build_fban", "build_cban"]


class CBAN(nn.Module):
    """Bipartite attractor net: layers ``0..L`` (0 visible) joined by couplings.

    Parameters
    ----------
    visible_shape : tuple of int
        Per-sample visible shape: ``(n,)`` dense or ``(C, H, W)`` convolutional.
    couplings : sequence of nn.Module
        ``couplings[l]`` joins layers ``l`` and ``l + 1`` (:class:`DenseCoupling` or
        :class:`ConvCoupling`); at least one.
    params : CBANParams
        Dynamics settings (activation, order, theta, max_iter, evidence mode).
    bias_std : sequence of float, optional
        S.d. of the Gaussian initial bias of each layer (length L + 1); default zeros.

    Attributes
    ----------
    layer_shapes : tuple of tuple of int
        Per-sample shape of every layer.
    biases : nn.ParameterList
        ``biases[l]`` of shape ``(n,)`` (dense) or ``(C, 1, 1)`` (per-channel, conv).
    """

    def __init__(
        self,
        visible_shape: Sequence[int],
        couplings: Sequence[nn.Module],
        params: CBANParams = CBANParams(),
        *,
        bias_std: Sequence[float] | None = None,
    ):
        super().__init__()
        if not isinstance(params, CBANParams):
            raise ValueError(f"params must be a CBANParams, got {type(params).__name__}")
        if len(couplings) < 1:
            raise ValueError("couplings must hold at least one coupling (visible + one hidden layer)")
        shapes = [tuple(int(s) for s in visible_shape)]
        for c in couplings:
            shapes.append(tuple(c.high_shape(shapes[-1])))
        self.layer_shapes = tuple(shapes)
        self.couplings = nn.ModuleList(couplings)
        self.params = params
        if bias_std is None:
            bias_std = [0.0] * len(shapes)
        if len(bias_std) != len(shapes):
            raise ValueError(f"bias_std must have {len(shapes)} entries (one per layer), got {len(bias_std)}")
        biases = []
        for s, std in zip(shapes, bias_std):
            bshape = (s[0], 1, 1) if len(s) == 3 else s
            biases.append(nn.Parameter(torch.randn(bshape) * float(std)))
        self.biases = nn.ParameterList(biases)
        self._sweep_fn: Callable = cban_sweep

    # ------------------------------------------------------------------ basics
    @property
    def n_layers(self) -> int:
        """Number of layers including the visible one (L + 1)."""
        return len(self.layer_shapes)

    @property
    def symmetric(self) -> bool:
        """True when every coupling has tied weights."""
        return all(c.symmetric for c in self.couplings)

    def weights(self) -> CBANWeights:
        """Couplings and biases as the :class:`CBANWeights` the pure functions take."""
        return CBANWeights(tuple(self.couplings), tuple(self.biases))

    def with_params(self, **changes) -> "CBAN":
        """The same net (shared couplings and biases) with other dynamics settings.

        Returns a new module whose :class:`CBANParams` are ``self.params`` with ``changes``
        (e.g. ``theta=1.0``); ``self`` is not modified. Training either one trains both.
        """
        import copy
        import dataclasses

        params = dataclasses.replace(self.params, **changes)
        net = copy.copy(self)  # shares parameters and submodules
        net.params = params
        return net

    # ------------------------------------------------------------------ dynamics
    def init_state(self, evidence: Evidence) -> CBANState:
        """Start state for ``evidence`` (hidden 0, observed visible units at the evidence)."""
        check_evidence(evidence, self)
        return init_state(evidence, self.layer_shapes, self.params)

    def step(self, state: CBANState, evidence: Evidence | None) -> CBANState:
        """One iteration (:func:`.functional.cban_step`)."""
        return self._sweep_fn(state, evidence, self.weights(), self.params, None)[0]

    def settle(
        self,
        evidence: Evidence,
        state: CBANState | None = None,
        *,
        theta: float | None = None,
        max_iter: int | None = None,
        min_iter: int = 1,
        record: bool = False,
        trace_energy: bool = False,
        all_done: Callable | None = None,
    ) -> SettleResult:
        """Run to convergence (or ``max_iter``) from ``state`` (default: :meth:`init_state`).

        See :func:`.functional.settle`; ``theta``/``max_iter`` default to ``self.params``.
        ``trace_energy=True`` adds the energy after every iteration (``energies``);
        ``all_done(done) -> bool`` replaces the stopping test (data-parallel training).
        """
        if state is None:
            state = self.init_state(evidence)
        return settle(
            state, evidence, self.weights(), self.params,
            theta=theta, max_iter=max_iter, min_iter=min_iter, record=record, trace_energy=trace_energy,
            sweep_fn=self._sweep_fn, all_done=all_done,
        )

    def forward(self, evidence: Evidence, **kw) -> SettleResult:
        """Same as :meth:`settle`."""
        return self.settle(evidence, **kw)

    @torch.no_grad()
    def complete(self, evidence: Evidence, **kw) -> Tensor:
        """Visible completion after settling (no gradient), shape of ``evidence.value``."""
        return self.settle(evidence, **kw).state.x[0]

    def energy(self, state: CBANState | Sequence[Tensor], evidence: Evidence | None = None) -> Tensor:
        """Energy (eq 5) per sample, shape (B,); ``state`` a CBANState or a list of layer tensors."""
        x = state.x if isinstance(state, CBANState) else tuple(state)
        check_evidence(evidence, self, optional=True)
        return energy(x, self.weights(), self.params, evidence)

    def compile_step(self, **compile_kwargs) -> "CBAN":
        """Use ``torch.compile`` on the iteration (:func:`.functional.cban_sweep`); returns self.

        Inductor fuses the elementwise work around the convolutions, on the CPU (C++,
        needs a compiler) and on CUDA. ``compile_kwargs`` go to ``torch.compile``
        (e.g. ``mode="max-autotune"``).
        """
        self._sweep_fn = torch.compile(cban_sweep, **compile_kwargs)
        return self

    def eager_step(self) -> "CBAN":
        """Undo :meth:`compile_step`."""
        self._sweep_fn = cban_sweep
        return self

    def extra_repr(self) -> str:
        return f"layer_shapes={self.layer_shapes}, params={self.params}"


def _check_seed(seed):
    if seed is not None:
        torch.manual_seed(int(seed))


def build_fban(
    *,
    sizes: Sequence[int],
    params: CBANParams = CBANParams(),
    symmetric: bool = True,
    init_std: float | Sequence[float] | None = None,
    init_scale: float = 0.1,
    gaussian_biases: bool = True,
    seed: int | None = None,
    dtype: torch.dtype | None = None,
) -> CBAN:
    """Fully connected bipartite attractor net (FBAN).

    Parameters
    ----------
    sizes : sequence of int
        Units per layer, visible first: ``(25, 48, 24)`` bar task (D.1; ``(25, 50)`` in
        §4.1), ``(812, 200, 50)`` MNIST (D.2).
    params : CBANParams
    symmetric : bool
        Tied weights; ``False`` gives FBAN-asym.
    init_std : float, sequence of float or None
        Weight s.d. per coupling; ``None`` uses ``init_scale * (n_l/2 + n_{l+1}/2 + 1)^-1/2``
        (App D.1-D.2, PAPERS II.7(5)).
    init_scale : float
        Prefactor of that formula (0.1).
    gaussian_biases : bool
        Draw biases of layer ``l`` from the same Gaussian as coupling ``l`` (the top layer
        uses the coupling below), as App D.1-D.2 say; else biases start at 0.
    seed : int, optional
        ``torch.manual_seed`` before drawing weights.
    dtype : torch.dtype, optional
        Parameter dtype (e.g. ``torch.float64`` for tests).
    """
    check_init(init_std=init_std, init_scale=init_scale)
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list >= 2 positive layer sizes, got {sizes}")
    _check_seed(seed)
    n_c = len(sizes) - 1
    if init_std is None:
        stds = [glorot01_std(sizes[i], sizes[i + 1], init_scale) for i in range(n_c)]
    elif isinstance(init_std, (int, float)):
        stds = [float(init_std)] * n_c
    else:
        stds = [float(s) for s in init_std]
        if len(stds) != n_c:
            raise ValueError(f"init_std must have {n_c} entries (one per coupling), got {len(stds)}")
    couplings = [DenseCoupling(sizes[i], sizes[i + 1], symmetric=symmetric, init_std=stds[i]) for i in range(n_c)]
    bias_std = (stds + [stds[-1]]) if gaussian_biases else None
    net = CBAN((sizes[0],), couplings, params, bias_std=bias_std)
    return net.to(dtype) if dtype is not None else net


def build_cban(
    *,
    visible_shape: Sequence[int],
    channels: Sequence[int],
    kernel_size: int = 3,
    pool: bool | Sequence[bool] | None = None,
    params: CBANParams = CBANParams(),
    symmetric: bool = True,
    pool_adjoint: str = "exact",
    init_std: float = 0.01,
    seed: int | None = None,
    dtype: torch.dtype | None = None,
) -> CBAN:
    """Convolutional bipartite attractor net (CBAN), biases 0 (App D.3-D.5).

    Parameters
    ----------
    visible_shape : (C, H, W)
        ``(1, 28, 28)`` Omniglot, ``(3, 32, 32)`` CIFAR-10, ``(6, 40, 40)`` SR.
    channels : sequence of int
        Hidden channels: ``(128, 256, 512)`` Omniglot (D.3), ``(40, 120, 440)`` CIFAR,
        ``(300, 300, 300)`` SR.
    kernel_size : int
        Odd; 3 (D.3-D.4) or 5 (SR).
    pool : bool or sequence of bool, optional
        2x2 average pooling on each coupling. Default: pooling on every coupling above
        the first hidden layer (D.3-D.4: 28 -> 28 -> 14 -> 7). ``False``: none (SR).
    params : CBANParams
    symmetric : bool
        Tied kernels (eq 4); ``False`` gives CBAN-asym.
    pool_adjoint : {"exact", "paper"}
        See :class:`ConvCoupling`.
    init_std : float
        Kernel s.d. (0.01 Omniglot, 1e-4 CIFAR, 1e-3 SR).
    seed : int, optional
    dtype : torch.dtype, optional
    """
    check_init(init_std=init_std)
    vs = tuple(int(s) for s in visible_shape)
    if len(vs) != 3 or min(vs) < 1:
        raise ValueError(f"visible_shape must be (C, H, W) with positive entries, got {visible_shape}")
    chans = [int(c) for c in channels]
    if len(chans) < 1 or min(chans) < 1:
        raise ValueError(f"channels must list >= 1 positive channel counts, got {channels}")
    if pool is None:
        pools = [i > 0 for i in range(len(chans))]
    elif isinstance(pool, bool):
        pools = [pool] * len(chans)
    else:
        pools = [bool(p) for p in pool]
        if len(pools) != len(chans):
            raise ValueError(f"pool must have {len(chans)} entries (one per coupling), got {len(pools)}")
    _check_seed(seed)
    c_all = [vs[0]] + chans
    couplings = [
        ConvCoupling(
            c_all[i], c_all[i + 1], kernel_size, pool=pools[i], symmetric=symmetric,
            pool_adjoint=pool_adjoint, init_std=init_std,
        )
        for i in range(len(chans))
    ]
    net = CBAN(vs, couplings, params)
    return net.to(dtype) if dtype is not None else net
