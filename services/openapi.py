"""The OpenAPI 3.0 document at /api (OGC API - Features' oas30 class), from FastAPI's routes.

FastAPI writes OpenAPI 3.1; OGC clients and validators read 3.0, so the few 3.1 spellings FastAPI uses
(null in anyOf, `examples` arrays, `const`, numeric exclusive bounds, an upload's contentMediaType) are
rewritten in their 3.0 form.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from geo.crs import MAX_CRS_CHARS
from geo.export import FORMATS
from geo.filters import CQL2_LANGUAGES
from maps.basemap import TILES, basemap
from maps.printmap import FORMATS as PRINT_FORMATS
from services.auth import EXEMPT
from services.crs import SUPPORTED
from services.render import GEOJSON, HTML, JSON, OPENAPI, SCHEMA

# Media types each path answers with, besides JSON error bodies.
DOWNLOAD_TYPES = tuple(dict.fromkeys(media for f in FORMATS.values() for media in (f.media_type, "application/zip")))
MEDIA_TYPES = {
    "/": (JSON, HTML),
    "/api": (OPENAPI, HTML),
    "/conformance": (JSON, HTML),
    "/collections": (JSON, HTML),
    "/collections/{collectionId}": (JSON, HTML),
    "/collections/{collectionId}/items": (GEOJSON, JSON, HTML, *DOWNLOAD_TYPES),
    "/collections/{collectionId}/items/{featureId}": (GEOJSON, JSON, HTML),
    "/collections/{collectionId}/queryables": (SCHEMA, JSON, HTML),
    "/collections/{collectionId}/schema": (SCHEMA, JSON, HTML),
    "/industries": (JSON, HTML),
    "/industries/{code}": (JSON, HTML),
    "/maps/overview": (HTML, *PRINT_FORMATS.values()),
    "/maps/industry/{code}": (HTML, *PRINT_FORMATS.values()),
    "/maps/feature/{featureId}": (HTML, *PRINT_FORMATS.values()),
    "/export": DOWNLOAD_TYPES,
    "/search": (JSON, HTML),
    "/locate": (JSON, HTML),  # GET; POST answers JSON or CSV, as its route documents
    "/nearest": (JSON, HTML),
    "/stats": (JSON, HTML),
    "/indicators": (JSON, HTML),
}
# Parameters taking one of the service's CRSs (the downloads' `crs` takes any CRS that holds Ningbo).
CRS_PARAMETERS = {"crs", "bbox-crs", "filter-crs"}
ANY_CRS_PATHS = {"/export", "/locate", "/nearest"}  # downloads and sites take any CRS that holds Ningbo
BUSY_PATHS = {*ANY_CRS_PATHS, "/collections/{collectionId}/items"}  # new CRS texts are counted per client (429)
ERROR = {
    "description": "Bad input or nothing found: an OGC API exception; a page saying so to a browser (f=html, or an "
                   "Accept preferring HTML)",
    "content": {JSON: {"schema": {
        "type": "object", "required": ["code", "description"],
        "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
    }}, HTML: {"schema": {"type": "string"}}},
}


def openapi_document(app: FastAPI, collection_ids: list[str], max_limit: int) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                      openapi_version="3.0.3", tags=app.openapi_tags)
    doc = _to_30(doc)
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "collectionId":
                    parameter["schema"]["enum"] = collection_ids
                if parameter["name"] == "limit":
                    parameter["schema"].update({"minimum": 1, "maximum": max_limit})
                    parameter.update({"style": "form", "explode": False})
                if parameter["name"] == "bbox":  # as OGC API - Features Part 1 defines it
                    parameter["schema"] = {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}
                    parameter.update({"style": "form", "explode": False})
                if parameter["name"] in CRS_PARAMETERS and path not in ANY_CRS_PATHS:
                    parameter["schema"]["enum"] = list(SUPPORTED)
                elif parameter["name"] == "crs":  # any CRS text that holds Ningbo
                    parameter["schema"].update({"minLength": 1, "maxLength": MAX_CRS_CHARS})
                if parameter["name"] == "filter-lang":
                    parameter["schema"]["enum"] = list(CQL2_LANGUAGES)
                if parameter["name"] == "datetime":
                    parameter["schema"]["minLength"] = 1
                if parameter["name"] == "tiles":  # the basemaps this server can draw (Tianditu needs its key)
                    parameter["schema"]["enum"] = available_tiles()
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's validation errors are answered as 400 (services.errors)
            # 414/431: the URL or the headers are longer than the server reads; 503: its connection or work limits
            for status in ("400", "404", "406", "414", "431", "503"):
                responses.setdefault(status, ERROR)
            if path in BUSY_PATHS:
                responses.setdefault("429", ERROR)
            if path in MEDIA_TYPES and "200" in responses and method == "get":
                schema = responses["200"].get("content", {}).get(JSON, {}).get("schema", {})
                responses["200"]["content"] = {
                    media: {"schema": schema if media in (JSON, GEOJSON, SCHEMA, OPENAPI) else {"type": "string"}}
                    for media in MEDIA_TYPES[path]
                }
    _describe_writes(doc)
    if app.state.settings.read_requires_token:
        _describe_private_reads(doc)
    return doc


# Part 4's writes read their bodies and headers themselves (services.edit): what they take is written here.
FEATURE_SCHEMA = {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
    "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "string"},
    "geometry": {"type": "object", "nullable": True, "description": "GeoJSON geometry, in Content-Crs"},
    "properties": {"type": "object", "description": "as /collections/{collectionId}/schema lists them; computed "
                                                    "ones (area_km2) are ignored, nulls are absent"}}}
REVERT_SCHEMA = {"type": "object", "required": ["version"], "properties": {
    "version": {"type": "integer", "minimum": 1}, "reason": {"type": "string", "maxLength": 500}}}
HEADERS = {
    "If-Match": {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"},
                 "description": "The feature's ETag as you read it (GET the feature); 428 without, 412 when stale"},
    "Content-Crs": {"name": "Content-Crs", "in": "header", "required": False,
                    "schema": {"type": "string", "enum": [f"<{uri}>" for uri in SUPPORTED]},
                    "description": "The CRS of the body's coordinates (CRS84 when absent)"},
    "X-Edit-Reason": {"name": "X-Edit-Reason", "in": "header", "required": False, "schema": {"type": "string"},
                      "description": "Why (percent-encoded UTF-8), kept with the version"},
}
WRITES = {  # path, method: the body's media types and schema, the headers it takes
    ("/collections/{collectionId}/items", "post"): (("application/geo+json", JSON), FEATURE_SCHEMA,
                                                    ("Content-Crs", "X-Edit-Reason")),
    ("/collections/{collectionId}/items/{featureId}", "put"): (("application/geo+json", JSON), FEATURE_SCHEMA,
                                                               ("If-Match", "Content-Crs", "X-Edit-Reason")),
    ("/collections/{collectionId}/items/{featureId}", "patch"): (
        ("application/merge-patch+json",), {"type": "object", "description": "RFC 7396: {properties: {...}} "
                                            "and/or {geometry: {...}}; a null removes a property"},
        ("If-Match", "Content-Crs", "X-Edit-Reason")),
    ("/collections/{collectionId}/items/{featureId}", "delete"): ((), None, ("If-Match", "X-Edit-Reason")),
    ("/collections/{collectionId}/items/{featureId}/revert", "post"): ((JSON,), REVERT_SCHEMA, ("If-Match",)),
}
WRITE_ERRORS = {"401": "No token, or a bad, expired or revoked one", "403": "The token's role or scope does not "
                "allow this write", "405": "The collection is not editable", "409": "The id is taken",
                "412": "The feature changed since you read it (If-Match is stale)", "413": "The body is too large",
                "415": "Not a media type this write takes", "422": "The feature breaks the plan's rules (the body "
                "names each rule and feature)", "428": "If-Match is missing", "429": "Too many failed tokens"}
# Operations that read a store's history or staged imports, or take an upload (their own bodies)
STORE_PATHS = ("/collections/{collectionId}/items/{featureId}/versions",
               "/collections/{collectionId}/items/{featureId}/versions/{version}", "/changes", "/imports",
               "/imports/{importId}")


def _describe_writes(doc: dict[str, Any]) -> None:
    doc.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
        "type": "http", "scheme": "bearer", "description": "A token from `nbgis user add` (nbgis_...)"}
    for (path, method), (media_types, schema, headers) in WRITES.items():
        operation = doc["paths"][path][method]
        operation["security"] = [{"bearer": []}]
        if media_types:
            operation["requestBody"] = {"required": True, "content": {m: {"schema": schema} for m in media_types}}
        operation["parameters"] = [*operation.get("parameters", []), *(HEADERS[h] for h in headers)]
        responses = operation["responses"]
        for status, description in WRITE_ERRORS.items():
            responses.setdefault(status, {**ERROR, "description": description})
    for path in STORE_PATHS:
        for method, operation in doc["paths"].get(path, {}).items():
            statuses = ("401", "403", "405", "412", "413", "422", "429") if method != "get" or "imports" in path \
                else ("401", "405", "429")
            if "imports" in path:
                operation["security"] = [{"bearer": []}]
            for status in statuses:
                operation["responses"].setdefault(status, {**ERROR, "description": WRITE_ERRORS[status]})


def _describe_private_reads(doc: dict[str, Any]) -> None:
    """Reads that need a token (services.auth.ReadsNeedToken) say so, as the writes do."""
    for path, operations in doc["paths"].items():
        if path in EXEMPT:
            continue
        for operation in operations.values():
            operation.setdefault("security", [{"bearer": []}])
            operation["responses"].setdefault("401", {**ERROR, "description": "No token, or a bad, expired or "
                                                                             "revoked one"})
            operation["responses"].setdefault("429", {**ERROR, "description": "Too many failed tokens"})


def _to_30(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_30(value) for key, value in node.items()}
    options = out.get("anyOf")
    if isinstance(options, list) and any(o == {"type": "null"} for o in options):
        rest = [o for o in options if o != {"type": "null"}]
        del out["anyOf"]
        if len(rest) == 1:
            out.update(rest[0])
        else:
            out["anyOf"] = rest
        out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "contentMediaType" in out:  # an uploaded file (3.1) is a binary string in 3.0
        out.pop("contentMediaType")
        out["format"] = "binary"
    if isinstance(out.get("examples"), list) and "in" not in out and "schema" not in out:
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), int | float) and not isinstance(out.get(bound), bool):
            out[flag] = out.pop(bound)
            out[bound] = True
    return out


def available_tiles() -> list[str]:
    available = []
    for name in TILES:
        try:
            basemap(name, "zh")
        except ValueError:  # a basemap whose key the server lacks
            continue
        available.append(name)
    return available
