"""How each kind of feature looks: Leaflet path options, industry colours, platform icons."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from geo.boundaries import SCHEMATIC, SURVEYED

Style = dict[str, Any]

# Tableau 10 without its grey, which reads as "muted": distinct and legible on a pale base.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
NO_INDUSTRY = "#8c8c8c"

# Base style per layer key (see maps.draw.LAYER_KEYS). Sub-parks are solid, filled by their lead industry;
# every other kind is a coloured outline over a pale fill, so no kind is mistaken for an industry.
KIND_STYLE: dict[str, Style] = {
    "districts": {"color": "#8a8a8a", "weight": 1, "fillColor": "#f7f4ec", "fillOpacity": 1.0},
    "corridor-zone": {"color": "#1f5fa8", "weight": 2, "dashArray": "6 4", "fillColor": "#1f5fa8",
                      "fillOpacity": 0.04},
    "corridor-areas": {"color": "#1f5fa8", "weight": 1.5, "dashArray": "2 4", "fillColor": "#4e8fd6",
                       "fillOpacity": 0.08},
    "corridor-axis": {"color": "#0b3d7a", "weight": 4, "opacity": 0.8},
    "innovation-node": {"color": "#7b3fb4", "weight": 1.5, "fillColor": "#b58ad9", "fillOpacity": 0.18},
    "qianwan-zone": {"color": "#6d4c41", "weight": 2, "dashArray": "2 3", "fillColor": "#ffffff", "fillOpacity": 0.5},
    "provincial-park": {"color": "#00695c", "weight": 2, "dashArray": "5 3", "fillColor": "#ffffff",
                        "fillOpacity": 0.55},
    "subpark": {"color": "#333333", "weight": 1, "fillOpacity": 0.8},
    "corridor-unit": {"color": "#e65100", "weight": 2, "fillColor": "#ffffff", "fillOpacity": 0.55},
    "innovation-street": {"color": "#b71c1c", "weight": 2, "fillColor": "#b71c1c", "fillOpacity": 0.85},
}
# With a tile basemap the districts are outlines only, so the tiles show through.
DISTRICTS_OVER_TILES: Style = {"color": "#555555", "weight": 1.5, "fillOpacity": 0.0}
# The industry and feature maps: what is asked about stands out, the rest steps back.
HIT: Style = {"color": "#a50f15", "weight": 2.5, "fillColor": "#ef3b2c", "fillOpacity": 0.6, "opacity": 1.0}
FOCUS: Style = {"color": "#a50f15", "weight": 3, "fillColor": "#fb6a4a", "fillOpacity": 0.45, "opacity": 1.0}
MUTED: Style = {"color": "#9e9e9e", "weight": 1, "fillColor": "#bdbdbd", "fillOpacity": 0.15, "opacity": 0.7,
                "dashArray": None}
HOST_DISTRICT: Style = {"color": "#424242", "weight": 2.5, "fillColor": "#efe9da", "fillOpacity": 1.0}
LINE_KEYS = {"corridor-axis"}  # drawn as lines: no fill

# platform_type -> (Font Awesome 6 solid icon, awesome-markers colour)
PLATFORM_ICONS: dict[str, tuple[str, str]] = {
    "laboratory": ("flask", "red"),
    "science-facility": ("atom", "darkblue"),
    "research-institute": ("microscope", "purple"),
    "innovation-centre": ("lightbulb", "orange"),
    "university": ("graduation-cap", "green"),
}
PLATFORM_MUTED = "lightgray"
PLATFORM_HIT = "darkred"
# CSS colours of the awesome-markers sprite, for the legend's swatches.
MARKER_CSS = {"red": "#d63e2a", "darkblue": "#0067a3", "purple": "#d252b9", "orange": "#f69730", "green": "#72b026",
              "darkred": "#a23336", "lightgray": "#a3a3a3"}
ICON_ANCHOR = (17, 42)  # awesome-markers' default tip of the pin
FAN_STEP_PX = 36  # platforms sharing one point fan out sideways by this much, so each stays clickable


def industry_colours(primary_codes: Iterable[str | None]) -> dict[str, str]:
    """A distinct colour per lead industry present, in code order (stable while the set stays the same)."""
    codes = sorted({c for c in primary_codes if c})
    return {code: PALETTE[i % len(PALETTE)] for i, code in enumerate(codes)}


SURVEYED_WEIGHT = 2.0  # px a surveyed outline adds to its kind's


def boundary_look(style: Style, quality: Any) -> Style:
    """A surveyed boundary drawn solid, opaque and heavier than its kind's schematic ones (which keep their look,
    dashes included), so what was measured stands out from what was drawn from the plan's words."""
    if quality != SURVEYED:
        return style
    look = {k: v for k, v in style.items() if k != "dashArray"}
    return {**look, "weight": float(style.get("weight", 1)) + SURVEYED_WEIGHT, "opacity": 1.0}


def boundary_class(quality: Any) -> list[str]:
    """``nbgis-schematic`` or ``nbgis-surveyed`` on an area's path, so a browser can tell them apart."""
    return [f"nbgis-{quality}"] if quality in (SCHEMATIC, SURVEYED) else []


def path_style(key: str, **overrides: Any) -> Style:
    style = dict(KIND_STYLE.get(key, MUTED))
    style.update(overrides)
    if key in LINE_KEYS:
        style.pop("fillColor", None)
        style["fill"] = False
    return {k: v for k, v in style.items() if v is not None}


def with_class(style: Style, *classes: str) -> Style:
    """The style with Leaflet's ``className``: set on the SVG path, so a browser can find the feature."""
    return {**style, "className": " ".join(classes)}


def feature_class(fid: str) -> str:
    return f"nbgis-f-{fid}"


def platform_icon(platform_type: str, fid: str, colour: str | None = None, extra: str = "",
                  fan: float = 0.0) -> dict[str, Any]:
    """Options for L.AwesomeMarkers.icon; ``className`` keeps 'awesome-marker' (its sprite) and adds our classes."""
    icon, default_colour = PLATFORM_ICONS.get(platform_type, ("circle-info", "blue"))
    classes = " ".join(c for c in ("awesome-marker", "nbgis-platform", extra, feature_class(fid)) if c)
    return {"icon": icon, "prefix": "fa", "markerColor": colour or default_colour, "iconColor": "white",
            "className": classes, "iconAnchor": [ICON_ANCHOR[0] - fan * FAN_STEP_PX, ICON_ANCHOR[1]]}
