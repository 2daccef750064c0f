"""Responses: JSON through orjson, HTML through Jinja2 templates, and choosing between them (`f` and Accept)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import URL

from geo.boundaries import Boundaries
from services import i18n
from services.errors import ApiError
from services.headers import ranked_values
from services.i18n import page_lang
from services.state import PINNED

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"

# `f` values: json asks for the resource's JSON type; `geojson` is a common alias of it for features.
F_VALUES = {"json": JSON, "geojson": GEOJSON, "html": HTML}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Pages embed features whose geometry is a pre-serialised orjson fragment: let `tojson` use orjson too.
_templates.policies["json.dumps_function"] = lambda obj, **kwargs: orjson.dumps(
    obj, option=orjson.OPT_INDENT_2 if kwargs.get("indent") else 0).decode()


class JSONBytes(Response):
    """JSON serialised by orjson: numpy values, non-string keys and pre-serialised fragments included."""

    media_type = JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def negotiate(request: Request, offers: tuple[str, ...]) -> str:
    """The media type to answer with, out of `offers` (the first is the default, HTML the alternative).

    `f=json` asks for the resource's own JSON type (GeoJSON for features); an Accept header naming plain
    `application/json` gets that type back in Content-Type, since clients that send it want JSON either way.
    """
    data = next(o for o in offers if o != HTML)
    f = request.query_params.get("f")
    if f is not None:
        wanted = F_VALUES.get(f.lower())
        if wanted is None or (wanted == HTML and HTML not in offers):
            names = ["json", "html"] if HTML in offers else ["json"]
            raise ApiError(400, f"f: {f!r} is not a format of this resource; use {' or '.join(names)}")
        return HTML if wanted == HTML else data
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return offers[0]
    for media, quality in sorted(ranked_values(accept), key=lambda item: -item[1]):  # stable: order breaks ties
        if quality <= 0:
            continue
        if media in ("*/*", "application/*"):
            return offers[0]
        if media in ("text/html", "text/*") and HTML in offers:
            return HTML
        if media == _base(data) or (data == OPENAPI and media == "application/openapi+json"):
            return data
        if media in (JSON, GEOJSON):
            return media if data in (JSON, GEOJSON) else data
    raise ApiError(406, f"Accept: none of {accept!r} is offered here; this resource is available as "
                        f"{', '.join(offers)}")


def _base(media: str) -> str:
    """The media type without its parameters (`version=3.0`): what an Accept entry is compared with."""
    return media.split(";")[0].strip()


def link(href: str, rel: str, media_type: str, title: str = "") -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": media_type}
    if title:
        out["title"] = title
    return out


def base_url(request: Request) -> str:
    """The service's root, without the trailing slash: the configured public URL, else as the client addressed it
    (its Host checked against the trusted names by services.middleware.TrustedHosts)."""
    public: str | None = request.app.state.settings.public_url
    return public if public else str(request.base_url).rstrip("/")


def here(request: Request) -> URL:
    """The request's own URL, under base_url (so a self link names the public address, not the Host sent)."""
    if not request.app.state.settings.public_url:
        return request.url
    root = request.scope.get("root_path", "")
    path = request.url.path[len(root):] if root and request.url.path.startswith(root) else request.url.path
    query = request.url.query
    return URL(base_url(request) + path + (f"?{query}" if query else ""))


def url(request: Request | str, path: str = "", **params: Any) -> str:
    """An absolute link to path, from a request or a base_url(request)."""
    base = (request if isinstance(request, str) else base_url(request)) + path
    query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    return f"{base}?{query}" if query else base


def json_response(content: Any, media_type: str = JSON, status: int = 200,
                  headers: dict[str, str] | None = None) -> JSONBytes:
    return JSONBytes(content, status_code=status, media_type=media_type, headers=headers)


def html_response(template: str, request: Request, status: int = 200, switchable: bool = False,
                  **context: Any) -> HTMLResponse:
    """A page in the request's language (services.i18n); ``switchable`` pages take `lang` and link the other."""
    lang = page_lang(request) if switchable else _accepted_lang(request)
    other = "en" if lang == "zh" else "zh"
    switch = str(request.url.include_query_params(lang=other)) if switchable else None
    page = _templates.get_template(template).render(request=request, lang=lang, switch=switch,
                                                    t=lambda key, **kw: i18n.t(key, lang).format(**kw),
                                                    bounds=_boundaries(request), **context)
    return HTMLResponse(page, status_code=status, headers={"Vary": "Accept-Language"})


def _boundaries(request: Request) -> Boundaries:
    """The boundaries of the version this request answers from (none counted before one is pinned: an error
    page), so the footer says whether any is surveyed."""
    service = request.scope.get(PINNED)
    return service.boundaries if service is not None else Boundaries()


def _accepted_lang(request: Request) -> str:
    """Accept-Language only, for pages whose parameters are fixed by a standard (no `lang` there)."""
    try:
        return page_lang(request) if "lang" not in request.query_params else i18n.DEFAULT
    except ApiError:
        return i18n.DEFAULT
