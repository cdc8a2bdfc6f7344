"""Sphinx extension of the attractorlab docs: everything the site generates at build time.

On ``builder-inited`` it

* converts ``notebooks/NN_*.py`` (jupytext percent) to ``docs/notebooks/NN_*.ipynb`` with a
  hidden first cell that sets the notebook mode and carries the cache key (a sha256 of the
  package sources and of the saved results the notebooks may read), so myst-nb's execution
  cache re-runs a notebook exactly when the notebook, the code it calls or those results
  changed;
* writes the landing page's summary figure (``results/demo/summary.png`` when ``make demo``
  made one, else a demo run into ``docs/_build/demo`` made once);
* renders the figure gallery (``_ext/gallery_examples.py``);
* turns the ``references/*.md`` files (the single source of every published number) into
  page fragments under ``docs/_generated/``, with their links pointed into the site.

Directive ``result-figure`` sets one of our figures, read from a results folder when present,
beside the paper's figure.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from docutils.parsers.rst import directives
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
BUILD = DOCS / "_build"
KERNEL_NAME = "attractorlab-docs"

#: Package sources whose change re-executes the notebooks (suffixes under these folders).
SOURCE_DIRS = ("attractorlab", "models", "analysis")
SOURCE_SUFFIXES = (".py", ".txt", ".json")
SOURCE_FILES = ("pyproject.toml", "requirements/lock.txt")

#: references file -> docs page that renders it (links between them are rewritten).
REFERENCE_PAGES = {
    "README.md": "/papers/index.md",
    "lin_tang.md": "/papers/lin_tang.md",
    "cban.md": "/papers/cban.md",
    "benchmarks.md": "/benchmarks.md",
}


# ---------------------------------------------------------------- helpers
def write_if_changed(path: Path, data: bytes | str) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly that (keeps mtimes, so
    Sphinx re-reads only what changed). Atomic: temporary file, then rename."""
    raw = data.encode() if isinstance(data, str) else data
    if path.is_file() and path.read_bytes() == raw:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(raw)
    os.replace(tmp, path)
    return True


def source_digest(root: Path = ROOT) -> str:
    """sha256 over the package sources (relative path and bytes of every source file)."""
    h = hashlib.sha256()
    files = [root / f for f in SOURCE_FILES if (root / f).is_file()]
    for d in SOURCE_DIRS:
        files += [p for p in (root / d).rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()
                  and "__pycache__" not in p.parts]
    for p in sorted(files):
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def results_root() -> Path:
    return Path(os.environ.get("ATTRACTORLAB_RESULTS", ROOT / "results")).resolve()


def results_signature(root: Path) -> str:
    """sha256 over (path, size, mtime) of the netCDF files one or two folders below the
    results root (``results/NAME/*.nc``, ``results/NAME/RUN/*.nc``): what the notebooks load."""
    h = hashlib.sha256()
    if root.is_dir():
        for p in sorted(list(root.glob("*/*.nc")) + list(root.glob("*/*/*.nc"))):
            st = p.stat()
            h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


def notebook_mode() -> str:
    mode = os.environ.get("ATTRACTORLAB_DOCS_NOTEBOOKS", "smoke")
    if mode not in ("smoke", "full"):
        raise ExtensionError(f"ATTRACTORLAB_DOCS_NOTEBOOKS must be 'smoke' or 'full', got {mode!r}")
    return mode


# ---------------------------------------------------------------- notebooks
def setup_cell_source(mode: str, digest: str, results_sig: str) -> str:
    """Source of the hidden first cell of every executed notebook."""
    set_mode = ('os.environ["ATTRACTORLAB_SMOKE"] = "1"' if mode == "smoke"
                else 'os.environ.pop("ATTRACTORLAB_SMOKE", None)')
    return (
        "# Added by the docs build (hidden on the page). Execution cache key:\n"
        f"# attractorlab sources sha256 {digest}\n"
        f"# saved results signature {results_sig[:16]}\n"
        "import os\n\n"
        f"{set_mode}\n"
    )


def convert_notebooks(mode: str) -> list[Path]:
    """notebooks/NN_*.py -> docs/notebooks/NN_*.ipynb (unexecuted, with the setup cell)."""
    import jupytext
    import nbformat

    digest = source_digest()
    sig = results_signature(results_root())
    out_dir = DOCS / "notebooks"
    written = []
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    for src in sources:
        nb = jupytext.read(src)
        nb.metadata.pop("jupytext", None)
        nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "attractorlab (docs)",
                                     "language": "python"}
        cell = nbformat.v4.new_code_cell(setup_cell_source(mode, digest, sig))
        cell.metadata["tags"] = ["remove-cell"]
        cell.pop("id", None)
        nb.cells.insert(0, cell)
        for c in nb.cells:  # stable ids: the file changes only when its content does
            c.pop("id", None)
        nb.nbformat, nb.nbformat_minor = 4, 4
        text = nbformat.writes(nb, version=4)
        target = out_dir / (src.stem + ".ipynb")
        write_if_changed(target, text)
        written.append(target)
    keep = {p.name for p in written}
    for stale in out_dir.glob("*.ipynb"):
        if stale.name not in keep:
            stale.unlink()
    return written


def install_kernel() -> None:
    """A kernelspec ``attractorlab-docs`` that runs this interpreter, found via JUPYTER_PATH
    (works in a fresh virtual environment, whatever other 'python3' kernels exist)."""
    kdir = BUILD / "jupyter" / "kernels" / KERNEL_NAME
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "attractorlab (docs)", "language": "python"}
    write_if_changed(kdir / "kernel.json", json.dumps(spec, indent=1))
    paths = [str(BUILD / "jupyter")] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths))


# ---------------------------------------------------------------- summary figure
def summary_figure() -> Path:
    """The demo's summary page: the user's ``results/demo/summary.png`` when present, else
    one made by ``attractorlab demo --out docs/_build/demo`` (run once, about a minute)."""
    for candidate in (results_root() / "demo" / "summary.png", BUILD / "demo" / "summary.png"):
        if candidate.is_file():
            return candidate
    out = BUILD / "demo"
    logger.info("[attractorlab] running 'attractorlab demo' for the landing page's summary figure")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "attractorlab", "demo", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0 or not (out / "summary.png").is_file():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise ExtensionError(f"'attractorlab demo' failed (status {proc.returncode}); its output ended:\n{tail}")
    return out / "summary.png"


# ---------------------------------------------------------------- references -> fragments
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def rewrite_links(text: str, page_map: dict[str, str] = REFERENCE_PAGES) -> str:
    """Point markdown links between references files at their docs pages; links to other
    repository files become the file name in code style (the site has no copy of them)."""

    def repl(m: re.Match) -> str:
        label, target = m.group(1), m.group(2)
        if re.match(r"^[a-z]+://|^#|^mailto:", target):
            return m.group(0)
        path, _, anchor = target.partition("#")
        name = Path(path).name
        if name in page_map and (Path(path).parent.name in ("", ".", "references")):
            return f"[{label}]({page_map[name]}{'#' + anchor if anchor else ''})"
        return label if label.startswith("`") else f"`{label}`"

    return _LINK.sub(repl, text)


def split_sections(text: str) -> dict[str, str]:
    """Markdown text -> {level-2 heading: body}; the text before the first ``##`` is ``""``."""
    out: dict[str, list[str]] = {"": []}
    key = ""
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("## "):
            key = line[3:].strip()
            out[key] = []
            continue
        out[key].append(line)
    return {k: "\n".join(v).strip() + "\n" for k, v in out.items()}


def promote_headings(text: str) -> str:
    """``## x`` -> ``# x`` (outside code blocks): a fragment's headings start at level 1 and
    the page places them with ``{include}``'s ``:heading-offset:``."""
    lines, in_code = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and re.match(r"^#{2,6} ", line):
            line = line[1:]
        lines.append(line)
    return "\n".join(lines) + "\n"


#: Section of a references file that holds its paper-against-ours table (shown first).
SUMMARY_SECTION = "Paper vs ours"


def reference_fragments() -> dict[str, str]:
    """Fragments of each ``references/<name>.md`` for ``{include}``, keyed by
    ``<name>/<fragment>.md``: ``_intro`` (text before the first ``##``), one per ``##``
    section (slug of its title), and ``_rest`` (the whole file but its title and its
    "Paper vs ours" section, its ``##`` sections as level-1 headings)."""
    frags = {}
    for src in sorted((ROOT / "references").glob("*.md")):
        text = rewrite_links(src.read_text(encoding="utf-8"))
        text = re.sub(r"\A# [^\n]*\n", "", text)  # the page has its own title
        sections = split_sections(text)
        base = src.stem
        rest = [sections[""]] + [f"## {t}\n\n{b}" for t, b in sections.items() if t and t != SUMMARY_SECTION]
        frags[f"{base}/_intro.md"] = sections[""]
        frags[f"{base}/_rest.md"] = promote_headings("\n".join(rest))
        for title, body in sections.items():
            if title:
                frags[f"{base}/{slug(title)}.md"] = body
    return frags


def slug(title: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return s or "section"


def write_reference_fragments() -> None:
    frags = reference_fragments()
    root = GENERATED / "references"
    for rel, text in frags.items():
        write_if_changed(root / rel, text)
    keep = {root / rel for rel in frags}
    for p in root.rglob("*.md"):
        if p not in keep:
            p.unlink()


# ---------------------------------------------------------------- result figures
def find_result(results: Path, experiment: str, runs: list[str], filename: str) -> Path | None:
    """The first ``results/<experiment>/<run>/<filename>`` that exists, in the order of ``runs``."""
    for run in runs:
        p = results / experiment / run / filename
        if p.is_file():
            return p
    return None


class ResultFigure(SphinxDirective):
    """Our figure beside the paper's.

    Usage (MyST)::

        ```{result-figure} fig4_objective.png
        :experiment: lin_tang_A
        :runs: paper
        :paper: Fig. 4: test objective against training samples; spiking at or below SGD.
        :command: attractorlab run lin_tang_A --preset paper

        What our run shows (markdown).
        ```

    The figure is read from ``$ATTRACTORLAB_RESULTS/<experiment>/<run>/`` (the first of
    ``:runs:`` that holds it); when none does, the page says which command makes it.
    """

    required_arguments = 1
    has_content = True
    option_spec = {
        "experiment": directives.unchanged_required,
        "runs": directives.unchanged_required,
        "paper": directives.unchanged_required,
        "command": directives.unchanged_required,
    }

    def run(self):
        filename = self.arguments[0]
        exp = self.options["experiment"]
        runs = self.options.get("runs", "paper").split()
        command = self.options.get("command", f"attractorlab run {exp} --preset {runs[0]}")
        found = find_result(results_root(), exp, runs, filename)
        ours = "\n".join(self.content)
        lines = ["::::{list-table}", ":widths: 35 65", ":class: result-figure", "",
                 f"* - **Paper.** {self.options.get('paper', '')}", ""]
        if found is not None:
            rel = found.relative_to(results_root())
            target = Path(self.env.srcdir) / "_generated" / "results" / rel  # inside the source folder
            write_if_changed(target, found.read_bytes())
            self.env.note_dependency(str(found))
            uri = "/_generated/results/" + rel.as_posix()
            lines += [f"  - ```{{image}} {uri}", "    :width: 100%", f"    :alt: {filename} from results/{rel.parent}",
                      "    ```", "", f"    **Ours** (`results/{rel}`). " + " ".join(ours.split()), ""]
        else:
            lines += ["  - **Ours.** " + " ".join(ours.split()), "",
                      f"    *Figure not in this build:* `{command}` writes `{filename}` to "
                      f"`results/{exp}/{runs[0]}/`; `make docs` then shows it here.", ""]
        lines.append("::::")
        return self.parse_text_to_nodes("\n".join(lines))


# ---------------------------------------------------------------- cross-references
def resolve_by_suffix(app, env, node, contnode):
    """``missing-reference``: resolve a Python reference that names an object without its
    full module path (``:class:`TrainConfig```, ``:func:`train.train```) to the one
    documented object whose full name ends with it (or, for an aliased prefix such as
    ``sd.learn_dictionary``, with its last part). Only a unique match resolves; anything
    else stays a warning (an error under ``-W``)."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip(".~")
    if not target:
        return None
    domain = env.get_domain("py")
    objtypes = set(domain.objtypes_for_role(node.get("reftype")) or ())
    entries = {name: obj for name, obj in domain.objects.items()
               if obj.objtype in objtypes and not getattr(obj, "aliased", False)}
    for suffix in dict.fromkeys([target, target.rsplit(".", 1)[-1]]):
        matches = [name for name in entries if name == suffix or name.endswith("." + suffix)]
        if len(matches) == 1:
            return domain.resolve_xref(env, node["refdoc"], app.builder, node.get("reftype"), matches[0], node,
                                       contnode)
        if matches:
            return None  # ambiguous: leave the warning
    return None


_PROSE_TYPE = re.compile(r"^:type: ([A-Z][^\s:]* .*)$")


def attribute_docstring_prose(app, what, name, obj, options, lines) -> None:
    """napoleon reads the first line of an attribute's docstring as ``type: description``,
    so a sentence with a colon (``#: Ordered demo steps: (title, func)``) becomes a "type".
    Runs after napoleon: a "type" that starts with a capital and has spaces is prose, and
    goes back in front of the description."""
    if what not in ("attribute", "data"):
        return
    for i, line in enumerate(lines):
        m = _PROSE_TYPE.match(line)
        if m:
            del lines[i]
            first = next((k for k, ln in enumerate(lines) if ln.strip()), None)
            if first is None:
                lines.insert(0, m.group(1))
            else:
                lines[first] = f"{m.group(1)}: {lines[first].lstrip()}"
            while lines and not lines[-1].strip():
                lines.pop()
            return


# ---------------------------------------------------------------- API pages
#: The packages of the API reference and the heading of each part.
API_PARTS = (("Models", "attractorlab.models"), ("Analysis", "attractorlab.analysis"), ("Core", "attractorlab"))


def api_modules(package: str) -> list[str]:
    """``package`` and every module below it (imported to find them), sorted; the
    ``attractorlab`` part stops at the models and analysis packages."""
    import importlib
    import pkgutil

    mod = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(getattr(mod, "__path__", []), prefix=package + "."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    if package == "attractorlab":
        names = [n for n in names if not n.startswith(("attractorlab.models", "attractorlab.analysis"))]
    return sorted(names)


def write_api_pages(out: Path = DOCS / "api") -> list[str]:
    """One page per module (``automodule``: every public name it defines, documented once,
    where it is defined) and ``api/index`` parts; returns the module names. Written here
    rather than by autosummary, whose attribute lookup takes a package's re-exported
    function ``train`` for its submodule ``train``."""
    out.mkdir(parents=True, exist_ok=True)
    modules: list[str] = []
    for title, package in API_PARTS:
        names = api_modules(package)
        modules += names
        for name in names:
            children = [n for n in names if n != name and n.rsplit(".", 1)[0] == name]
            text = [name, "=" * len(name), "", f".. automodule:: {name}", ""]
            if children:
                text += [".. rubric:: Modules", "", ".. toctree::", "   :maxdepth: 1", ""]
                text += [f"   {c}" for c in children] + [""]
            write_if_changed(out / f"{name}.rst", "\n".join(text))
    keep = {f"{m}.rst" for m in modules}
    for stale in out.glob("*.rst"):
        if stale.name not in keep:
            stale.unlink()
    return modules


# ---------------------------------------------------------------- hooks
def builder_inited(app) -> None:
    if app.builder.format != "html":
        return
    mode = notebook_mode()
    write_api_pages()
    install_kernel()
    convert_notebooks(mode)
    write_reference_fragments()
    summary = summary_figure()
    write_if_changed(GENERATED / "summary.png", summary.read_bytes())
    import gallery

    gallery.write_gallery(GENERATED / "gallery")


def setup(app):
    app.add_directive("result-figure", ResultFigure)
    app.connect("builder-inited", builder_inited)
    app.connect("missing-reference", resolve_by_suffix)
    app.connect("autodoc-process-docstring", attribute_docstring_prose, priority=600)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
