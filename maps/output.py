"""A built map as a page: assets linked (from a folder beside it, or a server's prefix) or inlined."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import folium

from geo.io import write_bytes_atomic
from maps import fonts
from maps.assets import asset_path, declares_font, inline_assets, link_assets

# A <script src> or <link href> leaving the machine: what an offline page must never hold.
REMOTE_REF = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def render_html(m: folium.Map, assets: str = "inline", prefix: str = "") -> tuple[str, list[str]]:
    """The page and the asset files it links (none when inlined). ``assets``: "inline" or "link" (to
    ``prefix`` + path under node_modules, e.g. "/assets/" for a server or "name_files/" beside a file)."""
    if assets == "inline":
        inline_assets(m)
        files: list[str] = []
    elif assets == "link":
        files = link_assets(m, prefix)
    else:
        raise ValueError(f"unknown assets mode {assets!r}; choose inline or link")
    html = m.get_root().render()
    if assets == "inline" and declares_font(m):  # the font, cut down to the characters the page holds
        html = html.replace("</head>", f"<style>\n{fonts.inline_css(html)}\n</style>\n</head>", 1)
    lang = getattr(m, "nbgis_lang", None)  # set by maps.basemap.finish
    if lang:
        html = html.replace("<html>", f'<html lang="{"zh-CN" if lang == "zh" else lang}">', 1)
    if match := REMOTE_REF.search(html):  # belt and braces: an element that bypassed default_js/default_css
        raise RuntimeError(f"the map page loads a remote resource: {match.group(0)}")
    return html, files


@dataclass(frozen=True)
class Written:
    path: Path
    html_bytes: int
    asset_dir: Path | None
    asset_files: int
    asset_bytes: int


def _open_to_all(root: Path) -> None:
    """Folders 0755 and files 0644 (less the umask), as a plain `cp -r` or a web server expects."""
    mask = os.umask(0)
    os.umask(mask)
    for p in (root, *root.rglob("*")):
        os.chmod(p, (0o755 if p.is_dir() else 0o644) & ~mask)


def write_map(m: folium.Map, path: Path, self_contained: bool = False) -> Written:
    """Write the page; unless self-contained, copy its assets into ``<stem>_files/`` beside it, linked relatively."""
    path = Path(path)
    if self_contained:
        html, _ = render_html(m, "inline")
        data = html.encode("utf-8")
        write_bytes_atomic(path, data)
        return Written(path, len(data), None, 0, 0)
    folder = path.with_name(f"{path.stem}_files")
    html, files = render_html(m, "link", quote(folder.name) + "/")
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        size = 0
        for rel in files:
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(asset_path(rel), dest)
            size += dest.stat().st_size
        _open_to_all(staging)  # mkdtemp made it 0700: a copied map would lose its scripts for other users
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    data = html.encode("utf-8")
    write_bytes_atomic(path, data)
    return Written(path, len(data), folder, len(files), size)
