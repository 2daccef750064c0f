"""What lies at a site (GET /locate), and at many sites at once (POST /locate: a CSV or GeoJSON upload).

The work is geo.locate's (vectorised over areas prepared once at start-up) and geo.batch's (a CSV upload read,
located and written as CSV or JSON a block at a time with Arrow); this module reads the request into a spooled
file, enforces the limits, and streams the answer from another.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncGenerator, Iterator
from contextlib import closing
from typing import Annotated, Any, BinaryIO

import numpy as np
import orjson
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser

from geo import batch
from geo.boundaries import Boundaries, summary
from geo.crs import OutputCRS
from geo.io import nested_deeper_than
from geo.locate import ADDED_COLUMNS, WGS84_COLUMNS, SitesError, needs_nearest, parse_columns
from geo.memory import release_memory
from geo.queries import nearest, nearest_platforms
from geo.sites import MAX_COLUMNS, MAX_FIELD_BYTES, LimitError, Sites, csv_sites, read_sites_geojson
from services.errors import ApiError, bad_parameter
from services.params import F, Lang, check_parameters, read_any_crs
from services.plan import Lat, Lon, SiteCRS, query_page, site_lonlat
from services.render import HTML, JSON, json_response, negotiate, url
from services.state import Service, service_of

router = APIRouter(tags=["Plan-aware queries"])
MAX_UPLOAD_BYTES = 128 * 1024 * 1024  # about 4 million "id,lon,lat" rows; a million take about 28 MB
SPOOL_BYTES = 16 * 1024 * 1024  # an upload or an answer is kept in memory up to this, on disk beyond
BOM = "\ufeff".encode()  # lets Excel read the Chinese names
CSV = "text/csv"
UPLOAD_TYPES = {CSV: "csv", "application/csv": "csv", "text/plain": "csv", "application/geo+json": "geojson",
                JSON: "geojson"}
UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "description": (f"Sites, at most {MAX_UPLOAD_BYTES // 2**20} MiB: a CSV (UTF-8, with or without BOM) with "
                        "a header naming lon and lat columns (or lng/longitude/x and latitude/y), any other "
                        f"columns passed through (at most {MAX_COLUMNS:,} columns, a 400 past that; at most "
                        f"{MAX_FIELD_BYTES // 1024} KiB in one value, a 413 past that); or a GeoJSON "
                        "FeatureCollection of Points (nested at most 32 levels, at most 1,000 distinct properties). "
                        "Send it as the body (Content-Type text/csv or application/geo+json) or as the `file` field "
                        "of a form. A worker takes two uploads at once; a third waits up to 5 s, then gets 503 with "
                        "Retry-After."),
        "content": {
            CSV: {"schema": {"type": "string"}},
            "application/geo+json": {"schema": {"type": "object"}},
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                               "properties": {"file": {"type": "string", "format": "binary"}}}},
        },
    },
    "responses": {"200": {"description": "Every site with its areas, and counts",
                          "content": {JSON: {"schema": {"type": "object"}}, CSV: {"schema": {"type": "string"}}}},
                  "413": {"description": "Upload too large", "content": {JSON: {"schema": {"type": "object"}}}},
                  "415": {"description": "Not CSV or GeoJSON", "content": {JSON: {"schema": {"type": "object"}}}}},
}


def _ref(service: Service, request: Request, collection: str, feature_id: Any) -> dict[str, Any] | None:
    if feature_id is None:
        return None
    found = service.collections[collection]
    position = found.position(feature_id)
    record = found.record(position) if position is not None else {}
    return {"id": feature_id, "name_zh": record.get("name_zh"), "name_en": record.get("name_en"),
            "href": url(request, f"/collections/{collection}/items/{feature_id}")}


@router.get("/locate", summary="What contains a site: sub-park and block, corridor, unit, node, district (as HTML: "
                               "a map to click, with the nearest parks and platforms)")
async def locate_site(request: Request, lon: Lon = None, lat: Lat = None, crs: SiteCRS = None, f: F = None,
                      lang: Lang = None) -> Response:
    check_parameters(request, {"lon", "lat", "crs", "f", "lang"})
    service = service_of(request)
    media = negotiate(request, (JSON, HTML))
    if media == HTML and lon is None and lat is None:  # the map, before a site is chosen
        return query_page(request, "locate", None)
    site = site_lonlat(lon, lat, await read_any_crs(request, "crs", crs))
    row = service.locator.locate(np.array([site[0]]), np.array([site[1]])).iloc[0]
    subpark = _ref(service, request, "subparks", row["subpark"])
    if subpark is not None:
        subpark["block_zh"] = row["subpark_block_zh"]
    doc = {
        "site": {"lon": site[0], "lat": site[1]},
        "subpark": subpark,
        "corridor_zone": bool(row["corridor_zone"]),
        "corridor_area": _ref(service, request, "corridor", row["corridor_area"]),
        "corridor_unit": _ref(service, request, "corridor-units", row["corridor_unit"]),
        "innovation_node": _ref(service, request, "innovation-nodes", row["innovation_node"]),
        "district": None if row["district_adcode"] is None else {"adcode": row["district_adcode"],
                                                                 "name_zh": row["district_name_zh"]},
        "nearest_subpark": {**(_ref(service, request, "subparks", row["nearest_subpark"]) or {}),
                            "distance_km": round(float(row["nearest_subpark_km"]), 3)},
        "note": locate_note(service.boundaries),
    }
    if media == HTML:  # with what is near: the areas, and the platforms (whose sites are approximate); ~10 ms
        near = {"parks": await run_in_threadpool(nearest, service.layers, site[0], site[1], None, 5),
                "platforms": await run_in_threadpool(nearest_platforms, service.layers, site[0], site[1], 5)}
        return query_page(request, "locate", {**doc, "features": near["parks"]}, near=near)
    return json_response(doc)


@router.post("/locate", summary="Locate many sites: a CSV or GeoJSON of points in, every row with its areas out",
             openapi_extra=UPLOAD_DOC)
async def locate_sites(
    request: Request,
    crs: Annotated[str | None, Query(description="CRS of the coordinates (EPSG code, OGC URI, or GCJ02); x/lon "
                                                 "then y/lat columns whatever its axis order; WGS 84 by default")
                   ] = None,
    f: Annotated[str | None, Query(description="Answer as json (rows and counts) or csv (rows; counts in the "
                                               "X-Locate-Summary header)", json_schema_extra={"enum": ["json", "csv"]})
                 ] = None,
    columns: Annotated[str | None, Query(description="The columns to add to each site's own, comma-separated, in "
                                                     f"that order: any of {', '.join(ADDED_COLUMNS)} (all by "
                                                     "default). Without the nearest_* ones a large upload is "
                                                     "located several times faster. The counts are always whole.")
                       ] = None,
) -> Response:
    check_parameters(request, {"crs", "f", "columns"})
    service = service_of(request)
    try:
        added = parse_columns(columns)
    except SitesError as exc:
        raise bad_parameter("columns", str(exc)) from exc
    site_crs = await read_any_crs(request, "crs", crs)
    as_csv = _wants_csv(request, f)
    guard = request.app.state.guard
    async with guard.uploads.slot() as slot:  # a 503 at once when the pool is full: before the body is read
        try:
            async with asyncio.timeout(guard.uploads.budget_s):
                upload, kind = await _read_upload(request)
        except TimeoutError:
            raise ApiError(408, f"body: the upload did not arrive within {guard.uploads.budget_s:g} s") from None
        try:
            answer, summary = await slot.run(_locate_upload, service, upload, kind, site_crs, as_csv, added,
                                             request.app.state.settings.max_json_depth)
        except LimitError as exc:
            raise ApiError(413, f"file: {exc}") from exc
        except SitesError as exc:
            raise ApiError(400, f"{'file' if kind == 'csv' else 'body'}: {exc}") from exc
        finally:
            upload.close()
    # The answer waits in a spooled file (memory up to SPOOL_BYTES, disk beyond), streamed from the thread pool
    # (Starlette runs sync iterators there): a million rows neither hold the event loop nor sit in memory.
    if as_csv:
        return StreamingResponse(_chunks(answer, BOM), media_type=f"{CSV}; charset=utf-8",
                                 headers={"X-Locate-Summary": orjson.dumps(summary).decode(),
                                          "Content-Disposition": 'attachment; filename="located.csv"'},
                                 background=BackgroundTask(release_memory))
    return StreamingResponse(_chunks(answer, b'{"summary":' + orjson.dumps(summary) + b',"sites":[', b"]}"),
                             media_type=JSON, background=BackgroundTask(release_memory))


def _chunks(answer: BinaryIO, head: bytes, tail: bytes = b"") -> Iterator[bytes]:
    with answer:
        answer.seek(0)
        yield head
        while chunk := answer.read(1 << 20):
            yield chunk
        yield tail


def _wants_csv(request: Request, f: str | None) -> bool:
    if f is not None:
        if f not in ("json", "csv"):
            raise bad_parameter("f", f"{f!r} is not a format of this resource; use json or csv")
        return f == "csv"
    return CSV in request.headers.get("accept", "") and JSON not in request.headers.get("accept", "")


async def _read_upload(request: Request) -> tuple[BinaryIO, str]:
    """The upload, spooled (memory up to SPOOL_BYTES, then disk), and whether it is csv or geojson; 413 over
    the limit, 415 for other types."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise _too_large()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        try:  # parsed from the size-checked stream, so a chunked upload cannot fill the disk before the 413
            form = await MultiPartParser(request.headers, _limited(request), max_files=1, max_fields=4).parse()
        except ApiError:
            raise
        except Exception as exc:  # starlette raises several types for a malformed form
            raise ApiError(400, f"body: not a readable multipart form ({exc})") from exc
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "file: the form has no `file` field holding the sites")
        if (upload.size or 0) > MAX_UPLOAD_BYTES:
            raise _too_large()
        name = (upload.filename or "").lower()
        upload.file.seek(0)
        return upload.file, "geojson" if name.endswith((".geojson", ".json")) else "csv"
    kind = UPLOAD_TYPES.get(media)
    if kind is None:
        raise ApiError(415, f"Content-Type: {media or 'none'} is not accepted; send text/csv, application/geo+json "
                            f"or a multipart form with a `file` field")
    spool: BinaryIO = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # type: ignore[assignment]  # noqa: SIM115
    try:
        async for chunk in _limited(request):
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, kind


async def _limited(request: Request) -> AsyncGenerator[bytes, None]:
    """The request body, chunk by chunk, refused with a 413 as soon as it passes the limit."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise _too_large()
        yield chunk


def _too_large() -> ApiError:
    return ApiError(413, f"body: uploads are limited to {MAX_UPLOAD_BYTES // 2**20} MiB; split the file, or run "
                         f"`nbgis locate IN.csv -o OUT.csv`, which has no limit")


def _locate_upload(service: Service, upload: BinaryIO, kind: str, crs: OutputCRS | None, as_csv: bool,
                   columns: tuple[str, ...], max_depth: int) -> tuple[BinaryIO, dict[str, Any]]:
    """The located rows, as CSV rows or JSON array items, in a spooled file; and the summary of them all.
    Every row is read and located before the answer starts, so a bad row late in the file is still a 400."""
    answer: BinaryIO = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # type: ignore[assignment]  # noqa: SIM115
    try:
        if kind == "geojson":
            return _locate_geojson(service, upload, crs, as_csv, columns, answer, max_depth)
        summary: dict[str, Any] | None = None
        rows = 0

        def work(sites: Sites) -> tuple[list[str], bytes, int, dict[str, Any]]:
            table, located = batch.locate_sites(service.locator, sites, columns)
            body = batch.csv_rows(table) if as_csv else batch.json_rows(table)
            return table.column_names, body, len(table), service.locator.summary(located)

        # Blocks located on batch.THREADS threads (the work lets go of the GIL), written in order; on an error the
        # reader closes at once.
        with closing(csv_sites(upload, crs)) as blocks:
            for names, body, count, part in batch.ordered_map(work, blocks):
                if as_csv:
                    answer.write((batch.csv_header(names) if rows == 0 else b"") + body)
                else:
                    answer.write((b"," if rows and body else b"") + body)
                rows += count
                summary = batch.add_summaries(summary, part)
        assert summary is not None  # csv_sites raises for a file without rows
        return answer, summary
    except BaseException:
        answer.close()
        raise


def _locate_geojson(service: Service, upload: BinaryIO, crs: OutputCRS | None, as_csv: bool,
                    columns: tuple[str, ...], answer: BinaryIO, max_depth: int) -> tuple[BinaryIO, dict[str, Any]]:
    """GeoJSON: one frame (a property may hold numbers and text), written as pandas writes it."""
    try:
        doc = orjson.loads(upload.read())
    except orjson.JSONDecodeError as exc:
        raise SitesError(f"not valid JSON ({exc})") from exc
    _check_depth(doc, max_depth)
    _check_properties(doc)
    sites = read_sites_geojson(doc, crs)
    found = service.locator.find(sites["lon84"].to_numpy(), sites["lat84"].to_numpy(),
                                 nearest=needs_nearest(columns))
    own = [c for c in sites.columns if c not in WGS84_COLUMNS]
    located = pd.concat([sites, found.frame([c for c in columns if c not in WGS84_COLUMNS])], axis=1)[[*own, *columns]]
    if as_csv:
        answer.write(located.to_csv(index=False).encode("utf-8"))
    else:
        rows = located.astype(object).where(located.notna(), None).to_dict(orient="records")
        answer.write(orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1])
    return answer, service.locator.summary(found)


def _check_depth(doc: Any, limit: int) -> None:
    if nested_deeper_than(doc, limit):
        raise SitesError(f"the GeoJSON nests deeper than {limit} levels; a FeatureCollection of Points needs "
                         f"about 6")


def _check_properties(doc: Any) -> None:
    """SitesError for GeoJSON whose features carry more than MAX_COLUMNS distinct properties in all."""
    names: set[str] = set()
    for feature in doc.get("features", []) if isinstance(doc, dict) else []:
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if isinstance(properties, dict):
            names.update(properties)
            if len(names) > MAX_COLUMNS:
                raise SitesError(f"the features carry more than {MAX_COLUMNS} distinct properties; at most "
                                 f"{MAX_COLUMNS} are read")


def locate_note(b: Boundaries) -> str:
    """What an answer says about the edges it was decided on: schematic ones are uncertain."""
    if not b.mixed:
        return "Boundaries are schematic, drawn from the plan's words: an answer near an edge is uncertain."
    return (f"Boundaries: {summary(b)}. The schematic ones are drawn from the plan's words: an answer near one of "
            "their edges is uncertain.")
