"""Results over seeds: one scalar per run folder, mean +/- s.e.m., a test against a reference.

A figure such as the bar task's accuracy is one seed of a preset; its spread over seeds says
how much of a difference to the paper is noise. :func:`seed_summary` reads ``results.nc`` of
several run folders of one experiment that differ **only** in ``seed`` (checked on their
``run.json`` fingerprints), and returns the per-seed values of scalar variables with their
mean, standard error (s.d. with ddof 1 over sqrt(n)) and, for each reference value given
(e.g. the paper's), two-sided one-sample tests of "the seeds' mean equals the reference": a t
test, and the Wilcoxon signed-rank test of :func:`attractorlab.analysis.stats.paired_comparison`
with the reference as the other side of every pair. With n seeds the signed-rank test cannot
give p below 2 / 2**n (0.0625 for 5 seeds), so the t test is the one that can reject there.

Example (the bar task, 5 seeds of the tuned preset; see ``references/README.md``)::

    from attractorlab.experiments.seeds import format_seed_summary, seed_summary
    runs = ["results/cban_bars/tuned"] + [f"results/cban_bars/tuned+seed={s}" for s in range(1, 5)]
    print(format_seed_summary(seed_summary(runs, ["pixel_accuracy", "image_accuracy"],
                                           reference={"pixel_accuracy": 0.99995}), percent=True))
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import xarray as xr

__all__ = ["seed_summary", "format_seed_summary"]


def _run_settings(folder: Path) -> tuple[str, dict, int]:
    """``(experiment, fingerprint without seed, seed)`` of a finished run folder."""
    from attractorlab.results import read_run_record

    rec = read_run_record(folder)
    if rec is None:
        raise ValueError(f"run folder {str(folder)!r} has no run.json; give folders written by 'attractorlab run'")
    if rec.get("status") != "complete":
        raise ValueError(f"run in {str(folder)!r} is not complete (status {rec.get('status')!r}); finish it first")
    fp = dict(rec.get("fingerprint") or {})
    if "seed" not in fp:
        raise ValueError(f"run in {str(folder)!r} has no 'seed' setting in its fingerprint")
    seed = fp.pop("seed")
    return str(rec.get("experiment")), fp, int(seed)


def seed_summary(run_dirs: Sequence[str | Path], variables: Sequence[str] = ("pixel_accuracy",), *,
                 reference: Mapping[str, float] | None = None) -> xr.Dataset:
    """Per-seed values of scalar ``variables`` over run folders that differ only in their seed.

    Parameters
    ----------
    run_dirs : sequence of path
        Run folders (``results.nc`` and a complete ``run.json`` each) of one experiment, with
        the same settings except ``seed``; at least 2, no seed twice.
    variables : sequence of str
        Scalar (0-d) variables of ``results.nc`` (e.g. ``"pixel_accuracy"``).
    reference : mapping, optional
        Variable -> reference value (e.g. the paper's) to test the mean against.

    Returns
    -------
    xarray.Dataset
        Dim ``seed`` (sorted): each variable per seed (its attrs kept), and scalars
        ``<var>_mean``, ``<var>_sem``; for variables with a reference, ``<var>_reference``,
        ``<var>_t_p`` (two-sided one-sample t test) and ``<var>_wilcoxon_p`` (two-sided
        signed-rank test). ``run_dir`` (per seed) names the folders; attrs hold the
        experiment, the shared settings (JSON) and ``n_seeds``.

    Raises
    ------
    ValueError
        Naming the folder or the variable: fewer than 2 folders, a folder without a complete
        run, runs of different experiments or settings other than ``seed``, a seed twice, a
        variable that is missing or not a finite scalar, a reference for a variable not asked.
    """
    import json

    from scipy.stats import ttest_1samp

    from attractorlab.analysis.metrics import mean_sem
    from attractorlab.analysis.stats import paired_comparison
    from attractorlab.results import load_dataset

    folders = [Path(d) for d in run_dirs]
    if len(folders) < 2:
        raise ValueError(f"run_dirs must name at least 2 run folders, got {len(folders)}")
    variables = list(variables)
    if not variables or len(set(variables)) != len(variables):
        raise ValueError(f"variables must name at least one variable, each once; got {variables}")
    reference = dict(reference or {})
    unknown = sorted(set(reference) - set(variables))
    if unknown:
        raise ValueError(f"reference names variables not in variables {variables}: {unknown}")
    for name, value in reference.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"reference[{name!r}] must be a finite number, got {value!r}")

    runs = []
    for folder in folders:
        experiment, settings, seed = _run_settings(folder)
        runs.append((seed, folder, experiment, settings))
    seed0, folder0, exp0, set0 = runs[0]
    for seed, folder, experiment, settings in runs[1:]:
        if experiment != exp0:
            raise ValueError(f"runs of different experiments: {str(folder0)!r} is {exp0!r}, {str(folder)!r} is "
                             f"{experiment!r}")
        diff = sorted(k for k in set(settings) | set(set0) if settings.get(k, "<absent>") != set0.get(k, "<absent>"))
        if diff:
            pairs = ", ".join(f"{k}: {set0.get(k, '<absent>')!r} vs {settings.get(k, '<absent>')!r}" for k in diff)
            raise ValueError(f"runs {str(folder0)!r} and {str(folder)!r} differ in settings other than seed ({pairs})")
    seeds = [r[0] for r in runs]
    if len(set(seeds)) != len(seeds):
        twice = sorted({s for s in seeds if seeds.count(s) > 1})
        raise ValueError(f"each seed must come once; seeds {twice} come more than once in {[str(f) for f in folders]}")
    runs.sort(key=lambda r: r[0])

    values: dict[str, list[float]] = {v: [] for v in variables}
    attrs: dict[str, dict] = {}
    for seed, folder, _, _ in runs:
        ds = load_dataset(folder / "results.nc")
        for v in variables:
            if v not in ds:
                raise ValueError(f"variable {v!r} is not in {str(folder / 'results.nc')!r}; it has {sorted(ds.data_vars)}")
            if ds[v].ndim != 0:
                raise ValueError(f"variable {v!r} of {str(folder / 'results.nc')!r} is not a scalar (dims {ds[v].dims})")
            x = float(ds[v].values)
            if not math.isfinite(x):
                raise ValueError(f"variable {v!r} of {str(folder / 'results.nc')!r} is not finite ({x})")
            values[v].append(x)
            attrs.setdefault(v, {k: val for k, val in ds[v].attrs.items() if k in ("units", "long_name")})

    out = xr.Dataset(coords={"seed": [r[0] for r in runs]})
    out["run_dir"] = ("seed", [str(r[1]) for r in runs])
    for v in variables:
        x = np.asarray(values[v])
        units = attrs[v].get("units", "")
        out[v] = ("seed", x, attrs[v])
        m, s = mean_sem(x)
        out[f"{v}_mean"] = ((), m, {"units": units, "long_name": f"mean over seeds of {v}"})
        out[f"{v}_sem"] = ((), s, {"units": units, "long_name": f"standard error over seeds of {v} (ddof 1)"})
        if v in reference:
            ref = float(reference[v])
            out[f"{v}_reference"] = ((), ref, {"units": units, "long_name": f"reference value of {v}"})
            if np.ptp(x) > 0:
                t_p = float(ttest_1samp(x, ref).pvalue)
            else:  # no spread: the t statistic is 0 (equal) or infinite
                t_p = 1.0 if x[0] == ref else 0.0
            w_p = paired_comparison(x, np.full_like(x, ref))["p_value"]
            out[f"{v}_t_p"] = ((), t_p, {"units": "1", "long_name": f"two-sided one-sample t test: mean of {v} = reference"})
            out[f"{v}_wilcoxon_p"] = ((), w_p, {"units": "1", "long_name": f"two-sided Wilcoxon signed-rank test of {v} - reference (p >= 2/2**n)"})
    out.attrs.update(experiment=exp0, settings=json.dumps(set0, sort_keys=True), n_seeds=len(runs),
                     long_name=f"{exp0}: scalar results over seeds")
    return out


def format_seed_summary(ds: xr.Dataset, *, percent: bool = False, digits: int = 4) -> str:
    """One line per variable of a :func:`seed_summary`: mean +/- s.e.m. (n seeds), the per-seed
    values and, where a reference was given, the tests' p-values. ``percent`` shows fractions as %."""
    scale, unit = (100.0, " %") if percent else (1.0, "")
    seeds = [int(s) for s in ds.seed.values]
    lines = []
    for name in ds.data_vars:
        if ds[name].dims != ("seed",) or name == "run_dir":
            continue
        x = ds[name].values * scale
        per = ", ".join(f"{s}: {v:.{digits}f}" for s, v in zip(seeds, x))
        line = (f"{name}: {float(ds[f'{name}_mean']) * scale:.{digits}f} +/- {float(ds[f'{name}_sem']) * scale:.{digits}f}"
                f"{unit} (mean +/- s.e.m., {len(seeds)} seeds; {per})")
        if f"{name}_reference" in ds:
            line += (f"; reference {float(ds[f'{name}_reference']) * scale:.{digits}f}{unit}: one-sample t test "
                     f"p = {float(ds[f'{name}_t_p']):.2g}, Wilcoxon signed-rank p = {float(ds[f'{name}_wilcoxon_p']):.2g}")
        lines.append(line)
    return "\n".join(lines)
