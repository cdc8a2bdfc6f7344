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
# # 3. CBAN attractor dynamics: energy descent, fixed points versus cycles, dreams, basins
#
# A bipartite attractor net updates each layer in parallel, $x^l \leftarrow f(W^{l-1}x^{l-1}
# + W^{l\,T}x^{l+1} + b^l)$, sweeping up and down. With tied (symmetric) weights every layer
# update lowers the energy (CBAN eq 5), so the state settles to a fixed point; untied
# weights (CBAN-asym) have no energy and can cycle (Figs 5-6). We train two small
# fully connected nets (FBAN 25 → 48 → 24, §4.1/App D.1) on the bar-completion task, one
# symmetric and one not, and analyse both with `attractorlab.analysis.attractors`, which
# sees only arrays and callables.

# %%
import os

import matplotlib

if "JPY_PARENT_PID" not in os.environ:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from attractorlab.analysis import attractors
from attractorlab.analysis.figures import attractors as fig_att
from attractorlab.models.cban import (CBANParams, Batch, Evidence, TrainConfig, bar_images, bar_masks,
                                      build_fban, train)

torch.set_num_threads(1)
SMOKE = os.environ.get("ATTRACTORLAB_SMOKE", "0") == "1"
EPOCHS = 30 if SMOKE else 150
print("smoke mode" if SMOKE else "full mode", "- epochs:", EPOCHS)

# %% [markdown]
# ## 3.1 Train on bars
#
# 20 images of two horizontal or two vertical bars (±1). Evidence: a random pixel subset
# that admits exactly one completion (redrawn every batch). Loss ΔE+ with TD(1), SGD with
# per-layer normalised gradients (SGD-L2). The paper uses lr 0.01 → 0.001; for a notebook
# we use 0.1 → 0.01 so that a few hundred steps suffice.

# %%
IMGS = bar_images(5)


def batches(epoch, gen):
    for _ in range(10):
        t = IMGS[torch.randint(0, 20, (20,), generator=gen)]
        hidden = bar_masks(t, generator=gen)
        yield Batch(Evidence(t.flatten(1), ~hidden.flatten(1)), t.flatten(1))


cfg = TrainConfig(loss="delta_e_plus", optimizer="sgd_l2", lr=0.1, lr_milestones=(int(0.7 * EPOCHS),),
                  epochs=EPOCHS, progress=False, seed=0)
params = CBANParams(theta=0.01, max_iter=100)
nets = {}
for name, sym in (("symmetric", True), ("asymmetric", False)):
    nets[name] = build_fban(sizes=(25, 48, 24), params=params, symmetric=sym, seed=0)
    hist = train(nets[name], batches, cfg)
    print(f"{name:>10}: final epoch loss {hist['loss'][-1]:.3f}, mean iterations {hist['iters'][-1]:.1f}")

# %%
gen = torch.Generator().manual_seed(123)
test_t = IMGS[torch.randint(0, 20, (1000,), generator=gen)]
test_hidden = bar_masks(test_t, generator=gen)
test_ev = Evidence(test_t.flatten(1), ~test_hidden.flatten(1))
for name, net in nets.items():
    with torch.no_grad():
        res = net.settle(test_ev, max_iter=200)
    acc = (torch.sign(res.state.x[0]) == test_t.flatten(1)).all(1).float().mean().item()
    print(f"{name:>10}: whole-image accuracy {100 * acc:.1f}% on 1000 evidence states "
          f"(paper, symmetric: 99.995%), converged {res.converged.float().mean().item():.3f}")
    if name == "symmetric":
        assert acc > 0.6, "the symmetric net should have learned the task"

# %% [markdown]
# ## 3.2 Energy descent and convergence
#
# Record the trajectory of 50 evidence states, stack all layers into one state vector per
# sample, and compute the maximum change and the energy per iteration.

# %%
def trajectory(net, ev, n_iter):
    with torch.no_grad():
        s0 = net.init_state(ev)
        res = net.settle(ev, s0, theta=1e-12, max_iter=n_iter, min_iter=n_iter, record=True)
    states = [s0] + res.trajectory
    x = np.stack([np.concatenate([l.flatten(1).numpy() for l in s.x], 1) for s in states])  # (T, B, units)
    with torch.no_grad():
        e = np.stack([net.energy(s, ev).numpy() for s in states]) if net.symmetric else None
    return x, e


ev50 = Evidence(test_ev.value[:50], test_ev.mask[:50])
x_sym, e_sym = trajectory(nets["symmetric"], ev50, 60)
curve = attractors.convergence_curve(x_sym, energy=e_sym, sample_axis=1, theta=params.theta)
axes = fig_att.convergence_plot(curve, label="symmetric FBAN, median of 50")
rises = np.diff(e_sym, axis=0)
print("largest energy increase along any trajectory:", float(rises.max()), "(float32 round-off scale)")
assert rises.max() < 1e-4
print("t* (iterations to max change < θ): median", np.median(curve["t_star"].values))

# %% [markdown]
# ## 3.3 Fixed points versus cycles
#
# Each trajectory is run 200 iterations and tested for a revisit of its last state within
# 1e-5 (period 1 = fixed point; "none" = neither within 300 iterations and periods up to
# 50: a long transient or chaotic wandering). The untied net has no energy function;
# Koiran's guarantee (fixed point or 2-cycle) does not hold for it. A random untied net
# (weights s.d. 0.3, seed chosen to show cycles) shows all three behaviours.

# %%
def classify(net, ev, n_iter=300):
    x, _ = trajectory(net, ev, n_iter)
    out = [attractors.detect_cycle(x[:, b], tol=1e-5, max_period=50) for b in range(x.shape[1])]
    return x, out


summary = {}
for name, net in nets.items():
    x, cyc = classify(net, ev50)
    kinds = [c["kind"] for c in cyc]
    summary[name] = {k: kinds.count(k) for k in ("fixed_point", "cycle", "none")}
    summary[name]["periods"] = sorted({c["period"] for c in cyc if c["kind"] == "cycle"})
print(summary)
assert summary["symmetric"]["cycle"] == 0

wild = build_fban(sizes=(25, 48, 24), params=params, symmetric=False, init_std=0.3, seed=1)
x_wild, cyc_wild = classify(wild, ev50)
kinds = [c["kind"] for c in cyc_wild]
print("random untied net (std 0.3):", {k: kinds.count(k) for k in ("fixed_point", "cycle", "none")},
      "periods:", sorted({c["period"] for c in cyc_wild if c["kind"] == "cycle"}))
pick = next((b for b, c in enumerate(cyc_wild) if c["kind"] == "cycle"), 0)
fig, axs = plt.subplots(1, 2, figsize=(8, 2.8))
fig_att.cycle_plot(x_sym[:, 0], ax=axs[0], cycle=attractors.detect_cycle(x_sym[:, 0], tol=1e-5), last=30)
axs[0].set_title("symmetric FBAN: " + axs[0].get_title(), fontsize=8)
fig_att.cycle_plot(x_wild[:, pick], ax=axs[1], cycle=cyc_wild[pick], last=30)
axs[1].set_title("random untied net: " + axs[1].get_title(), fontsize=8)

# %% [markdown]
# Distance between the fixed points the two trained nets reach from the same evidence
# (visible layer only, since their hidden codes need not match):

# %%
with torch.no_grad():
    vis = {n: net.settle(ev50, max_iter=200).state.x[0] for n, net in nets.items()}
d = attractors.fixed_point_distance(vis["symmetric"], vis["asymmetric"], norm="rms", sample_axis=0)
print(f"RMS visible-state distance, symmetric vs asymmetric: median {np.median(d):.3f}, max {d.max():.3f}")

# %% [markdown]
# ## 3.4 Dream states
#
# ṽ = f(top-down input + b) is what the net "believes" the visible layer should be, even
# where it is clamped (CBAN §3.2, Figs 4 and 11).

# %%
net = nets["symmetric"]
with torch.no_grad():
    st = net.settle(ev50).state
n_show = 6
fig, axs = plt.subplots(4, n_show, figsize=(n_show * 1.1, 4.6))
rows = [("target", test_t[:n_show]),
        ("evidence", torch.where(test_hidden[:n_show], torch.zeros(()), test_t[:n_show])),
        ("completion", st.x[0][:n_show].reshape(-1, 5, 5)),
        ("dream ṽ", st.v_free[:n_show].reshape(-1, 5, 5))]
for r, (title, imgs) in enumerate(rows):
    for c in range(n_show):
        axs[r, c].imshow(imgs[c].numpy(), cmap="gray", vmin=-1, vmax=1)
        axs[r, c].set_xticks([]); axs[r, c].set_yticks([])
    axs[r, 0].set_ylabel(title, fontsize=8)
fig.suptitle("grey = unobserved (0); values in [-1, 1]", fontsize=8)

# %% [markdown]
# ## 3.5 Basins: how much contrary evidence flips the completion?
#
# Take one image with a fixed set of observed pixels (about 60%), flip the sign of a
# growing fraction of the observed pixels (random choices), settle, and ask whether the
# *inferred* (unobserved) pixels still form the same completion.

# %%
rng = np.random.default_rng(0)
img0 = IMGS[3].flatten()
mask0 = torch.as_tensor(rng.random(25) < 0.6)
obs_idx = np.flatnonzero(mask0.numpy())


def settle_image(values):
    ev = Evidence(torch.as_tensor(values, dtype=torch.float32)[None], mask0[None])
    with torch.no_grad():
        return torch.sign(net.settle(ev, max_iter=200).state.x[0])[0][~mask0].numpy()


def flip_observed(e, size, rng):
    out = e.copy()
    k = int(round(size * obs_idx.size))
    idx = rng.choice(obs_idx, size=k, replace=False)
    out[idx] = -out[idx]
    return out


ref = settle_image(img0.numpy())
print("unperturbed completion correct:", bool((ref == img0.numpy()[~mask0.numpy()]).all()))
sizes = [0.0, 0.1, 0.2, 0.3, 0.5] if SMOKE else [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5]
basin = attractors.basin_scan(settle_image, img0.numpy(), sizes, n_directions=8 if SMOKE else 32,
                              perturbation=flip_observed, tol=0.5, seed=0)
basin["size"].attrs["long_name"] = "fraction of observed pixels flipped"
fig_att.basin_plot(basin)
returned = {s: round(float(f), 2) for s, f in zip(sizes, basin["fraction_same"].values)}
print(f"{obs_idx.size} observed pixels; fraction returning per size:", returned, "; radius:", float(basin["radius"]))

# %% [markdown]
# ## 3.6 Convolutional CBANs trained on Omniglot: settling, residuals and energy
#
# The same analysis on the convolutional nets of the Omniglot experiment (§4.3). When a
# finished `cban_omniglot` run exists (`attractorlab run cban_omniglot --preset cpu`, about 3 h
# on 2 cores; its `run.json` says "complete"), its trained CBAN and CBAN-asym are loaded with
# `load_completion_model`; otherwise a smoke-size run (tiny nets, a few hundred images) is
# trained here first, so the cells always run. Each net settles on masked test images without
# a threshold; the residual max |x(t) − x(t−1)| falls towards 0 at a fixed point and stays up
# on a limit cycle.

# %%
import json
import tempfile
from pathlib import Path

from attractorlab.experiments import run_experiment
from attractorlab.models.cban.completion import CompletionConfig, fixed_masks, load_completion_model, trace_settling
from attractorlab.models.cban.datasets import omniglot_images
from attractorlab.results import results_root


def finished(run_dir):
    info = Path(run_dir) / "run.json"
    return info.exists() and json.loads(info.read_text()).get("status") == "complete"


run_dir = results_root() / "cban_omniglot" / "cpu"
if not SMOKE and finished(run_dir):
    print("trained models of", run_dir)
else:
    run_dir = Path(tempfile.mkdtemp()) / "omniglot_smoke"
    run_experiment("cban_omniglot", "smoke", {"variants": ["cban", "cban_asym"], "n_test": 8}, out_dir=run_dir)
    print("no finished cpu run (or smoke mode): smoke-size models trained in", run_dir)
conv = {name: load_completion_model(run_dir, name) for name in ("cban", "cban_asym")}
test_x = omniglot_images("test", limit=8, seed=0)
observed = fixed_masks(test_x, CompletionConfig(mask="squares"), seed=1)
traces = {name: trace_settling(net, test_x, observed, iters=60) for name, net in conv.items()}
fig, axs = plt.subplots(1, 2, figsize=(8, 2.8))
for i, (name, tr) in enumerate(traces.items()):
    axs[0].semilogy(np.arange(1, 61), np.maximum(tr["residual"], 1e-12), color=f"C{i}", alpha=0.6)
    axs[1].plot(np.arange(1, 61), tr["energy"] - tr["energy"].min(0), color=f"C{i}", alpha=0.6)
    axs[0].plot([], [], color=f"C{i}", label=name)
axs[0].set_xlabel("iteration"); axs[0].set_ylabel("residual"); axs[0].legend(fontsize=8)
axs[1].set_xlabel("iteration"); axs[1].set_ylabel("energy − its minimum")
rises = np.diff(traces["cban"]["energy"], axis=0)
print("symmetric conv CBAN, largest energy increase along 60 iterations:", float(rises.max()))
assert rises.max() < 1e-3 * max(1.0, float(np.abs(traces["cban"]["energy"]).max()))
