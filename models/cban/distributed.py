"""Data-parallel CBAN training across processes (``torchrun`` + DistributedDataParallel).

:func:`~.train.train` calls :func:`init_from_env`: under ``torchrun`` (which sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``) it joins the default
process group (backend ``gloo`` on the CPU, ``nccl`` on CUDA, one GPU per process:
``cuda:LOCAL_RANK``), and every training step then runs as :class:`DataParallel` says:

* every rank draws the **same** full batch (the same ``batches(epoch, generator)`` with the
  same seed), keeps its own contiguous chunk (:meth:`DataParallel.shard`; chunk sizes differ
  by at most one) and settles it through the DDP-wrapped model (``CBAN.forward`` is
  ``settle``), so the gradients are all-reduced in the backward pass;
* each rank's batch-mean loss is multiplied by ``n_rank * world_size / n_batch`` before the
  backward pass, so DDP's average of the ranks' gradients is the gradient of the full batch's
  mean loss, as in one process;
* settling stops when every sample of the **full** batch has converged (an all-reduce per
  iteration, :meth:`DataParallel.all_done`), so every rank runs as many iterations as one
  process would on the whole batch (the TD losses depend on that number);
* the logged loss, settling iterations and convergence are reduced over the full batch;
  an early stop asked by a callback on any rank stops every rank.

So a run on N processes follows the one-process run on the same data to float rounding
(tested with 2 CPU processes in ``tests/test_cban_distributed.py``); it is faster only when
the processes have cores (or GPUs) of their own.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
from typing import Sequence

import torch
import torch.distributed as dist
from torch import Tensor

from .functional import Evidence

__all__ = ["DistContext", "DataParallel", "init_from_env", "launched_by_torchrun", "chunk_bounds", "shard_batch"]


def launched_by_torchrun() -> bool:
    """True when the environment says this process is one of several (``WORLD_SIZE`` > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1
    except ValueError:
        raise ValueError(f"environment variable WORLD_SIZE must be an integer, got {os.environ['WORLD_SIZE']!r}") \
            from None


@dataclasses.dataclass(frozen=True)
class DistContext:
    """This process's place in the job: ``rank`` of ``world_size``, its ``device``, and the
    device the collectives' tensors live on (``comm_device``: the GPU for nccl, else the CPU)."""

    rank: int
    world_size: int
    device: torch.device
    comm_device: torch.device

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the rank that writes checkpoints and results)."""
        return self.rank == 0

    def sum(self, values: Sequence[float]) -> list[float]:
        """``values`` summed over every rank (float64 all-reduce)."""
        t = torch.tensor(list(values), dtype=torch.float64, device=self.comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """True when ``flag`` is True on some rank."""
        return self.sum([1.0 if flag else 0.0])[0] > 0

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        dist.barrier()


def _local_rank() -> int:
    raw = os.environ.get("LOCAL_RANK", "0") or "0"
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable LOCAL_RANK must be an integer, got {raw!r}") from None


def _destroy() -> None:  # pragma: no cover - at interpreter exit
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def init_from_env(device: str = "cpu") -> DistContext | None:
    """Join the process group that ``torchrun`` describes in the environment; None in one process.

    Parameters
    ----------
    device : str
        The run's device setting: ``"cpu"`` (backend gloo) or ``"cuda"`` / ``"cuda:N"``
        (backend nccl; each process uses ``cuda:LOCAL_RANK``, whatever N says).

    Returns
    -------
    DistContext or None
        None when ``WORLD_SIZE`` is unset or 1 and no process group is initialised. A group
        that the caller initialised already is used as it is.
    """
    if not dist.is_available():
        if launched_by_torchrun():
            raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        return None
    if not dist.is_initialized() and not launched_by_torchrun():
        return None
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} requested but CUDA is not available")
        dev = torch.device("cuda", _local_rank())
        torch.cuda.set_device(dev)
    elif dev.type != "cpu":
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]' for distributed training, got {device!r}")
    if not dist.is_initialized():
        for name in ("MASTER_ADDR", "MASTER_PORT", "RANK"):
            if not os.environ.get(name):
                raise ValueError(f"WORLD_SIZE > 1 but {name} is not set; launch with torchrun "
                                 "(e.g. torchrun --nproc-per-node 2 -m attractorlab run ...)")
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", init_method="env://")
        atexit.register(_destroy)
    comm = dev if dist.get_backend() == "nccl" else torch.device("cpu")
    return DistContext(dist.get_rank(), dist.get_world_size(), dev, comm)


def chunk_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous chunk of ``n`` samples split over
    ``world_size`` ranks (sizes differ by at most one, the larger ones first)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank {rank}, world_size {world_size}")
    base, extra = divmod(int(n), world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def shard_batch(batch, rank: int, world_size: int):
    """Rank ``rank``'s chunk of a training ``batch`` and the factor its batch-mean loss takes.

    Tensors with the target's number of dimensions and the batch size as first dimension
    are cut (:func:`chunk_bounds`); others (broadcast masks and weights) are kept. A rank
    whose chunk would be empty (a batch smaller than the world) gets the batch's first
    sample with factor 0, so that it still takes part in every collective.

    Returns
    -------
    chunk, n, factor
        The chunk (same type as ``batch``, a :class:`~.train.Batch`), its number of real
        samples ``n`` and ``n * world_size / batch size``: with it, the mean over the ranks
        of ``factor * grad(chunk's mean loss)`` (what DDP computes) is the gradient of the
        whole batch's mean loss.
    """
    target = batch.target
    total = int(target.shape[0])
    start, stop = chunk_bounds(total, rank, world_size)
    n = stop - start
    if n == 0:
        start, stop = 0, 1

    def cut(t: Tensor | None) -> Tensor | None:
        if t is None or t.dim() != target.dim() or t.shape[0] != total:
            return t
        return t[start:stop]

    ev = Evidence(cut(batch.evidence.value), cut(batch.evidence.mask))
    chunk = type(batch)(ev, cut(target), cut(batch.weight))
    return chunk, n, n * world_size / total


class DataParallel:
    """A CBAN wrapped in DistributedDataParallel, with the batch split of one training step.

    Parameters
    ----------
    model : CBAN
        On ``ctx.device`` already (and in its final memory format).
    ctx : DistContext
    """

    def __init__(self, model: torch.nn.Module, ctx: DistContext):
        from torch.nn.parallel import DistributedDataParallel

        self.ctx = ctx
        self.module = model
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        # every parameter takes part in every settling step (find_unused_parameters stays off)
        self.ddp = DistributedDataParallel(model, device_ids=ids, output_device=ids[0] if ids else None)

    def __call__(self, evidence: Evidence, **kw):
        """Settle through DDP (``CBAN.forward`` = ``settle``), so that the backward pass all-reduces."""
        return self.ddp(evidence, **kw)

    def shard(self, batch):
        """This rank's chunk of ``batch``: :func:`shard_batch` with this rank and world size."""
        return shard_batch(batch, self.ctx.rank, self.ctx.world_size)

    def all_done(self, done: Tensor) -> bool:
        """True when every sample on every rank has converged (stop settling)."""
        return not self.ctx.any(not bool(done.all()))
