"""The web maps' styles (maps.style) as matplotlib draws them on paper, so both describe a feature the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from matplotlib.colors import to_rgba

from maps.style import MARKER_CSS, PLATFORM_ICONS, Style

PT_PER_PX = 0.45  # a web map's 1 px line is a hairline on paper: 0.45 pt
# platform type -> matplotlib marker: one shape per type, in the colour of its web map pin
PLATFORM_MARKERS = {"laboratory": "^", "science-facility": "D", "research-institute": "s",
                    "innovation-centre": "p", "university": "o"}
MARKER_PT = 6.0  # a platform symbol's size on paper


@dataclass(frozen=True)
class Symbol:
    """How one legend entry (and what it stands for) is drawn: ``kind`` is "fill", "line" or "marker"."""

    kind: str
    props: dict[str, Any] = field(default_factory=dict)


def area(style: Style) -> dict[str, Any]:
    """matplotlib keywords for a polygon in a Leaflet path style: fill at its opacity, outline, dashes."""
    edge = to_rgba(str(style.get("color", "#333333")), style.get("opacity", 1.0))
    filled = style.get("fill", True) and "fillOpacity" in style
    face = to_rgba(str(style.get("fillColor", style.get("color", "#333333"))), style["fillOpacity"]) if filled \
        else "none"
    return {"facecolor": face, "edgecolor": edge, "linewidth": style.get("weight", 1) * PT_PER_PX,
            "linestyle": _dashes(style)}


def line(style: Style) -> dict[str, Any]:
    return {"color": to_rgba(str(style.get("color", "#333333")), style.get("opacity", 1.0)),
            "linewidth": style.get("weight", 1) * PT_PER_PX, "linestyle": _dashes(style)}


def _dashes(style: Style) -> Any:
    dash = style.get("dashArray")
    if not dash:
        return "solid"
    return (0, tuple(float(v) for v in str(dash).replace(",", " ").split()))  # lengths scale with the line


def platform(platform_type: str, colour: str | None = None) -> dict[str, Any]:
    """Marker keywords for a platform: its type's shape, in its type's pin colour unless ``colour`` is given
    (a key of maps.style.MARKER_CSS, as the web map's pins take)."""
    _, pin = PLATFORM_ICONS.get(platform_type, ("circle-info", "darkblue"))
    return {"marker": PLATFORM_MARKERS.get(platform_type, "o"), "markersize": MARKER_PT,
            "markerfacecolor": MARKER_CSS[colour or pin], "markeredgecolor": "white", "markeredgewidth": 0.6,
            "linestyle": "none"}
