"""Paired tests for the claims a paper makes about its models.

A claim such as "CBAN completes Omniglot better than CBAN-asym" is tested on per-item
scores of both models on the same items (the same test images under the same masks, the
same seeds): the Wilcoxon signed-rank test of the paired differences (two-sided), or, for
a yes/no outcome per item (e.g. "reached a fixed point"), the exact McNemar test on the
discordant pairs. A claim *holds at our scale* when the mean difference points the way the
paper says and the test rejects "no difference" at ``alpha``; otherwise it does not hold
(a miss is a result, reported with its p-value).

:func:`claims_dataset` collects the lines into an ``xarray.Dataset`` (dim ``claim``) and
:func:`format_claims` prints them.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import xarray as xr

__all__ = ["paired_comparison", "paired_binary", "claims_dataset", "format_claims"]

_DIRECTIONS = ("higher", "lower")


def _paired(a, b, name_a: str, name_b: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must hold one score per item each, got {a.size} and {b.size}")
    if a.size < 1:
        raise ValueError(f"{name_a} and {name_b} must not be empty")
    return a, b


def paired_comparison(a, b, *, better: str = "higher", alpha: float = 0.05, claim: str = "",
                      metric: str = "") -> dict:
    """Wilcoxon signed-rank test of paired per-item scores: is ``a`` better than ``b``?

    Parameters
    ----------
    a, b : array-like, same length
        Scores of the two models on the same items (non-finite pairs are dropped).
    better : {"higher", "lower"}
        Which way is better for this metric (PSNR, SSIM: higher; L1: lower).
    alpha : float
        Level of the two-sided test.
    claim, metric : str
        Labels carried into the result.

    Returns
    -------
    dict with ``claim``, ``metric``, ``n`` (pairs used), ``mean_a``, ``mean_b``,
    ``mean_diff`` (a - b), ``median_diff``, ``p_value`` (two-sided; 1.0 when every
    difference is 0), ``holds`` (the mean difference favours ``a`` and ``p_value < alpha``).
    """
    from scipy.stats import wilcoxon

    if better not in _DIRECTIONS:
        raise ValueError(f"better must be one of {_DIRECTIONS}, got {better!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    a, b = _paired(a, b, "a", "b")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 1:
        raise ValueError("no pair of finite scores to compare")
    d = a - b
    if np.all(d == 0):
        p = 1.0
    else:
        p = float(wilcoxon(a, b, zero_method="wilcox", alternative="two-sided").pvalue)
    sign = 1.0 if better == "higher" else -1.0
    mean_diff = float(d.mean())
    return {
        "claim": claim, "metric": metric, "n": int(a.size), "mean_a": float(a.mean()), "mean_b": float(b.mean()),
        "mean_diff": mean_diff, "median_diff": float(np.median(d)), "p_value": p, "test": "Wilcoxon signed-rank",
        "holds": bool(sign * mean_diff > 0 and p < alpha),
    }


def paired_binary(a, b, *, alpha: float = 0.05, claim: str = "", metric: str = "") -> dict:
    """Exact McNemar test of paired yes/no outcomes: is "yes" more frequent under ``a``?

    Returns the same keys as :func:`paired_comparison`, with ``mean_a``/``mean_b`` the
    fractions of "yes" and ``p_value`` the two-sided binomial test on the discordant pairs.
    """
    from scipy.stats import binomtest

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    a, b = _paired(a, b, "a", "b")
    a, b = a.astype(bool), b.astype(bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    p = 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    diff = float(a.mean() - b.mean())
    return {
        "claim": claim, "metric": metric, "n": int(a.size), "mean_a": float(a.mean()), "mean_b": float(b.mean()),
        "mean_diff": diff, "median_diff": math.nan, "p_value": p, "test": "exact McNemar",
        "holds": bool(diff > 0 and p < alpha),
    }


def claims_dataset(rows: Sequence[dict], *, alpha: float = 0.05) -> xr.Dataset:
    """The results of :func:`paired_comparison` / :func:`paired_binary` as a Dataset (dim ``claim``)."""
    if not rows:
        raise ValueError("rows must hold at least one claim")
    n = len(rows)
    ds = xr.Dataset(
        {
            "metric": ("claim", [r["metric"] for r in rows], {"long_name": "score compared"}),
            "test": ("claim", [r["test"] for r in rows], {"long_name": "paired test"}),
            "n": ("claim", np.array([r["n"] for r in rows], dtype=np.int64), {"units": "1", "long_name": "pairs"}),
            "mean_a": ("claim", [r["mean_a"] for r in rows], {"long_name": "mean score of the model claimed better"}),
            "mean_b": ("claim", [r["mean_b"] for r in rows], {"long_name": "mean score of the other model"}),
            "mean_diff": ("claim", [r["mean_diff"] for r in rows], {"long_name": "mean paired difference a - b"}),
            "median_diff": ("claim", [r["median_diff"] for r in rows], {"long_name": "median paired difference a - b"}),
            "p_value": ("claim", [r["p_value"] for r in rows], {"units": "1", "long_name": "two-sided p-value"}),
            "holds": ("claim", np.array([r["holds"] for r in rows], dtype=np.int8),
                      {"units": "1", "long_name": f"1: difference in the claimed direction with p < {alpha}"}),
        },
        coords={"claim": np.arange(n), "claim_text": ("claim", [r["claim"] for r in rows])},
    )
    ds.attrs["alpha"] = alpha
    return ds


def format_claims(ds: xr.Dataset) -> str:
    """One line per claim: holds / does not hold, the means, the test and its p-value."""
    lines = []
    for i in range(ds.sizes["claim"]):
        r = ds.isel(claim=i)
        verdict = "holds" if int(r.holds) else "does not hold"
        lines.append(
            f"{str(r.claim_text.values)} [{str(r.metric.values)}]: {verdict} "
            f"({float(r.mean_a):.4f} vs {float(r.mean_b):.4f}, mean difference {float(r.mean_diff):+.4f}, "
            f"{str(r.test.values)} p = {float(r.p_value):.2g}, n = {int(r.n)})"
        )
    return "\n".join(lines)
