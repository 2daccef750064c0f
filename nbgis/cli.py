"""`nbgis`: validate the bundled layers and export them; a thin door onto `geo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geo.layers import DATA_DIR


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
        print(f"nbgis: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"nbgis: error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {written} ({spec.title}, {len(names)} collection{'s' if len(names) > 1 else ''})")
    return 0


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
                   help="geojson, gpkg, shapefile, kml, fgb, parquet, csv or dxf")
    e.add_argument("--crs", help="output CRS: EPSG:4549, OGC:CRS84, GCJ02, ... (default: WGS 84; DXF: EPSG:4549)")
    e.add_argument("-o", "--output", required=True, type=Path, help="file to write (or a directory to write into)")
    e.add_argument("--data", type=Path, default=DATA_DIR, help=f"data directory (default: {DATA_DIR})")
    e.set_defaults(run=_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
