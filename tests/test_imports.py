"""The package's import graph: no cycles, and imports only flow down the layers.

Layers (ARCHITECTURE.md): the **core services** (``attractorlab``, ``attractorlab.data``,
``attractorlab.results``, ``attractorlab.threads``, ...) import no other layer; **models**
and **analysis** import only the core services, never each other; **experiments**
(``attractorlab.experiments``) may import everything but the command line; the **command
line** (``attractorlab.cli``, ``attractorlab.__main__``) sits on top.

The graph is read from the source with :mod:`ast` (nothing is imported): every ``import``
and ``from ... import`` statement counts, at module level or inside a function, relative
imports resolved; ``from package import name`` is an edge to ``package.name`` when that is
a module, else to ``package``. Module files are found through the ``package-dir`` mapping
of ``pyproject.toml``.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: layer -> layers it must not import
FORBIDDEN = {
    "core": {"models", "analysis", "experiments", "cli"},
    "models": {"analysis", "experiments", "cli"},
    "analysis": {"models", "experiments", "cli"},
    "experiments": {"cli"},
    "cli": set(),
}


def layer(module: str) -> str:
    """The layer of an ``attractorlab.*`` module name."""
    for prefix, name in (("attractorlab.models", "models"), ("attractorlab.analysis", "analysis"),
                         ("attractorlab.experiments", "experiments"), ("attractorlab.cli", "cli"),
                         ("attractorlab.__main__", "cli")):
        if module == prefix or module.startswith(prefix + "."):
            return name
    return "core"


def module_files(package_dirs: dict[str, Path]) -> dict[str, Path]:
    """Module name -> source file for every ``.py`` file under each package directory.

    ``package_dirs`` maps a package name to its folder (as setuptools' ``package-dir``); a
    file under several mapped folders belongs to the innermost.
    """
    folders = {name: d.resolve() for name, d in package_dirs.items()}
    out: dict[str, Path] = {}
    for folder in set(folders.values()):
        for path in sorted(folder.rglob("*.py")):
            package, root = max(((n, f) for n, f in folders.items() if f == path.parent or f in path.parents),
                                key=lambda nf: len(nf[1].parts))
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def import_graph(files: dict[str, Path], root: str = "attractorlab") -> dict[str, dict[str, int]]:
    """Module -> {imported ``root.*`` module: line of the first such import}."""
    graph: dict[str, dict[str, int]] = {}
    for mod, path in files.items():
        is_package = path.name == "__init__.py"
        edges: dict[str, int] = {}

        def add(target: str, line: int) -> None:
            if (target == root or target.startswith(root + ".")) and target != mod:
                edges.setdefault(target, line)

        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_package else mod.split(".")[:-1]
                    if node.level > 1:
                        base = base[: len(base) - (node.level - 1)]
                    base_name = ".".join(base + ([node.module] if node.module else []))
                else:
                    base_name = node.module or ""
                for alias in node.names:
                    sub = f"{base_name}.{alias.name}"
                    add(sub if sub in files else base_name, node.lineno)
        graph[mod] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def upward_imports(graph: dict[str, dict[str, int]], files: dict[str, Path]) -> list[str]:
    """``file:line: source (layer) imports target (layer)`` for every forbidden edge."""
    bad = []
    for src, edges in sorted(graph.items()):
        for dst, line in sorted(edges.items()):
            if layer(dst) in FORBIDDEN[layer(src)]:
                bad.append(f"{files[src].relative_to(REPO) if REPO in files[src].parents else files[src]}:{line}: "
                           f"{src} ({layer(src)}) imports {dst} ({layer(dst)})")
    return bad


def _describe(comp: list[str], graph: dict[str, dict[str, int]], files: dict[str, Path]) -> str:
    inside = set(comp)
    edges = [f"  {files[a].name}:{line}: {a} -> {b}" for a in comp for b, line in graph[a].items() if b in inside]
    return "cycle among " + ", ".join(comp) + "\n" + "\n".join(edges)


@pytest.fixture(scope="module")
def package():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())
    dirs = {name: REPO / folder for name, folder in cfg["tool"]["setuptools"]["package-dir"].items()}
    files = module_files(dirs)
    return files, import_graph(files)


def test_the_walk_sees_every_layer(package):
    files, graph = package
    for mod in ("attractorlab.cli", "attractorlab.results", "attractorlab.experiments.registry",
                "attractorlab.experiments.cban_sr", "attractorlab.models.cban.functional",
                "attractorlab.models.spiking_dictionary.runtime", "attractorlab.analysis.metrics",
                "attractorlab.analysis.figures.cban"):
        assert mod in files, mod
    # relative, function-level and package imports are all edges
    assert "attractorlab.models.cban.functional" in graph["attractorlab.models.cban.module"]
    assert "attractorlab.experiments.cban_bars" in graph["attractorlab.experiments"]
    assert "attractorlab.models.cban.bars" in graph["attractorlab.experiments.cban_bars"]


def test_no_import_cycles(package):
    files, graph = package
    found = cycles(graph)
    assert not found, "\n".join(_describe(c, graph, files) for c in found)


def test_imports_flow_down_the_layers(package):
    files, graph = package
    bad = upward_imports(graph, files)
    assert not bad, "imports against the layers (ARCHITECTURE.md):\n" + "\n".join(bad)


def test_every_attractorlab_import_names_an_existing_module(package):
    files, graph = package
    missing = [f"{files[src].name}:{line}: {src} imports {dst}" for src, edges in sorted(graph.items())
               for dst, line in edges.items() if dst not in files]
    assert not missing, "\n".join(missing)


def test_checker_finds_cycles_and_upward_imports(tmp_path):
    """The checks above fail on a package that breaks each rule (relative, absolute and
    function-level imports)."""
    core, models, analysis = tmp_path / "core", tmp_path / "models", tmp_path / "analysis"
    for d in (core / "experiments", models / "cban", analysis):
        d.mkdir(parents=True)
    src = {
        core / "__init__.py": "",
        core / "results.py": "import numpy\n",
        core / "experiments" / "__init__.py": "from . import run\n",
        core / "experiments" / "run.py": "from attractorlab import results\n",
        # experiments may import models and analysis
        core / "experiments" / "other.py": "from attractorlab.models.cban import a\nfrom attractorlab.analysis import m\n",
        models / "__init__.py": "",
        models / "cban" / "__init__.py": "from .a import f\n",
        # a <-> b: a function-level relative import closes the loop
        models / "cban" / "a.py": "from attractorlab.results import save\ndef f():\n    from . import b\n",
        models / "cban" / "b.py": "from .a import f\ndef g():\n    from attractorlab.experiments import run\n",
        analysis / "__init__.py": "",
        analysis / "m.py": "import attractorlab.models.cban.b\nfrom ..models.cban import a\n",
    }
    for path, text in src.items():
        path.write_text(text)
    files = module_files({"attractorlab": core, "attractorlab.models": models, "attractorlab.analysis": analysis})
    graph = import_graph(files)
    assert graph["attractorlab.models.cban.a"] == {"attractorlab.results": 1, "attractorlab.models.cban.b": 3}
    assert cycles(graph) == [["attractorlab.models.cban.a", "attractorlab.models.cban.b"]]
    bad = upward_imports(graph, files)
    assert any("attractorlab.models.cban.b (models) imports attractorlab.experiments.run (experiments)" in b
               for b in bad)
    assert any("attractorlab.analysis.m (analysis) imports attractorlab.models.cban.b (models)" in b for b in bad)
    assert any("attractorlab.analysis.m (analysis) imports attractorlab.models.cban.a (models)" in b for b in bad)
    assert len(bad) == 3, bad
    # the core importing a model is refused as well
    (core / "results.py").write_text("import numpy\nfrom attractorlab.models.cban import a\n")
    graph = import_graph(files)
    assert any("attractorlab.results (core) imports attractorlab.models.cban.a" in b
               for b in upward_imports(graph, files))
