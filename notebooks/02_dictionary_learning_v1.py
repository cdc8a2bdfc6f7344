# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Dictionary learning with spikes, and learned atoms versus macaque V1
#
# Lin & Tang's Algorithm 1 learns a non-negative dictionary with local rules inside the
# spiking network: each sample is shown at feedback gate γ = 0 and then γ = κ, and the rate
# differences between the two phases give the gradient (eqs 9-12). On natural-image
# patches split into ON/OFF channels the atoms become edge- and Gabor-like (Fig 6).
#
# Neither paper compares the atoms with V1 (PAPERS.md Part III). We fit a 2-D Gabor to each
# signed atom d⁺ − d⁻, compute nx = σx·f and ny = σy·f (envelope widths in carrier periods,
# across and along the carrier) and compare their distribution with Ringach's (2002)
# macaque simple cells (79 cells, binned), with a bootstrap interval and a null
# distribution. Sparse coding is known to predict *larger* nx, ny than V1 shows.
#
# * `ATTRACTORLAB_SMOKE=1`: the demo's run, 8×8 patches of the whitened natural scenes (the
#   bundled "camera" photograph without the `olshausen_field` data), 64 atoms, 16,000 samples
#   at lambda_1 = 2.4 (about a minute, plus the one-off C++ build).
# * otherwise: a saved run of the `lin_tang_C` experiment (whitened natural scenes, 16×16,
#   1024 atoms) from `results/` when present (`attractorlab run lin_tang_C --preset paper`),
#   else a medium-size run here.

# %%
import os
from pathlib import Path

import matplotlib

if "JPY_PARENT_PID" not in os.environ:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from attractorlab import data
from attractorlab.analysis import receptive_fields as rf
from attractorlab.analysis.figures import receptive_fields as fig_rf
from attractorlab.results import load_dataset, results_root

SMOKE = os.environ.get("ATTRACTORLAB_SMOKE", "0") == "1"
print("smoke mode" if SMOKE else "full mode")

# %% [markdown]
# ## 2.1 Dictionary: saved result or a fresh run

# %%
def find_saved(name: str) -> Path | None:
    """results/<name>/paper/results.nc (the experiment's output) or the newest netCDF under
    results/<name>/ that holds learned weights."""
    root = results_root() / name
    candidates = [root / "paper" / "results.nc"] + sorted(root.glob("**/*.nc"), key=lambda p: p.stat().st_mtime,
                                                         reverse=True)
    for path in candidates:
        if not path.exists():
            continue
        try:
            ds = load_dataset(path)
        except Exception:  # noqa: BLE001 - unreadable or foreign file: skip it
            continue
        if "F_consistent" in ds or "F" in ds:
            return path
    return None


saved = None if SMOKE else find_saved("lin_tang_C")
if saved is not None:
    learned = load_dataset(saved)
    if "F_consistent" in learned:  # the lin_tang_C experiment's results.nc
        learned = learned.rename({"F_consistent": "F", "B_consistent": "B", "H_consistent": "H"})
    k = int(round(np.sqrt(learned.sizes["pixel"] // 2)))
    source = f"saved run {saved}"
else:
    from attractorlab.models.spiking_dictionary import LearningParams, NetworkParams, learn_dictionary

    from attractorlab.experiments.demo_models import DEMO_SIZES as z
    from attractorlab.experiments.demo_models import demo_patches

    # the demo's settings (lambda_1 = 2.4 on unit-variance patches: sparse enough for oriented
    # atoms, issue 19; at 0.3 most atoms are single pixels); smoke = the demo's sizes and build
    k, n_atoms, n_train = (z["patch"], z["n_atoms"], z["n_train"]) if SMOKE else (16, 256, 20000)
    X, patches = demo_patches(n_train, k, seed=z["seed"])  # (P, 2k^2) ON/OFF, unit-variance patches
    params = NetworkParams(n_input=2 * k * k, n_coding=n_atoms, lam1=z["lam1"])
    learned = learn_dictionary(X, params, LearningParams(eta_D=z["eta_D"], lam2_rule=z["lam2_rule"]),
                               snapshot_every=n_train // 4, chunk_size=z["chunk_size"], progress=not SMOKE)
    source = f"learned here: {n_train} samples of {patches}, {n_atoms} atoms, {k}x{k} patches, lambda_1 = {z['lam1']}"
print(source)
F, B, H = learned["F"].values, learned["B"].values, learned["H"].values

# %% [markdown]
# ## 2.2 Learning diagnostics (Fig 3 measures)
#
# Consistency 1 − ‖H − FB‖_F/‖H‖_F and symmetry (mean normalised inner product of row i of F
# with column i of B) along the run, and the mean atom norm.

# %%
def consistency(F, B, H):
    return 1 - np.linalg.norm(H - F @ B) / np.linalg.norm(H)


def symmetry(F, B):
    num = (F * B.T).sum(1)
    return float(np.mean(num / (np.linalg.norm(F, axis=1) * np.linalg.norm(B, axis=0) + 1e-12)))


if "consistency" in learned and "init" in learned.dims:  # saved experiment: curves stored
    fig, ax = plt.subplots(figsize=(4, 2.8))
    for init in learned["init"].values:
        ax.plot(learned["consistency"].sel(init=init), "o-", label=f"consistency ({init})")
        ax.plot(learned["symmetry"].sel(init=init), "s-", label=f"symmetry ({init})")
    ax.set_xlabel("snapshot")
    ax.set_ylabel("value (1)")
    ax.legend(frameon=False, fontsize=7)
elif "F_snap" in learned:
    seen = learned["samples_seen"].values
    cons = [consistency(learned["F_snap"][i].values, learned["B_snap"][i].values, learned["H_snap"][i].values)
            for i in range(seen.size)]
    sym = [symmetry(learned["F_snap"][i].values, learned["B_snap"][i].values) for i in range(seen.size)]
    norms = [np.linalg.norm(learned["F_snap"][i].values, axis=1).mean() for i in range(seen.size)]
    fig, ax = plt.subplots(figsize=(4, 2.8))
    ax.plot(seen, cons, "o-", label="consistency")
    ax.plot(seen, sym, "s-", label="symmetry")
    ax.plot(seen, norms, "^-", label="mean atom norm")
    ax.set_xlabel("training samples seen")
    ax.set_ylabel("value (1)")
    ax.legend(frameon=False, fontsize=8)
print(f"final consistency {consistency(F, B, H):.3f}, symmetry {symmetry(F, B):.3f}")

# %% [markdown]
# ## 2.3 Gabor fits
#
# Each signed atom (first half of F's row minus the second half) is fit by least squares
# from several starts (FFT peak for the carrier, energy centroid for the centre). Fits are
# rejected when R² < 0.5, the centre is outside the patch, σ exceeds the patch, or f is
# above Nyquist.

# %%
atoms = rf.signed_atoms(F.T)  # (N, k, k)
fits = rf.fit_gabors(atoms, progress=not SMOKE)
print(f"{int(fits['good'].sum())} of {fits.sizes['atom']} fits accepted; median R² {float(fits['r2'].median()):.2f}")
print("rejections:", {str(r): int((fits["reason"] == r).sum()) for r in set(fits["reason"].values) if r})
print("accepted but low-pass (carrier unresolved, nx < 0.1):", int((fits["good"] & fits["low_pass"]).sum()))
fig_rf.atom_grid(fits, n=64)

# %% [markdown]
# ## 2.4 nx-ny against macaque V1 (Ringach 2002)
#
# Distance: Jensen-Shannon divergence (bits) between the binned model and V1 distributions
# on V1's 5×5 log bins (model values beyond the outer edges are clipped into the outer
# bins). The bracket is a 95% percentile bootstrap interval; "V1-vs-V1 95%" is the distance
# two samples of these sizes drawn from the V1 histogram exceed only 5% of the time.

# %%
v1 = data.load_v1_nxny()
if int(fits["good"].sum()) >= 3:
    cmp = rf.compare_with_v1(fits, v1_counts=v1.counts, edges=v1.edges, n_boot=200 if SMOKE else 2000)
    fig_rf.ringach_plot(fits, v1_counts=v1.counts, edges=v1.edges, comparison=cmp, label="spiking net")
    fig_rf.nxny_marginals(cmp)
    print(f"JS distance {float(cmp['distance']):.3f} bits, 95% CI [{float(cmp['ci_low']):.3f}, "
          f"{float(cmp['ci_high']):.3f}], p (same as V1) = {float(cmp['p_value']):.3f}; "
          f"median nx {float(cmp['nx_median']):.2f} (V1: most cells 0.2-0.5), "
          f"{100 * float(cmp['frac_outside']):.0f}% of atoms beyond the V1 bins")
else:
    cmp = None
    print("too few accepted fits for a comparison (the dictionary is not yet Gabor-like)")

# %%
fig, axs = plt.subplots(1, 2, figsize=(7, 2.8))
fig_rf.orientation_histogram(fits, ax=axs[0])
fig_rf.frequency_histogram(fits, ax=axs[1])
fig.tight_layout()

# %% [markdown]
# ## 2.5 Reference: the same analysis on a scikit-learn dictionary
#
# scikit-learn's online dictionary learner (non-negative codes and atoms, same λ₁) on the
# same patches, so that the spiking net's nx-ny can be read against a standard sparse coder.

# %%
if saved is None:
    from attractorlab.models.baselines.sklearn_dictionary import sklearn_dictionary

    ref = sklearn_dictionary(X, fits.sizes["atom"], 0.3, n_samples=min(len(X), 4000 if SMOKE else 20000),
                             progress=False, snapshots=[0])
    fits_ref = rf.fit_gabors(rf.signed_atoms(ref["D"].values))
    print(f"scikit-learn: {int(fits_ref['good'].sum())} of {fits_ref.sizes['atom']} fits accepted")
    if int(fits_ref["good"].sum()) >= 3:
        cmp_ref = rf.compare_with_v1(fits_ref, v1_counts=v1.counts, edges=v1.edges, n_boot=200)
        ax = fig_rf.ringach_plot(fits_ref, v1_counts=v1.counts, edges=v1.edges, comparison=cmp_ref,
                                 label="scikit-learn", color="C0")
        print(f"scikit-learn JS distance {float(cmp_ref['distance']):.3f} bits")
