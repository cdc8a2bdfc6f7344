"""Build ``registry.txt`` from the ``SOURCE.md`` tables of the shared data folders.

Each dataset folder under the data root documents its files in ``SOURCE.md`` as markdown
tables (file name, size in bytes, sha256). This module turns those tables into registry
rows, so that the registry shipped with the package is a transcription of the data's own
documentation, not of whatever files happen to be on disk. The test suite re-parses the
``SOURCE.md`` files (when present) and checks that the shipped registry matches.

Regenerate the registry after a ``SOURCE.md`` changes::

    python -m attractorlab.data._sources [DATA_ROOT]

Folder rules (where a file named in a table lives, relative to its dataset folder):

- ``olshausen_field``: every file is in ``sparsenet_tcl_trainset/``.
- ``cifar10``: ``cifar10_*`` files are in ``convnetjs_batches/``; the lossy zip is at the top.
- ``sr_benchmarks``: the folder is the ``### <Set>`` section heading (``Set5``, ``Set14``,
  ``BSD100``, ``Urban100``); ``T91/T91.zip`` is described in a sentence, and its table rows
  (``T91/t1.bmp`` ...) are *members of that zip* (registered as zip members).
- ``mnist``, ``omniglot``: files are at the top of the folder.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from attractorlab.data.registry import DATASETS, Entry

__all__ = ["Entry", "DATASETS", "parse_source_md", "parse_all", "format_registry"]

_SHA = re.compile(r"^[0-9a-f]{64}$")
_INT = re.compile(r"^\d+$")
_T91_ZIP = re.compile(r"`(T91/T91\.zip)`:\s*(\d+)\s*bytes,\s*sha256\s*([0-9a-f]{64})")


def _subdir(dataset: str, name: str, section: str | None) -> str:
    if dataset == "olshausen_field":
        return "sparsenet_tcl_trainset/"
    if dataset == "cifar10":
        return "convnetjs_batches/" if name.startswith("cifar10_") else ""
    if dataset == "sr_benchmarks":
        if section is None:
            raise ValueError(f"sr_benchmarks row {name!r} outside a '### <Set>' section")
        return section + "/"
    return ""


def parse_source_md(dataset: str, text: str) -> list[Entry]:
    """Registry entries described by one dataset's ``SOURCE.md``.

    Parameters
    ----------
    dataset : str
        Folder name, one of :data:`DATASETS`.
    text : str
        Contents of ``<data root>/<dataset>/SOURCE.md``.

    Returns
    -------
    list of Entry
        In the order of the document. Table rows whose cells hold a file name, an integer
        byte count and a sha256 become entries; for ``sr_benchmarks`` the T91 zip and its
        members are included (members as ``"...T91.zip!T91/t1.bmp"``).
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    entries: list[Entry] = []
    section: str | None = None
    t91_zip: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("### "):
            section = stripped[4:].split()[0]
            continue
        m = _T91_ZIP.search(stripped)
        if m and dataset == "sr_benchmarks":
            t91_zip = f"{dataset}/{m.group(1)}"
            entries.append(Entry(dataset, t91_zip, int(m.group(2)), m.group(3)))
            continue
        if not stripped.startswith("|"):
            continue
        cells = [c.strip().strip("`") for c in stripped.strip("|").split("|")]
        if len(cells) < 3:
            continue
        sha = [c for c in cells if _SHA.match(c)]
        ints = [c for c in cells[1:] if _INT.match(c)]
        if len(sha) != 1 or not ints:
            continue
        name, size = cells[0], int(ints[0])
        if dataset == "sr_benchmarks" and section == "T91":
            if t91_zip is None:
                raise ValueError("T91 member rows before the T91.zip line in sr_benchmarks/SOURCE.md")
            entries.append(Entry(dataset, f"{t91_zip}!{name}", size, sha[0]))
            continue
        entries.append(Entry(dataset, f"{dataset}/{_subdir(dataset, name, section)}{name}", size, sha[0]))
    return entries


def parse_all(data_root: str | Path) -> list[Entry]:
    """Entries of every dataset in :data:`DATASETS` whose ``SOURCE.md`` exists under ``data_root``."""
    root = Path(data_root)
    out: list[Entry] = []
    for ds in DATASETS:
        src = root / ds / "SOURCE.md"
        if src.exists():
            out.extend(parse_source_md(ds, src.read_text(encoding="utf-8")))
    return out


def format_registry(entries: list[Entry]) -> str:
    """Text of ``registry.txt``: a header, then ``dataset path size sha256`` per line."""
    lines = [
        "# attractorlab data registry: dataset, path relative to the data root, bytes, sha256.",
        "# Generated from <data root>/<dataset>/SOURCE.md by `python -m attractorlab.data._sources`;",
        "# do not edit by hand. 'a.zip!member' rows are members of a zip container.",
    ]
    lines += [f"{e.dataset} {e.path} {e.size} {e.sha256}" for e in entries]
    return "\n".join(lines) + "\n"


def _main(argv: list[str]) -> int:  # pragma: no cover - maintenance tool
    from attractorlab.data.registry import data_root

    root = Path(argv[0]) if argv else data_root()
    entries = parse_all(root)
    out = Path(__file__).with_name("registry.txt")
    out.write_text(format_registry(entries), encoding="utf-8")
    print(f"wrote {len(entries)} entries to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main(sys.argv[1:]))
