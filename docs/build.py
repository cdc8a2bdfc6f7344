"""Build the documentation site: ``python docs/build.py`` (what ``make docs`` and the tests run).

Strict and complete on every run: a fresh Sphinx environment (``-E``, so every page is
re-read and every warning reported, not only those of changed pages), warnings as errors
(``-W --keep-going``: all of them listed, then a non-zero exit), nitpicky cross-references
(``-n``). What keeps a rebuild quick is the notebook execution cache
(``docs/_build/.jupyter_cache``): a notebook is executed again only when it, the package
sources or the saved results it reads changed.

``--clean`` removes ``docs/_build`` and the generated sources first (a cold build).
Extra arguments go to ``sphinx-build``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
OUT = DOCS / "_build" / "html"
GENERATED = (DOCS / "_build", DOCS / "_generated", DOCS / "api")


def sphinx_args(extra: list[str] | None = None) -> list[str]:
    """The ``sphinx-build`` arguments of the site build."""
    return ["-E", "-W", "--keep-going", "-n", "-q", "-b", "html", *(extra or []), str(DOCS), str(OUT)]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--clean" in argv:
        argv.remove("--clean")
        for path in GENERATED:
            shutil.rmtree(path, ignore_errors=True)
        for nb in (DOCS / "notebooks").glob("*.ipynb"):
            nb.unlink()
    from sphinx.cmd.build import build_main

    status = build_main(sphinx_args(argv))
    if status == 0:
        print(f"docs built: {OUT / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
