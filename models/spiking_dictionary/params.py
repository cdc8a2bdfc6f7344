"""Parameters of the Lin & Tang spiking network and of Algorithm 1, validated on construction.

Time is dimensionless (PAPERS.md I.7(11)): one model time unit is one Brian2 second,
tau = 1.  Defaults follow Lin & Tang (2019) section 4: two phases of 20 time units
(gamma = 0, then gamma = kappa = 0.7) with a step of 1/32.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from attractorlab._warnings import AttractorlabWarning

__all__ = [
    "NetworkParams",
    "LearningParams",
    "check_inputs",
    "SpikingInputWarning",
    "warn_if_saturated",
    "SCHEDULES",
    "LAM2_RULES",
    "FLOAT_DTYPES",
    "check_gamma",
]

SCHEDULES = ("constant", "inverse")
#: Allowed values of ``LearningParams.lam2_rule``.
LAM2_RULES = ("constant", "unit_norm", "mean_norm")


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

    def as_namespace(self) -> dict[str, Any]:
        """Brian2 names of the compiled-in constants (``namespace=`` of the groups):
        ``tau`` = 1 second (one model time unit) and ``phase_len`` = T seconds."""
        import brian2 as b2

        return {"tau": 1 * b2.second, "phase_len": self.phase_duration * b2.second}

    def run_values(self, learning: bool = False) -> dict[str, float]:
        """Brian2 names and values of the coding group's shared constants set at run time
        (``run_args`` on the standalone device): ``lam1``; with ``learning`` also ``kap``
        (kappa of eqs 9-12) and ``theta_min``."""
        out = {"lam1": float(self.lam1)}
        if learning:
            out.update(kap=float(self.kappa), theta_min=float(self.theta_min))
        return out

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
        Weight decay lambda_2 >= 0 of eq (6), shared by all atoms.
    schedule : {"constant", "inverse"}
        ``"inverse"``: eta(p) = eta0 / (1 + p / p0) with p the number of samples seen.
    p0 : float
        Time constant of the inverse schedule, in samples (> 0).
    lam2_rule : {"constant", "unit_norm", "mean_norm"}
        ``"constant"``: every atom decays at ``lam2`` (eqs 11-12).  ``"unit_norm"``: atom i
        decays at lambda_2,i = ``lam2`` + lambda_1 a_kappa,i theta_i in each sample's update,
        with a_kappa,i the coding neuron's own rate and theta_i = H_ii its own threshold (the
        network's estimate of ||d_i||^2), so the rule is local.  Why it keeps atoms at unit
        norm: under eq (11) the squared norm of atom i changes by
        -2 eta_D a_i (d_i^T (D a - x) + lambda_2,i ||d_i||^2 / a_i); at the network's fixed
        point d_i^T (x - D a) = lambda_1 s_i = lambda_1 theta_i for every active atom (the
        KKT condition of eq 16 with s = diag(H)), so with ``lam2 = 0`` the change is
        2 eta_D lambda_1 a_i theta_i (1 - ||d_i||^2): unit norm is the stable fixed point of
        every used atom, whatever the data (an Oja-like rule); unused atoms do not decay.
        H decays at eta_D (lambda_2,i + lambda_2,j) to follow F B (eq 12).  The spiking
        learning signals are biased (e.g. the phase-0 transient of the input rates), so the
        rule's term is multiplied by a gain g (``lam2_gain``), one number for the whole
        network, adapted between simulation chunks (``norm_tau``).
        ``"mean_norm"``: the paper's shared weight decay, lambda_2,i = g ``lam2`` for every
        atom, with the same gain controller: the global knob the paper tunes by hand ("so
        that mean atom norms converge to about 1") set by the network itself.  It leaves
        eqs (11)-(12) as the paper wrote them; it holds the mean norm, not each atom's (on
        MNIST, where the per-atom rule slows learning, the atoms still ended at 0.86-1.13).
        Start ``lam2`` near its fixed point (``lin_tang``'s presets start from
        :func:`~.measures.calibrate_lam2`): a start far off makes the integral controller
        overshoot before it settles.
    lam2_gain : float
        Initial gain g > 0 of the adapted rules: lambda_2,i = lam2 + g lambda_1 a_kappa,i theta_i
        (``"unit_norm"``) or g lam2 (``"mean_norm"``).
    norm_tau : float
        Time constant (samples) of the gain's adaptation after each chunk of n samples:
        g <- g * (mean_i ||F_i||^2)^(n / norm_tau), a slow integral controller that holds the
        *mean* atom norm at 1 (the paper sets lambda_2 by hand "so that mean atom norms
        converge to about 1"; this automates that global knob).  0 keeps g fixed (for
        ``"unit_norm"`` the purely local rule).  Ignored by the ``"constant"`` rule.
    """

    eta_D: float
    eta_H: float | None = None
    lam2: float = 0.0
    schedule: str = "constant"
    p0: float = 1e4
    lam2_rule: str = "constant"
    lam2_gain: float = 1.0
    norm_tau: float = 5000.0

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
        if self.lam2_rule not in LAM2_RULES:
            raise ValueError(f"lam2_rule must be one of {LAM2_RULES}, got {self.lam2_rule!r}")
        gain = _finite("lam2_gain", self.lam2_gain)
        if gain <= 0:
            raise ValueError(f"lam2_gain must be > 0, got {self.lam2_gain!r}")
        tau = _finite("norm_tau", self.norm_tau)
        if tau < 0:
            raise ValueError(f"norm_tau must be >= 0 samples (0: fixed gain), got {self.norm_tau!r}")
        if self.lam2_rule == "mean_norm" and lam2 == 0:
            raise ValueError("lam2 must be > 0 with lam2_rule='mean_norm' (its starting weight decay), got 0")

    def rates_at(self, p: float | np.ndarray) -> tuple[Any, Any]:
        """(eta_D, eta_H) after ``p`` samples."""
        f = 1.0 if self.schedule == "constant" else 1.0 / (1.0 + np.asarray(p, dtype=float) / self.p0)
        return self.eta_D * f, self.eta_H * f

    def decay_per_atom(self, lam1: float, a_kappa: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """lambda_2,i of each atom for one sample's update (see ``lam2_rule``)."""
        a_kappa = np.asarray(a_kappa, dtype=np.float64)
        if self.lam2_rule == "unit_norm":
            return self.lam2 + self.lam2_gain * lam1 * a_kappa * np.asarray(theta, dtype=np.float64)
        if self.lam2_rule == "mean_norm":
            return np.full(a_kappa.shape, self.lam2_gain * float(self.lam2))
        return np.full(a_kappa.shape, float(self.lam2))

    def adapted_gain(self, gain: float, F: np.ndarray, n_samples: int) -> float:
        """Gain of an adapted rule after a chunk of ``n_samples`` that ended with ``F``
        (see ``norm_tau``); ``gain`` unchanged for the constant rule or ``norm_tau = 0``."""
        if self.lam2_rule == "constant" or self.norm_tau == 0:
            return float(gain)
        mean_sq = float(np.mean(np.sum(np.asarray(F, dtype=np.float64) ** 2, axis=1)))
        return float(gain * max(mean_sq, 1e-6) ** (n_samples / self.norm_tau))

    def run_values(self, p_offset: float, gain: float | None = None) -> dict[str, float]:
        """Brian2 names and values of Algorithm 1's shared constants for a simulation that
        starts after ``p_offset`` samples, an adapted rule at ``gain`` (default ``lam2_gain``;
        the simulation's ``lam2_gain`` is 0 unless the rule is ``"unit_norm"``, and ``lam2``
        is multiplied by the gain for ``"mean_norm"``): ``etaD0, etaH0, lam2, lam2_gain, p0,
        sched, p_offset``."""
        gain = self.lam2_gain if gain is None else gain
        return {
            "etaD0": float(self.eta_D), "etaH0": float(self.eta_H),
            "lam2": float(self.lam2) * (float(gain) if self.lam2_rule == "mean_norm" else 1.0),
            "lam2_gain": float(gain) if self.lam2_rule == "unit_norm" else 0.0,
            "p0": float(self.p0), "sched": 0.0 if self.schedule == "constant" else 1.0,
            "p_offset": float(p_offset),
        }

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # The default is left out so that provenance and checkpoint keys written before
        # this option existed stay valid (absent means "constant").
        if d["lam2_rule"] == "constant":
            for k in ("lam2_rule", "lam2_gain", "norm_tau"):
                del d[k]
        return d


class SpikingInputWarning(AttractorlabWarning):
    """Input signals too large for the simulation step: an input neuron (threshold 1,
    bias x_i) cannot fire more than once per step ``dt``, so inputs with ``x_i * dt >= 1``
    are clipped to the rate ``1 / dt`` and the network codes a different signal."""


def warn_if_saturated(X: np.ndarray, params: NetworkParams, name: str = "X", stacklevel: int = 2) -> None:
    """:class:`SpikingInputWarning` when the largest input ``max(X)`` reaches ``1 / dt``
    spikes per time unit (``max(X) * dt >= 1``)."""
    top = float(np.max(X)) if np.size(X) else 0.0
    if top * params.dt >= 1.0:
        warnings.warn(
            f"{name} saturates the input neurons: max({name}) = {top:.4g} and dt = {params.dt:g} give "
            f"max({name}) * dt = {top * params.dt:.3g} >= 1, but an input neuron fires at most once per step "
            f"(rate <= 1/dt = {1.0 / params.dt:g}); scale {name} below {1.0 / params.dt:g} or use a smaller "
            "NetworkParams.dt", SpikingInputWarning, stacklevel=stacklevel + 1)


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
