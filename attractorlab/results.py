"""Results store: xarray Datasets as netCDF, written atomically, with provenance.

Every result that crosses a boundary (model -> analysis, run -> figure) is an
``xarray.Dataset`` whose ``attrs`` carry the parameters (as JSON), the seed, the
versions of the packages that produced it, the git commit when available and the
UTC time. :func:`save_dataset` writes to a temporary file in the target folder and
renames it into place, so an exception or interruption never leaves a half-written
file behind.

In a multi-process job (``torchrun``) only rank 0 writes: :func:`atomic_path`, and so
every writer built on it (:func:`save_dataset`, :func:`save_figure`,
:func:`write_run_record`, checkpoints), does nothing on the other ranks
(:func:`attractorlab.distributed.is_main_process`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import os
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import xarray as xr

from attractorlab.distributed import is_main_process

__all__ = [
    "provenance",
    "save_dataset",
    "load_dataset",
    "atomic_path",
    "save_figure",
    "git_commit",
    "package_versions",
    "results_root",
    "plain_config",
    "check_resume",
    "RUN_FILE",
    "read_run_record",
    "write_run_record",
    "run_status",
]

_PACKAGES = ("attractorlab", "brian2", "torch", "numpy", "xarray", "scipy")
_REPO_ROOT = Path(__file__).resolve().parent.parent


def results_root() -> Path:
    """Folder where experiments write by default (``ATTRACTORLAB_RESULTS`` or ``./results``)."""
    return Path(os.environ.get("ATTRACTORLAB_RESULTS", "results"))


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a result (``"absent"`` when missing)."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


@functools.lru_cache(maxsize=None)
def git_commit() -> str | None:
    """Commit hash of the source tree (with ``-dirty`` if modified), or None outside git.

    Read once per process, at the first call (a run records it in ``run.json`` when it
    starts): a run keeps the code it loaded, so results it writes hours later name that
    commit, not whatever was committed meanwhile.
    """
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=_REPO_ROOT, capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=_REPO_ROOT, capture_output=True, text=True, timeout=5,
        )
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def provenance(params: Mapping[str, Any] | Any = None, seed: int | None = None) -> dict[str, str | int]:
    """Provenance attrs: ``params`` (JSON), ``seed``, versions, ``git_commit``, ``created_utc``."""
    attrs: dict[str, str | int] = {
        "params": json.dumps(_jsonable(params or {}), sort_keys=True, ensure_ascii=False),
        "versions": json.dumps(package_versions(), sort_keys=True),
        "git_commit": git_commit() or "unknown",
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    attrs["seed"] = -1 if seed is None else int(seed)
    return attrs


def _umask() -> int:
    """The process umask (read from /proc where possible, which does not change it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    Use for any file a run produces (netCDF, PNG, checkpoints)::

        with atomic_path("fig.png") as tmp:
            fig.savefig(tmp)

    The file gets the mode a plain ``open`` would give it (``0o666`` less the umask), not
    the private ``0o600`` of the temporary file, so that a lab group can read results.

    In a process of a multi-process job other than rank 0 (see
    :func:`attractorlab.distributed.is_main_process`) the yielded path is a scratch file
    in the system's temporary folder, deleted afterwards: rank 0 alone writes ``path``.
    """
    path = Path(path)
    if not is_main_process():
        fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.rank-scratch.",
                                       suffix=(suffix if suffix is not None else path.suffix) + ".tmp")
        os.close(fd)
        try:
            yield Path(scratch)
        finally:
            if os.path.exists(scratch):
                os.unlink(scratch)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=(suffix if suffix is not None else path.suffix) + ".tmp",
        dir=path.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def plain_config(d: Mapping[str, Any]) -> dict:
    """``d`` as JSON-like values (tuples as lists, other objects as strings), so a
    configuration stored in a checkpoint and a new one compare equal."""
    return json.loads(json.dumps(dict(d), default=str))


def check_resume(path: str | os.PathLike, stored: Mapping[str, Any], new: Mapping[str, Any], what: str) -> None:
    """Refuse to resume a checkpoint written under other settings.

    Raises ValueError naming every key of ``stored`` (read from the checkpoint at
    ``path``) or ``new`` whose values differ; a key that only one of them has is a
    difference too (a checkpoint written before a setting existed was trained without
    it). ``what`` names the settings in the message (e.g. "training configuration").
    """
    stored, new = plain_config(stored), plain_config(new)
    absent = "<absent>"
    diff = [k for k in sorted(set(stored) | set(new)) if stored.get(k, absent) != new.get(k, absent)]
    if diff:
        pairs = ", ".join(f"{k}: checkpoint {stored.get(k, absent)!r}, now {new.get(k, absent)!r}" for k in diff)
        raise ValueError(
            f"checkpoint {str(path)!r} was written under another {what} ({pairs}); resuming would mix two runs. "
            "Use another output folder, or delete the checkpoint to start again."
        )


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 90, close: bool = True, **kwargs) -> Path:
    """Write a matplotlib figure atomically (format from the suffix: ``.png``, ``.svg``, ...).

    Closes the figure afterwards unless ``close=False``; extra keywords go to ``savefig``.
    Draws nothing on ranks other than 0 of a multi-process job (:func:`atomic_path`).
    """
    path = Path(path)
    if is_main_process():
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png", **kwargs)
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def _encode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in attrs.items():
        if isinstance(value, (dict, list, tuple)) or value is None or isinstance(value, bool):
            out[key] = "json:" + json.dumps(_jsonable(value), ensure_ascii=False)
        else:
            out[key] = value
    return out


def _decode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in attrs.items():
        if isinstance(value, str) and value.startswith("json:"):
            out[key] = json.loads(value[5:])
        else:
            out[key] = value
    return out


def save_dataset(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    params: Mapping[str, Any] | Any = None,
    seed: int | None = None,
) -> Path:
    """Save ``ds`` as netCDF at ``path`` atomically, adding provenance to its attrs.

    Provenance keys already present in ``ds.attrs`` are kept unless ``params`` or
    ``seed`` is given. Attributes that netCDF cannot store (dicts, lists, booleans,
    None) are stored as ``"json:..."`` strings and decoded again by :func:`load_dataset`.

    Returns
    -------
    Path
        The final path (not written on ranks other than 0 of a multi-process job; see
        :func:`atomic_path`).
    """
    path = Path(path)
    if path.suffix != ".nc":
        raise ValueError(f"path must end in '.nc' (netCDF), got {str(path)!r}")
    if not is_main_process():
        return path
    ds = ds.copy()
    prov = provenance(params, seed)
    for key, value in prov.items():
        # keep recorded params / seed unless a new value for that key is given
        if key == "params" and key in ds.attrs and params is None:
            continue
        if key == "seed" and key in ds.attrs and seed is None:
            continue
        ds.attrs[key] = value
    ds.attrs = _encode_attrs(ds.attrs)
    for name in ds.variables:
        ds[name].attrs = _encode_attrs(ds[name].attrs)
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")
    return path


def load_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Load a Dataset written by :func:`save_dataset` fully into memory (file closed after)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results file at {str(path)!r}")
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            ds = ds.load()
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ValueError(
            f"results file {str(path)!r} cannot be read ({type(exc).__name__}: {' '.join(str(exc).split())}); it is "
            "damaged or not a netCDF file. Delete it to have the run compute it again."
        ) from None
    ds.attrs = _decode_attrs(ds.attrs)
    for name in ds.variables:
        ds[name].attrs = _decode_attrs(ds[name].attrs)
    return ds


def params_of(ds: xr.Dataset) -> dict[str, Any]:
    """The parameters recorded in ``ds.attrs['params']`` as a dict."""
    raw = ds.attrs.get("params", "{}")
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


# ---------------------------------------------------------------- run records
#: Name of the run record in an output folder (see :func:`write_run_record`).
RUN_FILE = "run.json"


def write_run_record(folder: str | os.PathLike, record: Mapping[str, Any]) -> Path:
    """Write ``record`` as ``<folder>/run.json`` atomically (JSON, sorted keys).

    :func:`attractorlab.experiments.run_experiment` writes one when a run starts
    (``status: "running"``) and rewrites it as the run's very last step (``"complete"``,
    after every result and figure) or when the run raises (``"failed"``, with the
    error). A folder whose record says "running" holds a run that was stopped (killed)
    or is still going; its results may lack figures.
    """
    path = Path(folder) / RUN_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(dict(record)), indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    return path


def read_run_record(folder: str | os.PathLike) -> dict | None:
    """The record of ``<folder>/run.json``, or None when there is none.

    Raises ValueError naming the file when it is not a JSON object.
    """
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"run record {str(path)!r} cannot be read ({type(exc).__name__}); delete it (and the "
                         "folder's results) to start the run again") from None
    if not isinstance(rec, dict):
        raise ValueError(f"run record {str(path)!r} is not a JSON object; delete it to start the run again")
    return rec


def run_status(folder: str | os.PathLike) -> str:
    """``"complete"``, ``"running"`` (started, not finished: still going or stopped),
    ``"failed"``, or ``"none"`` (no run record) for the run in ``folder``."""
    rec = read_run_record(folder)
    return "none" if rec is None else str(rec.get("status", "none"))
