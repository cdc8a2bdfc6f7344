"""Experiments: the only code that wires a model, its baselines and the analysis together.

One module per paper experiment, each registering its runner(s) with presets:

* :mod:`.lin_tang`: ``lin_tang_A``, ``lin_tang_B``, ``lin_tang_C`` (Lin & Tang 2019, §4);
* :mod:`.cban_bars`: ``cban_bars`` (CBAN §4.1, Figs 2-3);
* :mod:`.cban_mnist`: ``cban_mnist`` (CBAN §4.2, Fig 4);
* :mod:`.cban_completion`: ``cban_omniglot``, ``cban_cifar10`` (CBAN §4.3-4.4, Figs 5-6,
  Tables 2-3);
* :mod:`.cban_sr`: ``cban_sr`` (CBAN §4.5, Table 1, Fig 7).

:mod:`.figures` registers the figure makers of ``attractorlab figure``; :mod:`.demo` and
:mod:`.demo_models` are the steps of ``attractorlab demo``; :mod:`.registry` holds the
tables and decorators.

The experiment modules are imported on the first lookup (:func:`list_experiments`,
:func:`get_experiment`, :func:`run_experiment`, :func:`list_figures`,
:func:`get_figure`), so that importing this package (e.g. for the demo's data steps) loads
neither Brian2 nor torch. Models and analysis never import this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from attractorlab.experiments import registry
from attractorlab.experiments.registry import (
    RUNTIME_KEYS,
    Experiment,
    Figure,
    fingerprint,
    parse_overrides,
    register_experiment,
    register_figure,
)

__all__ = [
    "Experiment",
    "Figure",
    "RUNTIME_KEYS",
    "fingerprint",
    "register_experiment",
    "register_figure",
    "get_experiment",
    "list_experiments",
    "parse_overrides",
    "check_out_dir",
    "prepare_run",
    "run_experiment",
    "get_figure",
    "list_figures",
]

_loaded = False


def _load_all() -> None:
    """Import every experiment module once (their imports register the experiments and figures)."""
    global _loaded
    if _loaded:
        return
    from attractorlab.experiments import (  # noqa: F401  (imported for their registrations)
        cban_bars,
        cban_completion,
        cban_mnist,
        cban_sr,
        figures,
        lin_tang,
    )

    _loaded = True


def list_experiments() -> list[str]:
    """Names of all registered experiments, sorted."""
    _load_all()
    return sorted(registry._REGISTRY)


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; ValueError listing the known names otherwise."""
    _load_all()
    table = registry._REGISTRY
    if name not in table:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(sorted(table)) or '(none)'}")
    return table[name]


def prepare_run(
    name: str,
    preset: str = "smoke",
    overrides: Mapping[str, Any] | None = None,
    out_dir: str | Path | None = None,
) -> tuple[Experiment, dict, Path]:
    """Everything :func:`run_experiment` does before the experiment starts; nothing is written.

    Builds the configuration (type-checked overrides), runs the experiment's ``check``
    (every setting, every data file by sha256), picks the output folder (default
    ``results/NAME/`` + :meth:`~attractorlab.experiments.registry.Experiment.run_name`) and checks that it can be used: not
    an existing file, writable, and not holding a run of another experiment or another
    fingerprint (:func:`check_out_dir`). Returns ``(experiment, config, out_dir)``.
    """
    from attractorlab.results import results_root

    exp = get_experiment(name)
    cfg = exp.config(preset, overrides)
    exp.validate(cfg)
    out = Path(out_dir) if out_dir is not None else results_root() / name / exp.run_name(cfg)
    check_out_dir(exp, cfg, out)
    return exp, cfg, out


def check_out_dir(exp: Experiment, config: Mapping[str, Any], out: Path) -> None:
    """Refuse an output folder that cannot hold this run (ValueError, one line).

    ``out`` must be a folder or not exist yet, must be writable when it exists, and its
    ``run.json`` (if any) must name the same experiment and the same fingerprint: a run
    under other settings would otherwise resume the other run's checkpoints or mix its
    results with this one's.
    """
    import os

    from attractorlab.results import read_run_record

    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {str(out)!r} is an existing file, not a folder; give --out a folder path")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"output folder {str(out)!r} cannot be made: {str(probe)!r} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"output folder {str(out)!r} cannot be written: {str(probe)!r} is read-only for this user")
    rec = read_run_record(out) if out.is_dir() else None
    if rec is None:
        return
    if rec.get("experiment") != exp.name:
        raise ValueError(f"output folder {str(out)!r} holds a run of experiment {rec.get('experiment')!r}, not "
                         f"{exp.name!r}; use another output folder")
    from attractorlab.results import plain_config

    if rec.get("fingerprint") is None:  # a failed first run: its checkpoints (if any) speak for themselves
        return
    stored, new = plain_config(rec["fingerprint"]), exp.fingerprint(config)
    absent = "<absent>"
    diff = [k for k in sorted(set(stored) | set(new)) if stored.get(k, absent) != new.get(k, absent)]
    if diff:
        pairs = ", ".join(f"{k}: stored {stored.get(k, absent)!r}, now {new.get(k, absent)!r}" for k in diff)
        raise ValueError(
            f"output folder {str(out)!r} holds a run of {exp.name} under a different configuration ({pairs}); "
            "rerunning there would reuse or mix its checkpoints and results. Use another output folder (without "
            "--out each set of settings gets its own), or delete that folder to start again."
        )


def run_experiment(
    name: str,
    preset: str = "smoke",
    overrides: Mapping[str, Any] | None = None,
    out_dir: str | Path | None = None,
):
    """Run experiment ``name`` with ``preset`` and ``overrides``; returns its Dataset.

    Before any work (:func:`prepare_run`): the overrides are type-checked, the
    experiment's ``check`` validates every setting and verifies every data file it will
    read, and the output folder is checked. Results go to ``out_dir``, by default
    ``results/<name>/<preset>`` when no setting of the fingerprint differs from the
    preset, else ``results/<name>/<preset>+<key>=<value>...`` (or a hash of them; see
    :meth:`~attractorlab.experiments.registry.Experiment.run_name`), so runs under different settings never share a folder.

    The folder's ``run.json`` records the experiment, preset, overrides, full
    configuration, fingerprint, git commit and status: "running" while the run goes (and
    after a kill), "complete" once every result and figure is written (its last step),
    "interrupted" (Ctrl-C) or "failed" (with the error) when the experiment raised. A
    rerun into the folder must have the same fingerprint (settings in ``eval_keys`` may
    change: a re-evaluation reuses the checkpoints). A failed run keeps the fingerprint
    of the record before it (None when there was none), since its error may have been
    the checkpoints refusing its settings; the checkpoints then guard the folder.
    """
    import datetime as _dt

    from attractorlab.results import git_commit, write_run_record

    from attractorlab.results import read_run_record

    exp, cfg, out = prepare_run(name, preset, overrides, out_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous = read_run_record(out)
    now = lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")  # noqa: E731
    record = {"experiment": name, "preset": preset, "overrides": dict(overrides or {}),
              "config": {k: v for k, v in cfg.items() if not str(k).startswith("_")},
              "fingerprint": exp.fingerprint(cfg), "git_commit": git_commit() or "unknown",
              "started_utc": now(), "status": "running"}
    write_run_record(out, record)
    try:
        ds = exp.func(cfg, out)
    except BaseException as exc:
        failed = {"status": "failed", "finished_utc": now(), "error": f"{type(exc).__name__}: {exc}"}
        if isinstance(exc, KeyboardInterrupt):
            failed["status"] = "interrupted"
        else:  # the error may be a refusal of the folder's checkpoints: keep the fingerprint they were made under
            failed["fingerprint"] = previous.get("fingerprint") if previous else None
        try:
            write_run_record(out, {**record, **failed})
        except OSError:  # pragma: no cover - keep the original error
            pass
        raise
    write_run_record(out, {**record, "status": "complete", "finished_utc": now()})
    return ds


def list_figures() -> list[str]:
    """Names of registered figure makers, sorted."""
    _load_all()
    return sorted(registry._FIGURES)


def get_figure(name: str) -> Figure:
    """The figure maker ``name``; ValueError listing the known ones otherwise."""
    _load_all()
    table = registry._FIGURES
    if name not in table:
        raise ValueError(f"unknown figure {name!r}; known: {', '.join(sorted(table)) or '(none registered yet)'}")
    return table[name]
