"""GET /search?q=: the plan's names found as people type them (geo.search), as JSON or a page, each answer
linking to its page and its map."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from geo.search import MAX_QUERY
from services.errors import bad_parameter
from services.params import F, Lang, check_parameters
from services.render import HTML, JSON, html_response, json_response, link, negotiate, url
from services.state import service_of

router = APIRouter(tags=["Plan-aware queries"])
MAX_LIMIT = 200


def hrefs(request: Request, hit: dict[str, Any]) -> dict[str, str]:
    """Where an answer's page and map are."""
    if hit["type"] == "industry":
        return {"href": url(request, f"/industries/{quote(hit['id'])}"),
                "map": url(request, f"/maps/industry/{quote(hit['id'])}")}
    return {"href": url(request, f"/collections/{hit['collection']}/items/{quote(hit['id'])}"),
            "map": url(request, f"/maps/feature/{quote(hit['id'])}")}


@router.get("/search", summary="Find features, industries and districts by name: part of a Chinese word, English "
                               "words, pinyin (full or initials), district and industry names")
async def search(
    request: Request,
    q: Annotated[str | None, Query(description="What to look for: 生物, shengwu, swyy, biomedicine, 鄞州, Yinzhou",
                                   max_length=MAX_QUERY)] = None,
    limit: Annotated[int, Query(ge=1, description=f"Features to return at most (up to {MAX_LIMIT})")] = 50,
    f: F = None,
    lang: Lang = None,
) -> Response:
    check_parameters(request, {"q", "limit", "f", "lang"})
    media = negotiate(request, (JSON, HTML))
    if q is None or not q.strip():
        if media == HTML:  # the empty form
            return html_response("search.html", request, switchable=True, q="", doc=None)
        raise bad_parameter("q", "give something to look for, e.g. q=生物 or q=shengwu")
    try:
        doc = service_of(request).search.search(q, min(limit, MAX_LIMIT))
    except ValueError as exc:
        raise bad_parameter("q", str(exc)) from exc
    for key in ("industries", "districts", "features"):
        doc[key] = [{**hit, **hrefs(request, hit)} for hit in doc[key]]
    doc["links"] = [link(str(request.url.remove_query_params(["f", "lang"])), "self", JSON, "This document"),
                    link(str(request.url.include_query_params(f="html")), "alternate", HTML, "This document as HTML")]
    if media == HTML:
        return html_response("search.html", request, switchable=True, q=q, doc=doc)
    return json_response(doc)
