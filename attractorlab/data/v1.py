"""Macaque V1 simple-cell receptive-field shapes (Ringach 2002): binned (nx, ny) counts.

No per-cell data of Ringach (2002) are available to this project (see
``<data root>/v1_receptive_fields/SOURCE.md``). What is available is a binned joint
histogram of ``nx = sigma_x * f`` and ``ny = sigma_y * f`` (Gaussian envelope widths in
carrier periods, across and along the carrier) attributed to Ringach 2002, transcribed from
the VOneNet code (dicarlolab/vonenet, ``vonenet/params.py``, comment "Ringach 2002b",
unchanged since commit 002e21f9, 2020-06-29). The 25 counts below are facts copied from that
SOURCE.md; they are a third party's binning, not Ringach's own table, and it is not stated
how the 79 cells were selected.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["V1NxNy", "load_v1_nxny", "V1_CITATION"]

V1_CITATION = (
    "D. L. Ringach, 'Spatial structure and symmetry of simple-cell receptive fields in macaque "
    "primary visual cortex', J Neurophysiol 88(1):455-463, 2002, doi:10.1152/jn.2002.88.1.455; "
    "binned (nx, ny) counts as tabulated in dicarlolab/vonenet vonenet/params.py ('Ringach 2002b')"
)

# Rows: nx bins; columns: ny bins; bin edges 10**linspace(-1, 0.2, 6) on both axes.
_COUNTS = (
    (2, 0, 1, 0, 0),
    (8, 9, 4, 1, 0),
    (1, 2, 19, 17, 3),
    (0, 0, 1, 7, 4),
    (0, 0, 0, 0, 0),
)


class V1NxNy(NamedTuple):
    """Binned V1 (nx, ny) histogram.

    Attributes
    ----------
    counts : ndarray, int64, shape (5, 5)
        Number of cells; rows are nx bins, columns ny bins. Total 79.
    edges : ndarray, float64, shape (6,)
        Bin edges shared by both axes, ``10**linspace(-1, 0.2, 6)`` (dimensionless, carrier periods).
    citation : str
        Source of the numbers.
    """

    counts: np.ndarray
    edges: np.ndarray
    citation: str


def load_v1_nxny() -> V1NxNy:
    """The Ringach (2002) V1 (nx, ny) histogram as counts (5, 5) and bin edges (6,).

    Examples
    --------
    >>> counts, edges, _ = load_v1_nxny()
    >>> int(counts.sum()), counts.sum(axis=1).tolist()
    (79, [3, 22, 42, 12, 0])
    """
    return V1NxNy(np.array(_COUNTS, dtype=np.int64), 10.0 ** np.linspace(-1.0, 0.2, 6), V1_CITATION)
