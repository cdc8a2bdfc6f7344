"""Parameters of the Lin & Tang spiking network and of Algorithm 1, validated on construction.

Time is dimensionless (PAPERS.md I.7(11)): one model time unit is one Brian2 second,
tau = 1.  Defaults follow Lin & Tang (2019) section 4: two phases of 20 time units
(gamma = 0, then gamma = kappa = 0.7) with a step of 1/32.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

__all__ = [
    "NetworkParams",
    "LearningParams",
    "check_inputs",
    "check_weights",
    "SCHEDULES",
    "FLOAT_DTYPES",
    "check_gamma",
]

SCHEDULES = ("constant", "inverse")


def _finite(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


#: Allowed values of ``NetworkParams.float_dtype``.
FLOAT_DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class NetworkParams:
    """Shape and constants of the two-layer spiking network (Lin & Tang 2019, Fig. 1b, App. A).

    Parameters
    ----------
    n_input : int
        M, number of input neurons (pixels), >= 1.
    n_coding : int
        N, number of coding neurons (atoms), >= 1.
    lam1 : float
        Sparsity weight lambda_1 >= 0 of eq (6); coding bias is -(1 - gamma) lam1 s.
    kappa : float
        Feedback gate of the second phase, in [0, 1) (paper: 0.7).
    phase_duration : float
        Length of each phase in model time units (paper: 20), > 0.
    dt : float
        Integration step in model time units (paper: 1/32); must divide phase_duration.
    theta_min : float
        Positive floor of the thresholds theta = diag(H) after learning updates
        (PAPERS.md I.7(8)).
    float_dtype : {"float64", "float32"}
        Floating-point type of the simulation's state and weights (Brian2
        ``prefs.core.default_float_dtype``; part of the standalone build key).  "float32"
        halves the memory traffic of synaptic events (about 10-15 % faster at
        (N, M) = (1024, 512), see ``benchmarks/spiking_engine.py``) at the cost of rounding
        that can shift a spike by one step; results are returned as float64 either way.
    """

    n_input: int
    n_coding: int
    lam1: float = 0.3
    kappa: float = 0.7
    phase_duration: float = 20.0
    dt: float = 1.0 / 32
    theta_min: float = 1e-3
    float_dtype: str = "float64"

    def __post_init__(self) -> None:
        for name in ("n_input", "n_coding"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        lam1 = _finite("lam1", self.lam1)
        if lam1 < 0:
            raise ValueError(f"lam1 must be >= 0, got {self.lam1!r}")
        kappa = _finite("kappa", self.kappa)
        if not 0.0 <= kappa < 1.0:
            raise ValueError(f"kappa must be in [0, 1), got {self.kappa!r}")
        T = _finite("phase_duration", self.phase_duration)
        if T <= 0:
            raise ValueError(f"phase_duration must be > 0 time units, got {self.phase_duration!r}")
        dt = _finite("dt", self.dt)
        if dt <= 0 or dt > T:
            raise ValueError(f"dt must be in (0, phase_duration={T}] time units, got {self.dt!r}")
        steps = T / dt
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise ValueError(
                f"dt must divide phase_duration: phase_duration/dt = {T}/{dt} = {steps} is not an integer"
            )
        tm = _finite("theta_min", self.theta_min)
        if tm <= 0:
            raise ValueError(f"theta_min must be > 0, got {self.theta_min!r}")
        if self.float_dtype not in FLOAT_DTYPES:
            raise ValueError(f"float_dtype must be one of {FLOAT_DTYPES}, got {self.float_dtype!r}")

    @property
    def steps_per_phase(self) -> int:
        """Integration steps per phase."""
        return int(round(self.phase_duration / self.dt))

    @property
    def sample_duration(self) -> float:
        """Two phases, in model time units."""
        return 2.0 * self.phase_duration

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # The default is left out so that provenance and checkpoint keys written before
        # this option existed stay valid (absent means "float64").
        if d["float_dtype"] == "float64":
            del d["float_dtype"]
        return d


@dataclass(frozen=True)
class LearningParams:
    """Learning rates of Algorithm 1 (Lin & Tang 2019, eqs 11-12).

    Parameters
    ----------
    eta_D : float
        Rate eta_D > 0 for F and B (eq 11).
    eta_H : float, optional
        Rate eta_H > 0 for H (eq 12); default 15 eta_D (section 3.3).
    lam2 : float
        Weight decay lambda_2 >= 0 of eq (6).
    schedule : {"constant", "inverse"}
        ``"inverse"``: eta(p) = eta0 / (1 + p / p0) with p the number of samples seen.
    p0 : float
        Time constant of the inverse schedule, in samples (> 0).
    """

    eta_D: float
    eta_H: float | None = None
    lam2: float = 0.0
    schedule: str = "constant"
    p0: float = 1e4

    def __post_init__(self) -> None:
        eta_D = _finite("eta_D", self.eta_D)
        if eta_D <= 0:
            raise ValueError(f"eta_D must be > 0, got {self.eta_D!r}")
        if self.eta_H is None:
            object.__setattr__(self, "eta_H", 15.0 * eta_D)
        eta_H = _finite("eta_H", self.eta_H)
        if eta_H <= 0:
            raise ValueError(f"eta_H must be > 0, got {self.eta_H!r}")
        lam2 = _finite("lam2", self.lam2)
        if lam2 < 0:
            raise ValueError(f"lam2 must be >= 0, got {self.lam2!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        p0 = _finite("p0", self.p0)
        if p0 <= 0:
            raise ValueError(f"p0 must be > 0 samples, got {self.p0!r}")

    def rates_at(self, p: float | np.ndarray) -> tuple[Any, Any]:
        """(eta_D, eta_H) after ``p`` samples."""
        f = 1.0 if self.schedule == "constant" else 1.0 / (1.0 + np.asarray(p, dtype=float) / self.p0)
        return self.eta_D * f, self.eta_H * f

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_inputs(X: Any, params: NetworkParams) -> np.ndarray:
    """Validate input signals: a finite, non-negative (P, M) array; returns float64 copy."""
    try:
        X = np.array(X, dtype=np.float64, order="C")
    except (TypeError, ValueError):
        raise ValueError(f"X must be a numeric array of shape (P, {params.n_input})") from None
    if X.ndim == 1 and X.shape[0] == params.n_input:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != params.n_input or X.shape[0] < 1:
        raise ValueError(f"X must have shape (P, {params.n_input}) with P >= 1, got {X.shape}")
    if not np.isfinite(X).all():
        bad = X[~np.isfinite(X)].ravel()[0]
        raise ValueError(f"X must be finite (no NaN or inf), got a value {bad}")
    if (X < 0).any():
        raise ValueError(f"X must be >= 0 (non-negative inputs, split sign channels), got min {X.min()}")
    return X


def check_weights(weights: Mapping[str, Any], params: NetworkParams) -> dict[str, np.ndarray]:
    """Validate a weight dict ``{F (N,M), B (M,N), H (N,N), s (N,)}``; returns float64 copies.

    All entries must be finite and >= 0, and diag(H) (the thresholds) > 0.  ``s`` defaults
    to diag(H) when missing.
    """
    if not isinstance(weights, Mapping):
        raise ValueError(f"weights must be a dict with keys F, B, H (and s), got {type(weights).__name__}")
    N, M = params.n_coding, params.n_input
    shapes = {"F": (N, M), "B": (M, N), "H": (N, N), "s": (N,)}
    out = {}
    for key in ("F", "B", "H", "s"):
        if key not in weights:
            if key == "s" and "H" in out:
                out["s"] = np.diag(out["H"]).copy()
                continue
            raise ValueError(f"weights is missing {key!r}; required keys are F, B, H (s optional)")
        arr = np.array(weights[key], dtype=np.float64)
        if arr.shape != shapes[key]:
            raise ValueError(f"weights[{key!r}] must have shape {shapes[key]}, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"weights[{key!r}] must be finite (no NaN or inf)")
        if (arr < 0).any():
            raise ValueError(f"weights[{key!r}] must be >= 0 (non-negative weights), got min {arr.min()}")
        out[key] = arr
    th = np.diag(out["H"])
    if (th <= 0).any():
        raise ValueError(f"diag(weights['H']) (thresholds theta) must be > 0, got min {th.min()}")
    return out


def check_gamma(gamma: Any, params: NetworkParams) -> tuple[float, float]:
    """Validate a (gamma_phase0, gamma_phase1) pair, each in [0, 1)."""
    if gamma is None:
        return 0.0, float(params.kappa)
    g = np.asarray(gamma, dtype=np.float64).ravel()
    if g.shape != (2,):
        raise ValueError(f"gamma must be a pair (gamma of phase 0, gamma of phase 1), got {gamma!r}")
    for k, v in enumerate(g):
        if not (np.isfinite(v) and 0.0 <= v < 1.0):
            raise ValueError(f"gamma[{k}] must be in [0, 1), got {v}")
    return float(g[0]), float(g[1])
