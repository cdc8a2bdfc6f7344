"""Experiment and figure registries: ``name -> function``.

An experiment is ``func(config: dict, out_dir: Path) -> xarray.Dataset`` with named
presets (``"smoke"``: seconds to minutes on 2 CPU cores, used by tests and notebooks;
``"paper"``: the paper's sizes). A run's configuration is the preset's dict updated by
``--set key=value`` overrides; unknown keys are an error naming the allowed ones.

**Settings, checks and fingerprints.** Every override is **type-checked** against the presets (:meth:`Experiment.config`): a
key whose preset values are integers takes integers (an integral float such as ``1e3``
becomes ``1000``; ``1000.7`` is refused), a float key takes finite numbers (NaN and inf
are refused), booleans take ``True``/``False``, strings take strings, lists take lists
of the preset's element type, and a key that is ``None`` in some preset also takes
``None``. Where the presets do not show a key's type (a value that is ``None`` in every
preset, a string that may also be a number), the experiment declares it in ``types``
(e.g. ``{"lam2": ("auto", float), "image": (str, None), "lr_milestones": list[int]}``).
Each error is one line naming the key, the value and what is allowed.

An experiment may declare ``check(config)``: it validates the whole configuration (values
and ranges, raising ValueError naming the key) and verifies every data file the run will
read (:func:`~attractorlab.data.registry.verify_files`, by sha256). :func:`run_experiment
<attractorlab.experiments.run_experiment>` calls it before the experiment's function, so
a bad value or a corrupt file fails before the first training step.

An experiment declares ``eval_keys``: settings that only say how a run is evaluated or
executed (test-set sizes, batch sizes of the evaluation, progress bars, ...). Every
other setting is part of the run's **fingerprint** (:func:`fingerprint`): the settings
that decide what its checkpoints hold. :data:`RUNTIME_KEYS` (progress, threads, device,
...) are runtime settings of every experiment. A rerun into a folder that holds a run
with another fingerprint is refused (see :func:`attractorlab.experiments.run_experiment`);
a rerun that changes only ``eval_keys`` reuses the checkpoints and re-evaluates. The
default output folder is ``results/NAME/PRESET`` and, when the fingerprint differs from
the preset's, ``results/NAME/PRESET+key=value+...`` (:meth:`Experiment.run_name`).

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
import hashlib
import json
import math
import re
import types as _types
import typing
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = [
    "Experiment",
    "Figure",
    "RUNTIME_KEYS",
    "register_experiment",
    "register_figure",
    "parse_overrides",
    "fingerprint",
]

_REGISTRY: dict[str, "Experiment"] = {}
_FIGURES: dict[str, "Figure"] = {}

#: Settings that say how any run executes, never what it computes. They are left out of
#: every experiment's fingerprint, as ``RUNTIME_FIELDS`` of
#: :mod:`attractorlab.models.cban.train` are left out of a CBAN checkpoint's.
RUNTIME_KEYS: frozenset[str] = frozenset(
    {"progress", "threads", "device", "compile", "channels_last", "checkpoint_every"}
)
# keys run_experiment adds to a configuration (not settings); names starting with "_" are
# private additions of an experiment and are never part of a fingerprint either
_META_KEYS = frozenset({"preset"})
_MAX_READABLE = 64
_SAFE = re.compile(r"[A-Za-z0-9_.=+-]+")


def fingerprint(config: Mapping[str, Any], eval_keys: Iterable[str] = ()) -> dict:
    """The settings of ``config`` that decide what a run's checkpoints hold.

    Every key except ``eval_keys``, :data:`RUNTIME_KEYS`, ``"preset"`` and private keys
    (starting with ``_``), as JSON-like values (tuples as lists), so that a fingerprint
    stored in a checkpoint or a ``run.json`` compares equal to a new one.
    """
    from attractorlab.results import plain_config

    skip = set(eval_keys) | RUNTIME_KEYS | _META_KEYS
    return plain_config({k: v for k, v in config.items() if k not in skip and not str(k).startswith("_")})


# ---------------------------------------------------------------- setting types
class _Any:
    """Type of a setting the presets leave open (None in every preset, no declared type)."""


def _kind_of(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return bool
    if isinstance(value, int):
        return int
    if isinstance(value, float):
        return float
    if isinstance(value, str):
        return str
    if isinstance(value, (list, tuple)):
        elems = {_kind_of(v) for v in value}
        if not elems:
            return list
        if elems <= {int}:
            return list[int]
        if elems <= {int, float}:
            return list[float]
        if len(elems) == 1 and next(iter(elems)) in (str, bool):
            return list[next(iter(elems))]
        return list
    return _Any


def _merge_kinds(kinds: set) -> tuple:
    """Union of the kinds seen across presets (int and float -> float, list -> list[X])."""
    kinds = set(kinds)
    if int in kinds and float in kinds:
        kinds.discard(int)
    lists = {k for k in kinds if k is list or typing.get_origin(k) is list}
    if len(lists) > 1:
        kinds -= lists
        elems = {typing.get_args(k)[0] for k in lists if k is not list}
        if elems <= {int, float}:
            kinds.add(list[float] if float in elems else list[int])
        elif len(elems) == 1:
            kinds.add(list[next(iter(elems))])
        else:
            kinds.add(list)
    if kinds == {None}:  # None in every preset: the type is not known
        kinds.add(_Any)
    order = {None: 9}
    return tuple(sorted(kinds, key=lambda k: (order.get(k, 0), repr(k))))


def _describe(spec: tuple) -> str:
    names = []
    for k in spec:
        if k is None:
            names.append("None")
        elif isinstance(k, str):
            names.append(repr(k))
        elif k is bool:
            names.append("True or False")
        elif k is int:
            names.append("an integer")
        elif k is float:
            names.append("a finite number")
        elif k is str:
            names.append("a string")
        elif k is list:
            names.append("a list")
        elif typing.get_origin(k) is list:
            elem = typing.get_args(k)[0]
            names.append("a list of " + {int: "integers", float: "finite numbers", str: "strings",
                                         bool: "True/False values"}.get(elem, "values"))
        elif k is _Any:
            names.append("any finite value")
    return " or ".join(names)


class _Mismatch(Exception):
    pass


def _finite_everywhere(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite_everywhere(v) for v in value)
    if isinstance(value, Mapping):
        return all(_finite_everywhere(v) for v in value.values())
    return True


def _coerce_one(value: Any, kind: Any) -> Any:
    """``value`` as a setting of ``kind`` (converted: int -> float, integral float -> int,
    tuple -> list), or raise _Mismatch."""
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover
        pass
    if kind is None:
        if value is None:
            return None
    elif isinstance(kind, str):
        if value == kind:
            return value
    elif kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    elif kind is list or typing.get_origin(kind) is list:
        if isinstance(value, (list, tuple)):
            if kind is list:
                if _finite_everywhere(value):
                    return list(value)
            else:
                elem = typing.get_args(kind)[0]
                return [_coerce_one(v, elem) for v in value]
    elif kind is _Any:
        if _finite_everywhere(value):
            return value
    raise _Mismatch


def _coerce(value: Any, spec: tuple) -> Any:
    for kind in spec:
        try:
            return _coerce_one(value, kind)
        except _Mismatch:
            continue
    raise _Mismatch


def _as_spec(declared: Any) -> tuple:
    spec = tuple(declared) if isinstance(declared, tuple) else (declared,)
    for k in spec:
        ok = (k is None or isinstance(k, str) or k in (bool, int, float, str, list)
              or (isinstance(k, _types.GenericAlias) and typing.get_origin(k) is list))
        if not ok:
            raise ValueError(f"types entries must be None, bool, int, float, str, a literal string, list or "
                             f"list[X]; got {k!r}")
    return spec


# ---------------------------------------------------------------- registry entries
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
    eval_keys : frozenset of str
        Settings that do not change what the run's checkpoints hold (evaluation sizes,
        figure options, ...); with :data:`RUNTIME_KEYS` they are left out of the
        fingerprint (:meth:`fingerprint`).
    check : callable or None
        ``check(config)``: validates the whole configuration and verifies the data
        files the run reads; raises ValueError (naming the key) or a
        :class:`~attractorlab.data.registry.DataError`. Called by :meth:`validate`.
    types : mapping
        Setting -> allowed kinds, for settings whose presets do not show their type
        (see the module docstring). Other settings' kinds come from the presets.
    """

    name: str
    func: Callable[[dict, Path], Any]
    presets: Mapping[str, Mapping[str, Any]]
    description: str = ""
    eval_keys: frozenset = frozenset()
    check: Callable[[dict], None] | None = None
    types: Mapping[str, tuple] = dataclasses.field(default_factory=dict)

    def setting_types(self) -> dict[str, tuple]:
        """Allowed kinds of every setting (declared ``types`` first, else from the presets)."""
        keys = sorted({k for p in self.presets.values() for k in p})
        out = {}
        for k in keys:
            if k in self.types:
                out[k] = self.types[k]
            else:
                out[k] = _merge_kinds({_kind_of(p[k]) for p in self.presets.values() if k in p})
        return out

    def config(self, preset: str, overrides: Mapping[str, Any] | None = None) -> dict:
        """The preset's configuration updated by ``overrides``, each type-checked.

        Raises ValueError (one line) for an unknown preset or setting and for a value
        of the wrong kind, naming the key, the value and what is allowed.
        """
        if preset not in self.presets:
            raise ValueError(
                f"preset must be one of {sorted(self.presets)} for experiment {self.name!r}, got {preset!r}"
            )
        cfg = dict(self.presets[preset])
        kinds = self.setting_types()
        for key, value in (overrides or {}).items():
            if key not in cfg:
                raise ValueError(
                    f"unknown setting {key!r} for experiment {self.name!r}; allowed: {', '.join(sorted(cfg))}"
                )
            try:
                cfg[key] = _coerce(value, kinds[key])
            except _Mismatch:
                raise ValueError(
                    f"setting {key!r} of experiment {self.name!r} must be {_describe(kinds[key])}, got {value!r}"
                ) from None
        cfg["preset"] = preset
        return cfg

    def validate(self, config: Mapping[str, Any]) -> None:
        """Run the experiment's ``check(config)`` (values, ranges, data files), if any."""
        if self.check is not None:
            self.check(dict(config))

    def fingerprint(self, config: Mapping[str, Any]) -> dict:
        """:func:`fingerprint` of ``config`` with this experiment's ``eval_keys``."""
        return fingerprint(config, self.eval_keys)

    def changed_settings(self, config: Mapping[str, Any]) -> dict:
        """Fingerprint settings of ``config`` whose values differ from its preset's."""
        base = self.fingerprint(self.presets[config["preset"]])
        new = self.fingerprint(config)
        return {k: v for k, v in new.items() if base.get(k, _Any) != v}

    def run_name(self, config: Mapping[str, Any]) -> str:
        """Folder name of a run: the preset, plus ``+key=value`` for each fingerprint
        setting that differs from the preset (sorted by key) when that is short and plain,
        else ``+overrides-<10 hex digits of their sha256>``. Stable: the same settings
        always give the same name; settings in ``eval_keys`` never change it."""
        preset = config["preset"]
        changed = self.changed_settings(config)
        if not changed:
            return preset
        parts = []
        for k, v in sorted(changed.items()):
            if isinstance(v, list) and all(isinstance(x, (int, float, str)) and not isinstance(x, bool) for x in v):
                text = "-".join(str(x) for x in v) if v else "none"
            elif isinstance(v, (dict, list)):
                text = "/"  # forces the hashed form
            else:
                text = str(v)
            parts.append(f"{k}={text}")
        readable = "+".join(parts)
        if len(readable) <= _MAX_READABLE and _SAFE.fullmatch(readable):
            return f"{preset}+{readable}"
        digest = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:10]
        return f"{preset}+overrides-{digest}"


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
    name: str,
    *,
    presets: Mapping[str, Mapping[str, Any]],
    description: str = "",
    eval_keys: Iterable[str] = (),
    check: Callable[[dict], None] | None = None,
    types: Mapping[str, Any] | None = None,
) -> Callable[[Callable], Callable]:
    """Decorator registering ``func(config, out_dir) -> Dataset`` under ``name``.

    Parameters
    ----------
    presets : mapping
        Preset name -> configuration; must include "smoke" and "paper".
    eval_keys : iterable of str
        Settings that do not change a checkpoint (see :class:`Experiment`).
    check : callable, optional
        ``check(config)``, run before the experiment (see :class:`Experiment`).
    types : mapping, optional
        Allowed kinds of settings whose presets do not show them, e.g.
        ``{"image": (str, None)}`` (see the module docstring).

    Raises ValueError when ``presets`` lacks ``"smoke"`` or ``"paper"``, when an entry of
    ``eval_keys`` or ``types`` is not a setting of the presets, and when ``name`` is
    registered already.
    """
    missing = {"smoke", "paper"} - set(presets)
    if missing:
        raise ValueError(f"presets for {name!r} must include 'smoke' and 'paper'; missing {sorted(missing)}")
    keys = {k for p in presets.values() for k in p}
    eval_keys = frozenset(eval_keys)
    types = dict(types or {})
    for what, given in (("eval_keys", eval_keys), ("types", set(types))):
        unknown = sorted(set(given) - keys)
        if unknown:
            raise ValueError(f"{what} of experiment {name!r} name settings that no preset has: {unknown}")
    types = {k: _as_spec(v) for k, v in types.items()}

    def deco(func: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"experiment {name!r} is registered already (by {_REGISTRY[name].func.__module__}); "
                             "experiment names must be unique")
        _REGISTRY[name] = Experiment(name, func, presets, description or _first_doc_line(func),
                                     eval_keys=eval_keys, check=check, types=types)
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
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """Parse ``["key=value", ...]`` (values as Python literals, else strings)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = _parse_value(value.strip())
    return out
