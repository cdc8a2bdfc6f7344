"""Brian2 equation strings of the Lin & Tang (2019) network (eqs 1-2, App. A) and Algorithm 1.

State is dimensionless and one model time unit is one Brian2 second (``tau = 1 second``).
Each neuron has a current ``mu`` and a potential ``rho`` (eq 2, tau = 1)::

    d mu / dt  = (beta - mu) / tau       (+ w at each incoming spike, synapses below)
    d rho / dt = mu / tau                 spike when rho >= theta, then rho <- 0

There is no leak on ``rho`` and no floor (rho may go negative).  ``U`` (``V`` for the
input layer) integrates ``mu`` over the current phase, so the mean current of a phase is
``U / T``; ``cnt`` counts the spikes of the current phase, so the rate is ``cnt / T``.
``gamma`` is read from the 1-D TimedArray ``gamma_ta`` (one value per phase) and the input
signal from the 2-D TimedArray ``x_ta`` (one row per sample).  Both are constant within a
phase, so the gate and the biases ``beta`` are set once per phase by the phase code
(``run_regularly`` at the start of the phase, before that step's state update) instead of
being looked up at every step.

Names in the namespace: ``tau`` (1 second), ``phase_len`` (T seconds), ``x_ta``,
``gamma_ta`` and, for learning, ``valid_ta`` (1 for real samples, 0 for padding).
"""

from __future__ import annotations

__all__ = [
    "CODING_EQS",
    "INPUT_EQS",
    "CODING_LEARNING_EQS",
    "INPUT_LEARNING_EQS",
    "CODING_THRESHOLD",
    "INPUT_THRESHOLD",
    "RESET",
    "FF_ON_PRE",
    "FB_ON_PRE",
    "LAT_ON_PRE",
    "LAT_ON_PRE_LEARNING",
    "PHASE_CODE_CODING",
    "PHASE_CODE_INPUT",
    "LEARN_CODE_CODING",
    "LEARN_CODE_INPUT",
    "LEARN_CODE_FF",
    "LEARN_CODE_FB",
    "LEARN_CODE_LAT",
    "SYNAPSE_EQS",
]

# --- neurons -------------------------------------------------------------------------------

CODING_EQS = """
dmu/dt = (beta - mu) / tau : 1            # current (eq 2)
drho/dt = mu / tau : 1                    # potential; no leak, no floor
dU/dt = mu / tau : 1                      # integral of mu over the current phase
beta : 1                                  # bias -(1 - gamma) lam1 s (App. A), set per phase
gamma : 1 (shared)                        # feedback gate of the current phase
theta : 1                                 # threshold theta_i = H_ii
s : 1                                     # l1 weight of atom i (S = diag(s))
cnt : 1                                   # spikes in the current phase
lam1 : 1 (shared, constant)               # sparsity weight lambda_1
"""

INPUT_EQS = """
dmu/dt = (beta - mu) / tau : 1
drho/dt = mu / tau : 1
dV/dt = mu / tau : 1                      # integral of mu over the current phase
beta : 1                                  # bias (1 - gamma) x_i (App. A), set per phase
gamma : 1 (shared)
cnt : 1
"""

# Extra state for Algorithm 1 (coding layer): phase-0 statistics, the learning signal g_H
# of eq (10) and the learning rates of the current sample.
CODING_LEARNING_EQS = """
inh : 1                                   # sum_j W_ij * (spikes of j) in the current phase
a0 : 1                                    # rate at gamma = 0
e0 : 1                                    # e = u - theta a at gamma = 0 (eq 8)
inh0 : 1                                  # (W a_0)_i
ak : 1                                    # rate at gamma = kappa
gH : 1                                    # g_H of eq (10)
etaD0 : 1 (shared, constant)
etaH0 : 1 (shared, constant)
lam2 : 1 (shared, constant)               # weight decay lambda_2 shared by all atoms
lam2_gain : 1 (shared, constant)          # gain g of the unit-norm rule g lam1 a_kappa,i theta_i (0: off)
lam2_i : 1                                # weight decay of atom i in this sample's update
kap : 1 (shared, constant)                # kappa used in eqs (9)-(12)
p0 : 1 (shared, constant)
sched : 1 (shared, constant)              # 0: constant rates, 1: eta0 / (1 + p / p0)
p_offset : 1 (shared, constant)           # samples seen before this simulation
theta_min : 1 (shared, constant)
etaD_now : 1 (shared)
etaH_now : 1 (shared)
phmid : 1 (shared)                        # 1 at the end of phase 0, 0 at a sample boundary
upd : 1 (shared)                          # 1 at a boundary where an update is applied
n_updates : 1 (shared)                    # number of per-sample updates applied
"""

INPUT_LEARNING_EQS = """
b0 : 1                                    # rate at gamma = 0
gD : 1                                    # g_D = b_kappa - b_0 (eq 9)
phmid : 1 (shared)
upd : 1 (shared)
"""

CODING_THRESHOLD = "rho >= theta"
INPUT_THRESHOLD = "rho >= 1"
RESET = "rho = 0; cnt += 1"

# --- synapses ------------------------------------------------------------------------------

SYNAPSE_EQS = "w : 1"
FF_ON_PRE = "mu_post += w"                     # input j -> coding i, w = F_ij
FB_ON_PRE = "mu_post += gamma_post * w"        # coding j -> input k, w = B_kj
LAT_ON_PRE = "mu_post -= w"                    # coding j -> coding i, w = W_ij >= 0
LAT_ON_PRE_LEARNING = "mu_post -= w\ninh_post += w"

# --- phase bookkeeping (run_regularly every phase, when='start') -------------------------
# At t = k T: ``mid`` = 1 at the end of phase 0 (middle of a sample), 0 at a sample
# boundary, where the per-sample state mu = rho = 0 is restored (PAPERS.md I.7(4)).

PHASE_CODE_CODING = """
gamma = gamma_ta(t)
mid = int(t / phase_len + 0.5) % 2
beta = -(1 - gamma) * lam1 * s
cnt = 0
U = 0
mu = mid * mu
rho = mid * rho
"""

PHASE_CODE_INPUT = """
gamma = gamma_ta(t)
mid = int(t / phase_len + 0.5) % 2
beta = (1 - gamma) * x_ta(t, i)
cnt = 0
V = 0
mu = mid * mu
rho = mid * rho
"""

# --- Algorithm 1 (run_regularly every phase, when='start', order 0) ----------------------
# ``upd`` = 1 at the end of phase 1 of a real (not padding) sample, t > 0; ``phmid`` = 1 at
# the end of phase 0.  (Shared variables, not temporaries: Brian2 treats temporaries that
# call functions as vectors, and scalar writes must come first.)

LEARN_CODE_CODING = """
gamma = gamma_ta(t)
phmid = int(t / phase_len + 0.5) % 2
upd = (1 - phmid) * int(t > 0*second) * int(valid_ta(t - phase_len) > 0.5)
etaD_now = etaD0 / (1 + sched * (p_offset + int(t / (2 * phase_len) + 0.5) - 1) / p0)
etaH_now = etaH0 / (1 + sched * (p_offset + int(t / (2 * phase_len) + 0.5) - 1) / p0)
n_updates += upd
a_cur = cnt / (phase_len / second)
e_cur = U / (phase_len / second) - theta * a_cur
inh_cur = inh / (phase_len / second)
gH = upd * ((1 - kap) * (inh0 - inh_cur + theta * (a0 - a_cur)) + (1 - kap) * e0 - e_cur)
ak = upd * a_cur + (1 - upd) * ak
a0 = phmid * a_cur + (1 - phmid) * a0
e0 = phmid * e_cur + (1 - phmid) * e0
inh0 = phmid * inh_cur + (1 - phmid) * inh0
lam2_i = lam2 + lam2_gain * lam1 * ak * theta
theta = upd * clip(theta - etaH_now * gH * ak / kap - 2 * etaD_now * lam2_i * theta, theta_min, inf) + (1 - upd) * theta
s = theta
beta = -(1 - gamma) * lam1 * s
cnt = 0
U = 0
inh = 0
mu = phmid * mu
rho = phmid * rho
"""

LEARN_CODE_INPUT = """
gamma = gamma_ta(t)
phmid = int(t / phase_len + 0.5) % 2
upd = (1 - phmid) * int(t > 0*second) * int(valid_ta(t - phase_len) > 0.5)
beta = (1 - gamma) * x_ta(t, i)
b_cur = cnt / (phase_len / second)
gD = upd * (b_cur - b0)
b0 = phmid * b_cur + (1 - phmid) * b0
cnt = 0
V = 0
mu = phmid * mu
rho = phmid * rho
"""

# eq (11): F_ij <- F_ij - eta_D (a_i g_j / kappa + lam2_i F_ij), projected onto >= 0
LEARN_CODE_FF = "w = clip(w - upd_post * etaD_now_post * (ak_post * gD_pre / kap_post + lam2_i_post * w), 0, inf)"
# eq (11): B_kj <- B_kj - eta_D (a_j g_k / kappa + lam2_j B_kj)
LEARN_CODE_FB = "w = clip(w - upd_pre * etaD_now_pre * (ak_pre * gD_post / kap_pre + lam2_i_pre * w), 0, inf)"
# eq (12), off-diagonal: H_ij <- H_ij - eta_H g_H,i a_j / kappa - eta_D (lam2_i + lam2_j) H_ij
# (F B decays at eta_D (lam2_i + lam2_j) to first order; = 2 eta_D lam2 for a shared lam2)
LEARN_CODE_LAT = (
    "w = clip(w - upd_post * (etaH_now_post * gH_post * ak_pre / kap_post"
    " + etaD_now_post * (lam2_i_post + lam2_i_pre) * w), 0, inf)"
)
