"""Command-line door onto geo, maps and services: `nbgis --help`."""
