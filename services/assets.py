"""Browser scripts and stylesheets (Leaflet, Swagger UI) served from the local npm packages, never a CDN."""

from __future__ import annotations

from functools import cache

from fastapi.responses import FileResponse

from maps.assets import AssetError, all_files, asset_path, media_type
from services.errors import ApiError

# Swagger UI renders /api?f=html; maps.assets lists what the maps load.
SWAGGER_UI = ("swagger-ui-dist/swagger-ui.css", "swagger-ui-dist/swagger-ui-bundle.js")


@cache
def servable() -> frozenset[str]:
    return frozenset((*all_files(), *SWAGGER_UI))


def asset_file(path: str) -> FileResponse:
    if path not in servable():
        raise ApiError(404, f"no asset {path!r}")
    try:
        file = asset_path(path)
    except AssetError as exc:
        raise ApiError(404, str(exc)) from exc
    # The packages are pinned by package-lock.json, so a browser may keep them for a day.
    return FileResponse(file, media_type=media_type(path), headers={"Cache-Control": "public, max-age=86400"})
