r"""CBAN dynamics as pure functions: activations, energy, layer updates, settling.

Notation ([CB] §3, eqs 1-5). Layers ``l = 0 .. L``; layer 0 is visible. Adjacent
layers are joined by couplings (:mod:`.layers`) with ``up_l`` (layer l -> l+1) and
``down_l`` (layer l+1 -> l). The energy of a state ``x = (x^0, ..., x^L)`` is (eq 5)

.. math::

    E(x) = -\sum_{l<L} x^{l+1} \bullet \mathrm{up}_l(x^l)
           + \sum_l \sum_i [\rho(x^l_i) - b^l_i x^l_i]  \;(- e \bullet x^0 \text{ in bias mode})

and the update of layer ``l`` given its neighbours is the unique minimiser of ``E``
in ``x^l`` (``dE/dx^l = f^{-1}(x^l) - net^l = 0``):

.. math::

    x^l \leftarrow f(net^l), \quad net^l = \mathrm{up}_{l-1}(x^{l-1}) + \mathrm{down}_l(x^{l+1}) + b^l .

Units within a layer do not interact, so a parallel layer update never raises ``E``
(symmetric couplings). One iteration updates layers in the order of ``params.order``:
``"up_down"`` = ``1, 2, ..., L, L-1, ..., 0`` (a sweep up and back down, Fig 1c;
App E.2), ``"odd_even"`` = all odd layers, then all even layers.

Evidence on the visible layer (App A), ``params.evidence_mode``:

``"clamp"``
    observed units are held at the evidence (hard constraint; used everywhere in the
    paper). Replicated visible units (input copy clamped, output copy free; SR in D.5) are
    clamping with a channel mask, see :func:`replicated_evidence`.
``"init"``
    observed units start at the evidence and are then free.
``"mix"``
    observed units take ``alpha * observed + (1 - alpha) * f(net)``.
``"bias"``
    an external bias ``e = gain * observed`` on observed units (eq 6):
    ``x_i <- f(net_i + e_i)``.

Unclamped units start at 0 (PAPERS II.7(8)). The state also carries the visible net
input from the hidden layer, ``v_net = down_0(x^1) + b^0``, and the unclamped visible
value ``v_free = f(v_net)`` ("ṽ", the dream state of Figs 4 and 11) that the losses use.

Convergence ([CB] §3.3): ``t* = min{t : max_i |x_i(t) - x_i(t-1)| < theta}`` over the
whole state, per sample; a batch stops when every sample has converged or at
``max_iter`` iterations.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple, Protocol, Sequence

import torch
from torch import Tensor

from .validation import check_evidence

__all__ = [
    "CBANParams",
    "CBANState",
    "CBANWeights",
    "Evidence",
    "SettleResult",
    "Coupling",
    "activation",
    "inverse_activation",
    "barrier",
    "update_groups",
    "net_input",
    "visible_update",
    "init_state",
    "cban_step",
    "cban_sweep",
    "CouplingCache",
    "energy",
    "state_change",
    "settle",
    "replicated_evidence",
    "find_cycle",
]

ACTIVATIONS = ("tanh", "leaky_sigmoid")
ORDERS = ("up_down", "odd_even")
EVIDENCE_MODES = ("clamp", "init", "mix", "bias")


@dataclasses.dataclass(frozen=True)
class CBANParams:
    """Dynamics settings of a CBAN (no weights).

    Parameters
    ----------
    activation : {"tanh", "leaky_sigmoid"}
        Unit nonlinearity ``f`` (tanh in all paper runs, PAPERS II.7(4)).
    leak : float
        Slope ``alpha`` of the leaky sigmoid outside ``[-1, 1]`` (0.2, §3.3); in (0, 1].
    order : {"up_down", "odd_even"}
        Layer update order within one iteration (App E.2; up-down is the paper's default).
    theta : float
        Convergence threshold on ``max |x(t) - x(t-1)|`` (0.01 in App D); > 0.
    max_iter : int
        Iteration cap (100 in App D.3); >= 1.
    evidence_mode : {"clamp", "init", "mix", "bias"}
        How evidence constrains visible units (App A); "clamp" in all paper runs.
    mix_alpha : float
        Weight of the observation in "mix" mode, in [0, 1] (1 = clamping).
    bias_gain : float
        External bias ``e = bias_gain * observed`` in "bias" mode (eq 6); >= 0.
    """

    activation: str = "tanh"
    leak: float = 0.2
    order: str = "up_down"
    theta: float = 0.01
    max_iter: int = 100
    evidence_mode: str = "clamp"
    mix_alpha: float = 0.5
    bias_gain: float = 1.0

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if not 0.0 < self.leak <= 1.0:
            raise ValueError(f"leak must be in (0, 1], got {self.leak}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        if not self.theta > 0:
            raise ValueError(f"theta must be > 0, got {self.theta}")
        if not isinstance(self.max_iter, int) or self.max_iter < 1:
            raise ValueError(f"max_iter must be an int >= 1, got {self.max_iter!r}")
        if self.evidence_mode not in EVIDENCE_MODES:
            raise ValueError(f"evidence_mode must be one of {EVIDENCE_MODES}, got {self.evidence_mode!r}")
        if not 0.0 <= self.mix_alpha <= 1.0:
            raise ValueError(f"mix_alpha must be in [0, 1], got {self.mix_alpha}")
        if self.bias_gain < 0:
            raise ValueError(f"bias_gain must be >= 0, got {self.bias_gain}")


class Evidence(NamedTuple):
    """Evidence on the visible layer.

    Attributes
    ----------
    value : Tensor, shape ``(B, *visible_shape)``
        Observed values (targets in [-1, 1]); ignored where ``mask`` is False.
    mask : Tensor of bool, broadcastable to ``value``
        True where a unit is observed (clamped in "clamp" mode).
    """

    value: Tensor
    mask: Tensor


class CBANState(NamedTuple):
    """State of a CBAN after an iteration.

    Attributes
    ----------
    x : tuple of Tensor
        Activations per layer; ``x[0]`` visible, shape ``(B, *layer_shape[l])``.
    v_net : Tensor, shape of ``x[0]``
        Net input of the visible layer from above, ``down_0(x^1) + b^0`` (no evidence bias).
    v_free : Tensor, shape of ``x[0]``
        Unclamped visible value ``f(v_net)`` (ṽ; the "dream").
    """

    x: tuple
    v_net: Tensor
    v_free: Tensor


class Coupling(Protocol):
    """What a coupling must offer (see :mod:`.layers`)."""

    def up(self, x: Tensor) -> Tensor: ...

    def down(self, y: Tensor) -> Tensor: ...


class CBANWeights(NamedTuple):
    """Couplings and biases of a CBAN.

    Attributes
    ----------
    couplings : tuple of Coupling, length L
        ``couplings[l]`` joins layers ``l`` and ``l + 1``.
    biases : tuple of Tensor, length L + 1
        ``biases[l]`` broadcastable to one sample of layer ``l``: (n,) dense,
        (C, 1, 1) convolutional (per-channel).
    """

    couplings: tuple
    biases: tuple


class SettleResult(NamedTuple):
    """Outcome of :func:`settle`.

    Attributes
    ----------
    state : CBANState
        Final state.
    trajectory : list of CBANState
        States after iterations 1..n_iter (empty unless ``record=True``).
    n_iter : int
        Iterations run.
    iters_per_sample : Tensor of int64, shape (B,)
        ``t*`` per sample (``n_iter`` where not converged).
    converged : Tensor of bool, shape (B,)
    changes : Tensor, shape (n_iter, B)
        ``max |x(t) - x(t-1)|`` per iteration and sample (the residual).
    energies : Tensor of shape (n_iter, B), or None
        Energy after each iteration (``settle(..., trace_energy=True)``; else None).
    """

    state: CBANState
    trajectory: list
    n_iter: int
    iters_per_sample: Tensor
    converged: Tensor
    changes: Tensor
    energies: Tensor | None = None


# --------------------------------------------------------------------------- activations
def activation(z: Tensor, params: CBANParams) -> Tensor:
    """Unit nonlinearity ``f``.

    tanh, or the leaky sigmoid of §3.3: ``z`` on ``[-1, 1]`` and slope ``alpha``
    (``params.leak``) outside: ``alpha (z - 1) + 1`` for ``z > 1``, ``alpha (z + 1) - 1``
    for ``z < -1``.
    """
    if params.activation == "tanh":
        return torch.tanh(z)
    a = params.leak
    return torch.where(z > 1, a * (z - 1) + 1, torch.where(z < -1, a * (z + 1) - 1, z))


def inverse_activation(x: Tensor, params: CBANParams) -> Tensor:
    """``f^{-1}(x)`` (``atanh`` for tanh; input must be in (-1, 1) then)."""
    if params.activation == "tanh":
        return torch.atanh(x)
    a = params.leak
    return torch.where(x > 1, (x - 1) / a + 1, torch.where(x < -1, (x + 1) / a - 1, x))


def barrier(x: Tensor, params: CBANParams) -> Tensor:
    r"""Barrier ``rho(x) = \int_0^x f^{-1}`` elementwise (eq 3 and §3.3).

    tanh: ``½(1+x)ln(1+x) + ½(1-x)ln(1-x)`` (finite at ±1, infinite outside).
    Leaky sigmoid: ``x²/2`` on ``[-1, 1]``; ``[x² + (1-α)(1-2x)]/(2α)`` for ``x > 1``;
    ``[x² + (1-α)(1+2x)]/(2α)`` for ``x < -1``.
    """
    if params.activation == "tanh":
        return 0.5 * (torch.xlogy(1 + x, 1 + x) + torch.xlogy(1 - x, 1 - x))
    a = params.leak
    q = 0.5 * x * x
    hi = (x * x + (1 - a) * (1 - 2 * x)) / (2 * a)
    lo = (x * x + (1 - a) * (1 + 2 * x)) / (2 * a)
    return torch.where(x > 1, hi, torch.where(x < -1, lo, q))


# --------------------------------------------------------------------------- updates
def update_groups(n_layers: int, order: str) -> list[list[int]]:
    """Layer indices updated in one iteration, as groups updated in sequence.

    ``n_layers = L + 1`` including the visible layer. Up-down: ``[[1], ..., [L], [L-1], ..., [0]]``
    (``2L`` steps; Fig 1c shows 8 for ``L = 4``). Odd-even: ``[[1, 3, ...], [0, 2, ...]]``
    (layers in a group are never adjacent, so updating them one after another equals
    a parallel update).
    """
    if n_layers < 2:
        raise ValueError(f"n_layers must be >= 2 (visible + at least one hidden), got {n_layers}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    top = n_layers - 1
    if order == "up_down":
        return [[l] for l in range(1, top + 1)] + [[l] for l in range(top - 1, -1, -1)]
    return [list(range(1, n_layers, 2)), list(range(0, n_layers, 2))]


def net_input(l: int, x: Sequence[Tensor], weights: CBANWeights) -> Tensor:
    """``net^l = up_{l-1}(x^{l-1}) + down_l(x^{l+1}) + b^l`` (missing neighbours omitted)."""
    cs, bs = weights.couplings, weights.biases
    net = bs[l]
    if l > 0:
        net = net + cs[l - 1].up(x[l - 1])
    if l < len(x) - 1:
        net = net + cs[l].down(x[l + 1])
    return net


def visible_update(v_net: Tensor, evidence: Evidence | None, params: CBANParams) -> tuple[Tensor, Tensor]:
    """New visible state and ṽ from the visible net input ``v_net``.

    Returns
    -------
    x0 : Tensor
        Visible state with evidence applied (``params.evidence_mode``).
    v_free : Tensor
        ``f(v_net)``, the value every visible unit would take unclamped.
    """
    v_free = activation(v_net, params)
    if evidence is None:
        return v_free, v_free
    mode = params.evidence_mode
    m = evidence.mask
    if mode == "clamp":
        return torch.where(m, evidence.value.to(v_free.dtype), v_free), v_free
    if mode == "init":
        return v_free, v_free
    if mode == "mix":
        a = params.mix_alpha
        return torch.where(m, a * evidence.value.to(v_free.dtype) + (1 - a) * v_free, v_free), v_free
    # bias
    e = params.bias_gain * evidence.value.to(v_net.dtype) * m
    return activation(v_net + e, params), v_free


def init_state(
    evidence: Evidence,
    layer_shapes: Sequence[tuple[int, ...]],
    params: CBANParams,
) -> CBANState:
    """Initial state: hidden units 0; observed visible units at the evidence except in
    "bias" mode (0 there), unobserved visible units 0 (PAPERS II.7(8)).

    Parameters
    ----------
    evidence : Evidence
        ``evidence.value`` has shape ``(B, *layer_shapes[0])`` and fixes B, dtype and device.
    layer_shapes : sequence of tuple
        Per-sample shapes of layers 0..L.
    """
    check_evidence(evidence, visible_shape=layer_shapes[0])
    v = evidence.value
    if tuple(v.shape[1:]) != tuple(layer_shapes[0]):
        raise ValueError(
            f"evidence.value must have shape (B, {', '.join(map(str, layer_shapes[0]))}), got {tuple(v.shape)}"
        )
    b = v.shape[0]
    dtype = v.dtype if v.is_floating_point() else torch.get_default_dtype()
    kw = dict(dtype=dtype, device=v.device)
    if params.evidence_mode == "bias":
        x0 = torch.zeros(v.shape, **kw)
    else:
        x0 = torch.where(evidence.mask, v.to(dtype), torch.zeros((), **kw))
    xs = (x0,) + tuple(torch.zeros((b, *s), **kw) for s in layer_shapes[1:])
    zero = torch.zeros_like(x0)
    return CBANState(xs, zero, zero)


class CouplingCache(NamedTuple):
    """Coupling products still valid after an iteration (see :func:`cban_sweep`).

    Attributes
    ----------
    up : tuple of (Tensor or None), length L
        ``up[k] = up_k(x^k)`` (input of layer ``k + 1`` from layer ``k``), or None once
        ``x^k`` has changed since it was computed.
    down : tuple of (Tensor or None), length L
        ``down[k] = down_k(x^{k+1})`` (input of layer ``k`` from layer ``k + 1``), or None
        once ``x^{k+1}`` has changed.
    """

    up: tuple
    down: tuple


def cban_sweep(
    state: CBANState,
    evidence: Evidence | None,
    weights: CBANWeights,
    params: CBANParams,
    cache: CouplingCache | None = None,
) -> tuple[CBANState, CouplingCache]:
    r"""One CBAN iteration that computes each coupling product only when its input changed.

    The same iteration as :func:`cban_step` (every layer updated once, in
    ``params.order``), returning the new state and the products that are still valid,
    to be passed back in as ``cache`` on the next iteration. A product ``up_k(x^k)`` or
    ``down_k(x^{k+1})`` is computed once and reused until the layer it reads is updated.
    In the up-down order this halves the convolutions: the upward update of layer ``l``
    reuses ``down_l(x^{l+1})`` from the previous iteration's downward pass, and the
    downward update reuses ``up_{l-1}(x^{l-1})`` from this iteration's upward pass
    (``2L`` products per iteration instead of ``4L - 2``). The values are those of
    :func:`cban_step` bit for bit (the same operations on the same inputs, summed in the
    same order).

    Parameters
    ----------
    state, evidence, weights, params
        As for :func:`cban_step`.
    cache : CouplingCache, optional
        Products from the previous call on the state it returned (None: compute all).
        It is only valid for that state and those weights; :func:`settle` threads it
        through its loop.

    Returns
    -------
    (CBANState, CouplingCache)
    """
    cs, bs = weights.couplings, weights.biases
    x = list(state.x)
    n_c = len(x) - 1
    ups = [None] * n_c if cache is None else list(cache.up)
    downs = [None] * n_c if cache is None else list(cache.down)
    v_net, v_free = state.v_net, state.v_free
    for group in update_groups(len(x), params.order):
        for l in group:
            net = bs[l]
            if l > 0:
                if ups[l - 1] is None:
                    ups[l - 1] = cs[l - 1].up(x[l - 1])
                net = net + ups[l - 1]
            if l < n_c:
                if downs[l] is None:
                    downs[l] = cs[l].down(x[l + 1])
                net = net + downs[l]
            if l == 0:
                v_net = net
                x[0], v_free = visible_update(net, evidence, params)
            else:
                x[l] = activation(net, params)
            # x^l changed: the products that read it are stale
            if l < n_c:
                ups[l] = None
            if l > 0:
                downs[l - 1] = None
    return CBANState(tuple(x), v_net, v_free), CouplingCache(tuple(ups), tuple(downs))


def cban_step(state: CBANState, evidence: Evidence | None, weights: CBANWeights, params: CBANParams) -> CBANState:
    r"""One CBAN iteration: every layer updated once, in ``params.order``.

    Each layer update is

    .. math:: x^l \leftarrow f\big(\mathrm{up}_{l-1}(x^{l-1}) + \mathrm{down}_l(x^{l+1}) + b^l\big),

    the minimiser of the energy (eq 5) in ``x^l`` given its neighbours; for the visible
    layer the evidence is then applied (clamp / mix / bias, :func:`visible_update`).
    Pure: returns a new state, ``state`` is not modified. (:func:`cban_sweep` without a
    cache from an earlier iteration; :func:`settle` carries that cache and is faster.)
    """
    return cban_sweep(state, evidence, weights, params, None)[0]


def energy(
    x: Sequence[Tensor],
    weights: CBANWeights,
    params: CBANParams,
    evidence: Evidence | None = None,
) -> Tensor:
    """Energy (eq 5) per sample, shape (B,).

    ``E = -sum_l <x^{l+1}, up_l(x^l)> + sum_l sum_i [rho(x^l_i) - b^l_i x^l_i]``,
    minus ``<e, x^0>`` in "bias" evidence mode. Exact Lyapunov function of
    :func:`cban_step` only for symmetric couplings with exact pooling adjoints.
    """
    cs, bs = weights.couplings, weights.biases
    e = 0.0
    for l, xl in enumerate(x):
        e = e + (barrier(xl, params) - bs[l] * xl).flatten(1).sum(1)
    for l, c in enumerate(cs):
        e = e - (x[l + 1] * c.up(x[l])).flatten(1).sum(1)
    if evidence is not None and params.evidence_mode == "bias":
        ev = params.bias_gain * evidence.value.to(x[0].dtype) * evidence.mask
        e = e - (ev * x[0]).flatten(1).sum(1)
    return e


def state_change(new: CBANState, old: CBANState) -> Tensor:
    """``max_i |x_i(t) - x_i(t-1)|`` over all layers, per sample, shape (B,)."""
    ch = [(a - b).abs().flatten(1).amax(1) for a, b in zip(new.x, old.x)]
    return torch.stack(ch, 0).amax(0)


def settle(
    state: CBANState,
    evidence: Evidence | None,
    weights: CBANWeights,
    params: CBANParams,
    *,
    theta: float | None = None,
    max_iter: int | None = None,
    min_iter: int = 1,
    record: bool = False,
    trace_energy: bool = False,
    step_fn: Callable | None = None,
    sweep_fn: Callable | None = None,
    all_done: Callable[[Tensor], bool] | None = None,
) -> SettleResult:
    """Iterate :func:`cban_step` until ``max |x(t) - x(t-1)| < theta`` for every sample.

    The loop calls :func:`cban_sweep` and carries its :class:`CouplingCache`, so each
    coupling product is computed once per change of its input (the same states as
    iterating :func:`cban_step`, bit for bit, with about half the convolutions in the
    up-down order).

    Parameters
    ----------
    state : CBANState
        Start state (see :func:`init_state`).
    evidence : Evidence or None
    theta, max_iter : optional
        Override ``params.theta`` / ``params.max_iter``.
    min_iter : int
        Run at least this many iterations.
    record : bool
        Keep every intermediate state in ``trajectory`` (for TD losses; gradients flow
        through them when autograd is on).
    trace_energy : bool
        Also return the energy (eq 5) of the state after every iteration in
        ``SettleResult.energies`` (computed without gradient; an exact Lyapunov
        function only for symmetric couplings).
    step_fn : callable, optional
        Replacement for ``cban_step`` with its signature (no cache is carried then).
    sweep_fn : callable, optional
        Replacement for ``cban_sweep`` with its signature (e.g. a compiled one).
    all_done : callable, optional
        ``all_done(done) -> bool`` decides, from the (B,) mask of converged samples, whether
        to stop (default: every sample has converged). Data-parallel training passes one that
        asks every process, so that all of them run as many iterations as the whole batch
        needs (:class:`~attractorlab.models.cban.distributed.DataParallel`).

    Returns
    -------
    SettleResult
        ``changes`` holds the residual ``max |x(t) - x(t-1)|`` per iteration and sample.
    """
    check_evidence(evidence, weights=weights, state=state, optional=True)
    theta = params.theta if theta is None else float(theta)
    max_iter = params.max_iter if max_iter is None else int(max_iter)
    if not theta > 0:
        raise ValueError(f"theta must be > 0, got {theta}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    if step_fn is not None and sweep_fn is not None:
        raise ValueError("give step_fn or sweep_fn, not both")
    if step_fn is not None:
        def sweep(s, ev, w, p, cache):
            return step_fn(s, ev, w, p), None
    else:
        sweep = cban_sweep if sweep_fn is None else sweep_fn
    b = state.x[0].shape[0]
    dev = state.x[0].device
    t_star = torch.full((b,), max_iter, dtype=torch.long, device=dev)
    done = torch.zeros(b, dtype=torch.bool, device=dev)
    traj: list = []
    changes = []
    energies = []
    cache = None
    n = 0
    for t in range(1, max_iter + 1):
        new, cache = sweep(state, evidence, weights, params, cache)
        with torch.no_grad():
            ch = state_change(new, state).float()
            newly = (ch < theta) & ~done
            t_star = torch.where(newly, torch.full_like(t_star, t), t_star)
            done = done | newly
            if trace_energy:
                energies.append(energy(new.x, weights, params, evidence).detach())
        changes.append(ch)
        state = new
        n = t
        if record:
            traj.append(new)
        if t >= min_iter and (bool(done.all()) if all_done is None else all_done(done)):
            break
    en = torch.stack(energies, 0) if trace_energy else None
    return SettleResult(state, traj, n, t_star, done, torch.stack(changes, 0), en)


def replicated_evidence(inputs: Tensor, n_output_channels: int | None = None) -> tuple[Evidence, slice]:
    """Evidence for a replicated visible layer (App A; SR in D.5).

    The visible layer holds ``C_in`` input channels, clamped to ``inputs``, followed by
    ``n_output_channels`` free output channels (start 0) that serve as read-out.

    Parameters
    ----------
    inputs : Tensor, shape (B, C_in, H, W) or (B, n)
        Observation (zeros where nothing is observed, as in App A).
    n_output_channels : int, optional
        Output channels (default ``C_in``).

    Returns
    -------
    evidence : Evidence
        value shape (B, C_in + C_out, ...), channel mask True on the input channels.
    output : slice
        Channel slice of the outputs, e.g. ``state.x[0][:, output]``; also use it to
        build a loss weight that counts only output channels.
    """
    c_in = inputs.shape[1]
    c_out = c_in if n_output_channels is None else int(n_output_channels)
    if c_out < 1:
        raise ValueError(f"n_output_channels must be >= 1, got {n_output_channels}")
    zeros = torch.zeros((inputs.shape[0], c_out, *inputs.shape[2:]), dtype=inputs.dtype, device=inputs.device)
    value = torch.cat([inputs, zeros], 1)
    mshape = [1, c_in + c_out] + [1] * (inputs.dim() - 2)
    mask = torch.zeros(mshape, dtype=torch.bool, device=inputs.device)
    mask[:, :c_in] = True
    return Evidence(value, mask), slice(c_in, c_in + c_out)


def find_cycle(
    trajectory: Sequence[CBANState], max_period: int = 10, atol: float = 1e-6
) -> Tensor:
    """Smallest period ``p <= max_period`` with ``x(T) == x(T - p)`` per sample (0 if none).

    Uses the last ``max_period + 1`` states of a recorded trajectory; period 1 is a fixed
    point, period 2 the 2-cycle of Koiran (1994).

    Returns
    -------
    Tensor of int64, shape (B,)
    """
    if len(trajectory) < 2:
        raise ValueError(f"trajectory must hold >= 2 states, got {len(trajectory)}")
    last = trajectory[-1]
    b = last.x[0].shape[0]
    period = torch.zeros(b, dtype=torch.long, device=last.x[0].device)
    for p in range(1, min(max_period, len(trajectory) - 1) + 1):
        d = state_change(last, trajectory[-1 - p])
        hit = (d <= atol) & (period == 0)
        period = torch.where(hit, torch.full_like(period, p), period)
    return period
