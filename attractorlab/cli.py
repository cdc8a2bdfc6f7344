"""Command line: ``attractorlab {demo, run, figure, data, bench}`` (also ``python -m attractorlab``).

Examples
--------
::

    attractorlab demo                              # data report + figures under results/demo/
    attractorlab data list                         # datasets with present / missing / corrupt counts
    attractorlab data check                        # re-hash every present file (exit 1 if any corrupt)
    attractorlab run --list                        # registered experiments
    attractorlab run lin_tang_A --preset smoke --set n_samples=200 --out results/try
    attractorlab figure --list                     # registered figure makers
    attractorlab figure NAME [--results DIR] [--out DIR] [--format png|svg|pdf]
    attractorlab bench [NAME]                      # run benchmarks/NAME.py (all when omitted)

Bad arguments (and ``ValueError`` from an experiment's configuration) print one line
``attractorlab: error: ...`` and exit with status 2; set ``ATTRACTORLAB_DEBUG=1`` to get
the traceback instead.

Experiments and figure makers are registered in :mod:`attractorlab.experiments` (one
module per paper experiment; :mod:`attractorlab.experiments.figures` for the figure
makers, which redraw a figure from saved results, never by rerunning a model). This
module imports them only when a command needs them, so ``attractorlab --help`` loads
neither Brian2 nor torch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["main", "build_parser"]

_REPO_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- argument parsing
class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _version() -> str:
    from attractorlab import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``attractorlab`` argument parser."""
    p = _Parser(
        prog="attractorlab",
        description="Spiking dictionary learning (Lin & Tang 2019, Brian2) and convolutional bipartite "
        "attractor networks (CBAN, PyTorch): run experiments, make figures, check data.",
        epilog="Data root: $ATTRACTORLAB_DATA (default ../shared/data next to the repo, else "
        "~/.cache/attractorlab). Results: $ATTRACTORLAB_RESULTS (default ./results).",
    )
    p.add_argument("--version", action="version", version=f"attractorlab {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="data report, small model runs and a summary page under results/demo/ (a few minutes)")
    d.add_argument("--out", type=Path, default=None, help="output folder (default results/demo)")
    d.add_argument("--data-only", action="store_true", help="only the data report and dataset page (seconds)")

    data = sub.add_parser("data", help="list or verify the datasets")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.add_parser("list", help="each dataset with present / missing / corrupt file counts")
    chk = dsub.add_parser("check", help="re-hash every present file (sha256, no cache); exit 1 if any is corrupt "
                          "or the data root is missing")
    chk.add_argument("--strict", action="store_true", help="also exit 1 when a registered file is missing")

    r = sub.add_parser("run", help="run a registered experiment (results under results/NAME/PRESET)")
    r.add_argument("name", nargs="?", help="experiment name (see --list)")
    r.add_argument("--list", action="store_true", help="list registered experiments and exit")
    r.add_argument("--preset", default="smoke", help="'smoke' (small, minutes) or 'paper' (paper sizes)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one configuration value (Python literal); repeatable")
    r.add_argument("--out", type=Path, default=None, help="output folder")

    f = sub.add_parser("figure", help="regenerate a figure from saved results")
    f.add_argument("name", nargs="?", help="figure name (see --list)")
    f.add_argument("--list", action="store_true", help="list registered figure makers and exit")
    f.add_argument("--preset", default="smoke", help="which preset's results to read (default smoke)")
    f.add_argument("--results", type=Path, default=None, help="results folder (default results/EXPERIMENT/PRESET)")
    f.add_argument("--out", type=Path, default=None, help="output folder (default: the results folder)")
    f.add_argument("--format", dest="fmt", default="png", metavar="FORMAT",
                   help="png (default), svg or pdf; vector formats keep text as text (fonts embedded)")

    sd = sub.add_parser("seeds", help="mean +/- s.e.m. over runs that differ only in seed (and tests against a reference)")
    sd.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run folders (each with run.json, results.nc)")
    sd.add_argument("--var", dest="variables", action="append", default=[], metavar="NAME",
                    help="scalar result variable (repeatable; default pixel_accuracy)")
    sd.add_argument("--reference", action="append", default=[], metavar="NAME=VALUE",
                    help="test the mean of NAME against VALUE, e.g. the paper's (repeatable)")
    sd.add_argument("--percent", action="store_true", help="show fractions as percent")
    sd.add_argument("--out", type=Path, default=None, help="also save the summary as netCDF (.nc)")

    b = sub.add_parser("bench", help="run benchmark scripts in benchmarks/ (all when NAME is omitted)")
    b.add_argument("name", nargs="?", help="benchmark script name without .py")
    b.add_argument("--list", action="store_true", help="list benchmark scripts and exit")
    return p


# ---------------------------------------------------------------- commands
def _cmd_data_list() -> int:
    from attractorlab.data.report import data_report

    print(data_report())
    return 0


def _cmd_data_check(strict: bool) -> int:
    from attractorlab.data import DATASETS, DataError, check_data_root, cifar10_summary, dataset_status

    root = check_data_root()  # DataRootError (exit 1) when absent or a file, saying where it looked
    print(f"data root: {root}")
    bad = missing = ok = not_provided = 0
    for ds in DATASETS:
        for s in dataset_status(ds, rehash=True):  # every present file hashed again: no cache is trusted
            if s.status == "corrupt":
                bad += 1
                print(f"CORRUPT {s.message}")
            elif s.status == "missing":
                missing += 1
            elif s.status == "not_provided":  # absent by design of the shared copy: no error
                not_provided += 1
            else:
                ok += 1
    if (root / "cifar10").is_dir():
        try:
            print(cifar10_summary()["text"])
        except DataError as exc:  # unusable pickles (a corrupt one is counted above)
            print(f"cifar10: the pickles in cifar10/cifar-10-batches-py/ cannot be used: {exc}")
            bad = max(bad, 1)  # load_cifar10 would fail: exit 1
    extra = f", {not_provided} not provided by the shared copy (by design)" if not_provided else ""
    print(f"{ok} ok, {bad} corrupt, {missing} missing{extra} (files are listed by 'attractorlab data list')")
    return 1 if bad or (strict and missing) else 0


def _cmd_run(args) -> int:
    from attractorlab import experiments

    if args.list:
        names = experiments.list_experiments()
        if not names:
            print("no experiments registered yet")
        for name in names:
            exp = experiments.get_experiment(name)
            print(f"{name:<28}{exp.description}  [presets: {', '.join(sorted(exp.presets))}]")
        return 0
    if not args.name:
        raise _UsageError("run: give an experiment NAME or --list")
    overrides = experiments.parse_overrides(args.overrides)
    # settings, data files and the output folder are checked before any work
    _, _, out = experiments.prepare_run(args.name, args.preset, overrides, args.out)
    ds = experiments.run_experiment(args.name, args.preset, overrides, out)
    print(f"{args.name} ({args.preset}) done; results in {out}")
    if ds is not None and hasattr(ds, "data_vars"):
        print(f"variables: {', '.join(map(str, ds.data_vars))}")
    return 0


def _cmd_figure(args) -> int:
    from attractorlab import experiments

    if args.list:
        names = experiments.list_figures()
        if not names:
            print("no figure makers registered yet")
        for name in names:
            fig = experiments.get_figure(name)
            print(f"{name:<28}{fig.description}  [reads: {fig.experiment}]")
        return 0
    if not args.name:
        raise _UsageError("figure: give a figure NAME or --list")
    from attractorlab.analysis.figures import style
    from attractorlab.results import results_root

    try:
        fmt = style.check_format(args.fmt)
    except ValueError:
        raise _UsageError(f"figure: --format must be one of {', '.join(style.FORMATS)}, got {args.fmt!r}") from None
    fig = experiments.get_figure(args.name)
    results_dir = args.results if args.results is not None else results_root() / fig.experiment / args.preset
    if not results_dir.is_dir():
        raise ValueError(
            f"no results for figure {args.name!r} at {str(results_dir)!r}; run "
            f"'attractorlab run {fig.experiment} --preset {args.preset}' first or pass --results DIR"
        )
    out_dir = args.out if args.out is not None else results_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    with style.style_context():
        written = fig.func(results_dir, out_dir, fmt=fmt) or []
    for path in written:
        print(f"wrote {path}")
    return 0


def _cmd_seeds(args) -> int:
    from attractorlab.experiments.seeds import format_seed_summary, seed_summary
    from attractorlab.results import save_dataset

    reference = {}
    for item in args.reference:
        name, sep, raw = item.partition("=")
        try:
            value = float(raw)
        except ValueError:
            value = None
        if not sep or not name or value is None:
            raise _UsageError(f"seeds: --reference must be NAME=NUMBER, got {item!r}")
        reference[name] = value
    variables = args.variables or ["pixel_accuracy"]
    ds = seed_summary(args.runs, variables, reference=reference)
    print(format_seed_summary(ds, percent=args.percent))
    if args.out is not None:
        print(f"wrote {save_dataset(ds, args.out, params={'runs': [str(r) for r in args.runs], 'variables': variables, 'reference': reference})}")
    return 0


def _benchmarks() -> dict[str, Path]:
    folder = _REPO_ROOT / "benchmarks"
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")}


def _cmd_bench(args) -> int:
    benches = _benchmarks()
    if args.list:
        print("\n".join(benches) if benches else "no benchmark scripts in benchmarks/")
        return 0
    if args.name is not None and args.name not in benches:
        raise ValueError(f"unknown benchmark {args.name!r}; known: {', '.join(benches) or '(none)'}")
    names = [args.name] if args.name else list(benches)
    if not names:
        print("no benchmark scripts in benchmarks/")
        return 0
    failed = []
    for name in names:
        print(f"== benchmark {name}", flush=True)
        rc = subprocess.run([sys.executable, str(benches[name])], cwd=_REPO_ROOT).returncode
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _dispatch(args, parser) -> int:
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        from attractorlab.experiments.demo import DATA_STEPS, run_demo

        run_demo(args.out, steps=DATA_STEPS if args.data_only else None)
        return 0
    if args.command == "data":
        if args.data_command == "list":
            return _cmd_data_list()
        if args.data_command == "check":
            return _cmd_data_check(args.strict)
        raise _UsageError("data: choose an action: list or check")
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "figure":
        return _cmd_figure(args)
    if args.command == "bench":
        return _cmd_bench(args)
    if args.command == "seeds":
        return _cmd_seeds(args)
    raise _UsageError(f"unknown command {args.command!r}")  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``attractorlab``; returns the exit status (0 ok, 1 failure, 2 usage error)."""
    parser = build_parser()
    debug = os.environ.get("ATTRACTORLAB_DEBUG", "") not in ("", "0")
    try:
        args = parser.parse_args(argv)
        return _dispatch(args, parser)
    except _UsageError as exc:
        print(f"attractorlab: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        if debug:
            raise
        print(f"attractorlab: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except Exception as exc:  # DataMissingError etc.: one clear line, status 1
        from attractorlab.data import DataError

        if debug or not isinstance(exc, DataError):
            raise
        print(f"attractorlab: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
