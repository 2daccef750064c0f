"""`nbgis`: validate, export, locate, map and serve the plan's layers; a thin door onto `geo`, `maps` and `services`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from geo.layers import DATA_DIR


def _fail(message: str, code: int = 2) -> int:
    """Say what went wrong on stderr, and give the exit code: 2 for bad input, 1 for a file not written."""
    print(f"nbgis: error: {message}", file=sys.stderr)
    return code


def _validate(args: argparse.Namespace) -> int:
    from geo.validate import validate

    path = args.path.parent if args.path.is_file() else args.path  # a layer file: check its folder
    report = validate(path)
    print(report.text())
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    from geo.crs import CRSError, parse_crs
    from geo.export import ALL_STEM, ExportError, collection_frames, collection_names, export, get_format
    from geo.layers import load_layers

    try:
        spec = get_format(args.format)
        names = collection_names(args.collection)  # before loading, so a typo fails fast
        crs = parse_crs(args.crs) if args.crs is not None else None
        if crs is None and spec.default_crs:
            default = parse_crs(spec.default_crs)
            assert default.crs is not None
            print(f"nbgis: note: {spec.title} is written in metres; no --crs given, so using "
                  f"{default.label} ({default.crs.name})", file=sys.stderr)
        path = args.output
        if path.is_dir():  # a directory: write the format's usual file name into it
            path = path / spec.filename(names[0] if len(names) == 1 else ALL_STEM, len(names))
        written = export(collection_frames(load_layers(args.data), args.collection), spec.name, crs, path)
    except (ExportError, CRSError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}", 1)
    print(f"wrote {written} ({spec.title}, {len(names)} collection{'s' if len(names) > 1 else ''})")
    return 0


def _locate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from geo.crs import CRSError, parse_crs
    from geo.layers import load_layers
    from geo.locate import Locator, SitesError, locate_csv

    try:
        crs = parse_crs(args.crs) if args.crs is not None else None
        with open(args.input, "rb") as f:  # counting newlines is cheap, and fails fast on a missing file
            lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
    except CRSError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot read {args.input}: {exc.strerror or exc}")
    locator = Locator.from_layers(load_layers(args.data))
    try:
        # Lines less the header: an estimate when quoted values hold newlines, which tqdm tolerates.
        # disable=None: no bar when stderr is not a terminal, where each redraw would be a line of its own
        with tqdm(total=max(lines - 1, 0), unit=" rows", file=sys.stderr, dynamic_ncols=True, disable=None) as bar:
            summary = locate_csv(args.input, args.output, locator, crs, progress=lambda done: bar.update(done - bar.n))
    except SitesError as exc:
        return _fail(f"{args.input}: {exc}")
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}", 1)
    print(f"wrote {args.output}: {summary['sites']} sites, {summary['in_subparks']} in sub-parks")
    for subpark, count in summary["per_subpark"].items():
        print(f"  {subpark:<20} {count:>9}")
    return 0


MAP_KINDS = ("overview", "industry", "feature")


def _map(args: argparse.Namespace) -> int:
    needs = {"overview": None, "industry": "an industry CODE", "feature": "a feature ID"}[args.kind]
    if needs and not args.subject:
        return _fail(f"map {args.kind} needs {needs}")
    if not needs and args.subject:
        return _fail(f"map overview takes no argument (got {args.subject!r})")
    suffix = args.output.suffix.lower()
    if suffix in (".html", ".htm"):
        return _web_map(args)
    from maps.printmap import FORMATS

    if suffix.lstrip(".") in FORMATS:
        return _print_map(args, suffix.lstrip("."))
    return _fail(f"cannot tell the map's format from {args.output.name!r}: name it .html (web map) or "
                 f"{', '.join('.' + f for f in FORMATS)} (print map)")


def _web_map(args: argparse.Namespace) -> int:
    from geo.layers import load_layers
    from maps import builders
    from maps.assets import AssetError
    from maps.output import write_map

    given = [flag for flag, value in (("--paper", args.paper), ("--landscape", args.landscape or None),
                                      ("--dpi", args.dpi), ("--approval", args.approval)) if value is not None]
    if given:
        return _fail(f"{given[0]} is for print maps; name the output .png, .pdf or .svg")
    tiles = args.tiles or "none"
    try:
        layers = load_layers(args.data)
        if args.kind == "overview":
            m = builders.overview(layers, tiles, args.lang)
        elif args.kind == "industry":
            m = builders.industry(layers, args.subject, tiles, args.lang)
        else:
            m = builders.feature(layers, args.subject, tiles, args.lang)
        written = write_map(m, args.output, self_contained=args.self_contained)
    except KeyError as exc:  # unknown industry code or feature id
        return _fail(f"{exc.args[0] if exc.args else exc}")
    except (ValueError, AssetError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}", 1)
    line = f"wrote {written.path} ({written.html_bytes / 1024:.0f} KiB"
    if written.asset_dir is not None:
        line += (f"; {written.asset_files} asset files, {written.asset_bytes / 1024:.0f} KiB, "
                 f"in {written.asset_dir.name}/")
    else:
        line += ", self-contained"
    print(line + ")")
    return 0


def _print_map(args: argparse.Namespace, fmt: str) -> int:
    from geo.layers import load_layers
    from maps.printmap import DEFAULT_DPI, FontMissing, PrintError, PrintOptions, parse_dpi, write

    if args.tiles not in (None, "none"):
        return _fail("--tiles is for web maps: a print map draws no tiles")
    if args.self_contained:
        return _fail("--self-contained is for web maps; a print map is always one file")
    try:
        dpi = DEFAULT_DPI if args.dpi is None else parse_dpi(args.dpi)
        options = PrintOptions(fmt, args.paper or "A4", bool(args.landscape), dpi, args.lang, args.approval or "")
        result = write(load_layers(args.data), args.kind, args.subject, options, args.output)
    except PrintError as exc:
        return _fail(f"--{exc.parameter}: {exc.problem}")
    except KeyError as exc:  # unknown industry code or feature id
        return _fail(f"{exc.args[0] if exc.args else exc}")
    except FontMissing as exc:
        return _fail(str(exc), 1)
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}", 1)
    w, h = options.size_mm
    detail = f", {options.pixels()[0]}x{options.pixels()[1]} px" if fmt == "png" else ""
    print(f"wrote {args.output} ({fmt.upper()}, {options.paper} {'landscape' if options.landscape else 'portrait'} "
          f"{w:.0f}x{h:.0f} mm{detail}, 1:{result.denominator:,}, {len(result.data) / 1024:.0f} KiB)")
    for key in result.dropped_labels:
        print(f"nbgis: note: no room for the label of {key}", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from geo.layers import DATA_ENV, load_layers

    if not (args.data / "parks.geojson").is_file():
        return _fail(f"{args.data} holds no parks.geojson; give --data a data directory")
    try:  # here, so a broken file is one line naming it, not a traceback from every worker
        load_layers(args.data)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot serve {args.data}: {exc}", 1)
    # Workers are separate processes that build the app themselves: they find the data and the settings given
    # on the command line through the environment.
    os.environ[DATA_ENV] = str(args.data.resolve())
    if args.public_url is not None:
        os.environ["NBGIS_PUBLIC_URL"] = args.public_url
    if args.trusted_hosts is not None:
        os.environ["NBGIS_TRUSTED_HOSTS"] = args.trusted_hosts
    from pydantic import ValidationError

    from services.server import server_options
    from services.settings import get_settings

    try:
        options = server_options(get_settings())
    except ValidationError as exc:
        return _fail(f"settings: {'; '.join(str(e['msg']) for e in exc.errors())}")
    uvicorn.run("services.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=args.log_level, **options)
    return 0


def _port(text: str) -> int:
    """A TCP port: uvicorn would bind 80000 modulo 65536 (14464) without a word."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range: give 1-65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nbgis", description="GIS service for Ningbo's innovation layout.")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check every layer against the plan's rules; exit 1 on any problem")
    v.add_argument("path", nargs="?", type=Path, default=DATA_DIR,
                   help=f"data directory holding parks.geojson and the other layers, or one of those "
                        f"files (default: {DATA_DIR})")
    v.set_defaults(run=_validate)
    e = sub.add_parser("export", help="write a collection (or all) as GeoJSON, GeoPackage, Shapefile, KML, "
                                      "FlatGeobuf, GeoParquet, CSV or DXF")
    e.add_argument("collection", help="a collection id (subparks, corridor, ..., districts) or 'all'")
    e.add_argument("--format", "-f", required=True,
                   help="geojson, gpkg, shapefile (shp), kml, fgb, parquet, csv or dxf; any case")
    e.add_argument("--crs", help="output CRS: EPSG:4549, OGC:CRS84, GCJ02, ... (default: WGS 84; DXF: EPSG:4549)")
    e.add_argument("-o", "--output", required=True, type=Path, help="file to write (or a directory to write into)")
    e.add_argument("--data", type=Path, default=DATA_DIR, help=f"data directory (default: {DATA_DIR})")
    e.set_defaults(run=_export)
    lc = sub.add_parser("locate", help="say which sub-park, block, corridor area and unit, innovation node and "
                                       "district hold each site of a CSV, and how far the nearest sub-park is")
    lc.add_argument("input", type=Path, help="CSV (UTF-8) with a header naming lon and lat (or lng/longitude/x, "
                                             "latitude/y) columns; other columns are passed through")
    lc.add_argument("-o", "--output", required=True, type=Path, help="CSV to write: the input, lon84, lat84 and "
                                                                     "the located columns")
    lc.add_argument("--crs", help="CRS of the input coordinates, lon = x/easting, lat = y/northing: EPSG:4549, "
                                  "GCJ02, ... (default: WGS 84 lon/lat)")
    lc.add_argument("--data", type=Path, default=DATA_DIR, help=f"data directory (default: {DATA_DIR})")
    lc.set_defaults(run=_locate)
    sv = sub.add_parser("serve", help="run the web service (OGC API - Features, plan queries, maps, downloads)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    sv.add_argument("--port", type=_port, default=8000, help="TCP port, 1-65535 (default: 8000)")
    sv.add_argument("--workers", type=int, default=1, help="worker processes (default: 1); each holds the layers")
    sv.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    sv.add_argument("--data", type=Path, default=DATA_DIR, help=f"data directory (default: {DATA_DIR})")
    sv.add_argument("--public-url", help="the address users reach the service at (behind a proxy); every link "
                                         "starts with it (default: $NBGIS_PUBLIC_URL, else the request's Host)")
    sv.add_argument("--trusted-hosts", help="comma-separated host names the service answers to (default: "
                                            "$NBGIS_TRUSTED_HOSTS, else localhost and 127.0.0.1; * for any)")
    sv.set_defaults(run=_serve)
    mp = sub.add_parser("map", help="draw a map: an interactive web map (.html, works offline) or a print map "
                                    "(.png, .pdf, .svg) of the overview, where an industry sits, or one feature")
    mp.add_argument("kind", choices=MAP_KINDS, help="overview, industry CODE or feature ID")
    mp.add_argument("subject", nargs="?", help="the industry code (industry) or feature id (feature)")
    mp.add_argument("-o", "--output", required=True, type=Path,
                    help="file to write; its extension picks the map: .html (web) or .png, .pdf, .svg (print)")
    mp.add_argument("--lang", default="zh", choices=("zh", "en"), help="language of the map's labels (default zh)")
    web = mp.add_argument_group("web maps (.html)")
    web.add_argument("--tiles", choices=("none", "osm", "tianditu", "amap"),
                     help="basemap: none (no network), osm, tianditu (needs $TIANDITU_TOKEN) or amap (GCJ-02); "
                          "default none")
    web.add_argument("--self-contained", action="store_true",
                     help="inline every script, style, font and icon (one file); otherwise they are copied into "
                          "<name>_files/ beside it")
    sheet = mp.add_argument_group("print maps (.png, .pdf, .svg)")
    sheet.add_argument("--paper", help="A4 (default) or A3")
    sheet.add_argument("--landscape", action="store_const", const=True, help="landscape (default: portrait)")
    sheet.add_argument("--dpi", help="resolution of a PNG, 72 to 600 (default 200)")
    sheet.add_argument("--approval", help="the map approval number (审图号) the reviewing office gave; blank by "
                                          "default, with a note that the office fills it in")
    mp.add_argument("--data", type=Path, default=DATA_DIR, help=f"data directory (default: {DATA_DIR})")
    mp.set_defaults(run=_map)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
