"""Batch location: which sub-park, innovation node and district holds each of many random points.

Three engines do the same join on the same seeded points: ours (``geo.locate.Locator.holders``),
``geopandas.sjoin`` and DuckDB's spatial extension. Each run is a fresh process, so its peak memory is its
own; the polygons are loaded before the clock starts, the points are given as lon/lat arrays.

Run one engine: ``python -m bench.batch ENGINE N OUT.npz`` prints a JSON line of its measures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import Row

DUCKDB_VERSION = "1.5.5"  # duckdb-extension-spatial must be of the same version as duckdb
ENGINES = ("ours", "geopandas.sjoin", "DuckDB spatial")
SIZES = (10**4, 10**5, 10**6, 10**7)
SMOKE_SIZES = (2_000,)
SEED = 20251127
TARGETS = {"subpark": "subpark", "innovation_node": "innovation-node", "district": "district"}  # answer: kind


# An engine's join, and the seconds it spent building an index before it (ours: the grid the service builds once).
Setup = tuple[Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]], float]


def random_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n seeded points, uniform over the bounding box of Ningbo's city outline."""
    from geo.layers import load_layers

    west, south, east, north = load_layers().city.bounds
    rng = np.random.default_rng(SEED)
    return rng.uniform(west, east, n), rng.uniform(south, north, n)


def _status_mb(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:", 1)[1].split()[0]) / 1024  # kB


def _reset_peak() -> None:
    """Make the peak resident memory (VmHWM) start again from the present (Linux: "5" to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


# Peak memory is VmHWM, not getrusage's ru_maxrss: on Linux that keeps the parent's peak at fork time across
# exec, so every engine would seem at least as big as the benchmark itself.


def _ours() -> Setup:
    from geo.layers import load_layers
    from geo.locate import Locator

    layers = load_layers()
    start = time.perf_counter()
    locator = Locator.from_layers(layers)  # the service does this once, at start-up
    return locator.holders, time.perf_counter() - start


def _geopandas() -> Setup:
    import geopandas as gpd

    from geo.layers import load_layers

    layers = load_layers()
    areas = {key: layers.kind(kind)[["geometry"]].reset_index(drop=True) for key, kind in TARGETS.items()}

    def join(lon: np.ndarray, lat: np.ndarray) -> dict[str, np.ndarray]:
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=layers.parks.crs)
        out = {}
        for key, frame in areas.items():
            # "within" is several times faster here than "intersects" (the polygons are prepared); they differ
            # only for points on a boundary, which random points miss.
            joined = gpd.sjoin(points, frame, how="left", predicate="within")
            joined = joined[~joined.index.duplicated()]  # a point on a shared boundary matches twice
            out[key] = joined["index_right"].fillna(-1).to_numpy(dtype=np.intp)
        return out

    return join, 0.0  # its index is built inside the join


def _duckdb() -> Setup:
    import duckdb
    import pandas as pd
    import shapely

    from geo.layers import load_layers

    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{spatial_extension()}'")  # DuckDB cannot download it here; the PyPI package has it
    layers = load_layers()
    for key, kind in TARGETS.items():
        geoms = layers.kind(kind).geometry.to_numpy()
        wkb = pd.DataFrame({"idx": np.arange(len(geoms), dtype=np.int64), "wkb": shapely.to_wkb(geoms)})
        con.register("wkb", wkb)
        con.execute(f"CREATE TABLE {key} AS SELECT idx, ST_GeomFromWKB(wkb) AS geom FROM wkb")
        con.unregister("wkb")

    def join(lon: np.ndarray, lat: np.ndarray) -> dict[str, np.ndarray]:
        points = pd.DataFrame({"i": np.arange(len(lon), dtype=np.int64), "lon": lon, "lat": lat})
        con.register("points", points)
        out = {}
        for key in TARGETS:  # DuckDB plans each as its SPATIAL_JOIN operator (an R-tree)
            found = con.execute(f"SELECT points.i, {key}.idx FROM points JOIN {key} "
                                f"ON ST_Intersects({key}.geom, ST_Point(points.lon, points.lat))").fetchnumpy()
            held = np.full(len(lon), -1, dtype=np.intp)
            held[found["i"]] = found["idx"]  # a point on a shared boundary keeps one match; the check shows it
            out[key] = held
        return out

    return join, 0.0  # its index is built inside the join


def ensure_duckdb() -> None:
    """DuckDB and its spatial extension, of one version, from PyPI into this environment (pyproject's bench extra)."""
    try:
        import duckdb
        import duckdb_extension_spatial  # noqa: F401

        if duckdb.__version__ == DUCKDB_VERSION:
            return
    except ImportError:
        pass
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"duckdb=={DUCKDB_VERSION}",
                    f"duckdb-extension-spatial=={DUCKDB_VERSION}"], check=True)


def spatial_extension() -> Path:
    """The spatial extension's file inside the duckdb-extension-spatial package."""
    import duckdb_extension_spatial

    return next(Path(duckdb_extension_spatial.__file__).parent.glob("extensions/*/spatial.duckdb_extension"))


SETUP = {"ours": _ours, "geopandas.sjoin": _geopandas, "DuckDB spatial": _duckdb}


def measure(engine: str, n: int, out: Path) -> dict[str, Any]:
    """One engine on n points in this process: seconds, index seconds, memory, answers saved to out."""
    lon, lat = random_points(n)
    join, index_s = SETUP[engine]()
    before = _status_mb("VmRSS")
    _reset_peak()
    start = time.perf_counter()
    held = join(lon, lat)
    seconds = time.perf_counter() - start
    np.savez(out, **held)  # type: ignore[arg-type]  # numpy's stubs do not know keyword arrays
    return {"engine": engine, "n": n, "seconds": seconds, "index_s": index_s,
            "peak_mb": _status_mb("VmHWM"), "base_mb": before}


def _run(engine: str, n: int, out: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.batch", engine, str(n), str(out)], check=True,
                          capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _differences(ours: Path, peer: Path) -> int:
    with np.load(ours) as a, np.load(peer) as b:
        return sum(int((a[key] != b[key]).sum()) for key in TARGETS)


def run(work: Path, smoke: bool = False, log: Callable[[str], None] = print) -> list[Row]:
    rows: list[Row] = []
    (work / "batch").mkdir(parents=True, exist_ok=True)
    for n in SMOKE_SIZES if smoke else SIZES:
        results, files = {}, {}
        for engine in ENGINES:
            files[engine] = work / "batch" / f"{engine.split()[0].split('.')[0]}-{n}.npz"
            results[engine] = r = _run(engine, n, files[engine])
            log(f"batch {n:>10,} {engine:<16} {r['seconds']:8.3f} s  {n / r['seconds']:>12,.0f} points/s  "
                f"peak {r['peak_mb']:,.0f} MB (before the join {r['base_mb']:,.0f} MB)"
                + (f"  index {r['index_s']:.2f} s" if r["index_s"] else ""))
        ours = results["ours"]
        case = f"10^{round(np.log10(n))} points" if n in SIZES else f"{n:,} points"
        fastest = min(ENGINES[1:], key=lambda e: results[e]["seconds"])
        rows.append(Row("batch location", case, "s", ours["seconds"], target="<0.5" if n == 10**6 else "",
                        note=f"{n / ours['seconds']:,.0f} points/s, over the grid the service builds once at "
                             f"start-up ({ours['index_s']:.2f} s)"))
        for engine in ENGINES[1:]:
            peer = results[engine]
            differ = _differences(files["ours"], files[engine])
            gate = engine == fastest and n >= 10**6 and differ == 0
            rows.append(Row("batch location", case, "s", ours["seconds"], engine, peer["seconds"],
                            target="<=0.333" if gate else "",
                            note=f"{n / peer['seconds']:,.0f} points/s; "
                                 + ("identical assignments" if differ == 0 else f"{differ} assignments DIFFER")))
            rows.append(Row("batch location", case, "peak MB added", ours["peak_mb"] - ours["base_mb"], engine,
                            peer["peak_mb"] - peer["base_mb"],
                            note=f"peak in all: ours {ours['peak_mb']:,.0f}, {engine} {peer['peak_mb']:,.0f}"))
        one_off = ours["seconds"] + ours["index_s"]
        rows.append(Row("batch location", case, "s, one-off", one_off, fastest, results[fastest]["seconds"],
                        note="ours with its grid built inside the clock, as for a single join"))
    return rows


if __name__ == "__main__":
    engine_name, size, target = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    print(json.dumps(measure(engine_name, size, target)))
