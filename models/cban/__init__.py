"""Convolutional bipartite attractor networks (CBAN; Iuzzolino et al., ICLR 2020 submission).

Pure dynamics in :mod:`.functional`, couplings in :mod:`.layers`, the weight-owning
module and builders in :mod:`.module`, losses in :mod:`.losses`, masks in
:mod:`.masks`, training in :mod:`.train`; task models in :mod:`.bars`, :mod:`.mnist`,
:mod:`.completion` and :mod:`.sr`. The experiments that use them (``cban_bars``,
``cban_mnist``, ``cban_omniglot``, ``cban_cifar10``, ``cban_sr``) are in
:mod:`attractorlab.experiments`.
"""

from .functional import (
    CBANParams,
    CBANState,
    CBANWeights,
    Evidence,
    SettleResult,
    activation,
    barrier,
    cban_step,
    energy,
    find_cycle,
    init_state,
    inverse_activation,
    replicated_evidence,
    settle,
    state_change,
    update_groups,
)
from .layers import ConvCoupling, DenseCoupling, avg_pool_adjoint, glorot01_std
from .losses import LOSSES, TD_MODES, state_loss, trajectory_loss
from .masks import bar_images, bar_masks, perlin_mask, perlin_noise, square_mask
from .module import CBAN, build_cban, build_fban
from .train import (
    Batch,
    TrainConfig,
    TrainingInterrupted,
    load_checkpoint,
    save_checkpoint,
    step_milestones,
    train,
    train_step,
)

__all__ = [
    "Batch",
    "CBAN",
    "CBANParams",
    "CBANState",
    "CBANWeights",
    "ConvCoupling",
    "DenseCoupling",
    "Evidence",
    "LOSSES",
    "SettleResult",
    "TD_MODES",
    "TrainConfig",
    "TrainingInterrupted",
    "activation",
    "avg_pool_adjoint",
    "bar_images",
    "bar_masks",
    "barrier",
    "build_cban",
    "build_fban",
    "cban_step",
    "energy",
    "find_cycle",
    "glorot01_std",
    "init_state",
    "load_checkpoint",
    "perlin_mask",
    "perlin_noise",
    "inverse_activation",
    "replicated_evidence",
    "save_checkpoint",
    "settle",
    "square_mask",
    "state_change",
    "state_loss",
    "step_milestones",
    "train",
    "train_step",
    "trajectory_loss",
    "update_groups",
]
