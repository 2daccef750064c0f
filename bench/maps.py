"""Maps: how big the overview page is, served and as a self-contained file, and how soon Chromium finishes it.

The load event is read from the browser's own Navigation Timing entry, in a fresh browser context each time
(nothing cached), with every request that leaves 127.0.0.1 or the file aborted, as the tests do.
"""

from __future__ import annotations

import gzip
import statistics
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.peers import ensure_command
from bench.report import Row

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
MAX_PAGE_MB = 1.5
MAX_LOAD_S = 1.5


def _served_sizes(url: str) -> tuple[int, int]:
    """The page's bytes, and the bytes on the wire when the browser accepts gzip (as every browser does)."""
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})) as response:
        wire = response.read()
        encoded = response.headers.get("Content-Encoding") == "gzip"
    return len(gzip.decompress(wire) if encoded else wire), len(wire)


def _self_contained(work: Path) -> tuple[Path, float]:
    from geo.layers import load_layers
    from maps import builders
    from maps.output import write_map

    layers = load_layers()
    start = time.perf_counter()
    written = write_map(builders.overview(layers), work / "overview-self-contained.html", self_contained=True)
    return written.path, time.perf_counter() - start


# Everything the page loaded (itself, scripts, styles, images, the web font's files), decoded, and how much of it
# was the web font; then when the fonts were ready (the CJK web font's files load once the text asks for them).
LOADED = """performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
    .reduce((t, e) => { const n = e.decodedBodySize || 0; t[0] += n; if (/noto-sans-sc/.test(e.name)) t[1] += n;
                        return t; }, [0, 0])"""


def _load_events(urls: list[str], repeats: int) -> dict[str, tuple[float, int, int, float, int, int]]:
    """Per URL: median seconds to the load event, drawn shapes, failed requests other than the aborted, median
    seconds until the fonts are ready, and the bytes loaded in all and of the web font (file: pages say 0)."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=ensure_command("chromium"), args=CHROMIUM_ARGS)
        try:
            for url in urls:
                times, shapes, failed, fonts_ready, loaded = [], 0, 0, [], [0, 0]
                for _ in range(repeats):
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    page = context.new_page()
                    page.route("**/*", lambda route: route.continue_()
                               if route.request.url.startswith(("http://127.0.0.1", "file:", "data:"))
                               else route.abort())
                    errors: list[str] = []

                    def failed_request(request: Any, errors: list[str] = errors) -> None:
                        if request.url.startswith(("http://127.0.0.1", "file:")):
                            errors.append(request.url)

                    page.on("requestfailed", failed_request)
                    page.goto(url, wait_until="load")
                    times.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1e3)
                    fonts_ready.append(page.evaluate("document.fonts.ready.then(() => performance.now())") / 1e3)
                    loaded = page.evaluate(LOADED)
                    shapes = page.locator("path.leaflet-interactive").count()
                    failed = max(failed, len(errors))
                    context.close()
                out[url] = (statistics.median(times), shapes, failed, statistics.median(fonts_ready), *loaded)
        finally:
            browser.close()
    return out


def run(work: Path, base_url: str, smoke: bool = False, log: Callable[[str], Any] = print) -> list[Row]:
    served = f"{base_url}/maps/overview"
    page_bytes, wire_bytes = _served_sizes(served)
    path, build_s = _self_contained(work)
    repeats = 1 if smoke else 5
    loads = _load_events([served, path.as_uri()], repeats)
    rows = []
    for label, url, size, wire in (("overview, served", served, page_bytes, wire_bytes),
                                   ("overview, self-contained file", path.as_uri(), path.stat().st_size, None)):
        seconds, shapes, failed, fonts_s, all_bytes, font_bytes = loads[url]
        log(f"maps {label:<30} {size / 1e6:.2f} MB"
            + (f" ({wire / 1e6:.2f} MB gzipped)" if wire else "")
            + f", load event {seconds:.2f} s, fonts ready {fonts_s:.2f} s, {shapes} shapes drawn, "
              f"{failed} failed requests"
            + (f"; with every asset {all_bytes / 1e6:.2f} MB, of which the web font {font_bytes / 1e6:.2f} MB"
               if wire is not None else ""))
        rows.append(Row("maps", label, "MB", size / 1e6, target=f"<{MAX_PAGE_MB}",
                        note=f"{wire / 1e6:.2f} MB on the wire (gzip)" if wire else
                        f"built and written in {build_s:.2f} s"))
        rows.append(Row("maps", label, "load event s", seconds, target=f"<{MAX_LOAD_S}",
                        note=f"median of {repeats} cold loads in headless Chromium; {shapes} shapes drawn; "
                             f"{failed} failed requests"))
        rows.append(Row("maps", label, "fonts ready s", fonts_s, target=f"<{MAX_LOAD_S}",
                        note="document.fonts.ready: the CJK web font's files for the text on screen loaded"))
        if wire is not None:  # a served page: what the browser fetched in all, the assets and the web font included
            rows.append(Row("maps", f"{label}, with every asset", "MB", all_bytes / 1e6, target=f"<{MAX_PAGE_MB}",
                            note=f"decoded; the web font's files {font_bytes / 1e6:.2f} MB of it"))
    return rows
