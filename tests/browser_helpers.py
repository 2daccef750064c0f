"""What the browser tests share: launching Debian's headless Chromium through Playwright, opening a page with
every request outside what it may load aborted, and reading the map's drawn features back from the page.

Needs /usr/bin/chromium (apt-get install chromium) and the `playwright` package; never `playwright install`.
Under CI=true a missing browser fails the run; elsewhere the tests skip.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from maps.controls import GeoLayer

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path("/tmp/nbgis-shots")  # copies of the screenshots, for a person to look at
VIEWPORT = {"width": 1280, "height": 800}


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium, or a skip (a failure under CI) when it or Playwright is missing."""
    if not CHROMIUM.is_file():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def launch_without_cjk_fonts(browser: Any, folder: Path) -> Any:
    """Another Chromium from ``browser``'s Playwright (one driver per thread), seeing no CJK font."""
    env = {**os.environ, "FONTCONFIG_FILE": str(latin_fonts_only(folder))}
    return browser.browser_type.launch(executable_path=str(CHROMIUM), args=ARGS, env=env)


def latin_fonts_only(folder: Path) -> Path:
    """A fontconfig file listing DejaVu alone (no CJK font), as on a fresh machine: a browser started with it
    draws Chinese only with a web font, or as boxes. Whatever CJK fonts this machine has are hidden."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>'
                    f"<dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{folder / 'cache'}</cachedir>"
                    "</fontconfig>\n", encoding="utf-8")
    return conf


@dataclass
class Visit:
    page: Any
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # requests that would have left the machine


def open_page(browser: Any, url: str, allowed: tuple[str, ...], shot: Path) -> Visit:
    """Open ``url`` with every request not starting with one of ``allowed`` aborted (and recorded), wait for
    the map's first draw, and save a screenshot at ``shot`` with a copy in SHOTS."""
    page = browser.new_page(viewport=VIEWPORT)
    v = Visit(page)
    page.on("console", lambda msg: v.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: v.errors.append(str(exc)))
    page.on("requestfailed", lambda req: v.failed.append(req.url))

    def route(r: Any) -> None:
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            v.outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    wait_until(page, "document.fonts.status === 'loaded'")
    page.wait_for_timeout(300)  # let Leaflet finish its first fit and draw
    page.screenshot(path=str(shot))
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SHOTS / shot.name)
    return v


def wait_until(page: Any, condition: str, timeout_ms: int = 30_000) -> None:
    """Wait until the JavaScript ``condition`` holds in the page. Not page.wait_for_function: it evaluates its
    predicate with eval(), which the service's Content-Security-Policy rightly refuses; a function handed to
    page.evaluate runs as the browser's own code."""
    held = page.evaluate(f"""() => new Promise(resolve => {{
        const end = Date.now() + {timeout_ms};
        const check = () => ({condition}) ? resolve(true) : Date.now() > end ? resolve(false) : setTimeout(check, 25);
        check();
    }})""")
    assert held, f"timed out waiting for {condition}"


def path_ids(page: Any, css_class: str = "") -> list[str]:
    """The feature ids of the SVG paths on the main map (with ``css_class`` if given), one per path."""
    classes = page.eval_on_selector_all(
        f".folium-map > .leaflet-map-pane path.leaflet-interactive{'.' + css_class if css_class else ''}",
        "els => els.map(e => e.getAttribute('class'))")
    return [m.group(1) for c in classes if (m := re.search(r"nbgis-f-(\S+)", c))]


def pin_ids(page: Any, css_class: str) -> list[str]:
    """The feature ids of the platform pins on the main map with ``css_class``, one per pin."""
    selector = f".folium-map > .leaflet-map-pane .leaflet-marker-pane .nbgis-platform.{css_class}"
    classes = page.eval_on_selector_all(selector, "els => els.map(e => e.className)")
    return [m.group(1) for c in classes if (m := re.search(r"nbgis-f-(\S+)", c))]


def drawn_features(m: Any) -> dict[str, dict[str, Any]]:
    """The features a folium map draws as paths (polygons and lines), by id: what the page should show."""
    out = {}
    stack = [m]
    while stack:
        el = stack.pop()
        stack += list(el._children.values())
        if isinstance(el, GeoLayer):
            out.update({f["id"]: f for f in el.data["features"] if "id" in f and "style" in f["properties"]})
    return out


def group_names(m: Any) -> list[str]:
    """The names of a folium map's feature groups, in the order the layer control lists them."""
    return [el.layer_name for el in m._children.values() if type(el).__name__ == "FeatureGroup"]


def overlay_names(page: Any) -> list[str]:
    """The overlays the layer control lists, in its order."""
    names: list[str] = page.eval_on_selector_all(".leaflet-control-layers-overlays label > span > span",
                                                 "els => els.map(e => e.textContent.trim())")
    return names


def icon_font_loads(page: Any) -> bool:
    """Whether the pins' icon font loads (the browser fetches it only on first use)."""
    faces: int = page.evaluate("document.fonts.load('900 14px \"Font Awesome 6 Free\"', '\\uf0c3')"
                               ".then(faces => faces.length)")
    return faces >= 1


# Click a path where it is filled (a sub-park's box centre may lie between its parts), as a person would.
CLICK_INSIDE = """el => {
  const box = el.getBBox(), toScreen = el.getScreenCTM();
  for (let i = 1; i < 24; i++) for (let j = 1; j < 24; j++) {
    const p = new DOMPoint(box.x + box.width * i / 24, box.y + box.height * j / 24);
    if (el.isPointInFill(p)) {
      const q = p.matrixTransform(toScreen);
      el.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, clientX: q.x, clientY: q.y}));
      return true;
    }
  }
  return false;
}"""


WEB_FONT = "Noto Sans SC"  # maps.fonts.FAMILY: what every name must be drawn in, on a machine without CJK fonts
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def fonts_used(page: Any, selector: str) -> list[tuple[str, set[str]]]:
    """Per element matching ``selector``, its own text and the font families that drew it, as Chromium reports
    them (CDP CSS.getPlatformFontsForNode: the fonts actually used, web fonts included, after fallback)."""
    page.evaluate("document.fonts.ready.then(() => true)")  # every face the text on screen asked for, loaded
    # only what is drawn: the text inside a closed <details> or a hidden layer uses no font at all
    texts: list[str] = page.eval_on_selector_all(
        selector, "els => els.map(e => !e.checkVisibility() ? '' : Array.from(e.childNodes)"
                  ".filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim())")
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        ids = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})["nodeIds"]
        assert len(ids) == len(texts), (selector, len(ids), len(texts))
        # a web font is marked isCustomFont; its family is the font file's own name ("Noto Sans SC", or "Noto Sans
        # SC Thin" for @fontsource's files, cut from the variable font), never a system font's
        return [(text, {f["familyName"] if f.get("isCustomFont") else f"system: {f['familyName']}"
                        for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": i})["fonts"]})
                for i, text in zip(ids, texts)]
    finally:
        cdp.detach()


def assert_names_in_web_font(page: Any, selector: str, at_least: int) -> list[str]:
    """Every element of ``selector`` holding Chinese text is drawn in the web font alone (no glyph fell back to a
    system font or a box); at least ``at_least`` of them. Returns their texts."""
    drawn = [(text, families) for text, families in fonts_used(page, selector) if CJK.search(text)]
    assert len(drawn) >= at_least, (selector, drawn)
    fallen = [(text, families) for text, families in drawn
              if not families or any(not family.startswith(WEB_FONT) for family in families)]
    assert fallen == [], fallen
    return [text for text, _ in drawn]
