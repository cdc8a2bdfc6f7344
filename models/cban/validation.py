"""Argument checks at the public entry points of the CBAN API.

:func:`check_evidence` is called by :meth:`.module.CBAN.settle` / ``init_state`` /
``energy`` and by :func:`.functional.settle` / :func:`.functional.init_state`;
:func:`check_init` by :func:`.module.build_fban` and :func:`.module.build_cban`. Each
bad argument raises one clear error naming it, instead of NaN spreading through the
state or a raw torch error deep inside a convolution:

* ``TypeError`` for the wrong kind of object or dtype: evidence that is not an
  :class:`.functional.Evidence` of torch tensors (a numpy array), a value that is not
  floating point or whose dtype differs from the network's weights (float16/float64
  evidence for float32 weights), a mask that is not bool (a float mask);
* ``ValueError`` for wrong values: NaN or inf in the evidence, a value or mask of the
  wrong shape, tensors on another device than the network, a NaN/inf/negative
  ``init_std``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import torch
from torch import Tensor

__all__ = ["check_evidence", "check_init", "check_int", "check_number", "check_lr_steps"]


def _kind(x: Any) -> str:
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__.split('.')[0]}.{t.__name__}"


def _net_dtype_device(net: Any) -> tuple[torch.dtype | None, torch.device | None]:
    for p in net.parameters():
        return p.dtype, p.device
    return None, None


def check_evidence(
    evidence: Any,
    net: Any = None,
    *,
    visible_shape: Sequence[int] | None = None,
    weights: Any = None,
    state: Any = None,
    name: str = "evidence",
    optional: bool = False,
) -> None:
    """Check ``evidence`` before it enters the dynamics; raise TypeError/ValueError naming it.

    Parameters
    ----------
    evidence : Evidence
        ``value``: floating-point tensor ``(B, *visible_shape)``, finite everywhere (put 0
        where a unit is unobserved); ``mask``: bool tensor broadcastable to ``value``
        (True = observed), on the same device.
    net : CBAN, optional
        Supplies the visible shape, the weights' dtype and device.
    visible_shape : sequence of int, optional
        Per-sample visible shape (when no ``net`` is given).
    weights : CBANWeights, optional
        Supplies the dtype and device of the couplings (functional API).
    state : CBANState, optional
        Start state: the evidence must have its visible layer's shape.
    name : str
        How the argument is called in messages.
    optional : bool
        Accept ``evidence=None`` (no evidence).
    """
    if evidence is None and optional:
        return
    if not (hasattr(evidence, "value") and hasattr(evidence, "mask")):
        raise TypeError(f"{name} must be an Evidence(value, mask) of torch tensors, got {_kind(evidence)}")
    value, mask = evidence.value, evidence.mask
    for part, t in (("value", value), ("mask", mask)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}.{part} must be a torch.Tensor, got {_kind(t)}; convert it with "
                            f"torch.as_tensor(...)" + (" and make it bool" if part == "mask" else ""))
    if not value.is_floating_point():
        raise TypeError(f"{name}.value must be a floating-point tensor, got dtype {value.dtype}")
    if mask.dtype != torch.bool:
        raise TypeError(f"{name}.mask must be a bool tensor (True = observed), got dtype {mask.dtype}; "
                        "use mask.bool() or mask > 0.5")
    dtype = device = None
    if net is not None:
        dtype, device = _net_dtype_device(net)
        visible_shape = net.layer_shapes[0] if visible_shape is None else visible_shape
    elif weights is not None:
        ref = next((b for b in getattr(weights, "biases", ()) if isinstance(b, Tensor)), None)
        if ref is not None:
            dtype, device = ref.dtype, ref.device
    if state is not None and visible_shape is None:
        visible_shape = tuple(state.x[0].shape[1:])
    if dtype is not None and value.dtype != dtype:
        raise TypeError(f"{name}.value has dtype {value.dtype} but the network's weights are {dtype}; convert the "
                        f"evidence with .to({dtype}) (or build the network with dtype={value.dtype})")
    if visible_shape is not None:
        vs = tuple(int(s) for s in visible_shape)
        if value.dim() != 1 + len(vs) or tuple(value.shape[1:]) != vs:
            raise ValueError(f"{name}.value must have shape (B, {', '.join(map(str, vs))}), got {tuple(value.shape)}")
    if state is not None and tuple(state.x[0].shape) != tuple(value.shape):
        raise ValueError(f"{name}.value has shape {tuple(value.shape)} but the state's visible layer has shape "
                         f"{tuple(state.x[0].shape)}")
    try:
        ok = mask.dim() <= value.dim() and tuple(torch.broadcast_shapes(mask.shape, value.shape)) == tuple(value.shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"{name}.mask has shape {tuple(mask.shape)}, which does not broadcast to {name}.value's "
                         f"shape {tuple(value.shape)}")
    if device is not None and value.device != device:
        raise ValueError(f"{name}.value is on {value.device} but the network is on {device}; move it with "
                         f".to({str(device)!r})")
    if mask.device != value.device:
        raise ValueError(f"{name}.mask is on {mask.device} but {name}.value is on {value.device}")
    with torch.no_grad():
        bad = ~torch.isfinite(value)
        if bool(bad.any()):
            raise ValueError(f"{name}.value holds {int(bad.sum())} NaN or infinite entries; evidence must be "
                             "finite everywhere (put 0 where a unit is unobserved)")


def _finite_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def check_init(*, init_std: Any = None, init_scale: Any = None) -> None:
    """Check weight-initialisation arguments of the builders; ValueError naming the bad one.

    ``init_std``: None, or a finite number >= 0, or a sequence of them; ``init_scale``:
    None or a finite number > 0.
    """
    if init_std is not None:
        values = list(init_std) if isinstance(init_std, (list, tuple)) else [init_std]
        if not values or not all(_finite_number(v) and v >= 0 for v in values):
            raise ValueError(f"init_std must be a finite number >= 0 (or one per coupling), got {init_std!r}")
    if init_scale is not None and not (_finite_number(init_scale) and init_scale > 0):
        raise ValueError(f"init_scale must be a finite number > 0, got {init_scale!r}")


def check_int(name: str, value: Any, *, lo: int = 1, none_ok: bool = False) -> None:
    """ValueError naming ``name`` unless ``value`` is an int >= ``lo`` (or None with ``none_ok``)."""
    if none_ok and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an int >= {lo}{' or None' if none_ok else ''}, got {value!r}")


def check_number(name: str, value: Any, *, zero_ok: bool = False) -> None:
    """ValueError naming ``name`` unless ``value`` is a finite number > 0 (>= 0 with ``zero_ok``)."""
    if not _finite_number(value) or value < 0 or (value == 0 and not zero_ok):
        raise ValueError(f"{name} must be a finite number {'>= 0' if zero_ok else '> 0'}, got {value!r}")


def check_lr_steps(value: Sequence) -> None:
    """ValueError unless ``value`` is ``(start >= 0, every >= 1, count >= 0)`` ints (a step schedule)."""
    ok = len(value) == 3 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if not ok or value[0] < 0 or value[1] < 1 or value[2] < 0:
        raise ValueError(f"lr_steps must be (start >= 0, every >= 1, count >= 0) ints, got {list(value)!r}")
