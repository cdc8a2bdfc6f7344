"""Experiment and figure registries: ``name -> function``.

An experiment is ``func(config: dict, out_dir: Path) -> xarray.Dataset`` with named
presets (``"smoke"``: seconds to minutes on 2 CPU cores, used by tests and notebooks;
``"paper"``: the paper's sizes). A run's configuration is the preset's dict updated by
``--set key=value`` overrides; unknown keys are an error naming the allowed ones.

A figure maker is ``func(results_dir: Path, out_dir: Path) -> list[Path]``: it redraws a
figure from saved results, never by rerunning a model.

This module only holds the tables and the decorators that fill them; it imports no
experiment. The package :mod:`attractorlab.experiments` imports its experiment modules
(explicitly, on first lookup) and offers the lookups. Registering a name twice is an
error.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

__all__ = [
    "Experiment",
    "Figure",
    "register_experiment",
    "register_figure",
    "parse_overrides",
]

_REGISTRY: dict[str, "Experiment"] = {}
_FIGURES: dict[str, "Figure"] = {}


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


@dataclasses.dataclass(frozen=True)
class Figure:
    """A registered figure maker: ``func(results_dir: Path, out_dir: Path) -> list[Path]``."""

    name: str
    func: Callable[[Path, Path], Sequence[Path]]
    experiment: str
    description: str = ""


def _first_doc_line(func: Callable) -> str:
    return (func.__doc__ or "").strip().split("\n")[0]


def register_experiment(
    name: str, *, presets: Mapping[str, Mapping[str, Any]], description: str = ""
) -> Callable[[Callable], Callable]:
    """Decorator registering ``func(config, out_dir) -> Dataset`` under ``name``.

    Raises ValueError when ``presets`` lacks ``"smoke"`` or ``"paper"`` and when ``name``
    is registered already.
    """
    missing = {"smoke", "paper"} - set(presets)
    if missing:
        raise ValueError(f"presets for {name!r} must include 'smoke' and 'paper'; missing {sorted(missing)}")

    def deco(func: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"experiment {name!r} is registered already (by {_REGISTRY[name].func.__module__}); "
                             "experiment names must be unique")
        _REGISTRY[name] = Experiment(name, func, presets, description or _first_doc_line(func))
        return func

    return deco


def register_figure(name: str, *, experiment: str, description: str = "") -> Callable[[Callable], Callable]:
    """Decorator registering a figure maker that reads results of ``experiment``.

    Raises ValueError when ``name`` is registered already.
    """

    def deco(func: Callable) -> Callable:
        if name in _FIGURES:
            raise ValueError(f"figure {name!r} is registered already (by {_FIGURES[name].func.__module__}); "
                             "figure names must be unique")
        _FIGURES[name] = Figure(name, func, experiment, description or _first_doc_line(func))
        return func

    return deco


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
