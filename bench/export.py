"""Export: every layer to GeoPackage, a Shapefile zip and DXF, by ``geo.export`` and by a GeoPandas script.

The peer is what a GIS office would write without this project: ``GeoDataFrame.to_file`` (GDAL) per layer,
lists turned into JSON text first (GDAL cannot store them), the Shapefiles zipped, and for DXF all layers in
one file with GDAL's ``Layer`` field (its DXF driver writes one layer per file). Ours also writes the
schematic notice, titles and the CRS into each file, and writes atomically.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from bench.report import Row
from geo.export import ALL, collection_frames, export
from geo.layers import load_layers

FORMATS = ("gpkg", "shapefile", "dxf")
LOCAL_CRS = "EPSG:4549"  # DXF in metres, as ours writes it by default
Frames = dict[str, gpd.GeoDataFrame]


def _flat(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = frame.copy()
    for col in out.columns:
        if col != out.geometry.name and out[col].map(lambda v: isinstance(v, list | dict)).any():
            out[col] = [None if v is None else json.dumps(v, ensure_ascii=False) for v in out[col]]
    return out


def peer_export(frames: Frames, fmt: str, path: Path) -> None:
    if fmt == "gpkg":
        for name, frame in frames.items():
            _flat(frame).to_file(path, layer=name, driver="GPKG")
    elif fmt == "shapefile":
        folder = path.with_suffix("")
        folder.mkdir()
        for name, frame in frames.items():
            _flat(frame).to_file(folder / f"{name}.shp", driver="ESRI Shapefile", encoding="UTF-8")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(folder.iterdir()):
                zf.write(f, f.name)
    else:
        parts = [gpd.GeoDataFrame({"Layer": name}, geometry=frame.geometry.values, crs=frame.crs, index=frame.index)
                 for name, frame in frames.items()]
        merged = gpd.GeoDataFrame(pd.concat(parts), crs=parts[0].crs).to_crs(LOCAL_CRS)
        merged[merged.geometry.notna()].to_file(path, driver="DXF", index=False)


def _ours(frames: Frames, fmt: str, path: Path) -> None:
    export(frames, fmt, None, path)


def _timed(write: Callable[[Frames, str, Path], None], frames: Frames, fmt: str) -> tuple[float, Path]:
    path = Path(tempfile.mkdtemp()) / f"all.{'zip' if fmt == 'shapefile' else fmt}"
    start = time.perf_counter()
    write(frames, fmt, path)
    return time.perf_counter() - start, path


def _layers_in(path: Path, fmt: str) -> int:
    """How many layers an independent reader (GDAL) finds in the file: one per collection, DXF's by Layer."""
    if fmt == "dxf":
        frame = pyogrio.read_dataframe(path)
        return int(frame["Layer"].nunique())
    source = f"/vsizip/{path}" if fmt == "shapefile" else str(path)
    return len(pyogrio.list_layers(source))


def run(work: Path, smoke: bool = False, log: Callable[[str], Any] = print) -> list[Row]:
    frames = collection_frames(load_layers(), ALL)
    repeats = 1 if smoke else 5
    rows = []
    for fmt in FORMATS:
        times: dict[str, list[float]] = {"ours": [], "peer": []}
        kept: dict[str, Path] = {}
        for repeat in range(repeats):  # alternating which goes first
            for who in ("ours", "peer") if repeat % 2 == 0 else ("peer", "ours"):
                seconds, path = _timed(_ours if who == "ours" else peer_export, frames, fmt)
                times[who].append(seconds)
                if who in kept:
                    shutil.rmtree(kept[who].parent)
                kept[who] = path
        ours, peer = statistics.median(times["ours"]), statistics.median(times["peer"])
        ours_file, peer_file = kept["ours"], kept["peer"]
        found = (_layers_in(ours_file, fmt), _layers_in(peer_file, fmt))
        log(f"export {fmt:<10} ours {ours:.3f} s ({found[0]} layers)   GeoPandas to_file {peer:.3f} s "
            f"({found[1]} layers)")
        rows.append(Row("export", f"all {len(frames)} layers to {fmt}", "s", ours, "GeoPandas to_file", peer,
                        note=f"median of {repeats}; {ours_file.stat().st_size / 1e6:.2f} MB; layers read back by "
                             f"GDAL: ours {found[0]}, peer {found[1]}"
                             + ("; ours' DXF has a layer per kind, the peer's one per collection" if fmt == "dxf"
                                else "")))
        shutil.rmtree(ours_file.parent)
        shutil.rmtree(peer_file.parent)
    return rows
