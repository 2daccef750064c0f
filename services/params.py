"""Reading the query parameters shared by the service's resources; each error names its parameter."""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query, Request

from geo.crs import CRSError, OutputCRS, check_crs_text, parse_crs
from services.catalog import Collection
from services.crs import CRS84, ServiceCRS, service_crs
from services.errors import ApiError, bad_parameter

# `f` is checked by services.render.negotiate (with a clear message); the enum tells clients the values.
F = Annotated[str | None, Query(description="Output format: json or html (or use the Accept header)",
                                json_schema_extra={"enum": ["json", "html"]})]
# The language of an HTML page (checked by services.i18n.page_lang); without it, the browser's Accept-Language.
Lang = Annotated[Literal["zh", "en"] | None, Query(description="Language of the HTML page: zh or en (default: "
                                                               "Accept-Language, else zh)")]


def check_parameters(request: Request, allowed: set[str]) -> None:
    """Part 1 requires a 400 for a query parameter the API does not define."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        takes = f"takes {', '.join(sorted(allowed))}" if allowed else "takes no query parameters"
        raise ApiError(400, f"{', '.join(unknown)}: unknown query parameter{'s' if len(unknown) > 1 else ''}; "
                            f"this resource {takes}")


ANY_CRS_HELP = "an EPSG code (EPSG:4549), an OGC URI, PROJ or WKT text, or GCJ02"


def parse_any_crs(name: str, value: str | None) -> OutputCRS | None:
    """Any CRS that holds Ningbo (downloads and uploads), not only the seven the features are served in."""
    if value is None:
        return None
    try:
        return parse_crs(value)
    except CRSError as exc:
        raise bad_parameter(name, f"{exc}; give {ANY_CRS_HELP}") from exc


_known_crs: OrderedDict[str, OutputCRS] = OrderedDict()  # CRS texts read before, by any client
KNOWN_CRS = 256


async def read_any_crs(request: Request, name: str, value: str | None) -> OutputCRS | None:
    """parse_any_crs without stalling the event loop: a CRS text not read before is built by PROJ (up to a few
    hundred ms) in the guard's pool, counted against the client's budget of new CRS definitions."""
    if value is None:
        return None
    if (known := _known_crs.get(value)) is not None:
        return known
    try:
        check_crs_text(value.strip())  # refused for free: files, URLs, control characters
    except CRSError as exc:
        raise bad_parameter(name, f"{exc}; give {ANY_CRS_HELP}") from exc
    guard = request.app.state.guard
    guard.count_crs_build(request.client.host if request.client else "")
    async with guard.crs.slot() as slot:
        crs = await slot.run(parse_any_crs, name, value)
    assert crs is not None
    _known_crs[value] = crs
    if len(_known_crs) > KNOWN_CRS:
        _known_crs.popitem(last=False)
    return crs


def parse_crs_parameter(name: str, value: str | None) -> ServiceCRS:
    if value is None:
        return service_crs(CRS84)
    try:
        return service_crs(value)
    except CRSError as exc:
        raise bad_parameter(name, str(exc)) from exc


def parse_bbox(value: str, crs: ServiceCRS) -> tuple[float, float, float, float]:
    """A bbox in `crs`'s axis order as lon/lat (west, south, east, north)."""
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError as exc:
        raise bad_parameter("bbox", f"{value!r} is not 4 or 6 comma-separated numbers") from exc
    if len(numbers) not in (4, 6) or not all(math.isfinite(v) for v in numbers):
        raise bad_parameter("bbox", f"{value!r} is not 4 or 6 comma-separated finite numbers")
    if len(numbers) == 6:  # minimum and maximum heights are ignored: every layer is 2D
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    a, b, c, d = numbers
    geographic = crs.output.is_geographic
    if geographic:
        names = ("latitude", "longitude") if crs.lat_first else ("longitude", "latitude")
        (south, north), (west, east) = ((a, c), (b, d)) if crs.lat_first else ((b, d), (a, c))
        if any(abs(v) > 90 for v in (south, north)) or any(abs(v) > 180 for v in (west, east)):
            raise bad_parameter("bbox", f"{value!r} is out of range: latitude must be within ±90 and longitude "
                                        f"within ±180 (axis order of {crs.uri}: {names[0]}, {names[1]})")
        if south > north:
            raise bad_parameter("bbox", f"{value!r} is inverted: its southern latitude is north of its northern")
        # A west greater than east crosses the antimeridian, as Part 1 defines. CGCS2000 and WGS 84 agree
        # to well under a metre, so their lon/lat boxes are used as they are.
        return west, south, east, north
    names = ("northing", "easting") if crs.lat_first else ("easting", "northing")
    if a > c or b > d:
        raise bad_parameter("bbox", f"{value!r} is inverted: give the lower {names[0]} and {names[1]} first, "
                                    f"then the upper")
    box = crs.bbox_to_crs84((a, b, c, d))
    if not all(math.isfinite(v) for v in box):
        raise bad_parameter("bbox", f"{value!r} reaches beyond where {crs.uri} is defined; give a smaller box")
    return box


def parse_sortby(value: str) -> list[tuple[str, bool]]:
    keys = []
    for part in value.split(","):
        # "+name" arrives as " name" when a client does not encode the plus sign
        name = part.strip()
        ascending = not name.startswith("-")
        name = name.lstrip("+-").strip()
        if not name:
            raise bad_parameter("sortby", f"{value!r} has an empty key; write e.g. sortby=-area_km2,name_en")
        keys.append((name, ascending))
    return keys


def parse_properties(value: str | None, found: Collection) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in found.properties]
    if unknown:
        raise bad_parameter("properties", f"{', '.join(unknown)} not in {found.id}; its properties: "
                                          f"{', '.join(found.properties)}")
    return names


def check_datetime(value: str) -> None:
    """A Part 1 `datetime`: an RFC 3339 instant, or an interval `start/end` with `..` (or nothing) for open."""
    parts = value.split("/")
    if len(parts) > 2 or (len(parts) == 2 and all(p in ("", "..") for p in parts)):
        raise bad_parameter("datetime", f"{value!r} is not an instant or an interval start/end")
    for part in parts:
        if len(parts) == 2 and part in ("", ".."):
            continue
        try:
            datetime.fromisoformat(part.replace("z", "Z"))
        except ValueError as exc:
            raise bad_parameter("datetime", f"{part!r} is not an RFC 3339 date or date-time "
                                            f"(e.g. 2025-12-31T00:00:00Z)") from exc
