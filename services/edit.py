"""OGC API - Features Part 4 (create, replace, update, delete) over the store, with history.

Every write: a bearer token whose role and scope allow it (services.auth), the feature's ETag in If-Match (428
without, 412 when the feature changed since), the body read in its Content-Crs and checked against the plan's
rules (geo.rules: a hard rule refuses it with 422 naming the rule and the feature; soft ones are answered and
kept with the version), then one changeset in the store. Every version stays: `.../versions` lists them,
`.../revert` writes an old one again (a deleted feature too), `/changes` lists what changed since a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote

import numpy as np
import orjson
import shapely
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from geo.accounts import ADMIN, EDITOR, TokenRecord
from geo.io import nested_deeper_than
from geo.rules import Finding, check_delete, check_feature, clean_properties, layer_of, writable_properties
from geo.schema import EDITABLE_COLLECTIONS, KINDS, editable_kind
from geo.store.base import AlreadyExists, Changeset, Conflict, Edit, Feature, FeatureStore, NotFound, Version
from services.auth import authenticate, authorize_write
from services.catalog import Collection
from services.crs import CRS84, ServiceCRS, service_crs
from services.errors import ApiError
from services.ogc import collection_of, crs_headers
from services.params import F, check_parameters, parse_crs_parameter
from services.render import GEOJSON, HTML, JSON, html_response, json_response, link, negotiate, url
from services.state import Live, Service, service_of

FEATURE_TYPES = ("application/geo+json", "application/json")
PATCH_TYPES = ("application/merge-patch+json", *FEATURE_TYPES)
READ_ONLY_ALLOW = "GET, HEAD, OPTIONS"
REASON_HEADER = "X-Edit-Reason"  # why, percent-encoded UTF-8 (headers are Latin-1): kept with the version
MAX_REASON_CHARS = 500
MAX_CHANGES = 10_000
MAX_ID_CHARS = 64

router = APIRouter(tags=["Editing (OGC API - Features Part 4)"])
CollectionId = Annotated[str, Path(alias="collectionId", description="An editable collection's id")]
FeatureId = Annotated[str, Path(alias="featureId", description="The feature's id")]


# Who may write what, and where ------------------------------------------------------------------------------
def live_of(request: Request) -> Live:
    """The store this instance serves; 405 on an instance serving layers given at start-up (its OPTIONS lists no
    write either)."""
    holder = request.app.state.service
    if not isinstance(holder, Live):
        error = ApiError(405, "this instance serves layers given at start-up, not a store: it keeps no history "
                              "and takes no writes")
        error.headers = {"Allow": READ_ONLY_ALLOW}
        raise error
    return holder


def _editable(service: Service, collection_id: str) -> tuple[Collection, str]:
    """The collection and its store layer; 405 (with Allow) for a read-only one."""
    found = collection_of(service, collection_id)
    if found.id not in EDITABLE_COLLECTIONS:
        error = ApiError(405, f"{found.id} is reference data and cannot be edited here; editable collections: "
                              f"{', '.join(EDITABLE_COLLECTIONS)}")
        error.headers = {"Allow": READ_ONLY_ALLOW}
        raise error
    kind = editable_kind(found.id).name
    return found, layer_of(kind)


async def _begin(request: Request, collection_id: str) -> tuple[Service, Collection, str, FeatureStore, TokenRecord]:
    """What every write starts with: the version it is checked against, the collection and its layer (405 for a
    read-only one), the store, and the writer's token, whose role and collection are checked before the body
    is read (a viewer gets 403 whatever it sent)."""
    check_parameters(request, set())
    service = service_of(request)
    found, layer = _editable(service, collection_id)
    store = live_of(request).store
    token = await run_in_threadpool(authenticate, request)
    authorize_write(token, found.id)
    return service, found, layer, store, token


def _reader_sees_authors(request: Request, roles: tuple[str, ...]) -> bool:
    """Whether this request carries a valid token of one of `roles` (a bad token is refused as on a write)."""
    if "authorization" not in request.headers:
        return False
    return authenticate(request).role in roles


# The request's body --------------------------------------------------------------------------------------------
async def _body(request: Request, media_types: tuple[str, ...]) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in media_types:
        raise ApiError(415, f"send the body as {' or '.join(media_types)}, not {media or 'no Content-Type'}")
    settings = request.app.state.settings
    limit = settings.max_feature_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is {int(declared):,} bytes; a feature may have at most {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body is over {limit:,} bytes, the most a feature may have")
        chunks.append(chunk)
    try:
        doc = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from exc
    if nested_deeper_than(doc, settings.max_json_depth):
        raise ApiError(400, f"the body is nested deeper than {settings.max_json_depth} levels")
    return doc


def _content_crs(request: Request) -> ServiceCRS:
    """The CRS of the body's coordinates: Content-Crs (<URI>, as Part 2 writes it, or a bare URI), else CRS84."""
    given = request.headers.get("content-crs")
    if given is None:
        return service_crs(CRS84)
    try:
        return service_crs(given.strip().removeprefix("<").removesuffix(">"))
    except ValueError as exc:
        raise ApiError(400, f"Content-Crs: {exc}") from exc


def _geometry(value: Any, crs: ServiceCRS, service: Service) -> shapely.Geometry | None:
    """A GeoJSON geometry given in `crs`, in lon/lat; 400 when it is not GeoJSON, 422 when its axes are swapped."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise ApiError(400, "geometry: not a GeoJSON geometry object (it needs a type and coordinates)")
    try:
        geometry = shapely.geometry.shape(value)
        if not shapely.is_empty(geometry) and not bool(np.isfinite(shapely.get_coordinates(geometry)).all()):
            raise ValueError("coordinates must be finite numbers")
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise ApiError(400, f"geometry: not valid GeoJSON {value.get('type')} ({exc})") from exc
    lonlat = geometry if crs.is_crs84 else crs.to_crs84(geometry)
    _check_axes(geometry, lonlat, crs, service)
    return lonlat


def _check_axes(given: shapely.Geometry, lonlat: shapely.Geometry, crs: ServiceCRS, service: Service) -> None:
    """A geometry outside Ningbo that would lie inside with its axes swapped was written in the wrong order."""
    if given.is_empty:
        return
    west, south, east, north = service.layers.city.bounds
    city = shapely.box(west - 0.1, south - 0.1, east + 0.1, north + 0.1)
    if city.intersects(lonlat):
        return
    swapped = shapely.transform(given, lambda xy: xy[:, ::-1])
    if city.intersects(swapped if crs.is_crs84 else crs.to_crs84(swapped)):
        order = (("latitude, longitude" if crs.output.is_geographic else "northing, easting") if crs.lat_first
                 else "x (east or longitude), y (north or latitude)")
        raise ApiError(422, f"geometry: the coordinates lie outside Ningbo, and inside once their axes are "
                            f"swapped: {crs.uri} takes them in the order {order}", "InvalidFeature")


def reason_of(request: Request, given: Any = None) -> str:
    """Why a write is made: `given` (a body's or form's reason), else the X-Edit-Reason header; 400 when long."""
    text = given if isinstance(given, str) else unquote(request.headers.get(REASON_HEADER, ""))
    if len(text) > MAX_REASON_CHARS:
        raise ApiError(400, f"the reason is {len(text)} characters; at most {MAX_REASON_CHARS}")
    return text.strip()


def _if_match(request: Request, required: bool) -> str | None:
    """The If-Match of a write to an existing feature: 428 when it is needed and missing."""
    given = request.headers.get("if-match")
    if given is None and required and request.app.state.settings.require_if_match:
        raise ApiError(428, "this write needs If-Match: the ETag of the feature as you read it (GET the feature, "
                            "send its ETag back), so that nobody's change is overwritten unseen",
                       "PreconditionRequired")
    return given if given is not None else ("*" if required else None)


# Checking and writing ------------------------------------------------------------------------------------------
def _properties(service: Service, collection: Collection, feature_id: str, given: Any) -> dict[str, Any]:
    """The client's properties as they will be stored: computed ones and nulls dropped, the id and kind set;
    422 for names the collection does not know."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ApiError(400, "properties: not a JSON object")
    cleaned, unknown = clean_properties(service.layers, collection.id, given)
    if unknown:
        known = ", ".join(sorted(writable_properties(service.layers, collection.id)))
        raise ApiError(422, f"properties: {', '.join(sorted(unknown))} {'is' if len(unknown) == 1 else 'are'} not "
                            f"a property of {collection.id}; its properties: {known}", "InvalidFeature")
    kind = editable_kind(collection.id).name
    rest = {k: v for k, v in cleaned.items() if k not in ("id", "kind")}
    return {"id": feature_id, "kind": cleaned.get("kind", kind), **rest}  # another kind: the rules refuse it


def _check(service: Service, collection: Collection, feature_id: str, properties: dict[str, Any],
           geometry: shapely.Geometry | None) -> list[Finding]:
    """The soft findings of the feature as written; 422 naming every hard one."""
    return _refuse_hard(check_feature(service.layers, collection.id, feature_id, properties, geometry))


def _refuse_hard(findings: list[Finding]) -> list[Finding]:
    """The findings, once none is hard; 422 naming every hard one."""
    hard = [f for f in findings if f.severity == "hard"]
    if hard:
        error = ApiError(422, "; ".join(f"{f.rule}: {f.feature}: {f.message}" for f in hard), "InvalidFeature")
        error.extra = {"findings": [_finding(f) for f in findings]}
        raise error
    return findings


def _finding(finding: Finding) -> dict[str, str]:
    return {"rule": finding.rule, "feature": finding.feature, "severity": finding.severity,
            "message": finding.message}


async def _apply(request: Request, store: FeatureStore, edits: list[Edit], token: TokenRecord, reason: str,
                 findings: list[Finding]) -> Changeset:
    """One changeset of one feature's edit and its soft findings, from the thread pool; the store's refusals
    as 404, 409 and 412."""
    kept = {edits[0].id: [_finding(f) for f in findings]} if findings else {}
    try:
        changeset = await run_in_threadpool(store.apply, edits, token.name, reason, kept)
    except Conflict as exc:
        error = ApiError(412, f"{exc}: GET it again, and write your change over what is there now",
                         "PreconditionFailed")
        error.headers = {"ETag": exc.actual}
        raise error from exc
    except NotFound as exc:
        raise ApiError(404, f"featureId: {exc}") from exc
    except AlreadyExists as exc:
        raise ApiError(409, f"{exc}: choose another id, or PUT to replace it", "Conflict") from exc
    live_of(request).committed(changeset.dataset_version)
    return changeset


def _receipt(request: Request, collection_id: str, changeset: Changeset, status: int = 200) -> Response:
    """What a write answers: the versions it made, their ETags and soft findings, and where to read them."""
    version = changeset.versions[0]
    path = f"/collections/{collection_id}/items/{version.id}"
    doc = {"id": version.id, "version": version.seq, "action": version.action, "changeset": changeset.id,
           "at": changeset.at.isoformat(), "reason": changeset.reason, "etag": version.etag,
           "findings": version.findings,
           "links": [link(url(request, path), "item", GEOJSON, "The feature"),
                     link(url(request, f"{path}/versions"), "version-history", JSON, "Its versions")]}
    headers = {"Location": url(request, path)} if status == 201 else {}
    if version.etag is not None:
        headers["ETag"] = version.etag
    return json_response(doc, JSON, status=status, headers=headers)


async def _current(store: FeatureStore, layer: str, feature_id: str) -> tuple[Feature, str]:
    held = await run_in_threadpool(store.current, layer, feature_id)
    if held is None:
        raise ApiError(404, f"featureId: no feature {feature_id!r} here (its versions may say it was deleted)")
    return held


def _adcodes(properties: dict[str, Any] | None) -> list[str]:
    codes = (properties or {}).get("district_adcodes") or []
    return [str(c) for c in codes] if isinstance(codes, list) else []


# Part 4 --------------------------------------------------------------------------------------------------------
@router.options("/collections/{collectionId}/items", summary="The methods the collection allows (Allow)",
                response_class=Response, responses={200: {
                    "description": "No body; Allow lists the methods (POST where it is editable)", "content": {}}})
async def items_options(request: Request, collection_id: CollectionId) -> Response:
    found = collection_of(service_of(request), collection_id)
    editable = found.id in EDITABLE_COLLECTIONS and isinstance(request.app.state.service, Live)
    return Response(status_code=200, headers={"Allow": READ_ONLY_ALLOW + (", POST" if editable else "")})


@router.options("/collections/{collectionId}/items/{featureId}", summary="The methods a feature allows (Allow)",
                response_class=Response, responses={200: {
                    "description": "No body; Allow lists the methods (PUT, PATCH, DELETE where editable)",
                    "content": {}}})
async def item_options(request: Request, collection_id: CollectionId, feature_id: FeatureId) -> Response:
    found = collection_of(service_of(request), collection_id)
    editable = found.id in EDITABLE_COLLECTIONS and isinstance(request.app.state.service, Live)
    return Response(status_code=200,
                    headers={"Allow": READ_ONLY_ALLOW + (", PUT, PATCH, DELETE" if editable else "")})


@router.post("/collections/{collectionId}/items", status_code=201, summary="Add a feature",
             responses={201: {"description": "Created; Location names the new feature, ETag its version"}})
async def create(request: Request, collection_id: CollectionId) -> Response:
    service, found, layer, store, token = await _begin(request, collection_id)
    doc = await _body(request, FEATURE_TYPES)
    if not isinstance(doc, dict) or doc.get("type") != "Feature":
        raise ApiError(400, "the body is not a GeoJSON Feature (\"type\": \"Feature\")")
    given: dict[str, Any] = doc["properties"] if isinstance(doc.get("properties"), dict) else {}
    named = [value for value in (doc.get("id"), given.get("id")) if value is not None]
    if len(named) == 2 and named[0] != named[1]:
        raise ApiError(400, f"id: the feature's id {named[0]!r} and its id property {named[1]!r} differ")
    feature_id = named[0] if named else _new_id(found.id, given)  # QGIS sends none
    if not isinstance(feature_id, str) or not 0 < len(feature_id) <= MAX_ID_CHARS:
        raise ApiError(400, f"id: {feature_id!r} is not an id: a lowercase slug of at most {MAX_ID_CHARS} "
                            f"characters (subpark-beilun)")
    properties = _properties(service, found, feature_id, given)
    authorize_write(token, found.id, None, _adcodes(properties))
    geometry = _geometry(doc.get("geometry"), _content_crs(request), service)
    findings = _check(service, found, feature_id, properties, geometry)
    edit = Edit(layer, feature_id, "create", properties, geometry, None, "create")
    changeset = await _apply(request, store, [edit], token, reason_of(request), findings)
    return _receipt(request, found.id, changeset, status=201)


def _new_id(collection_id: str, properties: dict[str, Any]) -> str:
    """An id for a feature sent without one (QGIS sends none): the kind and its English name as a slug."""
    kind = editable_kind(collection_id).name
    name = properties.get("name_en")
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in name.lower()).split() if isinstance(
        name, str) else []
    return "-".join([kind, *words]) if words else f"{kind}-{datetime.now().strftime('%Y%m%d%H%M%S%f')}"


@router.put("/collections/{collectionId}/items/{featureId}", summary="Replace a feature")
async def replace(request: Request, collection_id: CollectionId, feature_id: FeatureId) -> Response:
    service, found, layer, store, token = await _begin(request, collection_id)
    if_match = _if_match(request, required=True)
    doc = await _body(request, FEATURE_TYPES)
    if not isinstance(doc, dict) or doc.get("type") != "Feature":
        raise ApiError(400, "the body is not a GeoJSON Feature (\"type\": \"Feature\")")
    named = [doc.get("id"), doc["properties"].get("id") if isinstance(doc.get("properties"), dict) else None]
    if other := [n for n in named if n is not None and n != feature_id]:  # another feature's body, sent here
        raise ApiError(400, f"id: the body names {other[0]!r}, not {feature_id!r}; ids do not change")
    held, _ = await _current(store, layer, feature_id)
    properties = _properties(service, found, feature_id, doc.get("properties"))
    authorize_write(token, found.id, _adcodes(held.properties), _adcodes(properties))
    geometry = _geometry(doc.get("geometry"), _content_crs(request), service)
    findings = _check(service, found, feature_id, properties, geometry)
    edit = Edit(layer, feature_id, "replace", properties, geometry, if_match, "replace")
    return _receipt(request, found.id, await _apply(request, store, [edit], token, reason_of(request), findings))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: the patch's members replace the target's, recursively; a null removes one."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


@router.patch("/collections/{collectionId}/items/{featureId}", summary="Update part of a feature (JSON merge patch)")
async def update(request: Request, collection_id: CollectionId, feature_id: FeatureId) -> Response:
    service, found, layer, store, token = await _begin(request, collection_id)
    if_match = _if_match(request, required=True)
    patch = await _body(request, PATCH_TYPES)
    if not isinstance(patch, dict):
        raise ApiError(400, "a merge patch is a JSON object: {\"properties\": {...}} and/or {\"geometry\": {...}}")
    if patch.get("id") not in (None, feature_id):
        raise ApiError(400, f"id: the patch names {patch['id']!r}, not {feature_id!r}; ids do not change")
    held, _ = await _current(store, layer, feature_id)
    patched = merge_patch(held.properties, patch.get("properties", {}))
    properties = _properties(service, found, feature_id, patched)
    authorize_write(token, found.id, _adcodes(held.properties), _adcodes(properties))
    geometry = (_geometry(patch["geometry"], _content_crs(request), service) if "geometry" in patch
                else held.geometry)
    findings = _check(service, found, feature_id, properties, geometry)
    edit = Edit(layer, feature_id, "replace", properties, geometry, if_match, "update")
    return _receipt(request, found.id, await _apply(request, store, [edit], token, reason_of(request), findings))


@router.delete("/collections/{collectionId}/items/{featureId}", summary="Delete a feature (its history stays)")
async def delete(request: Request, collection_id: CollectionId, feature_id: FeatureId) -> Response:
    service, found, layer, store, token = await _begin(request, collection_id)
    if_match = _if_match(request, required=True)
    held, _ = await _current(store, layer, feature_id)
    authorize_write(token, found.id, _adcodes(held.properties), None)
    findings = _refuse_hard(check_delete(service.layers, found.id, feature_id))  # the zone that holds units
    edit = Edit(layer, feature_id, "delete", None, None, if_match, "delete")
    return _receipt(request, found.id, await _apply(request, store, [edit], token, reason_of(request), findings))


# History -------------------------------------------------------------------------------------------------------
def _version_doc(request: Request, collection_id: str, version: Version, authors: bool) -> dict[str, Any]:
    path = f"/collections/{collection_id}/items/{version.id}/versions/{version.seq}"
    doc = {"version": version.seq, "action": version.action, "at": version.at.isoformat(),
           "reason": version.reason, "changeset": version.changeset, "deleted": version.deleted,
           "etag": version.etag, "findings": version.findings,
           "geometry_quality": (version.properties or {}).get("geometry_quality"),
           "geometry_source": (version.properties or {}).get("geometry_source"),
           "links": [link(url(request, path), "version", GEOJSON, f"Version {version.seq}")]}
    if authors:
        doc["author"] = version.author
    return doc


@router.get("/collections/{collectionId}/items/{featureId}/versions", summary="A feature's versions, oldest first")
async def versions(request: Request, collection_id: CollectionId, feature_id: FeatureId, f: F = None) -> Response:
    check_parameters(request, {"f"})
    service = service_of(request)
    found, layer = _editable(service, collection_id)
    store = live_of(request).store
    media = negotiate(request, (JSON, HTML))
    authors = await run_in_threadpool(_reader_sees_authors, request, (EDITOR, ADMIN))
    history = await run_in_threadpool(store.versions, layer, feature_id)
    if not history:
        raise ApiError(404, f"featureId: {found.id} never held a feature {feature_id!r}")
    path = f"/collections/{found.id}/items/{feature_id}"
    doc = {"id": feature_id, "collection": found.id,
           "versions": [_version_doc(request, found.id, v, authors) for v in history],
           "links": [link(url(request, f"{path}/versions"), "self", JSON, "These versions"),
                     link(url(request, f"{path}/versions", f="html"), "alternate", HTML, "As HTML"),
                     link(url(request, path), "item", GEOJSON, "The feature now")]}
    if media == HTML:
        page = html_response("versions.html", request, doc=doc, collection=found)
        page.headers.update(_private(authors))
        return page
    return json_response(doc, JSON, headers=_private(authors))


def _private(authors: bool) -> dict[str, str]:
    """An answer naming who wrote what is for its reader alone: no shared cache may keep it."""
    return {"Cache-Control": "private, no-cache"} if authors else {}


@router.get("/collections/{collectionId}/items/{featureId}/versions/{version}",
            summary="A feature as one version left it")
async def version(request: Request, collection_id: CollectionId, feature_id: FeatureId,
                  version: Annotated[int, Path(ge=1, description="The version's number (1: as seeded)")],
                  crs: Annotated[str | None, Query(description="CRS of the output geometry (URI)")] = None) -> Response:
    check_parameters(request, {"crs"})
    service = service_of(request)
    found, layer = _editable(service, collection_id)
    store = live_of(request).store
    output_crs = parse_crs_parameter("crs", crs)
    authors = await run_in_threadpool(_reader_sees_authors, request, (EDITOR, ADMIN))
    held = await run_in_threadpool(store.version_of, layer, feature_id, version)
    if held is None:
        raise ApiError(404, f"{found.id}/{feature_id} has no version {version}")
    geometry = None
    if held.geometry is not None:
        moved = held.geometry if output_crs.is_crs84 else output_crs.from_crs84(
            np.asarray([held.geometry], dtype=object))[0]
        geometry = shapely.geometry.mapping(moved)
    doc = {"type": "Feature", "id": feature_id, "geometry": geometry, "properties": held.properties,
           "version": _version_doc(request, found.id, held, authors)}
    return json_response(doc, GEOJSON, headers={**crs_headers(output_crs), **_private(authors)})


@router.post("/collections/{collectionId}/items/{featureId}/revert",
             summary="Write an earlier version again (a deleted feature too), as a new version")
async def revert(request: Request, collection_id: CollectionId, feature_id: FeatureId) -> Response:
    service, found, layer, store, token = await _begin(request, collection_id)
    doc = await _body(request, ("application/json",))
    seq = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ApiError(400, "the body names the version to go back to: {\"version\": 2, \"reason\": \"...\"}")
    old = await run_in_threadpool(store.version_of, layer, feature_id, seq)
    if old is None or old.deleted or old.properties is None:
        raise ApiError(404 if old is None else 400, f"{found.id}/{feature_id} has no version {seq}" if old is None
                       else f"version {seq} is the deletion; revert to the version before it")
    held = await run_in_threadpool(store.current, layer, feature_id)
    if_match = _if_match(request, required=True) if held is not None else None
    authorize_write(token, found.id, _adcodes(held[0].properties) if held else None, _adcodes(old.properties))
    findings = _check(service, found, feature_id, old.properties, old.geometry)
    edit = (Edit(layer, feature_id, "replace", old.properties, old.geometry, if_match, "revert") if held else
            Edit(layer, feature_id, "create", old.properties, old.geometry, None, "restore"))
    reason = reason_of(request, doc.get("reason")) or f"back to version {seq}"
    return _receipt(request, found.id, await _apply(request, store, [edit], token, reason, findings),
                    status=200 if held else 201)


@router.get("/changes", summary="What changed since a time or a changeset, oldest first (authors for admins)")
async def changes(
    request: Request,
    since: Annotated[str | None, Query(description="An RFC 3339 time (changes committed after it) or a changeset "
                                                   "number (changes after that changeset)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CHANGES, description="About this many versions: a page ends with a "
                                                                  "whole changeset")] = 1000,
) -> Response:
    check_parameters(request, {"since", "limit"})
    store = live_of(request).store
    after_time, after_changeset = _since(since)
    admins = await run_in_threadpool(_reader_sees_authors, request, (ADMIN,))
    page = await run_in_threadpool(store.changes, after_time, limit + 1, after_changeset)
    more = len(page) > limit
    if more:  # end the page with a whole changeset: drop a cut one, or complete it when it is all there is
        last = page[limit].changeset
        page = [v for v in page[:limit] if v.changeset != last] or await run_in_threadpool(
            store.changes, None, MAX_CHANGES * 10, last - 1, last)
    doc: dict[str, Any] = {"changes": [_change_doc(request, v, admins) for v in page],
                           "links": [link(str(request.url), "self", JSON, "These changes")]}
    if more:
        doc["links"].append(link(url(request, "/changes", since=page[-1].changeset, limit=limit), "next", JSON,
                                 "The changes after these"))
    return json_response(doc, JSON, headers=_private(admins))


def _since(since: str | None) -> tuple[datetime | None, int | None]:
    if since is None:
        return None, None
    if since.isdigit():
        return None, int(since)
    try:
        after = datetime.fromisoformat(since.replace(" ", "+"))  # a + left unencoded in a URL is a space
    except ValueError as exc:
        raise ApiError(400, f"since: {since!r} is neither an RFC 3339 time (2026-12-01T08:00:00Z) nor a changeset "
                            f"number") from exc
    if after.tzinfo is None:
        raise ApiError(400, "since: give the time zone (Z or +08:00)")
    return after, None


def _change_doc(request: Request, version: Version, authors: bool) -> dict[str, Any]:
    collection = _collection_of(version)
    return {"collection": collection, "id": version.id, **_version_doc(request, collection, version, authors)}


def _collection_of(version: Version) -> str:
    kind = (version.properties or {}).get("kind")
    if kind in KINDS:
        return KINDS[kind].collection
    return {"platforms": "platforms", "districts": "districts"}.get(version.layer, version.layer)
