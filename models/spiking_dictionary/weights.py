"""The learned weights of the Lin & Tang network as one typed, validated object.

:class:`SpikingWeights` holds F (N, M), B (M, N), H (N, N) and s (N,) of Fig. 1b / App. A:
coding neuron i stores row i of F (feed-forward), input neuron k row k of B (feedback),
H = W + diag(theta) holds the lateral inhibition W (off-diagonal) and the thresholds
theta = diag(H), and s are the l1 weights of the coding biases (Algorithm 1 keeps s =
diag(H)).  Construction copies the arrays to float64 and checks shapes, finiteness,
non-negativity and theta > 0; the object is frozen and its arrays are read-only, so a
``SpikingWeights`` is valid for as long as it exists.

Builders: :func:`consistent_weights` (F = D^T, B = D, H = D^T D, s = diag H; the LCA network
of Fig. 1a and Algorithm 1, step 0) and :func:`init_weights` ("consistent" or "random", §4).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Mapping

import numpy as np

__all__ = ["SpikingWeights", "as_weights", "consistent_weights", "init_weights", "INIT_KINDS", "WEIGHT_NAMES"]

#: Field names, in the order they are stored and hashed.
WEIGHT_NAMES = ("F", "B", "H", "s")
INIT_KINDS = ("consistent", "random")


def _array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64, order="C")
    except (TypeError, ValueError):
        raise ValueError(f"SpikingWeights.{name} must be a numeric array, got {type(value).__name__}") from None
    return arr


@dataclasses.dataclass(frozen=True, eq=False)
class SpikingWeights:
    """Weights F, B, H, s of the two-layer network (all >= 0, float64, read-only copies).

    Parameters
    ----------
    F : (N, M) array
        Feed-forward weights, input k -> coding i (row i = atom i as the coding neuron sees it).
    B : (M, N) array
        Feedback weights, coding j -> input k (column j = atom j as the input layer sees it).
    H : (N, N) array
        Lateral inhibition W off the diagonal, thresholds theta = diag(H) > 0 on it.
    s : (N,) array, optional
        l1 weights of the coding biases -(1 - gamma) lambda_1 s; default diag(H).

    Raises
    ------
    ValueError
        Naming the field, its value and what is allowed, when a shape does not match the
        others, an entry is not finite or negative, or a threshold is not > 0.
    """

    F: np.ndarray
    B: np.ndarray
    H: np.ndarray
    s: np.ndarray | None = None

    def __post_init__(self) -> None:
        arrs = {name: _array(name, getattr(self, name)) for name in ("F", "B", "H")}
        F = arrs["F"]
        if F.ndim != 2 or min(F.shape) < 1:
            raise ValueError(f"SpikingWeights.F must be a non-empty 2-D (N, M) array, got shape {F.shape}")
        N, M = F.shape
        arrs["s"] = np.diag(arrs["H"]).copy() if self.s is None and arrs["H"].shape == (N, N) else _array("s", self.s)
        shapes = {"F": (N, M), "B": (M, N), "H": (N, N), "s": (N,)}
        for name in WEIGHT_NAMES:
            arr = arrs[name]
            if arr.shape != shapes[name]:
                raise ValueError(f"SpikingWeights.{name} must have shape {shapes[name]} (N = {N} atoms, M = {M} "
                                 f"inputs, from F), got {arr.shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"SpikingWeights.{name} must be finite (no NaN or inf)")
            if (arr < 0).any():
                raise ValueError(f"SpikingWeights.{name} must be >= 0 (non-negative weights), got min {arr.min()}")
        theta = np.diag(arrs["H"])
        if (theta <= 0).any():
            raise ValueError(f"SpikingWeights.H: thresholds theta = diag(H) must be > 0, got min {theta.min()}")
        for name, arr in arrs.items():
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    # --- shape and derived quantities ------------------------------------------------------
    @property
    def n_coding(self) -> int:
        """N, the number of coding neurons (atoms)."""
        return int(self.F.shape[0])

    @property
    def n_input(self) -> int:
        """M, the number of input neurons (pixels)."""
        return int(self.F.shape[1])

    @property
    def theta(self) -> np.ndarray:
        """Thresholds theta = diag(H) (a fresh copy)."""
        return np.diag(self.H).copy()

    def check_shape(self, n_input: int, n_coding: int) -> "SpikingWeights":
        """Return ``self`` if it fits a network of ``n_input`` inputs and ``n_coding`` atoms."""
        if (self.n_input, self.n_coding) != (n_input, n_coding):
            raise ValueError(f"weights have M = {self.n_input} inputs and N = {self.n_coding} atoms; the network "
                             f"has M = {n_input}, N = {n_coding}")
        return self

    # --- conversions ---------------------------------------------------------------------------
    def as_dict(self) -> dict[str, np.ndarray]:
        """``{"F", "B", "H", "s"}`` -> writable float64 copies."""
        return {name: np.array(getattr(self, name)) for name in WEIGHT_NAMES}

    def replace(self, **changes: Any) -> "SpikingWeights":
        """A new, validated object with some fields replaced (s is kept unless given)."""
        return SpikingWeights(**{**{name: getattr(self, name) for name in WEIGHT_NAMES}, **changes})

    def digest(self) -> str:
        """SHA-1 of the four arrays (identifies a given initial state in checkpoints)."""
        return hashlib.sha1(b"".join(getattr(self, name).tobytes() for name in WEIGHT_NAMES)).hexdigest()

    def equals(self, other: "SpikingWeights") -> bool:
        """Bit-for-bit equality of all four arrays."""
        return all(np.array_equal(getattr(self, n), getattr(other, n)) for n in WEIGHT_NAMES)

    @classmethod
    def from_mapping(cls, w: Mapping[str, Any]) -> "SpikingWeights":
        """From a mapping with keys F, B, H (and optionally s), e.g. a Dataset or an npz file."""
        missing = [k for k in ("F", "B", "H") if k not in w]
        if missing:
            raise ValueError(f"weights are missing {missing}; required F, B, H (s optional)")
        get = (lambda k: np.asarray(getattr(w[k], "values", w[k])))
        return cls(get("F"), get("B"), get("H"), get("s") if "s" in w else None)


def as_weights(weights: SpikingWeights | Mapping[str, Any], n_input: int | None = None,
               n_coding: int | None = None) -> SpikingWeights:
    """``weights`` as a :class:`SpikingWeights` (a mapping F, B, H[, s] is converted and
    validated), checked against the network size when ``n_input``, ``n_coding`` are given."""
    if not isinstance(weights, SpikingWeights):
        if not isinstance(weights, Mapping):
            raise ValueError(f"weights must be a SpikingWeights (or a mapping with keys F, B, H and s), "
                             f"got {type(weights).__name__}")
        if n_input is not None and n_coding is not None and "F" in weights:
            shape = np.shape(weights["F"])
            if shape != (n_coding, n_input):
                raise ValueError(f"SpikingWeights.F must have shape (N, M) = ({n_coding}, {n_input}) for this "
                                 f"network, got {shape}")
        weights = SpikingWeights.from_mapping(weights)
    if n_input is not None and n_coding is not None:
        weights.check_shape(n_input, n_coding)
    return weights


def consistent_weights(D: np.ndarray) -> SpikingWeights:
    """Weights consistent with the dictionary ``D`` (M, N): F = D^T, B = D, H = D^T D,
    s = diag(H) (Algorithm 1, step 0; the LCA network of Fig. 1a)."""
    D = np.array(D, dtype=np.float64)
    if D.ndim != 2:
        raise ValueError(f"D must be a 2-D (n_input, n_coding) array, got shape {D.shape}")
    H = D.T @ D
    return SpikingWeights(D.T.copy(), D, H, np.diag(H).copy())


def init_weights(n_input: int, n_coding: int, kind: str = "consistent", seed: int = 0) -> SpikingWeights:
    """Initial weights for Algorithm 1.

    Parameters
    ----------
    n_input, n_coding : int
        M and N.
    kind : {"consistent", "random"}
        ``"consistent"`` (Algorithm 1, step 0): D ~ U[0, 1] with unit-norm columns
        (PAPERS.md I.7(7)), F = D^T, B = D, H = F B, s = 1.  ``"random"`` (section 4):
        F^T and B independent column-normalised U[0, 1] matrices, H ~ U[0, 1.5] with
        diagonal 1.5, s = diag(H).
    seed : int
        numpy seed.
    """
    for name, v in (("n_input", n_input), ("n_coding", n_coding)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if kind not in INIT_KINDS:
        raise ValueError(f"kind must be one of {INIT_KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)

    def unit_columns(m: int, n: int) -> np.ndarray:
        D = rng.uniform(0.0, 1.0, size=(m, n))
        return D / np.linalg.norm(D, axis=0, keepdims=True)

    if kind == "consistent":
        # s = diag(H) of unit-norm atoms, without rounding
        return consistent_weights(unit_columns(n_input, n_coding)).replace(s=np.ones(n_coding))
    F = unit_columns(n_input, n_coding).T.copy()
    B = unit_columns(n_input, n_coding)
    H = rng.uniform(0.0, 1.5, size=(n_coding, n_coding))
    H[np.diag_indices(n_coding)] = 1.5
    return SpikingWeights(F, B, H, np.diag(H).copy())
