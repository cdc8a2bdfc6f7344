"""Experiment registry: ``name -> function(config) -> xarray.Dataset``.

Each experiment module registers its runners with :func:`register_experiment`;
the registry imports those modules lazily (listed in ``_EXPERIMENT_MODULES``) so that
``attractorlab --help`` does not import Brian2 or torch.

An experiment has named presets (``"smoke"``: seconds to minutes on 2 CPU cores,
used by tests and notebooks; ``"paper"``: the paper's sizes). A run's configuration
is the preset's dict updated by ``--set key=value`` overrides; unknown keys are an
error naming the allowed ones.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = [
    "Experiment",
    "register_experiment",
    "get_experiment",
    "list_experiments",
    "parse_overrides",
    "run_experiment",
]

#: Modules whose import registers experiments (imported on first lookup).
_EXPERIMENT_MODULES: tuple[str, ...] = (
    "attractorlab.models.spiking_dictionary.experiments",
    "attractorlab.models.cban.experiments",
    "attractorlab.models.cban.completion",
)

_REGISTRY: dict[str, "Experiment"] = {}
_loaded = False


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered experiment.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"lin_tang_A"``.
    func : callable
        ``func(config: dict, out_dir: Path) -> xarray.Dataset``; writes its results
        and figures under ``out_dir`` (atomically) and returns the main Dataset.
    presets : mapping
        Preset name -> configuration dict. Must contain ``"smoke"`` and ``"paper"``.
    description : str
        One line shown by ``attractorlab run --list``.
    """

    name: str
    func: Callable[[dict, Path], Any]
    presets: Mapping[str, Mapping[str, Any]]
    description: str = ""

    def config(self, preset: str, overrides: Mapping[str, Any] | None = None) -> dict:
        if preset not in self.presets:
            raise ValueError(
                f"preset must be one of {sorted(self.presets)} for experiment {self.name!r}, got {preset!r}"
            )
        cfg = dict(self.presets[preset])
        for key, value in (overrides or {}).items():
            if key not in cfg:
                raise ValueError(
                    f"unknown setting {key!r} for experiment {self.name!r}; allowed: {', '.join(sorted(cfg))}"
                )
            cfg[key] = value
        cfg["preset"] = preset
        return cfg


def register_experiment(
    name: str, *, presets: Mapping[str, Mapping[str, Any]], description: str = ""
) -> Callable[[Callable], Callable]:
    """Decorator registering ``func(config, out_dir) -> Dataset`` under ``name``."""
    missing = {"smoke", "paper"} - set(presets)
    if missing:
        raise ValueError(f"presets for {name!r} must include 'smoke' and 'paper'; missing {sorted(missing)}")

    def deco(func: Callable) -> Callable:
        _REGISTRY[name] = Experiment(name, func, presets, description or (func.__doc__ or "").strip().split("\n")[0])
        return func

    return deco


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in _EXPERIMENT_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a model package not written yet
            if exc.name != mod:
                raise
    _loaded = True


def list_experiments() -> list[str]:
    """Names of all registered experiments, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; ValueError listing the known names otherwise."""
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(sorted(_REGISTRY)) or '(none)'}")
    return _REGISTRY[name]


def _parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """Parse ``["key=value", ...]`` (values as Python literals, else strings)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = _parse_value(value.strip())
    return out


def run_experiment(
    name: str,
    preset: str = "smoke",
    overrides: Mapping[str, Any] | None = None,
    out_dir: str | Path | None = None,
):
    """Run experiment ``name`` with ``preset`` and ``overrides``; returns its Dataset.

    Results go to ``out_dir`` (default ``results/<name>/<preset>``).
    """
    from attractorlab.results import results_root

    exp = get_experiment(name)
    cfg = exp.config(preset, overrides)
    out = Path(out_dir) if out_dir is not None else results_root() / name / preset
    out.mkdir(parents=True, exist_ok=True)
    return exp.func(cfg, out)
