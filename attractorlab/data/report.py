"""A plain-text report of which data files are present, missing, corrupt or not provided."""

from __future__ import annotations

from attractorlab.data.loaders import cifar10_summary
from attractorlab.data.registry import DATASETS, DataError, data_root, data_root_source, dataset_status

__all__ = ["data_report", "status_counts"]

_STATUSES = ("ok", "missing", "corrupt", "not_provided")


def status_counts() -> dict[str, dict[str, int]]:
    """``{dataset: {"files", "ok", "missing", "corrupt", "not_provided"}}`` for every dataset
    (hashes cached files once). "not_provided" counts absent files that the shared copy does
    not hold by design (:data:`~attractorlab.data.registry.NOT_PROVIDED`); they are no error."""
    out = {}
    for ds in DATASETS:
        st = dataset_status(ds)
        out[ds] = {"files": len(st), **{s: sum(x.status == s for x in st) for s in _STATUSES}}
    return out


def data_report() -> str:
    """Data root, then one line per dataset: registered files, present, missing, corrupt, not provided
    (plus, for CIFAR-10, how many training and test images the loaders give)."""
    root = data_root()
    lines = [f"data root: {root}"]
    if not root.is_dir():
        lines.append(f"(no such folder, from {data_root_source()}: every file is missing)")
    lines.append(f"{'dataset':<20}{'files':>6}{'present':>9}{'missing':>9}{'corrupt':>9}{'not provided':>14}")
    for ds, n in status_counts().items():
        lines.append(f"{ds:<20}{n['files']:>6}{n['ok'] + n['corrupt']:>9}{n['missing']:>9}{n['corrupt']:>9}"
                     f"{n['not_provided']:>14}")
        if ds == "cifar10" and n["ok"] + n["corrupt"]:
            try:
                text = cifar10_summary()["text"].split(": ", 1)[1]
            except DataError as exc:  # unusable pickles: say why, the table above counts them
                text = f"the pickles in cifar10/cifar-10-batches-py/ cannot be used: {exc}"
            lines += [f"{'':<20}{part}" for part in text.split("; ")]
    lines.append(f"{'v1_receptive_fields':<20}built in: binned (nx, ny) counts of 79 V1 cells "
                 "(Ringach 2002), load_v1_nxny()")
    return "\n".join(lines)
