"""`nbgis`: validate, export, locate, map and serve the plan's layers, and look after their store; a thin door onto
`geo`, `maps` and `services`. Every command reads the layers through the store (services.settings names it)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from geo.seed import DATA_DIR

if TYPE_CHECKING:
    from datetime import datetime

    from geo.accounts import TokenRecord
    from geo.layers import Layers
    from geo.store.base import Feature, FeatureStore


def _fail(message: str, code: int = 2) -> int:
    """Say what went wrong on stderr, and give the exit code: 2 for bad input, 1 for a file not written."""
    print(f"nbgis: error: {message}", file=sys.stderr)
    return code


def _store_of(args: argparse.Namespace) -> FeatureStore:
    from geo.store.base import open_store
    from services.settings import get_settings

    return open_store(args.store or get_settings().store)


def _data_of(args: argparse.Namespace) -> Path:
    from services.settings import get_settings

    data: Path = args.data or get_settings().data
    return data


def _init(store: FeatureStore, data: Path) -> None:
    """Make and seed the store if it is new (as `nbgis serve` does), saying so on stderr."""
    from geo.seed import read_seed, seed_digest

    why = store.init(lambda: read_seed(data), seed_digest(data))
    if why:
        print(f"nbgis: note: {why} {store.url_shown} from {data}", file=sys.stderr)


def _features(args: argparse.Namespace) -> tuple[dict[str, list[Feature]], Path]:
    """The features as the store holds them now (made and seeded first if new), and the data folder."""
    store, data = _store_of(args), _data_of(args)
    _init(store, data)
    return store.snapshot().features, data


def _layers(args: argparse.Namespace) -> Layers:
    """The layers as the store holds them now."""
    from geo.layers import build_layers

    return build_layers(*_features(args))


def _validate(args: argparse.Namespace) -> int:
    from geo.validate import validate

    path = args.path.parent if args.path.is_file() else args.path  # a layer file: check its folder
    report = validate(path)
    print(report.text())
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    from geo.crs import CRSError, parse_crs
    from geo.export import ALL_STEM, ExportError, collection_frames, collection_names, export, get_format
    from geo.io import DataFileError
    from geo.store.base import StoreError

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
        written = export(collection_frames(_layers(args), args.collection), spec.name, crs, path)
    except (ExportError, CRSError, StoreError, DataFileError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}", 1)
    print(f"wrote {written} ({spec.title}, {len(names)} collection{'s' if len(names) > 1 else ''})")
    return 0


class _Bar:
    """`nbgis locate`'s progress on a terminal: one line, redrawn in place at most twice a second (rows done,
    rows/s, time left) and once more when done; nothing in a log (not a terminal), where redraws are lines."""

    WIDTH = 24

    def __init__(self) -> None:
        self.start = self.drawn = time.monotonic()
        self.live = sys.stderr.isatty()

    def line(self, rows: int, fraction: float) -> str:
        seconds = max(time.monotonic() - self.start, 1e-9)
        left = seconds * (1 - fraction) / fraction if fraction > 0 else float("nan")
        filled = int(self.WIDTH * fraction)
        eta = f"ETA {left:,.0f} s" if fraction < 1 else f"{seconds:,.1f} s"
        return (f"{fraction:4.0%} |{'#' * filled}{' ' * (self.WIDTH - filled)}| {rows:,} rows, "
                f"{rows / seconds:,.0f} rows/s, {eta}")

    def update(self, rows: int, fraction: float) -> None:
        if self.live and time.monotonic() - self.drawn >= 0.5:
            self.drawn = time.monotonic()
            print("\r" + self.line(rows, fraction), end="", file=sys.stderr, flush=True)

    def done(self, rows: int) -> None:
        if self.live:
            print("\r" + self.line(rows, 1.0), file=sys.stderr, flush=True)


def _locate(args: argparse.Namespace) -> int:
    from geo.batch import Progress, locate_file
    from geo.crs import CRSError, parse_crs
    from geo.io import DataFileError
    from geo.locate import SitesError, parse_columns
    from geo.prepared import prepared_locator
    from geo.store.base import StoreError

    output = args.output or args.output_option
    if output is None:
        return _fail("locate needs an output: nbgis locate IN OUT (or -o OUT)")
    if not os.path.exists(args.input):
        return _fail(f"cannot read {args.input}: No such file or directory")
    try:
        crs = parse_crs(args.crs) if args.crs is not None else None
        columns = parse_columns(args.columns)
    except (CRSError, SitesError) as exc:
        return _fail(f"--columns: {exc}" if isinstance(exc, SitesError) else str(exc))
    try:
        locator = prepared_locator(*_features(args))  # kept in the user's cache between runs
    except (StoreError, DataFileError) as exc:
        return _fail(str(exc))
    try:
        if args.cluster:
            from geo.cluster import locate_on_cluster

            summary = locate_on_cluster(args.cluster, args.input, output, locator, crs, columns)
        else:
            bar = _Bar()

            def shown(p: Progress) -> None:
                bar.update(p.rows, p.fraction)

            summary = locate_file(args.input, output, locator, crs, progress=shown, columns=columns)
            bar.done(summary["sites"])
    except SitesError as exc:
        return _fail(f"{args.input}: {exc}")
    except OSError as exc:
        return _fail(f"cannot write {output}: {exc.strerror or exc}", 1)
    print(f"wrote {output}: {summary['sites']} sites, {summary['in_subparks']} in sub-parks")
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
    from geo.store.base import StoreError
    from maps import builders
    from maps.assets import AssetError
    from maps.output import write_map

    given = [flag for flag, value in (("--paper", args.paper), ("--landscape", args.landscape or None),
                                      ("--dpi", args.dpi), ("--approval", args.approval)) if value is not None]
    if given:
        return _fail(f"{given[0]} is for print maps; name the output .png, .pdf or .svg")
    tiles = args.tiles or "none"
    try:
        layers = _layers(args)
        if args.kind == "overview":
            m = builders.overview(layers, tiles, args.lang)
        elif args.kind == "industry":
            m = builders.industry(layers, args.subject, tiles, args.lang)
        else:
            m = builders.feature(layers, args.subject, tiles, args.lang)
        written = write_map(m, args.output, self_contained=args.self_contained)
    except KeyError as exc:  # unknown industry code or feature id
        return _fail(f"{exc.args[0] if exc.args else exc}")
    except (ValueError, AssetError, StoreError) as exc:
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
    from geo.store.base import StoreError
    from maps.printmap import DEFAULT_DPI, FontMissing, PrintError, PrintOptions, parse_dpi, write
    from maps.printmap.fonts import cjk_font

    if args.tiles not in (None, "none"):
        return _fail("--tiles is for web maps: a print map draws no tiles")
    if args.self_contained:
        return _fail("--self-contained is for web maps; a print map is always one file")
    try:
        dpi = DEFAULT_DPI if args.dpi is None else parse_dpi(args.dpi)
        options = PrintOptions(fmt, args.paper or "A4", bool(args.landscape), dpi, args.lang, args.approval or "")
        cjk_font()  # before the store is opened: a missing font is the first thing to say
        result = write(_layers(args), args.kind, args.subject, options, args.output)
    except PrintError as exc:
        return _fail(f"--{exc.parameter}: {exc.problem}")
    except StoreError as exc:
        return _fail(str(exc))
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

    from geo.store.base import StoreError
    from services.settings import ENV_PREFIX, get_settings

    # Workers are separate processes that read the settings themselves: a flag reaches them as its variable.
    for name, value in (("STORE", args.store), ("DATA", args.data and args.data.resolve()),
                        ("LOG_LEVEL", args.log_level), ("PUBLIC_URL", args.public_url),
                        ("TRUSTED_HOSTS", args.trusted_hosts)):
        if value is not None:
            os.environ[ENV_PREFIX + name] = str(value)
    get_settings.cache_clear()  # read again, flags included, by this process too (the worker when there is one)
    from pydantic import ValidationError

    from services.server import server_options

    try:
        settings = get_settings()
        options = server_options(settings)
    except ValidationError as exc:
        return _fail(f"settings: {'; '.join(str(e['msg']) for e in exc.errors())}")
    if not (settings.data / "parks.geojson").is_file():
        return _fail(f"{settings.data} holds no parks.geojson; give --data a data directory")
    from geo.seed import read_seed

    try:  # here, so a broken file in the data folder is one line naming it, not a traceback from every worker
        read_seed(settings.data)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot serve {settings.data}: {exc}", 1)
    try:  # once, here: a store that cannot be reached fails the command instead of every worker
        store = _store_of(args)
        _init(store, settings.data)
        store.close()  # the workers open their own
    except StoreError as exc:
        return _fail(str(exc))
    uvicorn.run("services.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=settings.log_level, **options)
    return 0


def _store(args: argparse.Namespace) -> int:
    from geo.store import schema
    from geo.store.base import StoreError

    try:
        store = _store_of(args)
        if args.action == "init":
            _init(store, _data_of(args))
        elif args.action == "upgrade":
            store.upgrade()
        status = store.status()
    except StoreError as exc:
        return _fail(str(exc))
    print(f"store      {status.url}")
    print(f"schema     {status.revision or 'none (run nbgis store init)'}"
          f"{'' if status.revision in (None, schema.head()) else f' (this release: {schema.head()})'}")
    if status.revision is not None:
        print(f"version    {status.version}")
        print(f"changed    {status.changed_at.isoformat(timespec='seconds') if status.changed_at else 'never'}")
        for layer, count in status.counts.items():
            print(f"{layer:<10} {count} features")
    return 0


def _login() -> str:
    """Who runs the command: the OS login, or the uid where the system has no name for it (a bare container)."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid{os.getuid()}"


def _import(args: argparse.Namespace) -> int:
    """Read surveyed boundaries, print the diff table, and write them as one changeset (not with --dry-run)."""
    from geo.imports import ImportFileError, ImportRefused, commit_import, plan_import, read_boundaries
    from geo.store.base import Conflict, StoreError

    if not args.file.is_file():
        return _fail(f"cannot read {args.file}: No such file")
    try:
        boundaries = read_boundaries(args.file, args.match, args.layer, args.crs, encoding=args.encoding)
        store, data = _store_of(args), _data_of(args)
        _init(store, data)
        plan = plan_import(store, data, boundaries, args.collection, args.match, args.source)
    except (ImportFileError, StoreError) as exc:
        return _fail(str(exc))
    print(plan.text())
    if not plan.ok:
        return _fail(f"nothing written: {len(plan.errors())} problem(s) above")
    if args.dry_run:
        print(f"dry run: nothing written ({len(plan.matches)} feature(s) would change)")
        return 0
    try:
        changeset = commit_import(store, plan, f"cli:{_login()}", args.reason or "")
    except Conflict as exc:
        return _fail(f"nothing written: {exc}; run the import again")
    except (ImportRefused, StoreError) as exc:
        return _fail(f"nothing written: {exc}")
    if changeset is None:
        print("nothing written: every matched feature is already as the file has it")
        return 0
    print(f"wrote changeset {changeset.id}: {len(changeset.versions)} feature(s) of {plan.collection} "
          f"by {changeset.author}; dataset version {changeset.dataset_version}")
    return 0


def _user(args: argparse.Namespace) -> int:
    from geo.accounts import AccountError, issue_token, parse_duration
    from geo.store.base import StoreError

    try:
        issued = issue_token(args.name, args.role, _listed(args.collections), _listed(args.districts),
                             parse_duration(args.expires) if args.expires else None) if args.action == "add" else None
        store = _store_of(args)
        _init(store, _data_of(args))  # the first admin is often made before the first `nbgis serve`
        if issued is not None:
            store.add_token(issued[1])
            return _user_added(*issued)
        if args.action == "list":
            return _user_list(store)
        return _user_revoke(args, store)
    except (AccountError, StoreError) as exc:
        return _fail(str(exc))


def _user_added(text: str, record: TokenRecord) -> int:
    print(text)  # alone on stdout, for TOKEN=$(nbgis user add ...); what it is goes to stderr
    scope = ("every collection" if record.collections == ("*",) else ", ".join(record.collections)) + (
        f" in {', '.join(record.districts)}" if record.districts else "")
    print(f"nbgis: added token {record.token_id} for {record.name}: {record.role}"
          f"{f' writing {scope}' if record.role == 'editor' else ''}, "
          f"{'expires ' + _when(record.expires_at) if record.expires_at else 'never expires'}.\n"
          f"nbgis: this is the only time the token is shown: it cannot be shown again (only its salted hash is "
          f"stored). Give it to {record.name} now; if it is lost, revoke it and add another.", file=sys.stderr)
    return 0


def _user_list(store: FeatureStore) -> int:
    rows = [("NAME", "TOKEN ID", "ROLE", "COLLECTIONS", "DISTRICTS", "CREATED", "EXPIRES", "REVOKED")]
    for t in sorted(store.tokens(), key=lambda t: (t.name, t.created_at)):
        rows.append((t.name, t.token_id, t.role, ",".join(t.collections), ",".join(t.districts) or "*",
                     _when(t.created_at), _when(t.expires_at) if t.expires_at else "never",
                     _when(t.revoked_at) if t.revoked_at else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _user_revoke(args: argparse.Namespace, store: FeatureStore) -> int:
    from datetime import UTC, datetime

    revoked = store.revoke(args.name, datetime.now(UTC))
    if not revoked:
        return _fail(f"no token in use has the name or id {args.name!r} (nbgis user list shows them)")
    print(f"revoked {revoked} token{'s' if revoked > 1 else ''} of {args.name}; every instance refuses "
          f"{'them' if revoked > 1 else 'it'} from now on")
    return 0


def _listed(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _when(at: datetime) -> str:
    from datetime import UTC

    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


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
    _store_flags(e)
    e.set_defaults(run=_export)
    lc = sub.add_parser("locate", help="say which sub-park, block, corridor area and unit, innovation node and "
                                       "district hold each site of a CSV, and how far the nearest sub-park is")
    lc.add_argument("input", help="CSV (UTF-8) with a header naming lon and lat (or lng/longitude/x, latitude/y) "
                                  "columns, other columns passed through; or Parquet/GeoParquet (a .parquet file "
                                  "or a folder of them) with such columns or a point geometry")
    lc.add_argument("output", nargs="?", help="where to write the input, lon84, lat84 and the located columns: "
                                              "a .csv, a .parquet (GeoParquet), or a folder (a Parquet dataset)")
    lc.add_argument("-o", "--output", dest="output_option", help="the output, as a flag (the same as OUTPUT)")
    lc.add_argument("--crs", help="CRS of the input coordinates, lon = x/easting, lat = y/northing: EPSG:4549, "
                                  "GCJ02, ... (default: WGS 84 lon/lat, or a GeoParquet's own CRS)")
    lc.add_argument("--columns", metavar="NAMES", help="add only these columns, in this order, e.g. "
                                                       "subpark,innovation_node (default: all of lon84, lat84, "
                                                       "subpark, ..., nearest_subpark_km); without the nearest_* "
                                                       "ones, much faster for sites outside the sub-parks")
    lc.add_argument("--cluster", metavar="ADDRESS", help="run on a Dask cluster: tcp://HOST:8786 (a running "
                                                         "scheduler), or local[:N] to start N worker processes here; "
                                                         "Parquet in and a folder out")
    _store_flags(lc)
    lc.set_defaults(run=_locate)
    sv = sub.add_parser("serve", help="run the web service (OGC API - Features, plan queries, maps, downloads)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    sv.add_argument("--port", type=_port, default=8000, help="TCP port, 1-65535 (default: 8000)")
    sv.add_argument("--workers", type=int, default=1, help="worker processes (default: 1); each holds the layers")
    sv.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"),
                    help="what to log (default: $NBGIS_LOG_LEVEL, else info)")
    sv.add_argument("--public-url", help="the address users reach the service at (behind a proxy); every link "
                                         "starts with it (default: $NBGIS_PUBLIC_URL, else the request's Host)")
    sv.add_argument("--trusted-hosts", help="comma-separated host names the service answers to (default: "
                                            "$NBGIS_TRUSTED_HOSTS, else localhost and 127.0.0.1; * for any)")
    _store_flags(sv)
    sv.set_defaults(run=_serve)
    st = sub.add_parser("store", help="make, migrate or describe the store the layers live in")
    st.add_argument("action", choices=("init", "upgrade", "status"),
                    help="init: make the schema and seed an empty store from the data folder; upgrade: migrate the "
                         "schema to this release's; status: schema, dataset version, last change, feature counts")
    _store_flags(st)
    st.set_defaults(run=_store)
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
    _store_flags(mp)
    mp.set_defaults(run=_map)
    im = sub.add_parser("import", help="replace features' boundaries with surveyed ones from a Shapefile (or .zip), "
                                       "GeoPackage, DXF, KML, GeoJSON or FlatGeobuf; prints the diff, writes one "
                                       "changeset or nothing")
    im.add_argument("file", type=Path, help="the file; a DXF names each boundary by its CAD layer")
    im.add_argument("--collection", required=True, help="the collection whose features it replaces (subparks, ...)")
    im.add_argument("--match", required=True, choices=("id", "name_zh"),
                    help="the column whose value names the feature (id or name_zh)")
    im.add_argument("--layer", help="the layer to read from a file holding several")
    im.add_argument("--crs", help="the CRS of the coordinates when the file names none or the wrong one: "
                                  "EPSG:4549, EPSG:4490, GCJ02, WKT, ... (default: the file's own)")
    im.add_argument("--encoding", help="a Shapefile's text encoding when it has no .cpg saying it (GBK, ...)")
    im.add_argument("--source", help="geometry_source to record (default: the file's name and layer)")
    im.add_argument("--reason", help="why, kept with the changeset")
    im.add_argument("--dry-run", action="store_true", help="print the diff and write nothing")
    _store_flags(im)
    im.set_defaults(run=_import)
    us = sub.add_parser("user", help="give, list and revoke the bearer tokens that writes need")
    user = us.add_subparsers(dest="action", required=True)
    ua = user.add_parser("add", help="give NAME a new token; it is printed once and cannot be shown again")
    ua.add_argument("name", help="who holds it: a person or an office (letters, digits, . @ _ -; Chinese too)")
    ua.add_argument("--role", required=True,
                    help="viewer: reads (when reads need a token); editor: writes --collections; admin: everything")
    ua.add_argument("--collections", help="an editor's collections, comma-separated (subparks,corridor-units), "
                                          "or * for every editable one")
    ua.add_argument("--districts", help="limit an editor to features in these districts, as adcodes "
                                        "(330206,330211); default: every district")
    ua.add_argument("--expires", help="how long the token lasts: 90d, 12h, 30m or 2w (default: until revoked)")
    ul = user.add_parser("list", help="every token: name, id, role, scope, when made, expires and was revoked")
    ur = user.add_parser("revoke", help="revoke the token with this id, or every token of this name, at once")
    ur.add_argument("name", metavar="NAME|TOKEN_ID")
    for p in (ua, ul, ur):
        _store_flags(p)
    us.set_defaults(run=_user)
    return parser


def _store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="the store: a GeoPackage path or postgresql://USER@HOST:PORT/DB "
                                        "(default: $NBGIS_STORE, else var/nbgis.gpkg beside the data folder)")
    parser.add_argument("--data", type=Path, help=f"data folder a new store is seeded from, with the taxonomy, "
                                                  f"indicators and plan text (default: $NBGIS_DATA, else {DATA_DIR})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
