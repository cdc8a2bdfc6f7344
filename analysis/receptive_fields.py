"""Receptive-field analysis: 2-D Gabor fits, (nx, ny) and comparison with macaque V1.

The analysis works on plain arrays (or ``xarray`` objects, or tensors converted by the
caller) and never imports a simulator.

Gabor model
-----------
For a patch with pixel coordinates ``x`` (column index) and ``y`` (row index), both in
pixels with the top-left pixel centre at (0, 0)::

    x' =  (x - x0) cos(theta) + (y - y0) sin(theta)      # across the carrier
    y' = -(x - x0) sin(theta) + (y - y0) cos(theta)      # along the carrier (stripes)
    G(x, y) = A exp(-x'^2 / (2 sigma_x^2) - y'^2 / (2 sigma_y^2)) cos(2 pi f x' + phase) + c

* ``theta`` is the direction of the carrier's wave vector (rad, in [0, pi)), measured from
  the +x (column) axis towards +y (row, i.e. downwards on an image plotted with
  ``origin="upper"``). The stripes (the preferred bar orientation) run at ``theta + pi/2``;
  that angle is reported in degrees as ``orientation``.
* ``f`` is the spatial frequency in cycles/pixel, ``sigma_x`` (across the carrier) and
  ``sigma_y`` (along it) are envelope standard deviations in pixels, so that
  ``nx = sigma_x f`` and ``ny = sigma_y f`` are dimensionless (envelope widths in carrier
  periods), as in Ringach (2002).
* ``phase`` is in (-pi, pi]: 0 is an even (ON-centre) field, +-pi/2 odd fields.
  (theta, phase) and (theta + pi, -phase) describe the same Gabor; results are reported
  with ``theta`` in [0, pi) and ``A > 0``.

Fit quality is the explained variance ``R^2 = 1 - SS_res / SS_tot`` (SS_tot around the
patch mean). A fit is **rejected** (``good = False``) when, in this order,

1. ``R^2 < min_r2`` (default 0.5): ``reason = "low_r2"``;
2. the centre lies outside the patch (more than half a pixel beyond the border pixels):
   ``"centre_outside"``;
3. ``sigma_x`` or ``sigma_y`` exceeds the patch size ``max(H, W)``: ``"sigma_too_large"``;
4. ``sigma_x`` or ``sigma_y`` is below ``min_sigma`` (default 1 pixel): ``"sigma_too_small"``.
   A field of one or two pixels fits a Gabor perfectly (R^2 = 1, sigma at the 0.3-pixel
   bound), yet its envelope and carrier are not resolved, so its (nx, ny) says nothing: a
   one-pixel atom is not a receptive field;
5. ``f`` is above 0.5 cycles/pixel (Nyquist along an axis): ``"above_nyquist"``.

An accepted fit whose longer envelope s.d. is at least ``long_sigma`` (default 2 pixels) is
flagged ``long_envelope``: an elongated field, the kind Olshausen & Field's sparse coding
(and the paper's Fig. 6) shows. :func:`fit_gabors` reports the fractions of all atoms that
are accepted (``frac_accepted``) and accepted with a long envelope (``frac_accepted_long``),
which belong beside every V1 statistic computed from the accepted atoms.

Fits are also flagged ``low_pass`` when the carrier is not resolved within the envelope:
``nx < 0.1`` (less than a tenth of a period per envelope s.d., the lower edge of the V1
bins), or a fitted amplitude above 3 times the largest ``|value|`` of the field (a blob or a
Gaussian derivative built from a large amplitude times a nearly flat cosine). Such fields
are real (V1 has low-pass cells too) and are kept, but their f, nx and ny are poorly
determined (they come out very small).

Comparison with V1
------------------
The macaque data are a 5x5 binned (nx, ny) histogram of 79 cells (Ringach 2002, binned by
a third party; see ``attractorlab.data.load_v1_nxny``), with log-spaced edges
0.1, 0.1738, 0.3020, 0.5248, 0.9120, 1.5849 on both axes. Model (nx, ny) are binned on the
same edges; values beyond the outer edges are clipped into the outer bins (counted
separately in ``frac_outside``), so a population with much larger nx than V1 piles up in
the last column instead of disappearing. The distance between the two binned
distributions is the **Jensen-Shannon divergence in bits** (0 = identical, 1 = disjoint
support) by default; total variation (``"tv"``, in [0, 1]) and the 2-D earth mover's
distance on the log grid (``"emd"``, in decades of log10 nx/ny, ground distance Euclidean
between bin centres) are options. :func:`compare_with_v1` gives a percentile bootstrap
interval (model atoms resampled with replacement, V1 cells resampled from the histogram)
and a null distribution (both samples drawn from the V1 histogram at the two sample
sizes) that says how large the distance would be by chance if the model were V1.

Beside it, :func:`v1_similarity` gives the **Brain-Score distribution similarity** of
Marques, Schrimpf & DiCarlo (2021) on the nx and ny marginals: per property,
``1 - KS / KS_max`` between binned distributions (KS the largest difference of the
cumulative histograms, KS_max the largest KS any distribution could have against the V1
one: all mass in its first or last bin), averaged over bootstrap samples of the model
population the size of the V1 data set (79 cells, values clipped into the outer bins); the
ceiling is the same score of bootstrap samples of V1 itself, and the reported score is
score / ceiling (1 = as similar to V1 as V1 is to itself, 0 = as far as possible).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import xarray as xr
from scipy import optimize

__all__ = [
    "V1_EDGES",
    "gabor",
    "fit_gabor",
    "fit_gabors",
    "signed_atoms",
    "kernel_atoms",
    "effective_receptive_fields",
    "bin_nxny",
    "nxny_distance",
    "compare_with_v1",
    "ks_similarity",
    "v1_similarity",
    "v1_nxny",
    "v1_samples_from_histogram",
]

#: Bin edges of the V1 (nx, ny) histogram on both axes: ``10**linspace(-1, 0.2, 6)``.
V1_EDGES = np.array([0.1, 0.1738, 0.3020, 0.5248, 0.9120, 1.5849])

_PARAM_NAMES = ("x0", "y0", "theta", "frequency", "phase", "sigma_x", "sigma_y", "amplitude", "offset")


# --------------------------------------------------------------------------------------
# Gabor model and single fit
# --------------------------------------------------------------------------------------
def gabor(shape: tuple[int, int], *, x0: float, y0: float, theta: float, frequency: float,
          phase: float, sigma_x: float, sigma_y: float, amplitude: float = 1.0,
          offset: float = 0.0) -> np.ndarray:
    """Evaluate the 2-D Gabor of the module docstring on a ``shape = (H, W)`` pixel grid.

    Parameters
    ----------
    shape : (int, int)
        Patch height and width in pixels.
    x0, y0 : float
        Centre (column, row) in pixels.
    theta : float
        Direction of the carrier wave vector in radians.
    frequency : float
        Carrier spatial frequency in cycles/pixel.
    phase : float
        Carrier phase in radians.
    sigma_x, sigma_y : float
        Envelope s.d. across / along the carrier, in pixels (> 0).
    amplitude, offset : float
        Peak amplitude and constant offset (image units).

    Returns
    -------
    (H, W) float64 array
    """
    if sigma_x <= 0 or sigma_y <= 0:
        raise ValueError(f"sigma_x and sigma_y must be > 0 pixels, got {sigma_x}, {sigma_y}")
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    p = np.array([x0, y0, theta, frequency, phase, sigma_x, sigma_y, amplitude, offset], float)
    return _gabor_eval(p, xx, yy)


def _gabor_eval(p: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    x0, y0, th, f, ph, sx, sy, a, c = p
    dx, dy = xx - x0, yy - y0
    ct, st = math.cos(th), math.sin(th)
    xr_ = dx * ct + dy * st
    yr_ = -dx * st + dy * ct
    env = np.exp(-0.5 * (xr_ * xr_) / (sx * sx) - 0.5 * (yr_ * yr_) / (sy * sy))
    return a * env * np.cos(2.0 * math.pi * f * xr_ + ph) + c


def _gabor_jac(p: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Analytic Jacobian of the flattened Gabor w.r.t. the 9 parameters, shape (H*W, 9)."""
    x0, y0, th, f, ph, sx, sy, a, c = p
    dx, dy = xx - x0, yy - y0
    ct, st = math.cos(th), math.sin(th)
    u = dx * ct + dy * st
    v = -dx * st + dy * ct
    env = np.exp(-0.5 * u * u / (sx * sx) - 0.5 * v * v / (sy * sy))
    arg = 2.0 * math.pi * f * u + ph
    cs, sn = np.cos(arg), np.sin(arg)
    g = env * cs  # d/dA
    # dG/du and dG/dv (holding the rest fixed)
    dG_du = a * env * (-(u / (sx * sx)) * cs - 2.0 * math.pi * f * sn)
    dG_dv = a * env * (-(v / (sy * sy)) * cs)
    # u, v derivatives w.r.t. x0, y0, theta
    du_dx0, dv_dx0 = -ct, st
    du_dy0, dv_dy0 = -st, -ct
    du_dth, dv_dth = v, -u
    J = np.empty(u.shape + (9,))
    J[..., 0] = dG_du * du_dx0 + dG_dv * dv_dx0
    J[..., 1] = dG_du * du_dy0 + dG_dv * dv_dy0
    J[..., 2] = dG_du * du_dth + dG_dv * dv_dth
    J[..., 3] = -a * env * sn * 2.0 * math.pi * u
    J[..., 4] = -a * env * sn
    J[..., 5] = a * env * cs * (u * u) / (sx ** 3)
    J[..., 6] = a * env * cs * (v * v) / (sy ** 3)
    J[..., 7] = g
    J[..., 8] = 1.0
    return J.reshape(-1, 9)


def _canonical(p: np.ndarray) -> np.ndarray:
    """Map to A > 0, theta in [0, pi), phase in (-pi, pi] (same Gabor)."""
    p = np.array(p, dtype=float)
    if p[7] < 0:
        p[7] = -p[7]
        p[4] += math.pi
    th = p[2] % (2 * math.pi)
    if th >= math.pi:
        th -= math.pi
        p[4] = -p[4]
    p[2] = th
    ph = (p[4] + math.pi) % (2 * math.pi) - math.pi
    if ph <= -math.pi:
        ph += 2 * math.pi
    p[4] = ph
    p[5], p[6] = abs(p[5]), abs(p[6])
    return p


def _initial_guesses(img: np.ndarray, n_starts: int) -> list[np.ndarray]:
    """Initial parameter vectors: frequency/orientation from the FFT peak, centre from the
    energy centroid, envelope from the energy's second moments, then amplitude and phase by
    linear least squares given the rest."""
    H, W = img.shape
    a = img - img.mean()
    P = 4 * int(2 ** math.ceil(math.log2(max(H, W))))
    spec = np.abs(np.fft.fft2(a, s=(P, P)))
    spec[0, 0] = 0.0
    fy_axis, fx_axis = np.fft.fftfreq(P), np.fft.fftfreq(P)
    i, j = np.unravel_index(int(np.argmax(spec)), spec.shape)
    fy, fx = fy_axis[i], fx_axis[j]
    f0 = float(math.hypot(fx, fy))
    th0 = float(math.atan2(fy, fx))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    e = a * a
    tot = e.sum()
    if tot <= 0:
        x0, y0 = (W - 1) / 2, (H - 1) / 2
        sxx = syy = max(H, W) / 4
    else:
        x0 = float((e * xx).sum() / tot)
        y0 = float((e * yy).sum() / tot)
        ct, st = math.cos(th0), math.sin(th0)
        u = (xx - x0) * ct + (yy - y0) * st
        v = -(xx - x0) * st + (yy - y0) * ct
        # a^2 ~ exp(-u^2/sigma^2): variance sigma^2 / 2
        sxx = math.sqrt(2.0 * float((e * u * u).sum() / tot))
        syy = math.sqrt(2.0 * float((e * v * v).sum() / tot))
    smax = float(max(H, W))
    sxx = float(np.clip(sxx, 0.8, smax))
    syy = float(np.clip(syy, 0.8, smax))
    variants = [(1.0, 1.0), (0.6, 1.0), (1.6, 1.0), (1.0, 0.5), (0.4, 1.0), (1.0, 1.5)]
    out = []
    for s_scale, f_scale in variants[:max(1, n_starts)]:
        p = np.array([x0, y0, th0, f0 * f_scale, 0.0, sxx * s_scale, syy * s_scale, 1.0, 0.0])
        # amplitude and phase (and offset) by linear least squares given the rest
        p_cos = p.copy()
        p_cos[4], p_cos[7], p_cos[8] = 0.0, 1.0, 0.0
        p_sin = p_cos.copy()
        p_sin[4] = math.pi / 2  # cos(arg + pi/2) = -sin(arg)
        X = np.stack([_gabor_eval(p_cos, xx, yy).ravel(), _gabor_eval(p_sin, xx, yy).ravel(),
                      np.ones(H * W)], axis=1)
        coef, *_ = np.linalg.lstsq(X, img.ravel(), rcond=None)
        # coef0 cos(arg) + coef1 cos(arg + pi/2) = A cos(arg + phi)
        p[7] = math.hypot(coef[0], coef[1])
        p[4] = math.atan2(coef[1], coef[0])
        p[8] = coef[2]
        out.append(p)
    return out


def fit_gabor(image: np.ndarray, *, n_starts: int = 4, min_r2: float = 0.5, min_sigma: float = 1.0,
              max_nfev: int = 400) -> dict[str, Any]:
    """Least-squares fit of a 2-D Gabor (module docstring) to one patch.

    Parameters
    ----------
    image : (H, W) array
        Receptive field / atom (any units; signed).
    n_starts : int
        Number of starting points (1-6): the FFT/centroid initial guess, then variants with
        narrower/wider envelope and lower/higher frequency. The lowest-cost fit is kept.
    min_r2 : float
        Rejection threshold on the explained variance (see module docstring).
    min_sigma : float
        Smallest accepted envelope s.d. in pixels (0 disables the rule).
    max_nfev : int
        Function-evaluation cap of each ``scipy.optimize.least_squares`` run.

    Returns
    -------
    dict
        ``x0, y0, theta, frequency, phase, sigma_x, sigma_y, amplitude, offset`` (units in
        :func:`gabor`), ``orientation`` (deg, stripes' orientation), ``nx``, ``ny``, ``r2``,
        ``good`` (bool), ``reason`` ("" when good), ``low_pass`` (bool, see the module
        docstring), ``fit`` ((H, W) fitted image).
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) < 3:
        raise ValueError(f"image must be a 2-D array of at least 3x3 pixels, got shape {img.shape}")
    if not 1 <= n_starts <= 6:
        raise ValueError(f"n_starts must be in 1..6, got {n_starts}")
    if not min_sigma >= 0:
        raise ValueError(f"min_sigma must be >= 0 pixels, got {min_sigma}")
    if not np.all(np.isfinite(img)):
        raise ValueError("image contains NaN or inf values")
    H, W = img.shape
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    target = img.ravel()
    ss_tot = float(((target - target.mean()) ** 2).sum())
    smax = float(max(H, W))
    lb = np.array([-W, -H, -4 * math.pi, 0.0, -8 * math.pi, 0.3, 0.3, -np.inf, -np.inf])
    ub = np.array([2 * W, 2 * H, 4 * math.pi, 0.75, 8 * math.pi, 4 * smax, 4 * smax, np.inf, np.inf])

    def resid(p):
        return _gabor_eval(p, xx, yy).ravel() - target

    def jac(p):
        return _gabor_jac(p, xx, yy)

    best = None
    if ss_tot > 0:
        for p0 in _initial_guesses(img, n_starts):
            p0 = np.clip(p0, lb + 1e-9, ub - 1e-9)
            try:
                res = optimize.least_squares(resid, p0, jac=jac, bounds=(lb, ub), method="trf",
                                             x_scale="jac", max_nfev=max_nfev)
            except (ValueError, np.linalg.LinAlgError):  # pragma: no cover - degenerate start
                continue
            if best is None or res.cost < best.cost:
                best = res
    if best is None:
        p = np.array([(W - 1) / 2, (H - 1) / 2, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, float(target.mean())])
        r2 = 0.0
    else:
        p = _canonical(best.x)
        r2 = 1.0 - 2.0 * float(best.cost) / ss_tot
    out = dict(zip(_PARAM_NAMES, (float(v) for v in p)))
    out["orientation"] = float((math.degrees(p[2]) + 90.0) % 180.0)
    out["nx"] = out["sigma_x"] * out["frequency"]
    out["ny"] = out["sigma_y"] * out["frequency"]
    out["r2"] = float(r2)
    reason = ""
    if not r2 >= min_r2:
        reason = "low_r2"
    elif not (-0.5 <= p[0] <= W - 0.5 and -0.5 <= p[1] <= H - 0.5):
        reason = "centre_outside"
    elif max(p[5], p[6]) > smax:
        reason = "sigma_too_large"
    elif min(p[5], p[6]) < min_sigma:
        reason = "sigma_too_small"
    elif p[3] > 0.5:
        reason = "above_nyquist"
    out["good"] = reason == ""
    out["reason"] = reason
    peak = float(np.abs(img - p[8]).max())
    out["low_pass"] = bool(out["nx"] < 0.1 or (peak > 0 and abs(p[7]) > 3.0 * peak))
    out["fit"] = _gabor_eval(p, xx, yy)
    return out


# --------------------------------------------------------------------------------------
# Many atoms
# --------------------------------------------------------------------------------------
_VAR_ATTRS = {
    "x0": ("centre column", "pixel"),
    "y0": ("centre row", "pixel"),
    "theta": ("carrier wave-vector direction", "rad"),
    "orientation": ("preferred (stripe) orientation", "deg"),
    "frequency": ("spatial frequency", "cycles/pixel"),
    "phase": ("carrier phase", "rad"),
    "sigma_x": ("envelope s.d. across carrier", "pixel"),
    "sigma_y": ("envelope s.d. along carrier", "pixel"),
    "amplitude": ("Gabor amplitude", "a.u."),
    "offset": ("constant offset", "a.u."),
    "nx": ("nx = sigma_x * f", "1"),
    "ny": ("ny = sigma_y * f", "1"),
    "r2": ("explained variance of the fit", "1"),
}


def fit_gabors(atoms: Any, *, n_starts: int = 4, min_r2: float = 0.5, min_sigma: float = 1.0,
               long_sigma: float = 2.0, progress: bool = False, keep_images: bool = True) -> xr.Dataset:
    """Fit a Gabor to every atom.

    Parameters
    ----------
    atoms : (n_atoms, H, W) array or DataArray
        Signed receptive fields (use :func:`signed_atoms` for pos/neg-split dictionaries,
        :func:`effective_receptive_fields` for network units).
    n_starts, min_r2, min_sigma : see :func:`fit_gabor`.
    long_sigma : float
        Longer envelope s.d. (pixels) from which an accepted fit counts as elongated
        (``long_envelope``).
    progress : bool
        Show a tqdm progress bar.
    keep_images : bool
        Store the atoms (``rf``) and fitted Gabors (``fit``) with dims (atom, y, x).

    Returns
    -------
    xr.Dataset
        Dim ``atom``; variables of :func:`fit_gabor` (``good`` bool, ``reason`` str) and,
        ``long_envelope`` (bool); with ``keep_images``, ``rf`` and ``fit``. Attrs: ``min_r2``,
        ``min_sigma``, ``long_sigma``, ``n_starts``, ``rejection`` (the criterion in words),
        ``n_atoms``, ``n_good``, ``frac_accepted``, ``frac_accepted_long``.
    """
    arr = _to_numpy(atoms)
    if arr.ndim != 3:
        raise ValueError(f"atoms must have shape (n_atoms, H, W), got {arr.shape}")
    if not long_sigma >= 0:
        raise ValueError(f"long_sigma must be >= 0 pixels, got {long_sigma}")
    rows = []
    it = range(arr.shape[0])
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="Gabor fits", unit="atom")
    for k in it:
        rows.append(fit_gabor(arr[k], n_starts=n_starts, min_r2=min_r2, min_sigma=min_sigma))
    coords = {"atom": np.arange(arr.shape[0])}
    data = {}
    for name, (long_name, units) in _VAR_ATTRS.items():
        data[name] = xr.DataArray(np.array([r[name] for r in rows], float), dims="atom",
                                  attrs={"long_name": long_name, "units": units})
    data["good"] = xr.DataArray(np.array([r["good"] for r in rows], bool), dims="atom",
                                attrs={"long_name": f"fit accepted (R^2 >= {min_r2}, centre inside, "
                                                     f"{min_sigma} pixel <= sigma <= patch)"})
    longer = np.maximum(data["sigma_x"].values, data["sigma_y"].values)
    data["long_envelope"] = xr.DataArray(data["good"].values & (longer >= long_sigma), dims="atom",
                                         attrs={"long_name": f"accepted, longer envelope s.d. >= {long_sigma} pixel"})
    data["low_pass"] = xr.DataArray(np.array([r["low_pass"] for r in rows], bool), dims="atom",
                                    attrs={"long_name": "carrier unresolved (nx < 0.1 or amplitude > 3 x peak |rf|)"})
    data["reason"] = xr.DataArray(np.array([r["reason"] for r in rows], dtype=object).astype(str),
                                  dims="atom", attrs={"long_name": "rejection reason ('' if good)"})
    if keep_images:
        data["rf"] = xr.DataArray(arr, dims=("atom", "y", "x"), attrs={"long_name": "receptive field"})
        data["fit"] = xr.DataArray(np.stack([r["fit"] for r in rows]) if rows else arr * 0,
                                   dims=("atom", "y", "x"), attrs={"long_name": "fitted Gabor"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({
        "min_r2": float(min_r2),
        "min_sigma": float(min_sigma),
        "n_starts": int(n_starts),
        "rejection": (f"R^2 < {min_r2}, or centre outside the patch, or sigma_x/sigma_y > patch size, "
                      f"or sigma_x/sigma_y < {min_sigma} pixel, or f > 0.5 cycles/pixel"),
        "long_sigma": float(long_sigma),
        "n_atoms": int(arr.shape[0]),
        "n_good": int(data["good"].values.sum()),
        "frac_accepted": float(data["good"].values.mean()) if arr.shape[0] else 0.0,
        "frac_accepted_long": float(data["long_envelope"].values.mean()) if arr.shape[0] else 0.0,
        "n_low_pass": int((data["good"].values & data["low_pass"].values).sum()),
        "gabor_convention": "x' across carrier at angle theta from +x (columns) towards +y (rows)",
    })
    return ds


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if isinstance(x, (xr.DataArray,)):
        x = x.values
    return np.asarray(x, dtype=np.float64)


def signed_atoms(D: Any, patch_shape: tuple[int, int] | None = None, *, split_sign: bool = True) -> np.ndarray:
    """Images of dictionary atoms, with the positive/negative channels recombined.

    Parameters
    ----------
    D : (M, N) array
        Dictionary with atoms in columns (for the spiking net, ``D = F.T`` or ``B``). With
        ``split_sign`` the first ``M/2`` rows are the ON channel ``d+`` and the last ``M/2``
        the OFF channel ``d-`` of a ``[max(p,0); max(-p,0)]`` split (Hoyer 2004), and the
        signed atom is ``d+ - d-``.
    patch_shape : (H, W), optional
        Patch shape; default square ``sqrt(M')`` with ``M' = M/2`` (split) or ``M``.
    split_sign : bool
        Whether the rows are a pos/neg split.

    Returns
    -------
    (N, H, W) float64 array
    """
    D = _to_numpy(D)
    if D.ndim != 2:
        raise ValueError(f"D must be a 2-D (M, N) array, got shape {D.shape}")
    M = D.shape[0]
    if split_sign:
        if M % 2:
            raise ValueError(f"D must have an even number of rows with split_sign=True, got M={M}")
        half = M // 2
        S = D[:half] - D[half:]
    else:
        half = M
        S = D
    if patch_shape is None:
        k = int(round(math.sqrt(half)))
        if k * k != half:
            raise ValueError(f"patch_shape is required: {half} pixels is not a square")
        patch_shape = (k, k)
    if patch_shape[0] * patch_shape[1] != half:
        raise ValueError(f"patch_shape {patch_shape} does not match {half} pixels per atom")
    return S.T.reshape(D.shape[1], patch_shape[0], patch_shape[1]).copy()


def kernel_atoms(weight: Any, *, reduce: str = "sum") -> np.ndarray:
    """First-layer convolution kernels as images (out_channels, kh, kw).

    ``weight`` is (out, in, kh, kw) (PyTorch layout). Input channels are combined by
    ``reduce`` ("sum" or "mean"; for grey images there is one). Note that 3x3 kernels are too
    small for a meaningful Gabor fit: use :func:`effective_receptive_fields` for those.
    """
    w = _to_numpy(weight)
    if w.ndim != 4:
        raise ValueError(f"weight must have shape (out, in, kh, kw), got {w.shape}")
    if reduce not in ("sum", "mean"):
        raise ValueError(f"reduce must be 'sum' or 'mean', got {reduce!r}")
    return w.sum(axis=1) if reduce == "sum" else w.mean(axis=1)


def effective_receptive_fields(response: Callable[[Any], Any], image_shape: Sequence[int], *,
                               n_probes: int = 4096, batch: int = 512, method: str = "sta",
                               probe: str = "gaussian", seed: int = 0, as_torch: bool = False,
                               progress: bool = False) -> np.ndarray:
    """Effective receptive fields of network units from random probe images.

    Probes ``s`` (white noise) are passed to ``response(images) -> activations``; the
    receptive field of unit k is

    * ``method="sta"``: the response-weighted covariance ``E[(r_k - E r_k) s]`` (spike- /
      response-triggered average with the mean response removed). For white Gaussian
      probes and a linear-nonlinear unit this is proportional to the unit's linear filter
      (Bussgang's theorem), independent of the nonlinearity.
    * ``method="rwa"``: the response-weighted average ``sum r_k s / sum |r_k|``.

    Parameters
    ----------
    response : callable
        ``response(images)`` with ``images`` of shape ``(n, *image_shape)`` (float32 numpy, or
        a CPU torch tensor when ``as_torch``), returning ``(n, ...)`` activations; trailing
        dims are flattened into units.
    image_shape : tuple
        Shape of one probe image, e.g. ``(28, 28)`` or ``(1, 28, 28)``.
    n_probes, batch : int
        Number of probes and how many go through ``response`` at once.
    probe : {"gaussian", "binary"}
        N(0, 1) pixels or +-1 pixels.
    seed : int
        Seed of the probes.

    Returns
    -------
    (n_units, *image_shape) float64 array
    """
    if method not in ("sta", "rwa"):
        raise ValueError(f"method must be 'sta' or 'rwa', got {method!r}")
    if probe not in ("gaussian", "binary"):
        raise ValueError(f"probe must be 'gaussian' or 'binary', got {probe!r}")
    if n_probes < 2 or batch < 1:
        raise ValueError(f"n_probes must be >= 2 and batch >= 1, got {n_probes}, {batch}")
    shape = tuple(int(s) for s in image_shape)
    rng = np.random.default_rng(seed)
    n_pix = int(np.prod(shape))
    sum_rs = sum_r = sum_abs = None
    sum_s = np.zeros(n_pix)
    starts = range(0, n_probes, batch)
    if progress:
        from tqdm.auto import tqdm
        starts = tqdm(starts, desc="probes", unit="batch")
    for start in starts:
        n = min(batch, n_probes - start)
        if probe == "gaussian":
            s = rng.standard_normal((n,) + shape).astype(np.float32)
        else:
            s = rng.choice(np.array([-1.0, 1.0], np.float32), size=(n,) + shape)
        inp = s
        if as_torch:
            import torch
            inp = torch.from_numpy(s)
        r = _to_numpy(response(inp)).reshape(n, -1)
        sf = s.reshape(n, -1).astype(np.float64)
        if sum_rs is None:
            sum_rs = np.zeros((r.shape[1], n_pix))
            sum_r = np.zeros(r.shape[1])
            sum_abs = np.zeros(r.shape[1])
        sum_rs += r.T @ sf
        sum_r += r.sum(0)
        sum_abs += np.abs(r).sum(0)
        sum_s += sf.sum(0)
    if method == "sta":
        rf = sum_rs / n_probes - np.outer(sum_r / n_probes, sum_s / n_probes)
    else:
        rf = sum_rs / np.maximum(sum_abs, 1e-300)[:, None]
    return rf.reshape((-1,) + shape)


# --------------------------------------------------------------------------------------
# Comparison with V1
# --------------------------------------------------------------------------------------
def _v1_reference(v1_counts, edges) -> tuple[np.ndarray, np.ndarray]:
    """The V1 (nx, ny) histogram and bin edges to compare with: the given ones, else the
    loaded V1 data set's (edges default to ``V1_EDGES`` when counts are given alone)."""
    if v1_counts is None:
        v1_counts, e = v1_nxny()
        edges = e if edges is None else edges
    edges = V1_EDGES if edges is None else np.asarray(edges, float)
    return np.asarray(v1_counts, float), edges


def v1_nxny() -> tuple[np.ndarray, np.ndarray]:
    """Macaque V1 (nx, ny) histogram: ``(counts (5, 5) rows nx / cols ny, edges (6,))``.

    Loaded through ``attractorlab.data.load_v1_nxny`` (79 cells, Ringach 2002 as binned in
    dicarlolab/vonenet).
    """
    from attractorlab import data as _data

    loader = getattr(_data, "load_v1_nxny", None)
    if loader is None:
        raise RuntimeError("attractorlab.data.load_v1_nxny is not available; pass counts/edges explicitly")
    out = loader()
    if isinstance(out, xr.DataArray):
        counts = np.asarray(out.values, float)
        edges = np.asarray(out.attrs.get("edges", V1_EDGES), float)
    elif isinstance(out, xr.Dataset):
        name = "counts" if "counts" in out else list(out.data_vars)[0]
        counts = np.asarray(out[name].values, float)
        edges = np.asarray(out["edges"].values if "edges" in out else out.attrs.get("edges", V1_EDGES), float)
    elif isinstance(out, tuple):
        counts, edges = np.asarray(out[0], float), np.asarray(out[1], float)
    elif isinstance(out, dict):
        counts, edges = np.asarray(out["counts"], float), np.asarray(out.get("edges", V1_EDGES), float)
    else:
        counts, edges = np.asarray(out, float), V1_EDGES
    return counts, edges


def bin_nxny(nx: Any, ny: Any, edges: Any = V1_EDGES, *, clip: bool = True) -> tuple[np.ndarray, float]:
    """Counts of (nx, ny) pairs on the log bins (rows nx, cols ny).

    Parameters
    ----------
    nx, ny : (n,) arrays
        Dimensionless envelope widths. Non-finite or non-positive values are dropped.
    edges : (B+1,) array
        Increasing bin edges shared by both axes.
    clip : bool
        Put values beyond the outer edges into the outer bins (default); otherwise drop them.

    Returns
    -------
    counts : (B, B) float array
    frac_outside : float
        Fraction of the (finite, positive) pairs that lay beyond the outer edges.
    """
    nx = np.asarray(nx, float).ravel()
    ny = np.asarray(ny, float).ravel()
    edges = np.asarray(edges, float)
    if nx.shape != ny.shape:
        raise ValueError(f"nx and ny must have the same length, got {nx.size} and {ny.size}")
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges must be a strictly increasing 1-D array, got {edges}")
    ok = np.isfinite(nx) & np.isfinite(ny) & (nx > 0) & (ny > 0)
    nx, ny = nx[ok], ny[ok]
    B = edges.size - 1
    outside = (nx < edges[0]) | (nx > edges[-1]) | (ny < edges[0]) | (ny > edges[-1])
    frac = float(outside.mean()) if nx.size else 0.0
    if not clip:
        nx, ny = nx[~outside], ny[~outside]
    ix = np.clip(np.searchsorted(edges, nx, side="right") - 1, 0, B - 1)
    iy = np.clip(np.searchsorted(edges, ny, side="right") - 1, 0, B - 1)
    counts = np.zeros((B, B))
    np.add.at(counts, (ix, iy), 1.0)
    return counts, frac


def _normalise(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, float)
    s = c.sum()
    if s <= 0:
        raise ValueError("a histogram with no counts has no distribution")
    return c / s


def _emd_2d(p: np.ndarray, q: np.ndarray, step: float) -> float:
    """Earth mover's distance between two (B, B) distributions, ground distance Euclidean
    between bin centres (``step`` = bin width) via a transport linear program."""
    B = p.shape[0]
    idx = np.array([(i, j) for i in range(B) for j in range(B)], float)
    cost = step * np.sqrt(((idx[:, None, :] - idx[None, :, :]) ** 2).sum(-1))
    ps, qs = p.ravel(), q.ravel()
    n = ps.size
    # variables T[a, b] >= 0, sum_b T[a,b] = p[a], sum_a T[a,b] = q[b]
    A_eq = np.zeros((2 * n, n * n))
    for a in range(n):
        A_eq[a, a * n:(a + 1) * n] = 1.0
        A_eq[n + a, a::n] = 1.0
    b_eq = np.concatenate([ps, qs])
    res = optimize.linprog(cost.ravel(), A_eq=A_eq[:-1], b_eq=b_eq[:-1], bounds=(0, None), method="highs")
    if not res.success:  # pragma: no cover - the LP is always feasible
        raise RuntimeError(f"EMD linear program failed: {res.message}")
    return float(res.fun)


def nxny_distance(p_counts: Any, q_counts: Any, *, metric: str = "js", edges: Any = V1_EDGES) -> float:
    """Distance between two binned (nx, ny) distributions.

    Parameters
    ----------
    p_counts, q_counts : (B, B) arrays
        Counts (or probabilities); each is normalised to sum 1.
    metric : {"js", "tv", "emd"}
        ``"js"``: Jensen-Shannon divergence in bits, in [0, 1].
        ``"tv"``: total variation ``1/2 sum |p - q|``, in [0, 1].
        ``"emd"``: earth mover's distance with Euclidean ground distance between bin
        centres on the log10 grid, in decades (needs equal log-width bins, as V1's).
    edges : array
        Bin edges (used by ``"emd"`` for the log10 bin width).
    """
    p, q = _normalise(p_counts), _normalise(q_counts)
    if p.shape != q.shape:
        raise ValueError(f"histograms must have the same shape, got {p.shape} and {q.shape}")
    if metric == "tv":
        return float(0.5 * np.abs(p - q).sum())
    if metric == "js":
        m = 0.5 * (p + q)

        def kl(a, b):
            nz = a > 0
            return float((a[nz] * np.log2(a[nz] / b[nz])).sum())

        return max(0.0, 0.5 * kl(p, m) + 0.5 * kl(q, m))
    if metric == "emd":
        le = np.log10(np.asarray(edges, float))
        widths = np.diff(le)
        if not np.allclose(widths, widths[0], rtol=1e-2):
            raise ValueError("metric='emd' needs bins of equal width in log10")
        return _emd_2d(p, q, float(widths.mean()))
    raise ValueError(f"metric must be one of 'js', 'tv', 'emd', got {metric!r}")


def v1_samples_from_histogram(counts: Any, edges: Any = V1_EDGES) -> tuple[np.ndarray, np.ndarray]:
    """One (nx, ny) pair per cell of a histogram, at the geometric centre of its bin."""
    counts = np.asarray(counts)
    edges = np.asarray(edges, float)
    centres = np.sqrt(edges[:-1] * edges[1:])
    ii, jj = np.nonzero(counts)
    reps = counts[ii, jj].astype(int)
    return np.repeat(centres[ii], reps), np.repeat(centres[jj], reps)


def ks_similarity(p: Any, q: Any) -> float:
    """Brain-Score's distribution similarity 1 - KS / KS_max of two binned distributions.

    Parameters
    ----------
    p, q : (B,) arrays
        Counts (or probabilities) on the same bins; ``q`` is the reference (V1).

    Returns
    -------
    float in [0, 1]: 1 for identical cumulative histograms, 0 when ``p`` is as far from ``q``
    as a distribution can be (KS_max: the larger KS distance of ``q`` from all mass in its
    first bin or all mass in its last bin).
    """
    p, q = _normalise(np.asarray(p, float).ravel()), _normalise(np.asarray(q, float).ravel())
    if p.shape != q.shape:
        raise ValueError(f"p and q must be histograms on the same bins, got {p.shape} and {q.shape}")
    cq = np.cumsum(q)
    ks = float(np.max(np.abs(np.cumsum(p) - cq)))
    first = np.zeros_like(q)
    first[0] = 1.0
    last = np.zeros_like(q)
    last[-1] = 1.0
    ks_max = max(float(np.max(np.abs(np.cumsum(first) - cq))), float(np.max(np.abs(np.cumsum(last) - cq))))
    return 1.0 - ks / ks_max if ks_max > 0 else 1.0


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value, values beyond the outer edges clipped into the outer bins."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, edges.size - 2)


def v1_similarity(nx: Any, ny: Any = None, *, v1_counts: Any = None, edges: Any = None, n_boot: int = 1000,
                  seed: int = 0) -> xr.Dataset:
    """Brain-Score distribution similarity (Marques et al. 2021) of model (nx, ny) to V1.

    Per property (the nx and the ny marginal): the mean over ``n_boot`` bootstrap samples of
    the model population, each as large as the V1 data set, of :func:`ks_similarity` against
    the V1 marginal (``score``); the same for bootstrap samples of V1 itself drawn from its
    histogram (``ceiling``); and ``score / ceiling`` (``ceiled``).

    Parameters
    ----------
    nx, ny : (n,) arrays, or the Dataset of :func:`fit_gabors` as ``nx`` (its accepted
        atoms; ``frac_accepted`` is then reported too).
    v1_counts, edges : arrays, optional
        V1 histogram (rows nx, cols ny) and edges; default :func:`v1_nxny`.
    n_boot : int
        Bootstrap samples (Brain-Score: 1000).
    seed : int
        Seed of the resampling.

    Returns
    -------
    xr.Dataset
        Over ``property`` ("nx", "ny"): ``score``, ``score_sd``, ``ceiling``, ``ceiling_sd``,
        ``ceiled``; scalars ``ceiled_mean`` (mean over the two properties), ``n_model``,
        ``n_v1``, ``frac_accepted`` (NaN when plain arrays are given).
    """
    frac = float("nan")
    n_atoms = None
    if isinstance(nx, xr.Dataset):
        ds = nx
        good = ds["good"].values.astype(bool)
        n_atoms = int(good.size)
        frac = float(good.mean()) if good.size else float("nan")
        nx, ny = ds["nx"].values[good], ds["ny"].values[good]
    elif ny is None:
        raise ValueError("ny is required unless nx is the Dataset returned by fit_gabors")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    v1_counts, edges = _v1_reference(v1_counts, edges)
    vals = {"nx": np.asarray(nx, float).ravel(), "ny": np.asarray(ny, float).ravel()}
    ok = np.isfinite(vals["nx"]) & np.isfinite(vals["ny"])
    if not ok.any():
        raise ValueError("no finite (nx, ny) pairs to compare (all atoms rejected?)")
    v1_marg = {"nx": v1_counts.sum(axis=1), "ny": v1_counts.sum(axis=0)}
    n_v1 = int(round(v1_counts.sum()))
    B = edges.size - 1
    rng = np.random.default_rng(seed)
    out = {k: np.empty(2) for k in ("score", "score_sd", "ceiling", "ceiling_sd")}
    for j, prop in enumerate(("nx", "ny")):
        idx = _bin_index(vals[prop][ok], edges)
        ref = v1_marg[prop]
        model = [ks_similarity(np.bincount(rng.choice(idx, n_v1), minlength=B), ref) for _ in range(int(n_boot))]
        p_v1 = ref / ref.sum()
        self_ = [ks_similarity(rng.multinomial(n_v1, p_v1), ref) for _ in range(int(n_boot))]
        out["score"][j], out["score_sd"][j] = np.mean(model), np.std(model)
        out["ceiling"][j], out["ceiling_sd"][j] = np.mean(self_), np.std(self_)
    ceiled = out["score"] / out["ceiling"]
    res = xr.Dataset(
        {
            "score": ("property", out["score"], {"long_name": "mean bootstrap 1 - KS/KS_max, model vs V1"}),
            "score_sd": ("property", out["score_sd"], {"long_name": "s.d. over bootstrap samples"}),
            "ceiling": ("property", out["ceiling"], {"long_name": "mean bootstrap 1 - KS/KS_max, V1 vs V1"}),
            "ceiling_sd": ("property", out["ceiling_sd"], {"long_name": "s.d. over bootstrap samples"}),
            "ceiled": ("property", ceiled, {"long_name": "score / ceiling"}),
            "ceiled_mean": ((), float(ceiled.mean()), {"long_name": "score / ceiling, mean of nx and ny"}),
            "n_model": ((), int(ok.sum()), {"long_name": "model atoms compared (accepted fits)"}),
            "n_v1": ((), n_v1, {"long_name": "V1 cells (bootstrap sample size)"}),
            "frac_accepted": ((), frac, {"long_name": "fraction of all atoms accepted by the Gabor fit"}),
        },
        coords={"property": ["nx", "ny"]},
        attrs={"method": "Brain-Score distribution similarity (Marques et al. 2021): 1 - KS/KS_max on "
                         "binned marginals, bootstrap samples of the V1 data-set size, ceiled by V1 vs V1",
               "n_boot": int(n_boot), "seed": int(seed)},
    )
    if n_atoms is not None:
        res.attrs["n_atoms"] = n_atoms
    return res


def compare_with_v1(nx: Any, ny: Any = None, *, v1_counts: Any = None, edges: Any = None, metric: str = "js",
                    n_boot: int = 1000, ci: float = 0.95, seed: int = 0, only: Any = None) -> xr.Dataset:
    """Compare model (nx, ny) with the macaque V1 histogram.

    Parameters
    ----------
    nx, ny : (n,) arrays or the Dataset of :func:`fit_gabors` passed as ``nx`` (then ``ny``
        is ignored and only atoms with ``good`` are used).
    v1_counts, edges : arrays, optional
        V1 histogram (rows nx, cols ny) and its edges; default :func:`v1_nxny`.
    metric : {"js", "tv", "emd"}
        See :func:`nxny_distance`.
    n_boot : int
        Bootstrap replicates (model atoms resampled with replacement; V1 cells drawn from
        the V1 histogram, multinomial with n = number of cells).
    ci : float
        Coverage of the percentile interval.
    seed : int
        Seed of the resampling.
    only : (n,) bool array, optional
        Mask of atoms to use (e.g. accepted fits).

    Returns
    -------
    xr.Dataset
        ``model_counts``, ``v1_counts`` (nx_bin, ny_bin); scalars ``distance``, ``ci_low``,
        ``ci_high``, ``null_q95`` (95th percentile of the distance between two samples of the
        same sizes both drawn from V1), ``p_value`` ((1 + number of null distances >= the
        observed one) / (1 + n_boot)), ``frac_outside``, ``n_model``, ``n_v1``; ``boot`` (replicate) and
        ``null`` (replicate) distributions; marginals ``model_nx``, ``v1_nx``, ``model_ny``,
        ``v1_ny``; ``n_atoms`` and ``frac_accepted`` (when given the fits Dataset); the
        Brain-Score similarity of :func:`v1_similarity`: ``ks_score``, ``ks_ceiling``,
        ``ks_ceiled`` over ``property`` (nx, ny) and ``ks_ceiled_mean``.

    Notes
    -----
    The percentile interval of a plug-in divergence is biased upwards for small samples:
    when the model is close to V1 the interval may sit above the point estimate; read the
    distance against ``null_q95`` then.
    """
    frac_accepted = float("nan")
    n_atoms = -1
    if isinstance(nx, xr.Dataset):
        ds = nx
        mask = ds["good"].values.astype(bool) if "good" in ds else np.ones(ds.sizes["atom"], bool)
        n_atoms = int(mask.size)
        frac_accepted = float(mask.mean()) if mask.size else float("nan")
        nx, ny = ds["nx"].values[mask], ds["ny"].values[mask]
    elif ny is None:
        raise ValueError("ny is required unless nx is the Dataset returned by fit_gabors")
    nx = np.asarray(nx, float).ravel()
    ny = np.asarray(ny, float).ravel()
    if only is not None:
        only = np.asarray(only, bool).ravel()
        nx, ny = nx[only], ny[only]
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    v1_counts, edges = _v1_reference(v1_counts, edges)
    ok = np.isfinite(nx) & np.isfinite(ny) & (nx > 0) & (ny > 0)
    nx, ny = nx[ok], ny[ok]
    if nx.size == 0:
        raise ValueError("no valid (nx, ny) pairs to compare (all rejected or non-finite)")
    model_counts, frac = bin_nxny(nx, ny, edges)
    d = nxny_distance(model_counts, v1_counts, metric=metric, edges=edges)
    rng = np.random.default_rng(seed)
    n_model, n_v1 = nx.size, int(round(v1_counts.sum()))
    p_v1 = _normalise(v1_counts).ravel()
    B = v1_counts.shape[0]
    # model bin index per atom, to resample cheaply
    ix = np.clip(np.searchsorted(edges, nx, side="right") - 1, 0, B - 1)
    iy = np.clip(np.searchsorted(edges, ny, side="right") - 1, 0, B - 1)
    flat = ix * B + iy
    boot = np.empty(n_boot)
    null = np.empty(n_boot)
    for b in range(n_boot):
        mb = np.bincount(flat[rng.integers(0, n_model, n_model)], minlength=B * B).reshape(B, B)
        vb = rng.multinomial(n_v1, p_v1).reshape(B, B)
        boot[b] = nxny_distance(mb, vb, metric=metric, edges=edges)
        m0 = rng.multinomial(n_model, p_v1).reshape(B, B)
        v0 = rng.multinomial(n_v1, p_v1).reshape(B, B)
        null[b] = nxny_distance(m0, v0, metric=metric, edges=edges)
    lo, hi = np.quantile(boot, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    centres = np.sqrt(edges[:-1] * edges[1:])
    units = {"js": "bit", "tv": "1", "emd": "decade"}[metric]
    out = xr.Dataset(
        {
            "model_counts": (("nx_bin", "ny_bin"), model_counts, {"long_name": "model atoms per (nx, ny) bin"}),
            "v1_counts": (("nx_bin", "ny_bin"), v1_counts, {"long_name": "V1 cells per (nx, ny) bin"}),
            "model_nx": ("nx_bin", model_counts.sum(1) / model_counts.sum(), {"long_name": "model nx marginal"}),
            "v1_nx": ("nx_bin", v1_counts.sum(1) / v1_counts.sum(), {"long_name": "V1 nx marginal"}),
            "model_ny": ("ny_bin", model_counts.sum(0) / model_counts.sum(), {"long_name": "model ny marginal"}),
            "v1_ny": ("ny_bin", v1_counts.sum(0) / v1_counts.sum(), {"long_name": "V1 ny marginal"}),
            "distance": ((), d, {"long_name": f"{metric} distance model vs V1", "units": units}),
            "ci_low": ((), float(lo), {"units": units}),
            "ci_high": ((), float(hi), {"units": units}),
            "null_q95": ((), float(np.quantile(null, 0.95)), {"units": units,
                         "long_name": "95th percentile of distance between two V1 samples of the same sizes"}),
            "p_value": ((), float((np.sum(null >= d) + 1) / (n_boot + 1)), {"long_name": "P(null >= observed)"}),
            "frac_outside": ((), frac, {"long_name": "fraction of model pairs beyond the outer edges (clipped)"}),
            "n_model": ((), n_model),
            "n_v1": ((), n_v1),
            "boot": ("replicate", boot, {"units": units}),
            "null": ("replicate", null, {"units": units}),
            "nx_median": ((), float(np.median(nx))),
            "ny_median": ((), float(np.median(ny))),
            "n_atoms": ((), n_atoms, {"long_name": "atoms fitted (-1: unknown, plain arrays given)"}),
            "frac_accepted": ((), frac_accepted, {"long_name": "fraction of the fitted atoms accepted"}),
        },
        coords={"nx_bin": centres, "ny_bin": centres,
                "nx_edge": ("nx_edge", edges), "replicate": np.arange(n_boot)},
    )
    sim = v1_similarity(nx, ny, v1_counts=v1_counts, edges=edges, n_boot=n_boot, seed=seed)
    for name in ("score", "ceiling", "ceiled"):
        out[f"ks_{name}"] = (("property",), sim[name].values, sim[name].attrs)
    out = out.assign_coords(property=sim["property"].values)
    out["ks_ceiled_mean"] = sim["ceiled_mean"]
    out.attrs.update({"metric": metric, "ci": ci, "seed": seed,
                      "binning": "log bins of V1; values beyond the outer edges clipped into the outer bins",
                      "ks_method": sim.attrs["method"]})
    return out
