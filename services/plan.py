"""Plan-aware queries: what lies at a site, where an industry clusters and how far, areas per district,
and the plan's targets. Thin over geo.queries and geo.locate; the answers are computed, never canned."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from geo.crs import OutputCRS, usable_area, xy_to_wgs84
from geo.queries import AREAL_KINDS, NEAREST_KINDS, nearest
from services.errors import ApiError, bad_parameter
from services.i18n import page_lang
from services.params import F, Lang, check_parameters, read_any_crs
from services.query_pages import SITE_CRSS, areas_overlay, choropleth, indicator_bars, map_note
from services.render import HTML, JSON, html_response, json_response, link, negotiate, url
from services.state import service_of

router = APIRouter(tags=["Plan-aware queries"])
MAX_K = 50

Lon = Annotated[float | None, Query(description="Longitude of the site (or easting/x when `crs` is projected); "
                                                "required, except by the HTML page (a map to click)")]
Lat = Annotated[float | None, Query(description="Latitude of the site (or northing/y when `crs` is projected); "
                                                "required, except by the HTML page")]
SiteCRS = Annotated[str | None, Query(description="CRS of lon/lat (EPSG code, OGC URI, PROJ or WKT, or GCJ02), "
                                                  "read x then y whatever its axis order; WGS 84 by default")]


def site_lonlat(lon: float | None, lat: float | None, crs: OutputCRS | None) -> tuple[float, float]:
    """A site given as x, y in the request's CRS (any that holds Ningbo, GCJ-02 too), as WGS 84 lon/lat;
    400 when missing, out of range, or far outside the CRS's area of use (which is what swapped x and y give)."""
    if lon is None or lat is None:
        raise bad_parameter("lon" if lon is None else "lat", "required: the site's x (lon) and y (lat)")
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise bad_parameter("lon" if not math.isfinite(lon) else "lat", "must be a finite number")
    if crs is None or crs.is_geographic:
        if not -180 <= lon <= 180:
            raise bad_parameter("lon", f"{lon} is out of range: longitude must be within -180..180")
        if not -90 <= lat <= 90:
            raise bad_parameter("lat", f"{lat} is out of range: latitude must be within -90..90")
    if crs is None:
        return lon, lat
    xs, ys = xy_to_wgs84(np.array([lon]), np.array([lat]), crs)
    x, y = float(xs[0]), float(ys[0])
    area = usable_area(crs.crs) if crs.crs is not None else None
    inside = area is None or (area[0] <= x <= area[2] and area[1] <= y <= area[3])
    if not (math.isfinite(x) and math.isfinite(y) and inside):
        raise bad_parameter("lon", f"({lon}, {lat}) lies outside the area of use of {crs.label}; give x (easting) "
                                   f"as lon and y (northing) as lat")
    return x, y


@router.get("/industries", summary="The plan's industries and where each clusters")
async def industries(request: Request, f: F = None) -> Response:
    check_parameters(request, {"f"})
    service = service_of(request)
    doc = {
        "industries": service.catalogue,
        "links": [link(url(request, "/industries"), "self", JSON, "This document"),
                  link(url(request, "/industries", f="html"), "alternate", HTML, "This document as HTML")],
    }
    if negotiate(request, (JSON, HTML)) == HTML:
        return html_response("industries.html", request, doc=doc)
    return json_response(doc)


@router.get("/industries/{code}", summary="One industry: every feature hosting it, areas and districts; a name "
                                         "(生物医药, Biomedicine, shengwuyiyao) redirects to its code")
async def industry(request: Request, code: Annotated[str, Path(description="An industry code from /industries, "
                                                                           "or its name")],
                   f: F = None, lang: Lang = None) -> Response:
    check_parameters(request, {"f", "lang"})
    service = service_of(request)
    if code not in service.layers.taxonomy:
        return industry_by_name(request, code, "/industries/{code}")
    detail = service.industry(code)
    doc: dict[str, Any] = {**detail, "hosts": [
        {**host, "href": url(request, f"/collections/{host['collection']}/items/{host['id']}")}
        for host in detail["hosts"]]}
    doc["links"] = [link(url(request, f"/industries/{code}"), "self", JSON, "This document"),
                    link(url(request, f"/industries/{code}", f="html"), "alternate", HTML, "This document as HTML"),
                    link(url(request, "/industries"), "up", JSON, "All industries")]
    if negotiate(request, (JSON, HTML)) == HTML:
        return html_response("industry.html", request, switchable=True, doc=doc,
                             names=service.layers.taxonomy.industries)
    return json_response(doc)


def industry_by_name(request: Request, name: str, path: str) -> Response:
    """A redirect to the industry named `name` (in Chinese, English or pinyin) at `path` (with {code}), keeping
    the query; 404 when no industry has that name."""
    code = service_of(request).search.industry_code(name)
    if code is None:
        raise ApiError(404, f"code: no industry {name!r}; /industries lists them, /search?q= finds them by name")
    target = request.url.replace(path=path.format(code=quote(code)))
    return RedirectResponse(str(target), status_code=308)


@router.get("/nearest", summary="Areas hosting an industry, nearest a site first (geodesic km, 0 inside)")
async def nearest_hosts(
    request: Request,
    lon: Lon = None,
    lat: Lat = None,
    industry: Annotated[str | None, Query(description="An industry code; a broader one matches its narrower "
                                                      "ones. Without it, every area of `kinds`")] = None,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many to return")] = 5,
    kinds: Annotated[str | None, Query(description=f"Comma-separated kinds; default {','.join(NEAREST_KINDS)}; "
                                                   f"any of {','.join(AREAL_KINDS)}")] = None,
    crs: SiteCRS = None,
    f: F = None,
    lang: Lang = None,
) -> Response:
    check_parameters(request, {"lon", "lat", "industry", "k", "kinds", "crs", "f", "lang"})
    service = service_of(request)
    media = negotiate(request, (JSON, HTML))
    if media == HTML and lon is None and lat is None:  # the page before a site is chosen
        return query_page(request, "nearest", None, industry=industry, k=k)
    site = site_lonlat(lon, lat, await read_any_crs(request, "crs", crs))
    wanted = tuple(kind.strip() for kind in kinds.split(",")) if kinds is not None else NEAREST_KINDS
    unknown = [kind for kind in wanted if kind not in AREAL_KINDS]
    if unknown:
        raise bad_parameter("kinds", f"{', '.join(unknown)} not an area kind; use any of {', '.join(AREAL_KINDS)}")
    if industry is not None and industry not in service.layers.taxonomy:
        raise bad_parameter("industry", f"unknown industry code {industry!r}; /industries lists them")
    ranked = await run_in_threadpool(nearest, service.layers, site[0], site[1], industry, k, wanted)  # ~10 ms
    for entry in ranked:
        entry["href"] = url(request, f"/collections/{entry['collection']}/items/{entry['id']}")
    doc = {"site": {"lon": site[0], "lat": site[1]}, "industry": industry, "kinds": list(wanted),
           "distance": "geodesic km on WGS 84 from the site to the schematic boundary; 0 inside",
           "features": ranked}
    if media == HTML:
        return query_page(request, "nearest", doc, industry=industry, k=k)
    return json_response(doc)


def query_page(request: Request, mode: str, doc: dict[str, Any] | None, **extra: Any) -> Response:
    """The page of /locate or /nearest: a map to click (each click asks again), the form, and the answer."""
    service = service_of(request)
    lang = page_lang(request)
    keep = {"f": "html", **({"lang": lang} if "lang" in request.query_params else {}),
            **({"industry": extra["industry"]} if extra.get("industry") else {}),
            **({"k": extra["k"]} if mode == "nearest" and extra.get("k") != 5 else {})}
    data = {"mode": mode, "backdrop": service.backdrop, "areas": areas_overlay(service),
            "note": map_note(service),
            "site": doc["site"] if doc else None, "click": f"/{mode}?{urlencode(keep)}",
            "highlight": [f["id"] for f in (doc or {}).get("features", []) if f["kind"] != "platform"]}
    return html_response("locate.html", request, switchable=True, mode=mode, doc=doc, data=data, crss=SITE_CRSS,
                         industries=service.layers.taxonomy.industries, **extra)


@router.get("/stats", summary="Per district: area and share of sub-parks, nodes and corridor; per industry totals")
async def stats(request: Request, f: F = None, lang: Lang = None) -> Response:
    check_parameters(request, {"f", "lang"})
    service = service_of(request)
    if negotiate(request, (JSON, HTML)) == HTML:
        return html_response("stats.html", request, switchable=True, doc=service.stats,
                             data={"mode": "stats", "backdrop": service.backdrop, "note": map_note(service),
                                   **choropleth(service)},
                             names=service.layers.taxonomy.industries)
    return json_response(service.stats)


@router.get("/indicators", summary="表 1's indicators and the plan's other 2025 targets")
async def indicators(request: Request, f: F = None, lang: Lang = None) -> Response:
    check_parameters(request, {"f", "lang"})
    doc = service_of(request).indicators
    if negotiate(request, (JSON, HTML)) == HTML:
        return html_response("indicators.html", request, switchable=True, doc=doc,
                             bars=[indicator_bars(row) for row in doc["table1"]])
    return json_response(doc)
