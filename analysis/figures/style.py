"""One matplotlib style for every figure of attractorlab, ready for a manuscript.

Every figure maker of the command line and the experiments draws inside
:func:`style_context` and writes through :func:`save`, so a figure can go into a paper
unchanged:

* text stays text in vector output: SVG with ``svg.fonttype = "none"`` (labels are
  ``<text>`` elements, editable and searchable), PDF/PS with ``pdf.fonttype = 42``
  (TrueType fonts embedded, not Type 3 outlines, as most journals ask);
* sizes for print: 8 pt labels and titles, 7 pt tick labels and legends, 0.6 pt axes
  lines, 300 dpi for raster output; :data:`COLUMN_WIDTH` and :data:`PAGE_WIDTH` give the
  usual one- and two-column widths in inches;
* DejaVu Sans (shipped with matplotlib, so the same glyphs on every machine) and
  matching mathtext;
* reproducible files: no creation date in PDF/SVG metadata and a fixed SVG hash salt, so
  the same figure gives the same bytes.

Example
-------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> from attractorlab.analysis.figures import style
>>> with style.style_context():
...     fig, ax = plt.subplots(figsize=(style.COLUMN_WIDTH, 2.2))
...     _ = ax.plot([0, 1], [0, 1])
>>> plt.close(fig)
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

__all__ = ["RC", "FORMATS", "COLUMN_WIDTH", "PAGE_WIDTH", "style_context", "check_format", "save"]

#: Width of one printed column (85 mm), in inches.
COLUMN_WIDTH = 3.35
#: Width of a full printed page (174 mm), in inches.
PAGE_WIDTH = 6.85

#: Output formats of :func:`save` and ``attractorlab figure --format``.
FORMATS = ("png", "svg", "pdf")

#: The rcParams of the project style.
RC: dict[str, Any] = {
    # text: sizes in points, one font family everywhere
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "figure.titlesize": 9,
    # lines
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.5,
    "patch.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "xtick.minor.size": 1.8,
    "ytick.minor.size": 1.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "image.interpolation": "nearest",
    # vector text, embedded TrueType fonts
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.hashsalt": "attractorlab",
    # output
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "savefig.transparent": False,
    "savefig.facecolor": "white",
}

#: Metadata per format that keeps the bytes of a figure file reproducible.
_METADATA = {"pdf": {"CreationDate": None, "Producer": None}, "svg": {"Date": None}, "png": {"Software": None}}


@contextlib.contextmanager
def style_context(**overrides: Any) -> Iterator[None]:
    """Draw with the project style inside the block (``overrides`` are extra rcParams)."""
    import matplotlib

    bad = [k for k in overrides if k not in matplotlib.rcParams]
    if bad:
        raise ValueError(f"unknown rcParams {bad} in style_context overrides")
    with matplotlib.rc_context({**RC, **overrides}):
        yield


def check_format(fmt: str) -> str:
    """``fmt`` lower-cased if it is one of :data:`FORMATS`; ValueError naming it otherwise."""
    if not isinstance(fmt, str) or fmt.lower().lstrip(".") not in FORMATS:
        raise ValueError(f"figure format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt.lower().lstrip(".")


def save(fig, path: str | os.PathLike, *, fmt: str | None = None, close: bool = True, **kwargs: Any) -> Path:
    """Write ``fig`` atomically in the project style's output settings.

    Parameters
    ----------
    fig : matplotlib Figure
    path : path
        Target file. With ``fmt``, its suffix is replaced by ``.fmt``; without, the suffix
        gives the format (one of :data:`FORMATS`).
    fmt : {"png", "svg", "pdf"}, optional
    close : bool
        Close the figure afterwards.
    **kwargs
        Passed to ``Figure.savefig`` (e.g. ``dpi``).

    Returns
    -------
    Path
        The file written.
    """
    from attractorlab.results import atomic_path

    path = Path(path)
    fmt = check_format(fmt if fmt is not None else (path.suffix or ".png"))
    path = path.with_suffix("." + fmt)
    import matplotlib

    save_rc = {k: v for k, v in RC.items() if k.startswith(("svg.", "pdf.", "ps.", "savefig."))}
    kwargs.setdefault("metadata", _METADATA[fmt])
    with matplotlib.rc_context(save_rc), atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, **kwargs)
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path
