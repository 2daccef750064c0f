"""Files for GIS staff: every layer (or a filtered collection) as GeoPackage, Shapefile, KML, FlatGeobuf,
GeoParquet, CSV, DXF or GeoJSON, in the CRS their office uses; written by geo.export, served as attachments."""

from __future__ import annotations

from typing import Annotated

import geopandas as gpd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from geo.crs import OutputCRS, axis_order_is_lat_lon
from geo.export import (
    ALL,
    FORMATS,
    ExportError,
    collection_names,
    default_stem,
    export_bytes,
    get_format,
    is_wgs84,
    resolve_crs,
)
from services.crs import CRS84
from services.errors import bad_parameter
from services.params import ANY_CRS_HELP, check_parameters, read_any_crs
from services.state import service_of

router = APIRouter(tags=["Downloads"])
# `f` values of /collections/{id}/items that download a file; f=json/geojson stay the OGC GeoJSON page.
ITEM_DOWNLOADS = tuple(name for name in FORMATS if name != "geojson")
# The CRSs the pages' download forms offer, the GIS offices' own first: (value of `crs`, label, geographic).
DOWNLOAD_CRSS = (
    ("EPSG:4549", "CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549)", False),
    ("EPSG:4550", "CGCS2000 / 3-degree Gauss-Kruger CM 123E (EPSG:4550)", False),
    ("EPSG:4490", "CGCS2000 lon/lat (EPSG:4490)", True),
    ("EPSG:4326", "WGS 84 lon/lat (EPSG:4326)", True),
    ("EPSG:32651", "WGS 84 / UTM zone 51N (EPSG:32651)", False),
    ("EPSG:3857", "Web Mercator (EPSG:3857)", False),
    ("GCJ02", "GCJ-02 lon/lat (AMap, Tencent)", True),
)


def export_links(base: str, collection_id: str) -> list[dict[str, str]]:
    """The whole collection in every format (in the format's default CRS), as OGC `enclosure` links."""
    out = []
    for name, fmt in FORMATS.items():
        crs = fmt.default_crs or "EPSG:4326"
        out.append({"href": f"{base}/export?f={name}&collections={collection_id}", "rel": "enclosure",
                    "type": fmt.media_type, "title": f"{fmt.title} ({crs}; any CRS with &crs=)"})
    return out


def file_response(frames: dict[str, gpd.GeoDataFrame], fmt: str, crs: OutputCRS | None) -> Response:
    """The frames written in `fmt` (a known format) as an attachment named for its content and its CRS."""
    try:
        written = resolve_crs(get_format(fmt), crs)  # the format's default when none is asked (DXF: metres)
    except ExportError as exc:  # the format is known, so what the format refuses is the CRS
        raise bad_parameter("crs", str(exc).replace("--crs", "crs")) from exc
    # The file name says the CRS whenever it is not WGS 84, so files in different CRSs are not mixed up.
    stem = default_stem(frames) if is_wgs84(written) else f"{default_stem(frames)}_{written.label.replace(':', '-')}"
    content, media_type, filename = export_bytes(frames, fmt, written, stem)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    crs_uri = _content_crs(written)
    if crs_uri is not None:
        headers["Content-Crs"] = f"<{crs_uri}>"
    return Response(content, media_type=media_type, headers=headers)


def _content_crs(written: OutputCRS) -> str | None:
    """The CRS URI whose axis order the file's coordinates follow, if there is one.

    Files store x (longitude, easting) first. That is CRS84 for WGS 84, and the authority order of east-first
    CRSs (UTM, Web Mercator); for EPSG:4490, 4549 and 4550, whose authority order is north-first, no URI names
    what the file holds, so none is sent (the file's own .prj or SRS table names the CRS).
    """
    if is_wgs84(written):
        return CRS84
    if written.crs is None or written.uri is None or axis_order_is_lat_lon(written.crs):
        return None
    return written.uri


@router.get("/export", summary="Layers as a file for GIS software, in any CRS that holds Ningbo")
async def export(
    request: Request,
    f: Annotated[str, Query(description=f"File format: {', '.join(FORMATS)}", json_schema_extra={"enum": [*FORMATS]})],
    crs: Annotated[str | None, Query(description=f"Output CRS: {ANY_CRS_HELP}; the format's default if left out")
                   ] = None,
    collections: Annotated[str | None, Query(description="Comma-separated collection ids; every one by default")
                           ] = None,
) -> Response:
    check_parameters(request, {"f", "crs", "collections"})
    service = service_of(request)
    try:
        get_format(f)
    except ExportError as exc:
        raise bad_parameter("f", str(exc)) from exc
    wanted = [c.strip() for c in (collections or ALL).split(",") if c.strip()] or [ALL]
    try:
        names = [name for c in wanted for name in collection_names(c)]
    except ExportError as exc:
        raise bad_parameter("collections", str(exc)) from exc
    if len(set(names)) != len(names):
        raise bad_parameter("collections", f"{collections!r} names a collection twice")
    frames = {name: service.collections[name].frame for name in names}
    return await _written(request, frames, f, crs)


async def collection_download(request: Request, collection_id: str, feature_ids: list[str], fmt: str,
                              crs_text: str | None) -> Response:
    """The selected features of one collection as a file (what `items?f=gpkg` returns); `fmt` is a format."""
    frame = service_of(request).collections[collection_id].frame
    return await _written(request, {collection_id: frame.loc[feature_ids]}, fmt, crs_text)


async def _written(request: Request, frames: dict[str, gpd.GeoDataFrame], fmt: str, crs_text: str | None
                   ) -> Response:
    """file_response in the guard's pool of heavy work, within its time budget."""
    crs = await read_any_crs(request, "crs", crs_text)
    async with request.app.state.guard.downloads.slot() as slot:
        return await slot.run(file_response, frames, fmt, crs)
