"""OGC API - Features: Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0), Part 2 (CRS by reference) and
Part 3 (queryables, CQL2 text filters), over the collections of services.catalog."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from geo.export import FORMATS
from geo.features import FeatureQuery, select
from geo.filters import (
    CQL2_LANGUAGES,
    MAX_FILTER_CHARS,
    MAX_FILTER_DEPTH,
    MAX_FILTER_NOTS,
    MAX_SORT_KEYS,
    Queryable,
)
from services.catalog import Collection
from services.crs import CRS84, SUPPORTED, ServiceCRS, service_crs
from services.downloads import DOWNLOAD_CRSS, ITEM_DOWNLOADS, collection_download, export_links
from services.errors import ApiError
from services.params import (
    F,
    Lang,
    check_datetime,
    check_parameters,
    parse_bbox,
    parse_crs_parameter,
    parse_properties,
    parse_sortby,
)
from services.render import (
    GEOJSON,
    HTML,
    JSON,
    OPENAPI,
    SCHEMA,
    base_url,
    here,
    html_response,
    json_response,
    link,
    negotiate,
    url,
)
from services.settings import get_settings
from services.state import Service, service_of

DEFAULT_LIMIT = get_settings().default_limit
MAX_LIMIT = get_settings().max_limit  # larger limits are clamped, never refused (10,000: GDAL's 1000 is a page)

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    # Part 4 (draft): services.edit, on every collection but the districts
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
)
REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
REL_CONFORMANCE = "http://www.opengis.net/def/rel/ogc/1.0/conformance"
REL_DATA = "http://www.opengis.net/def/rel/ogc/1.0/data"

ITEMS_PARAMETERS = {"f", "bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "properties", "skipGeometry",
                    "sortby", "filter", "filter-lang", "filter-crs"}
# Property filters the items operation declares for every collection (the OpenAPI document has one operation
# for all of them): a collection whose features lack the property matches none, as a missing value matches no
# test in CQL2.
DECLARED_FILTERS = ("industries", "district_adcode", "kind")

# Handlers that only read memory are coroutines: they run on the event loop, without the thread hand-off of a
# plain function (~0.15 ms, and GIL switches under load). Anything slow (a download) goes to the thread pool.
router = APIRouter()
CollectionId = Annotated[str, Path(alias="collectionId", description="A collection id, as /collections lists them")]
ItemsF = Annotated[str | None, Query(
    description="json or html (or use the Accept header); or a file of every matching feature to download",
    json_schema_extra={"enum": ["json", "geojson", "html", *ITEM_DOWNLOADS]})]


def collection_of(service: Service, collection_id: str) -> Collection:
    collection = service.collections.get(collection_id)
    if collection is None:
        raise ApiError(404, f"collectionId: no collection {collection_id!r}; collections: "
                            f"{', '.join(service.collections)}")
    return collection


@router.get("/", summary="Landing page", tags=["OGC API - Features"])
async def landing(request: Request, f: F = None, lang: Lang = None) -> Response:
    check_parameters(request, {"f", "lang"})
    service = service_of(request)
    doc = {
        "title": "Ningbo innovation layout (宁波市科技创新“十四五”规划空间布局)",
        "description": ("The spatial part of Ningbo's 14th Five-Year Plan for Science and Technology Innovation "
                        "as OGC API - Features, plus plan-aware queries. Boundaries are schematic, drawn from "
                        "the plan's words, not surveyed."),
        "links": [
            link(url(request, "/"), "self", JSON, "This document"),
            link(url(request, "/", f="html"), "alternate", HTML, "This document as HTML"),
            link(url(request, "/api"), "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
            link(url(request, "/api", f="html"), "service-doc", HTML, "The API documentation"),
            link(url(request, "/conformance"), "conformance", JSON, "Conformance classes"),
            link(url(request, "/conformance"), REL_CONFORMANCE, JSON, "Conformance classes"),
            link(url(request, "/collections"), "data", JSON, "The collections"),
            link(url(request, "/collections"), REL_DATA, JSON, "The collections"),
        ],
    }
    if negotiate(request, (JSON, HTML)) == HTML:
        return html_response("landing.html", request, switchable=True, doc=doc,
                             collections=service.collections.values(),
                             formats=[(name, fmt.title) for name, fmt in FORMATS.items()])
    return json_response(doc)


@router.get("/conformance", summary="Conformance classes implemented", tags=["OGC API - Features"])
async def conformance(request: Request, f: F = None) -> Response:
    check_parameters(request, {"f"})
    doc = {"conformsTo": list(CONFORMANCE)}
    if negotiate(request, (JSON, HTML)) == HTML:
        return html_response("conformance.html", request, doc=doc)
    return json_response(doc)


def _outward(bbox: tuple[float, float, float, float], digits: int = 6) -> list[float]:
    """The box rounded outward, so that it still holds every feature."""
    scale = 10 ** digits
    west, south, east, north = bbox
    return [math.floor(west * scale) / scale, math.floor(south * scale) / scale,
            math.ceil(east * scale) / scale, math.ceil(north * scale) / scale]


def _download_form(action: str, kept: dict[str, str], collection_id: str) -> dict[str, Any]:
    """What the pages' download form needs: where it goes, the query it keeps, the formats and the CRSs."""
    geojson = f"{action}?{urlencode({**kept, 'f': 'json', 'limit': MAX_LIMIT})}"
    return {"download": {"action": action, "kept": kept, "collection": collection_id, "geojson": geojson,
                         "formats": [(name, FORMATS[name]) for name in ITEM_DOWNLOADS], "all": list(FORMATS.items()),
                         "crss": DOWNLOAD_CRSS}}


def collection_doc(base: str, collection: Collection) -> dict[str, Any]:
    """The collection's description, with links under base (base_url of the request)."""
    path = f"/collections/{collection.id}"
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "extent": {"spatial": {"bbox": [_outward(collection.bbox)], "crs": CRS84}},
        "crs": list(SUPPORTED),
        "storageCrs": CRS84,
        "links": [
            link(url(base, path), "self", JSON, "This collection"),
            link(url(base, path, f="html"), "alternate", HTML, "This collection as HTML"),
            link(url(base, f"{path}/items"), "items", GEOJSON, "Its features"),
            link(url(base, f"{path}/items", f="html"), "items", HTML, "Its features as HTML"),
            link(url(base, f"{path}/schema"), "describedby", SCHEMA, "JSON Schema of its features"),
            link(url(base, f"{path}/queryables"), REL_QUERYABLES, SCHEMA, "Properties to filter on"),
            *export_links(base, collection.id),
        ],
    }


@router.get("/collections", summary="The collections", tags=["OGC API - Features"])
async def collections(request: Request, f: F = None) -> Response:
    check_parameters(request, {"f"})
    service = service_of(request)
    base = base_url(request)
    doc = service.memo(("collections", base), lambda: {
        "links": [
            link(url(base, "/collections"), "self", JSON, "This document"),
            link(url(base, "/collections", f="html"), "alternate", HTML, "This document as HTML"),
        ],
        "collections": [collection_doc(base, c) for c in service.collections.values()],
    })
    if negotiate(request, (JSON, HTML)) == HTML:
        return html_response("collections.html", request, doc=doc, collections=service.collections)
    return json_response(doc)


@router.get("/collections/{collectionId}", summary="One collection", tags=["OGC API - Features"])
async def collection(request: Request, collection_id: CollectionId, f: F = None) -> Response:
    check_parameters(request, {"f"})
    service = service_of(request)
    found = collection_of(service, collection_id)
    base = base_url(request)
    doc = service.memo(("collection", found.id, base), lambda: collection_doc(base, found))
    if negotiate(request, (JSON, HTML)) == HTML:
        return html_response("collection.html", request, doc=doc, collection=found, **_download_form(
            f"/collections/{found.id}/items", {}, found.id))
    return json_response(doc)


def _schema_doc(request: Request, found: Collection, path: str, title: str, queryables: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if queryables:
        for name, q in found.queryables.items():
            properties[name] = _queryable_schema(q, found)
    else:
        for name in found.properties:
            schema = dict(found.property_types[name])
            if "type" in schema:
                schema["type"] = [schema["type"], "null"]
            properties[name] = schema
        properties["geometry"] = _geometry_schema(found)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url(request, path),
        "type": "object",
        "title": title,
        "properties": properties,
        "additionalProperties": not queryables,
    }


def _queryable_schema(q: Queryable, found: Collection) -> dict[str, Any]:
    if q.type == "geometry":
        return _geometry_schema(found)
    if q.type == "array":
        return {"type": "array", "items": {"type": "string"}, "title": q.title}
    return {"type": q.type, "title": q.title}


def _geometry_schema(found: Collection) -> dict[str, Any]:
    formats = {"Point": "geometry-point", "LineString": "geometry-linestring", "Polygon": "geometry-polygon",
               "MultiPolygon": "geometry-multipolygon"}
    kinds = set(found.geometry_types)
    fmt = formats[next(iter(kinds))] if len(kinds) == 1 else (
        "geometry-polygon-or-multipolygon" if kinds <= {"Polygon", "MultiPolygon"} else "geometry-any")
    return {"format": fmt, "x-ogc-role": "primary-geometry", "title": "The feature's geometry"}


def _schema_response(request: Request, collection_id: str, queryables: bool) -> Response:
    check_parameters(request, {"f"})
    found = collection_of(service_of(request), collection_id)
    name, heading = ("queryables", "Queryables") if queryables else ("schema", "Schema")
    title = f"{'Queryables' if queryables else 'Features'} of {found.title}"
    doc = _schema_doc(request, found, f"/collections/{found.id}/{name}", title, queryables)
    media = negotiate(request, (SCHEMA, HTML))
    if media == HTML:
        return html_response("schema.html", request, doc=doc, collection=found, heading=heading)
    return json_response(doc, media)


@router.get("/collections/{collectionId}/queryables", summary="Properties to filter and sort on",
            tags=["OGC API - Features"])
async def queryables(request: Request, collection_id: CollectionId, f: F = None) -> Response:
    return _schema_response(request, collection_id, queryables=True)


@router.get("/collections/{collectionId}/schema", summary="JSON Schema of the features",
            tags=["OGC API - Features"])
async def schema(request: Request, collection_id: CollectionId, f: F = None) -> Response:
    return _schema_response(request, collection_id, queryables=False)


def feature_query(request: Request, bbox: str | None, bbox_crs: str | None, filter_text: str | None,
                  filter_lang: str | None, filter_crs: str | None, sortby: str | None) -> FeatureQuery:
    """The items request's selection as typed values (geo.features answers it); every other parameter of the
    query string is a property filter (check_parameters has refused what is neither a queryable nor one of the
    DECLARED_FILTERS). bbox-crs and filter-crs are checked even when there is no bbox or filter to apply."""
    box_crs = parse_crs_parameter("bbox-crs", bbox_crs)
    geometry_crs = parse_crs_parameter("filter-crs", filter_crs)
    return FeatureQuery(
        bbox=parse_bbox(bbox, box_crs) if bbox is not None else None,
        properties=tuple((n, v) for n, v in request.query_params.items() if n not in ITEMS_PARAMETERS),
        filter=filter_text,
        filter_lang=filter_lang or CQL2_LANGUAGES[0],
        filter_to_crs84=geometry_crs.to_crs84,
        sortby=tuple(parse_sortby(sortby)) if sortby is not None else (),
    )


def feature(found: Collection, position: int, crs: ServiceCRS, names: list[str] | None, skip_geometry: bool
            ) -> dict[str, Any]:
    record = found.record(position)
    properties = record if names is None else {n: record.get(n) for n in names}
    return {
        "type": "Feature",
        "id": record["id"],
        "geometry": None if skip_geometry else found.geometry(position, crs),
        "properties": properties,
    }


def crs_headers(crs: ServiceCRS) -> dict[str, str]:
    return {"Content-Crs": f"<{crs.uri}>"}


@router.get("/collections/{collectionId}/items", summary="Features of a collection", tags=["OGC API - Features"])
async def items(
    request: Request,
    collection_id: CollectionId,
    bbox: Annotated[str | None, Query(description="west,south,east,north (in bbox-crs axis order)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox (URI); CRS84 by default")
                        ] = None,
    crs: Annotated[str | None, Query(description="CRS of the output geometry (URI); CRS84 by default")] = None,
    datetime_: Annotated[str | None, Query(alias="datetime", description="An RFC 3339 instant or interval; the "
                                           "layers carry no time, so every feature matches it (Part 1)")] = None,
    limit: Annotated[int, Query(ge=1, description=f"Features per page; at most {MAX_LIMIT}, larger values "
                                                  f"are reduced to {MAX_LIMIT}")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="Features to skip")] = 0,
    properties: Annotated[str | None, Query(description="Comma-separated properties to include")] = None,
    skip_geometry: Annotated[bool, Query(alias="skipGeometry", description="Leave geometry out")] = False,
    sortby: Annotated[str | None, Query(description=f"Comma-separated queryables, - for descending; at most "
                                                    f"{MAX_SORT_KEYS} keys")] = None,
    filter_text: Annotated[str | None, Query(alias="filter", description=(
        f"A CQL2 filter (text, or JSON with filter-lang=cql2-json): at most {MAX_FILTER_CHARS:,} characters, "
        f"parentheses nested {MAX_FILTER_DEPTH} deep, {MAX_FILTER_NOTS} NOTs; LIKE is matched in linear time"),
        json_schema_extra={"maxLength": MAX_FILTER_CHARS})] = None,
    filter_lang: Annotated[str | None, Query(alias="filter-lang", description="cql2-text (default) or cql2-json")
                           ] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs", description="CRS of filter geometries")] = None,
    # The property filters are read from the query string by `select`, for every queryable of the collection;
    # these three are declared so that the OpenAPI document shows the common ones.
    industries: Annotated[str | None, Query(description="An industry code: features hosting it or a narrower "
                                                        "industry")] = None,
    district_adcode: Annotated[str | None, Query(description="Features in the district of this adcode")] = None,
    kind: Annotated[str | None, Query(description="Features of this kind")] = None,
    f: ItemsF = None,
) -> Response:
    service = service_of(request)
    found = collection_of(service, collection_id)
    check_parameters(request, ITEMS_PARAMETERS | set(DECLARED_FILTERS) | set(found.queryables) - {"geometry"})
    if datetime_ is not None:
        check_datetime(datetime_)
    query = feature_query(request, bbox, bbox_crs, filter_text, filter_lang, filter_crs, sortby)
    positions = select(found.frame, found.queryables, query, service.layers.taxonomy)
    if f is not None and f.lower() in ITEM_DOWNLOADS:  # every matching feature as a file, in any CRS
        return await collection_download(request, found.id, list(found.frame.index[positions]), f.lower(), crs)
    media = negotiate(request, (GEOJSON, HTML))
    output_crs = parse_crs_parameter("crs", crs)
    names = parse_properties(properties, found)
    page_size = min(limit, MAX_LIMIT)
    page = positions[offset:offset + page_size]
    features = [feature(found, int(p), output_crs, names, skip_geometry) for p in page]
    json_type = GEOJSON if media == HTML else media
    # the neighbouring pages, for the JSON links and the HTML pager alike
    neighbours = [(rel, start, title) for rel, start, title, exists in (
        ("prev", max(0, offset - page_size), "Previous page", offset > 0),
        ("next", offset + page_size, "Next page", offset + page_size < len(positions))) if exists]
    links = [
        link(str(here(request).remove_query_params("f")), "self", json_type, "This page"),
        link(str(here(request).include_query_params(f="html")), "alternate", HTML, "This page as HTML"),
        link(url(request, f"/collections/{found.id}"), "collection", JSON, "The collection"),
        *(link(str(here(request).include_query_params(offset=start)), rel, json_type, title)
          for rel, start, title in neighbours),
    ]
    doc = {
        "type": "FeatureCollection",
        "numberMatched": len(positions),
        "numberReturned": len(features),
        "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
        "features": features,
    }
    if media == HTML:
        pages = [(rel, str(here(request).include_query_params(offset=start, f="html")), title)
                 for rel, start, title in neighbours]
        kept = {k: v for k, v in request.query_params.items() if k not in {"f", "crs", "limit", "offset"}}
        return html_response("items.html", request, doc=doc, collection=found, offset=offset, pages=pages,
                             backdrop=service.backdrop, **_download_form(f"/collections/{found.id}/items", kept,
                                                                          found.id),
                             map_features=[feature(found, int(p), service_crs(CRS84), ["id", "name_zh", "name_en",
                                                                                      "kind"], False)
                                           for p in page])
    return json_response(doc, json_type, headers=crs_headers(output_crs))


@router.get("/collections/{collectionId}/items/{featureId}", summary="One feature", tags=["OGC API - Features"])
async def item(
    request: Request,
    collection_id: CollectionId,
    feature_id: Annotated[str, Path(alias="featureId", description="The feature's id")],
    crs: Annotated[str | None, Query(description="CRS of the output geometry (URI); CRS84 by default")] = None,
    f: F = None,
) -> Response:
    check_parameters(request, {"f", "crs"})
    service = service_of(request)
    found = collection_of(service, collection_id)
    media = negotiate(request, (GEOJSON, HTML))
    output_crs = parse_crs_parameter("crs", crs)
    position = found.position(feature_id)
    if position is None:
        raise ApiError(404, f"featureId: no feature {feature_id!r} in {found.id}")
    doc = feature(found, position, output_crs, None, False)
    path = f"/collections/{found.id}/items/{feature_id}"
    json_type = GEOJSON if media == HTML else media
    doc["links"] = [
        link(str(here(request).remove_query_params("f")), "self", json_type, "This feature"),
        link(url(request, path, f="html"), "alternate", HTML, "This feature as HTML"),
        link(url(request, f"/collections/{found.id}"), "collection", JSON, "The collection"),
    ]
    if media == HTML:
        return html_response("item.html", request, doc=doc, collection=found, backdrop=service.backdrop,
                             map_feature=feature(found, position, service_crs(CRS84), ["id", "name_zh"], False))
    etag = service.etags.get(feature_id)  # the feature's version: what a write sends back in If-Match
    return json_response(doc, json_type, headers={**crs_headers(output_crs), **({"ETag": etag} if etag else {})})
