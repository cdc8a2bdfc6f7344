"""Image denoising with a learned non-negative dictionary (Lin & Tang 2019, App. D.2, Fig. 7).

Procedure (after Elad & Aharon 2006, as the paper describes it):

1. add Gaussian noise of s.d. ``sigma`` (on the 0-255 scale; PAPERS I.7(10): 30) and clip to
   [0, 255] (an 8-bit noisy image);
2. cut every overlapping k x k patch (``stride`` 1 by default);
3. subtract each patch's mean m and divide by a scale c, z = (p - m) / c, then split into
   ``[max(z, 0); max(-z, 0)]`` as the training data of Dataset A;
4. code it by the non-negative LASSO (exact coordinate descent, weight ``lam``) with the
   dictionary D = F^T, reconstruct D a, merge the two halves (positive - negative) and undo
   the preprocessing: m + c * z_hat;
5. average the overlapping reconstructions at each pixel.

The scale ``c`` (``scaling``):

* ``"noise"`` (default): c = sigma, the same for every patch, so the noise has unit s.d. per
  pixel and ``lam`` is a threshold in units of the noise (Elad & Aharon's rule: the code
  stops where the residual is at the noise level).  :func:`choose_lambda` picks it on a
  *different* image, so the reported PSNR is not tuned on the test image.
* ``"patch"``: c = the patch's own s.d., the training preprocessing of Dataset A.  It
  amplifies the noise of flat patches to unit contrast, which the code then reproduces
  (measured on "camera": 22.65 dB with 41.5 non-zeros per patch at lam = 0.3).

Reported: PSNR (peak 255) of the noisy and the denoised image, and the mean number of
non-zero coefficients per patch (paper: 18.69 dB -> 29.31 dB with 5.9 non-zeros on Lena).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["psnr", "add_noise", "denoise_image", "choose_lambda", "SCALINGS", "DEFAULT_LAM"]

SCALINGS = ("noise", "patch")
#: Default coding weight per scaling: "noise" is what :func:`choose_lambda` picked on
#: scikit-image's "astronaut" (grey, sigma = 30, stride 4) for the Dataset A paper-run
#: dictionary (its grid scores are stored in that run's ``denoise.nc``); "patch" = lambda_1.
DEFAULT_LAM = {"noise": 2.5, "patch": 0.3}


def psnr(image: np.ndarray, reference: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio 10 log10(peak^2 / MSE) in dB."""
    image = np.asarray(image, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if image.shape != reference.shape:
        raise ValueError(f"image and reference shapes differ: {image.shape} vs {reference.shape}")
    mse = float(np.mean((image - reference) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def add_noise(clean: np.ndarray, sigma: float = 30.0, *, seed: int = 0, clip: bool = True) -> np.ndarray:
    """``clean`` (0-255) plus Gaussian noise of s.d. ``sigma``, clipped to [0, 255] when ``clip``."""
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0 (0-255 scale), got {sigma}")
    rng = np.random.default_rng(seed)
    noisy = np.asarray(clean, dtype=np.float64) + sigma * rng.standard_normal(np.shape(clean))
    return np.clip(noisy, 0.0, 255.0) if clip else noisy


def denoise_image(
    clean: np.ndarray,
    D: np.ndarray,
    *,
    lam: float | None = None,
    sigma: float = 30.0,
    scaling: str = "noise",
    patch: int = 8,
    stride: int = 1,
    seed: int = 0,
    noisy: np.ndarray | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Denoise a noisy version of ``clean`` with the split-patch dictionary ``D``.

    Parameters
    ----------
    clean : (H, W) array
        Clean grey image on the 0-255 scale (used to make the noisy image and for PSNR).
    D : (2 k^2, N) array
        Non-negative dictionary, atoms in columns, for sign-split k x k patches (Dataset A:
        ``D = F.T`` of the spiking net).
    lam : float, optional
        l1 weight of the patch codes, in the units set by ``scaling`` (default
        ``DEFAULT_LAM[scaling]``: 2.5 noise s.d. for "noise", lambda_1 = 0.3 for "patch").
    sigma : float
        Noise s.d. on the 0-255 scale.
    scaling : {"noise", "patch"}
        Patch scale before coding: sigma for every patch, or each patch's own s.d.
    patch : int
        Patch side k (8 for Dataset A).
    stride : int
        Step between patch positions (1 = every overlapping patch, as in the paper; larger
        values, up to ``patch``, are faster smoke checks). The last row/column of positions is
        always included.
    seed : int
        Noise seed.
    noisy : (H, W) array, optional
        Use this noisy image instead of drawing one.
    progress : bool
        tqdm bar over patch batches.

    Returns
    -------
    xarray.Dataset
        ``clean``, ``noisy``, ``denoised`` (y, x), attrs ``psnr_noisy``, ``psnr_denoised``
        (dB), ``mean_nonzeros`` (per patch), ``sigma``, ``lam``, ``stride``, ``n_patches``.
    """
    clean, D, lam, noisy = _check_denoise_args(clean, D, lam, sigma, scaling, patch, stride, seed, noisy)
    k = int(patch)
    rows, cols = _positions(clean.shape, k, stride)
    acc, cnt, nnz_total, n_patches = _code_and_average(noisy, D, lam, sigma, scaling, k, rows, cols, progress)
    denoised = np.clip(acc / cnt, 0.0, 255.0)
    return _denoise_dataset(clean, noisy, denoised, sigma, lam, stride, k, n_patches, nnz_total, scaling)


def _check_denoise_args(clean, D, lam, sigma, scaling, patch, stride, seed, noisy):
    """Validated float64 image and dictionary, the coding weight, and the noisy image."""
    clean = np.asarray(clean, dtype=np.float64)
    if clean.ndim != 2:
        raise ValueError(f"clean must be a 2-D grey image, got shape {clean.shape}")
    if clean.max() <= 1.0 + 1e-9:
        raise ValueError("clean must be on the 0-255 scale (its maximum is <= 1; multiply by 255)")
    D = np.asarray(D, dtype=np.float64)
    k = int(patch)
    if D.ndim != 2 or D.shape[0] != 2 * k * k:
        raise ValueError(f"D must have {2 * k * k} rows (sign-split {k}x{k} patches), got shape {D.shape}")
    if not 1 <= stride <= patch:
        raise ValueError(f"stride must be in [1, patch={patch}] so that patches cover every pixel, got {stride}")
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    lam = DEFAULT_LAM[scaling] if lam is None else lam
    if not (np.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be > 0, got {lam}")
    if scaling == "noise" and not sigma > 0:
        raise ValueError(f"sigma must be > 0 with scaling='noise' (it is the patch scale), got {sigma}")
    H, W = clean.shape
    if H < k or W < k:
        raise ValueError(f"image {clean.shape} is smaller than the patch side {k}")
    noisy = add_noise(clean, sigma, seed=seed) if noisy is None else np.asarray(noisy, dtype=np.float64)
    if noisy.shape != clean.shape:
        raise ValueError(f"noisy must have the shape of clean {clean.shape}, got {noisy.shape}")
    return clean, D, lam, noisy


def _positions(shape: tuple[int, int], k: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left rows and columns of the patches (every ``stride``, the last ones included)."""
    H, W = shape
    rows = np.unique(np.r_[np.arange(0, H - k + 1, stride), H - k])
    cols = np.unique(np.r_[np.arange(0, W - k + 1, stride), W - k])
    return rows, cols


def _code_patches(P: np.ndarray, D: np.ndarray, lam: float, sigma: float, scaling: str) -> tuple[np.ndarray, int]:
    """Steps 3-4 for a batch of flattened patches (n, k^2): reconstructions and non-zeros."""
    from attractorlab.models.lasso import nonneg_codes

    n, dim = P.shape
    m = P.mean(axis=1, keepdims=True)
    Z = P - m
    if scaling == "patch":
        s = np.sqrt(np.mean(Z * Z, axis=1, keepdims=True))
        flat = s[:, 0] < 1e-8
        s[flat] = 1.0
    else:
        s = np.full((n, 1), float(sigma))
        flat = np.zeros(n, dtype=bool)
    Z /= s
    X = np.concatenate([np.maximum(Z, 0.0), np.maximum(-Z, 0.0)], axis=1)
    A = np.zeros((n, D.shape[1]))
    if (~flat).any():
        A[~flat] = nonneg_codes(D, X[~flat], lam, tol=1e-6)
    Xh = A @ D.T
    Zh = Xh[:, :dim] - Xh[:, dim:]
    Ph = m + s * Zh
    Ph[flat] = m[flat]
    return Ph, int((A > 0).sum())


def _code_and_average(noisy, D, lam, sigma, scaling, k, rows, cols, progress):
    """Code every patch (one row of positions at a time) and sum the overlapping
    reconstructions (step 5); returns sums, counts per pixel, non-zeros and patches."""
    from tqdm.auto import tqdm

    windows = np.lib.stride_tricks.sliding_window_view(noisy, (k, k))
    acc = np.zeros_like(noisy)
    cnt = np.zeros_like(noisy)
    nnz_total = 0
    n_patches = 0
    for r in tqdm(rows, desc="denoise", unit="row", disable=not progress, mininterval=1.0):
        Ph, nnz = _code_patches(windows[r, cols].reshape(len(cols), k * k), D, lam, sigma, scaling)
        nnz_total += nnz
        n_patches += len(cols)
        for j, c in enumerate(cols):
            acc[r:r + k, c:c + k] += Ph[j].reshape(k, k)
            cnt[r:r + k, c:c + k] += 1.0
    return acc, cnt, nnz_total, n_patches


def _denoise_dataset(clean, noisy, denoised, sigma, lam, stride, k, n_patches, nnz_total, scaling) -> xr.Dataset:
    dims = ("y", "x")
    attrs = {"units": "grey level (0-255)"}
    return xr.Dataset(
        {
            "clean": (dims, clean, dict(attrs, long_name="clean image")),
            "noisy": (dims, noisy, dict(attrs, long_name=f"noisy image (sigma = {sigma})")),
            "denoised": (dims, denoised, dict(attrs, long_name="denoised image")),
        },
        attrs={
            "psnr_noisy": psnr(noisy, clean),
            "psnr_denoised": psnr(denoised, clean),
            "mean_nonzeros": nnz_total / n_patches,
            "sigma": float(sigma), "lam": float(lam), "stride": int(stride), "patch": k,
            "n_patches": int(n_patches), "scaling": scaling,
            "method": ("non-negative LASSO of sign-split, mean-removed patches divided by "
                       + ("sigma" if scaling == "noise" else "their own s.d.") + "; overlaps averaged"),
        },
    )


def choose_lambda(
    calibration: np.ndarray,
    D: np.ndarray,
    *,
    grid: tuple[float, ...] = (1.5, 2.0, 2.5, 3.0, 3.5),
    sigma: float = 30.0,
    scaling: str = "noise",
    stride: int = 4,
    seed: int = 1,
    step: float = 1.25,
    max_extend: int = 6,
    max_nonzeros: float | None = None,
    refine: int = 3,
) -> tuple[float, xr.Dataset]:
    """The ``lam`` that denoises ``calibration`` (0-255) best, and the scores of every lam tried.

    The grid is extended (by factors of ``step``, at most ``max_extend`` times) on the side
    where its best value lies until the best lam is inside it: the PSNR optimum is bracketed
    by two worse ones (``attrs["bracketed"]``).  Use an image other than the ones reported,
    so that the reported PSNR is not tuned on them.  Scores within 0.01 dB count as ties,
    which go to the larger ``lam`` (the sparser code).

    With ``max_nonzeros`` the choice is the best lam whose codes of the calibration image
    have at most that many non-zeros per patch on average (a sparseness budget, e.g. the
    paper's 5.9): when the unconstrained optimum is denser, the grid is extended upwards
    until a lam meets the budget, and the boundary between the largest lam over it and the
    smallest within it is then halved ``refine`` times (geometric midpoints).  Past the
    optimum PSNR falls with lam, so the chosen lam is the smallest within the budget, to a
    factor of ``g ** (1 / 2 ** refine)``, g the ratio of the two lams that first straddled
    the budget.  ``attrs["constrained"]`` says whether the budget, not the PSNR optimum,
    decided.

    Returns
    -------
    lam : float
    scores : xarray.Dataset
        ``psnr`` (dB) and ``mean_nonzeros`` over ``lam`` (sorted); attrs ``chosen``,
        ``bracketed``, ``constrained`` and ``max_nonzeros`` (NaN without a budget).
    """
    if len(grid) == 0:
        raise ValueError("grid must hold at least one lambda")
    if not step > 1:
        raise ValueError(f"step must be > 1, got {step}")
    if max_nonzeros is not None and not (np.isfinite(max_nonzeros) and max_nonzeros > 0):
        raise ValueError(f"max_nonzeros must be None or a number > 0 (non-zeros per patch), got {max_nonzeros!r}")
    if int(refine) < 0:
        raise ValueError(f"refine must be an integer >= 0, got {refine!r}")
    runs: dict[float, xr.Dataset] = {}

    def score(v: float) -> None:
        if v not in runs:
            runs[v] = denoise_image(calibration, D, lam=v, sigma=sigma, scaling=scaling, stride=stride,
                                    seed=seed, progress=False)

    def within(v: float) -> bool:
        return max_nonzeros is None or runs[v].attrs["mean_nonzeros"] <= max_nonzeros

    def best(candidates) -> float:
        return max(sorted(candidates), key=lambda v: (round(runs[v].attrs["psnr_denoised"], 2), v))

    for v in grid:
        score(float(v))
    for _ in range(int(max_extend)):
        lams = sorted(runs)
        b = best(lams)
        if len(lams) > 1 and lams[0] < b < lams[-1]:
            break
        score(lams[0] / step if b == lams[0] else lams[-1] * step)
    optimum = best(runs)
    constrained = not within(optimum)
    if constrained:
        for _ in range(int(max_extend)):  # up until some lam meets the budget
            if any(within(v) for v in runs):
                break
            score(max(runs) * step)
        if not any(within(v) for v in runs):
            raise ValueError(f"no lam up to {max(runs):.4g} gives at most max_nonzeros={max_nonzeros} non-zeros per "
                             f"patch on the calibration image (fewest: {min(r.attrs['mean_nonzeros'] for r in runs.values()):.3g}); "
                             "raise max_nonzeros or max_extend")
        for _ in range(int(refine)):  # halve the boundary between over and within the budget
            lo = max(v for v in runs if not within(v))
            above = [v for v in runs if within(v) and v > lo]
            if not above:  # non-zeros not falling with lam here: no boundary to refine
                break
            score(float(np.sqrt(lo * min(above))))
        chosen = best([v for v in runs if within(v) and v >= optimum])
    else:
        chosen = optimum
    lams = sorted(runs)
    ds = xr.Dataset(
        {"psnr": ("lam", np.array([runs[v].attrs["psnr_denoised"] for v in lams]),
                  {"units": "dB", "long_name": "PSNR of the denoised calibration image"}),
         "mean_nonzeros": ("lam", np.array([runs[v].attrs["mean_nonzeros"] for v in lams]), {"units": "1"})},
        coords={"lam": np.asarray(lams, dtype=np.float64)},
        attrs={"sigma": float(sigma), "scaling": scaling, "stride": int(stride), "chosen": float(chosen),
               "bracketed": int(len(lams) > 2 and lams[0] < optimum < lams[-1]),
               "constrained": int(constrained),
               "max_nonzeros": float("nan") if max_nonzeros is None else float(max_nonzeros)},
    )
    return float(chosen), ds
