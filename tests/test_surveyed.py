"""One sub-park's boundary surveyed, the rest schematic: every export, map, print map and page says which is which,
per feature, and none still claims that every boundary is schematic. Read back with independent readers: GDAL
(pyogrio), sqlite3, the XML parser, ezdxf, pyarrow, csv, poppler, headless Chromium."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ezdxf
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from geo import boundaries
from geo.export import NOTICE, collection_frames, export
from geo.layers import Layers, build_layers
from geo.measure import geodesic_areas_km2
from geo.seed import DATA_DIR, read_seed
from geo.store.base import Edit
from maps import builders
from maps.i18n import t
from maps.output import render_html, write_map
from maps.printmap import PrintOptions, render
from services.app import create_app
from tests.browser_helpers import CLICK_INSIDE, drawn_features, open_page
from tests.print_helpers import pdf_text, squeeze
from tests.test_store import seeded

SURVEYED = "subpark-beilun"
SOURCE = "北仑区规划局 2026 survey, beilun.shp"
METHOD = "imported from beilun.shp (EPSG:4549) by nbgis import, matched on id"
SCHEMATIC = "subpark-yinzhou"
KML = "{http://www.opengis.net/kml/2.2}"


def surveyed_features() -> dict[str, Any]:
    """The seed with the Beilun sub-park's boundary replaced by a 'surveyed' one: 3 % smaller about its centre."""
    features = read_seed(DATA_DIR)
    for i, f in enumerate(features["parks"]):
        if f.id == SURVEYED:
            geometry = shapely.affinity.scale(f.geometry, 0.97, 0.97, origin="centroid")
            properties = f.properties | {"geometry_quality": "surveyed", "geometry_source": SOURCE,
                                         "geometry_method": METHOD}
            features["parks"][i] = dataclasses.replace(f, properties=properties, geometry=geometry)
    return features


@pytest.fixture(scope="module")
def surveyed() -> Layers:
    return build_layers(surveyed_features(), DATA_DIR)


@pytest.fixture(scope="module")
def area(surveyed: Layers) -> float:
    """The surveyed boundary's geodesic area, which every file must carry (not the schematic one's)."""
    return float(geodesic_areas_km2([surveyed.parks.loc[SURVEYED].geometry])[0])


def test_the_counts_come_from_the_features(layers: Layers, surveyed: Layers) -> None:
    seed = boundaries.of_frame(layers.parks)
    assert not seed.mixed and seed.schematic == len(layers.parks) == 44
    b = boundaries.of_frame(surveyed.parks)
    assert (b.schematic, b.surveyed, b.sources, b.surveyed_ids) == (43, 1, (SOURCE,), (SURVEYED,))
    assert boundaries.of_frame(surveyed.districts) == boundaries.Boundaries()  # administrative: neither


def test_frames_carry_the_source_beside_the_method(layers: Layers, surveyed: Layers, area: float) -> None:
    for source in (layers, surveyed):  # the column is there before any survey, so a file's fields stay put
        frame = collection_frames(source, "subparks")["subparks"]
        columns = list(frame.columns)
        assert columns[columns.index("geometry_method") + 1] == "geometry_source"
    frame = collection_frames(surveyed, "subparks")["subparks"]
    assert frame.loc[SURVEYED, "geometry_source"] == SOURCE and frame.loc[SCHEMATIC, "geometry_source"] is None
    assert frame.loc[SURVEYED, "area_km2"] == pytest.approx(area)
    assert area < collection_frames(layers, "subparks")["subparks"].loc[SURVEYED, "area_km2"] * 0.95
    assert "geometry_source" not in collection_frames(surveyed, "platforms")["platforms"].columns


def _written(layers: Layers, fmt: str, path: Path, collection: str = "all", crs: Any = None) -> Path:
    return export(collection_frames(layers, collection), fmt, crs, path)


def test_geopackage_columns_and_descriptions(surveyed: Layers, area: float, tmp_path: Path) -> None:
    path = _written(surveyed, "gpkg", tmp_path / "all.gpkg")
    sub = pyogrio.read_dataframe(path, layer="subparks").set_index("id")
    assert sub.loc[SURVEYED, "geometry_quality"] == "surveyed" and sub.loc[SURVEYED, "geometry_source"] == SOURCE
    assert sub.loc[SURVEYED, "geometry_method"] == METHOD and sub.loc[SURVEYED, "area_km2"] == pytest.approx(area)
    assert sub.drop(SURVEYED)["geometry_source"].isna().all()
    assert set(sub.drop(SURVEYED)["geometry_quality"]) == {"schematic"}
    with sqlite3.connect(path) as db:
        described = dict(db.execute("SELECT table_name, description FROM gpkg_contents"))
    # each layer says what holds for its own features: the sub-parks are mixed, the corridor all schematic
    assert described["subparks"].startswith(f"Boundaries: 9 schematic, 1 surveyed (sources: {SOURCE}).")
    assert NOTICE not in described["subparks"] and "Schematic ones are drawn" in described["subparks"]
    assert described["corridor"].startswith(NOTICE)


@pytest.mark.parametrize(("fmt", "name", "field"), [("geojson", "subparks.geojson", "geometry_source"),
                                                    ("fgb", "subparks.fgb", "geometry_source"),
                                                    ("csv", "subparks.csv", "geometry_source"),
                                                    ("shapefile", "subparks.shp", "geom_src")])
def test_every_gdal_format_carries_the_source(surveyed: Layers, tmp_path: Path, fmt: str, name: str,
                                              field: str) -> None:
    path = _written(surveyed, fmt, tmp_path / (name if fmt != "shapefile" else "subparks.zip"), "subparks")
    if fmt == "shapefile":
        with zipfile.ZipFile(path) as zf:
            zf.extractall(tmp_path / "x")
        path = tmp_path / "x" / name
    frame = pyogrio.read_dataframe(path).set_index("id")
    assert frame.loc[SURVEYED, field] == SOURCE  # UTF-8 Chinese intact, in the .dbf too
    assert frame.drop(SURVEYED)[field].isna().all() or set(frame.drop(SURVEYED)[field]) == {""}  # CSV: empty text


def test_shapefile_names_and_readme(surveyed: Layers, tmp_path: Path) -> None:
    with zipfile.ZipFile(_written(surveyed, "shapefile", tmp_path / "all.zip")) as zf:
        readme = zf.read("README.txt").decode("utf-8")
        fields = dict(csv.reader(io.StringIO(zf.read("fields.csv").decode("utf-8"))))
    assert fields["geom_src"] == "geometry_source" and fields["geom_qual"] == "geometry_quality"
    assert readme.startswith(f"Boundaries: 43 schematic, 1 surveyed (sources: {SOURCE}).") and NOTICE not in readme


def test_geojson_description_and_seed_notice(layers: Layers, surveyed: Layers, tmp_path: Path) -> None:
    doc = json.loads(_written(surveyed, "geojson", tmp_path / "s.geojson", "subparks").read_text(encoding="utf-8"))
    assert "9 schematic, 1 surveyed" in doc["description"] and SOURCE in doc["description"]
    props = {f["id"]: f["properties"] for f in doc["features"]}
    assert props[SURVEYED]["geometry_source"] == SOURCE and props[SCHEMATIC]["geometry_source"] is None
    seed = json.loads(_written(layers, "geojson", tmp_path / "p.geojson", "subparks").read_text(encoding="utf-8"))
    assert seed["description"].startswith(NOTICE)  # nothing surveyed: the plain schematic notice


def test_kml_extended_data_and_descriptions(surveyed: Layers, tmp_path: Path) -> None:
    root = ET.parse(_written(surveyed, "kml", tmp_path / "all.kml")).getroot()
    document = root.find(f"{KML}Document")
    assert document is not None
    assert "43 schematic, 1 surveyed" in (document.findtext(f"{KML}description") or "")
    marks = {}
    for mark in root.iter(f"{KML}Placemark"):
        data = {d.get("name"): d.findtext(f"{KML}value") for d in mark.iter(f"{KML}Data")}
        marks[data["id"]] = (data, html.unescape(mark.findtext(f"{KML}description") or ""))
    data, popup = marks[SURVEYED]
    assert data["geometry_quality"] == "surveyed" and data["geometry_source"] == SOURCE
    assert f"Surveyed boundary, from {SOURCE}" in popup and "Schematic boundary" not in popup
    assert "of the surveyed boundary" in popup
    data, popup = marks[SCHEMATIC]
    assert data["geometry_quality"] == "schematic" and "geometry_source" not in data
    assert "Schematic boundary drawn from the plan's words" in popup


def test_dxf_xdata_names_the_source(surveyed: Layers, tmp_path: Path) -> None:
    from geo.crs import parse_crs

    doc = ezdxf.readfile(_written(surveyed, "dxf", tmp_path / "all.dxf", crs=parse_crs("EPSG:4549")))
    tags: dict[str, list[str]] = {}
    for entity in doc.modelspace().query("LWPOLYLINE"):
        values = [str(v) for _, v in entity.get_xdata("NBGIS")]
        tags.setdefault(values[0].removeprefix("id="), values)
    assert "geometry_quality=surveyed" in tags[SURVEYED] and f"geometry_source={SOURCE}" in tags[SURVEYED]
    assert "geometry_quality=schematic" in tags[SCHEMATIC]
    assert not any(v.startswith("geometry_source=") for v in tags[SCHEMATIC])
    assert "1 surveyed" in doc.header.custom_vars.get("NOTICE")


def test_parquet_and_csv_columns(surveyed: Layers, tmp_path: Path) -> None:
    table = pq.read_table(_written(surveyed, "parquet", tmp_path / "subparks.parquet", "subparks"))
    rows = dict(zip(table.column("id").to_pylist(), table.column("geometry_source").to_pylist()))
    assert rows[SURVEYED] == SOURCE and rows[SCHEMATIC] is None
    text = _written(surveyed, "csv", tmp_path / "subparks.csv", "subparks").read_text(encoding="utf-8-sig")
    by_id = {r["id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert by_id[SURVEYED]["geometry_source"] == SOURCE and by_id[SURVEYED]["geometry_quality"] == "surveyed"


def test_export_of_the_store_current_version(tmp_path: Path) -> None:
    """An edit through the store's write API: the next snapshot's layers export the surveyed boundary."""
    store = seeded(str(tmp_path / "store.gpkg"))
    try:
        feature, etag = store.current("parks", SURVEYED)  # type: ignore[misc]
        new = next(f for f in surveyed_features()["parks"] if f.id == SURVEYED)
        store.apply([Edit("parks", SURVEYED, "replace", new.properties, new.geometry, etag, "import")],
                    "editor", "the bureau's survey")
        current = build_layers(store.snapshot().features, DATA_DIR)
    finally:
        store.close()
    sub = pyogrio.read_dataframe(_written(current, "gpkg", tmp_path / "now.gpkg", "subparks")).set_index("id")
    assert sub.loc[SURVEYED, "geometry_source"] == SOURCE
    assert shapely.equals_exact(sub.loc[SURVEYED].geometry, new.geometry, 1e-7)
    assert not shapely.equals_exact(sub.loc[SURVEYED].geometry, feature.geometry, 1e-4)


# --- interactive maps ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_overview_popups_styles_note_and_legend(surveyed: Layers, lang: str) -> None:
    m = builders.overview(surveyed, lang=lang)
    drawn = drawn_features(m)
    beilun, yinzhou = drawn[SURVEYED]["properties"], drawn[SCHEMATIC]["properties"]
    for props in (beilun, yinzhou):
        props["popup"] = html.unescape(props["popup"])
    assert "nbgis-surveyed" in beilun["style"]["className"].split() and "dashArray" not in beilun["style"]
    assert "nbgis-schematic" in yinzhou["style"]["className"].split()
    assert beilun["style"]["weight"] > yinzhou["style"]["weight"]
    assert t("geometry.surveyed", lang) in beilun["popup"] and SOURCE in beilun["popup"]
    assert t("geometry.schematic", lang) not in beilun["popup"]
    assert t("h.computed_surveyed", lang) in beilun["popup"]
    assert t("geometry.schematic", lang) in yinzhou["popup"] and SOURCE not in yinzhou["popup"]
    if lang == "en":  # the method shows in English (in Chinese, as for locations, it is left out)
        assert METHOD in beilun["popup"] and "blocks drawn as boxes" in yinzhou["popup"]
    page, _ = render_html(m, "link", "/assets/")
    note = t("note.mixed", lang).format(schematic=43, surveyed=1)
    assert json.dumps(note, ensure_ascii=False) in page
    assert json.dumps(t("note", lang), ensure_ascii=False) not in page
    assert "nbgis-boundaries" in page and t("legend.surveyed", lang) in page


def test_industry_and_feature_maps_mark_the_surveyed_boundary(surveyed: Layers) -> None:
    industry = builders.industry(surveyed, "high-end-equipment", lang="en")
    hosts = drawn_features(industry)
    assert "nbgis-surveyed" in hosts[SURVEYED]["properties"]["style"]["className"].split()
    panel, _ = render_html(industry, "link", "/assets/")  # the summary panel's note, beside the map's
    assert "counts once. 43 boundaries schematic, not surveyed; 1 surveyed" in panel
    focus = builders.feature(surveyed, SURVEYED, lang="en")
    page, _ = render_html(focus, "link", "/assets/")
    assert SOURCE in page and "43 boundaries schematic, not surveyed; 1 surveyed" in page
    classes = [f["properties"]["style"]["className"].split() for f in drawn_features(focus).values()]
    assert any("nbgis-focus" in c and "nbgis-surveyed" in c for c in classes)


def test_seed_maps_keep_the_schematic_note(layers: Layers) -> None:
    page, _ = render_html(builders.overview(layers, lang="en"), "link", "/assets/")
    assert "Boundaries are schematic, not surveyed" in page and "nbgis-boundaries" not in page
    assert "nbgis-surveyed" not in page


@pytest.fixture
def page(browser: Any, surveyed: Layers, tmp_path: Path) -> Iterator[Any]:
    path = tmp_path / "overview.html"
    write_map(builders.overview(surveyed, lang="en"), path, self_contained=True)
    v = open_page(browser, path.as_uri(), ("file:", "data:"), tmp_path / "surveyed.png")
    yield v
    v.page.close()


def test_browser_popups_say_surveyed_or_schematic(page: Any) -> None:
    assert page.errors == [] and page.outside == []
    assert page.page.locator(".nbgis-note").inner_text().startswith("43 boundaries schematic")
    assert page.page.locator(f"path.nbgis-f-{SURVEYED}.nbgis-surveyed").count() == 1
    texts = {}
    for fid, name in ((SURVEYED, "北仑分园"), (SCHEMATIC, "鄞州分园")):
        assert page.page.locator(f"path.nbgis-f-{fid}").evaluate(CLICK_INSIDE)
        popup = page.page.locator(".leaflet-popup-content", has_text=name)
        popup.wait_for()
        texts[fid] = popup.inner_text()
    assert "surveyed boundary" in texts[SURVEYED] and SOURCE in texts[SURVEYED]
    assert "schematic boundary drawn from the plan's words" in texts[SCHEMATIC]
    assert SOURCE not in texts[SCHEMATIC]
    width = page.page.locator(f"path.nbgis-f-{SURVEYED}").get_attribute("stroke-width")
    assert float(width or 0) > float(page.page.locator(f"path.nbgis-f-{SCHEMATIC}").get_attribute("stroke-width")
                                     or 0)


# --- print maps ------------------------------------------------------------------------------------


def test_print_map_notes_and_legend(surveyed: Layers, tmp_path: Path) -> None:
    pdf = tmp_path / "overview.pdf"
    pdf.write_bytes(render(surveyed, "overview", None, PrintOptions(fmt="pdf", lang="en")).data)
    text = pdf_text(pdf)
    assert squeeze(t("print.schematic", "en")) not in text  # no longer "the boundaries ... are drawn from words"
    assert squeeze("Of the boundaries of parks, corridors and zones, 43 are schematic") in text
    assert squeeze(f"1 surveyed: Beilun Sub-park ({SOURCE})") in text
    assert squeeze("43 boundaries schematic, not surveyed; 1 surveyed (heavy solid outline)") in text  # in the frame
    assert squeeze("surveyed (1)") in text and squeeze("schematic, drawn from the plan's words (43)") in text


def test_print_feature_map_in_chinese(surveyed: Layers, tmp_path: Path) -> None:
    pdf = tmp_path / "beilun.pdf"
    pdf.write_bytes(render(surveyed, "feature", SURVEYED, PrintOptions(fmt="pdf", lang="zh")).data)
    text = pdf_text(pdf)
    assert squeeze(t("print.schematic", "zh")) not in text
    assert "1处为测绘成果：北仑分园（" + squeeze(SOURCE) + "）" in text
    assert squeeze(t("legend.surveyed", "zh")) + "(1)" in text
    assert "1处为测绘成果（粗实线）" in text and "弹窗" not in text  # paper has no popups to point to
    assert squeeze(t("h.computed_surveyed", "zh")) in text  # the subtitle's area is the surveyed one's


# --- the service's pages ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(surveyed: Layers) -> TestClient:
    return TestClient(create_app(surveyed))


def test_collection_descriptions_are_computed(client: TestClient) -> None:
    sub = client.get("/collections/subparks", params={"f": "json"}).json()["description"]
    assert sub.startswith(f"Boundaries: 9 schematic, 1 surveyed (sources: {SOURCE})")
    assert "not surveyed" not in sub
    corridor = client.get("/collections/corridor", params={"f": "json"}).json()["description"]
    assert corridor.startswith("Schematic boundaries drawn from the plan's words")


def test_items_page_says_per_feature(client: TestClient) -> None:
    page = client.get("/collections/subparks/items", params={"f": "html"}).text
    cells = re.findall(r'<td class="boundary">([^<]*)</td>', page)
    assert len(cells) == 10 and cells.count(f"surveyed: {SOURCE}") == 1 and cells.count("schematic") == 9
    assert json.dumps("9 schematic boundaries (not surveyed), 1 surveyed", ensure_ascii=False) in page
    item = client.get(f"/collections/subparks/items/{SURVEYED}", params={"f": "html"}).text
    assert '"Surveyed boundary"' in item and "Schematic boundaries, not surveyed" not in item
    other = client.get(f"/collections/subparks/items/{SCHEMATIC}", params={"f": "html"}).text
    assert '"Schematic boundaries, not surveyed"' in other


def test_feature_map_page(client: TestClient) -> None:
    page = client.get(f"/maps/feature/{SURVEYED}", params={"lang": "en"}).text
    assert SOURCE in page and "1 surveyed" in page and "nbgis-surveyed" in page
    assert "Boundaries are schematic, not surveyed" not in page


def test_landing_footer_and_locate_say_how_many(client: TestClient, layers: Layers) -> None:
    landing = client.get("/", params={"f": "json"}).json()["description"]
    assert f"Boundaries: 43 schematic, 1 surveyed (sources: {SOURCE})" in landing
    page = client.get("/", params={"f": "html", "lang": "en"}).text
    footer = page[page.index("<footer>"):]
    assert "43 <strong>schematic</strong>" in footer and "1 <strong>surveyed</strong>" in footer
    assert "Of the park, corridor and node boundaries, 43 are <strong>schematic</strong>" in page
    items = client.get("/collections/subparks/items", params={"f": "html"}).text
    assert "1 处为<strong>测绘成果</strong>" in items[items.index("<footer>"):]  # in Chinese, by default
    note = client.get("/locate", params={"lon": 121.85, "lat": 29.9, "f": "json"}).json()["note"]
    assert note.startswith("Boundaries: 43 schematic, 1 surveyed")
    stats = client.get("/stats", params={"f": "html"}).text
    assert "43 schematic boundaries, not surveyed; 1 surveyed" in stats
    assert "Computed (km², schematic or surveyed)" in stats
    seed = TestClient(create_app(layers))  # nothing surveyed: the schematic notices as they were
    assert "Boundaries are schematic" in seed.get("/", params={"f": "json"}).json()["description"]
    page = seed.get("/", params={"f": "html", "lang": "en"}).text
    assert "Park boundaries are <strong>schematic</strong>" in page and "surveyed</strong>" not in page
    assert seed.get("/locate", params={"lon": 121.85, "lat": 29.9, "f": "json"}).json()["note"].startswith(
        "Boundaries are schematic")
