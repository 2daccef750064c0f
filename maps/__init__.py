"""Web maps of the plan's layout, built with Folium from ``geo`` objects only (no HTTP, no CDN).

- ``maps.builders.overview(layers, tiles, lang)``, ``industry(layers, code, ...)``, ``feature(layers, id, ...)``
  return a ``folium.Map``; ``tiles`` is "none" (no network), "osm", "tianditu" (needs $TIANDITU_TOKEN) or
  "amap" (overlays shifted to GCJ-02); ``lang`` is "zh" or "en".
- ``maps.output.write_map(m, path, self_contained)`` / ``render_html(m, assets, prefix)`` turn one into a page
  whose scripts, styles, fonts and icons come from local npm packages (``maps.assets``; ``npm ci`` installs them).
- ``maps.printmap.render(layers, kind, subject, PrintOptions(...))`` draws the same three maps as a print sheet
  (PNG, PDF or SVG) with matplotlib, in the same colours and words.
"""

from maps.builders import feature, industry, overview

__all__ = ["feature", "industry", "overview"]
