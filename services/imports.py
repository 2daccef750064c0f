"""Imports of surveyed boundaries over HTTP: upload, read the diff, then commit it (geo.imports does the work).

`POST /imports` (multipart) reads the file through GDAL, matches its rows to the collection's features and
answers the diff table, the rules' findings and every problem; a plan without problems is staged in the store
(so any instance can commit it) and `POST /imports/{id}` writes it as one changeset. Each feature is written
only if it is still as the plan read it: a change in between gets 412 and nothing is written.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from geo.accounts import ADMIN, TokenRecord
from geo.imports import ImportFileError, ImportPlan, ImportRefused, commit_import, plan_import, read_upload
from geo.store.base import Conflict, Staged
from services.auth import authenticate, authorize_write
from services.edit import live_of, reason_of
from services.errors import ApiError
from services.params import check_parameters
from services.render import JSON, json_response, link, url

router = APIRouter(tags=["Editing (OGC API - Features Part 4)"])
# The token, checked before the form is (a dependency runs first): without one, 401 whatever the form holds.
Writer = Annotated[TokenRecord, Depends(authenticate)]
ImportId = Annotated[str, Path(alias="importId", pattern=r"^[0-9a-f]{16}$", description="A staged import's id")]


def _scope(token: TokenRecord, plan: ImportPlan) -> None:
    """403 unless the token may write every feature the import changes (its collection, and its districts)."""
    for match in plan.matches:
        authorize_write(token, plan.collection, match.before.properties.get("district_adcodes") or [],
                        match.after.properties.get("district_adcodes") or [])


@router.post("/imports", summary="Upload surveyed boundaries: the diff, staged for a commit")
async def stage(
    request: Request,
    token: Writer,
    file: Annotated[UploadFile, File(description="Shapefile (.zip, or .shp with its parts zipped), GeoPackage, "
                                                 "DXF, KML, GeoJSON or FlatGeobuf")],
    collection: Annotated[str, Form(description="The collection whose boundaries the file holds")],
    match: Annotated[str, Form(description="id or name_zh: the file's field naming each feature")],
    layer: Annotated[str | None, Form(description="The file's layer, when it has several")] = None,
    crs: Annotated[str | None, Form(description="The coordinates' CRS, when the file names none (GCJ02 too)")]
    = None,
    source: Annotated[str | None, Form(description="Where the boundaries come from (geometry_source)")] = None,
    reason: Annotated[str | None, Form(description="Why, kept with the versions")] = None,
    encoding: Annotated[str | None, Form(description="A Shapefile's .dbf encoding when it has no .cpg (GBK)")]
    = None,
) -> Response:
    check_parameters(request, set())
    store = live_of(request).store
    authorize_write(token, collection)  # the collection at all, before reading anything
    why = reason_of(request, reason)
    limit = request.app.state.settings.max_import_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"the file is over {limit:,} bytes, the most an import may have")
    settings = request.app.state.settings
    async with request.app.state.guard.uploads.slot() as slot:
        try:
            boundaries = await slot.run(read_upload, data, file.filename or "upload", match, layer, crs, encoding)
            plan = await slot.run(plan_import, store, settings.data, boundaries, collection, match, source)
        except ImportFileError as exc:
            raise ApiError(422, str(exc), "InvalidImport") from exc
    _scope(token, plan)
    summary = plan.summary()
    if not plan.ok:  # shown, never staged: nothing to commit
        error = ApiError(422, "the import cannot be written: " + "; ".join(plan.errors()), "InvalidImport")
        error.extra = {"import": summary}
        raise error
    staged = Staged(secrets.token_hex(8), token.name, datetime.now(UTC),
                    {"plan": plan.to_payload(), "reason": why, "token_id": token.token_id})
    await run_in_threadpool(store.stage, staged)
    return json_response(_staged_doc(request, staged.id, summary), JSON, status=201,
                         headers={"Location": url(request, f"/imports/{staged.id}")})


def _staged_doc(request: Request, staged_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    href = url(request, f"/imports/{staged_id}")
    return {"id": staged_id, **summary, "links": [
        link(href, "self", JSON, "This import, not yet written"),
        link(href, "commit", JSON, "POST here (the same account) to write it as one changeset")]}


async def _staged(request: Request, staged_id: str) -> tuple[TokenRecord, Staged]:
    """The staged import, for the account that staged it (or an admin)."""
    store = live_of(request).store
    token = await run_in_threadpool(authenticate, request)
    staged = await run_in_threadpool(store.staged, staged_id)
    if staged is None or (staged.author != token.name and token.role != ADMIN):
        raise ApiError(404, f"no import {staged_id} staged by {token.name}")
    return token, staged


@router.get("/imports/{importId}", summary="A staged import's diff")
async def staged(request: Request, import_id: ImportId) -> Response:
    check_parameters(request, set())
    _, found = await _staged(request, import_id)
    summary = ImportPlan.from_payload(found.payload["plan"]).summary()
    return json_response(_staged_doc(request, import_id, summary), JSON, headers={"Cache-Control": "private"})


@router.post("/imports/{importId}", summary="Write a staged import as one changeset")
async def commit(request: Request, import_id: ImportId) -> Response:
    check_parameters(request, set())
    store = live_of(request).store
    token, found = await _staged(request, import_id)
    plan = ImportPlan.from_payload(found.payload["plan"])
    _scope(token, plan)
    try:
        changeset = await run_in_threadpool(commit_import, store, plan, token.name,
                                            found.payload.get("reason") or f"import of {plan.file}")
    except Conflict as exc:
        error = ApiError(412, f"{exc}; nothing was written: upload the file again to see the diff against what is "
                              f"there now", "PreconditionFailed")
        raise error from exc
    except ImportRefused as exc:
        raise ApiError(422, str(exc), "InvalidImport") from exc
    await run_in_threadpool(store.unstage, import_id)
    if changeset is None:
        return json_response({"id": import_id, "changeset": None, "versions": []}, JSON)
    live_of(request).committed(changeset.dataset_version)
    return json_response({"id": import_id, "changeset": changeset.id, "at": changeset.at.isoformat(),
                          "reason": changeset.reason, "versions": [
                              {"collection": plan.collection, "id": v.id, "version": v.seq, "etag": v.etag,
                               "findings": v.findings, "links": [link(url(
                                   request, f"/collections/{plan.collection}/items/{v.id}/versions"),
                                   "version-history", JSON, "Its versions")]}
                              for v in changeset.versions]}, JSON, status=201)


@router.delete("/imports/{importId}", status_code=204, summary="Drop a staged import")
async def drop(request: Request, import_id: ImportId) -> Response:
    check_parameters(request, set())
    await _staged(request, import_id)
    await run_in_threadpool(live_of(request).store.unstage, import_id)
    return Response(status_code=204)
