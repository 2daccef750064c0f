"""The page's own script and style: small helpers every map shares, written here rather than fetched."""

from __future__ import annotations

import json
import re
from typing import Any

from maps import fonts

# Leaflet is loaded after this script in the page head, so L is only touched inside functions.
HELPERS_JS = r"""
var nbgis = {
  style: function (f) { return f.properties.style; },
  point: function (f, latlng) {
    var p = f.properties;
    if (p.label) {
      return L.marker(latlng, {icon: L.divIcon({className: 'nbgis-label ' + (p.labelClass || ''), html: p.label,
        iconSize: [0, 0]}), interactive: false, keyboard: false});
    }
    return L.marker(latlng, {icon: L.AwesomeMarkers.icon(p.icon), riseOnHover: true, alt: p.search || ''});
  },
  bind: function (f, layer) {
    var p = f.properties;
    if (p.tip) layer.bindTooltip(p.tip, {sticky: !!layer.setStyle, direction: 'top', className: 'nbgis-tip'});
    // Pan popups clear of the top-left controls (zoom, fullscreen, search, measure: about 250 x 210 px) and of
    // the side panel on the right (about 330 px).
    if (p.popup) layer.bindPopup(p.popup, {maxWidth: 380, className: 'nbgis-popup', autoPanPadding: [30, 30],
                                           autoPanPaddingTopLeft: [250, 210], autoPanPaddingBottomRight: [340, 20]});
    if (p.popup && p.style && layer.setStyle) {
      var w = p.style.weight || 1;
      layer.on('mouseover', function () { layer.setStyle({weight: w + 2}); });
      layer.on('mouseout', function () { layer.setStyle({weight: w}); });
    }
  },
  options: function () {
    return {style: nbgis.style, pointToLayer: nbgis.point, onEachFeature: nbgis.bind};
  },
  control: function (map, position, cls, html) {
    var c = L.control({position: position});
    c.onAdd = function () {
      var d = L.DomUtil.create('div', cls);
      d.innerHTML = html;
      L.DomEvent.disableClickPropagation(d);
      L.DomEvent.disableScrollPropagation(d);
      // a panel's list items name features (data-feature): choosing one shows it on the map
      function pick(ev) {
        var item = ev.target.closest && ev.target.closest('[data-feature]');
        if (item && (ev.type === 'click' || ev.key === 'Enter')) nbgis.zoomTo(map, item.getAttribute('data-feature'));
      }
      d.addEventListener('click', pick);
      d.addEventListener('keydown', pick);
      return d;
    };
    return c.addTo(map);
  },
  entries: [],
  // Show a searchable feature: its layer on, zoomed to, its popup open.
  reveal: function (map, e) {
    if (!map.hasLayer(e.group)) map.addLayer(e.group);
    var l = e.layer;
    if (e.cluster) { e.cluster.zoomToShowLayer(l, function () { l.openPopup(); }); return; }
    var b = l.getBounds ? l.getBounds() : L.latLngBounds([l.getLatLng(), l.getLatLng()]);
    // open once the view has settled: a popup opened mid-animation lands in the wrong place
    map.once('moveend', function () { l.openPopup(l.getCenter ? l.getCenter() : l.getLatLng()); });
    map.fitBounds(b, {maxZoom: 14, padding: [20, 20]});
  },
  zoomTo: function (map, id) {
    for (var i = 0; i < nbgis.entries.length; i++) {
      if (nbgis.entries[i].id === id) { nbgis.reveal(map, nbgis.entries[i]); return true; }
    }
    return false;
  },
  // Park labels step aside (below, above, right, left of their place) from the district names and each
  // other, or hide at this zoom when no side is free; tried again after every zoom and pan.
  declutter: function (map) {
    var shifts = ['translate(-50%, 25%)', 'translate(-50%, -125%)', 'translate(10px, -50%)',
                  'translate(calc(-100% - 10px), -50%)'];
    function overlaps(r, p) { return r.left < p.right && p.left < r.right && r.top < p.bottom && p.top < r.bottom; }
    function run() {
      var spans = Array.prototype.slice.call(map.getContainer().querySelectorAll('.nbgis-label span'));
      var movable = function (s) { return s.parentNode.classList.contains('nbgis-park'); };
      var placed = spans.filter(function (s) { return !movable(s); }).map(function (s) {
        return s.getBoundingClientRect(); });
      spans.filter(movable).forEach(function (s) {
        s.style.visibility = '';
        for (var i = 0; i < shifts.length; i++) {
          s.style.transform = shifts[i];
          var r = s.getBoundingClientRect();
          if (!placed.some(function (p) { return overlaps(r, p); })) { placed.push(r); return; }
        }
        s.style.visibility = 'hidden';
      });
    }
    map.on('moveend overlayadd', run);
    run();
    // the web font's files arrive after the first layout, and change every label's width
    if (document.fonts) {
      document.fonts.ready.then(run);
      document.fonts.addEventListener('loadingdone', run);
    }
  },
  search: function (map, sources, text) {
    var entries = nbgis.entries;
    sources.forEach(function (s) {
      s[0].eachLayer(function (l) {
        var p = l.feature && l.feature.properties;
        if (p && p.search) {
          // the names in either language, and the Chinese name's pinyin (full and initials)
          entries.push({id: p.id, label: p.search, key: (p.search + ' ' + (p.keys || '')).toLowerCase(), layer: l,
                        group: s[1], cluster: s[2]});
        }
      });
    });
    var Search = L.Control.extend({
      options: {position: 'topleft'},
      onAdd: function () {
        var box = L.DomUtil.create('div', 'nbgis-search leaflet-bar');
        var input = L.DomUtil.create('input', '', box);
        input.type = 'search';
        input.placeholder = text.placeholder;
        input.setAttribute('aria-label', text.placeholder);
        var list = L.DomUtil.create('ul', '', box);
        var hits = [];
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        function show(e) {
          list.innerHTML = '';
          input.value = e.label;
          nbgis.reveal(map, e);
        }
        function update() {
          var q = input.value.trim().toLowerCase().replace(/\s+/g, ' ');
          list.innerHTML = '';
          hits = q ? entries.filter(function (e) { return e.key.indexOf(q) >= 0; }).slice(0, 10) : [];
          if (q && !hits.length) L.DomUtil.create('li', 'nbgis-none', list).textContent = text.none;
          hits.forEach(function (e) {
            var li = L.DomUtil.create('li', '', list);
            li.textContent = e.label;
            li.tabIndex = 0;
            L.DomEvent.on(li, 'click', function () { show(e); });
            L.DomEvent.on(li, 'keydown', function (ev) { if (ev.key === 'Enter') show(e); });
          });
        }
        L.DomEvent.on(input, 'input', update);
        L.DomEvent.on(input, 'keydown', function (ev) { if (ev.key === 'Enter' && hits.length) show(hits[0]); });
        return box;
      }
    });
    return new Search().addTo(map);
  }
};
"""

# The side panel sits under the layer control (top right) above the minimap, mouse position and attribution
# (bottom right, ~200 px together): its height leaves room for both, and a long list scrolls inside it.
# The web font first (maps.fonts), on the map's own container: it outranks leaflet.css's .leaflet-container rule.
CSS = f"""
.folium-map.leaflet-container {{ font-family: {fonts.STACK}; }}
.folium-map input, .folium-map select, .folium-map button {{ font-family: inherit; }}
""" + """
.nbgis-label { background: none; border: none; }
.nbgis-label span { position: absolute; transform: translate(-50%, -50%); white-space: nowrap; font-size: 13px;
  font-weight: 600; color: #4a4a4a; pointer-events: none;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff; }
.nbgis-label.nbgis-block span { font-size: 12px; color: #7f0000; }
.nbgis-label.nbgis-park span { font-size: 11px; font-weight: 400; color: #1f2933; transform: translate(-50%, 25%); }
.nbgis-note { background: rgba(255, 255, 255, .92); padding: 3px 8px; border-radius: 4px; font-size: 12px;
  color: #a50f15; font-weight: 600; box-shadow: 0 1px 4px rgba(0, 0, 0, .3); }
.nbgis-box { background: rgba(255, 255, 255, .95); padding: 6px 10px; border-radius: 5px; font-size: 12px;
  line-height: 1.45; box-shadow: 0 1px 5px rgba(0, 0, 0, .35); max-width: 300px; max-height: 45vh; overflow: auto; }
.nbgis-box summary { font-weight: 700; cursor: pointer; }
.nbgis-box ul { margin: 2px 0; padding-left: 16px; }
.nbgis-box p { margin: 3px 0; }
.nbgis-panel { max-width: 320px; max-height: max(120px, calc(100vh - 300px)); }
.nbgis-swatch { display: inline-block; box-sizing: border-box; width: 18px; height: 12px; margin-right: 6px;
  border: 1px solid #555; vertical-align: middle; }
.nbgis-legend i.fa-solid { width: 16px; text-align: center; margin-right: 4px; }
.nbgis-pop h4 { margin: 0 0 4px; font-size: 14px; }
.nbgis-pop table { border-collapse: collapse; font-size: 12px; }
.nbgis-pop th { text-align: left; vertical-align: top; padding: 2px 8px 2px 0; color: #555; font-weight: 600;
  min-width: 5.2em; max-width: 9em; }
.nbgis-pop td { padding: 2px 0; vertical-align: top; }
.nbgis-pop ul { margin: 0; padding-left: 16px; }
.nbgis-popup .leaflet-popup-content { max-height: 340px; overflow: auto; margin: 10px 12px; }
.nbgis-search { background: #fff; }
.nbgis-search input { width: 230px; padding: 5px 8px; border: none; font-size: 13px; border-radius: 4px; }
.nbgis-search ul { list-style: none; margin: 0; padding: 0; max-height: 240px; overflow: auto; }
.nbgis-search li { padding: 4px 8px; cursor: pointer; border-top: 1px solid #eee; font-size: 12px; }
.nbgis-search li:hover, .nbgis-search li:focus { background: #eef4fb; }
.nbgis-box li[data-feature] { cursor: pointer; color: #12355b; }
.nbgis-box li[data-feature]:hover, .nbgis-box li[data-feature]:focus { text-decoration: underline; }
.nbgis-links { margin-top: 6px; padding-top: 4px; border-top: 1px solid #ddd; font-size: 12px; }
.nbgis-links a { margin-right: 8px; }
.nbgis-cluster-muted div { background-color: rgba(160, 160, 160, .85); color: #fff; }
.nbgis-cluster-muted { background-color: rgba(200, 200, 200, .5); }
.leaflet-control-layers-expanded { max-height: 45vh; overflow: auto; font-size: 12px; }
"""
# Without tiles the map's background is the sea around the districts.
SEA_CSS = ".folium-map.leaflet-container { background: #dbe7f0; }"  # outranks leaflet.css, loaded later

_SCRIPT_BREAK = re.compile(r"<(?=[/!])")


def js_json(obj: Any) -> str:
    """JSON for a <script> body: compact, UTF-8, and unable to close the script (no '</' or '<!')."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return _SCRIPT_BREAK.sub(r"\\u003c", text)
