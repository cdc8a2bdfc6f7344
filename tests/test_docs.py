"""The documentation site builds (warnings are errors, notebooks executed) and its pages hold
together: every image and internal link of every page resolves, each notebook page shows
its executed outputs, and the paper pages are generated from ``references/``.

The site is built once per session by the ``docs_site`` fixture (``python docs/build.py``,
the command of ``make docs``); a notebook cell that raises fails that build, so the
notebooks are executed here and only here.
"""

from __future__ import annotations

import re
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a and a["id"]:
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        if tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"])


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _is_external(url: str) -> bool:
    return bool(urlsplit(url).scheme) or url.startswith("//")


def broken_references(site: Path, page_path: Path, _cache: dict | None = None) -> list[str]:
    """Images and internal links of ``page_path`` that do not resolve inside ``site``:
    a missing file, or a ``#fragment`` that no element of the target page carries."""
    cache = {} if _cache is None else _cache
    page = cache.get(page_path) or parse(page_path)
    cache[page_path] = page
    bad = []
    for kind, url in [("image", u) for u in page.images] + [("link", u) for u in page.links]:
        if _is_external(url) or url.startswith("data:"):
            continue
        parts = urlsplit(url)
        target = page_path if not parts.path else (page_path.parent / unquote(parts.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if site.resolve() not in target.resolve().parents and target.resolve() != site.resolve():
            bad.append(f"{kind} {url!r} leaves the site")
            continue
        if not target.is_file():
            bad.append(f"{kind} {url!r}: no file {target}")
            continue
        if kind == "link" and parts.fragment and target.suffix == ".html":
            tpage = cache.get(target) or parse(target)
            cache[target] = tpage
            if unquote(parts.fragment) not in tpage.ids:
                bad.append(f"link {url!r}: no id {parts.fragment!r} in {target.name}")
    return bad


# ---------------------------------------------------------------- the checker itself
def test_checker_finds_broken_images_links_and_anchors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "img.png").write_bytes(b"\x89PNG")
    (tmp_path / "a" / "b.html").write_text('<h1 id="top">b</h1>')
    (tmp_path / "index.html").write_text(
        '<img src="img.png"><img src="missing.png"><a href="a/b.html#top">ok</a>'
        '<a href="a/b.html#nowhere">bad anchor</a><a href="c.html">bad file</a>'
        '<a href="https://example.org/x">external</a><a href="#here">self</a><p id="here"></p>'
        '<a href="../../etc/passwd">outside</a>')
    bad = broken_references(tmp_path, tmp_path / "index.html")
    assert len(bad) == 4, bad
    assert any("missing.png" in b for b in bad)
    assert any("nowhere" in b for b in bad)
    assert any("c.html" in b for b in bad)
    assert any("leaves the site" in b for b in bad)


# ---------------------------------------------------------------- the built site
def test_every_page_resolves_its_images_and_links(docs_site):
    # the pages, not the theme's template fragments copied among the assets (_static/*.html)
    pages = sorted(p for p in docs_site.rglob("*.html") if "_static" not in p.relative_to(docs_site).parts)
    assert len(pages) > 20
    cache: dict = {}
    bad = {str(p.relative_to(docs_site)): b for p in pages if (b := broken_references(docs_site, p, cache))}
    assert not bad, bad


def test_index_shows_the_summary_figure_and_the_two_commands(docs_site):
    index = docs_site / "index.html"
    page = parse(index)
    summary = [src for src in page.images if "summary" in src]
    assert summary, page.images
    img = (index.parent / summary[0]).resolve()
    assert img.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and img.stat().st_size > 10_000
    text = _plain(index.read_text(encoding="utf-8"))
    assert "make demo" in text and "make test" in text
    for target in ("notebooks/index.html", "papers/index.html", "gallery.html", "api.html"):
        assert any(link.split("#")[0] == target for link in page.links), target


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_page_is_executed_with_figures(docs_site, nb):
    html = docs_site / "notebooks" / f"{nb.stem}.html"
    assert html.is_file(), f"no page for {nb.name}"
    page = parse(html)
    text = html.read_text(encoding="utf-8")
    outputs = [src for src in page.images if "_images/" in src]
    assert outputs, f"{nb.name}: no figure output on its page"
    for src in outputs:
        assert (html.parent / src).resolve().is_file(), src
    assert text.count("cell_output") >= 3, f"{nb.name}: too few executed outputs"
    assert "Traceback" not in text
    assert "Added by the docs build" not in text  # the hidden setup cell stays hidden
    assert not broken_references(docs_site, html)


def test_every_notebook_is_in_the_site(docs_site):
    index = (docs_site / "notebooks" / "index.html").read_text(encoding="utf-8")
    for nb in NOTEBOOKS:
        assert f"{nb.stem}.html" in index, nb.name


def table_headers(markdown: str) -> list[list[str]]:
    """Header cells of every markdown table (a ``|`` row followed by a ``|---`` row)."""
    lines = markdown.splitlines()
    return [[c.strip() for c in lines[i].strip().strip("|").split("|")]
            for i in range(len(lines) - 1)
            if lines[i].startswith("|") and re.match(r"^\|\s*:?-{3,}", lines[i + 1])]


def _plain(html: str) -> str:
    """The text of an HTML page: tags dropped, entities (``&#64;``, ``&amp;``) decoded."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


#: references file -> the built pages that must show every one of its tables.
REFERENCE_PAGES = {"lin_tang.md": "papers/*.html", "cban.md": "papers/*.html", "README.md": "papers/*.html",
                   "benchmarks.md": "benchmarks.html"}


def test_every_references_file_has_a_page():
    assert {p.name for p in (ROOT / "references").glob("*.md")} == set(REFERENCE_PAGES)


def test_paper_pages_are_generated_from_references(docs_site):
    """Every table of references/*.md appears on its pages (generated, not copied): each
    table's header cells are found in the pages' text (compared without white space: inline
    markup such as ``(*measured*)`` becomes ``( measured )`` in the plain text)."""
    for ref, pattern in REFERENCE_PAGES.items():
        pages = sorted(docs_site.glob(pattern))
        assert pages, (ref, pattern)
        text = "".join(_plain(p.read_text(encoding="utf-8")) for p in pages).replace(" ", "")
        headers = table_headers((ROOT / "references" / ref).read_text(encoding="utf-8"))
        assert len(headers) >= 2, ref
        for header in headers:
            for cell in header:
                words = re.sub(r"[*`]", "", cell).split()
                if words:
                    assert "".join(words) in text, (ref, cell)


# ---------------------------------------------------------------- the README
def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: lower case, punctuation dropped, spaces
    to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def markdown_anchors(text: str) -> set[str]:
    """Anchors of the headings of a markdown file (outside code blocks)."""
    anchors, in_code = set(), False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (m := re.match(r"^#{1,6} (.+)$", line)):
            anchors.add(github_anchor(m.group(1)))
    return anchors


def broken_markdown_links(md: Path) -> list[str]:
    """Relative links of a markdown file whose file, or heading anchor in a markdown
    target, does not exist."""
    bad = []
    for target in re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", md.read_text(encoding="utf-8")):
        if _is_external(target):
            continue
        path, _, anchor = target.partition("#")
        file = (md.parent / path).resolve() if path else md
        if not file.exists():
            bad.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in markdown_anchors(file.read_text(encoding="utf-8")):
            bad.append(f"{target}: no heading with anchor {anchor!r} in {file.name}")
    return bad


def test_markdown_link_checker_finds_missing_files_and_anchors(tmp_path):
    assert github_anchor("Measured (Dataset B, paper size: 50,000 images)") == \
        "measured-dataset-b-paper-size-50000-images"
    assert github_anchor("`cpu` presets: the paper's comparisons") == "cpu-presets-the-papers-comparisons"
    (tmp_path / "ref.md").write_text("# R\n## Paper vs ours\n```\n## In code\n```\n")
    (tmp_path / "index.md").write_text("[a](ref.md#paper-vs-ours) [b](ref.md#in-code) [c](gone.md) "
                                       "[d](ref.md) [e](https://example.org/x#y)")
    bad = broken_markdown_links(tmp_path / "index.md")
    assert len(bad) == 2, bad
    assert any("in-code" in b for b in bad) and any("gone.md" in b for b in bad)


def test_readme_is_short_with_the_two_commands_and_one_table_whose_links_resolve():
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "make demo" in text and "make test" in text
    for target in ("make docs", "make lab", "make lock"):
        assert target in text, target
    assert len(table_headers(text)) == 1, "the README holds one table: what is reproduced"
    rows = [ln for ln in text.splitlines() if ln.startswith("| `") or ln.startswith("| theory")
            or ln.startswith("| CBAN")]
    assert rows and all("](references/" in row for row in rows), "every row links to its detail"
    assert not broken_markdown_links(readme), broken_markdown_links(readme)
    for md in sorted((ROOT / "references").glob("*.md")):
        assert not broken_markdown_links(md), (md.name, broken_markdown_links(md))


def test_gallery_has_every_figure_function(docs_site):
    from attractorlab.analysis.figures import FIGURES

    text = (docs_site / "gallery.html").read_text(encoding="utf-8")
    page = parse(docs_site / "gallery.html")
    for fid in FIGURES:
        assert fid in text, fid
        assert any(src.endswith(f"{fid}.png") for src in page.images), fid
    from attractorlab import experiments

    for maker in experiments.list_figures():  # the command line's figure makers are listed too
        assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{maker}</span></code>" in text, maker


def test_api_reference_covers_models_analysis_and_core(docs_site):
    for module in ("attractorlab.models.spiking_dictionary", "attractorlab.models.cban",
                   "attractorlab.analysis.attractors", "attractorlab.analysis.receptive_fields",
                   "attractorlab.results", "attractorlab.data"):
        page = docs_site / "api" / f"{module}.html"
        assert page.is_file(), module


if __name__ == "__main__":  # pragma: no cover - check a built site by hand
    site = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "_build" / "html")
    for p in sorted(site.rglob("*.html")):
        for b in broken_references(site, p):
            print(p.relative_to(site), b)


# ---------------------------------------------------------------- the generators (no build)
@pytest.fixture
def docs_ext(monkeypatch):
    pytest.importorskip("sphinx")
    monkeypatch.syspath_prepend(str(ROOT / "docs" / "_ext"))
    import attractorlab_docs

    return attractorlab_docs


def test_result_figure_is_read_from_the_first_run_that_has_it(docs_ext, tmp_path):
    for run in ("paper", "tuned"):
        (tmp_path / "cban_bars" / run).mkdir(parents=True)
    (tmp_path / "cban_bars" / "tuned" / "fig2_bars.png").write_bytes(b"t")
    assert docs_ext.find_result(tmp_path, "cban_bars", ["paper", "tuned"], "fig2_bars.png") == \
        tmp_path / "cban_bars" / "tuned" / "fig2_bars.png"
    (tmp_path / "cban_bars" / "paper" / "fig2_bars.png").write_bytes(b"p")
    assert docs_ext.find_result(tmp_path, "cban_bars", ["paper", "tuned"], "fig2_bars.png").parent.name == "paper"
    assert docs_ext.find_result(tmp_path, "cban_bars", ["paper"], "fig3.png") is None


def test_reference_links_point_into_the_site(docs_ext):
    text = "see [lin_tang.md](lin_tang.md#commands), [x](../README.md), [web](https://example.org) and ![i](a.png)"
    out = docs_ext.rewrite_links(text)
    assert "[lin_tang.md](/papers/lin_tang.md#commands)" in out
    assert "`x`" in out and "(../README.md)" not in out  # a repository file: its name, no link
    assert "[web](https://example.org)" in out and "![i](a.png)" in out


def test_sections_split_outside_code_blocks(docs_ext):
    text = "intro\n## A\na\n```\n## not a heading\n```\n## B\nb\n"
    sections = docs_ext.split_sections(text)
    assert list(sections) == ["", "A", "B"]
    assert "## not a heading" in sections["A"]
    assert docs_ext.promote_headings("## A\n```\n## code\n```\n### B\n") == "# A\n```\n## code\n```\n## B\n"


def test_notebook_cache_key_follows_the_sources(docs_ext, tmp_path):
    (tmp_path / "attractorlab").mkdir()
    (tmp_path / "attractorlab" / "a.py").write_text("x = 1\n")
    before = docs_ext.source_digest(tmp_path)
    assert docs_ext.source_digest(tmp_path) == before
    (tmp_path / "attractorlab" / "a.py").write_text("x = 2\n")
    after = docs_ext.source_digest(tmp_path)
    assert after != before
    cell = docs_ext.setup_cell_source("smoke", after, "0" * 64)
    assert after in cell and 'os.environ["ATTRACTORLAB_SMOKE"] = "1"' in cell
    assert 'pop("ATTRACTORLAB_SMOKE"' in docs_ext.setup_cell_source("full", after, "0" * 64)


def test_result_figure_directive_shows_a_present_figure_and_names_the_command(docs_ext, tmp_path, monkeypatch):
    """A one-page Sphinx project with the directive: a figure present in the results root is
    shown as an image, a missing one is replaced by the command that makes it."""
    from sphinx.application import Sphinx

    results = tmp_path / "results"
    (results / "lin_tang_A" / "paper").mkdir(parents=True)
    (results / "lin_tang_A" / "paper" / "fig4_objective.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    monkeypatch.setenv("ATTRACTORLAB_RESULTS", str(results))
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "import attractorlab_docs\nextensions = ['myst_nb']\nnb_execution_mode = 'off'\n"
        "myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'deflist']  # as docs/conf.py\n"
        "def setup(app):\n    app.add_directive('result-figure', attractorlab_docs.ResultFigure)\n")
    page = (ROOT / "docs" / "papers" / "lin_tang.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\{result-figure\}.*?\n```\n", page, flags=re.S)
    fig4 = [b for b in blocks if "fig4_objective.png\n:experiment: lin_tang_A" in b]
    fig6 = [b for b in blocks if "fig6_atoms.png" in b and ":runs: paper\n" in b]
    assert len(fig4) == 1 and len(fig6) == 1
    (src / "index.md").write_text("# t\n\n" + fig4[0] + "\n" + fig6[0])
    app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
                 status=None, warning=None, freshenv=True, warningiserror=True)
    app.build()
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<img[^>]+src="_images/fig4_objective.png"', html), html
    assert (tmp_path / "out" / "_images" / "fig4_objective.png").is_file()
    assert "results/lin_tang_A/paper/fig4_objective.png" in html
    plain = _plain(html.replace('<span class="pre">', "").replace("</span>", ""))
    assert "Paper. Fig. 4: test objective" in plain and "Paper. Fig. 6: learned atoms" in plain
    assert "Figure not in this build" in plain and "attractorlab run lin_tang_C --preset paper" in plain
