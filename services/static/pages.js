// The maps of the query pages (/locate, /nearest, /stats), drawn with Leaflet from the page's JSON block
// (#page-data). Served from our own origin; no inline handlers, so a strict Content-Security-Policy holds.
(function () {
  "use strict";
  // Download forms: the CRSs a format allows (KML: WGS 84 only; DXF: projected, in metres).
  Array.prototype.forEach.call(document.querySelectorAll("form.download-form"), function (form) {
    var format = form.querySelector(".download-format"), crs = form.querySelector(".download-crs");
    if (!format || !crs) return;
    var fit = function () {
      var rule = format.options[format.selectedIndex].getAttribute("data-crs-rule");
      Array.prototype.forEach.call(crs.options, function (o) {
        var geographic = o.getAttribute("data-geographic") === "1";
        o.disabled = (rule === "wgs84" && o.value !== "EPSG:4326") || (rule === "projected" && geographic);
      });
      if (crs.options[crs.selectedIndex].disabled) {
        crs.value = rule === "wgs84" ? "EPSG:4326" : "EPSG:4549";
      }
    };
    format.addEventListener("change", fit);
    fit();
  });

  var source = document.getElementById("page-data");
  var el = document.getElementById("query-map");
  if (!source || !el || typeof L === "undefined") return;
  var data = JSON.parse(source.textContent);
  var zh = document.documentElement.lang !== "en";
  var map = L.map(el, {attributionControl: true});
  map.attributionControl.setPrefix("Leaflet");  // plain text: Leaflet 1.9's default prefix carries a flag
  map.attributionControl.addAttribution(data.note);
  var KIND_COLOURS = {"subpark": "#e15759", "corridor-unit": "#e65100", "innovation-node": "#7b3fb4"};

  function name(p) { return zh ? p.name_zh : (p.name_en || p.name_zh); }

  var districts = L.geoJSON(data.backdrop, {
    interactive: data.mode === "stats",
    style: function () {
      return {color: "#9aa5b1", weight: 1, fillColor: "#f7f4ec", fillOpacity: 1,
              className: data.mode === "stats" ? "nbgis-district" : ""};
    }
  }).addTo(map);
  map.fitBounds(districts.getBounds(), {padding: [8, 8]});

  if (data.mode === "locate" || data.mode === "nearest") {
    var highlight = {};
    (data.highlight || []).forEach(function (id) { highlight[id] = true; });
    L.geoJSON(data.areas, {
      style: function (f) {
        var hit = highlight[f.id];
        return {color: hit ? "#a50f15" : KIND_COLOURS[f.properties.kind] || "#555", weight: hit ? 3 : 1.5,
                fillOpacity: hit ? 0.35 : 0.15, className: "nbgis-area nbgis-f-" + f.id};
      },
      onEachFeature: function (f, layer) { layer.bindTooltip(name(f.properties), {sticky: true}); }
    }).addTo(map);
    if (data.site) {
      L.circleMarker([data.site.lat, data.site.lon], {radius: 7, color: "#12355b", weight: 3, fillColor: "#f5b700",
                                                       fillOpacity: 1, className: "nbgis-site"}).addTo(map);
      map.setView([data.site.lat, data.site.lon], Math.max(map.getZoom(), 11));
    }
    // A click anywhere asks the same question of that site (WGS 84 lon/lat).
    map.on("click", function (e) {
      var ll = e.latlng.wrap();
      window.location.href = data.click + "&lon=" + ll.lng.toFixed(6) + "&lat=" + ll.lat.toFixed(6);
    });
    el.style.cursor = "crosshair";
  }

  if (data.mode === "stats") {
    var select = document.getElementById("stats-measure");
    var legend = document.getElementById("stats-legend");
    var colour = function (value, top) {
      if (!(value > 0) || !(top > 0)) return data.colours[0];
      return data.colours[Math.min(data.colours.length - 1, 1 + Math.floor((value / top) * (data.colours.length - 1)))];
    };
    var draw = function () {
      var measure = select ? select.value : "both";
      var top = 0;
      Object.keys(data.values).forEach(function (a) { top = Math.max(top, data.values[a][measure]); });
      districts.eachLayer(function (layer) {
        var p = layer.feature.properties, v = (data.values[p.adcode] || {})[measure] || 0;
        layer.setStyle({fillColor: colour(v, top), fillOpacity: 0.9, color: "#52606d", weight: 1});
        if (layer.getElement()) layer.getElement().setAttribute("data-fill", colour(v, top));
        layer.bindTooltip(name(p) + ": " + v.toFixed(2) + " km²", {sticky: true});
      });
      if (legend) {
        legend.textContent = "";
        data.colours.forEach(function (c, i) {
          var box = document.createElement("span");
          box.style.background = c;
          box.title = i === 0 ? "0" : "≤ " + (top * i / (data.colours.length - 1)).toFixed(1) + " km²";
          legend.appendChild(box);
        });
        legend.appendChild(document.createTextNode(" 0 – " + top.toFixed(1) + " km²"));
      }
    };
    if (select) select.addEventListener("change", draw);
    draw();
  }
  window.nbgisMapReady = true;
})();
