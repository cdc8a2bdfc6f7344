"""Thread settings scoped to a block: :func:`torch_threads`.

torch's intra-op thread count is process-wide; an experiment that wants one thread (tiny
dense nets, where threads only add overhead) sets it for its own run and restores the
previous value afterwards, so that later work in the same process (tests, notebooks) is
not affected.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

__all__ = ["torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` torch threads inside the block (0/None: leave as is), then restore.

    Raises ValueError for a negative or non-integer ``n``.
    """
    if n is not None and (isinstance(n, bool) or int(n) != n or n < 0):
        raise ValueError(f"n (torch threads) must be an integer >= 0 or None, got {n!r}")
    import torch

    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)
