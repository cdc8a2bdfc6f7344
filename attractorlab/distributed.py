"""Which process of a multi-process (``torchrun``) job this is, without importing torch.

Under ``torchrun --nproc-per-node N`` every process runs the same program; only rank 0
writes files. :func:`attractorlab.results.atomic_path` (and with it every result, figure,
table, checkpoint and ``run.json`` the project writes) asks :func:`is_main_process`, so an
experiment's code needs no rank checks of its own. The rank comes from the initialised
``torch.distributed`` process group when there is one, else from the ``RANK`` variable that
``torchrun`` sets (so it is known before the group is initialised), else 0.
"""

from __future__ import annotations

import os
import sys

__all__ = ["rank", "world_size", "is_main_process"]


def _group():
    """``torch.distributed`` when torch is loaded and a process group is initialised, else None."""
    td = sys.modules.get("torch.distributed")
    if td is not None and td.is_available() and td.is_initialized():
        return td
    return None


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer (torchrun sets it), got {raw!r}") from None
    if value < 0:
        raise ValueError(f"environment variable {name} must be >= 0, got {raw!r}")
    return value


def rank() -> int:
    """Global rank of this process: the process group's, else ``$RANK``, else 0."""
    td = _group()
    return td.get_rank() if td is not None else _env_int("RANK", 0)


def world_size() -> int:
    """Number of processes of the job: the process group's, else ``$WORLD_SIZE``, else 1."""
    td = _group()
    return td.get_world_size() if td is not None else max(_env_int("WORLD_SIZE", 1), 1)


def is_main_process() -> bool:
    """True in a single process and in rank 0 of a multi-process job (the one that writes files)."""
    return rank() == 0
