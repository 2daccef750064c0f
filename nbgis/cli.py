"""`nbgis`: validate the bundled layers (later: serve, map, export, locate)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geo.layers import DATA_DIR


def _validate(args: argparse.Namespace) -> int:
    from geo.validate import validate

    report = validate(args.path)
    print(report.text())
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nbgis", description="GIS service for Ningbo's innovation layout.")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check every layer against the plan's rules; exit 1 on any problem")
    v.add_argument("path", nargs="?", type=Path, default=DATA_DIR,
                   help=f"data directory holding parks.geojson and the other layers (default: {DATA_DIR})")
    v.set_defaults(run=_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
