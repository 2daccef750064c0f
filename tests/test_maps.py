"""The web maps without a browser: what each builder draws, in which language, on which tiles, from which files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import folium
import numpy as np
import pytest
import shapely
import shapely.geometry
from folium.elements import JSCSSMixin
from folium.map import FeatureGroup
from folium.raster_layers import TileLayer

from geo.crs import wgs84_to_gcj02
from geo.layers import Layers
from geo.queries import hosting_industry, industry_detail
from maps import assets, builders, draw
from maps.controls import GeoLayer, HtmlControl
from maps.i18n import t
from maps.output import render_html, write_map
from maps.popups import popup_html
from nbgis.cli import main

BUILDS = {
    "overview": lambda layers, **kw: builders.overview(layers, **kw),
    "industry": lambda layers, **kw: builders.industry(layers, "biomedicine", **kw),
    "feature": lambda layers, **kw: builders.feature(layers, "subpark-yinzhou", **kw),
}


def elements(root: Any) -> Iterator[Any]:
    yield root
    for child in root._children.values():
        yield from elements(child)


def features(m: folium.Map) -> list[dict[str, Any]]:
    return [f for el in elements(m) if isinstance(el, GeoLayer) for f in el.data["features"]]


def feature_by_id(m: folium.Map, fid: str) -> dict[str, Any]:
    return next(f for f in features(m) if f.get("id") == fid)


def group_names(m: folium.Map) -> list[str]:
    return [el.layer_name for el in m._children.values() if isinstance(el, FeatureGroup)]


class AssetRefs(HTMLParser):
    """The src of every <script> and the href of every <link>: what a browser fetches when the page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        key = {"script": "src", "link": "href"}.get(tag)
        self.refs += [v for k, v in attrs if k == key and v]


def asset_refs(html: str) -> list[str]:
    parser = AssetRefs()
    parser.feed(html)
    return parser.refs


def first_coordinate(feat: dict[str, Any]) -> tuple[float, float]:
    coords: Any = feat["geometry"]["coordinates"]
    while isinstance(coords[0], list | tuple):
        coords = coords[0]
    return float(coords[0]), float(coords[1])


@pytest.fixture(scope="module")
def overview_zh(layers: Layers) -> folium.Map:
    return builders.overview(layers)


# --- offline ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BUILDS))
@pytest.mark.parametrize("mode", ["link", "inline"])
def test_no_remote_scripts_or_stylesheets(layers: Layers, kind: str, mode: str) -> None:
    html, files = render_html(BUILDS[kind](layers), mode, "/assets/")
    refs = asset_refs(html)
    assert not [r for r in refs if r.lower().startswith(("http://", "https://", "//"))]
    if mode == "inline":
        assert refs == [] and files == []
        assert "leaflet.awesome-markers" not in html and 'url("data:font/woff2;base64,' in html
    else:
        assert refs and all(r.startswith("/assets/") for r in refs)
        assert {r.removeprefix("/assets/") for r in refs} <= set(files)
        assert all((assets.node_modules() / f).is_file() for f in files)
    for dropped in ("jquery", "bootstrap", "glyphicons", "awesome.rotate"):
        assert dropped not in " ".join(refs)


def test_inlined_stylesheets_refer_to_no_file(overview_zh: folium.Map) -> None:
    html, _ = render_html(overview_zh, "inline")
    urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", html)
    assert urls and all(u.startswith(("data:", "#default#VML")) for u in urls)


def test_every_folium_asset_is_local_or_dropped() -> None:
    for name in assets.MANIFEST:
        for rel in assets.MANIFEST[name]:
            assert assets.asset_path(rel).is_file()
    assert set(assets.all_files()) >= {"leaflet/dist/images/layers.png", "@fortawesome/fontawesome-free/webfonts/"
                                       "fa-solid-900.woff2", "leaflet.awesome-markers/dist/images/markers-soft.png"}


def test_unknown_asset_is_refused(layers: Layers) -> None:
    class Mystery(JSCSSMixin):
        default_js: ClassVar = [("mystery_js", "https://cdn.example.org/mystery.js")]

    m = builders.overview(layers)
    m.add_child(Mystery())
    with pytest.raises(assets.AssetError, match="mystery_js"):
        render_html(m, "link", "/assets/")


def test_missing_node_modules_says_npm_ci(layers: Layers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(assets.NODE_MODULES_ENV, str(tmp_path))
    with pytest.raises(assets.AssetError, match="npm ci"):
        render_html(builders.overview(layers), "inline")


def test_same_map_renders_to_the_same_page(layers: Layers) -> None:
    first, _ = render_html(builders.feature(layers, "unit-east-bund"), "link", "/assets/")
    second, _ = render_html(builders.feature(layers, "unit-east-bund"), "link", "/assets/")
    assert first == second


def test_overview_page_stays_small(overview_zh: folium.Map) -> None:
    html, _ = render_html(overview_zh, "link", "/assets/")
    assert len(html.encode("utf-8")) < 450_000


# --- what is drawn ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BUILDS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_schematic_note_on_every_map(layers: Layers, kind: str, lang: str) -> None:
    html, _ = render_html(BUILDS[kind](layers, lang=lang), "link", "/assets/")
    assert json.dumps(t("note", lang), ensure_ascii=False) in html
    assert "nbgis-note" in html


def test_overview_has_a_layer_per_kind(layers: Layers, overview_zh: folium.Map) -> None:
    names = group_names(overview_zh)
    assert names == [t(f"layer.{key}", "zh") for key in draw.LAYER_KEYS]
    html, _ = render_html(overview_zh, "link", "/assets/")
    control = html[html.index("overlays :"):]
    assert all(json.dumps(n) in control for n in names)
    drawn = {f["id"] for f in features(overview_zh) if "id" in f}
    placed_platforms = set(layers.platforms[layers.platforms.geometry.notna()]["id"])
    districts = set(layers.districts[layers.districts["kind"] == "district"]["id"])
    assert drawn == set(layers.parks["id"]) | placed_platforms | districts


def test_overview_colours_subparks_by_lead_industry(overview_zh: folium.Map, layers: Layers) -> None:
    subparks = layers.kind("subpark")
    fills = {fid: feature_by_id(overview_zh, fid)["properties"]["style"]["fillColor"] for fid in subparks["id"]}
    lead = dict(zip(subparks["id"], (codes[0] for codes in subparks["industries"])))
    for a in fills:
        for b in fills:
            assert (fills[a] == fills[b]) == (lead[a] == lead[b])


def test_platforms_have_an_icon_per_type(overview_zh: folium.Map) -> None:
    icons = {f["properties"]["icon"]["icon"] for f in features(overview_zh) if "icon" in f["properties"]}
    assert {"flask", "microscope", "graduation-cap"} <= icons


@pytest.mark.parametrize("code", ["biomedicine", "new-materials"])
def test_industry_map_highlights_exactly_the_hosts(layers: Layers, code: str) -> None:
    m = builders.industry(layers, code)
    hosts = hosting_industry(layers, code)
    placed = set(hosts[hosts.geometry.notna()]["id"])
    feats = features(m)
    assert draw.ids_with_class(feats, "nbgis-hit") == placed
    assert not draw.ids_with_class(feats, "nbgis-muted") & placed
    html, _ = render_html(m, "link", "/assets/")
    classes = [c.split() for c in re.findall(r'"className":"([^"]*)"', html)]
    hit_ids = {c.removeprefix("nbgis-f-") for cs in classes if "nbgis-hit" in cs
               for c in cs if c.startswith("nbgis-f-")}
    assert hit_ids == placed
    for name in hosts[hosts.geometry.isna()]["name_zh"]:  # no site: listed in the panel instead
        assert escape(name) in html


@pytest.mark.parametrize("code", ["membrane-materials", "new-materials"])
def test_industry_panel_totals_are_the_apis(layers: Layers, code: str) -> None:
    m = builders.industry(layers, code, lang="en")
    panel = next(el.html for el in elements(m) if isinstance(el, HtmlControl) and "nbgis-panel" in el.css_class)
    detail = industry_detail(layers, code)  # what /industries/{code} answers
    assert f"Planned area, total</b>: {detail['planned_area_km2']:g} km²" in panel
    assert f"Computed area (union)</b>: {detail['computed_area_km2']:.1f} km²" in panel
    assert f"Hosting features</b>: {detail['features']} (" in panel
    assert "Jiangbei District (" in panel


def test_feature_map(layers: Layers) -> None:
    m = builders.feature(layers, "subpark-yinzhou")
    focus = [f for f in features(m) if "nbgis-focus" in f["properties"].get("style", {}).get("className", "")]
    assert [f["id"] for f in focus] == ["subpark-yinzhou"]
    host = [f["id"] for f in features(m) if "nbgis-host" in f["properties"].get("style", {}).get("className", "")]
    assert host == ["district-yinzhou"]
    neighbours = draw.ids_with_class(features(m), "nbgis-muted")
    assert neighbours and "subpark-yinzhou" not in neighbours
    html, _ = render_html(m, "link", "/assets/")
    for block in layers.parks.loc["subpark-yinzhou", "blocks"]:
        assert block["name_zh"] in html  # in the panel, with its bounds


def test_feature_map_of_other_kinds(layers: Layers) -> None:
    unplaced = layers.platforms[layers.platforms.geometry.isna() & layers.platforms["district_adcodes"].map(bool)]
    for fid in ("platform-ningbo-university", "district-xiangshan", "corridor-axis-yongjiang-yaojiang"):
        m = builders.feature(layers, fid)
        assert any("nbgis-focus" in str(f["properties"].get("style") or f["properties"].get("icon"))
                   for f in features(m) if f.get("id") == fid)
    html, _ = render_html(builders.feature(layers, unplaced["id"].iloc[0], lang="en"), "link", "/assets/")
    assert "site is not publicly known" in html and "nbgis-host" in html


def test_block_labels_sit_on_their_own_parts(layers: Layers) -> None:
    """Each drawn block of 奉化分园 is named at its recorded label point, which lies on a different part."""
    row = layers.parks.loc["subpark-fenghua"]
    labels = draw.block_labels(row, row.geometry, "zh")
    assert [text for _, text in labels] == ["滨海新区", "尚桥工业园", "三横园区块"]
    parts = list(row.geometry.geoms)
    hit = [next(i for i, part in enumerate(parts) if part.covers(point)) for point, _ in labels]
    assert sorted(hit) == [0, 1, 2]  # one label per part
    shifted = draw.block_labels(row, row.geometry, "en", gcj02=True)
    assert shifted[0][1] == "Coastal New Area"
    assert shifted[0][0].x > labels[0][0].x  # moved east with the GCJ-02 overlays


def test_unknown_arguments_raise(layers: Layers) -> None:
    with pytest.raises(KeyError):
        builders.industry(layers, "no-such-industry")
    with pytest.raises(KeyError):
        builders.feature(layers, "no-such-feature")
    with pytest.raises(ValueError, match="tiles"):
        builders.overview(layers, tiles="google")
    with pytest.raises(ValueError, match="lang"):
        builders.overview(layers, lang="fr")


def test_english_labels(layers: Layers) -> None:
    m = builders.overview(layers, lang="en")
    assert group_names(m)[:2] == ["Districts and counties", "Yongjiang S&T Innovation Corridor"]
    assert "High-tech zone sub-parks" in group_names(m)
    popup = feature_by_id(m, "subpark-yinzhou")["properties"]["popup"]
    assert "Planned area" in popup and "128.7 km²" in popup
    assert "电子信息、智能电器、高端汽配、新材料产业集群" in popup  # the plan's text stays verbatim
    html, _ = render_html(m, "link", "/assets/")
    assert '<html lang="en">' in html and "Boundaries are schematic, not surveyed" in html


# --- popups -------------------------------------------------------------------------------------


def test_popup_shows_the_plan(layers: Layers) -> None:
    row = layers.parks.loc["subpark-yinzhou"]
    html = popup_html(row, layers, "zh")
    assert "鄞州分园 / Yinzhou Sub-park" in html
    assert "128.7 平方公里" in html and "规划面积" in html and "计算面积" in html
    assert row["industry_zh"] in html and "东至东钱湖、南至环镇东路、西至宁南南路、北至甬台温高速" in html
    assert "专栏 9, lines 1463-1498" in html and "鄞州区" in html
    nodes = layers.kind("innovation-node")
    node = nodes[nodes["targets"].map(bool)].iloc[0]
    target = node["targets"][0]
    assert target["counted_zh"] in popup_html(node, layers, "zh")


def test_popup_escapes_text(layers: Layers) -> None:
    row = layers.parks.loc["subpark-cixi"].copy()
    row["name_zh"] = "<script>alert(1)</script>"
    row["industry_zh"] = 'a "quoted" <b>bold</b> & more'
    html = popup_html(row, layers, "zh")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html and "&amp; more" in html


# --- basemaps -----------------------------------------------------------------------------------


def tile_urls(m: folium.Map) -> list[str]:
    return [el.tiles for el in elements(m) if isinstance(el, TileLayer)]


def test_no_tiles_means_no_tile_layer(overview_zh: folium.Map) -> None:
    assert tile_urls(overview_zh) == []


def test_osm_tiles(layers: Layers) -> None:
    m = builders.overview(layers, tiles="osm")
    assert tile_urls(m) == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    html, _ = render_html(m, "link", "/assets/")
    assert "OpenStreetMap" in html and "contributors" in html


def test_tianditu_needs_a_token(layers: Layers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIANDITU_TOKEN", raising=False)
    with pytest.raises(ValueError, match="TIANDITU_TOKEN"):
        builders.overview(layers, tiles="tianditu")
    monkeypatch.setenv("TIANDITU_TOKEN", "abc123")
    urls = tile_urls(builders.overview(layers, tiles="tianditu"))
    assert len(urls) == 2 and all("tk=abc123" in u for u in urls)
    assert "/vec_w/wmts" in urls[0] and "LAYER=vec" in urls[0] and "/cva_w/wmts" in urls[1]


def test_amap_shifts_every_overlay_to_gcj02(layers: Layers, overview_zh: folium.Map) -> None:
    amap = builders.overview(layers, tiles="amap")
    assert tile_urls(amap)[0].startswith("https://webrd0{s}.is.autonavi.com/appmaptile?")
    for fid in ("subpark-yinzhou", "district-haishu", "corridor-axis-yongjiang-yaojiang", "platform-unnc"):
        shifted = first_coordinate(feature_by_id(amap, fid))
        plain = first_coordinate(feature_by_id(overview_zh, fid))
        expected = wgs84_to_gcj02(np.array([plain[0]]), np.array([plain[1]]))
        assert shifted == pytest.approx((expected[0][0], expected[1][0]), abs=2e-5)
        assert abs(shifted[0] - plain[0]) > 1e-3  # GCJ-02 moves Ningbo by some hundreds of metres
    # the WGS 84 vertex shifted is one of the data's own (simplifying drops vertices, never moves them)
    raw = shapely.get_coordinates(layers.parks.loc["subpark-yinzhou"].geometry)
    plain = np.array(first_coordinate(feature_by_id(overview_zh, "subpark-yinzhou")))
    assert np.abs(raw - plain).max(axis=1).min() < 1e-5
    every = shapely.get_coordinates(shapely.geometry.shape(feature_by_id(amap, "subpark-yinzhou")["geometry"]))
    base = shapely.get_coordinates(shapely.geometry.shape(feature_by_id(overview_zh, "subpark-yinzhou")["geometry"]))
    lon, lat = wgs84_to_gcj02(base[:, 0], base[:, 1])
    assert np.abs(every - np.column_stack([lon, lat])).max() < 2e-5


# --- command line -------------------------------------------------------------------------------


def test_cli_writes_page_and_assets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "overview.html"
    assert main(["map", "overview", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "KiB" in printed and "overview_files/" in printed
    html = out.read_text(encoding="utf-8")
    refs = asset_refs(html)
    assert refs and all(r.startswith("overview_files/") for r in refs)
    assert all((tmp_path / r).is_file() for r in refs)
    assert (tmp_path / "overview_files/@fortawesome/fontawesome-free/webfonts/fa-solid-900.woff2").is_file()

    single = tmp_path / "biomedicine.html"
    assert main(["map", "industry", "biomedicine", "--lang", "en", "--self-contained", "-o", str(single)]) == 0
    assert "self-contained" in capsys.readouterr().out
    assert not (tmp_path / "biomedicine_files").exists() and asset_refs(single.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("argv", [["map", "industry"], ["map", "industry", "nope"], ["map", "feature", "nope"],
                                  ["map", "overview", "extra"]])
def test_cli_refuses_bad_arguments(tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "-o", str(tmp_path / "x.html")]) == 2
    assert "nbgis: error:" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_write_map_replaces_stale_assets(layers: Layers, tmp_path: Path) -> None:
    stale = tmp_path / "m_files" / "stale.js"
    stale.parent.mkdir()
    stale.write_text("old")
    written = write_map(builders.feature(layers, "street-cuibaili"), tmp_path / "m.html")
    assert written.asset_dir == tmp_path / "m_files" and not stale.exists() and written.asset_files > 10
