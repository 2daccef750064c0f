"""Folium elements of our own: a layer whose features carry their look, HTML panels, search and a minimap.

Each renders a few lines calling the helpers in ``maps.page``; plugins' scripts are declared through
``default_js``/``default_css`` under folium's own names, so ``maps.assets`` serves them from local files.
"""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import FeatureGroup, Layer
from folium.plugins import MarkerCluster, MiniMap
from folium.template import Template

from maps import fonts
from maps.page import js_json


class GeoLayer(Layer):
    """A FeatureCollection drawn from its features' own properties: ``style`` (path options), ``icon``
    (awesome-markers options) or ``label`` (HTML of a text label), ``tip``, ``popup`` and ``search``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson({{ this.data_js }}, nbgis.options());
        {% endmacro %}
    """)

    def __init__(self, features: list[dict[str, Any]], name: str | None = None, control: bool = False,
                 show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "GeoLayer"
        self.data: dict[str, Any] = {"type": "FeatureCollection", "features": features}

    @property
    def data_js(self) -> str:
        return js_json(self.data)


class HtmlControl(MacroElement):
    """A fixed box on the map (note, legend, panel); ``html`` must already be escaped."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        nbgis.control({{ this._parent.get_name() }}, {{ this.position_js }}, {{ this.css_js }}, {{ this.html_js }});
        {% endmacro %}
    """)

    def __init__(self, html: str, position: str, css_class: str) -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.html, self.position, self.css_class = html, position, css_class

    @property
    def html_js(self) -> str:
        return js_json(self.html)

    @property
    def position_js(self) -> str:
        return js_json(self.position)

    @property
    def css_js(self) -> str:
        return js_json(self.css_class)


class SearchControl(MacroElement):
    """Search by name in either language over the given layers; a hit shows its layer, zooms to it, opens its popup."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        nbgis.search({{ this._parent.get_name() }}, [{{ this.sources_js }}], {{ this.text_js }});
        {% endmacro %}
    """)

    def __init__(self, placeholder: str, none: str) -> None:
        super().__init__()
        self._name = "SearchControl"
        self.sources: list[tuple[GeoLayer, FeatureGroup, MarkerCluster | None]] = []
        self.text = {"placeholder": placeholder, "none": none}

    def add_source(self, layer: GeoLayer, group: FeatureGroup, cluster: MarkerCluster | None = None) -> None:
        self.sources.append((layer, group, cluster))

    @property
    def sources_js(self) -> str:
        return ", ".join(f"[{g.get_name()}, {fg.get_name()}, {c.get_name() if c else 'null'}]"
                         for g, fg, c in self.sources)

    @property
    def text_js(self) -> str:
        return js_json(self.text)


class PlainAttribution(MacroElement):
    """Leaflet's attribution prefix as plain text: 1.9's default carries a national flag, which a Chinese
    government report cannot print."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        if ({{ this._parent.get_name() }}.attributionControl) {
            {{ this._parent.get_name() }}.attributionControl.setPrefix({{ this.prefix_js }});
        }
        {% endmacro %}
    """)

    def __init__(self, prefix: str = "Leaflet") -> None:
        super().__init__()
        self._name = "PlainAttribution"
        self.prefix = prefix

    @property
    def prefix_js(self) -> str:
        return js_json(self.prefix)


class Declutter(MacroElement):
    """Moves or hides the park labels that would cover another label (maps.page's nbgis.declutter)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        nbgis.declutter({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self._name = "Declutter"


class WebFont(JSCSSMixin, MacroElement):
    """The CJK web font's stylesheet (maps.fonts), declared like a plugin's so maps.assets links or inlines it."""

    _template = Template("")
    def __init__(self) -> None:
        super().__init__()
        self._name = "WebFont"
        self.default_css = [("noto_sans_sc_css", fonts.STYLESHEET)]


class OutlineMiniMap(JSCSSMixin, MacroElement):
    """Leaflet-MiniMap over the basemap's tiles, following the view five zooms out; with no tiles, a fixed
    locator of the whole city (a coarse outline) with the view's rectangle on it."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = new L.Control.MiniMap(
            {% if this.tiles %}L.tileLayer({{ this.tiles_js }}, {{ this.tile_options_js }})
            {% else %}L.geoJson({{ this.outline_js }}, {style: {{ this.outline_style_js }}, interactive: false})
            {% endif %}, {{ this.options_js }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)
    default_js = MiniMap.default_js
    default_css = MiniMap.default_css

    def __init__(self, tiles: str | None, tile_options: dict[str, Any], outline: dict[str, Any],
                 center: tuple[float, float] = (29.75, 121.55)) -> None:
        super().__init__()
        self._name = "OutlineMiniMap"
        self.tiles, self.tile_options, self.outline = tiles, tile_options, outline
        # the view's rectangle as an outline only: at city zoom it is as large as the minimap itself
        rect = {"color": "#c62828", "weight": 2, "fill": False, "interactive": False}
        self.options: dict[str, Any] = {"position": "bottomright", "width": 140, "height": 140, "toggleDisplay": True,
                                        "aimingRectOptions": rect, "shadowRectOptions": {**rect, "opacity": 0.4}}
        if tiles:
            self.options["zoomLevelOffset"] = -5
        else:  # zoom 5: the city is ~40 px and a 1920 x 1080 view's rectangle (1/16 of it) still fits in 140 px
            self.options.update(zoomLevelFixed=5, centerFixed=list(center))

    @property
    def tiles_js(self) -> str:
        return js_json(self.tiles)

    @property
    def tile_options_js(self) -> str:
        return js_json(self.tile_options)

    @property
    def outline_js(self) -> str:
        return js_json(self.outline)

    @property
    def outline_style_js(self) -> str:
        return js_json({"color": "#777", "weight": 1, "fillColor": "#f7f4ec", "fillOpacity": 1})

    @property
    def options_js(self) -> str:
        return js_json(self.options)
