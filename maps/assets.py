"""The scripts, stylesheets, fonts and images the maps load, from local npm packages, never a CDN.

Folium's Map and plugins name their assets in ``default_js``/``default_css`` as (name, CDN URL). ``MANIFEST``
maps each name to files under ``node_modules`` (installed by ``npm ci`` from package.json/package-lock.json);
``DROPPED`` names what the maps do not use (jQuery, Bootstrap, glyphicons, the marker-rotation rule).
Before rendering, ``link_assets`` points every element at ``prefix + path`` (a folder beside the page, or
the service's /assets/), and ``inline_assets`` puts their content in the page, fonts and images as data: URIs.
An asset name missing from both tables is an error, so a new plugin cannot quietly pull from a CDN.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from branca.element import Element, Figure

from maps import fonts

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES_ENV = "NBGIS_NODE_MODULES"

# folium's asset name -> files under node_modules (versions pinned in package.json)
MANIFEST: dict[str, tuple[str, ...]] = {
    "leaflet": ("leaflet/dist/leaflet.js",),
    "leaflet_css": ("leaflet/dist/leaflet.css",),
    "awesome_markers": ("leaflet.awesome-markers/dist/leaflet.awesome-markers.js",),
    "awesome_markers_css": ("leaflet.awesome-markers/dist/leaflet.awesome-markers.css",),
    # Font Awesome's core rules and its solid style only: the markers and legend use solid icons
    "awesome_markers_font_css": ("@fortawesome/fontawesome-free/css/fontawesome.min.css",
                                 "@fortawesome/fontawesome-free/css/solid.min.css"),
    "markerclusterjs": ("leaflet.markercluster/dist/leaflet.markercluster.js",),
    "markerclustercss": ("leaflet.markercluster/dist/MarkerCluster.css",),
    "markerclusterdefaultcss": ("leaflet.markercluster/dist/MarkerCluster.Default.css",),
    "Control.Fullscreen.js": ("leaflet.fullscreen/Control.FullScreen.js",),
    "Control.FullScreen.css": ("leaflet.fullscreen/Control.FullScreen.css",),
    "leaflet_measure_js": ("leaflet-measure/dist/leaflet-measure.min.js",),
    "leaflet_measure_css": ("leaflet-measure/dist/leaflet-measure.css",),
    "Control_MiniMap_js": ("leaflet-minimap/dist/Control.MiniMap.min.js",),
    "Control_MiniMap_css": ("leaflet-minimap/dist/Control.MiniMap.min.css",),
    "Control_MousePosition_js": ("leaflet-mouse-position/src/L.Control.MousePosition.js",),
    "Control_MousePosition_css": ("leaflet-mouse-position/src/L.Control.MousePosition.css",),
    # the CJK web font (maps.fonts): linked as is, or inlined cut down to the page's characters
    "noto_sans_sc_css": (fonts.STYLESHEET,),
}
# jQuery and Bootstrap serve no map here; the rotation rule is only for rotated markers, which we never draw.
DROPPED = frozenset({"jquery", "bootstrap", "bootstrap_css", "glyphicons_css", "awesome_rotate_css"})

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
_SOURCE_MAP = re.compile(r"^\s*(//[#@] sourceMappingURL=\S+|/\*# sourceMappingURL=\S+ \*/)\s*$", re.MULTILINE)
# A TrueType fallback after a WOFF2 source: every browser that runs these maps reads WOFF2.
_TTF_FALLBACK = re.compile(r""",\s*url\([^)]*\.ttf\)\s*format\(["']truetype["']\)""")
# High-density (retina) variants of sprites: inlined, they would double the images for a sharper pin.
_RETINA_BLOCK = re.compile(r"@media[^{]*(?:resolution|device-pixel-ratio)[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}")
_ORIGINAL = "_nbgis_original_assets"
_INLINE_PREFIX = "nbgis_inline_"


class AssetError(RuntimeError):
    """A map asset that is not installed or not known; the message says what to do."""


def node_modules() -> Path:
    """Where the npm packages are: $NBGIS_NODE_MODULES, else node_modules at the repository root."""
    path = Path(os.environ.get(NODE_MODULES_ENV) or ROOT / "node_modules")
    if not (path / "leaflet" / "package.json").is_file():
        raise AssetError(f"map assets are not installed: {path} has no leaflet package. Run `npm ci` in {ROOT} "
                         f"(or set {NODE_MODULES_ENV} to a node_modules folder holding the packages of package.json)")
    return path


def asset_path(rel: str) -> Path:
    path = node_modules() / rel
    if not path.is_file():
        raise AssetError(f"map asset {rel} is missing from {node_modules()}; run `npm ci` in {ROOT}")
    return path


def css_dependencies(rel: str) -> list[str]:
    """Files a stylesheet refers to with url(...), as paths under node_modules (fragments and data: skipped)."""
    text = asset_path(rel).read_text(encoding="utf-8")
    out = []
    for _, ref in _CSS_URL.findall(text):
        if ref.startswith(("#", "data:")):
            continue
        dep = os.path.normpath(os.path.join(os.path.dirname(rel), ref.split("?")[0].split("#")[0]))
        if dep not in out:
            out.append(dep)
    return out


def all_files() -> list[str]:
    """Every file any map may load (scripts, stylesheets and what they refer to): what a server should serve."""
    return _with_dependencies([rel for rels in MANIFEST.values() for rel in rels])


def _with_dependencies(rels: list[str], fallbacks: bool = True) -> list[str]:
    """The files and what their stylesheets refer to; without the .woff fallbacks beside .woff2 files unless
    ``fallbacks`` (a server serves them, as the stylesheet names them; every browser here reads WOFF2, so a
    folder beside a map page goes without: 7 MB less of the web font)."""
    out: list[str] = []
    for rel in rels:
        deps = css_dependencies(rel) if rel.endswith(".css") else []
        for f in [rel, *deps]:
            if f not in out and (fallbacks or not (f.endswith(".woff") and f"{f}2" in deps)):
                out.append(f)
    return out


def _elements(root: Any) -> Iterator[Any]:
    yield root
    for child in list(getattr(root, "_children", {}).values()):
        yield from _elements(child)


def _collect(m: Any) -> tuple[list[Any], list[tuple[str, str]], list[tuple[str, str]]]:
    """The elements that declare assets, and the (name, file) pairs they need, in the order they load."""
    owners: list[Any] = []
    js: list[tuple[str, str]] = []
    css: list[tuple[str, str]] = []
    for el in _elements(m):
        if not hasattr(el, "default_js") and not hasattr(el, "default_css"):
            continue
        if _ORIGINAL not in el.__dict__:  # remember folium's own lists once, so a map can be rewritten again
            el.__dict__[_ORIGINAL] = (list(getattr(el, "default_js", [])), list(getattr(el, "default_css", [])))
        owners.append(el)
        for pairs, out in zip(el.__dict__[_ORIGINAL], (js, css)):
            for name, url in pairs:
                if name in DROPPED:
                    continue
                if name not in MANIFEST:
                    raise AssetError(f"{type(el).__name__} needs asset {name!r} ({url}), which maps.assets.MANIFEST "
                                     "does not provide: add its npm package to package.json and the manifest")
                for i, rel in enumerate(MANIFEST[name]):
                    pair = (name if i == 0 else f"{name}_{i}", rel)
                    if pair not in out:
                        out.append(pair)
    return owners, js, css


def link_assets(m: Any, prefix: str) -> list[str]:
    """Point the map's asset references at ``prefix`` + path under node_modules; returns the files the page
    loads, stylesheets' fonts and images included (to copy beside it, or for a server to serve)."""
    owners, js, css = _collect(m)
    _clear_inline(m)
    for el in owners:
        el.default_js, el.default_css = [], []
    # The map declares first and renders first, so every library comes before the plugins using it.
    m.default_js = [(name, prefix + rel) for name, rel in js]
    m.default_css = [(name, prefix + rel) for name, rel in css]
    return _with_dependencies([rel for _, rel in [*js, *css]], fallbacks=False)


def inline_assets(m: Any) -> int:
    """Put every script and stylesheet the map needs into its page, with fonts and images as data: URIs;
    returns the bytes added."""
    owners, js, css = _collect(m)
    _clear_inline(m)
    for el in owners:
        el.default_js, el.default_css = [], []
    head = _figure(m).header
    size = 0
    for name, rel in css:
        if rel == fonts.STYLESHEET:  # maps.output inlines it once the page's text is known
            continue
        text = f"<style>\n{inline_css(rel)}\n</style>"
        head.add_child(Element(text), name=f"{_INLINE_PREFIX}{name}")
        size += len(text.encode("utf-8"))
    for name, rel in js:
        text = f"<script>\n{inline_js(rel)}\n</script>"
        head.add_child(Element(text), name=f"{_INLINE_PREFIX}{name}")
        size += len(text.encode("utf-8"))
    return size


def declares_font(m: Any) -> bool:
    """Whether the map loads the CJK web font (maps.controls.WebFont)."""
    return any(rel == fonts.STYLESHEET for _, rel in _collect(m)[2])


def inline_css(rel: str) -> str:
    text = _RETINA_BLOCK.sub("", _TTF_FALLBACK.sub("", asset_path(rel).read_text(encoding="utf-8")))
    base = os.path.dirname(rel)

    def data_uri(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("#", "data:")):
            return match.group(0)
        dep = os.path.normpath(os.path.join(base, ref.split("?")[0].split("#")[0]))
        data = base64.b64encode(asset_path(dep).read_bytes()).decode("ascii")
        return f'url("data:{media_type(dep)};base64,{data}")'

    return _CSS_URL.sub(data_uri, text)


def inline_js(rel: str) -> str:
    text = _SOURCE_MAP.sub("", asset_path(rel).read_text(encoding="utf-8"))
    return text.replace("</script", "<\\/script")  # cannot end the <script> element early


def media_type(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    known = {".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".svg": "image/svg+xml"}
    return known.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def _figure(m: Any) -> Figure:
    root = m.get_root()
    if not isinstance(root, Figure):
        raise TypeError("the map is not in a Figure")
    return root


def _clear_inline(m: Any) -> None:
    head = _figure(m).header
    for key in [k for k in head._children if k.startswith(_INLINE_PREFIX)]:
        del head._children[key]
