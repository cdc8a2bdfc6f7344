"""A plain-text report of which data files are present, missing or corrupt."""

from __future__ import annotations

from attractorlab.data.loaders import cifar10_missing_batches
from attractorlab.data.registry import DATASETS, data_root, data_root_source, dataset_status

__all__ = ["data_report", "status_counts"]


def status_counts() -> dict[str, dict[str, int]]:
    """``{dataset: {"files", "ok", "missing", "corrupt"}}`` for every dataset (hashes cached files once)."""
    out = {}
    for ds in DATASETS:
        st = dataset_status(ds)
        out[ds] = {"files": len(st), **{s: sum(x.status == s for x in st) for s in ("ok", "missing", "corrupt")}}
    return out


def _ranges(nums: list[int]) -> str:
    out, start = [], None
    for i, x in enumerate(nums):
        if start is None:
            start = x
        if i + 1 == len(nums) or nums[i + 1] != x + 1:
            out.append(f"{start}" if start == x else f"{start}-{x}")
            start = None
    return ", ".join(out)


def data_report() -> str:
    """Data root, then one line per dataset: registered files, present, missing, corrupt."""
    root = data_root()
    lines = [f"data root: {root}"]
    if not root.is_dir():
        lines.append(f"(no such folder, from {data_root_source()}: every file is missing)")
    lines.append(f"{'dataset':<20}{'files':>6}{'present':>9}{'missing':>9}{'corrupt':>9}")
    for ds, n in status_counts().items():
        lines.append(f"{ds:<20}{n['files']:>6}{n['ok'] + n['corrupt']:>9}{n['missing']:>9}{n['corrupt']:>9}")
        if ds == "cifar10" and n["missing"]:
            miss = cifar10_missing_batches("train")
            if miss:
                lines.append(f"{'':<20}missing train batches {_ranges(miss)} (1,000 images each); "
                             "load_cifar10('train') returns the present ones")
    lines.append(f"{'v1_receptive_fields':<20}built in: binned (nx, ny) counts of 79 V1 cells "
                 "(Ringach 2002), load_v1_nxny()")
    return "\n".join(lines)
