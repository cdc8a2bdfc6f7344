"""The project figure style: valid PNG/SVG/PDF files with text kept as text, reproducible bytes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from attractorlab.analysis.figures import style  # noqa: E402

LABEL = "membrane potential"


def _figure():
    with style.style_context():
        fig, ax = plt.subplots(figsize=(style.COLUMN_WIDTH, 2.0))
        ax.plot([0, 1, 2], [0, 1, 4], label="model")
        ax.set_xlabel(LABEL)
        ax.set_ylabel(r"$\theta$ (a.u.)")
        ax.legend()
    return fig


def test_png_is_a_png_at_print_resolution(tmp_path):
    path = style.save(_figure(), tmp_path / "f.png")
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        # 3.35 in at 300 dpi (bbox "tight" trims a little, never to screen resolution)
        assert im.size[0] > 2.5 * 300


def test_svg_keeps_text_as_text(tmp_path):
    path = style.save(_figure(), tmp_path / "f.svg")
    root = ET.parse(path).getroot()  # well-formed XML
    assert root.tag.endswith("svg")
    texts = ["".join(t.itertext()) for t in root.iter() if t.tag.endswith("text")]
    assert any(LABEL in t for t in texts), texts
    # fonttype "path" would draw glyphs as <path> outlines referenced by id
    assert "DejaVuSans-" not in path.read_text()


def test_pdf_embeds_truetype_fonts(tmp_path):
    path = style.save(_figure(), tmp_path / "f.pdf")
    raw = path.read_bytes()
    assert raw.startswith(b"%PDF-1.") and raw.rstrip().endswith(b"%%EOF")
    assert b"/FontFile2" in raw  # TrueType (Type 42) font program embedded
    assert b"/Type3" not in raw  # no Type 3 glyph procedures


@pytest.mark.parametrize("fmt", style.FORMATS)
def test_same_figure_same_bytes(tmp_path, fmt):
    a = style.save(_figure(), tmp_path / "a", fmt=fmt)
    b = style.save(_figure(), tmp_path / "b", fmt=fmt)
    assert a.suffix == "." + fmt
    assert a.read_bytes() == b.read_bytes()


def test_fmt_replaces_the_suffix(tmp_path):
    assert style.save(_figure(), tmp_path / "fig4.png", fmt="svg") == tmp_path / "fig4.svg"
    assert (tmp_path / "fig4.svg").is_file() and not (tmp_path / "fig4.png").exists()


@pytest.mark.parametrize("bad", ["jpeg", "eps", "", None])
def test_bad_format_is_refused_by_name(tmp_path, bad):
    with pytest.raises(ValueError) as err:
        style.save(_figure(), tmp_path / "f", fmt=bad) if bad is not None else style.check_format(bad)
    msg = str(err.value)
    assert repr(bad) in msg and "png, svg, pdf" in msg


def test_style_context_applies_and_restores():
    before = matplotlib.rcParams["font.size"]
    with style.style_context():
        assert matplotlib.rcParams["font.size"] == style.RC["font.size"]
        assert matplotlib.rcParams["svg.fonttype"] == "none"
        assert matplotlib.rcParams["pdf.fonttype"] == 42
    assert matplotlib.rcParams["font.size"] == before


def test_unknown_override_is_refused():
    with pytest.raises(ValueError, match="font.sise"):
        with style.style_context(**{"font.sise": 3}):
            pass
