"""Training loop for CBAN/FBAN: BPTT through the settling dynamics ([CB] §3.3, App D).

One training step settles the net on a batch of evidence (recording every iteration),
applies the loss of :mod:`.losses` (TD(1) at every iteration by default, TD(λ), final
step only = CBAN-noTD, or the stationary phase), back-propagates through time and
takes an optimiser step:

``"sgd_l2"``
    SGD with each parameter tensor's batch gradient rescaled to L2 norm 1 (SGD-L2, D.1;
    bar task lr 0.01 -> 0.001).
``"sgd_linf"``
    same with the max-norm (SGD-Linf, D.2; MNIST lr 0.01).
``"adam"``
    Adam (D.3-D.5; lr 5e-4, ÷10 every 20 epochs after epoch 100).
``"sgd"``
    plain SGD.

Stationary-phase training (``td="stationary"``) settles without gradient to ``t*``,
then runs ``stationary_steps`` more iterations with gradient and applies the loss at
each of them (a truncated stand-in for Almeida/Pineda back-propagation).

:func:`train` runs epochs over a user function ``batches(epoch, generator)`` that yields
:class:`Batch` es (so masks can be redrawn every epoch), shows tqdm progress with loss
and mean settling iterations, and checkpoints atomically (model, optimiser, history,
epoch) so an interrupted run resumes where it stopped.

**Several processes (torchrun).** Launched by ``torchrun``, :func:`train` trains with
DistributedDataParallel (:mod:`~attractorlab.models.cban.distributed`; backend gloo on the CPU, nccl on CUDA with
one GPU per process): every process draws the same batches, settles its own equal share of
each (batch size / processes), and the gradients are all-reduced, so the step is that of
the whole batch in one process, to float rounding; settling runs until every sample of the
whole batch has converged. Only rank 0 writes the checkpoint (and, through
:func:`attractorlab.results.atomic_path`, every result and figure); on resume every rank
loads it. For example, an experiment on 2 processes (``workers=1``: the completion
experiments' own worker processes are not used under torchrun)::

    torchrun --nproc-per-node 2 -m attractorlab run cban_omniglot --preset cpu --set workers=1

A run on N processes is faster only when each has cores (or a GPU) of its own: on a 2-core
machine, 2 processes of 1 thread each do the same arithmetic as 1 process of 2 threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import torch
from torch import Tensor

from attractorlab.results import atomic_path, check_resume, plain_config

from .distributed import DataParallel, init_from_env
from .functional import Evidence
from .losses import LOSSES, trajectory_loss
from .module import CBAN

__all__ = [
    "TrainConfig",
    "TrainingInterrupted",
    "Batch",
    "make_optimizer",
    "normalise_gradients",
    "learning_rate",
    "theta_at",
    "train_step",
    "train",
    "save_checkpoint",
    "load_checkpoint",
    "check_resume",
    "read_checkpoint",
    "step_milestones",
]

OPTIMIZERS = ("sgd_l2", "sgd_linf", "adam", "sgd")
TRAIN_TD = ("td1", "td_lambda", "final", "stationary")
#: TrainConfig fields that say how a run executes, not what it learns: a resumed run may
#: change them. Every other field (loss, optimiser, rate schedule, epochs, thresholds,
#: seed, ...) is part of the checkpoint's fingerprint and must match.
RUNTIME_FIELDS = ("device", "progress", "checkpoint_every", "checkpoint_minutes", "compile", "channels_last")


class TrainingInterrupted(RuntimeError):
    """Raised by :func:`train` when its ``should_stop()`` hook asked to stop (after checkpointing)."""


def step_milestones(start: int, every: int, count: int) -> tuple[int, ...]:
    """Epochs ``start, start+every, ...`` (``count`` of them) for ``lr_milestones``.

    ``step_milestones(100, 20, 5)`` gives Omniglot's "÷10 every 20 epochs after epoch 100".
    """
    if every < 1 or count < 0 or start < 0:
        raise ValueError(f"need start >= 0, every >= 1, count >= 0; got {start}, {every}, {count}")
    return tuple(start + every * i for i in range(count))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings.

    Parameters
    ----------
    loss : {"se", "delta_e", "delta_e_plus", "hinge"}
        Loss of :mod:`.losses` (ΔE+ bar/MNIST, SE Omniglot/CIFAR/SR).
    td : {"td1", "td_lambda", "final", "stationary"}
        Where the loss is applied (TD(1) in every paper run; "final" = CBAN-noTD).
    td_lambda : float
        λ for ``td="td_lambda"``, in [0, 1].
    stationary_steps : int
        Iterations with gradient after convergence for ``td="stationary"``.
    optimizer : {"sgd_l2", "sgd_linf", "adam", "sgd"}
    lr : float
        Initial learning rate (> 0).
    lr_milestones : tuple of int
        Epochs (0-based) at whose start the rate is multiplied by ``lr_gamma``.
    lr_gamma : float
        Factor at each milestone (0.1).
    weight_decay : float
        L2 weight decay (>= 0; 0 in every paper run): decoupled (AdamW) for ``"adam"``,
        added to the gradient after renormalisation for the SGD variants.
    theta_milestones : tuple of (int, float)
        ``(epoch, theta)``: from that epoch on use this convergence threshold (SR: 0.1 at
        mid-training). Before the first, the model's ``params.theta`` is used.
    max_iter : int or None
        Iteration cap during training (default: the model's ``params.max_iter``).
    epochs : int
        Number of epochs (>= 1).
    bf16 : bool
        bf16 autocast on CUDA (ignored on CPU).
    compile : bool
        ``torch.compile`` the iteration (:meth:`CBAN.compile_step`; CUDA only, as on the
        CPU it gave no training gain beyond ``channels_last``, see
        ``benchmarks/cban_settling.py``).
    channels_last : bool
        Keep convolutional weights and states in channels-last memory order (oneDNN's
        preferred layout on the CPU: about 1.1-1.3x faster training there). The values
        agree with the default layout to float rounding.
    device : str
        "cpu", "cuda", "cuda:0", ...
    checkpoint_every : int
        Checkpoint every N epochs (0: only at the end) when a path is given.
    checkpoint_minutes : float
        Also checkpoint inside an epoch once this many minutes of training have passed
        since the last checkpoint (0: never), so a long epoch interrupted at the end of a
        session loses at most that much. A resumed run skips the batches already trained
        in that epoch (they are still drawn, so the masks that follow are the same) and
        ends with the weights of an uninterrupted run.
    progress : bool
        tqdm progress bars.
    seed : int
        Seeds the per-epoch generator passed to ``batches``.
    """

    loss: str = "delta_e_plus"
    td: str = "td1"
    td_lambda: float = 1.0
    stationary_steps: int = 1
    optimizer: str = "sgd_l2"
    lr: float = 0.01
    lr_milestones: tuple = ()
    lr_gamma: float = 0.1
    weight_decay: float = 0.0
    theta_milestones: tuple = ()
    max_iter: int | None = None
    epochs: int = 1
    bf16: bool = False
    compile: bool = False
    channels_last: bool = False
    device: str = "cpu"
    checkpoint_every: int = 0
    checkpoint_minutes: float = 10.0
    progress: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.td not in TRAIN_TD:
            raise ValueError(f"td must be one of {TRAIN_TD}, got {self.td!r}")
        if not 0.0 <= self.td_lambda <= 1.0:
            raise ValueError(f"td_lambda must be in [0, 1], got {self.td_lambda}")
        if self.stationary_steps < 1:
            raise ValueError(f"stationary_steps must be >= 1, got {self.stationary_steps}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not self.lr_gamma > 0:
            raise ValueError(f"lr_gamma must be > 0, got {self.lr_gamma}")
        if self.max_iter is not None and self.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1 or None, got {self.max_iter}")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be an int >= 1, got {self.epochs!r}")
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")
        if not self.checkpoint_minutes >= 0:
            raise ValueError(f"checkpoint_minutes must be >= 0 (0: only at epoch ends), got {self.checkpoint_minutes}")
        for item in self.theta_milestones:
            if len(item) != 2 or not item[1] > 0:
                raise ValueError(f"theta_milestones entries must be (epoch, theta > 0), got {item!r}")
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))
        object.__setattr__(self, "theta_milestones", tuple((int(e), float(t)) for e, t in self.theta_milestones))


class Batch(NamedTuple):
    """One training batch.

    Attributes
    ----------
    evidence : Evidence
    target : Tensor, shape of the visible layer
        Target visible state ``y`` (values in [-1, 1]).
    weight : Tensor or None
        Per-unit loss weights broadcastable to the visible layer (None = all 1).
    """

    evidence: Evidence
    target: Tensor
    weight: Tensor | None = None


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """Learning rate in ``epoch`` (0-based) under the step schedule."""
    n = sum(1 for m in config.lr_milestones if epoch >= m)
    return config.lr * config.lr_gamma**n


def theta_at(config: TrainConfig, epoch: int, default: float) -> float:
    """Convergence threshold in ``epoch`` under ``theta_milestones``."""
    theta = default
    for e, t in sorted(config.theta_milestones):
        if epoch >= e:
            theta = t
    return theta


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``config`` (SGD for the normalised variants, or Adam / AdamW)."""
    if config.optimizer == "adam":
        if config.weight_decay > 0:
            return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        return torch.optim.Adam(model.parameters(), lr=config.lr)
    return torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


@torch.no_grad()
def normalise_gradients(model: torch.nn.Module, norm: str) -> None:
    """Rescale each parameter tensor's gradient to norm 1 (``"l2"`` or ``"linf"``), in place.

    SGD-L2 / SGD-Linf of App D.1-D.2: "the gradients in a given layer of weights are
    renormalized to be 1.0 for a batch". Zero gradients are left at zero.
    """
    if norm not in ("l2", "linf"):
        raise ValueError(f"norm must be 'l2' or 'linf', got {norm!r}")
    for p in model.parameters():
        if p.grad is None:
            continue
        n = p.grad.norm() if norm == "l2" else p.grad.abs().max()
        if n > 0:
            p.grad.div_(n)


def _autocast(config: TrainConfig, device: torch.device):
    if config.bf16 and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(
    model: CBAN,
    batch: Batch,
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    *,
    theta: float | None = None,
    parallel: DataParallel | None = None,
) -> dict:
    """One optimisation step on ``batch``; returns ``{"loss", "iters", "converged"}``.

    ``loss`` is the scalar training loss, ``iters`` the mean settling iterations ``t*``
    over the batch, ``converged`` the fraction of samples that met ``theta``.

    With ``parallel`` (a :class:`~.distributed.DataParallel` wrapping ``model``, as
    :func:`train` makes under torchrun) every process passes the same full ``batch``: each
    settles its own chunk, the gradients are all-reduced, and the returned values are those
    of the full batch.
    """
    device = next(model.parameters()).device
    p = model.params
    max_iter = config.max_iter if config.max_iter is not None else p.max_iter
    factor, n_local = 1.0, None
    if parallel is not None:
        n_total = int(batch.target.shape[0])
        batch, n_local, factor = parallel.shard(batch)
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with _autocast(config, device):
        if config.td == "stationary":
            stop = None if parallel is None else parallel.all_done
            with torch.no_grad():
                res0 = model.settle(batch.evidence, theta=theta, max_iter=max_iter, all_done=stop)
            state = res0.state
            if parallel is None:
                traj = []
                for _ in range(config.stationary_steps):
                    state = model.step(state, batch.evidence)
                    traj.append(state)
            else:  # the same iterations, run through DDP's forward so that the backward pass all-reduces
                k = config.stationary_steps
                traj = parallel(batch.evidence, state=state, max_iter=k, min_iter=k, record=True).trajectory
            loss = trajectory_loss(traj, batch.target, kind=config.loss, params=p, td="td1", weight=batch.weight)
            res = res0
        else:
            settle = model.settle if parallel is None else parallel
            extra = {} if parallel is None else {"all_done": parallel.all_done}
            res = settle(batch.evidence, theta=theta, max_iter=max_iter, record=True, **extra)
            loss = trajectory_loss(
                res.trajectory, batch.target, kind=config.loss, params=p, td=config.td,
                lam=config.td_lambda, weight=batch.weight,
            )
    if parallel is None:
        out = {
            "loss": float(loss.detach()),
            "iters": float(res.iters_per_sample.float().mean()),
            "converged": float(res.converged.float().mean()),
        }
    else:  # full-batch values: sums over the ranks' real samples (a padding sample counts 0)
        real = slice(0, n_local)
        sums = parallel.ctx.sum([float(loss.detach()) * n_local,
                                 float(res.iters_per_sample[real].float().sum()),
                                 float(res.converged[real].float().sum())])
        out = {"loss": sums[0] / n_total, "iters": sums[1] / n_total, "converged": sums[2] / n_total}
    if not math.isfinite(out["loss"]):  # the full batch's loss: every rank stops together
        raise FloatingPointError(f"non-finite training loss {out['loss']}")
    (loss * factor if parallel is not None else loss).backward()
    if config.optimizer == "sgd_l2":
        normalise_gradients(model, "l2")
    elif config.optimizer == "sgd_linf":
        normalise_gradients(model, "linf")
    optimizer.step()
    return out


def save_checkpoint(path: str | Path, model: CBAN, optimizer, epoch: int, history: dict, config: TrainConfig,
                    run_config: dict | None = None, partial: dict | None = None) -> Path:
    """Write model/optimiser state, finished ``epoch``, history and configs to ``path`` atomically.

    ``run_config`` holds the caller's settings that define the run (data, masks, coding);
    :func:`load_checkpoint` refuses to resume under different ones. ``partial`` records an
    epoch in progress (``epoch`` + 1): ``batches`` trained so far, their ``losses``,
    ``iters``, ``converged`` and ``seconds``; ``history`` then ends at the last finished epoch.
    """
    path = Path(path)
    blob = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": int(epoch),
        "history": history,
        "config": dataclasses.asdict(config),
        "params": dataclasses.asdict(model.params),
        "run_config": plain_config(run_config or {}),
        "partial": partial,
    }
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)
    return path


def load_checkpoint(path: str | Path, model: CBAN, optimizer=None, *, config: TrainConfig | None = None,
                    run_config: dict | None = None) -> tuple[int, dict]:
    """Load a checkpoint into ``model`` (and ``optimizer``); returns ``(epoch, history)``.

    With ``config`` / ``run_config`` given, first checks that the checkpoint was written
    under the same training settings (every :class:`TrainConfig` field except
    :data:`RUNTIME_FIELDS`) and the same run settings (every key of either), and raises
    ValueError naming each difference otherwise.
    """
    blob = read_checkpoint(path, map_location=next(model.parameters()).device)
    return _restore(blob, path, model, optimizer, config, run_config)


def _restore(blob: dict, path, model: CBAN, optimizer, config, run_config) -> tuple[int, dict]:
    if config is not None:
        check_resume(path, _fingerprint(blob.get("config", {})), _fingerprint(dataclasses.asdict(config)),
                     "training configuration")
    if run_config is not None:
        check_resume(path, blob.get("run_config", {}), run_config, "run configuration")
    model.load_state_dict(blob["model"])
    if optimizer is not None:
        optimizer.load_state_dict(blob["optimizer"])
    return int(blob["epoch"]), dict(blob["history"])


def _fingerprint(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in RUNTIME_FIELDS}


def read_checkpoint(path: str | Path, map_location=None) -> dict:
    """The dict stored by :func:`save_checkpoint` at ``path``.

    Raises ValueError naming the file (and how to start over) when it is truncated or
    not a checkpoint, instead of torch's unpickling error.
    """
    path = Path(path)
    try:
        blob = torch.load(path, map_location=map_location, weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as exc:  # truncated zip, garbage, wrong pickle
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {exc}); it is damaged or not a "
            "checkpoint. Delete it to start this run again from scratch."
        ) from None
    if not isinstance(blob, dict) or "model" not in blob or "epoch" not in blob:
        raise ValueError(f"checkpoint {str(path)!r} does not hold a CBAN training state (no 'model'/'epoch'); "
                         "delete it to start this run again from scratch.")
    return blob


def train(
    model: CBAN,
    batches: Callable[[int, torch.Generator], Iterable[Batch]],
    config: TrainConfig,
    *,
    checkpoint: str | Path | None = None,
    resume: bool = True,
    callback: Callable[[int, dict], None] | None = None,
    run_config: dict | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Train ``model`` for ``config.epochs`` epochs.

    Parameters
    ----------
    model : CBAN
        Moved to ``config.device``.
    batches : callable
        ``batches(epoch, generator)`` yields :class:`Batch` es for one epoch (tensors on
        any device; they are moved). Draw masks from ``generator`` (seeded by
        ``config.seed`` and the epoch, so a resumed run sees the same data).
    config : TrainConfig
    checkpoint : path, optional
        Checkpoint file; with ``resume=True`` an existing one is loaded first and the
        run continues after its last finished epoch.
    callback : callable, optional
        ``callback(epoch, history)`` after every epoch (e.g. evaluation); it may add
        keys to ``history``. Returning True stops training after this epoch (the
        checkpoint is written first; rerunning resumes).
    run_config : dict, optional
        The caller's settings that define the run (data, masks, coding), stored in the
        checkpoint. Resuming raises ValueError if they, or the fields of ``config``
        other than :data:`RUNTIME_FIELDS`, differ from the checkpoint's.
    should_stop : callable, optional
        ``should_stop()`` is asked after every batch; when it returns True the epoch so far is
        checkpointed (as by ``checkpoint_minutes``) and :class:`TrainingInterrupted` is
        raised, so a worker whose run was killed stops within a batch and loses nothing.

    Returns
    -------
    dict
        History lists: ``epoch``, ``loss`` (epoch mean), ``iters`` (mean settling
        iterations), ``converged``, ``lr``, ``theta``, ``batch_loss`` (every batch),
        ``epoch_seconds`` (wall time of each epoch's training steps; kept over resumes).

    Notes
    -----
    Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is trained data-parallel
    (:mod:`~attractorlab.models.cban.distributed`; ``config.device`` "cuda" means ``cuda:LOCAL_RANK``): every rank
    calls ``train`` with the same arguments and gets the same history; rank 0 alone writes
    the checkpoint, every rank resumes from it.
    """
    from tqdm.auto import tqdm

    ctx = init_from_env(config.device)  # None in a single process
    device = ctx.device if ctx is not None else torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={config.device!r} requested but CUDA is not available")
    main = ctx is None or ctx.is_main
    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    if config.compile:
        if device.type == "cuda":
            model.compile_step()
    optimizer = make_optimizer(model, config)
    history: dict = {k: [] for k in ("epoch", "loss", "iters", "converged", "lr", "theta", "batch_loss",
                                     "epoch_seconds")}
    start, partial = 0, None
    if ctx is not None:
        ctx.barrier()  # every rank sees the same checkpoint file (rank 0 writes it only after this)
    if checkpoint is not None and resume and Path(checkpoint).exists():
        blob = read_checkpoint(checkpoint, map_location=device)
        done, history = _restore(blob, checkpoint, model, optimizer, config, run_config or {})
        start = done + 1
        partial = blob.get("partial")  # an epoch interrupted after a mid-epoch checkpoint
    every_s = 60.0 * config.checkpoint_minutes
    t_saved = time.perf_counter()
    parallel = DataParallel(model, ctx) if ctx is not None else None
    progress = config.progress and main
    base_theta = model.params.theta
    for epoch in tqdm(range(start, config.epochs), desc="epochs", disable=not progress, leave=False):
        lr = learning_rate(config, epoch)
        for g in optimizer.param_groups:
            g["lr"] = lr
        theta = theta_at(config, epoch, base_theta)
        gen = torch.Generator().manual_seed(int(config.seed) * 1_000_003 + epoch)
        t_epoch = time.perf_counter()
        losses, iters, conv, skip, before = [], [], [], 0, 0.0
        if partial is not None and int(partial["epoch"]) == epoch:
            losses, iters, conv = list(partial["losses"]), list(partial["iters"]), list(partial["converged"])
            skip, before = int(partial["batches"]), float(partial["seconds"])
        partial = None
        bar = tqdm(batches(epoch, gen), desc=f"epoch {epoch}", disable=not progress, leave=False)
        for i, batch in enumerate(bar):
            if i < skip:  # trained before the interruption: drawn (same masks after it), not trained
                continue
            batch = _to_device(batch, device, config.channels_last)
            out = train_step(model, batch, config, optimizer, theta=theta, parallel=parallel)
            losses.append(out["loss"])
            iters.append(out["iters"])
            conv.append(out["converged"])
            bar.set_postfix(loss=f"{out['loss']:.4g}", iters=f"{out['iters']:.1f}")
            halt = should_stop is not None and bool(should_stop())
            if checkpoint is not None and main and (halt or (every_s > 0 and time.perf_counter() - t_saved >= every_s)):
                save_checkpoint(checkpoint, model, optimizer, epoch - 1, history, config, run_config, partial={
                    "epoch": epoch, "batches": i + 1, "losses": losses, "iters": iters, "converged": conv,
                    "seconds": before + time.perf_counter() - t_epoch})
                t_saved = time.perf_counter()
            if halt:
                raise TrainingInterrupted(f"training stopped by should_stop() in epoch {epoch} after batch {i + 1}"
                                          + (f"; checkpoint {str(checkpoint)!r} resumes it" if checkpoint else ""))
        if not losses:
            raise ValueError(f"batches({epoch}, generator) yielded no batch")
        history["epoch"].append(epoch)
        history["loss"].append(sum(losses) / len(losses))
        history["iters"].append(sum(iters) / len(iters))
        history["converged"].append(sum(conv) / len(conv))
        history["lr"].append(lr)
        history["theta"].append(theta)
        history["batch_loss"].extend(losses)
        history.setdefault("epoch_seconds", []).append(before + time.perf_counter() - t_epoch)
        stop = bool(callback(epoch, history)) if callback is not None else False
        if ctx is not None:
            stop = ctx.any(stop)  # a stop asked on any rank stops every rank after this epoch
        last = stop or epoch == config.epochs - 1
        if checkpoint is not None and main and (
                last or (config.checkpoint_every and (epoch + 1) % config.checkpoint_every == 0)):
            save_checkpoint(checkpoint, model, optimizer, epoch, history, config, run_config)
            t_saved = time.perf_counter()
        if stop:
            break
    return history


def _to_device(batch: Batch, device: torch.device, channels_last: bool = False) -> Batch:
    def move(t: Tensor) -> Tensor:
        t = t.to(device)
        if channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    ev = Evidence(move(batch.evidence.value), move(batch.evidence.mask))
    w = None if batch.weight is None else move(batch.weight)
    return Batch(ev, move(batch.target), w)
