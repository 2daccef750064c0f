"""Browser scripts, stylesheets and fonts served from the local npm packages (Leaflet, Swagger UI, the CJK web
font), and the pages' own scripts and stylesheet from services/static/ (under /assets/nbgis/); never a CDN."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi.responses import FileResponse

from maps.assets import AssetError, all_files, asset_path, media_type
from services.errors import ApiError

# Swagger UI renders /api?f=html; maps.assets lists what the maps load (the web font too, which every page uses).
SWAGGER_UI = ("swagger-ui-dist/swagger-ui.css", "swagger-ui-dist/swagger-ui-bundle.js")
STATIC = Path(__file__).parent / "static"
OWN = "nbgis/"  # the prefix of our own files; no npm package is named so


@cache
def servable() -> frozenset[str]:
    own = (f"{OWN}{p.name}" for p in STATIC.iterdir() if p.is_file())
    return frozenset((*all_files(), *SWAGGER_UI, *own))


def asset_file(path: str) -> FileResponse:
    if path not in servable():
        raise ApiError(404, f"no asset {path!r}")
    if path.startswith(OWN):
        file = STATIC / path.removeprefix(OWN)
        return FileResponse(file, media_type=media_type(path), headers={"Cache-Control": "no-cache"})
    try:
        file = asset_path(path)
    except AssetError as exc:
        raise ApiError(404, str(exc)) from exc
    # The packages are pinned by package-lock.json, so a browser may keep them for a day.
    return FileResponse(file, media_type=media_type(path), headers={"Cache-Control": "public, max-age=86400"})
