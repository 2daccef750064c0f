"""Batch location end to end (geo.sites, geo.batch, geo.nearest, geo.cluster): the Arrow path's output against
the pandas path it replaced, byte for byte; GeoParquet read back by GeoPandas; upload limits; Dask."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import pytest
import shapely

from geo.batch import THREADS, add_summaries, csv_rows, json_rows, locate_file, locate_sites, ordered_map
from geo.crs import OutputCRS, parse_crs, wgs84_to_gcj02
from geo.layers import Layers
from geo.locate import _LOCAL, ADDED_COLUMNS, Locator, SitesError, parse_columns
from geo.nearest import SegmentGrid
from geo.sites import MAX_COLUMNS, LimitError, csv_sites

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def locator(layers: Layers) -> Locator:
    return Locator.from_layers(layers)


def pandas_located_csv(data: bytes, locator: Locator, crs: OutputCRS | None = None) -> bytes:
    """What `nbgis locate` wrote before Arrow: pandas reads every column as text, pandas.to_numeric parses the
    coordinates, and pandas.to_csv writes the input, lon84, lat84 and the located columns after a BOM."""
    from geo.crs import xy_to_wgs84

    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    x, y = (pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in ("lon", "lat"))
    frame["lon84"], frame["lat84"] = xy_to_wgs84(x, y, crs)
    located = locator.locate(frame["lon84"].to_numpy(), frame["lat84"].to_numpy())
    return "\ufeff".encode() + pd.concat([frame, located], axis=1).to_csv(index=False).encode("utf-8")


def edge_rows(n: int = 3000) -> pd.DataFrame:
    """Random sites over Ningbo and beyond, on and beside the sub-parks' boundaries, with awkward text."""
    rng = np.random.default_rng(42)
    lon = np.concatenate([rng.uniform(120.8, 122.3, n), rng.uniform(100, 140, 50), [0.00001, -179.99999, 31.0]])
    lat = np.concatenate([rng.uniform(28.8, 30.5, n), rng.uniform(10, 50, 50), [0.00002, 89.99999, 0.0]])
    text = np.array(["", "plain", "逗号,在内", 'a "quote"', "line\nbreak", " spaced ", "tab\there",
                     "NA", "null", "1e5", "—"], dtype=object)
    return pd.DataFrame({"id": [f"s{i}" for i in range(len(lon))], "lon": [repr(float(v)) for v in lon],
                         "lat": [repr(float(v)) for v in lat], "名称": text[np.arange(len(lon)) % len(text)],
                         "blank": ""})


def test_csv_out_is_pandas_output_byte_for_byte(tmp_path: Path, locator: Locator, layers: Layers) -> None:
    frame = edge_rows()
    # Boundary vertices and points a hair beside them: the nearest distances must agree to the bit.
    ring = shapely.get_coordinates(layers.kind("subpark").geometry.boundary.to_numpy())[::7]
    extra = pd.DataFrame({"id": "edge", "lon": [repr(float(v)) for v in ring[:, 0] + 1e-7],
                          "lat": [repr(float(v)) for v in ring[:, 1]], "名称": "", "blank": ""})
    frame = pd.concat([frame, extra], ignore_index=True)
    src = tmp_path / "in.csv"
    data = "\ufeff".encode() + frame.to_csv(index=False).encode("utf-8") + b"\n\n"  # with a BOM, blank lines
    src.write_bytes(data)
    locate_file(src, tmp_path / "out.csv", locator, block_bytes=20_000)  # many blocks, on two threads
    assert (tmp_path / "out.csv").read_bytes() == pandas_located_csv(data, locator)
    # Without a BOM, as bytes, and with Windows line ends, the same answer.
    crlf = frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8")
    locate_file(io.BytesIO(crlf), tmp_path / "out2.csv", locator)
    assert (tmp_path / "out2.csv").read_bytes() == pandas_located_csv(crlf, locator)


@pytest.mark.parametrize("crs_name", ["EPSG:4549", "GCJ02"])
def test_other_crs_input_is_pandas_output_byte_for_byte(tmp_path: Path, locator: Locator, crs_name: str) -> None:
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(121.0, 122.0, 2000), rng.uniform(29.5, 30.2, 2000)
    if crs_name == "GCJ02":
        x, y = wgs84_to_gcj02(lon, lat)
    else:
        x, y = pyproj.Transformer.from_crs("EPSG:4326", crs_name, always_xy=True).transform(lon, lat)
    data = pd.DataFrame({"lon": x, "lat": y, "n": range(len(x))}).to_csv(index=False).encode()
    crs = parse_crs(crs_name)
    locate_file(io.BytesIO(data), tmp_path / "out.csv", locator, crs)
    assert (tmp_path / "out.csv").read_bytes() == pandas_located_csv(data, locator, crs)


def test_json_rows_are_orjson_output(locator: Locator) -> None:
    """The JSON answer's rows, built by Arrow's kernels, against orjson writing each row's dict."""
    frame = edge_rows(2000)
    frame.loc[3, "名称"] = "ctrl\x01\x1f and \\ and \u2028"
    frame["lon"] = frame["lon"].astype(object)
    sites = next(csv_sites(frame.to_csv(index=False).encode()))
    table, _ = locate_sites(locator, sites)
    assert json_rows(table) == orjson.dumps(table.to_pylist())[1:-1]


def test_float_text_is_python_repr() -> None:
    values = np.array([0.0, -0.0, 1.0, 121.5, 1e-05, 0.0001, 1.5e-7, 1e15, 1e16, 123456.789, 5e-324, 29.8])
    text = csv_rows(pa.table({"v": values})).decode().splitlines()
    assert text == [repr(float(v)) for v in values]
    assert csv_rows(pa.table({"v": [np.nan, 2.5]})) == b"\n2.5\n"  # NaN as pandas wrote it: empty
    # Whole thousandths (distances rounded to metres) are written from integers: the same text.
    rng = np.random.default_rng(4)
    rounded = np.concatenate([np.round(rng.uniform(-1e5, 1e5, 20_000), 3), np.round(rng.uniform(0, 2, 2000), 3),
                              [0.0, 0.001, 0.5, 5.0, -0.001, 999_999_999_999.999, 12.34]])
    assert csv_rows(pa.table({"v": rounded})).decode().splitlines() == [repr(float(v)) for v in rounded]
    assert csv_rows(pa.table({"v": [-0.0, 0.5]})).decode().splitlines() == ["-0.0", "0.5"]
    # A column equal to an earlier one shares its text (lon84 is lon), but only to the bit: -0.0 is not 0.0.
    same = pa.table({"lon": [0.0, 121.5], "lon84": [-0.0, 121.5], "again": [0.0, 121.5]})
    assert csv_rows(same).decode() == "0.0,-0.0,0.0\n121.5,121.5,121.5\n"
    assert json_rows(same).decode() == '{"lon":0.0,"lon84":-0.0,"again":0.0},{"lon":121.5,"lon84":121.5,"again":121.5}'


@pytest.mark.parametrize(("data", "message"), [
    (b"lon,lat\n121.5,29.8\n121.5,north\n", r"data row 2: lat 'north' is not a number"),
    (b"lon,lat\n121.5,29.8\n200,29.8\n", r"data row 2: lon 200 is out of range -180..180"),
    (b"lon,lat\n121.5,29.8\n\n121.5, \n", r"data row 2: lat is empty"),
    (b"lon,lat\n121.5,29.8\n121.5,29.8,1\n", r"data row 2 has 3 fields but the header 2"),
])
def test_bad_rows_are_named_in_any_block(tmp_path: Path, locator: Locator, data: bytes, message: str) -> None:
    with pytest.raises(SitesError, match=message):
        locate_file(io.BytesIO(data), tmp_path / "out.csv", locator, block_bytes=16)
    assert not list(tmp_path.iterdir())


def test_whitespace_numbers_parse_as_pandas_did(locator: Locator, tmp_path: Path) -> None:
    data = b"lon,lat\n 121.5,29.8 \n121.6,+29.9\n"
    locate_file(io.BytesIO(data), tmp_path / "out.csv", locator)
    assert (tmp_path / "out.csv").read_bytes() == pandas_located_csv(data, locator)


def test_the_segment_grid_finds_geos_nearest_points(locator: Locator, layers: Layers) -> None:
    """Against shapely.shortest_line to every sub-park boundary piece: the same nearest point, to the bit."""
    rng = np.random.default_rng(9)
    ring = shapely.get_coordinates(layers.kind("subpark").geometry.boundary.to_numpy())
    lon = np.concatenate([rng.uniform(120.5, 122.6, 20_000), ring[:, 0], (ring[1:, 0] + ring[:-1, 0]) / 2])
    lat = np.concatenate([rng.uniform(28.5, 30.8, 20_000), ring[:, 1], (ring[1:, 1] + ring[:-1, 1]) / 2])
    x, y = _LOCAL.transform(lon, lat)
    grid: SegmentGrid = locator.segment_grid()
    owner, nx, ny = grid.nearest(x, y)
    on = np.flatnonzero(owner >= 0)
    assert len(on) > 0.9 * len(x)  # the rest lie beyond the grid's 40 km margin
    points = shapely.points(x[on], y[on])
    which, piece = locator.boundary.query_nearest(points, all_matches=False)
    ends = shapely.get_coordinates(shapely.shortest_line(points[which], locator.boundary.geometries[piece]))
    assert (nx[on][which] == ends[1::2, 0]).all() and (ny[on][which] == ends[1::2, 1]).all()
    assert (owner[on][which] == locator.boundary_owner[piece]).all()
    far_x, far_y = np.array([x[0] + 5e6, np.nan]), np.array([y[0], 0.0])
    assert grid.nearest(far_x, far_y)[0].tolist() == [-1, -1]  # off the grid: left to the caller


# --- limits -----------------------------------------------------------------------------------------------------

def test_a_million_columns_are_refused_after_the_first_thousand() -> None:
    data = b"lon,lat," + b",".join(b"c%d" % i for i in range(10**6)) + b"\n1,2\n"
    start = time.perf_counter()
    before = pa.total_allocated_bytes()
    with pytest.raises(SitesError, match=f"more than {MAX_COLUMNS:,} columns"):
        next(csv_sites(data))
    assert time.perf_counter() - start < 2 and pa.total_allocated_bytes() - before < 1 << 20


def test_a_data_row_of_a_million_fields_and_a_long_value_are_refused() -> None:
    with pytest.raises(SitesError, match="data row 1 has 1000000 fields but the header 2"):
        next(csv_sites(b"lon,lat\n" + b"1," * 999_999 + b"1\n"))
    with pytest.raises(LimitError, match="data row 2, column 'note', has a value longer than 64 KiB"):
        next(csv_sites(b"lon,lat,note\n121.5,29.8,a\n121.5,29.8," + b"x" * 70_000 + b"\n"))
    with pytest.raises(LimitError, match="the header has a value longer than 64 KiB"):
        next(csv_sites(b"lon,lat," + b"x" * 70_000 + b"\n121.5,29.8,a\n"))


# --- Parquet ----------------------------------------------------------------------------------------------------

def test_chosen_columns_are_those_of_the_whole_output(tmp_path: Path, locator: Locator) -> None:
    """Only the columns asked for, in that order, each the same text as in the whole output; the same counts."""
    frame = edge_rows()
    src = tmp_path / "in.csv"
    src.write_bytes(frame.to_csv(index=False).encode("utf-8"))
    whole = locate_file(src, tmp_path / "all.csv", locator, block_bytes=20_000)
    chosen = ("innovation_node", "subpark", "lon84", "district_adcode")
    part = locate_file(src, tmp_path / "some.csv", locator, block_bytes=20_000, columns=chosen)
    assert part == whole  # the summary counts every area, whatever the columns
    full = pd.read_csv(tmp_path / "all.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    want = "\ufeff".encode() + full[[*frame.columns, *chosen]].to_csv(index=False).encode("utf-8")
    assert (tmp_path / "some.csv").read_bytes() == want
    assert full["subpark"].ne("").sum() > 0 and full["innovation_node"].ne("").sum() > 0
    # As GeoParquet without lon84/lat84: the points are still the sites'.
    locate_file(src, tmp_path / "some.parquet", locator, columns=("subpark",))
    read = gpd.read_parquet(tmp_path / "some.parquet")
    assert list(read.columns) == [*frame.columns, "subpark", "geometry"]
    np.testing.assert_array_equal(read.geometry.x, full["lon84"].astype(float))
    assert read["subpark"].fillna("").tolist() == full["subpark"].tolist()


def test_without_the_nearest_columns_nothing_is_measured(locator: Locator) -> None:
    lon, lat = np.array([121.0, 100.0]), np.array([29.0, 10.0])
    found = locator.find(lon, lat, nearest=False)
    assert found.nearest_subpark_km is None and "nearest_subpark" not in found.labels
    assert list(found.frame(["subpark", "corridor_zone"]).columns) == ["subpark", "corridor_zone"]
    with pytest.raises(KeyError):
        found.frame(["nearest_subpark_km"])
    both = locator.find(lon, lat)
    assert both.nearest_subpark_km is not None and both.nearest_subpark_km[1] > 1000
    assert np.array_equal(found.subpark, both.subpark) and np.array_equal(found.district, both.district)


def test_columns_are_parsed_once_each_and_checked() -> None:
    assert parse_columns(None) == parse_columns(" ") == ADDED_COLUMNS
    assert parse_columns("district_adcode, subpark,district_adcode") == ("district_adcode", "subpark")
    with pytest.raises(SitesError, match=r"'park'.*choose from lon84, lat84, subpark"):
        parse_columns("subpark,park")


def test_csv_to_geoparquet_read_back_by_geopandas(tmp_path: Path, locator: Locator) -> None:
    frame = edge_rows(500)
    src = tmp_path / "in.csv"
    src.write_bytes(frame.to_csv(index=False).encode())
    locate_file(src, tmp_path / "out.parquet", locator)
    read = gpd.read_parquet(tmp_path / "out.parquet")
    assert read.crs == "OGC:CRS84" and len(read) == len(frame)
    assert (read.geometry.x == read["lon84"]).all() and (read.geometry.y == read["lat84"]).all()
    assert read["名称"].tolist() == frame["名称"].tolist()
    want = locator.locate(read["lon84"].to_numpy(), read["lat84"].to_numpy())
    assert read["subpark"].fillna("").tolist() == want["subpark"].fillna("").tolist()
    assert (read["nearest_subpark_km"].to_numpy() == want["nearest_subpark_km"].to_numpy()).all()
    assert b"schematic" in pq.read_schema(tmp_path / "out.parquet").metadata[b"nbgis"]


def test_geoparquet_in_another_crs_and_folders_in_and_out(tmp_path: Path, locator: Locator) -> None:
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(121.0, 122.0, 3000), rng.uniform(29.5, 30.2, 3000)
    sites = gpd.GeoDataFrame({"name": [f"n{i}" for i in range(3000)]}, geometry=gpd.points_from_xy(lon, lat),
                             crs="EPSG:4326").to_crs("EPSG:4549")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):  # a dataset of three files
        sites.iloc[i * 1000:(i + 1) * 1000].to_parquet(folder / f"part-{i}.parquet")
    locate_file(folder, tmp_path / "out", locator, block_rows=400)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["part-00000.parquet"]
    out = gpd.read_parquet(tmp_path / "out")
    assert out.crs.equals(pyproj.CRS("EPSG:4549")) and out["name"].tolist() == sites["name"].tolist()
    np.testing.assert_allclose(out["lon84"], lon, atol=1e-9)
    want = locator.locate(lon, lat)
    assert out["district_adcode"].fillna("").tolist() == want["district_adcode"].fillna("").tolist()
    # And the same sites as CSV: the located columns agree.
    locate_file(folder, tmp_path / "out.csv", locator)
    back = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert back["district_adcode"].tolist() == want["district_adcode"].fillna("").tolist()
    assert back["geometry"].str.startswith("POINT (").all()


# --- the command line and Dask ---------------------------------------------------------------------------------------

def nbgis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbgis", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_cli_progress_is_one_line_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal (a pty here) one line redrawn in place, ending with the rows and rows/s; in a log none."""
    src = tmp_path / "in.csv"
    src.write_bytes(edge_rows(20_000).to_csv(index=False).encode())
    controller, terminal = pty.openpty()
    with subprocess.Popen([sys.executable, "-m", "nbgis", "locate", str(src), str(tmp_path / "out.parquet")],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=terminal, text=True) as run:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 1 << 16)
            except OSError:  # the command has ended and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        stdout = run.communicate(timeout=600)[0]
    os.close(controller)
    assert run.returncode == 0, shown
    lines = shown.decode().replace("\r\n", "\n").split("\n")
    # (a first run may say it made the store: a note of its own, on its own line)
    finished = [line.rsplit("\r", 1)[-1] for line in lines if line.strip() and not line.startswith("nbgis: note:")]
    assert len(finished) == 1 and finished[0].startswith("100% |"), shown  # one line, redrawn with \r
    assert "20,053 rows" in finished[0] and "rows/s" in finished[0]
    assert "wrote" in stdout and pq.read_metadata(tmp_path / "out.parquet").num_rows == 20_053
    logged = nbgis("locate", str(src), str(tmp_path / "again.csv"))
    assert logged.returncode == 0 and "rows/s" not in logged.stderr and "100%" not in logged.stderr


def test_dask_local_cluster_gives_the_single_machine_answers(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):  # three files of several row groups: several tasks per worker
        n = 20_000
        table = pa.table({"id": [f"f{i}-{k}" for k in range(n)], "lon": rng.uniform(120.8, 122.3, n),
                          "lat": rng.uniform(28.8, 30.5, n)})
        pq.write_table(table, folder / f"part-{i}.parquet", row_group_size=5_000)
    single = nbgis("locate", str(folder), str(tmp_path / "one"))
    assert single.returncode == 0, single.stderr
    # Two worker processes (not threads) on 127.0.0.1; tasks of about a row group each.
    code = ("import sys, geo.cluster as c; c.PARTITION_ROWS = 5_000; from nbgis.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    cluster = subprocess.run([sys.executable, "-c", code, "locate", "--cluster", "local:2", str(folder),
                              str(tmp_path / "many")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert cluster.returncode == 0, cluster.stderr
    assert cluster.stdout.replace("/many:", "/one:") == single.stdout  # the same summary
    parts = sorted(p.name for p in (tmp_path / "many").iterdir())
    assert len(parts) == 12
    assert pq.read_table(tmp_path / "many").equals(pq.read_table(tmp_path / "one"))


def test_cli_columns(tmp_path: Path, layers: Layers) -> None:
    subparks = layers.kind("subpark")
    inside = shapely.point_on_surface(subparks.geometry[subparks["id"] == "subpark-beilun"].iloc[0])
    src = tmp_path / "in.csv"
    src.write_text(f"id,lon,lat\na,{inside.x!r},{inside.y!r}\nb,100,10\n", encoding="utf-8")
    done = nbgis("locate", "--columns", "subpark,district_name_zh", str(src), str(tmp_path / "out.csv"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "id,lon,lat,subpark,district_name_zh", f"a,{inside.x!r},{inside.y!r},subpark-beilun,北仑区", "b,100,10,,"]
    refused = nbgis("locate", "--columns", "subpark,parks", str(src), str(tmp_path / "bad.csv"))
    assert refused.returncode == 2 and "--columns: unknown column(s) 'parks'" in refused.stderr
    assert not (tmp_path / "bad.csv").exists()


def test_cli_with_its_areas_kept_starts_without_geopandas(tmp_path: Path) -> None:
    """The second run finds the prepared areas from the store's features alone: GeoPandas (0.5-0.8 s of start-up)
    is never imported, and the output is the first run's, byte for byte."""
    src = tmp_path / "in.csv"
    src.write_bytes(edge_rows(2_000).to_csv(index=False).encode())
    code = ("import sys; from nbgis.cli import main; code = main(sys.argv[1:]); "
            "print('geopandas' in sys.modules, 'geo.layers' in sys.modules, file=sys.stderr); sys.exit(code)")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "NBGIS_STORE": str(tmp_path / "store.gpkg")}
    runs = [subprocess.run([sys.executable, "-c", code, "locate", str(src), str(tmp_path / f"out-{i}.csv")], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=600) for i in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert runs[0].stderr.splitlines()[-1] == "True True"  # built: the layers as frames
    assert runs[1].stderr.splitlines()[-1] == "False False"  # kept: neither
    assert len(list((tmp_path / "cache" / "nbgis").glob("locator-*.pickle"))) == 1
    assert (tmp_path / "out-0.csv").read_bytes() == (tmp_path / "out-1.csv").read_bytes()
    assert runs[0].stdout.replace("out-0", "out-1") == runs[1].stdout and "2053 sites" in runs[0].stdout


def test_a_cluster_task_adds_the_chosen_columns(tmp_path: Path, locator: Locator) -> None:
    """A Dask task (run here, as a worker runs it) writes what one machine writes with the same columns."""
    from geo import cluster

    rng = np.random.default_rng(9)
    table = pa.table({"id": [f"s{k}" for k in range(3000)], "lon": rng.uniform(120.8, 122.3, 3000),
                      "lat": rng.uniform(28.8, 30.5, 3000)})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=1000)
    chosen = ("nearest_subpark_km", "subpark")
    whole = locate_file(tmp_path / "in.parquet", tmp_path / "one.parquet", locator, columns=chosen)
    (tmp_path / "staging").mkdir()
    cluster._held[cluster.PLUGIN] = locator
    try:
        parts = [cluster.locate_partition(part, str(tmp_path / "staging"), None, chosen)
                 for part in cluster.partitions(tmp_path / "in.parquet", 1000)]
    finally:
        cluster._held.pop(cluster.PLUGIN)
    assert len(parts) == 3
    assert pq.read_table(tmp_path / "staging").equals(pq.read_table(tmp_path / "one.parquet"))
    assert pq.read_table(tmp_path / "one.parquet").column_names == ["id", "lon", "lat", *chosen, "geometry"]
    total = parts[0]
    for part in parts[1:]:
        total = add_summaries(total, part)
    assert total == whole


def test_cli_cluster_needs_parquet_and_an_output(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("lon,lat\n121.5,29.8\n", encoding="utf-8")
    refused = nbgis("locate", "--cluster", "local:1", str(src), str(tmp_path / "out"))
    assert refused.returncode == 2 and "on a cluster the input is Parquet" in refused.stderr
    assert nbgis("locate", str(src)).returncode == 2  # no output named
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(THREADS < 2, reason="one core: blocks are located on the calling thread")
def test_blocks_of_every_file_run_on_the_same_kept_threads() -> None:
    """Each thread builds its own PROJ transformers (~0.1 s): new threads per file made POST /locate 2-3x slower."""
    runs: list[set[str]] = [set(), set()]
    for names in runs:
        together = threading.Barrier(2)  # two blocks at once: both threads of the pool in use

        def work(block: int, names: set[str] = names, together: threading.Barrier = together) -> int:
            together.wait(10)
            names.add(threading.current_thread().name)
            return block

        assert list(ordered_map(work, iter(range(8)))) == list(range(8))
    assert runs[0] == runs[1] and len(runs[0]) == 2 and all(n.startswith("nbgis-blocks") for n in runs[0]), runs
