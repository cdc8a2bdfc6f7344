"""Bipartite couplings between adjacent CBAN layers.

A coupling joins a lower layer ``l`` (state ``x``) and the layer above it ``l + 1``
(state ``y``). It offers

* ``up(x)``   -- the input that layer ``l + 1`` receives from layer ``l``, and
* ``down(y)`` -- the input that layer ``l`` receives from layer ``l + 1``.

With symmetric (tied) weights ``down`` is the exact adjoint of ``up``:
``<up(x), y> = <x, down(y)>`` for all ``x, y``, which is what makes the energy
(eq 5 of [CB]) a Lyapunov function of the layerwise dynamics. The coupling energy
is ``-<y, up(x)>`` per sample (no factor 1/2: each pair of units appears once).

Dense coupling (FBAN)
    ``up(x) = x W^T``, ``down(y) = y W`` with ``W`` of shape ``(n_high, n_low)``.
Convolutional coupling (CBAN, eq 4)
    ``up(x) = conv2d(pool(x), K)`` with half padding; ``down(y) = pool*(conv_transpose2d(y, K))``.
    ``conv_transpose2d`` with the same kernel is the convolution with channels
    swapped and the kernel flipped, i.e. eq (4) ``w^l_{q,r,a,b} = w^{l+1}_{r,q,-a,-b}``.
    ``pool`` is 2x2 average pooling; its exact adjoint ``pool*`` is 2x2 nearest
    upsampling divided by 4 (PAPERS II.7(6)); the paper's version (upsampling without
    the 1/4, i.e. 4x the adjoint) is available as ``pool_adjoint="paper"``.

Asymmetric couplings (CBAN-asym) own a second, independent weight for ``down``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "DenseCoupling",
    "ConvCoupling",
    "glorot01_std",
    "avg_pool_adjoint",
]

_POOL_ADJOINTS = ("exact", "paper")


def glorot01_std(n_low: int, n_high: int, scale: float = 0.1) -> float:
    """Initial weight s.d. of App D.1-D.2, PAPERS II.7(5) reading.

    ``scale * (n_low/2 + n_high/2 + 1) ** -0.5`` (a 0.1-scaled Glorot form).

    Parameters
    ----------
    n_low, n_high : int
        Number of units in layers ``l`` and ``l + 1``.
    scale : float
        Prefactor (0.1 in the paper).
    """
    if n_low < 1 or n_high < 1:
        raise ValueError(f"n_low and n_high must be >= 1, got {n_low}, {n_high}")
    return scale * (n_low / 2 + n_high / 2 + 1) ** -0.5


def avg_pool_adjoint(y: Tensor, exact: bool = True) -> Tensor:
    """Adjoint of 2x2 average pooling: nearest 2x upsampling, divided by 4 if ``exact``.

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W)
    exact : bool
        ``True`` gives the exact adjoint; ``False`` the paper's plain upsampling (4x it).

    Returns
    -------
    Tensor, shape (B, C, 2H, 2W)
    """
    # nearest 2x upsampling; keeps the memory format (channels-last stays channels-last)
    z = F.interpolate(y, scale_factor=2, mode="nearest")
    return z * 0.25 if exact else z


class DenseCoupling(nn.Module):
    """Fully connected bipartite coupling (FBAN).

    Parameters
    ----------
    n_low, n_high : int
        Units in the lower and upper layer.
    symmetric : bool
        Tied weights (default). ``False`` adds an independent ``weight_down``
        (CBAN-asym) of the same shape.
    init_std : float or None
        S.d. of the zero-mean Gaussian initial weights; ``None`` uses
        :func:`glorot01_std` (App D.1-D.2).

    Attributes
    ----------
    weight : Parameter, shape (n_high, n_low)
        ``up(x) = x @ weight.T``.
    weight_down : Parameter or None, shape (n_high, n_low)
        Used by ``down`` when not symmetric: ``down(y) = y @ weight_down``.
    """

    def __init__(self, n_low: int, n_high: int, *, symmetric: bool = True, init_std: float | None = None):
        super().__init__()
        for name, v in (("n_low", n_low), ("n_high", n_high)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if init_std is not None and init_std < 0:
            raise ValueError(f"init_std must be >= 0, got {init_std}")
        self.n_low, self.n_high = n_low, n_high
        self.symmetric = bool(symmetric)
        std = glorot01_std(n_low, n_high) if init_std is None else float(init_std)
        self.init_std = std
        self.weight = nn.Parameter(torch.randn(n_high, n_low) * std)
        self.weight_down = None if symmetric else nn.Parameter(torch.randn(n_high, n_low) * std)

    def up(self, x: Tensor) -> Tensor:
        """Input to the upper layer, shape (B, n_high), from ``x`` of shape (B, n_low)."""
        return F.linear(x, self.weight)

    def down(self, y: Tensor) -> Tensor:
        """Input to the lower layer, shape (B, n_low), from ``y`` of shape (B, n_high)."""
        w = self.weight if self.weight_down is None else self.weight_down
        return y @ w

    def high_shape(self, low_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample shape of the upper layer given the lower one."""
        if tuple(low_shape) != (self.n_low,):
            raise ValueError(f"low_shape must be ({self.n_low},) for this coupling, got {tuple(low_shape)}")
        return (self.n_high,)

    def extra_repr(self) -> str:
        return f"n_low={self.n_low}, n_high={self.n_high}, symmetric={self.symmetric}"


class ConvCoupling(nn.Module):
    """Convolutional bipartite coupling with tied kernels (eq 4), optional 2x2 pooling.

    Parameters
    ----------
    c_low, c_high : int
        Channels of the lower and upper layer.
    kernel_size : int
        Odd kernel side; half padding keeps the spatial size (3 in D.3-D.4, 5 in D.5).
    pool : bool
        2x2 average pooling before the upward convolution (and its adjoint after the
        downward one); the upper layer then has half the spatial size.
    symmetric : bool
        Tied weights (default); ``False`` adds an independent ``weight_down`` (CBAN-asym).
    pool_adjoint : {"exact", "paper"}
        ``"exact"``: nearest upsampling / 4 (true adjoint, energy exact).
        ``"paper"``: nearest upsampling (the paper's D.3 wording; 4x the adjoint).
    init_std : float
        S.d. of the zero-mean Gaussian initial kernels (0.01 Omniglot, 1e-4 CIFAR,
        1e-3 SR in App D).

    Attributes
    ----------
    weight : Parameter, shape (c_high, c_low, k, k)
        ``up(x) = conv2d(pool(x), weight, padding=k//2)``.
    weight_down : Parameter or None, shape (c_high, c_low, k, k)
        Kernel used by ``down`` when not symmetric.
    """

    def __init__(
        self,
        c_low: int,
        c_high: int,
        kernel_size: int = 3,
        *,
        pool: bool = False,
        symmetric: bool = True,
        pool_adjoint: str = "exact",
        init_std: float = 0.01,
    ):
        super().__init__()
        for name, v in (("c_low", c_low), ("c_high", c_high)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd int (half padding), got {kernel_size!r}")
        if pool_adjoint not in _POOL_ADJOINTS:
            raise ValueError(f"pool_adjoint must be one of {_POOL_ADJOINTS}, got {pool_adjoint!r}")
        if init_std < 0:
            raise ValueError(f"init_std must be >= 0, got {init_std}")
        self.c_low, self.c_high, self.kernel_size = c_low, c_high, kernel_size
        self.pool = bool(pool)
        self.symmetric = bool(symmetric)
        self.pool_adjoint = pool_adjoint
        self.init_std = float(init_std)
        shape = (c_high, c_low, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.randn(shape) * init_std)
        self.weight_down = None if symmetric else nn.Parameter(torch.randn(shape) * init_std)

    @property
    def padding(self) -> int:
        return self.kernel_size // 2

    def up(self, x: Tensor) -> Tensor:
        """Input to the upper layer from ``x`` (B, c_low, H, W) -> (B, c_high, H', W')."""
        if self.pool:
            x = F.avg_pool2d(x, 2)
        return F.conv2d(x, self.weight, padding=self.padding)

    def down(self, y: Tensor) -> Tensor:
        """Input to the lower layer from ``y`` (B, c_high, H', W') -> (B, c_low, H, W)."""
        w = self.weight if self.weight_down is None else self.weight_down
        z = F.conv_transpose2d(y, w, padding=self.padding)
        if self.pool:
            z = avg_pool_adjoint(z, exact=self.pool_adjoint == "exact")
        return z

    def high_shape(self, low_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample shape ``(c_high, H', W')`` of the upper layer given ``(c_low, H, W)``."""
        if len(low_shape) != 3 or low_shape[0] != self.c_low:
            raise ValueError(f"low_shape must be ({self.c_low}, H, W) for this coupling, got {tuple(low_shape)}")
        _, h, w = low_shape
        if self.pool:
            if h % 2 or w % 2:
                raise ValueError(f"pooling needs an even spatial size, got {h}x{w}")
            h, w = h // 2, w // 2
        return (self.c_high, h, w)

    def extra_repr(self) -> str:
        return (
            f"c_low={self.c_low}, c_high={self.c_high}, kernel_size={self.kernel_size}, pool={self.pool}, "
            f"symmetric={self.symmetric}, pool_adjoint={self.pool_adjoint!r}"
        )

